"""The Keras model as it is handed to hls4ml: the trained model, plus what a backend
needs to compute the same values.

Catapult (hls4ml 1.3, ``nnet_pooling.h``) averages a pooling window in the type of
the pooling *input* and rescales by the window size held in that type: with a 4-bit
``quantized_tanh`` before the pooling, the mean is cut to 3 fractional bits and the
constant 9 overflows. A ``QActivation(quantized_bits)`` inserted before each average
(``AveragePooling2D``, ``GlobalAveragePooling1D``: every layer whose handler has an
``average_window``) widens the input to a type that holds the window size and
:data:`POOL_FRACTIONAL_BITS` fractional bits; it changes no value (the old grid is a
subset of the new one), which the export verifies like everything else.
"""

from qkeras import QActivation, quantized_bits

from smartml.backend import keras
from smartml.export.qkeras_precision import layer_precisions
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.graph import inbound_layers
from smartml.hardware.precision import POOL_FRACTIONAL_BITS
from smartml.hardware.registry import handler_for

WIDENING_SUFFIX = "_input_cast"


def widened_pooling_inputs(
    model: keras.Model, input_types: FixedType | dict[str, FixedType]
) -> keras.Model:
    """A copy of ``model`` (same weights) with a widening cast before every average;
    ``model`` itself when it has none.

    Args:
        model: the QKeras model; input_types: as for
            :func:`~smartml.export.qkeras_precision.layer_precisions`.
    """
    results = {p.name: p.types["result"] for p in layer_precisions(model, input_types)}
    casts = {}
    for layer in model.layers:
        window = handler_for(layer, "export").average_window(layer)
        if window is None:
            continue
        (source,) = inbound_layers(layer)
        incoming = results[source]
        # The sum of the window and the constant N must fit, with the result's grid.
        fractional = max(incoming.fractional, POOL_FRACTIONAL_BITS)
        casts[layer.name] = FixedType.covering(window * max(incoming.max_abs, 1.0), fractional)
    if not casts:
        return model
    return _rebuild(model, casts)


def _rebuild(model: keras.Model, casts: dict[str, FixedType]) -> keras.Model:
    """Re-create the functional graph layer by layer with fresh layer objects (so each
    has a single inbound node) and insert the casts."""
    outputs = {}
    for layer in model.layers:
        parents = inbound_layers(layer)
        if not parents:
            outputs[layer.name] = keras.Input(shape=tuple(layer.output.shape[1:]), name=layer.name)
            continue
        x = outputs[parents[0]] if len(parents) == 1 else [outputs[p] for p in parents]
        if layer.name in casts:
            cast = casts[layer.name]
            quantizer = quantized_bits(cast.width, cast.integer - 1, keep_negative=True, alpha=1)
            x = QActivation(quantizer, name=layer.name + WIDENING_SUFFIX)(x)
        clone = type(layer).from_config(layer.get_config())
        outputs[layer.name] = clone(x)
        clone.set_weights(layer.get_weights())
    inputs = [outputs[tensor._keras_history.layer.name] for tensor in model.inputs]
    last = model.outputs[0]._keras_history.layer.name
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs[last], name=model.name)
