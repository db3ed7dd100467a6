"""One finished run directory, read for analysis."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from smartml.errors import RunDirectoryError, first_line
from smartml.runs.directory import RunDirectory

if TYPE_CHECKING:
    from smartml.metrics.summary import SummaryMetric
    from smartml.tasks.base import Task


@dataclass
class RunContents:
    """What a complete run wrote.

    Attributes:
        path: the run directory; ``name`` its configured run name.
        config: config.json as a dict; ``metrics``: metrics.json.
        history: history.csv (one row per epoch), None if the run has none.
    """

    path: Path
    name: str
    config: dict
    metrics: dict
    history: pd.DataFrame | None
    _model: object = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def model(self):
        """The trained Keras model (loaded on first use), verified to be the one the
        run trained, as evaluate and export verify it."""
        if self._model is None:
            from smartml.runs.opening import load_verified_model

            self._model = load_verified_model(RunDirectory(self.path), self.task)
        return self._model

    @property
    def task(self) -> Task:
        """The run's task, bound to its configuration (data not prepared)."""
        if "task" not in self._cache:
            from smartml.runs.opening import open_task

            self._cache["task"] = open_task(self.path, prepare=False)[1]
        return self._cache["task"]

    @property
    def summary(self) -> list[SummaryMetric]:
        """The task's summary metrics (what tables of several runs show)."""
        return self.task.summary_metrics()

    @property
    def regression_targets(self) -> list[str]:
        """The targets of a regression task (Gaussian or point), none for a classifier."""
        return list(getattr(self.task.output, "targets", []))

    @property
    def hardware(self) -> dict | None:
        """Per-layer quantized sparsity, MACs and BOPs with totals: the ``hardware``
        block of metrics.json, or computed from the model for runs trained before it
        was recorded (:func:`smartml.hardware.cost.hardware_report`); None for a
        model that is not an exportable quantized network (e.g. a float DGCNN: no
        hardware cost is defined for it, as evaluation records none)."""
        if "hardware" not in self._cache:
            hardware = self.metrics.get("hardware")
            if hardware is None and self._exportable():
                from smartml.hardware import cost as hardware_cost

                if hardware_cost.quantized_layers(self.model):
                    hardware = hardware_cost.hardware_report(self.model)
            self._cache["hardware"] = hardware
        return self._cache["hardware"]

    def _exportable(self) -> bool:
        from smartml.models.exportability import is_exportable

        return is_exportable(self.task.config.model)


def open_run(path: str | Path) -> RunContents:
    """Read a complete run directory.

    Args:
        path: the run directory (``runs/<name>``).

    Returns:
        its :class:`RunContents`; the model is loaded on first use.

    Raises:
        RunDirectoryError: one line naming the directory when it is missing or
            incomplete, or the file that is unreadable.
    """
    run_dir = RunDirectory(path).require_complete()
    config = RunDirectory.read_json(run_dir.config)
    metrics = RunDirectory.read_json(run_dir.metrics)
    return RunContents(
        run_dir.path, config.get("name", run_dir.path.name), config, metrics, _history(run_dir)
    )


def open_runs(paths: list) -> list[RunContents]:
    """:func:`open_run` of each path; runs sharing a name are told apart by their path.

    Args:
        paths: two or more run directories.

    Returns:
        their :class:`RunContents`, in order, with distinct ``name``.
    """
    runs = [open_run(path) for path in paths]
    names = [run.name for run in runs]
    for run in runs:
        if names.count(run.name) > 1:
            run.name = f"{run.name} ({run.path})"
    return runs


def _history(run_dir: RunDirectory) -> pd.DataFrame | None:
    if not run_dir.history.is_file():
        return None
    try:
        history = pd.read_csv(run_dir.history)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        message = first_line(err)
        raise RunDirectoryError(f"{run_dir.history}: cannot read the history ({message})") from None
    if "epoch" not in history.columns:
        raise RunDirectoryError(f"{run_dir.history}: no 'epoch' column; not a training history")
    return history
