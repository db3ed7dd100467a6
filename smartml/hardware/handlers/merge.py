"""Merge layers: several inbound layers, element by element or side by side.

hls4ml 1.3 merges exactly two tensors of the same shape (no broadcasting): a point
mask ``(N, 1)`` must be tiled to ``(N, C)`` before it multiplies ``(N, C)`` features.
"""

from __future__ import annotations

import math

import numpy as np

from smartml.errors import ExportError
from smartml.hardware import resource_estimate as estimate
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.precision import LayerPrecision, require_io_parallel, union_type
from smartml.hardware.registry import LayerHandler, layer_handler


class _Merge(LayerHandler):
    def _two_inputs(self, layer, incoming: list) -> None:
        if len(incoming) != 2:
            raise ExportError(
                f"layer {layer.name!r} ({type(layer).__name__}) merges {len(incoming)} "
                "tensors; hls4ml 1.3 merges exactly two (nest the merges)"
            )

    def _same_shapes(self, layer, hint: str = "") -> None:
        shapes = [tuple(shape[1:]) for shape in layer.input_shape]
        if shapes[0] != shapes[1]:
            raise ExportError(
                f"layer {layer.name!r} ({type(layer).__name__}): input shapes {shapes[0]} and "
                f"{shapes[1]} differ; hls4ml does not broadcast{hint}"
            )


@layer_handler("tf_keras.layers:Multiply")
class Multiply(_Merge):
    """``a·b`` element by element, exact: fractional bits add, ranges multiply."""

    def output_bits(self, layer, input_bits: list[int], default_bits: int) -> int:
        return sum(input_bits)

    def precision(self, layer, incoming: list):
        self._two_inputs(layer, incoming)
        self._same_shapes(layer, ", tile the smaller input first")
        a, b = incoming
        result = FixedType.covering(
            a.max_abs * b.max_abs, a.fractional + b.fractional, a.signed or b.signed
        )
        return LayerPrecision.of_result(layer.name, result), result

    def trace(self, layer, inputs: list, precision):
        """One variable×variable multiplier per element."""
        a, b = inputs
        return a * b

    def estimate(self, layer, precision, incoming: list, settings) -> tuple[int, int]:
        a, b = incoming
        elements = int(np.prod(layer.output.shape[1:]))
        # a variable × variable product in LUTs: about one LUT per partial-product bit
        luts = math.ceil(elements * a.width * b.width / settings.reuse_factor)
        depth = math.ceil(math.log2(min(a.width, b.width) + 1))
        return estimate.latency_cycles(
            1, depth, settings.reuse_factor, settings.clock_period_ns
        ), luts

    def check_backend(self, layer, backend: str, strategy: str, io_type: str) -> None:
        require_io_parallel(layer, io_type)


@layer_handler("tf_keras.layers:Concatenate")
class Concatenate(_Merge):
    """Both inputs side by side in one type that holds each exactly."""

    def output_bits(self, layer, input_bits: list[int], default_bits: int) -> int:
        return max(input_bits)

    def precision(self, layer, incoming: list):
        self._two_inputs(layer, incoming)
        rank = len(layer.output.shape) - 1
        if rank > 3:
            raise ExportError(
                f"layer {layer.name!r} (Concatenate): rank {rank}; hls4ml concatenates "
                "tensors of rank 3 at most"
            )
        result = union_type(incoming)
        return LayerPrecision.of_result(layer.name, result), result

    def trace(self, layer, inputs: list, precision):
        """Side by side along the layer's axis (each value keeps its own type)."""
        axis = layer.axis if layer.axis < 0 else layer.axis - 1  # no batch axis here
        return np.concatenate(inputs, axis=axis)

    def estimate(self, layer, precision, incoming: list, settings) -> tuple[int, int]:
        return 0, 0  # wiring (and sign extension)

    def check_backend(self, layer, backend: str, strategy: str, io_type: str) -> None:
        require_io_parallel(layer, io_type)


@layer_handler("tf_keras.layers:Add")
class Add(_Merge):
    """``a + b`` element by element, exact: the finer grid of the two, a range
    holding the sum of the largest magnitudes (a residual connection)."""

    def output_bits(self, layer, input_bits: list[int], default_bits: int) -> int:
        return max(input_bits) + 1

    def precision(self, layer, incoming: list):
        self._two_inputs(layer, incoming)
        self._same_shapes(layer)
        a, b = incoming
        result = FixedType.covering(
            a.max_abs + b.max_abs, max(a.fractional, b.fractional), a.signed or b.signed
        )
        return LayerPrecision.of_result(layer.name, result), result

    def trace(self, layer, inputs: list, precision):
        """One adder per element."""
        a, b = inputs
        return a + b

    def estimate(self, layer, precision, incoming: list, settings) -> tuple[int, int]:
        elements = int(np.prod(layer.output.shape[1:]))
        # one adder of the result's width per element: about one LUT per bit
        luts = math.ceil(elements * precision.types["result"].width / settings.reuse_factor)
        return estimate.latency_cycles(1, 1, settings.reuse_factor, settings.clock_period_ns), luts

    def check_backend(self, layer, backend: str, strategy: str, io_type: str) -> None:
        require_io_parallel(layer, io_type)
