"""The inner model's architecture as JSON, for :meth:`MDMMModel.get_config` and
:meth:`MDMMModel.from_config`, through public Keras functions only.

A functional model's ``get_config()`` is JSON-safe: nested objects (quantizers,
initializers) appear in the serialised form ``{"module", "class_name", "config",
"registered_name"}``. Rebuilding it needs one repair. Most layers turn such a dict back
into an object themselves; QKeras' ``QActivation`` does not: its ``activation`` must be a
quantizer object or a string such as ``"quantized_relu(4)"``, and a dict would be kept as
the "quantizer" and fail when called. :func:`inner_model_from_config` therefore
deserialises the arguments named in :data:`OBJECT_ARGUMENTS` before the layers are built.

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

import copy
import json
from typing import Any

from smartml.backend import keras

# Layer class -> the arguments its constructor needs as objects, not serialised dicts.
OBJECT_ARGUMENTS: dict[str, tuple[str, ...]] = {"QActivation": ("activation",)}


def inner_model_config(model: keras.Model) -> dict[str, Any]:
    """``model``'s architecture as JSON-safe data.

    Args:
        model: a functional or sequential Keras model, QKeras layers included.

    Returns:
        ``{"class_name": ..., "config": model.get_config()}``, lists where Keras has
        tuples (it went through JSON, as it would in a file).
    """
    config = {"class_name": type(model).__name__, "config": model.get_config()}
    return json.loads(json.dumps(config))


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
    architecture = copy.deepcopy(config["config"])
    with keras.utils.custom_object_scope(objects):
        _deserialize_object_arguments(architecture, objects)
        if config["class_name"] == "Sequential":
            return keras.Sequential.from_config(architecture, custom_objects=objects)
        return keras.Model.from_config(architecture, custom_objects=objects)


def _deserialize_object_arguments(architecture: dict[str, Any], objects: dict[str, Any]) -> None:
    """Replace, in place, the serialised arguments of :data:`OBJECT_ARGUMENTS` by objects,
    in nested models too."""
    for layer in architecture.get("layers", []):
        layer_config = layer.get("config", {})
        if "layers" in layer_config:  # a nested model
            _deserialize_object_arguments(layer_config, objects)
        for argument in OBJECT_ARGUMENTS.get(layer.get("class_name", ""), ()):
            value = layer_config.get(argument)
            if isinstance(value, dict):
                layer_config[argument] = keras.saving.deserialize_keras_object(
                    value, custom_objects=objects
                )
