"""Per-layer hls4ml precisions that make the firmware compute exactly what QKeras does.

hls4ml's defaults (``fixed<16,6>`` everywhere, truncation and wrap-around) disagree
with QKeras on almost every output of a quantized model. Here every type is derived
from the model itself, layer by layer along the functional graph:

* weights and biases take the type of their ``quantized_bits`` quantizer;
* the output of a ``QActivation`` takes its quantizer's type with QKeras' rounding
  (``tf.round``: to nearest, ties to even → ``RND_CONV``) and clipping (``SAT``);
  ``quantized_tanh`` (QKeras' default "hard" tanh) is ``clip(x, −1, 1)`` rounded to
  ``bits − 1`` fractional bits, i.e. hls4ml's ``hard_tanh`` into
  ``fixed<bits,1,RND_CONV,SAT>``;
* accumulators and results of the compute layers are *exact*: the grid of their
  values is the product of the input and weight grids (fractional bits add), and
  their range is bounded from the actual quantized weights,
  ``max_j Σ_i |w_ij|·max|x| + |b_j|``, so nothing is rounded or saturated before the
  next quantizer does it the way QKeras does;
* average pooling divides by the window size ``N``, which no finite binary fraction
  represents: its result has :data:`POOL_FRACTIONAL_BITS` fractional bits. A mean of
  values on a grid never lies closer than ``1/(N·2^(f+1))`` to a rounding tie of a
  following quantizer with ``f`` fractional bits (unless exactly on it, which the
  exact sum then reproduces), so the cut cannot change a rounding while
  ``f + 1 + log2 N < 24`` (e.g. 8-bit quantizers and windows up to 32x32).

Supported layers: :data:`SUPPORTED`; anything else is an :class:`ExportError` naming
the layer. A model without an input quantizer gets the input type the caller chooses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qkeras import QActivation, QConv2D, QDense, QSeparableConv2D, quantized_bits, quantized_tanh

from smartml.backend import keras
from smartml.errors import SmartmlError
from smartml.export.fixed_point import FixedType

POOL_FRACTIONAL_BITS = 24
HARD_ACTIVATION_CONSTANTS = "ufixed<2,0>"  # slope = shift = 0.5 of hls4ml's hard_tanh
SUPPORTED = (
    "InputLayer",
    "QActivation(quantized_bits | quantized_tanh)",
    "QDense",
    "QConv2D",
    "QSeparableConv2D",
    "AveragePooling2D",
    "MaxPooling2D",
    "Flatten",
    "Reshape",
)


class ExportError(SmartmlError):
    """The model or the export settings cannot give verified firmware."""


@dataclass
class Value:
    """What is known about one tensor: its fixed-point type (grid and range)."""

    type: FixedType


@dataclass
class LayerPrecision:
    """hls4ml settings of one Keras layer, and the types for the report.

    Attributes:
        name: the Keras layer.
        hls: ``{"Precision": {...}}`` entries keyed by hls4ml layer name (a Keras layer
            can become several: ``dense_0`` and ``dense_0_linear``).
        types: role → type, e.g. ``{"weight": ..., "accum": ..., "result": ...}``.
    """

    name: str
    hls: dict = field(default_factory=dict)
    types: dict = field(default_factory=dict)


def quantizer_type(quantizer, where: str) -> FixedType:
    """The fixed-point type a QKeras quantizer produces.

    >>> quantizer_type(quantized_bits(8, 3, alpha=1), "x").hls()
    'fixed<8,4,RND_CONV,SAT>'
    >>> quantizer_type(quantized_tanh(4), "x").hls()
    'fixed<4,1,RND_CONV,SAT>'
    """
    if isinstance(quantizer, quantized_bits):
        alpha = quantizer.alpha
        if alpha is not None and (isinstance(alpha, str) or float(alpha) != 1.0):
            raise ExportError(
                f"{where}: quantized_bits with alpha={alpha!r} scales the values by a factor "
                "fitted in training; bit-exact export needs alpha=1"
            )
        signed = bool(quantizer.keep_negative)
        saturation = "SAT_SYM" if getattr(quantizer, "symmetric", False) else "SAT"
        return FixedType(
            int(quantizer.bits),
            int(quantizer.integer) + int(signed),
            signed,
            "RND_CONV",
            saturation,
        )
    if isinstance(quantizer, quantized_tanh):
        if quantizer.use_real_tanh or quantizer.use_stochastic_rounding:
            raise ExportError(
                f"{where}: quantized_tanh(use_real_tanh or stochastic rounding) has no exact "
                "firmware equivalent; use the default hard tanh"
            )
        saturation = "SAT_SYM" if quantizer.symmetric else "SAT"
        return FixedType(int(quantizer.bits), 1, True, "RND_CONV", saturation)
    name = getattr(quantizer, "__name__", type(quantizer).__name__)
    raise ExportError(
        f"{where}: quantizer {name} is not supported for bit-exact export "
        "(supported: quantized_bits with alpha=1, quantized_tanh)"
    )


def layer_precisions(model: keras.Model, input_type: FixedType) -> list[LayerPrecision]:
    """Precisions of every layer of ``model`` (functional, topologically ordered).

    Args:
        model: the QKeras model as it will be converted.
        input_type: type of the model input in firmware.

    Returns:
        one :class:`LayerPrecision` per layer, in model order; the last one's
        ``types["result"]`` is the output type.
    """
    values: dict[str, Value] = {}
    precisions = []
    for layer in model.layers:
        inbound = _inbound_layers(layer)
        if len(inbound) > 1:
            raise ExportError(
                f"layer {layer.name!r} ({type(layer).__name__}) has several inputs; "
                f"supported layers: {', '.join(SUPPORTED)}"
            )
        incoming = values[inbound[0]] if inbound else Value(input_type)
        precision, out = _layer_precision(layer, incoming)
        values[layer.name] = out
        precisions.append(precision)
    return precisions


def hls_layer_config(precisions: list[LayerPrecision]) -> dict:
    """The ``LayerName`` block of an hls4ml configuration."""
    config = {}
    for precision in precisions:
        config.update(precision.hls)
    return config


def _inbound_layers(layer) -> list[str]:
    names = []
    for node in layer.inbound_nodes:
        inbound = node.inbound_layers
        for parent in inbound if isinstance(inbound, list) else [inbound]:
            names.append(parent.name)
    return names


def _layer_precision(layer, incoming: Value) -> tuple[LayerPrecision, Value]:
    where = f"layer {layer.name!r} ({type(layer).__name__})"
    if isinstance(layer, keras.layers.InputLayer):
        return _passthrough(layer, incoming)
    if isinstance(layer, QActivation):
        return _activation(layer, incoming, where)
    if isinstance(layer, QSeparableConv2D):
        _require_linear(layer, where)
        return _separable(layer, incoming)
    if isinstance(layer, QDense | QConv2D):
        _require_linear(layer, where)
        return _dense_or_conv(layer, incoming)
    if isinstance(layer, keras.layers.AveragePooling2D):
        return _average_pooling(layer, incoming)
    if isinstance(layer, keras.layers.MaxPooling2D | keras.layers.Flatten | keras.layers.Reshape):
        return _passthrough(layer, incoming)
    raise ExportError(
        f"{where} is not supported for bit-exact export; supported: {', '.join(SUPPORTED)}"
    )


def _passthrough(layer, incoming: Value) -> tuple[LayerPrecision, Value]:
    result = incoming.type
    precision = LayerPrecision(layer.name, {layer.name: {"Precision": {"result": result.hls()}}})
    precision.types["result"] = result
    return precision, incoming


def _activation(layer, incoming: Value, where: str) -> tuple[LayerPrecision, Value]:
    quantizer = layer.quantizer
    result = quantizer_type(quantizer, where)
    settings = {"result": result.hls()}
    if isinstance(quantizer, quantized_tanh):
        settings.update(slope=HARD_ACTIVATION_CONSTANTS, shift=HARD_ACTIVATION_CONSTANTS)
    precision = LayerPrecision(layer.name, {layer.name: {"Precision": settings}})
    precision.types["result"] = result
    return precision, Value(result)


def _require_linear(layer, where: str) -> None:
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", str(activation))
    if activation is not None and name != "linear":
        raise ExportError(
            f"{where}: built-in activation {name!r} is not supported for bit-exact export; "
            "use activation=None and a QActivation after the layer"
        )


def _quantized(layer, variable: str, quantizer_attribute: str, where: str):
    """(values, type) of one weight tensor after its quantizer."""
    quantizer = getattr(layer, quantizer_attribute, None)
    if quantizer is None:
        raise ExportError(f"{where}: {variable} is not quantized; bit-exact export needs it")
    values = np.asarray(quantizer(getattr(layer, variable)), dtype=np.float64)
    return values, quantizer_type(quantizer, f"{where} {variable}")


def _bias(layer, where: str, n_out: int):
    if not getattr(layer, "use_bias", False):
        return np.zeros(n_out), None
    return _quantized(layer, "bias", "bias_quantizer_internal", where)


def _dense_or_conv(layer, incoming: Value) -> tuple[LayerPrecision, Value]:
    where = f"layer {layer.name!r}"
    kernel, weight_type = _quantized(layer, "kernel", "kernel_quantizer_internal", where)
    flat = kernel.reshape(-1, kernel.shape[-1])
    bias, bias_type = _bias(layer, where, flat.shape[-1])
    fractional = incoming.type.fractional + weight_type.fractional
    if bias_type is not None:
        fractional = max(fractional, bias_type.fractional)
    bound = float(np.max(np.abs(flat).sum(axis=0) * incoming.type.max_abs + np.abs(bias)))
    exact = FixedType.covering(bound, fractional)
    types = {
        "weight": weight_type,
        "bias": bias_type or weight_type,
        "accum": exact,
        "result": exact,
    }
    return _compute_layer(layer, types), Value(exact)


def _separable(layer, incoming: Value) -> tuple[LayerPrecision, Value]:
    where = f"layer {layer.name!r}"
    depthwise, dw_type = _quantized(
        layer, "depthwise_kernel", "depthwise_quantizer_internal", where
    )
    pointwise, pw_type = _quantized(
        layer, "pointwise_kernel", "pointwise_quantizer_internal", where
    )
    # depthwise (kh, kw, C, d) -> C·d channels; pointwise (1, 1, C·d, F)
    dw_bound = np.abs(depthwise).sum(axis=(0, 1)).reshape(-1) * incoming.type.max_abs
    dw_exact = FixedType.covering(
        float(dw_bound.max()), incoming.type.fractional + dw_type.fractional
    )
    pw = pointwise.reshape(-1, pointwise.shape[-1])
    bias, bias_type = _bias(layer, where, pw.shape[-1])
    fractional = dw_exact.fractional + pw_type.fractional
    if bias_type is not None:
        fractional = max(fractional, bias_type.fractional)
    bound = float(np.max(np.abs(pw).T @ dw_bound + np.abs(bias)))
    exact = FixedType.covering(bound, fractional)
    types = {
        "depthwise": dw_type,
        "pointwise": pw_type,
        "bias": bias_type or pw_type,
        "depthwise_accum": dw_exact,
        "depthwise_result": dw_exact,
        "pointwise_accum": exact,
        "result": exact,
    }
    return _compute_layer(layer, types), Value(exact)


def _compute_layer(layer, types: dict) -> LayerPrecision:
    precision = LayerPrecision(layer.name, types=types)
    precision.hls[layer.name] = {"Precision": {role: t.hls() for role, t in types.items()}}
    # hls4ml splits the layer's (linear) activation into "<name>_linear"; giving it the
    # same type makes it a no-op that hls4ml removes.
    precision.hls[f"{layer.name}_linear"] = {"Precision": {"result": types["result"].hls()}}
    return precision


def _average_pooling(layer, incoming: Value) -> tuple[LayerPrecision, Value]:
    window = int(np.prod(layer.pool_size))
    fractional = max(incoming.type.fractional, POOL_FRACTIONAL_BITS)
    accum = FixedType.covering(window * incoming.type.max_abs, fractional)
    result = FixedType.covering(incoming.type.max_abs, fractional)
    precision = LayerPrecision(layer.name, types={"accum": accum, "result": result})
    precision.hls[layer.name] = {"Precision": {"accum": accum.hls(), "result": result.hls()}}
    return precision, Value(result)
