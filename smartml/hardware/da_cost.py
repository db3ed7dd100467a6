"""LUTs of a distributed-arithmetic (DA) constant-matrix kernel, predicted without
solving it.

hls4ml's ``distributed_arithmetic`` strategy hands each kernel (``y = x·K + b``, ``K``
constant) to da4ml, which decomposes the products into shifts and adders and shares
common subexpressions between the outputs; ``sol.cost`` of that solution is the
design's LUT count (within 2–5% of Yosys ``synth_xilinx`` on mid-size kernels). Solving
takes seconds to minutes per kernel, far too slow for every training step, so this
module predicts it from a few numbers of the kernel, as a shift-and-add design that
builds every distinct multiple of an input once (multiple constant multiplication)
and then sums each output's products:

    c_ij  weight ij as an integer code: the kernel divided by the largest power of two
          dividing every weight; d(c) its non-zero digits in canonical signed-digit form
    S   = Σ_j max(nnz_j + [b_j ≠ 0] − 1, 0)         adders summing the products (and
          bias) of each output j, ``nnz_j`` its non-zero weights
    P   = Σ_i Σ_{v ∈ odd parts of |c_i·|} (d(v) − 1)  adders building each distinct
          odd multiple of input i once (a power-of-two factor is wiring, a sign is
          folded into the sum)
    b   = mean input width in bits

    LUTs = SCALE · (S + PRODUCTS·P) · (b + OFFSET)

``b + OFFSET`` is the width of an adder (the growth of the sums and the spread of the
shifts add about ``OFFSET`` bits; a term in ``log2 max|c|`` fitted to −0.02 and was
dropped); ``SCALE`` < 1 is what da4ml's sharing of sums between outputs saves beyond
the shared products. The coefficients are fitted to da4ml 0.6.0's cost
(``hard_dc=2``, ``search_all_decompose_dc=True``, as hls4ml's DA pass asks) on random,
trained and pruned kernels of 3×32 to 64×64 and 96×16 with 4–8-bit weights and 4–16-bit
inputs: see :data:`SCALE` for the command and its errors.

Limits: a single kernel can be off by tens of percent (the largest errors are on
kernels of under 100 LUTs); trained dense kernels come out high on average (+8% in
the corpus, +15–21% on the dense layers of a pixel_2t run), pruned ones low (−6%).
Only the kernels: activations, casts and registers are not counted.

A depthwise kernel ``(kh, kw, C, d)`` is ``C`` independent blocks ``(kh·kw, d)``
(each channel has inputs of its own); every other kernel is one block
``(Π shape[:-1], shape[-1])`` (:func:`kernel_blocks`). A convolution in
``io_parallel`` with parallelization factor 1 instantiates its kernel once, so a
layer's LUTs do not scale with its output positions.

>>> round(da_luts(np.array([[0.5, 0.25], [0.75, -0.5]]), input_width=8))
23
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Fitted by `python benchmarks/cost_model.py` (its "fitted"): 240 kernels of at most
# 64×64 or 96×16 weights. Relative error against da4ml: mean 8.4%, 90th percentile 18%,
# max 60% (random 8.3%, trained 10%, pruned 7.6%); against Yosys on five kernels −3% to +5%.
# LUTs = SCALE·(S + PRODUCTS·P)·(b + OFFSET).
SCALE = 0.7093
PRODUCTS = 1.03
OFFSET = 2.9154
COEFFICIENTS = (SCALE, PRODUCTS, OFFSET)

# Weights are read as integers at this scale first (exact for any quantized weight
# with an LSB of at least 2^-32 and |w| < 2^31), then the common power of two goes.
_CODE_SCALE = 2.0**32
TOOL = "da4ml distributed-arithmetic LUT predictor (smartml.hardware.da_cost, fitted to da4ml)"


def integer_codes(kernel: np.ndarray) -> np.ndarray:
    """The kernel as integers divided by the largest power of two dividing them all.

    Raises:
        ValueError: a weight is not a multiple of 2^-32 (not a quantized kernel).

    >>> integer_codes(np.array([0.5, -0.25, 0.0])).tolist()
    [2, -1, 0]
    """
    scaled = np.asarray(kernel, dtype=np.float64) * _CODE_SCALE
    codes = np.rint(scaled).astype(np.int64)
    if not np.array_equal(codes, scaled):
        raise ValueError("the kernel is not quantized to a power-of-two step (≥ 2^-32)")
    nonzero = np.abs(codes[codes != 0])
    if nonzero.size == 0:
        return codes
    lowest_bit = np.bitwise_and(nonzero, -nonzero)  # 2^(trailing zeros) of each code
    return codes // int(lowest_bit.min())


def fixed_point(kernel: np.ndarray, bits: int) -> np.ndarray:
    """``kernel`` rounded to a signed ``bits``-bit grid covering its largest magnitude:
    the constants a firmware would hold for weights that no quantizer put on a
    power-of-two grid (an unquantized layer, a quantizer with a learned scale).

    >>> fixed_point(np.array([0.3, -0.01, 0.0]), 4).tolist()
    [0.3125, -0.0, 0.0]
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    largest = float(np.abs(kernel).max(initial=0.0))
    if largest == 0.0:
        return kernel
    lsb = 2.0 ** (math.floor(math.log2(largest)) + 2 - bits)  # sign + bits − 1 magnitude bits
    return np.rint(kernel / lsb) * lsb


def csd_digits(codes: np.ndarray) -> np.ndarray:
    """Non-zero digits of each integer in canonical signed-digit (non-adjacent) form:
    the set bits of ``(n + n//2) XOR n//2``, ``n = |code|``.

    >>> csd_digits(np.array([0, 1, 3, 7, -5, 0b1011])).tolist()
    [0, 1, 2, 2, 2, 3]
    """
    n = np.abs(np.asarray(codes, dtype=np.int64))
    half = n >> 1
    marks = (n + half) ^ half
    return np.bitwise_count(marks).astype(np.int64)


def kernel_blocks(kernel: np.ndarray, role: str = "kernel") -> np.ndarray:
    """Independent ``(n_in, n_out)`` blocks of a kernel, stacked: ``(blocks, n_in, n_out)``.

    Args:
        kernel: the quantized kernel as Keras stores it.
        role: ``depthwise`` (``(kh, kw, C, d)``: one block per input channel) or any
            other role (one block, all axes but the last flattened into the inputs).
    """
    kernel = np.asarray(kernel)
    if role == "depthwise":
        return np.moveaxis(kernel, 2, 0).reshape(kernel.shape[2], -1, kernel.shape[3])
    return kernel.reshape(1, -1, kernel.shape[-1])


def features(
    kernel: np.ndarray, input_width: float | Sequence[float], bias: np.ndarray | None = None
) -> tuple[float, float, float]:
    """(S, P, b) of one ``(n_in, n_out)`` block (see the module docstring).

    Args:
        kernel: quantized weights ``(n_in, n_out)``.
        input_width: bits of the inputs, one number or one per input (their mean is used).
        bias: quantized biases ``(n_out,)``, None for none.
    """
    codes = integer_codes(kernel)
    nonzero = codes != 0
    terms = nonzero.sum(axis=0) + (0 if bias is None else (np.asarray(bias) != 0))
    sums = float(np.maximum(terms - 1, 0).sum())
    magnitudes = np.abs(codes)
    odd = magnitudes // np.where(nonzero, magnitudes & -magnitudes, 1)
    products = sum(int((csd_digits(np.unique(row[row > 0])) - 1).sum()) for row in odd)
    return sums, float(products), float(np.mean(input_width))


def predict(sums, products, width, coefficients=COEFFICIENTS):
    """LUTs of one block from its :func:`features` (numbers or arrays; ``coefficients``
    for fitting)."""
    scale, per_product, offset = coefficients
    return scale * (sums + per_product * products) * (width + offset)


def da_luts(
    kernel: np.ndarray,
    input_width: float | Sequence[float],
    bias: np.ndarray | None = None,
    role: str = "kernel",
) -> float:
    """Predicted da4ml LUTs of one kernel, ``x·K + b`` (a float; round it for tables).

    Args:
        kernel: the *quantized* kernel in Keras' layout (``(n_in, n_out)`` dense,
            ``(kh, kw, C_in, C_out)`` convolution, ``(kh, kw, C, d)`` depthwise).
        input_width: bits of the kernel's input (``k + i + f``; one number, or one per
            input of a block).
        bias: the quantized bias (``(n_out,)``), None without one; a depthwise kernel
            takes none.
        role: ``depthwise`` for a depthwise kernel, else anything.
    """
    blocks = kernel_blocks(kernel, role)
    if bias is not None and blocks.shape[0] != 1:
        raise ValueError("a bias belongs to a single-block kernel")
    return float(sum(predict(*features(block, input_width, bias)) for block in blocks))
