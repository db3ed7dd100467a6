"""QKeras quantizers of the configuration's fixed-point formats (builder side)."""

from qkeras import QActivation, quantized_bits

from smartml.backend import keras
from smartml.config.common import FixedPoint
from smartml.layers.fused_quantized_tanh import FusedQuantizedTanh
from smartml.layers.hard_tanh import HardTanh


def quantized_bits_of(fixed: FixedPoint) -> quantized_bits:
    """The ``quantized_bits`` quantizer of ``fixed``: no per-channel scale
    (``alpha=1``) and no stochastic rounding, so firmware can use the values as trained.

    Args:
        fixed: bits, integer bits and signedness.

    Returns:
        a new QKeras quantizer (one per layer argument: QKeras quantizers hold state).

    >>> quantized_bits_of(FixedPoint(bits=4)).bits
    4
    """
    return quantized_bits(
        fixed.bits,
        fixed.integer,
        keep_negative=fixed.signed,
        alpha=1,
        use_stochastic_rounding=False,
    )


# Why a float twin (a model built with ``quantized: false``) has no firmware form.
FLOAT_TWIN_REFUSAL = (
    "it is the float twin (quantized: false): train the quantized model from its weights"
)


def hard_tanh(bits: int, quantized: bool, name: str) -> keras.layers.Layer:
    """QKeras' hard ``quantized_tanh(bits)`` (computed by :class:`FusedQuantizedTanh`:
    same values and gradients, fewer operations), or, for a float twin, the same
    unrounded: ``clip(x, -1, 1)``.

    >>> type(hard_tanh(8, quantized=False, name="t")).__name__
    'HardTanh'
    """
    if not quantized:
        return HardTanh(name=name)
    return QActivation(FusedQuantizedTanh(bits), name=name)
