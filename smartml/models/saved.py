"""Loading saved models: QKeras layers and quantizers, plus smartml's own objects.

This module imports TensorFlow; :mod:`smartml.models` itself does not.
"""

from pathlib import Path

from qkeras.utils import _add_supported_quantized_objects

import smartml.layers  # (registers smartml's serializable layers)
import smartml.losses  # noqa: F401  (registers smartml's serializable objects)
from smartml.backend import keras
from smartml.errors import RunDirectoryError

SMARTML_PACKAGE = "smartml>"


def custom_objects() -> dict:
    """Every class a saved smartml model may reference, by its serialised name: QKeras'
    layers and quantizers, and every object registered with
    ``@keras.utils.register_keras_serializable(package="smartml")`` (losses, custom
    layers), under its registered name and its bare class name.

    Returns:
        serialised name -> class, for ``keras.models.load_model(custom_objects=...)``.

    >>> custom_objects()["smartml>MultivariateGaussianNLL"].__name__
    'MultivariateGaussianNLL'
    >>> custom_objects()["KNNEdgeConv"].__name__
    'KNNEdgeConv'
    """
    objects: dict = {}
    _add_supported_quantized_objects(objects)
    for name, obj in keras.utils.get_custom_objects().items():
        if name.startswith(SMARTML_PACKAGE):
            objects[name] = obj
            objects[name.removeprefix(SMARTML_PACKAGE)] = obj
    return objects


def load_model(path: str | Path, compile: bool = False) -> keras.Model:
    """Load a model saved by smartml, with QKeras custom objects.

    Models are saved as HDF5 (``.h5``): QKeras layers do not round-trip through the
    ``.keras`` format of tf_keras 2.21 (QActivation fails to deserialise).

    Args:
        path: the ``.h5`` file (a run directory's ``model.h5``).
        compile: also restore the loss and optimizer.

    Returns:
        the model.
    """
    path = Path(path)
    if not path.is_file():
        raise RunDirectoryError(f"{path}: no saved model there")
    try:
        return keras.models.load_model(path, custom_objects=custom_objects(), compile=compile)
    except (OSError, ValueError) as err:
        raise RunDirectoryError(f"{path}: cannot load the model ({err})") from None
