"""Loading saved models: QKeras layers and quantizers, plus smartml's own objects.

This module imports TensorFlow; :mod:`smartml.models` itself does not.
"""

from pathlib import Path

from qkeras.utils import _add_supported_quantized_objects

from smartml.backend import keras
from smartml.errors import RunDirectoryError
from smartml.losses import MultivariateGaussianNLL


def custom_objects() -> dict:
    """Every class a saved smartml model may reference, by its serialised name.

    Returns:
        serialised name -> class, for ``keras.models.load_model(custom_objects=...)``.
    """
    objects: dict = {}
    _add_supported_quantized_objects(objects)
    objects["smartml>MultivariateGaussianNLL"] = MultivariateGaussianNLL
    objects["MultivariateGaussianNLL"] = MultivariateGaussianNLL
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
