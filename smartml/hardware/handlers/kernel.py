"""Layers with kernels: dense, convolutions, depthwise and separable convolutions.

Accumulators and results are *exact*: the grid of their values is the product of the
input and weight grids (fractional bits add) and their range is bounded from the
actual quantized weights, ``max_j Σ_i |w_ij|·max|x| + |b_j|``.
"""

from __future__ import annotations

import math

import numpy as np
from qkeras import QConv1D, QDense

from smartml.errors import ExportError
from smartml.hardware import resource_estimate as estimate
from smartml.hardware.cost import quantizer_bits
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.precision import LayerPrecision, quantized_weights, require_io_parallel
from smartml.hardware.registry import LayerHandler, layer_handler

_KERNEL = (("kernel", "kernel_quantizer_internal", "kernel"),)


class _Quantized(LayerHandler):
    """A QKeras compute layer: its built-in activation quantizes its output."""

    def output_bits(self, layer, input_bits: list[int], default_bits: int) -> int:
        return quantizer_bits(getattr(layer, "activation", None), default_bits)


@layer_handler("qkeras:QDense", "qkeras:QConv1D", "qkeras:QConv2D")
class KernelLayer(_Quantized):
    """``y = x·K + b`` at every output position; a ``QDense`` on ``(N, F)`` inputs (a
    per-point MLP) is what hls4ml builds as a pointwise ``Conv1D``."""

    weight_attributes = _KERNEL

    def precision(self, layer, incoming: list):
        (source,) = incoming
        where = f"layer {layer.name!r}"
        _require_linear(layer)
        kernel, weight_type = quantized_weights(layer, "kernel", "kernel_quantizer_internal", where)
        flat = kernel.reshape(-1, kernel.shape[-1])
        bias, bias_type = _bias(layer, where, flat.shape[-1])
        fractional = source.fractional + weight_type.fractional
        if bias_type is not None:
            fractional = max(fractional, bias_type.fractional)
        bound = float(np.max(np.abs(flat).sum(axis=0) * source.max_abs + np.abs(bias)))
        exact = FixedType.covering(bound, fractional)
        types = {"weight": weight_type, "bias": bias_type or weight_type, "accum": exact}
        return _compute_layer(layer, {**types, "result": exact}), exact

    def estimate(self, layer, precision, incoming: list, settings) -> tuple[int, int]:
        (source,) = incoming
        types = precision.types
        kernel = np.asarray(layer.kernel_quantizer_internal(layer.kernel))
        mult, tree, depth = estimate.kernel_logic(
            kernel, types["weight"], source.width, types["accum"].width
        )
        luts = math.ceil((mult + tree) / settings.reuse_factor)
        cycles = estimate.latency_cycles(
            _positions(layer), depth + 1, settings.reuse_factor, settings.clock_period_ns
        )
        return cycles, luts

    def trace(self, layer, inputs: list, precision):
        """``x·K + b`` with da4ml's constant-matrix solver, per point for ``(N, F)``
        inputs and per output position for convolutions (on their patches)."""
        from smartml.hardware.rtl import arithmetic  # da4ml is needed for RTL only

        (x,) = inputs
        where = f"layer {layer.name!r}"
        kernel, _ = quantized_weights(layer, "kernel", "kernel_quantizer_internal", where)
        bias, _ = _bias(layer, where, kernel.shape[-1])
        if not isinstance(layer, QDense):
            x = _conv_patches(layer, x, where)
        y = x @ kernel.reshape(-1, kernel.shape[-1]) + bias
        return arithmetic.quantize_to(y, precision.types["result"])

    def check_backend(self, layer, backend: str, strategy: str, io_type: str) -> None:
        # Dense and Conv2D are verified with io_stream too; sequences (N, F) are not.
        if isinstance(layer, QConv1D) or len(layer.input.shape) == 3:
            require_io_parallel(layer, io_type)


@layer_handler("qkeras:QDepthwiseConv2D")
class DepthwiseLayer(_Quantized):
    """Each input channel convolved with its own ``kh×kw`` filters (cost only)."""

    exportable = False
    weight_attributes = (("depthwise_kernel", "depthwise_quantizer_internal", "depthwise"),)

    def mac_fan_in(self, role: str, shape: tuple) -> int:
        return int(np.prod(shape[:2]))  # (kh, kw, C_in, d): kh·kw inputs per output


@layer_handler("qkeras:QSeparableConv2D")
class SeparableLayer(_Quantized):
    """Depthwise then pointwise convolution; the pointwise part reads the unquantized
    depthwise output."""

    weight_attributes = (
        ("depthwise_kernel", "depthwise_quantizer_internal", "depthwise"),
        ("pointwise_kernel", "pointwise_quantizer_internal", "pointwise"),
    )

    def mac_fan_in(self, role: str, shape: tuple) -> int:
        return int(np.prod(shape[:2] if role == "depthwise" else shape[:-1]))

    def mac_input_bits(self, role: str, input_bits: int, default_bits: int) -> int:
        return default_bits if role == "pointwise" else input_bits

    def precision(self, layer, incoming: list):
        (source,) = incoming
        where = f"layer {layer.name!r}"
        _require_linear(layer)
        depthwise, dw_type = quantized_weights(
            layer, "depthwise_kernel", "depthwise_quantizer_internal", where
        )
        pointwise, pw_type = quantized_weights(
            layer, "pointwise_kernel", "pointwise_quantizer_internal", where
        )
        # depthwise (kh, kw, C, d) -> C·d channels; pointwise (1, 1, C·d, F)
        dw_bound = np.abs(depthwise).sum(axis=(0, 1)).reshape(-1) * source.max_abs
        dw_exact = FixedType.covering(float(dw_bound.max()), source.fractional + dw_type.fractional)
        pw = pointwise.reshape(-1, pointwise.shape[-1])
        bias, bias_type = _bias(layer, where, pw.shape[-1])
        fractional = dw_exact.fractional + pw_type.fractional
        if bias_type is not None:
            fractional = max(fractional, bias_type.fractional)
        exact = FixedType.covering(
            float(np.max(np.abs(pw).T @ dw_bound + np.abs(bias))), fractional
        )
        types = {
            "depthwise": dw_type,
            "pointwise": pw_type,
            "bias": bias_type or pw_type,
            "depthwise_accum": dw_exact,
            "depthwise_result": dw_exact,
            "pointwise_accum": exact,
            "result": exact,
        }
        return _compute_layer(layer, types), exact

    def estimate(self, layer, precision, incoming: list, settings) -> tuple[int, int]:
        (source,) = incoming
        types = precision.types
        depthwise = np.asarray(layer.depthwise_quantizer_internal(layer.depthwise_kernel))
        # each input channel has its own kh·kw filter: treat channels as outputs
        depthwise = np.moveaxis(depthwise, 2, -1).reshape(-1, depthwise.shape[2])
        dw_mult, dw_tree, dw_depth = estimate.kernel_logic(
            depthwise, types["depthwise"], source.width, types["depthwise_accum"].width
        )
        pointwise = np.asarray(layer.pointwise_quantizer_internal(layer.pointwise_kernel))
        pw_mult, pw_tree, pw_depth = estimate.kernel_logic(
            pointwise, types["pointwise"], types["depthwise_result"].width, types["result"].width
        )
        luts = math.ceil((dw_mult + dw_tree + pw_mult + pw_tree) / settings.reuse_factor)
        cycles = estimate.latency_cycles(
            _positions(layer),
            dw_depth + pw_depth + 2,
            settings.reuse_factor,
            settings.clock_period_ns,
        )
        return cycles, luts

    def trace(self, layer, inputs: list, precision):
        """Each channel's ``kh×kw`` patches times its own filters (exact), then the
        pointwise kernel and the bias."""
        from smartml.hardware.rtl import arithmetic, windows  # da4ml is needed for RTL only

        (x,) = inputs
        where = f"layer {layer.name!r}"
        windows.check_plain(layer, where)
        depthwise, _ = quantized_weights(
            layer, "depthwise_kernel", "depthwise_quantizer_internal", where
        )
        pointwise, _ = quantized_weights(
            layer, "pointwise_kernel", "pointwise_quantizer_internal", where
        )
        bias, _ = _bias(layer, where, pointwise.shape[-1])
        size = depthwise.shape[:2]
        windowed = windows.patches(x, size, tuple(layer.strides), layer.padding, where)
        # output channel c·d + j is channel c's patch times depthwise[..., c, j]
        per_channel = [
            windowed[..., c].reshape(*windowed.shape[:2], -1)
            @ depthwise[:, :, c, :].reshape(-1, depthwise.shape[-1])
            for c in range(depthwise.shape[2])
        ]
        y = np.concatenate(per_channel, axis=-1) @ pointwise.reshape(-1, pointwise.shape[-1])
        return arithmetic.quantize_to(y + bias, precision.types["result"])

    def check_backend(self, layer, backend: str, strategy: str, io_type: str) -> None:
        # hls4ml 1.3 accepts this but its io_parallel depthwise convolution asserts (and
        # kills the process) under the Resource strategy.
        if strategy == "Resource" and io_type == "io_parallel":
            raise ExportError(
                f"layer {layer.name!r}: hls4ml 1.3 has no Resource strategy for depthwise "
                "convolutions with io_parallel; use --strategy Latency or --io-type io_stream"
            )


def _conv_patches(layer, x, where: str):
    """The patches of a ``QConv1D`` (as one row of a 2-D image) or ``QConv2D``,
    flattened to ``(positions..., kh·kw·C)`` like the kernel's first axes."""
    from smartml.hardware.rtl import windows  # da4ml is needed for RTL only

    windows.check_plain(layer, where)
    one_dimensional = isinstance(layer, QConv1D)
    size = (1, *layer.kernel_size) if one_dimensional else tuple(layer.kernel_size)
    strides = (1, *layer.strides) if one_dimensional else tuple(layer.strides)
    image = x.reshape(1, *x.shape) if one_dimensional else x
    windowed = windows.patches(image, size, strides, layer.padding, where)
    flat = windowed.reshape(*windowed.shape[:2], -1)
    return flat.reshape(flat.shape[1:]) if one_dimensional else flat


def _positions(layer) -> int:
    """Output positions: product of the output's dimensions but the channels."""
    output_shape = layer.output.shape[1:]
    return int(np.prod(output_shape[:-1])) if len(output_shape) > 1 else 1


def _require_linear(layer) -> None:
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", str(activation))
    if activation is not None and name != "linear":
        raise ExportError(
            f"layer {layer.name!r} ({type(layer).__name__}): built-in activation {name!r} is "
            "not supported for bit-exact export; use activation=None and a QActivation after "
            "the layer"
        )


def _bias(layer, where: str, n_out: int):
    if not getattr(layer, "use_bias", False):
        return np.zeros(n_out), None
    return quantized_weights(layer, "bias", "bias_quantizer_internal", where)


def _compute_layer(layer, types: dict) -> LayerPrecision:
    precision = LayerPrecision(layer.name, types=types)
    precision.hls[layer.name] = {"Precision": {role: t.hls() for role, t in types.items()}}
    # hls4ml splits the layer's (linear) activation into "<name>_linear"; giving it the
    # same type makes it a no-op that hls4ml removes.
    precision.hls[f"{layer.name}_linear"] = {"Precision": {"result": types["result"].hls()}}
    return precision
