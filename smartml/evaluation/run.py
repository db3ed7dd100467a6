"""Evaluation of a complete run: its model on its test split, with the task's metrics,
figures and products written into the run directory.

Training calls :func:`evaluate_run` and :func:`write_metrics` at its end, and
``smartml evaluate RUN`` calls them again on a complete run; :func:`run_summary` is the
table both print last. A task's hooks compute (:meth:`smartml.tasks.base.Task.evaluate`
returns metrics, figures and tables); only this module writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from smartml.errors import OutputError
from smartml.files import atomic_file, write_json_atomic
from smartml.metrics.checks import EvaluationError

if TYPE_CHECKING:
    from smartml.backend import keras
    from smartml.runs.directory import RunDirectory
    from smartml.tasks.base import Task

TABLE_FORMATS = (".csv", ".parquet")


def evaluate_run(run_dir: RunDirectory, task: Task, model: keras.Model) -> dict:
    """Evaluate ``model`` with ``task``: the metrics (with the hardware cost of an
    exportable model); the task's tables (its declared products) go into the run,
    figures and the history plot (titled with the run name, the epoch of model.h5's
    weights marked) to the run's plots/.

    Raises:
        ValueError: the task returned a table it does not declare among its products
            (a fresh run would not remove it: a bug of the task).
    """
    from smartml.hardware.cost import hardware_report
    from smartml.metrics.figures import plot_style, save_figures
    from smartml.metrics.history_plots import plot_history
    from smartml.models.exportability import is_exportable
    from smartml.runs.provenance import provenance

    output = task.config.output
    with plot_style(output.plot_style):
        metrics, figures, tables = task.evaluate(model, figures=output.plots)
        for name, table in tables.items():
            if name not in task.products:
                raise ValueError(f"{type(task).__name__}: table {name!r} is not among its products")
            write_table(table, run_dir.path / name)
        if is_exportable(task.config.model):
            metrics["hardware"] = hardware_report(model)
        if output.plots:
            save_figures(figures, run_dir.plots, output.plot_formats)
            if run_dir.history.is_file():
                monitor = task.config.training.checkpoint_monitor
                plot_history(
                    run_dir.history, run_dir.plots, task.config.name, monitor, output.plot_formats
                )
    metrics["provenance"] = provenance(task.config.training.device)
    return metrics


def write_metrics(run_dir: RunDirectory, metrics: dict) -> None:
    """Write metrics.json: the blocks of ``metrics`` replace their namesakes, every
    other block already there (``training``...) is kept."""
    previous = run_dir.read_json(run_dir.metrics) if run_dir.metrics.is_file() else {}
    write_json_atomic(run_dir.metrics, {**previous, **metrics})


def write_model_card(run_dir: RunDirectory, task: Task, firmware: dict | None = None) -> Path:
    """Write the run's MODEL_CARD.md (:mod:`~smartml.evaluation.model_card`) from its
    config.json and metrics.json; ``firmware``: the last export's report.json."""
    from smartml.config.fingerprint import fingerprint
    from smartml.evaluation.model_card import CARD_FILE, model_card
    from smartml.metrics.summary import summary_table
    from smartml.runs.provenance import provenance

    metrics = run_dir.read_json(run_dir.metrics)
    config = task.config.model_dump(mode="json")
    card = model_card(
        config,
        fingerprint(task.config),
        summary_table(metrics, task.summary_metrics(), task.config.name),
        metrics,
        metrics.get("provenance", provenance()),
        firmware,
    )
    path = run_dir.path / CARD_FILE
    with atomic_file(path, OutputError, "the model card") as temporary:
        Path(temporary).write_text(card, encoding="utf-8")
    return path


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` as CSV or parquet (by the suffix), replacing ``path`` atomically.
    Messages call the table by the file's stem ("the predictions").

    Raises:
        EvaluationError: a suffix other than ``.csv`` and ``.parquet``.
        OutputError: one line naming the file when it cannot be written.
    """
    path = Path(path)
    if path.suffix not in TABLE_FORMATS:
        raise EvaluationError(
            f"{path}: {path.stem} are written as {' or '.join(TABLE_FORMATS)}, "
            f"not {path.suffix or 'a file without suffix'}"
        )
    with atomic_file(path, OutputError, f"the {path.stem}") as temporary:
        if path.suffix == ".csv":
            table.to_csv(temporary, index=False)
        else:
            table.to_parquet(temporary, index=False)
    return path


def run_summary(path: str | Path) -> str:
    """What a command prints at the end: the complete run's summary table
    (:func:`~smartml.metrics.summary.summary_table` of its task's summary metrics)
    and where the run is.

    Args:
        path: a complete run directory.
    """
    from smartml.metrics.summary import summary_table
    from smartml.runs.opening import open_task

    run_dir, task = open_task(path, prepare=False)
    metrics = run_dir.read_json(run_dir.metrics)
    table = summary_table(metrics, task.summary_metrics(), task.config.name)
    return f"{table}\nrun directory: {run_dir.path}"
