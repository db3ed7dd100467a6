"""Fixed-point types of QKeras quantizers and the per-layer precision record.

The layer handlers (:mod:`smartml.hardware.handlers`) build on these to give every
layer hls4ml precisions that reproduce QKeras exactly; the rules are explained in
:mod:`smartml.export.qkeras_precision`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qkeras import quantized_bits, quantized_relu, quantized_tanh

from smartml.errors import ExportError
from smartml.hardware.fixed_point import FixedType

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


def quantizer_type(quantizer, where: str) -> FixedType:
    """The fixed-point type a weight or value quantizer produces.

    Args:
        quantizer: ``quantized_bits`` (``alpha=1``) or ``quantized_tanh``.
        where: names the layer (and tensor) in errors.

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


def activation_type(quantizer, where: str) -> FixedType:
    """The type a ``QActivation``'s quantizer produces: :func:`quantizer_type`, plus
    ``quantized_relu``, which only an activation can be.

    ``quantized_relu(bits, integer)`` is ``relu`` rounded to ``bits − integer``
    fractional bits (``tf.round``: ties to even) and clipped below ``2^integer``:
    ``ufixed<bits, integer, RND_CONV, SAT>``, which hls4ml's ``relu`` into that type
    computes exactly.

    >>> activation_type(quantized_relu(6, 2), "x").hls()
    'ufixed<6,2,RND_CONV,SAT>'
    >>> activation_type(quantized_relu(6, 2, negative_slope=0.25), "layer 'r'")
    Traceback (most recent call last):
    ...
    smartml.errors.ExportError: layer 'r': quantized_relu(negative_slope=0.25) ...
    """
    if not isinstance(quantizer, quantized_relu):
        return quantizer_type(quantizer, where)
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
