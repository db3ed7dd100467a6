"""The export and cost rules of :class:`~smartml_plugin_example.layer.PowerOfTwoScale`,
registered by the layer's name: this module imports no TensorFlow."""

from __future__ import annotations

from smartml.errors import ExportError
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.precision import LayerPrecision
from smartml.hardware.registry import LayerHandler, layer_handler


@layer_handler("smartml_plugin_example.layer:PowerOfTwoScale")
class PowerOfTwoScaleHandler(LayerHandler):
    """``x·2^shift`` moves the binary point: the input's bits in a type whose integer
    part is ``shift`` bits longer, exact; firmware rewires the bits (no logic)."""

    def output_bits(self, layer, input_bits: list[int], default_bits: int) -> int:
        return max(input_bits, default=default_bits)

    def precision(self, layer, incoming: list):
        (source,) = incoming
        result = FixedType(
            source.width,
            source.integer + layer.shift,
            source.signed,
            source.rounding,
            source.saturation,
        )
        return LayerPrecision.of_result(layer.name, result), result

    def estimate(self, layer, precision, incoming: list, settings) -> tuple[int, int]:
        return 0, 0  # wiring

    def trace(self, layer, inputs: list, precision):
        """A shift: da4ml changes the scale of the values, not their bits."""
        (x,) = inputs
        return x * 2.0**layer.shift

    def check_backend(self, layer, backend: str, strategy: str, io_type: str) -> None:
        raise ExportError(
            f"layer {layer.name!r} (PowerOfTwoScale): hls4ml has no converter for it; "
            "export the model as RTL (da4ml) instead"
        )
