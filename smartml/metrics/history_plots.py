"""Figures of a training history (the ``history.csv`` of a Keras ``CSVLogger``).

:func:`history_figures` draws the loss curves against the epoch numbered from 1,
the epoch whose weights the run kept marked, and the learning rate in a panel below;
:func:`plot_history` writes them as PNG files.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from smartml.metrics.checks import EvaluationError
from smartml.metrics.figures import new_figure, save_figures, title

LEARNING_RATE_COLUMNS = ("learning_rate", "lr")
# Without a named monitor, the column a best checkpoint follows: a constrained (MDMM)
# run logs the validation loss of its feasible epochs (infinite otherwise).
BEST_EPOCH_COLUMNS = ("val_loss_feasible", "val_loss")
LOSS_FIGURE_SIZE = (6.4, 6.4)


class KeptEpoch(NamedTuple):
    """The epoch whose weights a run kept: its row in the history and why."""

    row: int
    reason: str


def history_figures(
    history_csv: Path, run_name: str | None = None, monitor: str | None = None
) -> dict[str, Figure]:
    """The training history written by a Keras ``CSVLogger``.

    Args:
        history_csv: CSV with a header ``epoch,loss,val_loss,...``; ``val_loss``
            and the learning rate (column ``learning_rate`` or ``lr``) are optional,
            ``loss`` is required. Several rows of one epoch (a resumed run) count
            once, the last.
        run_name: shown in the title.
        monitor: the column whose lowest finite value chose the kept weights (the
            best checkpoint's, :attr:`smartml.config.TrainingConfig.checkpoint_monitor`);
            by default ``val_loss_feasible`` when logged, else ``val_loss``.

    Returns:
        ``{"loss": Figure}``: training and validation loss per epoch (numbered from
        1), the kept epoch marked, the learning rate in a second panel when logged.

    Raises:
        EvaluationError: the file is missing, unreadable, empty or has no ``loss``
            column; the message names the file.
    """
    history = last_row_per_epoch(_read_history(Path(history_csv)))
    return {"loss": loss_figure(history, run_name, monitor)}


def plot_history(
    history_csv: Path,
    out_dir: Path,
    run_name: str | None = None,
    monitor: str | None = None,
    formats: Sequence[str] = ("png",),
) -> list[Path]:
    """Write :func:`history_figures` as ``loss.png`` (and the other ``formats``).

    Returns:
        the written paths.
    """
    return save_figures(history_figures(history_csv, run_name, monitor), out_dir, formats)


def last_row_per_epoch(history: pd.DataFrame) -> pd.DataFrame:
    """One row per epoch (the last logged: a resumed epoch replaces its interrupted
    attempt), in epoch order; rows without an ``epoch`` column are epochs 0, 1, ...

    >>> frame = pd.DataFrame({"epoch": [0, 1, 1, 2], "loss": [4.0, 3.0, 2.5, 2.0]})
    >>> last_row_per_epoch(frame)["loss"].tolist()
    [4.0, 2.5, 2.0]
    """
    if "epoch" not in history:
        return history.assign(epoch=np.arange(len(history)))
    known = history.dropna(subset=["epoch"])
    return known.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)


def loss_figure(
    history: pd.DataFrame, run_name: str | None = None, monitor: str | None = None
) -> Figure:
    """Loss per epoch (from 1, integer ticks), the kept epoch marked; the learning
    rate below when the history has it."""
    lr_column = next((c for c in LEARNING_RATE_COLUMNS if c in history), None)
    figure = new_figure(LOSS_FIGURE_SIZE)
    if lr_column is None:
        loss_axes, lr_axes = figure.subplots(1, 1), None
    else:
        loss_axes, lr_axes = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    epochs = history["epoch"].to_numpy(dtype=np.float64) + 1  # Keras counts from 0
    loss_axes.plot(epochs, history["loss"], marker=".", label="training loss")
    if "val_loss" in history:
        loss_axes.plot(epochs, history["val_loss"], marker=".", label="validation loss")
    bottom = loss_axes
    if lr_axes is not None:
        _learning_rate_panel(lr_axes, epochs, history[lr_column])
        bottom = lr_axes
    kept = kept_epoch(history, monitor)
    for axes in (loss_axes, bottom):
        if kept is not None:
            _mark_epoch(axes, epochs[kept.row], kept.reason, labelled=axes is loss_axes)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_axes.set(ylabel="loss", title=title("loss per epoch", run_name))
    loss_axes.legend(fontsize="small")
    bottom.set_xlabel("epoch")
    return figure


def kept_epoch(history: pd.DataFrame, monitor: str | None = None) -> KeptEpoch | None:
    """The row of the epoch whose weights the run kept: the lowest finite ``monitor``
    (the best checkpoint); the last epoch when no value is finite (a constrained run
    never feasible keeps its last weights); None without the column.

    >>> history = pd.DataFrame({"val_loss": [3.0, 1.0, 2.0],
    ...                         "val_loss_feasible": [3.0, np.inf, 2.0]})
    >>> kept_epoch(history)
    KeptEpoch(row=2, reason='lowest val_loss_feasible')
    >>> kept_epoch(history.assign(val_loss_feasible=np.inf)).row
    2
    """
    if monitor is None:
        monitor = next((c for c in BEST_EPOCH_COLUMNS if c in history), None)
    if monitor is None or monitor not in history:
        return None
    values = history[monitor].to_numpy(dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return KeptEpoch(len(values) - 1, f"last epoch, no finite {monitor}")
    return KeptEpoch(int(np.flatnonzero(finite)[np.argmin(values[finite])]), f"lowest {monitor}")


def _mark_epoch(axes: Axes, epoch: float, reason: str, labelled: bool) -> None:
    label = f"kept epoch {epoch:g} ({reason}): model.h5" if labelled else None
    axes.axvline(epoch, color="black", linestyle=":", label=label)


def _learning_rate_panel(axes: Axes, epochs: np.ndarray, learning_rate: pd.Series) -> None:
    axes.plot(epochs, learning_rate, marker=".", color="C2", label="learning rate")
    # Schedules multiply the rate: a log axis shows them as straight lines.
    if (learning_rate > 0).all():
        axes.set_yscale("log")
    axes.set_ylabel("learning rate")


def _read_history(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise EvaluationError(f"{path}: training history file not found")
    try:
        history = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        reason = " ".join(str(error).split())
        raise EvaluationError(f"{path}: cannot read as a CSV file ({reason})") from None
    if "loss" not in history.columns:
        raise EvaluationError(
            f"{path}: no 'loss' column (columns: {list(history.columns)}); "
            "expected a Keras CSVLogger file with columns epoch,loss,val_loss,..."
        )
    if history.empty:
        raise EvaluationError(f"{path}: the training history has no epochs")
    return history.apply(pd.to_numeric, errors="coerce")
