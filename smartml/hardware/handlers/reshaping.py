"""Layers that move values without changing them: model inputs, reshaping, dropout."""

from __future__ import annotations

from smartml.hardware.precision import LayerPrecision
from smartml.hardware.registry import LayerHandler, layer_handler


@layer_handler("tf_keras.layers:InputLayer", "tf_keras.layers:Flatten", "tf_keras.layers:Reshape")
class PassThrough(LayerHandler):
    """Output values are the input values, in the same type; the firmware only rewires
    them (an input layer's type is the firmware input type)."""

    pass_through = True

    def precision(self, layer, incoming: list):
        (result,) = incoming
        return LayerPrecision.of_result(layer.name, result), result

    def trace(self, layer, inputs: list, precision):
        """The same values in the output's shape (row-major, as Keras)."""
        (x,) = inputs
        return x.reshape(tuple(layer.output.shape[1:]))

    def estimate(self, layer, precision, incoming: list, settings) -> tuple[int, int]:
        return 0, 0  # wiring


@layer_handler(
    "tf_keras.layers:Dropout",
    "tf_keras.layers:Permute",
    "tf_keras.layers:ZeroPadding2D",
    "tf_keras.layers:Cropping2D",
)
class CostOnlyPassThrough(LayerHandler):
    """Values pass unchanged (so their bits count as the input's for BOPs); no
    bit-exact export rule has been verified for them."""

    pass_through = True
    exportable = False
