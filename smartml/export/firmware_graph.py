"""The Keras model as it is handed to hls4ml: the trained model, plus what a backend
needs to compute the same values.

Catapult (hls4ml 1.3, ``nnet_pooling.h``) averages a pooling window in the type of
the pooling *input* and rescales by ``pool_height·pool_width`` held in that type: with
a 4-bit ``quantized_tanh`` before the pooling, the mean is cut to 3 fractional bits
and the constant 9 overflows. A ``QActivation(quantized_bits)`` inserted before each
``AveragePooling2D`` widens the input to a type that holds the window size and
``POOL_EXTRA_BITS`` more fractional bits; it changes no value (the old grid is a
subset of the new one), which the export verifies like everything else.
"""

import numpy as np
from qkeras import QActivation, quantized_bits

from smartml.backend import keras
from smartml.export.fixed_point import FixedType
from smartml.export.qkeras_precision import POOL_FRACTIONAL_BITS, layer_precisions

WIDENING_SUFFIX = "_input_cast"


def widened_pooling_inputs(model: keras.Model, input_type: FixedType) -> keras.Model:
    """A copy of ``model`` (same weights) with a widening cast before every average
    pooling layer; ``model`` itself when it has none."""
    precisions = {p.name: p for p in layer_precisions(model, input_type)}
    casts = {}
    for index, layer in enumerate(model.layers):
        if isinstance(layer, keras.layers.AveragePooling2D):
            incoming = precisions[model.layers[index - 1].name].types["result"]
            window = int(np.prod(layer.pool_size))
            # The sum of the window and the constant N must fit, with the result's grid.
            fractional = max(incoming.fractional, POOL_FRACTIONAL_BITS)
            casts[layer.name] = FixedType.covering(window * max(incoming.max_abs, 1.0), fractional)
    if not casts:
        return model
    return _rebuild(model, casts)


def _rebuild(model: keras.Model, casts: dict[str, FixedType]) -> keras.Model:
    """Re-create the functional graph layer by layer with fresh layer objects (so each
    has a single inbound node) and insert the casts."""
    first = model.layers[0]
    inputs = keras.Input(shape=model.input_shape[1:], name=first.name)
    outputs = {first.name: inputs}
    for layer in model.layers[1:]:
        (node,) = layer.inbound_nodes[:1]
        parents = node.inbound_layers
        parent = parents[0] if isinstance(parents, list) else parents
        x = outputs[parent.name]
        if layer.name in casts:
            cast = casts[layer.name]
            quantizer = quantized_bits(cast.width, cast.integer - 1, keep_negative=True, alpha=1)
            x = QActivation(quantizer, name=layer.name + WIDENING_SUFFIX)(x)
        clone = type(layer).from_config(layer.get_config())
        outputs[layer.name] = clone(x)
        clone.set_weights(layer.get_weights())
    return keras.Model(inputs, outputs[model.layers[-1].name], name=model.name)
