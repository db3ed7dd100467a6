"""The run directory: everything one training run produces, in fixed places.

::

    runs/<name>/
      config.json          the resolved configuration (file + command-line overrides)
      <task run files>     what the task fits on the training split (normalisations,
                           baselines: declared by the task as ``run_files``)
      model.h5          architecture + best weights (load with smartml.models.saved.load_model)
      history.csv          per-epoch losses and learning rate
      metrics.json         evaluation on the test split (with the evaluating software)
      MODEL_CARD.md        task, data, fingerprint, summary metrics, bits, BOPs/LUTs and
                           the firmware's agreement once exported
      plots/               PNG figures
      tensorboard/         TensorBoard logs
      checkpoints/         best weights during training
      backup/              BackupAndRestore state while a run is unfinished (removed
                           when it completes)
      run.json             the run's identity: the fingerprint of its configuration
                           (:mod:`smartml.config.fingerprint`) and the record of its
                           input files (:mod:`smartml.config.inputs`), written when
                           it starts
      COMPLETE.json        written last: a run without it is unfinished; holds the
                           fingerprint and the sha256 of model.h5

A directory without ``COMPLETE.json`` is never taken for a finished run. Training
never mixes two runs in one directory: a complete run is replaced only when asked
(``overwrite``), and an unfinished one is resumed only by the configuration that
started it (the same fingerprint) on the same input files; see
:meth:`RunDirectory.refuse_conflicts`. Evaluation and export refuse a run whose input
files changed (:meth:`RunDirectory.refuse_changed_inputs`).
"""

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from smartml.config import RunConfig
from smartml.config.fingerprint import describe_differences, fingerprint
from smartml.config.inputs import NamedInput, named_file
from smartml.config.loader import validate_config
from smartml.errors import ConfigError, RunDirectoryError
from smartml.files import file_sha256, read_json_object, write_json_atomic
from smartml.runs.inputs import input_change, record_inputs
from smartml.runs.provenance import provenance

log = logging.getLogger(__name__)

COMPLETE_MARKER = "COMPLETE.json"
RUN_RECORD = "run.json"
_PRODUCTS = ("model.h5", "history.csv", "metrics.json", "MODEL_CARD.md")


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
    record = property(lambda self: self.path / RUN_RECORD)

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

    def refuse_conflicts(self, config: RunConfig, overwrite: bool = False) -> None:
        """Raise a one-line error, before anything is written, when training ``config``
        here would replace or mix in another run.

        - A complete run is refused unless ``overwrite``.
        - An unfinished run whose recorded config.json differs from ``config`` (other
          than in the keys the fingerprint leaves out) is refused unless
          ``overwrite``, naming each differing key with its old and new value; so is
          one whose input files changed since it started (naming the first). With the
          same configuration and inputs it is resumed (or, without a backup yet,
          started again from scratch: nothing of it can be mixed in).
        """
        if overwrite or not self.path.is_dir():
            return
        if self.is_complete():
            raise RunDirectoryError(
                f"{self.path}: run is complete; pass --overwrite to replace it, "
                "or --output for a new run"
            )
        if not self.config.is_file():
            return
        # Validated by today's schemas (keys added since get their defaults), so that
        # only what the user changed counts.
        recorded = validate_config(self.read_json(self.config), str(self.config))
        if fingerprint(recorded) != fingerprint(config):
            old, new = recorded.model_dump(mode="json"), config.model_dump(mode="json")
            raise RunDirectoryError(
                f"{self.path}: the unfinished run there has another configuration "
                f"({describe_differences(old, new)}); "
                "train it with its own configuration to resume it, pass --overwrite to "
                "start anew, or --output for a new run"
            )
        if self.record.is_file():  # absent: the run died before it began, nothing to mix
            self._refuse_changed_inputs("restore the file, or pass --overwrite to start anew")

    def open_for_training(self, task_files: tuple[str, ...] = (), overwrite: bool = False) -> bool:
        """Create (or reopen) the directory for a run; return True when resuming.

        A fresh run removes the products of an earlier one (``task_files``: those the
        task writes), so nothing stale is left beside the new files; an interrupted
        run keeps them and continues, unless ``overwrite`` asks for a fresh start.
        Call :meth:`refuse_conflicts` first.
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
        resuming = self.is_resumable() and not overwrite
        if not resuming:
            for name in (*_PRODUCTS, *task_files, RUN_RECORD):
                (self.path / name).unlink(missing_ok=True)
            for folder in (self.plots, self.tensorboard, self.best_weights.parent, self.backup):
                shutil.rmtree(folder, ignore_errors=True)
        self.plots.mkdir(exist_ok=True)
        return resuming

    def record_start(self, config: RunConfig) -> None:
        """Write run.json (the configuration's fingerprint, the record of its input
        files, :func:`run_inputs`, and the software and machine starting it,
        :func:`~smartml.runs.provenance.provenance`) unless a resumed attempt of the
        same run wrote it already."""
        if not self.record.is_file():
            started = {
                "fingerprint": fingerprint(config),
                "started": _now(),
                "inputs": record_inputs(run_inputs(config)),
                "provenance": provenance(config.training.device),
            }
            write_json_atomic(self.record, started, RunDirectoryError)

    def refuse_changed_inputs(self) -> None:
        """Raise a one-line error naming the key and the file when an input file that
        evaluation reads changed, appeared or went since the run was trained (the
        initial weights are training's only). A run recorded before inputs were
        (no ``inputs`` in run.json) gets a warning and no check."""
        self._refuse_changed_inputs("retrain, or restore the file", evaluation_only=True)

    def _refuse_changed_inputs(self, hint: str, evaluation_only: bool = False) -> None:
        recorded = self.read_json(self.record).get("inputs") if self.record.is_file() else None
        if recorded is None:
            log.warning(
                "%s: the run predates input records (no inputs in %s); its input files "
                "are not checked",
                self.path,
                RUN_RECORD,
            )
            return
        change = input_change(recorded, evaluation_only)
        if change:
            raise RunDirectoryError(f"{self.path}: {change}; {hint}")

    def mark_complete(self, config: RunConfig, summary: dict[str, Any]) -> None:
        """Write the completion marker, atomically, as the very last step of a run:
        ``summary``, the configuration's fingerprint, the sha256 of model.h5 (what
        evaluation and export check the model against) and the software that finished
        it. The emptied backup/ goes."""
        finished = {
            "finished": _now(),
            **summary,
            "fingerprint": fingerprint(config),
            "model_sha256": file_sha256(self.model, RunDirectoryError),
            "provenance": provenance(config.training.device),
        }
        write_json_atomic(self.marker, finished, RunDirectoryError)
        # After the marker: a crash in between leaves a complete run, not a fresh one.
        shutil.rmtree(self.backup, ignore_errors=True)

    def completion(self) -> dict[str, Any]:
        """What COMPLETE.json records (runs completed before fingerprints were
        recorded lack ``fingerprint`` and ``model_sha256``)."""
        return self.read_json(self.require_complete().marker)

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


class WorkerRunDirectory(RunDirectory):
    """The scratch run directory of a worker that is not the chief of a multi-worker
    run: a new temporary folder (delete it with :meth:`remove`) for everything the
    worker writes (history, TensorBoard, checkpoints, run files), except the
    BackupAndRestore state, which is the chief's: Keras writes a worker's backups to
    temporary folders of its own and restores every worker from the chief's.

    Args:
        shared: the run directory the chief writes.
    """

    def __init__(self, shared: RunDirectory) -> None:
        super().__init__(tempfile.mkdtemp(prefix="smartml-worker-"))
        self.shared = shared

    backup = property(lambda self: self.shared.backup)

    def open_for_training(self, task_files: tuple[str, ...] = (), overwrite: bool = False) -> bool:
        """Make the (empty) folders; never resuming: whether the run resumes is the
        chief's backup's to say, which every worker restores from."""
        self.plots.mkdir(parents=True, exist_ok=True)
        return False

    def remove(self) -> None:
        """Delete the scratch folder and everything in it."""
        shutil.rmtree(self.path, ignore_errors=True)


def trained_model_file(source: str, key: str) -> Path:
    """The model file a configuration key names: a complete run directory's model.h5,
    or the file itself.

    Raises:
        RunDirectoryError: a run directory that is not complete.
        ConfigError: nothing at ``source``; one line naming ``key``.
    """
    path = Path(source)
    if path.is_dir():
        path = RunDirectory(path).require_complete().model
    if not path.is_file():
        raise ConfigError(f"{key}: {source}: no such run directory or model file")
    return path


def run_inputs(config: RunConfig) -> list[NamedInput]:
    """The files a run of ``config`` reads: those its data section declares
    (``input_files()`` of the task's schema), the initial weights and the distillation
    teacher (a run directory's model.h5), which only training reads."""
    declared = getattr(config.data, "input_files", None)  # a task reading no files has none
    inputs: list[NamedInput] = list(declared()) if declared else []
    distillation = config.training.distillation
    models = {
        "training.initial_weights": config.training.initial_weights,
        "training.distillation.teacher": distillation and distillation.teacher,
    }
    for key, source in models.items():
        if source:
            file = str(RunDirectory(source).model) if Path(source).is_dir() else source
            inputs.append(named_file(key, file, evaluation=False))
    return inputs


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
