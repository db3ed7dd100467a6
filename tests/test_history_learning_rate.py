"""history.csv holds the learning rate of every epoch, for every schedule, for an MDMM
model and across a resume, equal to the schedule's formula computed here."""

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from qkeras import QDense, quantized_bits

from smartml.backend import keras
from smartml.config import TrainingConfig
from smartml.runs.directory import RunDirectory
from smartml.training.callbacks import (
    HistoryLogger,
    LearningRateLogger,
    build_callbacks,
    keep_last_row_per_epoch,
)
from smartml.training.mdmm import MDMMModel, SparsityConstraint

EPOCHS = 5
INITIAL = 0.01
FLOOR = 1e-4


def data(n: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x @ rng.normal(size=(4, 1))).astype("float32")


def dense_model() -> keras.Model:
    inputs = keras.Input((4,))
    q = quantized_bits(4, 0, alpha=1)
    outputs = QDense(1, kernel_quantizer=q, bias_quantizer=q, name="d0")(inputs)
    return keras.Model(inputs, outputs)


def fit(model, training: TrainingConfig, run_dir: RunDirectory, resuming=False, extra=()):
    keras.utils.set_random_seed(0)
    x, y = data()
    callbacks = build_callbacks(training, run_dir, resuming, batches_known=False)
    try:
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=training.epochs,
            validation_data=data(16, seed=1),
            callbacks=[*callbacks, *extra],
            verbose=0,
        )
    finally:
        # An interrupted fit does not reach on_train_end, which closes the file.
        for callback in callbacks:
            if isinstance(callback, keras.callbacks.CSVLogger) and callback.csv_file:
                callback.csv_file.close()


def history_rows(run_dir: RunDirectory) -> list[dict[str, str]]:
    with run_dir.history.open() as handle:
        return list(csv.DictReader(handle))


def compiled(model, rate: float = INITIAL):
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="mse")
    return model


def cosine(epoch: int) -> float:
    return FLOOR + 0.5 * (INITIAL - FLOOR) * (1 + math.cos(math.pi * epoch / EPOCHS))


def plateau_rates(val_losses: list[float], initial: float, factor: float, floor: float):
    """Keras' ReduceLROnPlateau (patience 1, min_delta 1e-4): the rate of each epoch."""
    rates, rate, best = [], initial, math.inf
    for loss in val_losses:
        rates.append(rate)
        if loss < best - 1e-4:
            best = loss
        elif rate > floor:
            rate = max(float(np.float32(rate)) * factor, floor)
    return rates


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("constant", lambda epoch: INITIAL),
        ("cosine", cosine),
        ("exponential", lambda epoch: max(FLOOR, INITIAL * 0.5**epoch)),
    ],
)
def test_every_epoch_logs_the_scheduled_rate(tmp_path, kind, expected):
    training = TrainingConfig(
        epochs=EPOCHS,
        learning_rate=INITIAL,
        lr_schedule={"kind": kind, "factor": 0.5, "min_learning_rate": FLOOR},
        early_stopping_patience=0,
    )
    run_dir = RunDirectory(tmp_path)
    fit(compiled(dense_model()), training, run_dir)
    rows = history_rows(run_dir)
    assert [int(row["epoch"]) for row in rows] == list(range(EPOCHS))
    logged = [float(row["learning_rate"]) for row in rows]
    np.testing.assert_allclose(logged, [expected(e) for e in range(EPOCHS)], rtol=1e-6)


def test_reduce_on_plateau_logs_the_rate_each_epoch_trained_with(tmp_path):
    tiny = 1e-6  # the validation loss stops moving by min_delta: the rate halves
    training = TrainingConfig(
        epochs=EPOCHS,
        learning_rate=tiny,
        lr_schedule={
            "kind": "reduce_on_plateau",
            "factor": 0.5,
            "patience": 1,
            "min_learning_rate": 1e-9,
        },
        early_stopping_patience=0,
    )
    run_dir = RunDirectory(tmp_path)
    fit(compiled(dense_model(), tiny), training, run_dir)
    rows = history_rows(run_dir)
    logged = [float(row["learning_rate"]) for row in rows]
    expected = plateau_rates([float(row["val_loss"]) for row in rows], tiny, 0.5, 1e-9)
    np.testing.assert_allclose(logged, expected, rtol=1e-6)
    assert logged[-1] < logged[0]  # the schedule did act


def test_an_mdmm_model_logs_its_rate(tmp_path):
    training = TrainingConfig(
        epochs=3,
        learning_rate=INITIAL,
        lr_schedule={"kind": "exponential", "factor": 0.5, "min_learning_rate": FLOOR},
        early_stopping_patience=0,
        mdmm={"constraints": [{"type": "sparsity", "layers": "d0", "target": 0.25}]},
    )
    run_dir = RunDirectory(tmp_path)
    model = MDMMModel(dense_model(), [SparsityConstraint("d0", 0.25)])
    fit(compiled(model), training, run_dir)
    rows = history_rows(run_dir)
    assert "val_loss_feasible" in rows[0]
    logged = [float(row["learning_rate"]) for row in rows]
    np.testing.assert_allclose(logged, [INITIAL, INITIAL / 2, INITIAL / 4], rtol=1e-6)


class Interrupt(keras.callbacks.Callback):
    """Stops the process after an epoch, once BackupAndRestore has saved it."""

    def __init__(self, after_epoch: int) -> None:
        super().__init__()
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if epoch == self.after_epoch:
            raise RuntimeError("killed")


def test_a_resumed_run_keeps_the_column_and_the_schedule(tmp_path: Path):
    training = TrainingConfig(
        epochs=EPOCHS,
        learning_rate=INITIAL,
        lr_schedule={"kind": "cosine", "min_learning_rate": FLOOR},
        early_stopping_patience=0,
    )
    run_dir = RunDirectory(tmp_path)
    with pytest.raises(RuntimeError, match="killed"):
        fit(compiled(dense_model()), training, run_dir, extra=[Interrupt(after_epoch=1)])
    assert [row["epoch"] for row in history_rows(run_dir)] == ["0", "1"]
    fit(compiled(dense_model(), rate=0.5), training, run_dir, resuming=True)
    resumed = [row["epoch"] for row in history_rows(run_dir)]
    assert resumed == ["0", "1", "2", "3", "4"]  # continued after the backup of epoch 1
    keep_last_row_per_epoch(run_dir.history)
    rows = history_rows(run_dir)
    assert [int(row["epoch"]) for row in rows] == list(range(EPOCHS))
    assert all(None not in row and "" not in row.values() for row in rows)  # same columns
    logged = [float(row["learning_rate"]) for row in rows]
    np.testing.assert_allclose(logged, [cosine(e) for e in range(EPOCHS)], rtol=1e-6)


def test_appending_to_an_older_history_keeps_its_columns(tmp_path):
    """A run started by a version without the column (and with a key no longer logged)
    resumes into one table: rows follow the file's header."""
    history = tmp_path / "history.csv"
    history.write_text("epoch,loss,retired_key,val_loss\n0,1.5,7,1.4\n")
    x, y = data()
    model = compiled(dense_model())
    model.fit(
        x,
        y,
        initial_epoch=1,
        epochs=3,
        validation_data=data(16, seed=1),
        callbacks=[LearningRateLogger(), HistoryLogger(str(history), append=True)],
        verbose=0,
    )
    with history.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["epoch", "loss", "retired_key", "val_loss"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2"]
    assert all(len(row) == 4 for row in rows) and [row[2] for row in rows[2:]] == ["NA", "NA"]
