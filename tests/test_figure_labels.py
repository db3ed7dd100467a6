"""Every task's figures speak to a person: display labels and units instead of raw
column names, and the run's name in every title (output kinds and the pixel task)."""

import numpy as np
import pandas as pd
import pytest

from smartml.config.loader import load_config
from smartml.outputs.gaussian_mdn import GaussianPrediction
from smartml.outputs.logits import Logits
from smartml.outputs.point_regression import PointRegression
from smartml.runs.directory import RunDirectory
from smartml.tasks.smart_pixels.layout import TARGET_LABELS, TARGETS
from smartml.tasks.smart_pixels.task import BASELINE_COLUMNS, SmartPixelsTask

RUN = "pixel_run-7"
# What a plot must not show: column names of the data and the metrics' key.
RAW_WORDS = (*TARGETS, "width68")


def figure_texts(figure) -> list[str]:
    """Every title, axis label, legend entry and free text of a figure."""
    texts = [figure.get_suptitle()]
    for axes in figure.axes:
        texts += [axes.get_title(), axes.get_xlabel(), axes.get_ylabel()]
        texts += [text.get_text() for text in axes.texts]
        legend = axes.get_legend()
        if legend is not None:
            texts += [text.get_text() for text in legend.get_texts()]
    return texts


def figure_titles(figure) -> list[str]:
    titles = [axes.get_title() for axes in figure.axes if axes.get_title()]
    return titles + ([figure.get_suptitle()] if figure.get_suptitle() else [])


def assert_readable(figures, run_name: str) -> None:
    for stem, figure in figures.items():
        titles = figure_titles(figure)
        assert titles and all(run_name in t for t in titles), (stem, titles)
        texts = " | ".join(figure_texts(figure))
        assert not [word for word in RAW_WORDS if word in texts], (stem, texts)


def pixel_predictions(n: int = 600, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(n, 4)) * np.array([15.0, 4.0, 0.3, 1.0])
    sigma = np.array([6.0, 1.3, 0.2, 0.05])
    mean = truth + rng.normal(size=(n, 4)) * sigma
    covariance = np.broadcast_to(np.diag(sigma**2), (n, 4, 4)).copy()
    aux = pd.DataFrame(
        {
            column: truth[:, i] + rng.normal(0.0, 8.0, n)
            for i, column in enumerate(BASELINE_COLUMNS.values())
        }
    )
    return truth, GaussianPrediction(mean, covariance), aux


def test_pixel_figures_use_labels_units_and_the_run_name(tmp_path):
    task = SmartPixelsTask(load_config("configs/pixel_2t.json"), RunDirectory(tmp_path))
    truth, prediction, aux = pixel_predictions()
    figures = task.output.figures(truth, prediction, aux, RUN)
    assert "residual_x-midplane" in figures  # file names keep the column names
    assert_readable(figures, RUN)
    residual = figures["residual_x-midplane"].axes[0]
    assert residual.get_xlabel() == "x residual (prediction − truth) [µm]"
    assert residual.get_title() == f"residual of x — {RUN}"
    legend = [text.get_text() for text in residual.get_legend().get_texts()]
    assert any(entry.startswith("charge centroid: 68% width") for entry in legend)
    bias_axes, width_axes = figures["profile_cotBeta"].axes
    assert bias_axes.get_xlabel() == f"true {TARGET_LABELS[3]}"
    assert width_axes.get_ylabel() == f"{TARGET_LABELS[3]} 68% width"
    assert figures["sigma_y-midplane"].axes[0].get_xlabel() == "predicted σ of y [µm]"


def test_point_regression_figures_use_labels_and_the_run_name():
    rng = np.random.default_rng(1)
    truth = rng.uniform(1.0, 5.0, size=(500, 2))
    prediction = truth + rng.normal(0.0, 0.1, size=truth.shape)
    kind = PointRegression(
        ["x-midplane", "cotBeta"], ["µm", ""], ["x", "cotβ"], bin_variables={"pt": "GeV"}
    )
    aux = pd.DataFrame({"pt": rng.uniform(1.0, 10.0, 500)})
    figures = kind.figures(truth, prediction, aux, RUN)
    assert {"residual_x-midplane", "resolution_cotBeta_vs_pt"} <= set(figures)
    assert_readable(figures, RUN)
    assert figures["prediction_vs_truth_x-midplane"].axes[0].get_xlabel() == "true x [µm]"
    width_axes = figures["resolution_x-midplane_vs_pt"].axes[1]
    assert (width_axes.get_xlabel(), width_axes.get_ylabel()) == ("pt [GeV]", "x 68% width [µm]")


def test_classification_figures_name_the_run():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 400)
    logits = (labels - 0.5)[:, None] * 2 + rng.normal(size=(400, 1))
    kind = Logits(["pion", "muon"], bin_variables={"momentum": "GeV/c"})
    aux = pd.DataFrame({"momentum": rng.uniform(1.0, 20.0, 400)})
    figures = kind.figures(labels, kind.decode(logits), aux, RUN)
    assert set(figures) == {"roc", "scores", "confusion_matrix", "efficiency_vs_momentum"}
    assert_readable(figures, RUN)


def test_labels_must_name_every_target():
    from smartml.metrics.point_regression import point_regression_figures

    with pytest.raises(ValueError, match=r"labels \['x'\] must name the 2 targets"):
        point_regression_figures(
            np.ones((5, 2)), np.ones((5, 2)), ["a", "b"], ["", ""], labels=["x"]
        )
