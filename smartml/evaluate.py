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
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from smartml.cli import CommandLineParser, require_writable_directory, run_cli
from smartml.errors import SmartmlError

if TYPE_CHECKING:
    from smartml.backend import keras
    from smartml.tasks.base import Task
    from smartml.training.run_directory import RunDirectory


def evaluate_run(run_dir: RunDirectory, task: Task, model: keras.Model) -> dict:
    """Evaluate ``model`` with ``task``: the metrics (with the hardware cost of an
    exportable model); figures and the history plot (titled with the run name, the
    epoch of model.h5's weights marked) go to the run's plots/."""
    from smartml.evaluation.figures import save_figures
    from smartml.evaluation.history_plots import plot_history
    from smartml.evaluation.pid_efficiency import write_predictions
    from smartml.hardware.cost import hardware_report
    from smartml.models.exportability import is_exportable
    from smartml.training.callbacks import checkpoint_monitor

    plots = task.config.output.plots
    metrics, figures, tables = task.evaluate(model, figures=plots)
    for name, table in tables.items():
        if name not in task.products:  # undeclared: a fresh run would not remove it
            raise ValueError(f"{type(task).__name__}: table {name!r} is not among its products")
        write_predictions(table, run_dir.path / name)
    if is_exportable(task.config.model):
        metrics["hardware"] = hardware_report(model)
    if plots:
        save_figures(figures, run_dir.plots)
        if run_dir.history.is_file():
            # The checkpoint's monitor: the marked epoch is the one model.h5 holds.
            monitor = checkpoint_monitor(task.config.training)
            plot_history(run_dir.history, run_dir.plots, task.config.name, monitor)
    return metrics


def write_metrics(run_dir: RunDirectory, metrics: dict) -> None:
    """Write metrics.json: the blocks of ``metrics`` replace their namesakes, every
    other block already there (``training``...) is kept."""
    from smartml.files import write_json_atomic

    previous = run_dir.read_json(run_dir.metrics) if run_dir.metrics.is_file() else {}
    write_json_atomic(run_dir.metrics, {**previous, **metrics})


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
        from smartml.evaluation.summary import run_summary
        from smartml.tasks.loading import open_verified_run

        run_dir, task, model = open_verified_run(args.run_dirs[0])
        metrics = evaluate_run(run_dir, task, model)
        write_metrics(run_dir, metrics)
        print(json.dumps(metrics, indent=2) if args.json else run_summary(run_dir.path))

    return run_cli(run, "smartml.evaluate", args.verbose)


def compare(run_dirs: list[Path], output: Path) -> None:
    """Compare complete runs of one task through its summary metrics."""
    from smartml.evaluation.run_comparison import compare_runs
    from smartml.tasks.loading import open_task

    tasks = [open_task(path, prepare=False) for path in run_dirs]
    names = {task.config.task.name for _, task in tasks}
    if len(names) > 1:
        listing = ", ".join(f"{run_dir.path} ({task.config.task.name})" for run_dir, task in tasks)
        raise SmartmlError(f"runs of different tasks cannot be compared: {listing}")
    require_writable_directory(output, "--output")
    compare_runs(run_dirs, output, tasks[0][1].summary_metrics())


if __name__ == "__main__":
    sys.exit(main())
