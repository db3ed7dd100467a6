"""Firmware figures of complete runs, per export strategy: bit-identical fractions (C
simulation, and Verilog simulation with ``--rtl``), hardware cost from every source
smartml has (analytic estimate, hls4ml's DA pass, da4ml's cost of the whole traced
design, Yosys) and wall times.

Each run is exported with hls4ml's ``Latency`` strategy and with
``distributed_arithmetic``; ``--rtl`` adds the Verilog project (and ``--synth`` Yosys)
to the DA export. Prints one JSON object per run and strategy, one per line:

    python benchmarks/export_strategies.py runs/ntuple_dy_ttbar runs/rich_pointnet
        [--rtl] [--synth] [--verify-clusters N] [--strategies Latency distributed_arithmetic]
"""

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import smartml  # noqa: F401  (binds tf.keras to tf_keras before anything imports TensorFlow)
from smartml.export.__main__ import main as export_main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", type=Path, nargs="+", help="complete run directories")
    parser.add_argument("--rtl", action="store_true", help="Verilog simulation with the DA export")
    parser.add_argument("--synth", action="store_true", help="and Yosys synthesis (implies --rtl)")
    parser.add_argument("--verify-clusters", type=int, default=None, help="default: all")
    parser.add_argument(
        "--strategies", nargs="+", default=["Latency", "distributed_arithmetic"], metavar="S"
    )
    return parser.parse_args()


def measure(run_dir: Path, strategy: str, args: argparse.Namespace, output: Path) -> dict:
    """Export ``run_dir`` with ``strategy`` into ``output``; the figures of its report."""
    arguments = [str(run_dir), "--hls", "--strategy", strategy, "--output", str(output)]
    if args.verify_clusters:
        arguments += ["--verify-clusters", str(args.verify_clusters)]
    if strategy == "distributed_arithmetic" and (args.rtl or args.synth):
        arguments += ["--synth"] if args.synth else ["--rtl"]
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # the export's own summary
        status = export_main(arguments)
    wall = time.perf_counter() - started
    (project,) = [p for p in output.iterdir() if p.is_dir()]
    report = json.loads((project / "report.json").read_text())
    row = {
        "run": str(run_dir),
        "strategy": strategy,
        "exit_status": status,
        "examples": report["verification"]["clusters"],
        "csim_bit_identical_fraction": report["verification"]["bit_identical_fraction"],
        "analytic_estimate_luts": report["totals"]["luts"],
        "analytic_estimate_latency_cycles": report["totals"]["latency_cycles"],
        "wall_seconds": round(wall, 1),
        "timing_seconds": report["timing_seconds"],
    }
    if "distributed_arithmetic" in report:
        row["hls4ml_da_kernel_luts"] = report["distributed_arithmetic"]["luts"]
        row["hls4ml_da_adder_depth"] = report["distributed_arithmetic"]["adder_depth"]
    if "rtl" in report:
        rtl = report["rtl"]
        synthesis = rtl.get("synthesis") or {}
        row.update(
            rtl_bit_identical_fraction=rtl["bit_identical_fraction"],
            rtl_examples=rtl["examples"],
            da4ml_design_luts=rtl["da4ml_cost_luts"],
            da4ml_design_adder_depth=rtl["da4ml_latency"],
            rtl_timing_seconds=rtl["timing_seconds"],
            yosys={key: synthesis.get(key) for key in ("luts", "carry4", "ffs", "seconds")},
        )
    return row


def main() -> None:
    args = parse_args()
    for run_dir in args.run_dirs:
        for strategy in args.strategies:
            with tempfile.TemporaryDirectory() as output:
                print(json.dumps(measure(run_dir, strategy, args, Path(output))), flush=True)


if __name__ == "__main__":
    main()
