"""The Keras callbacks of a training run, built from the ``training`` section."""

import csv
import math
from pathlib import Path
from typing import Any

from smartml.backend import keras
from smartml.config import TrainingConfig
from smartml.config.base import FEASIBLE_VAL_LOSS
from smartml.errors import OutputError
from smartml.files import atomic_file
from smartml.hardware.cost import hardware_report, quantized_layers
from smartml.runs.directory import RunDirectory

LEARNING_RATE_COLUMN = "learning_rate"


def build_callbacks(
    training: TrainingConfig,
    run_dir: RunDirectory,
    resuming: bool,
    batches_known: bool,
    hardware_costs: bool = True,
) -> list:
    """Checkpoint of the best validation loss, early stopping, the learning-rate
    schedule, CSV history (with the learning rate of every epoch), TensorBoard,
    TerminateOnNaN and BackupAndRestore.

    BackupAndRestore saves every ``training.backup_every_batches`` batches when the
    number of batches per epoch is known (``batches_known``; Keras needs it to resume
    mid-epoch), else at the end of every epoch. ``hardware_costs`` (exportable models:
    every layer has a cost rule) adds per-layer sparsity and BOPs to every epoch.

    With MDMM constraints, the checkpoint and early stopping follow
    ``val_loss_feasible``: the validation loss of epochs that end with every
    constraint met (within ``mdmm.feasibility_tolerance``), infinite otherwise; early
    stopping counts only feasible epochs. A constrained run that never becomes
    feasible keeps its last weights."""
    monitor = training.checkpoint_monitor
    checkpoint = BestWeightsCheckpoint(run_dir.best_weights, monitor)
    if resuming:
        # The checkpoint's memory of the best loss is not part of the backup: take it
        # from the history so a resumed run does not overwrite a better checkpoint.
        checkpoint.best = best_validation_loss(run_dir, monitor)
    callbacks = [
        HardwareCostLogger(hardware_costs),  # first: later callbacks log what it adds
        LearningRateLogger(),  # before the schedule changes the rate at the epoch's end
        keras.callbacks.TerminateOnNaN(),
        checkpoint,
        HistoryLogger(str(run_dir.history), append=True),
        keras.callbacks.TensorBoard(
            str(run_dir.tensorboard), write_graph=False, profile_batch=0, update_freq="epoch"
        ),
    ]
    if training.early_stopping_patience > 0:
        callbacks.append(
            FiniteEarlyStopping(
                monitor=monitor,
                patience=training.early_stopping_patience,
                restore_best_weights=False,
            )
        )
    schedule = learning_rate_callback(training)
    if schedule is not None:
        callbacks.append(schedule)
    # last: an epoch's backup is made once its checkpoint and history row are written
    callbacks.append(
        EpochSafeBackupAndRestore(
            str(run_dir.backup),
            save_freq=training.backup_every_batches if batches_known else "epoch",
        )
    )
    return callbacks


class BestWeightsCheckpoint(keras.callbacks.Callback):
    """Save the weights of the epoch with the lowest ``monitor`` value, atomically.

    Keras' ModelCheckpoint writes the file in place: a run killed while it writes
    leaves a corrupt file that the resumed run cannot load. Here the weights go to a
    hidden file beside it first, which then replaces the kept one.

    Args:
        path: the kept weights (``.h5``); monitor: the log key to minimise.

    Attributes:
        best: the lowest value seen (infinite at first; a resumed run sets it from
            its history).
    """

    def __init__(self, path: str | Path, monitor: str) -> None:
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.best = math.inf

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        current = (logs or {}).get(self.monitor)
        if current is None or not float(current) < self.best:  # NaN is never better
            return
        self.best = float(current)
        # the temporary ends like the kept file: Keras picks the weights format from it
        with atomic_file(self.path, OutputError, "the best weights", parents=True) as partial:
            self.model.save_weights(str(partial))


class EpochSafeBackupAndRestore(keras.callbacks.BackupAndRestore):
    """BackupAndRestore whose backup of an epoch's last batch is made at the end of
    the epoch, after every other callback (put it last).

    Keras resumes a backup made at an epoch's last batch as a finished epoch, so one
    made before the epoch's validation, checkpoint and history row would lose them
    if the run were killed in between.
    """

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        steps = self.params.get("steps")
        if self.save_freq != "epoch" and steps is not None and batch + 1 >= steps:
            return  # backed up by on_epoch_end, once the epoch's results are written
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        steps = self.params.get("steps")
        if self.save_freq == "epoch" or steps is None:
            super().on_epoch_end(epoch, logs)
            return
        self._batches_count = 0
        self._backup(epoch=epoch, batch=steps - 1)


class HardwareCostLogger(keras.callbacks.Callback):
    """Adds the quantized sparsity of each quantized layer (``sparsity_<layer>``) and
    the total bit operations (``bops``) to every epoch's logs, so that history.csv
    and TensorBoard follow them (see :mod:`smartml.hardware.cost`); for an
    MDMM model also ``mdmm_feasible`` (1 when every constraint is met at the end of
    the epoch) and :data:`FEASIBLE_VAL_LOSS`."""

    def __init__(self, costs: bool = True) -> None:
        super().__init__()
        self.costs = costs

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        model = getattr(self.model, "inner", self.model)  # the MDMM wrapper's model
        if logs is None:
            return
        if self.costs and quantized_layers(model):
            report = hardware_report(model)
            for name, layer in report["layers"].items():
                logs[f"sparsity_{name}"] = layer["sparsity"]
            logs["bops"] = report["bops"]
        if hasattr(self.model, "violations") and "val_loss" in logs:
            tolerance = self.model.feasibility_tolerance
            feasible = all(v <= tolerance for v in self.model.violations().values())
            logs["mdmm_feasible"] = float(feasible)
            logs[FEASIBLE_VAL_LOSS] = logs["val_loss"] if feasible else math.inf


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's learning rate during the epoch to every epoch's logs
    (:data:`LEARNING_RATE_COLUMN`), whatever the schedule: Keras' schedule callbacks
    log it only after the CSV logger has written the row, and a constant rate has no
    callback at all. Every epoch has the key, so a resumed run appends rows with the
    same columns."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs[LEARNING_RATE_COLUMN] = current_learning_rate(self.model.optimizer)


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """The rate the optimizer applies now (a ``LearningRateSchedule`` is evaluated at
    the optimizer's step count).

    >>> current_learning_rate(keras.optimizers.Adam(0.25))
    0.25
    """
    rate = optimizer.learning_rate
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        rate = rate(optimizer.iterations)
    return float(keras.backend.get_value(rate))


class HistoryLogger(keras.callbacks.CSVLogger):
    """A ``CSVLogger`` that appends to an existing history with that file's columns
    (a run resumed by a version that logs other keys stays one table: a column
    without a value gets ``NA``, a key without a column is left out)."""

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.append and Path(self.filename).is_file():
            with open(self.filename, newline="") as handle:
                header = next(csv.reader(handle), [])
            if header[:1] == ["epoch"]:
                self.keys = header[1:]
        super().on_train_begin(logs)


class FiniteEarlyStopping(keras.callbacks.EarlyStopping):
    """Early stopping that ignores epochs whose monitored value is not finite (the
    infeasible epochs of a constrained run): they neither improve nor use patience."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is not None and not math.isfinite(value):
            return
        super().on_epoch_end(epoch, logs)


def learning_rate_callback(training: TrainingConfig):
    """The callback that applies ``training.lr_schedule`` (None for constant).

    >>> from smartml.config import TrainingConfig
    >>> cb = learning_rate_callback(TrainingConfig(epochs=4, learning_rate=1.0,
    ...     lr_schedule={"kind": "cosine", "min_learning_rate": 0.0}))
    >>> [round(cb.schedule(epoch, 1.0), 3) for epoch in range(4)]
    [1.0, 0.854, 0.5, 0.146]
    """
    schedule = training.lr_schedule
    initial, floor, epochs = training.learning_rate, schedule.min_learning_rate, training.epochs
    if schedule.kind == "reduce_on_plateau":
        return keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=schedule.factor, patience=schedule.patience, min_lr=floor
        )
    if schedule.kind == "cosine":

        def cosine(epoch: int, _lr: float) -> float:
            return floor + 0.5 * (initial - floor) * (1 + math.cos(math.pi * epoch / epochs))

        return keras.callbacks.LearningRateScheduler(cosine)
    if schedule.kind == "exponential":

        def exponential(epoch: int, _lr: float) -> float:
            return max(floor, initial * schedule.factor**epoch)

        return keras.callbacks.LearningRateScheduler(exponential)
    return None


def keep_last_row_per_epoch(history_csv) -> None:
    """After a resumed run, keep only the last row logged for each epoch.

    A run killed mid-epoch logs that epoch again when it resumes (Keras restarts it
    from the last backup); the earlier, interrupted attempt is dropped.
    """
    if not history_csv.is_file():
        return
    with history_csv.open() as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames or [], list(reader)
    latest = {row["epoch"]: row for row in rows}
    with history_csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(sorted(latest.values(), key=lambda row: int(row["epoch"])))


def best_validation_loss(run_dir: RunDirectory, monitor: str = "val_loss") -> float:
    """Lowest ``monitor`` value in history.csv (inf when there is none yet)."""
    if not run_dir.history.is_file():
        return math.inf
    with run_dir.history.open() as handle:
        values = [float(row[monitor]) for row in csv.DictReader(handle) if row.get(monitor)]
    return min(values, default=math.inf)


def kept_epoch_validation(
    run_dir: RunDirectory, monitor: str, metric: str, better: str
) -> dict[str, Any] | None:
    """The task's primary validation metric at the epoch whose weights were kept (the
    lowest ``monitor``), from history.csv: ``{"metric", "better", "value", "epoch"}``;
    None when no epoch has both values."""
    if not run_dir.history.is_file():
        return None
    with run_dir.history.open() as handle:
        rows = [row for row in csv.DictReader(handle) if row.get(monitor) and row.get(metric)]
    finite = [row for row in rows if math.isfinite(float(row[monitor]))]
    if not finite:
        return None
    kept = min(finite, key=lambda row: float(row[monitor]))
    return {
        "metric": metric,
        "better": better,
        "value": float(kept[metric]),
        "epoch": int(kept["epoch"]),
    }
