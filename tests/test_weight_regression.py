"""Evaluation of the MEM-weight regressor: metrics against numpy on known arrays, the
plotted data of every figure, the speed-up and the one-line refusals."""

import numpy as np
import pytest

from smartml.metrics.checks import EvaluationError
from smartml.tasks.mem_regression.weight_regression import (
    relative_error_profile,
    seconds_per_event,
    speed_up,
    weight_metrics,
    weight_regression_figures,
)

N = 4000


@pytest.fixture(scope="module")
def sample():
    """Weights spread over decades; the DNN off by a known relative error whose
    spread grows with the input ``x``."""
    rng = np.random.default_rng(7)
    x = rng.uniform(0.0, 10.0, N)
    w_true = 10.0 ** rng.uniform(-12, -6, N)
    relative = rng.normal(0.01, 0.01 * (1 + x), N)
    w_pred = w_true * (1 + relative)
    return {"w_true": w_true, "w_pred": w_pred, "relative": relative, "x": x}


def test_metrics_match_numpy(sample):
    metrics = weight_metrics(sample["w_true"], sample["w_pred"])
    relative = sample["relative"]
    assert metrics["events"] == N
    assert metrics["relative_error_median"] == pytest.approx(np.median(relative), rel=1e-9)
    assert metrics["abs_relative_error_median"] == pytest.approx(
        np.median(np.abs(relative)), rel=1e-9
    )
    assert metrics["ratio_median"] == pytest.approx(np.median(1 + relative), rel=1e-12)
    assert metrics["abs_relative_error_q68"] == pytest.approx(
        np.percentile(np.abs(relative), 68.269), rel=1e-3
    )
    assert metrics["abs_relative_error_q95"] == pytest.approx(
        np.percentile(np.abs(relative), 95), rel=1e-9
    )
    assert metrics["mape"] == pytest.approx(np.mean(np.abs(relative)), rel=1e-9)
    log_residual = np.log10(1 + relative)
    assert metrics["log10_residual_mean"] == pytest.approx(np.mean(log_residual), rel=1e-6)
    assert metrics["log10_residual_std"] == pytest.approx(np.std(log_residual), rel=1e-6)


def test_metrics_of_a_hand_made_sample():
    w_true = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    w_pred = w_true * np.array([1.0, 1.5, 0.5, 1.25, 0.75])  # relative 0, .5, -.5, .25, -.25
    metrics = weight_metrics(w_true, w_pred)
    assert metrics["relative_error_median"] == 0.0
    assert metrics["mape"] == pytest.approx(0.3)
    assert metrics["abs_relative_error_q95"] == pytest.approx(0.5)  # between the two 0.5s


def test_speed_up_and_timing():
    assert speed_up(3.0, 1.5e-4) == pytest.approx(2e4)
    with pytest.raises(EvaluationError, match=r"^dnn_s_per_event must be a positive number"):
        speed_up(3.0, 0.0)
    with pytest.raises(EvaluationError, match=r"^integrator_s_per_event must be"):
        speed_up(float("nan"), 1.0)
    calls = []
    per_event = seconds_per_event(lambda x: calls.append(len(x)), np.zeros((50, 3)), repeats=2)
    assert calls == [50, 50, 50] and 0 < per_event < 1


@pytest.mark.parametrize(
    ("w_true", "w_pred", "message"),
    [
        ([1.0, -1.0], [1.0, 1.0], r"^w_true has 1 weights <= 0 \(first at index 1\)"),
        ([1.0, 1.0], [0.0, 1.0], r"^w_pred has 1 weights <= 0 \(first at index 0\)"),
        ([1.0, 1.0], [1.0], r"^w_pred must have the shape of w_true"),
        ([1.0, np.nan], [1.0, 1.0], r"^w_true contains 1 NaN or inf"),
    ],
)
def test_bad_weights_are_refused_in_one_line(w_true, w_pred, message):
    with pytest.raises(EvaluationError, match=message):
        weight_metrics(w_true, w_pred)


def test_profile_is_the_binned_median_and_68_band(sample):
    profile = relative_error_profile(sample["x"], sample["relative"], bins=5)
    edges = np.linspace(*np.quantile(sample["x"], [0.01, 0.99]), 6)
    assert np.allclose(profile["low"], edges[:-1]) and np.allclose(profile["high"], edges[1:])
    for (_, row), low, high in zip(profile.iterrows(), edges[:-1], edges[1:], strict=True):
        inside = (sample["x"] >= low) & (sample["x"] < high)
        values = sample["relative"][inside]
        assert row["count"] == inside.sum()
        assert row["median"] == pytest.approx(np.median(values))
        assert row["low68"] == pytest.approx(np.quantile(values, 0.158655), rel=1e-3)
        assert row["high68"] == pytest.approx(np.quantile(values, 0.841345), rel=1e-3)
    band = profile["high68"] - profile["low68"]
    assert band.iloc[-1] > 3 * band.iloc[0]  # the spread grows with x, as generated


def test_figures_show_the_data(sample):
    inputs = {"x": sample["x"], "lep1 PT": sample["x"] * 10}
    figures = weight_regression_figures(
        sample["w_true"], sample["w_pred"], inputs, units={"lep1 PT": "GeV"}, run_name="deepmem"
    )
    assert list(figures) == [
        "weight_ratio",
        "weight_relative_error",
        "weight_log10",
        "weight_relative_error_vs_x",
        "weight_relative_error_vs_lep1_PT",
    ]
    for figure in figures.values():
        axes = figure.axes[0]
        assert axes.get_title().endswith("— deepmem") and axes.get_xlabel() and axes.get_ylabel()

    ratio_axes = figures["weight_ratio"].axes[0]
    counts, edges, _ = ratio_axes.patches[0].get_data()
    ratio = sample["w_pred"] / sample["w_true"]
    expected, _ = np.histogram(ratio, bins=edges)
    np.testing.assert_array_equal(counts, expected)
    assert "DNN / integrator" in ratio_axes.get_xlabel()

    overlay = figures["weight_log10"].axes[0]
    labels = [patch.get_label() for patch in overlay.patches]
    assert labels == ["integrator", "DNN"]
    for patch, weights in zip(overlay.patches, (sample["w_true"], sample["w_pred"]), strict=True):
        counts, edges, _ = patch.get_data()
        np.testing.assert_array_equal(counts, np.histogram(-np.log10(weights), bins=edges)[0])
    assert overlay.patches[0].get_data()[1].tolist() == overlay.patches[1].get_data()[1].tolist()

    legend = figures["weight_relative_error"].axes[0].get_legend().get_texts()[0].get_text()
    metrics = weight_metrics(sample["w_true"], sample["w_pred"])
    assert f"MAPE {metrics['mape']:.3g}" in legend

    profile_axes = figures["weight_relative_error_vs_lep1_PT"].axes[0]
    assert profile_axes.get_xlabel() == "lep1 PT [GeV]"
    median_line = profile_axes.lines[0]
    profile = relative_error_profile(sample["x"] * 10, sample["relative"])
    np.testing.assert_allclose(median_line.get_xdata(), profile["centre"])
    np.testing.assert_allclose(median_line.get_ydata(), profile["median"])


def test_an_input_of_another_length_is_named(sample):
    with pytest.raises(EvaluationError, match=r"^inputs\['x'\] must have the shape of w_true"):
        weight_regression_figures(sample["w_true"], sample["w_pred"], {"x": sample["x"][:10]})
