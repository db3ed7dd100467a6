"""``python -m smartml.evaluate RUN_DIR [RUN_DIR ...]``: judge trained models.

With one run: evaluate its model on its test split, writing metrics.json and plots/
in the run directory (training calls the same code at its end). With several:
compare their metrics side by side (table printed and written as comparison.md,
plot comparison.png, under ``--output``).
"""

import argparse
import json
import sys
from pathlib import Path

from smartml.cli import run_cli
from smartml.errors import SmartmlError


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


def compare_runs(run_dirs: list[Path], output: Path) -> None:
    from smartml.evaluation.run_comparison import comparison_table, plot_comparison
    from smartml.training.run_directory import RunDirectory

    runs = {}
    for path in run_dirs:
        runs[path.name] = RunDirectory.read_json(RunDirectory(path).require_complete().metrics)
    first = next(iter(runs.values()))
    targets = [
        name for name, entry in first.items() if isinstance(entry, dict) and "pull_std" in entry
    ]
    missing = [name for name, metrics in runs.items() if any(t not in metrics for t in targets)]
    if missing:
        raise SmartmlError(
            f"{missing[0]}: metrics.json lacks targets {targets}; compare runs of one task"
        )
    table = comparison_table(runs, targets)
    output.mkdir(parents=True, exist_ok=True)
    (output / "comparison.md").write_text(table + "\n")
    plot_comparison(runs, targets, output / "comparison.png")
    print(table)


if __name__ == "__main__":
    sys.exit(main())
