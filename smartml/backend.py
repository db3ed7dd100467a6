"""TensorFlow with the Keras 2 API (``tf_keras``), as QKeras requires.

Import ``tf`` and ``keras`` from here, never ``import keras``: beside TF 2.21 the
``keras`` package is Keras 3, which QKeras cannot use. The environment switch itself
is set in :mod:`smartml` (``smartml/__init__.py``) so that it precedes every import
of TensorFlow made through this package.

>>> from smartml.backend import keras, tf
>>> keras.__version__.startswith("2.")
True
>>> tf.keras.layers.Dense is keras.layers.Dense
True
"""

import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from smartml import console, errors
from smartml.errors import SmartmlError

if os.environ.get("TF_USE_LEGACY_KERAS") != "1":  # pragma: no cover - set by smartml/__init__
    raise SmartmlError("TF_USE_LEGACY_KERAS must be 1; import smartml before TensorFlow")

# TensorFlow's native start-up lines (absl, oneDNN, cudart) at import are filtered by
# the hook `import smartml` set (smartml.console); CUDA's "failed call to cuInit" comes
# at the first look for GPUs, made here, filtered too.
import tensorflow as tf
import tf_keras as keras

with console.filtered_native_stderr():
    tf.config.list_physical_devices("GPU")
console.quiet_third_party_loggers()

if tf.keras.layers.Dense is not keras.layers.Dense:
    raise SmartmlError(
        "TensorFlow was imported before smartml and bound tf.keras to Keras 3; "
        "import smartml (or set TF_USE_LEGACY_KERAS=1) before importing tensorflow"
    )

# QKeras serialises its quantizers through keras.constraints.serialize, and QKeras
# models only round-trip through HDF5 (QActivation fails to load from ``.keras``):
# both warnings are about choices made on purpose, and would only confuse users.
warnings.filterwarnings("ignore", message=r"The `keras.constraints.serialize\(\)` API")
warnings.filterwarnings("ignore", message=r"You are saving your model as an HDF5 file")


def select_device(device: str) -> str:
    """Make TensorFlow run on ``device`` ("cpu" or "gpu:N") and return its TF name.

    Must be called before any tensor is created. "cpu" hides every GPU so that
    nothing is placed there by accident; "gpu:N" keeps only GPU N visible (it is
    then ``/GPU:0`` to TensorFlow) and lets its memory grow as needed.

    >>> select_device("cpu")
    '/CPU:0'
    """
    kind, _, index = device.partition(":")
    gpus = tf.config.list_physical_devices("GPU")
    if kind == "cpu":
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # already initialised (e.g. a second run in one process)
            pass
        return "/CPU:0"
    number = int(index or 0)
    if number >= len(gpus):
        raise SmartmlError(
            f"--device {device}: this machine has {len(gpus)} visible GPU(s); "
            "use --device cpu or a GPU index below that"
        )
    tf.config.set_visible_devices([gpus[number]], "GPU")
    tf.config.experimental.set_memory_growth(gpus[number], True)
    return "/GPU:0"


_WRAPPED_ERROR = re.compile(r"smartml\.errors\.(\w+): (.*)")


def unwrap_smartml_error(error: BaseException) -> SmartmlError | None:
    """The smartml error that Python code inside tf.data (``tf.py_function``) raised,
    rebuilt from the ``tf.errors.OpError`` TensorFlow wrapped it in."""
    if isinstance(error, SmartmlError):
        return error
    match = _WRAPPED_ERROR.search(str(error))
    if match is None:
        return None
    cls = getattr(errors, match.group(1), None)
    if not (isinstance(cls, type) and issubclass(cls, SmartmlError)):
        return None
    return cls(match.group(2).strip())


@contextmanager
def reraise_smartml_errors() -> Iterator[None]:
    """Around ``model.fit`` or a dataset loop: re-raise a wrapped smartml error as itself.

    >>> with reraise_smartml_errors():
    ...     raise tf.errors.UnknownError(None, None, "... smartml.errors.DataError: f: bad")
    Traceback (most recent call last):
    ...
    smartml.errors.DataError: f: bad
    """
    try:
        yield
    except tf.errors.OpError as error:
        original = unwrap_smartml_error(error)
        if original is None:
            raise
        raise original from None


__all__ = ["keras", "reraise_smartml_errors", "select_device", "tf", "unwrap_smartml_error"]
