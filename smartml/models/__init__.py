"""Model builders, registered by name in :data:`smartml.registry.MODELS`.

Each model is a package with a ``schema`` module (its ``model`` section, registered
with the dotted path of its builder; no TensorFlow) and a ``builder`` module (Keras).
Importing this package imports the schemas only, which fills the registry; a builder
is imported when :meth:`smartml.registry.Registry.get` first asks for it. Saved
models load with :func:`smartml.models.saved.load_model`.
"""

from smartml.models.deepsets import schema as _deepsets_schema  # noqa: F401
from smartml.models.dgcnn import schema as _dgcnn_schema  # noqa: F401
from smartml.models.mlp import schema as _mlp_schema  # noqa: F401
from smartml.models.pixel_mdn import schema as _pixel_mdn_schema  # noqa: F401  (registers it)
from smartml.models.pointnet import schema as _pointnet_schema  # noqa: F401  (and pointnet_tnet)
