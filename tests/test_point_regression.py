"""Point-regression metrics and figures against numpy computations."""

import json

import numpy as np
import pytest

from smartml.metrics import binning
from smartml.metrics.point_regression import (
    binned_residuals,
    point_metrics,
    point_regression_figures,
    ratio_histogram,
    robust_width,
)

NAMES = ["log_weight", "mass"]
UNITS = ["", "GeV"]


def predictions(n: int = 4000, seed: int = 0):
    """A regressed -log10 weight (resolution growing with it) and a mass with a bias."""
    rng = np.random.default_rng(seed)
    log_weight = rng.uniform(5.0, 15.0, size=n)
    mass = rng.normal(125.0, 10.0, size=n)
    y_true = np.stack([log_weight, mass], axis=1)
    noise = rng.normal(size=(n, 2)) * np.stack([0.05 * log_weight, np.full(n, 2.0)], axis=1)
    return y_true, y_true + noise + np.array([0.0, 1.0])


def test_metrics_match_numpy():
    y_true, y_pred = predictions()
    metrics = point_metrics(y_true, y_pred, NAMES, UNITS)
    assert json.loads(json.dumps(metrics)) == metrics
    for i, (name, unit) in enumerate(zip(NAMES, UNITS, strict=True)):
        residual = y_pred[:, i] - y_true[:, i]
        relative = residual / y_true[:, i]
        q16, q84 = np.percentile(residual, [15.865525393, 84.134474607])
        entry = metrics[name]
        assert entry["bias"] == pytest.approx(residual.mean())
        assert entry["rms"] == pytest.approx(np.sqrt(np.mean(residual**2)))
        assert entry["std"] == pytest.approx(residual.std())
        assert entry["robust_width"] == pytest.approx((q84 - q16) / 2)
        assert entry["relative_error_mean"] == pytest.approx(relative.mean())
        r16, r84 = np.percentile(relative, [15.865525393, 84.134474607])
        assert entry["relative_error_robust_width"] == pytest.approx((r84 - r16) / 2)
        assert entry["unit"] == unit and entry["n"] == len(y_true)
    assert metrics["mass"]["bias"] == pytest.approx(1.0, abs=0.1)
    assert metrics["mass"]["robust_width"] == pytest.approx(2.0, rel=0.05)


def test_relative_error_skips_zero_truth():
    y_true = np.array([[0.0], [1.0], [2.0]])
    y_pred = np.array([[5.0], [1.5], [1.0]])
    entry = point_metrics(y_true, y_pred, ["w"], [""])["w"]
    assert entry["n_nonzero_truth"] == 2
    assert entry["relative_error_mean"] == pytest.approx(0.0)
    zero = point_metrics(np.zeros((2, 1)), np.ones((2, 1)), ["w"], [""])["w"]
    assert zero["relative_error_mean"] is None and zero["n_nonzero_truth"] == 0


def test_ratio_histogram_counts_the_ratios():
    y_true, y_pred = predictions()
    ratio = y_pred[:, 1] / y_true[:, 1]
    histogram = ratio_histogram(y_true[:, 1], y_pred[:, 1], bins=20, value_range=(0.95, 1.05))
    counts, edges = np.histogram(ratio, bins=20, range=(0.95, 1.05))
    assert histogram["counts"] == counts.tolist()
    np.testing.assert_allclose(histogram["edges"], edges)
    assert histogram["underflow"] == np.sum(ratio < 0.95)
    assert histogram["overflow"] == np.sum(ratio > 1.05)


def test_binned_residuals_show_the_resolution_growing_with_the_weight():
    y_true, y_pred = predictions(n=20_000)
    edges = binning.equal_population_edges(y_true[:, 0], 4)
    frame = binned_residuals(y_true[:, 0], y_pred[:, 0] - y_true[:, 0], edges)
    residual = y_pred[:, 0] - y_true[:, 0]
    for b in range(4):
        in_bin = (y_true[:, 0] >= edges[b]) & (y_true[:, 0] <= edges[b + 1])
        assert frame.loc[b, "robust_width"] == pytest.approx(robust_width(residual[in_bin]))
        assert frame.loc[b, "rms"] == pytest.approx(np.sqrt(np.mean(residual[in_bin] ** 2)))
    np.testing.assert_allclose(frame["robust_width"], 0.05 * frame["centre"], rtol=0.1)
    default = binned_residuals(y_true[:, 0], residual)
    assert len(default) == 10
    assert default["count"].tolist() == [2000] * 10


def test_figures_show_the_computed_numbers():
    y_true, y_pred = predictions()
    eta = np.random.default_rng(3).uniform(-2.5, 2.5, size=len(y_true))
    figures = point_regression_figures(
        y_true, y_pred, NAMES, UNITS, variables={"eta": (eta, "")}, run_name="deepmem"
    )
    kinds = ("residual", "ratio", "prediction_vs_truth")
    assert set(figures) == {f"{kind}_{name}" for name in NAMES for kind in kinds} | {
        f"resolution_{name}_vs_eta" for name in NAMES
    }
    own = point_regression_figures(y_true, y_pred, NAMES, UNITS)
    assert "resolution_mass_vs_true_mass" in own
    assert own["resolution_mass_vs_true_mass"].axes[1].get_xlabel() == "true mass [GeV]"
    residual_axes = figures["residual_mass"].axes[0]
    assert residual_axes.get_xlabel() == "mass residual (prediction − truth) [GeV]"
    assert residual_axes.get_title() == "residual of mass — deepmem"
    (patch,) = residual_axes.patches
    data = patch.get_data()
    residual = y_pred[:, 1] - y_true[:, 1]
    np.testing.assert_array_equal(data.values, np.histogram(residual, bins=data.edges)[0])

    (ratio_patch,) = figures["ratio_mass"].axes[0].patches
    histogram = ratio_histogram(y_true[:, 1], y_pred[:, 1])
    np.testing.assert_array_equal(ratio_patch.get_data().values, histogram["counts"])

    mesh = figures["prediction_vs_truth_mass"].axes[0].collections[0]
    coordinates = mesh.get_coordinates()
    x_edges, y_edges = coordinates[0, :, 0], coordinates[:, 0, 1]
    expected, _, _ = np.histogram2d(y_true[:, 1], y_pred[:, 1], bins=[x_edges, y_edges])
    shown = np.asarray(mesh.get_array().filled(0)).reshape(len(y_edges) - 1, len(x_edges) - 1)
    np.testing.assert_array_equal(shown, expected.T)
    assert expected.sum() > 0.95 * len(y_true)


def test_resolution_against_a_variable_uses_the_binned_residuals():
    y_true, y_pred = predictions()
    eta = np.random.default_rng(3).uniform(-2.5, 2.5, size=len(y_true))
    figures = point_regression_figures(y_true, y_pred, NAMES, UNITS, variables={"eta": (eta, "")})
    assert "resolution_mass_vs_eta" in figures
    bias_axes, width_axes = figures["resolution_mass_vs_eta"].axes
    assert width_axes.get_xlabel() == "eta"
    assert width_axes.get_ylabel() == "mass 68% width [GeV]"
    edges = binning.equal_width_edges(eta, 20, (0.01, 0.99))
    expected = binned_residuals(eta, y_pred[:, 1] - y_true[:, 1], edges)
    np.testing.assert_allclose(width_axes.get_lines()[0].get_ydata(), expected["robust_width"])
    np.testing.assert_allclose(bias_axes.get_lines()[1].get_ydata(), expected["bias"])


@pytest.mark.parametrize(
    ("y_true", "y_pred", "match"),
    [
        (np.zeros(3), np.zeros(3), r"y_true must have shape \(n, k\)"),
        (np.zeros((3, 2)), np.zeros((3, 1)), r"y_pred must have the shape of y_true \(3, 2\)"),
        (np.zeros((3, 2)), np.full((3, 2), np.inf), "y_pred contains 6 NaN or inf"),
    ],
)
def test_bad_predictions_raise_one_line(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match) as error:
        point_metrics(y_true, y_pred, NAMES, UNITS)
    assert "\n" not in str(error.value)
