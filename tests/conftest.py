"""Shared test set-up.

``import smartml`` comes first so that TF_USE_LEGACY_KERAS is set before any test
module imports TensorFlow or QKeras (QKeras needs the Keras 2 API).
"""

import smartml  # noqa: F401  (must precede every TensorFlow import)
