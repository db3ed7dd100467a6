"""loss.png as a person reads it: the run's name, epochs counted from 1 on integer
ticks, the epoch whose weights model.h5 holds marked, the learning rate below."""

from pathlib import Path

import numpy as np
import pytest

from smartml.metrics.history_plots import history_figures
from smartml.runs.directory import RunDirectory
from smartml.training.callbacks import kept_epoch_validation

# An MDMM run: feasible from epoch 2 on; val_loss is lowest at the infeasible epoch 1.
MDMM_HISTORY = (
    "epoch,learning_rate,loss,val_loss,val_loss_feasible\n"
    "0,0.01,3.0,2.0,inf\n"
    "1,0.005,2.0,1.0,inf\n"
    "2,0.0025,1.5,1.2,1.2\n"
    "3,0.00125,1.2,1.1,1.1\n"
    "4,0.000625,1.1,1.3,1.3\n"
)


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "history.csv"
    path.write_text(content)
    return path


def lines_by_label(axes) -> dict:
    return {line.get_label(): line for line in axes.get_lines()}


def visible_ticks(axes) -> list[float]:
    low, high = axes.get_xlim()
    return [tick for tick in axes.get_xticks() if low <= tick <= high]


def test_loss_plot_is_titled_with_the_run_and_counts_epochs_from_one(tmp_path):
    figure = history_figures(write(tmp_path, MDMM_HISTORY), run_name="pixel_2t_mdmm")["loss"]
    loss_axes, lr_axes = figure.axes
    assert loss_axes.get_title() == "loss per epoch — pixel_2t_mdmm"
    assert "history.csv" not in loss_axes.get_title()
    lines = lines_by_label(loss_axes)
    np.testing.assert_array_equal(lines["training loss"].get_xdata(), [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(lines["training loss"].get_ydata(), [3.0, 2.0, 1.5, 1.2, 1.1])
    np.testing.assert_array_equal(lines["validation loss"].get_ydata(), [2.0, 1.0, 1.2, 1.1, 1.3])
    for axes in (loss_axes, lr_axes):
        ticks = visible_ticks(axes)
        assert ticks and all(tick == int(tick) for tick in ticks), ticks
        assert min(ticks) >= 1
    assert lr_axes.get_xlabel() == "epoch"


def test_three_epochs_have_only_whole_epoch_ticks(tmp_path):
    history = write(tmp_path, "epoch,loss,val_loss\n0,3.0,2.0\n1,2.0,1.5\n2,1.0,1.2\n")
    axes = history_figures(history)["loss"].axes[0]
    assert visible_ticks(axes) == [1.0, 2.0, 3.0]
    assert axes.get_xlabel() == "epoch"


def test_the_kept_epoch_is_the_one_metrics_json_names(tmp_path):
    """The marked epoch is the checkpoint monitor's best, the epoch that
    kept_epoch_validation writes as metrics.json's validation.epoch (from 0)."""
    path = write(tmp_path, MDMM_HISTORY)
    figure = history_figures(path, run_name="r", monitor="val_loss_feasible")["loss"]
    loss_axes, lr_axes = figure.axes
    kept = kept_epoch_validation(RunDirectory(tmp_path), "val_loss_feasible", "val_loss", "lower")
    assert kept is not None and kept["epoch"] == 3
    marker = lines_by_label(loss_axes)["kept epoch 4 (lowest val_loss_feasible): model.h5"]
    assert list(marker.get_xdata()) == [kept["epoch"] + 1] * 2
    assert [list(line.get_xdata()) for line in lr_axes.get_lines()[1:]] == [[4, 4]]


def test_a_run_never_feasible_marks_its_last_epoch(tmp_path):
    """Without a finite monitor there is no checkpoint: model.h5 holds the last weights."""
    content = MDMM_HISTORY.replace(",1.2\n", ",inf\n").replace(",1.1\n", ",inf\n")
    content = content.replace(",1.3\n", ",inf\n")
    figure = history_figures(write(tmp_path, content), monitor="val_loss_feasible")["loss"]
    marker = lines_by_label(figure.axes[0])[
        "kept epoch 5 (last epoch, no finite val_loss_feasible): model.h5"
    ]
    assert list(marker.get_xdata()) == [5, 5]


def test_a_plain_run_marks_the_lowest_validation_loss(tmp_path):
    history = write(tmp_path, "epoch,loss,val_loss\n0,3.0,2.0\n1,2.0,0.5\n2,1.0,1.2\n")
    marker = lines_by_label(history_figures(history, monitor="val_loss")["loss"].axes[0])[
        "kept epoch 2 (lowest val_loss): model.h5"
    ]
    assert list(marker.get_xdata()) == [2, 2]


def test_a_resumed_history_counts_each_epoch_once(tmp_path):
    """A run killed mid-epoch 1 logs that epoch again after resuming: the last row counts."""
    history = write(
        tmp_path,
        "epoch,learning_rate,loss,val_loss\n"
        "0,0.01,3.0,2.0\n1,0.005,9.0,9.0\n1,0.005,2.0,1.0\n2,0.0025,1.0,1.5\n",
    )
    loss_axes, lr_axes = history_figures(history)["loss"].axes
    lines = lines_by_label(loss_axes)
    np.testing.assert_array_equal(lines["training loss"].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines["training loss"].get_ydata(), [3.0, 2.0, 1.0])
    assert "kept epoch 2 (lowest val_loss): model.h5" in lines
    rate = lines_by_label(lr_axes)["learning rate"]
    np.testing.assert_array_equal(rate.get_ydata(), [0.01, 0.005, 0.0025])


@pytest.mark.parametrize("column", ["learning_rate", "lr"])
def test_the_learning_rate_panel_shows_the_column(tmp_path, column):
    path = write(tmp_path, MDMM_HISTORY.replace("learning_rate", column))
    loss_axes, lr_axes = history_figures(path)["loss"].axes
    rate = lr_axes.get_lines()[0]
    np.testing.assert_array_equal(rate.get_xdata(), [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(rate.get_ydata(), [0.01, 0.005, 0.0025, 0.00125, 0.000625])
    assert lr_axes.get_ylabel() == "learning rate" and lr_axes.get_yscale() == "log"
    assert lr_axes.get_shared_x_axes().joined(lr_axes, loss_axes)
