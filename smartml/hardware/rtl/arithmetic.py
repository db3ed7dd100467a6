"""Fixed-point conversions on da4ml's traced arrays that compute what
:meth:`~smartml.hardware.fixed_point.FixedType.quantize` (and therefore QKeras) does.

da4ml rounds by truncation or half up only; QKeras (``tf.round``) rounds half to
even. Both agree except on exact ties, so round-half-to-even of ``x`` (``F``
fractional bits) to ``f < F`` fractional bits is a truncation of
``x + 2^-(f+1) − 2^-F + b·2^-F``, ``b`` the lowest bit kept: on a tie the sum
reaches the next step only when ``b`` is 1 (the result is then even), anywhere else
the extra ``±2^-F`` cannot cross a step because ``x`` has no finer bits.

The layer handlers' ``trace`` methods use these; da4ml is imported here only.

da4ml keeps every range, step, constant and power-of-two scale of its traced values
as a :class:`~decimal.Decimal`, in the thread's decimal context: Python's default of
28 significant digits rounds ``2^-n`` for ``n ≥ 41`` (``5^n`` has more digits), and
da4ml then truncates the rounded constants into the logic. Tracing therefore runs
under :func:`exact_decimals`.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from da4ml.trace import FixedVariable, FixedVariableArray  # type: ignore[import-untyped]

from smartml.hardware.fixed_point import FixedType
from smartml.hardware.precision import POOL_FRACTIONAL_BITS

#: Significant digits of da4ml's decimal arithmetic while tracing: a dyadic value
#: ``m·2^-n`` has at most ``log10|m| + 0.7·n + 1`` of them, so this holds scales to
#: ``2^-1000`` of values below ``2^300`` exactly.
DECIMAL_DIGITS = 1000


@contextmanager
def exact_decimals() -> Iterator[None]:
    """da4ml's decimal arithmetic exact while the block runs (this thread only).

    Under Python's default 28 digits, a value scaled by ``2^-44`` (a mean's constant
    ``2^-39`` times a weight's ``2^-5``, as in the pixel MDN) plus a bias ``b`` gets
    the constant ``b/2^-44 = -8108898254847.99…`` instead of ``…848``, which da4ml
    truncates: the sum is one LSB off. Any inexact decimal operation raises
    :class:`decimal.Inexact` here instead of changing the logic.
    """
    with decimal.localcontext() as context:
        context.prec = DECIMAL_DIGITS
        context.Emin, context.Emax = decimal.MIN_EMIN, decimal.MAX_EMAX
        context.traps[decimal.Inexact] = True
        yield


def kif(fixed: FixedType) -> tuple[int, int, int]:
    """da4ml's (sign, integer bits without the sign, fractional bits) of ``fixed``.

    >>> kif(FixedType(8, 3, signed=True))
    (1, 2, 5)
    """
    return int(fixed.signed), fixed.integer - int(fixed.signed), fixed.fractional


def quantize_to(x: FixedVariableArray, fixed: FixedType) -> FixedVariableArray:
    """``x`` converted to ``fixed`` with its rounding (``RND_CONV``: half to even, or
    ``TRN``) and overflow mode (``SAT``, ``SAT_SYM`` or ``WRAP``).

    Args:
        x: traced values, any shape.
        fixed: the target type.

    Returns:
        the converted values, shape of ``x``; an element already exact in ``fixed``
        is returned unchanged (no logic).
    """
    converted = [_quantize_one(v, fixed) for v in np.ravel(x.ravel()._vars)]
    values = np.empty(len(converted), dtype=object)
    values[:] = converted
    return FixedVariableArray(values.reshape(x.shape), x.solver_options, hwconf=x.hwconf)


def _quantize_one(v: FixedVariable, fixed: FixedType) -> FixedVariable:
    k, i, f = kif(fixed)
    overflow = fixed.saturation
    fine = int(v.kif[2])
    if fixed.rounding == "TRN" or fine <= f:
        return v.quantize(k, i, f, overflow, "TRN")
    # the lowest bit kept: x modulo 2^-(f-1), truncated to 2^-f (0 or 2^-f)
    kept = v.quantize(0, 1 - f, f, "WRAP", "TRN")
    # kept·2^(f-F) is b·2^-F: a shift, no logic
    nudged = v + kept * 2.0 ** (f - fine) + (2.0 ** -(f + 1) - 2.0**-fine)
    return nudged.quantize(k, i, f, overflow, "TRN")


def mean(total: FixedVariableArray, count: int) -> FixedVariableArray:
    """``total / count`` for a quantizer that follows, exactly as far as it can tell.

    A power-of-two ``count`` is a shift. Otherwise the mean ``m = S/N`` of sums ``S``
    on the grid ``2^-g`` lies either on a rounding tie ``t`` of a following quantizer
    with ``f + 1 ≤ G = max(g, POOL_FRACTIONAL_BITS)`` fractional bits or at least
    ``2^-G/N`` from it. ``S·c``, with ``c`` the constant ``1/N`` to ``P`` bits, then
    rounded to ``R = G + ⌈log2 N⌉ + 1`` bits, is ``m`` itself when ``m`` lies on that
    grid (a tie does) and else within ``2^-R < 2^-G/N`` of it, never on ``t``: the
    quantizer rounds it as it rounds ``m`` (``P`` keeps ``|S|·|c − 1/N| < 2^-(R+1)``).

    Args:
        total: traced sums; count: the number of values in each.

    Returns:
        the means, shape of ``total``.
    """
    if count & (count - 1) == 0:
        return total * 2.0 ** -(count.bit_length() - 1)
    k, i, f = (np.max(part) for part in total.kif)
    coarse = max(int(f), POOL_FRACTIONAL_BITS)
    fine = coarse + math.ceil(math.log2(count)) + 1
    precision = fine + int(i) + 2  # |S| < 2^i
    # da4ml keeps at most 32 fractional bits of a constant factor: multiply by the
    # integer c·2^P, then shift
    scaled = total * float(round(2.0**precision / count)) * 2.0**-precision
    return scaled.quantize(k, i + 1, fine, "WRAP", "RND")
