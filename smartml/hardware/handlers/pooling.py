"""Pooling: max pooling passes values through; average pooling divides by the window.

An average has :data:`~smartml.hardware.precision.POOL_FRACTIONAL_BITS` fractional
bits (see :mod:`smartml.export.qkeras_precision` for why that is exact once a
quantizer follows).
"""

from __future__ import annotations

import math

import numpy as np
from qkeras import QActivation

from smartml.errors import ExportError
from smartml.hardware import resource_estimate as estimate
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.precision import (
    POOL_FRACTIONAL_BITS,
    LayerPrecision,
    require_io_parallel,
)
from smartml.hardware.registry import LayerHandler, layer_handler


@layer_handler("tf_keras.layers:MaxPooling2D")
class MaxPooling(LayerHandler):
    """The largest value of each window, in the input's type (costed as wiring, as
    the pixel model's reports always have)."""

    pass_through = True

    def precision(self, layer, incoming: list):
        (result,) = incoming
        return LayerPrecision.of_result(layer.name, result), result

    def trace(self, layer, inputs: list, precision):
        """A compare-and-select tree per window."""
        (x,) = inputs
        return np.amax(_pool_windows(layer, x), axis=(2, 3))

    def estimate(self, layer, precision, incoming: list, settings) -> tuple[int, int]:
        return 0, 0


@layer_handler("tf_keras.layers:MaxPooling1D")
class MaxPooling1D(LayerHandler):
    """Values pass unchanged (cost only: no bit-exact export verified)."""

    pass_through = True
    exportable = False


@layer_handler("tf_keras.layers:GlobalMaxPooling1D")
class GlobalMaxPooling(LayerHandler):
    """The largest value of each channel over all ``N`` positions (the points of a
    point cloud); hls4ml keeps it in the accumulator type, so both are the input's."""

    pass_through = True

    def precision(self, layer, incoming: list):
        (result,) = incoming
        _require_channels_last(layer)
        precision = LayerPrecision.of_result(layer.name, result, accum=result.hls())
        precision.types["accum"] = result
        return precision, result

    def trace(self, layer, inputs: list, precision):
        """A compare-and-select tree per channel over the points."""
        (x,) = inputs
        return np.amax(x, axis=0).reshape(tuple(layer.output.shape[1:]))

    def estimate(self, layer, precision, incoming: list, settings) -> tuple[int, int]:
        n_points, channels = layer.input.shape[1:]
        width = precision.types["result"].width
        # N − 1 compare-and-select stages per channel, in a tree of log2 N levels
        luts = channels * (n_points - 1) * 2 * width
        depth = math.ceil(math.log2(n_points))
        cycles = estimate.latency_cycles(1, depth, settings.reuse_factor, settings.clock_period_ns)
        return cycles, math.ceil(luts / settings.reuse_factor)

    def check_backend(self, layer, backend: str, strategy: str, io_type: str) -> None:
        require_io_parallel(layer, io_type)


class _Average(LayerHandler):
    """Sum of a window in an exact accumulator, divided by the window size into
    :data:`POOL_FRACTIONAL_BITS` fractional bits."""

    def average_window(self, layer) -> int:
        raise NotImplementedError

    def precision(self, layer, incoming: list):
        (source,) = incoming
        window = self.average_window(layer)
        fractional = max(source.fractional, POOL_FRACTIONAL_BITS)
        accum = FixedType.covering(window * source.max_abs, fractional)
        result = FixedType.covering(source.max_abs, fractional)
        precision = LayerPrecision(layer.name, types={"accum": accum, "result": result})
        precision.hls[layer.name] = {"Precision": {"accum": accum.hls(), "result": result.hls()}}
        return precision, result

    def window_sums(self, layer, x):
        """The traced sum of each averaging window of ``x``."""
        raise NotImplementedError

    def trace(self, layer, inputs: list, precision):
        """Exact window sums, divided as :func:`smartml.hardware.rtl.arithmetic.mean`
        proves exact for the quantizer that follows (a shift for 2^k values)."""
        from smartml.hardware.rtl import arithmetic  # da4ml is needed for RTL only

        (x,) = inputs
        total = self.window_sums(layer, x)
        return arithmetic.mean(total, self.average_window(layer)).reshape(
            tuple(layer.output.shape[1:])
        )

    def check_consumers(self, layer, consumers: list) -> None:
        # A mean over a window of 2^k values is exact in float32 and in the result type;
        # any other mean is rounded differently by both and must be re-quantized.
        window = self.average_window(layer)
        if window & (window - 1) == 0:
            return
        for consumer in consumers:
            if not isinstance(consumer, QActivation):
                raise ExportError(
                    f"layer {layer.name!r} ({type(layer).__name__}): its mean over {window} "
                    f"values goes unquantized into {consumer.name!r}; QKeras rounds it in "
                    "float32, which firmware cannot reproduce bit for bit: put a "
                    "QActivation(quantized_bits) after it"
                )

    def estimate(self, layer, precision, incoming: list, settings) -> tuple[int, int]:
        types, window = precision.types, self.average_window(layer)
        elements = int(np.prod(layer.output.shape[1:]))
        luts = elements * ((window - 1) * types["accum"].width + 2 * types["result"].width)
        depth = math.ceil(math.log2(window)) + 1
        return estimate.latency_cycles(
            1, depth, settings.reuse_factor, settings.clock_period_ns
        ), luts


@layer_handler("tf_keras.layers:AveragePooling2D")
class AveragePooling(_Average):
    def average_window(self, layer) -> int:
        return int(np.prod(layer.pool_size))

    def window_sums(self, layer, x):
        return np.sum(_pool_windows(layer, x), axis=(2, 3))


@layer_handler("tf_keras.layers:GlobalAveragePooling1D")
class GlobalAveragePooling(_Average):
    """The mean of each channel over all ``N`` positions (padded points included)."""

    def average_window(self, layer) -> int:
        return int(layer.input.shape[1])

    def precision(self, layer, incoming: list):
        _require_channels_last(layer)
        return super().precision(layer, incoming)

    def check_backend(self, layer, backend: str, strategy: str, io_type: str) -> None:
        require_io_parallel(layer, io_type)

    def window_sums(self, layer, x):
        return np.sum(x, axis=0)


def _pool_windows(layer, x):
    """The ``(rows, columns, ph, pw, C)`` windows of a 2-D pooling layer; ``same``
    padding is refused (Keras pads a max with −∞ and averages fewer values there)."""
    from smartml.hardware.rtl import windows  # da4ml is needed for RTL only

    where = f"layer {layer.name!r} ({type(layer).__name__})"
    _require_channels_last(layer)
    if layer.padding != "valid":
        raise ExportError(f"{where}: padding {layer.padding!r} has no RTL rule; use valid")
    return windows.patches(x, tuple(layer.pool_size), tuple(layer.strides), "valid", where)


def _require_channels_last(layer) -> None:
    if layer.data_format != "channels_last":
        raise ExportError(
            f"layer {layer.name!r} ({type(layer).__name__}): data_format "
            f"{layer.data_format!r} is not supported for export; expected channels_last"
        )
