"""``python -m smartml.export [RUN_DIR] --hls``: firmware for a trained run, verified.

Without RUN_DIR the most recently completed run under ``runs/`` is exported. Settings
come from the run's ``export`` block (see :mod:`smartml.config.export`), overridden by
the options given here. It prints a short summary (``--json``: the machine form).
Exit status: 0 when the C simulation agrees with QKeras on at least ``--threshold`` of
the test outputs, 1 when it does not (the project and its report.json are written all
the same), 2 for an error (one line), 3 for a bug in smartml.
"""

import argparse
import json
import logging
import sys
import typing
from pathlib import Path

from smartml.cli import (
    CommandLineParser,
    OptionValue,
    exit_with,
    given_options,
    require_writable_directory,
    run_cli,
)
from smartml.errors import ConfigError

log = logging.getLogger("smartml.export")

OPTION_KEYS = {
    "backend": "export.backend",
    "part": "export.part",
    "clock_period": "export.clock_period_ns",
    "io_type": "export.io_type",
    "strategy": "export.strategy",
    "reuse_factor": "export.reuse_factor",
    "output": "export.output_dir",
    "input_precision": "export.input_precision",
    "threshold": "export.agreement_threshold",
    "verify_examples": "export.verify_examples",
    "stage_levels": "export.rtl_stage_levels",
}


def _choices(key: str) -> tuple[str, ...]:
    """The values the ``export`` section allows for ``key`` (its Literal type)."""
    from smartml.config.export import ExportConfig

    return typing.get_args(ExportConfig.model_fields[key].annotation)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = CommandLineParser(
        prog="python -m smartml.export",
        description="Write an hls4ml project for a trained run under firmware/<run name>/, "
        "compile its C++ emulation and verify it bit for bit against the QKeras model on "
        "the run's test set (report.json).",
    )
    parser.add_argument(
        "run_dir", nargs="?", type=Path, help="run directory (default: latest complete run)"
    )
    parser.add_argument("--hls", action="store_true", help="export an hls4ml project")
    parser.add_argument("--backend", choices=_choices("backend"), help="default Vitis")
    parser.add_argument("--part", help="FPGA part, or for Catapult an ASIC library")
    parser.add_argument("--clock-period", type=float, metavar="NS", help="default 25 (40 MHz)")
    parser.add_argument("--io-type", choices=_choices("io_type"), help="default io_parallel")
    parser.add_argument(
        "--strategy",
        choices=_choices("strategy"),
        help="default Latency; distributed_arithmetic builds kernels as da4ml adder graphs "
        "(Vitis/Vivado, io_parallel, reuse factor 1)",
    )
    parser.add_argument("--reuse-factor", type=int, metavar="N", help="default 1")
    parser.add_argument("--output", metavar="DIR", help="projects go to DIR/<run name>")
    parser.add_argument("--input-precision", metavar="TYPE", help="e.g. fixed<16,8>")
    parser.add_argument(
        "--threshold", type=float, help="minimum bit-identical fraction (default 0.999)"
    )
    parser.add_argument(
        "--verify-examples", type=int, metavar="N", help="test examples to simulate (default all)"
    )
    parser.add_argument(
        "--verify-clusters", type=int, metavar="N", help="deprecated name of --verify-examples"
    )
    parser.add_argument(
        "--rtl",
        action="store_true",
        help="also write the model as Verilog (da4ml) under rtl/ and simulate the test inputs "
        "with iverilog against QKeras (implies --hls)",
    )
    parser.add_argument(
        "--synth",
        action="store_true",
        help="also synthesize that Verilog with Yosys synth_xilinx: LUT/CARRY4/FF counts, no "
        "place and route (implies --rtl)",
    )
    parser.add_argument(
        "--stage-levels",
        type=int,
        metavar="N",
        help="pipeline the Verilog: at most N adder levels between registers, a new input "
        "every clock (default: combinational)",
    )
    parser.add_argument("--build", action="store_true", help="run vendor synthesis if installed")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def overrides_from(args: argparse.Namespace) -> dict:
    """Dotted ``export.*`` keys of the options that were given, with the options (a
    bad value is reported under its option).

    ``--verify-clusters`` (deprecated) sets ``export.verify_examples`` with a warning
    line; either option also replaces a run configuration's deprecated
    ``export.verify_clusters``.

    >>> args = parse_args(["--hls", "--backend", "Catapult", "--reuse-factor", "2"])
    >>> {key: value.label() for key, value in overrides_from(args).items()}
    {'export.backend': '--backend Catapult', 'export.reuse_factor': '--reuse-factor 2'}
    """
    overrides: dict = given_options(args, OPTION_KEYS)
    if args.verify_clusters is not None:
        if args.verify_examples is not None:
            raise ConfigError(
                "--verify-clusters and --verify-examples are one option; give "
                "--verify-examples only (--verify-clusters is its deprecated name)"
            )
        log.warning("--verify-clusters is deprecated; it is now --verify-examples")
        overrides["export.verify_examples"] = OptionValue("--verify-clusters", args.verify_clusters)
    if "export.verify_examples" in overrides:
        # The option wins over the run's file, under either of the key's names.
        overrides["export.verify_clusters"] = None
    return overrides


def main(argv: list[str] | None = None) -> int:
    """Export and verify; returns the exit status (1 when the firmware disagrees with
    QKeras, 2 with a one-line error, 3 for a bug; see :mod:`smartml.cli`)."""
    args = parse_args(argv)

    def run() -> int:
        from smartml.config import load_config
        from smartml.errors import SmartmlError
        from smartml.export.exporter import export_run
        from smartml.runs.directory import RunDirectory

        if not (args.hls or args.rtl or args.synth):
            raise SmartmlError(
                "choose what to export: --hls (an hls4ml project) or --rtl (that and Verilog "
                "checked by iverilog)"
            )
        if args.run_dir is None:
            run_dir = RunDirectory.latest_complete(args.runs)
        else:
            run_dir = RunDirectory(args.run_dir).require_complete()
        config = load_config(run_dir.config, overrides_from(args))
        # The destination's error names where it was chosen: the option or the file's key.
        destination_chosen_by = "--output" if args.output is not None else "export.output_dir"
        require_writable_directory(config.export.output_dir, destination_chosen_by)
        report = export_run(
            run_dir, config, build=args.build, rtl=args.rtl or args.synth, synth=args.synth
        )
        summary = export_summary(report, Path(config.export.output_dir) / config.name)
        print(json.dumps(summary, indent=2) if args.json else summary_text(summary))
        failed = [
            (what, report[key])
            for what, key in (("C simulation", "verification"), ("RTL simulation", "rtl"))
            if key in report and not report[key]["passed"]
        ]
        for what, check in failed:
            print(
                f"smartml.export: the {what} agrees with QKeras on "
                f"{100 * check['bit_identical_fraction']:.3f}% of the outputs, below "
                f"the threshold of {100 * check['threshold']:.3f}%; see report.json",
                file=sys.stderr,
            )
        return 1 if failed else 0

    return run_cli(run, "smartml.export", args.verbose)


def export_summary(report: dict, project: Path) -> dict:
    """The few entries of report.json a person (or a script, ``--json``) looks at first.

    Args:
        report: the export's report; project: the folder it was written to.
    """
    verification = report["verification"]
    summary = {
        "project": str(project),
        "bit_identical_fraction": verification["bit_identical_fraction"],
        "max_difference_lsb": verification["max_difference_lsb"],
        "examples": verification["examples"],
        "passed": verification["passed"],
    }
    if "rtl" in report:
        rtl = report["rtl"]
        synthesis = rtl.get("synthesis") or {}
        summary["rtl"] = {
            "bit_identical_fraction": rtl["bit_identical_fraction"],
            "max_difference_lsb": rtl["max_difference_lsb"],
            "simulator": rtl["simulator"],
            "da4ml_cost_luts": rtl["da4ml_cost_luts"],
            "yosys_luts": synthesis.get("luts"),
            "yosys_ffs": synthesis.get("ffs"),
            "pipeline": rtl.get("pipeline"),
            "passed": rtl["passed"],
        }
        summary["passed"] = summary["passed"] and rtl["passed"]
    return summary


def summary_text(summary: dict) -> str:
    """:func:`export_summary` for a person.

    >>> print(summary_text({"project": "firmware/pixel_2t", "bit_identical_fraction": 1.0,
    ...                     "max_difference_lsb": 0.0, "examples": 30000, "passed": True}))
    project:       firmware/pixel_2t (report.json)
    bit-identical: 100.000% of the outputs of 30000 test examples (largest difference 0 LSB)
    passed:        yes
    """
    lines = [
        f"project:       {summary['project']} (report.json)",
        f"bit-identical: {100 * summary['bit_identical_fraction']:.3f}% of the outputs of "
        f"{summary['examples']} test examples "
        f"(largest difference {summary['max_difference_lsb']:g} LSB)",
    ]
    rtl = summary.get("rtl")
    if rtl is not None:
        lines.append(
            f"RTL:           {100 * rtl['bit_identical_fraction']:.3f}% bit-identical "
            f"in {rtl['simulator']} (largest difference {rtl['max_difference_lsb']:g} LSB), "
            f"da4ml cost {rtl['da4ml_cost_luts']:.0f} LUTs"
            + (
                f", Yosys {rtl['yosys_luts']} LUTs {rtl['yosys_ffs']} FFs"
                if rtl["yosys_luts"] is not None
                else ""
            )
        )
        pipeline = rtl.get("pipeline")
        if pipeline:
            lines.append(
                f"pipeline:      a new input every {pipeline['initiation_interval_ns']:g} ns, "
                f"latency {pipeline['latency_cycles']} clocks = {pipeline['latency_ns']:g} ns "
                f"({pipeline['stages']} stages of at most "
                f"{pipeline['adder_levels_per_stage']} adder levels)"
            )
    lines.append(f"passed:        {'yes' if summary['passed'] else 'no'}")
    return "\n".join(lines)


if __name__ == "__main__":
    exit_with(main(), "smartml.export")
