"""``python -m smartml.evaluate RUN_DIR [RUN_DIR ...]``: judge trained models.

With one run: evaluate its model on its test split, writing metrics.json and plots/
in the run directory (training calls the same code at its end), and print the task's
summary metrics (the whole metrics.json with ``--json``). With several:
compare them through their task's declared summary metrics (table printed and
written as comparison.md, plot comparison.png, under ``--output``); runs of
different tasks are refused.
"""

from __future__ import annotations

import json
from pathlib import Path

from smartml.cli import CommandLineParser, exit_with, require_writable_directory, run_cli


def main(argv: list[str] | None = None) -> int:
    """Evaluate one run or compare several; returns the exit status (2 with a one-line
    error, 3 for a bug; see :mod:`smartml.cli`)."""
    parser = CommandLineParser(
        prog="python -m smartml.evaluate",
        description="Evaluate a complete run on its test split: metrics.json and plots/.",
    )
    parser.add_argument(
        "run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="run directories of smartml.train"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("runs/comparison"),
        help="where a comparison of several runs is written (default runs/comparison)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the whole metrics.json of one run"
    )
    args = parser.parse_args(argv)
    if len(args.run_dirs) > 1:
        return run_cli(
            lambda: compare(args.run_dirs, args.output), "smartml.evaluate", args.verbose
        )

    def run() -> None:
        from smartml.evaluation.run import (
            evaluate_run,
            run_summary,
            write_metrics,
            write_model_card,
        )
        from smartml.runs.opening import open_verified_run

        run_dir, task, model = open_verified_run(args.run_dirs[0])
        metrics = evaluate_run(run_dir, task, model)
        write_metrics(run_dir, metrics)
        write_model_card(run_dir, task)
        print(json.dumps(metrics, indent=2) if args.json else run_summary(run_dir.path))

    return run_cli(run, "smartml.evaluate", args.verbose)


def compare(run_dirs: list[Path], output: Path) -> None:
    """Compare complete runs of one task through its summary metrics."""
    from smartml.evaluation.run_comparison import compare_runs, shared_summary_metrics

    summary = shared_summary_metrics(run_dirs)
    require_writable_directory(output, "--output")
    compare_runs(run_dirs, output, summary)


if __name__ == "__main__":
    exit_with(main(), "smartml.evaluate")
