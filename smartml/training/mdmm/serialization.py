"""The inner model's architecture as JSON, for :meth:`MDMMModel.get_config` and
:meth:`MDMMModel.from_config`, in the form an HDF5 model file holds it.

This is the one place of :mod:`smartml.training.mdmm` that uses a non-public tf_keras
name, ``keras_option_scope`` of ``tf_keras.src.saving.legacy.saved_model.utils``, and
why: QKeras' ``QActivation`` puts its quantizer *object* into its ``get_config()``, and
only tf_keras' legacy (HDF5-style) serialisation turns that nested object into a config
and back. tf_keras 2.21 serialises a model's nested layers in the legacy form only
inside this scope, which its HDF5 ``save_model``/``load_model`` enter around a file; no
public function does it for a config in memory (``keras.layers.serialize`` with
``use_legacy_format=True`` and ``keras.utils.legacy.serialize_keras_object`` make the
top level legacy only, ``Model.to_json``/``keras.models.model_from_json`` and
``keras.models.model_from_config`` fail on ``QActivation``).

>>> import smartml  # noqa: F401
>>> from qkeras import QActivation, QDense, quantized_bits, quantized_relu
>>> from smartml.backend import keras
>>> inputs = keras.Input((3,), name="x")
>>> hidden = QDense(2, kernel_quantizer=quantized_bits(4, 0, alpha=1), name="d")(inputs)
>>> model = keras.Model(inputs, QActivation(quantized_relu(4), name="relu")(hidden))
>>> rebuilt = inner_model_from_config(inner_model_config(model), None)
>>> [layer.name for layer in rebuilt.layers]
['x', 'd', 'relu']
>>> inner_model_config(rebuilt) == inner_model_config(model)
True
"""

from __future__ import annotations

import json
from typing import Any

from tf_keras.src.saving.legacy.saved_model.utils import keras_option_scope

from smartml.backend import keras

# The options tf_keras' HDF5 save and load set: legacy serialisation, no traced functions.
_HDF5_SERIALIZATION = {"save_traces": False, "in_tf_saved_model_scope": True}


def inner_model_config(model: keras.Model) -> dict[str, Any]:
    """``model``'s architecture as the HDF5 format writes it.

    Args:
        model: any Keras model, QKeras layers included.

    Returns:
        a JSON-safe dict (``class_name``, ``config``), lists where Keras has tuples.
    """
    with keras_option_scope(**_HDF5_SERIALIZATION):
        # Through JSON: tuples (shapes) become lists, as in an HDF5 file.
        return json.loads(json.dumps(keras.layers.serialize(model)))


def inner_model_from_config(
    config: dict[str, Any], custom_objects: dict[str, Any] | None
) -> keras.Model:
    """Rebuild a model from :func:`inner_model_config` (fresh weights).

    Args:
        config: what :func:`inner_model_config` returned.
        custom_objects: classes beyond QKeras' and smartml's, by serialised name.

    Returns:
        the model, not compiled.
    """
    from smartml.models.saved import custom_objects as smartml_objects

    objects = {**smartml_objects(), **(custom_objects or {})}
    with keras.utils.custom_object_scope(objects), keras_option_scope(**_HDF5_SERIALIZATION):
        return keras.layers.deserialize(config)
