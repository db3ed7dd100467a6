"""``python -m smartml.evaluate RUN_DIR [RUN_DIR ...]``: judge trained models.

With one run: evaluate its model on its test split, writing metrics.json and plots/
in the run directory (training calls the same code at its end). With several:
compare their metrics side by side (table printed and written as comparison.md,
plot comparison.png, under ``--output``).
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from smartml.cli import run_cli
from smartml.errors import SmartmlError
from smartml.evaluation.summary import SummaryMetric


def evaluate_run(run_dir, task, model) -> dict:
    """Evaluate ``model`` with ``task``; write metrics.json and the history plot."""
    from smartml.evaluation.regression_plots import plot_history

    metrics = task.evaluate(model)
    if task.config.output.plots and run_dir.history.is_file():
        plot_history(run_dir.history, run_dir.plots)
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
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
    args = parser.parse_args(argv)
    if len(args.run_dirs) > 1:
        return run_cli(lambda: compare_runs(args.run_dirs, args.output), "smartml.evaluate")
    args.run_dir = args.run_dirs[0]

    def run() -> None:
        from smartml.config import load_config
        from smartml.models import load_model
        from smartml.registry import TASKS
        from smartml.training.run_directory import RunDirectory

        run_dir = RunDirectory(args.run_dir).require_complete()
        config = load_config(run_dir.config)
        task = TASKS.get(config.task.name)(config, run_dir)
        task.prepare(fit=False)
        metrics = evaluate_run(run_dir, task, load_model(run_dir.model))
        previous = json.loads(run_dir.metrics.read_text()) if run_dir.metrics.is_file() else {}
        if "training" in previous:
            metrics["training"] = previous["training"]
        run_dir.metrics.write_text(json.dumps(metrics, indent=2) + "\n")
        print(json.dumps(metrics, indent=2))

    return run_cli(run, "smartml.evaluate")


def compare_runs(run_dirs: list[Path], output: Path, summary: Sequence[SummaryMetric]) -> None:
    """Compare complete runs of one task through its summary metrics.

    Prints the table and writes ``comparison.md`` and ``comparison.png`` to
    ``output``. Runs are labelled by folder name, or ``parent/name`` where names
    repeat.

    Args:
        run_dirs: two or more complete run directories.
        output: directory for the table and the plot, created if needed.
        summary: the task's declared summary metrics.

    Raises:
        SmartmlError: one line: an incomplete run, an unreadable file, runs of
            different tasks, a run without one of the summary metrics, a run given
            twice.
    """
    from smartml.evaluation.figures import save_figures
    from smartml.evaluation.run_comparison import comparison_table, plot_comparison, run_labels
    from smartml.training.run_directory import RunDirectory

    labels = run_labels(run_dirs)
    if len(set(labels)) != len(labels):
        raise SmartmlError(f"a run directory is given twice: {[str(p) for p in run_dirs]}")
    directories = [RunDirectory(path).require_complete() for path in run_dirs]
    _require_one_task(labels, directories)
    runs = {
        label: RunDirectory.read_json(run_dir.metrics)
        for label, run_dir in zip(labels, directories, strict=True)
    }
    for label, metrics in runs.items():
        missing = [metric.key for metric in summary if metric.value(metrics) is None]
        if missing:
            raise SmartmlError(
                f"{label}: metrics.json lacks {', '.join(missing)}; compare runs of one task"
            )
    table = comparison_table(runs, summary)
    output.mkdir(parents=True, exist_ok=True)
    (output / "comparison.md").write_text(table + "\n")
    save_figures({"comparison": plot_comparison(runs, summary)}, output)
    print(table)


def _require_one_task(labels: list[str], directories: list) -> None:
    """Refuse runs whose config.json names different tasks (runs without one pass)."""
    from smartml.training.run_directory import RunDirectory

    tasks = {}
    for label, run_dir in zip(labels, directories, strict=True):
        if run_dir.config.is_file():
            task = RunDirectory.read_json(run_dir.config).get("task")
            tasks[label] = task.get("name") if isinstance(task, dict) else task
    if len(set(tasks.values())) > 1:
        described = ", ".join(f"{label}: {task}" for label, task in tasks.items())
        raise SmartmlError(f"runs of different tasks cannot be compared ({described})")


if __name__ == "__main__":
    sys.exit(main())
