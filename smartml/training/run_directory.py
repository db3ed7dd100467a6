"""The run directory: everything one training run produces, in fixed places.

::

    runs/<name>/
      config.json          the resolved configuration (file + command-line overrides)
      <task run files>     what the task fits on the training split (normalisations,
                           baselines: declared by the task as ``run_files``)
      model.h5          architecture + best weights (load with smartml.models.saved.load_model)
      history.csv          per-epoch losses and learning rate
      metrics.json         evaluation on the test split
      plots/               PNG figures
      tensorboard/         TensorBoard logs
      checkpoints/         best weights during training
      backup/              BackupAndRestore state while a run is unfinished
      COMPLETE.json        written last: a run without it is unfinished

A directory without ``COMPLETE.json`` is never taken for a finished run.
"""

import shutil
import time
from pathlib import Path
from typing import Any

from smartml.errors import RunDirectoryError
from smartml.files import read_json_object, write_json_atomic

COMPLETE_MARKER = "COMPLETE.json"
_PRODUCTS = ("model.h5", "history.csv", "metrics.json")


class RunDirectory:
    """Paths of one run and the transitions unfinished -> complete."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    config = property(lambda self: self.path / "config.json")
    model = property(lambda self: self.path / "model.h5")
    history = property(lambda self: self.path / "history.csv")
    metrics = property(lambda self: self.path / "metrics.json")
    plots = property(lambda self: self.path / "plots")
    tensorboard = property(lambda self: self.path / "tensorboard")
    best_weights = property(lambda self: self.path / "checkpoints" / "best.weights.h5")
    backup = property(lambda self: self.path / "backup")

    @property
    def marker(self) -> Path:
        return self.path / COMPLETE_MARKER

    @staticmethod
    def read_json(path: Path) -> dict[str, Any]:
        """A JSON object the run wrote (metrics, baseline...); one-line error if it is
        missing, unreadable or not an object."""
        return read_json_object(path, "run file", RunDirectoryError)

    def is_complete(self) -> bool:
        return self.marker.is_file()

    def is_resumable(self) -> bool:
        """An interrupted run left BackupAndRestore state behind."""
        return self.backup.is_dir() and any(self.backup.iterdir())

    def open_for_training(self, task_files: tuple[str, ...] = ()) -> bool:
        """Create (or reopen) the directory for a run; return True when resuming.

        A fresh run removes the products of an earlier one (``task_files``: those the
        task writes), so nothing stale is left beside the new files; an interrupted
        run keeps them and continues.
        """
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as err:
            raise RunDirectoryError(
                f"{self.path}: output directory is not writable ({err.strerror}); "
                "choose another with --output"
            ) from None
        self.marker.unlink(missing_ok=True)
        resuming = self.is_resumable()
        if not resuming:
            for name in (*_PRODUCTS, *task_files):
                (self.path / name).unlink(missing_ok=True)
            for folder in (self.plots, self.tensorboard, self.best_weights.parent):
                shutil.rmtree(folder, ignore_errors=True)
        self.plots.mkdir(exist_ok=True)
        return resuming

    def mark_complete(self, summary: dict[str, Any]) -> None:
        """Write the completion marker, atomically, as the very last step of a run."""
        finished = {"finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **summary}
        write_json_atomic(self.marker, finished, RunDirectoryError)

    def load_model(self) -> Any:  # a keras.Model (TensorFlow is imported only here)
        """The run's saved model (architecture + kept weights)."""
        from smartml.models.saved import load_model

        return load_model(self.model)

    def require_complete(self) -> "RunDirectory":
        if not self.path.is_dir():
            raise RunDirectoryError(f"{self.path}: no such run directory")
        if not self.is_complete():
            raise RunDirectoryError(
                f"{self.path}: run is incomplete ({COMPLETE_MARKER} missing); "
                "finish it by running the same training command again"
            )
        return self

    @staticmethod
    def latest_complete(root: str | Path = "runs") -> "RunDirectory":
        """The most recently finished run under ``root``."""
        markers = sorted(Path(root).glob(f"*/{COMPLETE_MARKER}"), key=lambda p: p.stat().st_mtime)
        if not markers:
            raise RunDirectoryError(
                f"{root}: no complete run found; train one with python -m smartml.train"
            )
        return RunDirectory(markers[-1].parent)
