"""``QActivation``: a quantizer applied to values (``quantized_bits``,
``quantized_tanh``, ``quantized_relu``)."""

from __future__ import annotations

import numpy as np
from qkeras import quantized_tanh

from smartml.hardware.cost import quantizer_bits
from smartml.hardware.precision import HARD_ACTIVATION_CONSTANTS, LayerPrecision, activation_type
from smartml.hardware.registry import LayerHandler, layer_handler


@layer_handler("qkeras:QActivation")
class Activation(LayerHandler):
    """The output takes the quantizer's type with QKeras' rounding (ties to even) and
    clipping; hls4ml's ``hard_tanh`` needs its slope and shift constants exact."""

    detail = "(quantized_bits | quantized_tanh | quantized_relu)"

    def output_bits(self, layer, input_bits: list[int], default_bits: int) -> int:
        return quantizer_bits(layer.quantizer, default_bits)

    def precision(self, layer, incoming: list):
        where = f"layer {layer.name!r} ({type(layer).__name__})"
        result = activation_type(layer.quantizer, where)
        extra = {}
        if isinstance(layer.quantizer, quantized_tanh):
            extra = {"slope": HARD_ACTIVATION_CONSTANTS, "shift": HARD_ACTIVATION_CONSTANTS}
        return LayerPrecision.of_result(layer.name, result, **extra), result

    def trace(self, layer, inputs: list, precision):
        """Every quantizer here is a conversion to its type (hard tanh's clip to ±1 is
        the saturation of ``fixed<bits,1>``), rounding half to even."""
        from smartml.hardware.rtl import arithmetic  # da4ml is needed for RTL only

        (x,) = inputs
        return arithmetic.quantize_to(x, precision.types["result"])

    def estimate(self, layer, precision, incoming: list, settings) -> tuple[int, int]:
        (source,) = incoming
        result = precision.types["result"]
        widening = result.fractional >= source.fractional and result.max_abs >= source.max_abs
        if widening:
            return 0, 0  # a cast to a wider type is wiring
        return 1, 2 * result.width * int(np.prod(layer.output.shape[1:]))
