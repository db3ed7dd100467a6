"""smartml: quantized neural networks for particle-detector front ends.

The pipeline reads as the package does: ``config`` -> ``data`` -> ``models`` ->
``training`` -> ``evaluation`` (-> export), with ``tasks`` tying data, metrics and
plots of one detector task together.

QKeras needs the Keras 2 API. TensorFlow 2.21 decides which Keras ``tf.keras`` is
when it is first imported, so the switch is set here, in the package's first line of
code, before any submodule can import TensorFlow. :mod:`smartml.backend` checks that
it took effect.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
# TensorFlow turns its oneDNN CPU kernels on by itself only on CPUs with AVX-512 VNNI/BF16,
# AVX-VNNI or AMX. Without them, on the AVX2-only AMD EPYC cores of this project's
# machines (IsMklEnabled() is False there), the smart-pixel MDN's training
# steps are 4x slower (benchmarks/pixel_training.py: 11.7k against 49.0k samples/s, 2
# slices, batch 4000, 2 cores; a `smartml train` epoch 2x): its separable convolution's
# gradient dominates. A user's own setting (0: TensorFlow's reference kernels) is kept.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) hides the messages users need:
# its logging obeys TF_CPP_MIN_LOG_LEVEL, the lines absl prints before it is set up do
# not, and are filtered out of the first import of TensorFlow (smartml.console).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from smartml import console  # after the switch (console itself imports no TensorFlow)

console.filter_tensorflow_import()

__version__ = "0.1.0"
