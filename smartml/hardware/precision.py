"""Fixed-point types of QKeras quantizers and the per-layer precision record.

The layer handlers (:mod:`smartml.hardware.handlers`) build on these to give every
layer hls4ml precisions that reproduce QKeras exactly; the rules are explained in
:mod:`smartml.export.qkeras_precision`. Each quantizer class has its rule, registered
with :func:`quantizer_rule` (a plugin adds its own quantizers the same way); this
module imports no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from smartml.errors import ExportError
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.registry import load_rules
from smartml.registry import ClassMap

#: Fractional bits of an average (see :mod:`smartml.export.qkeras_precision`).
POOL_FRACTIONAL_BITS = 24
HARD_ACTIVATION_CONSTANTS = "ufixed<2,0>"  # slope = shift = 0.5 of hls4ml's hard_tanh


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

    @classmethod
    def of_result(cls, name: str, result: FixedType, **extra: str) -> LayerPrecision:
        """A layer whose only setting is its result type (plus ``extra`` hls entries)."""
        precision = cls(name, {name: {"Precision": {"result": result.hls(), **extra}}})
        precision.types["result"] = result
        return precision


@dataclass(frozen=True)
class QuantizerRule:
    """How one quantizer class maps to a fixed-point type.

    Attributes:
        fixed_type: ``fixed_type(quantizer, where) -> FixedType``; raises
            :class:`~smartml.errors.ExportError` (naming ``where``) for settings that
            have no exact firmware equivalent.
        label: the quantizer and its supported settings, for error messages.
        activation_only: only a ``QActivation`` may use it (not weights).
    """

    fixed_type: Callable[[Any, str], FixedType]
    label: str
    activation_only: bool = False


_QUANTIZERS: ClassMap[QuantizerRule] = ClassMap("quantizer rule")


def quantizer_rule(
    *quantizer_types: type | str, label: str, activation_only: bool = False
) -> Callable[[Callable[[Any, str], FixedType]], Callable[[Any, str], FixedType]]:
    """Function decorator: the function gives the fixed-point type that quantizers of
    ``quantizer_types`` produce (classes or ``"module:Class"`` names, imported at the
    first lookup, so a plugin adds a quantizer without importing TensorFlow).

    Args:
        quantizer_types: the quantizer classes (exact classes: a subclass may round
            differently).
        label: names the quantizer and its supported settings in errors.
        activation_only: only a ``QActivation`` may use it.
    """

    def register(
        fixed_type: Callable[[Any, str], FixedType],
    ) -> Callable[[Any, str], FixedType]:
        owner = f"{fixed_type.__module__}.{fixed_type.__qualname__}"
        rule = QuantizerRule(fixed_type, label, activation_only)
        for quantizer_type_ in quantizer_types:
            _QUANTIZERS.add(quantizer_type_, rule, owner)
        return fixed_type

    return register


def quantizer_type(quantizer, where: str) -> FixedType:
    """The fixed-point type a weight or value quantizer produces.

    Args:
        quantizer: a quantizer with a registered rule (:func:`quantizer_rule`):
            ``quantized_bits`` (``alpha=1``), ``quantized_tanh``, a plugin's.
        where: names the layer (and tensor) in errors.

    >>> from qkeras import quantized_bits, quantized_tanh
    >>> quantizer_type(quantized_bits(8, 3, alpha=1), "x").hls()
    'fixed<8,4,RND_CONV,SAT>'
    >>> quantizer_type(quantized_tanh(4), "x").hls()
    'fixed<4,1,RND_CONV,SAT>'
    """
    return _fixed_type(quantizer, where, activation=False)


def activation_type(quantizer, where: str) -> FixedType:
    """The type a ``QActivation``'s quantizer produces: :func:`quantizer_type`, plus
    the quantizers only an activation can be (``quantized_relu``).

    >>> from qkeras import quantized_relu
    >>> activation_type(quantized_relu(6, 2), "x").hls()
    'ufixed<6,2,RND_CONV,SAT>'
    >>> activation_type(quantized_relu(6, 2, negative_slope=0.25), "layer 'r'")
    Traceback (most recent call last):
    ...
    smartml.errors.ExportError: layer 'r': quantized_relu(negative_slope=0.25) ...
    """
    return _fixed_type(quantizer, where, activation=True)


def _fixed_type(quantizer, where: str, activation: bool) -> FixedType:
    load_rules()  # the plugins' quantizer rules too
    rule = _QUANTIZERS.get(type(quantizer))  # exact: a subclass may compute other values
    if rule is None or (rule.activation_only and not activation):
        supported = ", ".join(
            sorted(
                {
                    rule.label
                    for _, rule in _QUANTIZERS.items()
                    if activation or not rule.activation_only
                }
            )
        )
        name = getattr(quantizer, "__name__", type(quantizer).__name__)
        raise ExportError(
            f"{where}: quantizer {name} is not supported for bit-exact export "
            f"(supported: {supported})"
        )
    return rule.fixed_type(quantizer, where)


@quantizer_rule("qkeras:quantized_bits", label="quantized_bits with alpha=1")
def _quantized_bits(quantizer, where: str) -> FixedType:
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


# smartml's FusedQuantizedTanh computes quantized_tanh's values in fewer operations.
@quantizer_rule(
    "qkeras:quantized_tanh",
    "smartml.layers.fused_quantized_tanh:FusedQuantizedTanh",
    label="quantized_tanh",
)
def _quantized_tanh(quantizer, where: str) -> FixedType:
    if quantizer.use_real_tanh or quantizer.use_stochastic_rounding:
        raise ExportError(
            f"{where}: quantized_tanh(use_real_tanh or stochastic rounding) has no exact "
            "firmware equivalent; use the default hard tanh"
        )
    saturation = "SAT_SYM" if quantizer.symmetric else "SAT"
    return FixedType(int(quantizer.bits), 1, True, "RND_CONV", saturation)


@quantizer_rule(
    "qkeras:quantized_relu", label="quantized_relu(bits, integer)", activation_only=True
)
def _quantized_relu(quantizer, where: str) -> FixedType:
    """``quantized_relu(bits, integer)`` is ``relu`` rounded to ``bits − integer``
    fractional bits (``tf.round``: ties to even) and clipped below ``2^integer``:
    ``ufixed<bits, integer, RND_CONV, SAT>``, which hls4ml's ``relu`` into that type
    computes exactly."""
    unsupported = {
        "negative_slope": quantizer.negative_slope,
        "use_sigmoid": quantizer.use_sigmoid,
        "relu_upper_bound": quantizer.relu_upper_bound,
        "use_stochastic_rounding": quantizer.use_stochastic_rounding,
        "qnoise_factor": quantizer.qnoise_factor != 1.0,
    }
    for option, value in unsupported.items():
        if value:
            raise ExportError(
                f"{where}: quantized_relu({option}={value}) has no exact firmware "
                "equivalent; use quantized_relu(bits, integer)"
            )
    return FixedType(int(quantizer.bits), int(quantizer.integer), False, "RND_CONV", "SAT")


def quantized_weights(layer, variable: str, quantizer_attribute: str, where: str):
    """(values, type) of one weight tensor after its quantizer."""
    quantizer = getattr(layer, quantizer_attribute, None)
    if quantizer is None:
        raise ExportError(f"{where}: {variable} is not quantized; bit-exact export needs it")
    values = np.asarray(quantizer(getattr(layer, variable)), dtype=np.float64)
    return values, quantizer_type(quantizer, f"{where} {variable}")


def union_type(types: list[FixedType]) -> FixedType:
    """The narrowest type holding every value of each of ``types`` exactly.

    >>> union_type([FixedType(6, 2, False), FixedType(8, 4)]).hls()
    'fixed<8,4,RND_CONV,SAT>'
    >>> union_type([FixedType(6, 2, False), FixedType(4, 3, False)]).hls()
    'ufixed<7,3,RND_CONV,SAT>'
    """
    fractional = max(t.fractional for t in types)
    signed = any(t.signed for t in types)
    low, high = min(t.min for t in types), max(t.max for t in types)
    integer = int(signed)
    while True:
        candidate = FixedType(integer + fractional, integer, signed)
        if candidate.min <= low and candidate.max >= high:
            return candidate
        integer += 1


def require_io_parallel(layer, io_type: str) -> None:
    """Refuse ``io_stream`` for layers verified bit-exact with ``io_parallel`` only."""
    if io_type != "io_parallel":
        raise ExportError(
            f"layer {layer.name!r} ({type(layer).__name__}): only io_parallel is verified "
            "bit-exact; use --io-type io_parallel"
        )
