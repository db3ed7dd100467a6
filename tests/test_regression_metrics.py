"""Resolution, pull and covariance-calibration metrics against independent computations."""

import json

import numpy as np
import pytest
from scipy import stats

from smartml.metrics.gaussian import (
    covariance_calibration,
    mahalanobis_squared,
    pulls,
    residual_profile,
    target_metrics,
)
from smartml.metrics.point_regression import robust_width

NAMES = ("x-midplane", "y-midplane", "cotAlpha", "cotBeta")
UNITS = ("µm", "µm", "", "")
N_CLUSTERS = 20_000
# A correlated covariance in physical units: µm for the positions, cotangents
# dimensionless, with a strong x/cotAlpha correlation as in a real sensor.
SIGMAS = np.array([8.0, 4.0, 0.05, 0.02])
CORRELATION = np.array(
    [
        [1.0, 0.1, 0.8, 0.0],
        [0.1, 1.0, 0.0, -0.5],
        [0.8, 0.0, 1.0, 0.0],
        [0.0, -0.5, 0.0, 1.0],
    ]
)
BASE_COV = CORRELATION * np.outer(SIGMAS, SIGMAS)


def gaussian_predictions(seed: int = 0, n: int = N_CLUSTERS):
    """Truth, means and covariances of an honest model: residuals drawn from cov.

    Each cluster gets its own scale (0.5 to 2), so the covariance varies per cluster
    as an MDN's does.
    """
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 2.0, size=n)
    cov = scale[:, None, None] ** 2 * BASE_COV
    residual = scale[:, None] * rng.multivariate_normal(np.zeros(4), BASE_COV, size=n)
    y_true = rng.normal(size=(n, 4)) * np.array([200.0, 100.0, 1.0, 3.0])
    return y_true, y_true + residual, cov


@pytest.fixture(scope="module")
def honest():
    return gaussian_predictions()


def test_honest_model_has_unit_pulls_and_chi2_distances(honest):
    metrics = target_metrics(*honest, names=NAMES, units=UNITS)
    for name in NAMES:
        target = metrics[name]
        assert target["pull_mean"] == pytest.approx(0.0, abs=0.03)
        assert target["pull_std"] == pytest.approx(1.0, abs=0.03)
        assert target["pull_robust_width"] == pytest.approx(1.0, abs=0.03)
        assert target["coverage_1sigma"] == pytest.approx(0.6827, abs=0.01)
        assert target["n"] == N_CLUSTERS
    calibration = metrics["all"]
    assert calibration["k"] == 4
    assert calibration["d2_mean"] == pytest.approx(4.0, abs=0.1)
    assert calibration["d2_median"] == pytest.approx(stats.chi2.median(4), abs=0.1)
    assert calibration["d2_fraction_below_chi2_68"] == pytest.approx(0.6827, abs=0.01)
    assert calibration["d2_fraction_below_chi2_95"] == pytest.approx(0.95, abs=0.005)
    assert calibration["chi2_quantile_95"] == pytest.approx(stats.chi2.ppf(0.95, 4))


def test_covariance_four_times_too_large_halves_the_pull_width(honest):
    y_true, mean, cov = honest
    metrics = target_metrics(y_true, mean, 4.0 * cov, names=NAMES, units=UNITS)
    for name in NAMES:
        assert metrics[name]["pull_std"] == pytest.approx(0.5, abs=0.015)
        assert metrics[name]["pull_robust_width"] == pytest.approx(0.5, abs=0.015)
        # The residuals themselves do not change.
        assert metrics[name]["rms"] == pytest.approx(
            target_metrics(*honest, names=NAMES, units=UNITS)[name]["rms"]
        )
    assert metrics["all"]["d2_mean"] == pytest.approx(1.0, abs=0.03)
    assert metrics["all"]["d2_fraction_below_chi2_68"] > 0.95


def test_ignored_correlations_show_in_d2_but_not_in_pulls(honest):
    y_true, mean, cov = honest
    variances = np.diagonal(cov, axis1=1, axis2=2)
    diagonal_cov = variances[:, :, None] * np.eye(4)
    metrics = target_metrics(y_true, mean, diagonal_cov, names=NAMES, units=UNITS)
    for name in NAMES:
        assert metrics[name]["pull_std"] == pytest.approx(1.0, abs=0.03)
    # The mean of d² stays k (E[rᵀ D⁻¹ r] = tr(D⁻¹ C) = k), but its spread grows.
    assert metrics["all"]["d2_mean"] == pytest.approx(4.0, abs=0.15)
    assert metrics["all"]["d2_fraction_below_chi2_95"] < 0.93


def test_per_target_statistics_match_numpy(honest):
    y_true, mean, cov = honest
    metrics = target_metrics(y_true, mean, cov, names=NAMES, units=UNITS)
    for i, (name, unit) in enumerate(zip(NAMES, UNITS, strict=True)):
        residual = mean[:, i] - y_true[:, i]
        sigma = np.sqrt(cov[:, i, i])
        q16, q84 = np.percentile(residual, [15.865525393, 84.134474607])
        target = metrics[name]
        assert target["bias"] == pytest.approx(residual.mean())
        assert target["rms"] == pytest.approx(np.sqrt(np.mean(residual**2)))
        assert target["std"] == pytest.approx(residual.std())
        assert target["rms"] ** 2 == pytest.approx(target["bias"] ** 2 + target["std"] ** 2)
        assert target["robust_width"] == pytest.approx((q84 - q16) / 2, rel=1e-6)
        assert target["mae"] == pytest.approx(np.abs(residual).mean())
        assert target["mean_predicted_sigma"] == pytest.approx(sigma.mean())
        assert target["coverage_1sigma"] == pytest.approx(np.mean(np.abs(residual) < sigma))
        assert target["unit"] == unit


def test_mahalanobis_and_pulls_match_explicit_inverse(honest):
    y_true, mean, cov = (array[:50] for array in honest)
    residual = mean - y_true
    expected_d2 = [r @ np.linalg.inv(c) @ r for r, c in zip(residual, cov, strict=True)]
    np.testing.assert_allclose(mahalanobis_squared(y_true, mean, cov), expected_d2, rtol=1e-10)
    expected_pulls = residual / np.sqrt(np.array([np.diag(c) for c in cov]))
    np.testing.assert_allclose(pulls(y_true, mean, cov), expected_pulls, rtol=1e-12)


def test_metrics_are_plain_json_values(honest):
    metrics = target_metrics(*honest, names=NAMES, units=UNITS)
    assert json.loads(json.dumps(metrics)) == metrics
    for entry in metrics.values():
        assert all(type(value) in (float, int, str) for value in entry.values())
    assert set(metrics) == {*NAMES, "all"}


def test_covariance_calibration_is_the_all_entry(honest):
    metrics = target_metrics(*honest, names=NAMES, units=UNITS)
    assert covariance_calibration(*honest) == metrics["all"]


def test_robust_width_of_a_gaussian_is_sigma_and_ignores_outliers():
    rng = np.random.default_rng(1)
    residual = rng.normal(0.0, 3.0, size=N_CLUSTERS)
    assert robust_width(residual) == pytest.approx(3.0, rel=0.03)
    with_outliers = residual.copy()
    with_outliers[:: len(residual) // 200] = 3000.0  # 1% of clusters 1000σ off
    assert robust_width(with_outliers) == pytest.approx(robust_width(residual), rel=0.03)
    rms = np.sqrt(np.mean(residual**2))
    rms_with_outliers = np.sqrt(np.mean(with_outliers**2))
    assert rms_with_outliers > 10 * rms


def test_outliers_inflate_rms_not_robust_width_in_target_metrics():
    y_true, mean, cov = gaussian_predictions(seed=2, n=5_000)
    mean = mean.copy()
    mean[:50, 0] += 1e4  # 1% of x-midplane predictions 1 cm off
    x = target_metrics(y_true, mean, cov, names=NAMES, units=UNITS)["x-midplane"]
    assert x["robust_width"] < 20.0  # σ ≈ 8 µm x a scale of 0.5 to 2
    assert x["rms"] > 500.0


def _metrics_with_generic_names(y_true, mean, cov):
    k = np.shape(y_true)[-1]
    return target_metrics(y_true, mean, cov, names=[f"t{i}" for i in range(k)], units=[""] * k)


def _one_target(n: int = 3):
    return np.zeros((n, 1)), np.ones((n, 1)), np.ones((n, 1, 1))


def _with(index: int, value):
    arrays = list(_one_target())
    array = arrays[index].copy()
    array.flat[0] = value
    arrays[index] = array
    return arrays


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ((np.zeros(3), np.zeros(3), np.ones((3, 1, 1))), "y_true must have shape"),
        ((np.zeros((3, 1)), np.zeros((2, 1)), np.ones((3, 1, 1))), "mean must have the shape"),
        ((np.zeros((3, 2)), np.zeros((3, 2)), np.ones((3, 2))), r"cov must have shape"),
        ((np.zeros((0, 1)), np.zeros((0, 1)), np.ones((0, 1, 1))), "y_true must have shape"),
        (_with(0, np.nan), "y_true contains 1 NaN or inf"),
        (_with(1, np.inf), "mean contains 1 NaN or inf"),
        (_with(2, np.nan), "cov contains 1 NaN or inf"),
        (_with(2, 0.0), "cov has 1 non-positive variances"),
        (_with(2, -1.0), r"cov has 1 non-positive variances .*cluster 0"),
        (
            (np.zeros((2, 2)), np.zeros((2, 2)), np.array([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]])),
            r"cov is not positive definite for 1 clusters \(first: cluster 1\)",
        ),
        (
            (np.zeros((1, 2)), np.zeros((1, 2)), np.array([[[1.0, 0.5], [0.0, 1.0]]])),
            "cov is not symmetric",
        ),
    ],
)
def test_bad_predictions_raise_one_line_naming_the_argument(arrays, match):
    for function in (_metrics_with_generic_names, mahalanobis_squared, pulls):
        with pytest.raises(ValueError, match=match) as error:
            function(*arrays)
        assert "\n" not in str(error.value)


def test_float32_rounding_asymmetry_is_accepted(honest):
    y_true, mean, cov = (array[:100] for array in honest)
    cov32 = cov.astype(np.float32)
    cov32[:, 0, 2] *= np.float32(1 + 1e-7)  # one ulp-sized asymmetry
    d2 = mahalanobis_squared(y_true, mean, cov32)
    np.testing.assert_allclose(d2, mahalanobis_squared(y_true, mean, cov), rtol=1e-3)


@pytest.mark.parametrize(
    ("names", "units", "match"),
    [
        (["a"], ["", "", "", ""], "names must be a list of 4 strings"),
        (NAMES, ["µm"], "units must be a list of 4 strings"),
        (["a", "a", "b", "c"], UNITS, "names must be unique"),
        (["all", "b", "c", "d"], UNITS, "names must not contain 'all'"),
        ("abcd", UNITS, "names must be a list"),
        ([1, 2, 3, 4], UNITS, "names must contain only strings"),
    ],
)
def test_bad_names_or_units_raise(honest, names, units, match):
    with pytest.raises(ValueError, match=match):
        target_metrics(*(array[:10] for array in honest), names=names, units=units)


def test_residual_profile_matches_histogram_computation():
    rng = np.random.default_rng(3)
    truth = rng.uniform(-1.0, 1.0, size=N_CLUSTERS)
    # A bias that grows with the truth and a resolution that worsens with it.
    residual = 0.1 * truth + rng.normal(size=truth.size) * (1.0 + truth)
    profile = residual_profile(truth, residual, bins=10, quantile_range=(0.01, 0.99))

    low, high = np.quantile(truth, [0.01, 0.99])
    edges = np.linspace(low, high, 11)
    counts, _ = np.histogram(truth, bins=edges)
    sums, _ = np.histogram(truth, bins=edges, weights=residual)
    np.testing.assert_allclose(profile["edges"], edges)
    assert profile["bin_index"] == list(range(10))
    assert profile["counts"] == counts.tolist()
    np.testing.assert_allclose(profile["mean"], sums / counts, rtol=1e-9)
    np.testing.assert_allclose(profile["centres"], (edges[1:] + edges[:-1]) / 2)
    centres = np.asarray(profile["centres"])
    np.testing.assert_allclose(profile["mean"], 0.1 * centres, atol=0.1)
    np.testing.assert_allclose(profile["robust_width"], 1.0 + centres, rtol=0.1)
    assert json.loads(json.dumps(profile)) == profile


def test_residual_profile_drops_sparse_bins():
    # 200 clusters on the left, 5 in the middle of the range, 200 on the right.
    truth = np.concatenate([np.linspace(0.0, 0.9, 200), [5.5] * 5, np.linspace(9.0, 10.0, 200)])
    profile = residual_profile(truth, np.zeros_like(truth), bins=10, quantile_range=(0.0, 1.0))
    assert profile["bin_index"] == [0, 9]
    assert profile["counts"] == [200, 200]
    assert len(profile["edges"]) == 11
    fewer = residual_profile(
        truth, np.zeros_like(truth), bins=10, quantile_range=(0.0, 1.0), min_entries=5
    )
    assert fewer["bin_index"] == [0, 5, 9]


def test_residual_profile_ignores_truth_outside_the_quantile_range():
    truth = np.concatenate([np.linspace(0.0, 1.0, 1000), [1e6]])
    residual = np.concatenate([np.zeros(1000), [1e6]])
    profile = residual_profile(truth, residual, bins=5, quantile_range=(0.0, 0.99))
    assert max(profile["mean"]) == 0.0
    assert profile["edges"][-1] < 1.0


@pytest.mark.parametrize(
    ("truth", "residual", "kwargs", "match"),
    [
        (np.zeros((5, 2)), np.zeros((5, 2)), {}, "truth must be a non-empty 1-D array"),
        (np.arange(5.0), np.zeros(4), {}, "residual must have the shape of truth"),
        (np.arange(5.0), np.array([0, 0, np.nan, 0, 0]), {}, "residual contains 1 NaN"),
        (np.arange(5.0), np.zeros(5), {"bins": 0}, "bins must be a positive integer"),
        (np.arange(5.0), np.zeros(5), {"bins": 2.5}, "bins must be a positive integer"),
        (np.arange(5.0), np.zeros(5), {"quantile_range": (0.9, 0.1)}, "quantile_range"),
        (np.ones(50), np.zeros(50), {}, "truth has no spread"),
    ],
)
def test_residual_profile_bad_input(truth, residual, kwargs, match):
    with pytest.raises(ValueError, match=match) as error:
        residual_profile(truth, residual, **kwargs)
    assert "\n" not in str(error.value)
