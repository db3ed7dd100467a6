"""QKeras quantizers of the configuration's fixed-point formats (builder side)."""

from qkeras import quantized_bits

from smartml.config.common import FixedPoint


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
