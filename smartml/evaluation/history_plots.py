"""Figures of a training history (the ``history.csv`` of a Keras ``CSVLogger``).

:func:`history_figures` draws the loss curves, the best epoch marked, and the
learning rate; :func:`plot_history` writes them as PNG files.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from smartml.evaluation.checks import EvaluationError
from smartml.evaluation.figures import new_axes, save_figures, title

LEARNING_RATE_COLUMNS = ("lr", "learning_rate")
# The column the best checkpoint follows: a constrained (MDMM) run logs the
# validation loss of its feasible epochs (infinite otherwise) beside val_loss.
BEST_EPOCH_COLUMNS = ("val_loss_feasible", "val_loss")


def history_figures(history_csv: Path, run_name: str | None = None) -> dict[str, Figure]:
    """The training history written by a Keras ``CSVLogger``.

    Args:
        history_csv: CSV with a header ``epoch,loss,val_loss,...``; ``val_loss``
            and the learning rate (column ``lr`` or ``learning_rate``) are
            optional, ``loss`` is required.
        run_name: shown in the titles.

    Returns:
        ``{"loss": Figure}`` (the best epoch marked: lowest ``val_loss_feasible``
        when the run logged it, else lowest ``val_loss``), plus
        ``"learning_rate"`` when the file has a learning-rate column.

    Raises:
        EvaluationError: the file is missing, unreadable, empty or has no ``loss``
            column; the message names the file.
    """
    history = _read_history(Path(history_csv))
    epochs = history["epoch"] if "epoch" in history else pd.Series(np.arange(len(history)))
    figures = {"loss": loss_figure(epochs, history, run_name)}
    lr_column = next((c for c in LEARNING_RATE_COLUMNS if c in history), None)
    if lr_column is not None:
        figures["learning_rate"] = learning_rate_figure(epochs, history[lr_column], run_name)
    return figures


def plot_history(history_csv: Path, out_dir: Path, run_name: str | None = None) -> list[Path]:
    """Write :func:`history_figures` as ``loss.png`` (and ``learning_rate.png``).

    Returns:
        the written paths.
    """
    return save_figures(history_figures(history_csv, run_name), out_dir)


def loss_figure(epochs: pd.Series, history: pd.DataFrame, run_name: str | None = None) -> Figure:
    """Training and validation loss per epoch, the best epoch marked."""
    figure, axes = new_axes()
    axes.plot(epochs, history["loss"], marker=".", label="training loss")
    if "val_loss" in history:
        axes.plot(epochs, history["val_loss"], marker=".", label="validation loss")
    best = best_epoch(history)
    if best is not None:
        column, row = best
        axes.axvline(
            epochs.iloc[row],
            color="black",
            linestyle=":",
            label=f"best epoch {epochs.iloc[row]:g} (lowest {column})",
        )
    axes.set(xlabel="epoch", ylabel="loss", title=title("loss per epoch", run_name))
    axes.legend()
    return figure


def best_epoch(history: pd.DataFrame) -> tuple[str, int] | None:
    """The column the best checkpoint follows and the row of its lowest finite value.

    >>> best_epoch(pd.DataFrame({"val_loss": [3.0, 1.0, 2.0],
    ...                          "val_loss_feasible": [3.0, np.inf, 2.0]}))
    ('val_loss_feasible', 2)
    """
    for column in BEST_EPOCH_COLUMNS:
        if column in history:
            values = history[column].to_numpy(dtype=np.float64)
            finite = np.isfinite(values)
            if finite.any():
                return column, int(np.flatnonzero(finite)[np.argmin(values[finite])])
    return None


def learning_rate_figure(
    epochs: pd.Series, learning_rate: pd.Series, run_name: str | None = None
) -> Figure:
    """The learning rate per epoch (log axis when positive)."""
    figure, axes = new_axes()
    axes.plot(epochs, learning_rate, marker=".")
    # Schedules multiply the rate: a log axis shows them as straight lines.
    if (learning_rate > 0).all():
        axes.set_yscale("log")
    axes.set(
        xlabel="epoch", ylabel="learning rate", title=title("learning rate per epoch", run_name)
    )
    return figure


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
