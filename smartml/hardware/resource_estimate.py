"""Resources and latency of an hls4ml ``io_parallel`` design, estimated without vendor
tools (smartml's analytic model of the ``Latency`` strategy; ``--build`` replaces it
with synthesis numbers).

**Unvalidated.** Its LUTs are 2.4× (mean; up to 8×) da4ml's cost of the same kernels in
distributed arithmetic, which Yosys ``synth_xilinx`` confirms within 2–7%
(``python benchmarks/cost_model.py``: ``analytic_latency_model_unvalidated``): it
shares no subexpressions and sizes every adder at the accumulator's width. No
Latency-strategy synthesis has checked it. For a LUT figure that has been checked use
:mod:`smartml.hardware.da_cost` (reports, MDMM ``luts``, the ``hardware.luts``
objective).

Model
    * A product with a constant weight is built from shifts and adders: a weight whose
      integer code has ``d`` non-zero digits in canonical signed-digit (CSD) form costs
      ``d − 1`` adders (a zero weight nothing, a power of two only wiring).
    * Each output sums its non-zero products (and bias) in an adder tree:
      ``terms − 1`` adders of the accumulator width.
    * Adders cost one LUT per bit (Xilinx carry chains); products of operands this
      narrow go to LUTs, not DSPs, so ``dsps`` is 0.
    * Activations and casts cost two LUTs per output bit (compare and select).
    * ``reuse_factor`` R shares multipliers and adders R ways (logic ÷ R).
    * Latency: convolutions in ``io_parallel`` with hls4ml's default
      ``ParallelizationFactor`` 1 compute one output position per ``R`` cycles;
      dense layers, activations and pooling one pass. Each layer adds its adder-tree
      depth at :data:`ADDER_NS` per level, at least one cycle.

Limits
    No flip-flops, BRAM, routing or control logic; no retiming by the tool. Expect
    deviations of tens of percent from synthesis, more for ``io_stream`` and the
    ``Resource`` strategy (estimated as ``io_parallel``/``Latency``).
"""

import math

import numpy as np

from smartml.hardware.fixed_point import FixedType

ADDER_NS = 1.5  # one adder level of ~20 bits on a recent FPGA/ASIC node
TOOL = (
    "smartml analytic estimate, unvalidated (CSD constant multipliers + adder trees, "
    "no vendor tool)"
)
LIMITS = (
    "unvalidated: 2.4x (mean) the LUTs da4ml and Yosys give the same kernels in distributed "
    "arithmetic (benchmarks/cost_model.py); "
    "LUTs of adders and activations only (1 LUT per adder bit, 2 per activation output bit); "
    "no flip-flops, BRAM, routing or control; DSPs assumed 0 for these narrow products; "
    "io_stream and Resource strategy estimated as io_parallel/Latency; expect tens of "
    "percent from synthesis (use --build)"
)


def csd_digits(code: int) -> int:
    """Non-zero digits of an integer in canonical signed-digit form.

    >>> [csd_digits(c) for c in (0, 1, 3, 7, -5, 0b1011)]
    [0, 1, 2, 2, 2, 3]
    """
    code, digits = abs(int(code)), 0
    while code:
        if code & 1:
            digits += 1
            code = code + 1 if code & 3 == 3 else code - 1  # 11 -> 100-1, 01 -> 1
        code >>= 1
    return digits


def kernel_logic(kernel: np.ndarray, weight_type: FixedType, input_width: int, accum_width: int):
    """(adders of the constant multiplications, adders of the output sums, tree depth)
    of one kernel ``(..., fan_in, n_out)`` applied at one position."""
    codes = (
        np.rint(np.asarray(kernel) / weight_type.lsb).astype(np.int64).reshape(-1, kernel.shape[-1])
    )
    multiplier_adders = sum(max(csd_digits(int(c)) - 1, 0) for c in codes.ravel())
    nonzero_per_output = np.count_nonzero(codes, axis=0)
    tree_adders = int(np.maximum(nonzero_per_output, 1).sum() - len(nonzero_per_output))
    multiplier_luts = multiplier_adders * (input_width + weight_type.width)
    depth = math.ceil(math.log2(max(int(nonzero_per_output.max(initial=1)), 1) + 1))
    return multiplier_luts, tree_adders * accum_width, depth


def latency_cycles(positions: int, depth_levels: int, reuse_factor: int, clock_ns: float) -> int:
    """Cycles of one layer: ``positions`` passes of ``reuse_factor`` cycles, plus the
    pipeline depth of ``depth_levels`` adder levels.

    >>> latency_cycles(1, 7, 1, 25.0), latency_cycles(209, 3, 1, 5.0)
    (1, 209)
    """
    levels_per_cycle = max(1, int(clock_ns // ADDER_NS))
    return (positions - 1) * reuse_factor + max(1, math.ceil(depth_levels / levels_per_cycle))
