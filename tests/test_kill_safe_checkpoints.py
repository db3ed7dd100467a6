"""A run killed at the worst moment of an epoch's end resumes without losing that
epoch: its history row and kept weights are written before its backup says it is done,
and the kept weights are never left half-written."""

import csv

import numpy as np
import pytest

from smartml.backend import keras
from smartml.config import TrainingConfig
from smartml.runs.directory import RunDirectory
from smartml.training.callbacks import BestWeightsCheckpoint, build_callbacks


class Killed(Exception):
    """Stands for SIGKILL: the process stops in the middle of a callback."""


class KillAtEpochEnd(keras.callbacks.Callback):
    """Dies at the end of ``epoch``, after its last batch, before any other
    callback has seen that epoch end."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Killed


def tiny_model() -> keras.Model:
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(1, name="d")(inputs))


def fit(run_dir: RunDirectory, resuming: bool, extra=()) -> None:
    training = TrainingConfig(epochs=2, backup_every_batches=1, lr_schedule={"kind": "constant"})
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    callbacks = build_callbacks(
        training, run_dir, resuming, batches_known=True, hardware_costs=False
    )
    try:
        model.fit(
            x,
            y,
            batch_size=8,
            epochs=2,
            validation_data=(x, y),
            callbacks=[*extra, *callbacks],
            verbose=0,
        )
    finally:
        for callback in callbacks:
            if isinstance(callback, keras.callbacks.CSVLogger) and callback.csv_file:
                callback.csv_file.close()


def history_epochs(run_dir: RunDirectory) -> list[int]:
    with run_dir.history.open() as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_a_run_killed_after_the_last_batch_of_an_epoch_keeps_that_epoch(tmp_path):
    run_dir = RunDirectory(tmp_path / "run")
    run_dir.path.mkdir()
    with pytest.raises(Killed):
        fit(run_dir, resuming=False, extra=[KillAtEpochEnd(1)])
    assert history_epochs(run_dir) == [0]
    fit(run_dir, resuming=True)
    # Keras' own BackupAndRestore took the last batch's backup for a finished epoch:
    # the resumed fit did nothing and epoch 1 never reached the history.
    assert history_epochs(run_dir) == [0, 1]


class FailingSave(keras.Model):
    """A model whose weights file is cut short as a killed process would leave it."""

    def save_weights(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as handle:
            handle.write(b"\x89HDF\r\n")  # a truncated HDF5 header
        raise Killed


def test_kept_weights_are_replaced_only_when_completely_written(tmp_path):
    path = tmp_path / "checkpoints" / "best.weights.h5"
    checkpoint = BestWeightsCheckpoint(path, "val_loss")
    model = tiny_model()
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"val_loss": 2.0})
    kept = path.read_bytes()
    checkpoint.on_epoch_end(1, {"val_loss": 3.0})  # worse: not written
    checkpoint.on_epoch_end(2, {"val_loss": float("nan")})  # NaN is never better
    assert path.read_bytes() == kept and checkpoint.best == 2.0

    failing = FailingSave(model.inputs, model.outputs)
    checkpoint.set_model(failing)
    with pytest.raises(Killed):
        checkpoint.on_epoch_end(3, {"val_loss": 1.0})
    assert path.read_bytes() == kept  # the kill hit the hidden partial file only
    restored = tiny_model()
    restored.load_weights(str(path))
    for mine, theirs in zip(restored.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
