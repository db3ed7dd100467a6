"""Fit and check smartml's distributed-arithmetic LUT predictor against da4ml and Yosys.

Builds a corpus of constant-matrix kernels, solves each with da4ml as hls4ml's DA
pass does (``hard_dc=2``, ``search_all_decompose_dc=True``; ``sol.cost`` is what
hls4ml records as ``da_kernel_cost``), fits the three coefficients of
:mod:`smartml.hardware.da_cost` (least squares on log(predicted / da4ml)) and prints
one JSON object: the fitted coefficients, the relative error of the predictor with
the fitted and with the committed coefficients (mean, 90th percentile, max) by kind
of kernel, the same for smartml's analytic Latency-strategy model (unvalidated), the
error on trained kernels of coefficients fitted on random kernels only, and Yosys
``synth_xilinx -flatten; stat`` LUTs of a few small kernels written by da4ml's
Verilog writer against da4ml's cost and the prediction.

Corpus (kernels of at most 64×64 weights, or 96×16: trained kernels larger than that
take minutes to solve):

- random: integer codes uniform or Gaussian at 4, 6 and 8 bits, 0%, 30% and 70% of
  them zero, shapes 4×8 … 64×64 (per-point 3×32, 32×64), input types drawn from
  4–16 bits signed and unsigned; a third with a random 8-bit bias;
- trained: the kernels of small QKeras MLPs (16→32→32→8, a per-point 3→32→64 and
  pixel_2t's dense stack 96→16→16→14) fitted for a few epochs to a random teacher,
  at 4, 6 and 8 weight bits;
- pruned: those trained kernels with 50% and 80% of their smallest weights zeroed.

    python benchmarks/cost_model.py [--seed 0] [--yosys 5] [--output corpus.json]

Wall time on the 2-core reference machine (shared with other jobs): 139 s (training
the MLPs 24 s, da4ml 64 s, Yosys 51 s).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

import smartml  # noqa: F401  (sets the Keras 2 API before TensorFlow loads)
from smartml.hardware import da_cost
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.resource_estimate import kernel_logic

RANDOM_SHAPES = [(4, 8), (8, 8), (16, 8), (3, 32), (16, 16), (32, 16), (16, 64), (32, 32)]
LARGE_SHAPES = [(64, 16), (64, 32), (32, 64), (64, 64)]  # slower to solve: fewer variants
INPUT_TYPES = [(1, 3, 4), (0, 0, 4), (1, 5, 10), (0, 2, 6), (1, 0, 3)]  # (signed, int, frac)
WEIGHT_BITS = (4, 6, 8)
# (shape, weight bits, input kif) synthesised by Yosys: small enough for seconds each
YOSYS_CASES = [
    ((8, 8), 8, (1, 3, 4)),
    ((16, 8), 6, (1, 3, 4)),
    ((16, 16), 8, (1, 3, 4)),
    ((32, 16), 4, (0, 2, 6)),
    ((16, 16), 4, (0, 0, 4)),
]
NAMES = ("SCALE", "PRODUCTS", "OFFSET")  # of da_cost.COEFFICIENTS
SOLVER = {"hard_dc": 2, "search_all_decompose_dc": True}  # as hls4ml's DA pass


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--yosys", type=int, default=5, help="small kernels to synthesise")
    parser.add_argument("--output", type=Path, default=None, help="also write the corpus here")
    return parser.parse_args()


def random_kernel(rng, shape, bits: int, zeros: float, gaussian: bool) -> np.ndarray:
    """Codes of ``bits``-bit weights (uniform, or Gaussian of σ a third of the range),
    a fraction ``zeros`` set to 0, as values ``code / 2^(bits−1)``."""
    top = 2 ** (bits - 1) - 1
    if gaussian:
        codes = np.clip(np.rint(rng.normal(0, top / 3, size=shape)), -top, top)
    else:
        codes = rng.integers(-top, top + 1, size=shape).astype(float)
    codes[rng.random(shape) < zeros] = 0
    return codes / 2 ** (bits - 1)


def random_corpus(rng) -> list[dict]:
    """The random kernels: every small shape × bits × sparsity × distribution, the large
    shapes at one distribution and two sparsities."""
    entries = []
    for shape in RANDOM_SHAPES + LARGE_SHAPES:
        large = shape in LARGE_SHAPES
        for bits in WEIGHT_BITS:
            for zeros in (0.3, 0.7) if large else (0.0, 0.3, 0.7):
                for gaussian in (True,) if large else (False, True):
                    kernel = random_kernel(rng, shape, bits, zeros, gaussian)
                    bias = rng.integers(-127, 128, shape[1]) / 128 if rng.random() < 1 / 3 else None
                    kif = INPUT_TYPES[rng.integers(len(INPUT_TYPES))]
                    entries.append(_entry("random", kernel, bias, kif, bits))
    return entries


def _entry(kind: str, kernel: np.ndarray, bias, kif, bits: int) -> dict:
    return {"kind": kind, "kernel": kernel, "bias": bias, "kif": kif, "bits": bits}


def trained_corpus(seed: int) -> list[dict]:
    """Kernels of small QKeras MLPs fitted to a random teacher, and their pruned copies."""
    entries = []
    for bits in WEIGHT_BITS:
        for widths in ((16, 32, 32, 8), (3, 32, 64), (96, 16, 16, 14)):
            kernels = train_mlp(widths, bits, seed)
            for index, kernel in enumerate(kernels):
                # the first layer reads quantized_bits(8, 3); the others quantized_relu(8, 2)
                kif = (1, 3, 4) if index == 0 else (0, 2, 6)
                entries.append(_entry("trained", kernel, None, kif, bits))
                for fraction in (0.5, 0.8):
                    cut = np.quantile(np.abs(kernel), fraction)
                    pruned = np.where(np.abs(kernel) <= cut, 0.0, kernel)
                    entries.append(_entry("pruned", pruned, None, kif, bits))
    return entries


def train_mlp(widths: tuple[int, ...], bits: int, seed: int) -> list[np.ndarray]:
    """The quantized kernels of an MLP ``widths`` (``bits``-bit weights, 8-bit ReLUs)
    after 8 epochs on 8192 examples of a random tanh teacher."""
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    from smartml.backend import keras, tf

    tf.random.set_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(8192, widths[0])).astype("float32")
    teacher = rng.normal(0, 1 / np.sqrt(widths[0]), size=(widths[0], widths[-1]))
    y = np.tanh(x @ teacher + 0.5 * np.sin(3 * x[:, :1])).astype("float32")
    inputs = keras.Input((widths[0],))
    h = QActivation(quantized_bits(8, 3, alpha=1))(inputs)
    layers = []
    for index, width in enumerate(widths[1:]):
        layer = QDense(width, kernel_quantizer=quantized_bits(bits, 0, alpha=1))
        layers.append(layer)
        h = layer(h)
        if index < len(widths) - 2:
            h = QActivation(quantized_relu(8, 2))(h)
    model = keras.Model(inputs, h)
    model.compile(keras.optimizers.Adam(0.005), "mse")
    model.fit(x, y, epochs=8, batch_size=128, verbose=0)
    return [np.asarray(layer.kernel_quantizer_internal(layer.kernel)) for layer in layers]


def solve(entry: dict):
    """da4ml's solution of the entry's kernel (and bias) on its input type."""
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    n_in = entry["kernel"].shape[0]
    k, i, f = (np.full(n_in, value) for value in entry["kif"])
    inputs = FixedVariableArray.from_kif(k, i, f, HWConfig(1, -1, -1), solver_options=SOLVER)
    outputs = inputs @ entry["kernel"]
    if entry["bias"] is not None:
        outputs = outputs + entry["bias"]
    return comb_trace(inputs, outputs)


def analytic_luts(entry: dict) -> float:
    """smartml's Latency-strategy analytic LUTs (unvalidated) of the entry's kernel."""
    bits = entry["bits"]
    weight_type = FixedType(bits, 1)  # codes / 2^(bits−1)
    width = sum(entry["kif"])
    # exact accumulator: input range times the largest column sum, as the handlers size it
    column = float(np.abs(entry["kernel"]).sum(axis=0).max()) + 1.0
    accum = width + bits + max(int(np.ceil(np.log2(column))), 0)
    multipliers, tree, _ = kernel_logic(entry["kernel"], weight_type, width, accum)
    return float(multipliers + tree)


def errors(predicted: np.ndarray, actual: np.ndarray) -> dict:
    """Mean, 90th percentile and max of |predicted − actual| / actual, and the mean ratio."""
    relative = np.abs(predicted - actual) / actual
    return {
        "n": int(actual.size),
        "mean": round(float(relative.mean()), 4),
        "p90": round(float(np.quantile(relative, 0.9)), 4),
        "max": round(float(relative.max()), 4),
        "mean_ratio": round(float((predicted / actual).mean()), 3),
    }


def fit(feature_rows: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """The coefficients minimising Σ log(predicted / da4ml)² (relative errors either way),
    from the committed ones."""

    def residuals(coefficients):
        predicted = da_cost.predict(*feature_rows.T, coefficients=coefficients)
        return np.log(np.maximum(predicted, 1e-6)) - np.log(costs)

    start = np.array(da_cost.COEFFICIENTS)
    return least_squares(residuals, start).x


def table(features_of, costs, kinds, coefficients) -> dict:
    """:func:`errors` of the prediction with ``coefficients``, overall and by kind."""
    predicted = da_cost.predict(*features_of.T, coefficients=coefficients)
    rows = {"all": errors(predicted, costs)}
    for kind in sorted(set(kinds)):
        chosen = kinds == kind
        rows[kind] = errors(predicted[chosen], costs[chosen])
    return rows


def yosys_luts(solution, name: str) -> int | None:
    """LUT1–LUT6 of ``synth_xilinx -flatten`` on da4ml's Verilog of ``solution``."""
    from da4ml.codegen.rtl import VerilogModel

    if shutil.which("yosys") is None:
        return None
    with tempfile.TemporaryDirectory() as directory:
        VerilogModel(solution, name, directory).write()
        source = Path(directory, "src")
        # lookup_table.v is for designs with tables (none here)
        static = (source / "static").glob("*.v")
        files = [str(source / f"{name}.v"), *(str(p) for p in static if p.name != "lookup_table.v")]
        script = f"read_verilog {' '.join(files)}; synth_xilinx -flatten -top {name}; stat"
        log = subprocess.run(
            ["yosys", "-p", script], capture_output=True, text=True, check=True
        ).stdout
    # stat prints the cell counts twice (module and design); the last block is the design
    counts: dict[str, int] = {}
    for line in log.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("LUT") and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return sum(counts.values())


def main() -> None:
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    corpus = random_corpus(rng) + trained_corpus(args.seed)
    trained_s = time.perf_counter() - started
    costs, solve_s = [], 0.0
    for entry in corpus:
        tick = time.perf_counter()
        costs.append(float(solve(entry).cost))
        solve_s += time.perf_counter() - tick
    costs_a = np.array(costs)
    kinds = np.array([entry["kind"] for entry in corpus])
    feature_rows = np.array(
        [da_cost.features(e["kernel"], sum(e["kif"]), e["bias"]) for e in corpus]
    )
    fitted = fit(feature_rows, costs_a)
    random_only = fit(feature_rows[kinds == "random"], costs_a[kinds == "random"])
    learned = kinds != "random"
    analytic = np.array([analytic_luts(e) for e in corpus])
    tick = time.perf_counter()
    yosys = yosys_rows(rng, args.yosys)
    report = {
        "kernels": len(corpus),
        "fitted": dict(zip(NAMES, fitted.round(4), strict=True)),
        "error_fitted": table(feature_rows, costs_a, kinds, fitted),
        "error_committed": table(feature_rows, costs_a, kinds, da_cost.COEFFICIENTS),
        "error_trained_fit_on_random_only": errors(
            da_cost.predict(*feature_rows[learned].T, coefficients=random_only), costs_a[learned]
        ),
        "analytic_latency_model_unvalidated": errors(analytic, costs_a),
        "yosys": yosys,
        "wall_s": {
            "training": round(trained_s, 1),
            "da4ml": round(solve_s, 1),
            "yosys": round(time.perf_counter() - tick, 1),
            "total": round(time.perf_counter() - started, 1),
        },
    }
    print(json.dumps(report, indent=1, default=float))
    if args.output:
        rows = [_jsonable(e, c) for e, c in zip(corpus, costs, strict=True)]
        args.output.write_text(json.dumps(rows))


def yosys_rows(rng, count: int) -> list[dict]:
    """Yosys LUTs, da4ml cost and prediction of the first ``count`` of
    :data:`YOSYS_CASES` (random kernels, 30% zeros)."""
    rows = []
    for shape, bits, kif in YOSYS_CASES[:count]:
        entry = _entry("random", random_kernel(rng, shape, bits, 0.3, False), None, kif, bits)
        solution = solve(entry)
        luts = yosys_luts(solution, f"kernel{len(rows)}")
        predicted = da_cost.da_luts(entry["kernel"], sum(kif))
        rows.append(
            {
                "shape": list(shape),
                "weight_bits": bits,
                "input_kif": list(kif),
                "yosys_luts": luts,
                "da4ml_cost": float(solution.cost),
                "predicted": round(predicted, 1),
                "predicted_vs_yosys": None if not luts else round(predicted / luts - 1, 4),
                "da4ml_vs_yosys": None if not luts else round(float(solution.cost) / luts - 1, 4),
            }
        )
    return rows


def _jsonable(entry: dict, cost: float) -> dict:
    bias = entry["bias"]
    return {
        "kind": entry["kind"],
        "kernel": entry["kernel"].tolist(),
        "bias": None if bias is None else bias.tolist(),
        "kif": list(entry["kif"]),
        "bits": entry["bits"],
        "da4ml_cost": cost,
    }


if __name__ == "__main__":
    main()
