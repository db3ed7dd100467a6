"""``python -m smartml.evaluate RUN_DIR``: judge a trained model on its test split.

Writes metrics.json and plots/ in the run directory; training calls the same code
at its end.
"""

import argparse
import json
import sys
from pathlib import Path

from smartml.cli import run_cli


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
    parser.add_argument("run_dir", type=Path, help="a run directory made by smartml.train")
    args = parser.parse_args(argv)

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


if __name__ == "__main__":
    sys.exit(main())
