"""Charge centroid and its linear calibration."""

import json

import numpy as np
import pytest
from scipy import stats

from smartml.tasks.smart_pixels.centroid_baseline import CentroidBaseline, charge_centroid

PITCH_X, PITCH_Y = 50.0, 12.5
N_ROWS, N_COLUMNS = 13, 21


def empty_clusters(n: int) -> np.ndarray:
    return np.zeros((n, N_ROWS, N_COLUMNS))


@pytest.mark.parametrize(("row", "column"), [(6, 10), (0, 0), (12, 20), (7, 3), (2, 15)])
def test_charge_in_one_pixel_gives_that_pixel_centre(row, column):
    clusters = empty_clusters(1)
    clusters[0, row, column] = 1234.0
    np.testing.assert_allclose(
        charge_centroid(clusters, PITCH_X, PITCH_Y),
        [[(row - 6) * PITCH_X, (column - 10) * PITCH_Y]],
    )


def test_symmetric_sharing_gives_the_midpoint():
    clusters = empty_clusters(2)
    clusters[0, 3, 10] = clusters[0, 4, 10] = 800.0  # shared by two rows: x between them
    clusters[1, 6, 14] = clusters[1, 6, 15] = 800.0  # shared by two columns
    np.testing.assert_allclose(
        charge_centroid(clusters, PITCH_X, PITCH_Y),
        [[-2.5 * PITCH_X, 0.0], [0.0, 4.5 * PITCH_Y]],
    )


def test_centroid_matches_explicit_weighted_mean():
    rng = np.random.default_rng(0)
    clusters = rng.exponential(1000.0, size=(20, N_ROWS, N_COLUMNS)).astype(np.float32)
    x_of_pixel, y_of_pixel = np.meshgrid(
        (np.arange(N_ROWS) - 6) * PITCH_X, (np.arange(N_COLUMNS) - 10) * PITCH_Y, indexing="ij"
    )
    expected = [
        [np.average(x_of_pixel, weights=c), np.average(y_of_pixel, weights=c)] for c in clusters
    ]
    np.testing.assert_allclose(charge_centroid(clusters, PITCH_X, PITCH_Y), expected, rtol=1e-6)


def test_empty_clusters_give_nan_without_warnings():
    clusters = empty_clusters(3)
    clusters[1, 6, 10] = 500.0
    centroid = charge_centroid(clusters, PITCH_X, PITCH_Y)  # warnings are errors in pytest
    assert np.isnan(centroid[[0, 2]]).all()
    np.testing.assert_array_equal(centroid[1], [0.0, 0.0])


def gaussian_clusters(positions: np.ndarray, spread_um: float, charge: float) -> np.ndarray:
    """Clusters of a Gaussian charge cloud: each pixel holds the charge inside it."""
    row_edges = (np.arange(N_ROWS + 1) - 6.5) * PITCH_X
    column_edges = (np.arange(N_COLUMNS + 1) - 10.5) * PITCH_Y
    fraction_x = np.diff(stats.norm.cdf(row_edges, positions[:, :1], spread_um), axis=1)
    fraction_y = np.diff(stats.norm.cdf(column_edges, positions[:, 1:], spread_um), axis=1)
    return charge * fraction_x[:, :, None] * fraction_y[:, None, :]


def test_calibration_removes_a_lorentz_shift():
    rng = np.random.default_rng(1)
    true_positions = np.column_stack(
        [rng.uniform(-PITCH_X, PITCH_X, 2000), rng.uniform(-PITCH_Y, PITCH_Y, 2000)]
    )
    lorentz_shift_um = 15.0  # the charge cloud lands 15 µm further along y
    cloud_centres = true_positions + np.array([0.0, lorentz_shift_um])
    clusters = gaussian_clusters(cloud_centres, spread_um=12.0, charge=20_000.0)
    raw_residual = charge_centroid(clusters, PITCH_X, PITCH_Y) - true_positions
    assert np.mean(raw_residual[:, 1]) == pytest.approx(lorentz_shift_um, abs=1.0)

    baseline = CentroidBaseline.fit(clusters, true_positions, PITCH_X, PITCH_Y)
    assert baseline.offset_y_um == pytest.approx(-lorentz_shift_um, abs=1.0)
    calibrated_residual = baseline.predict(clusters) - true_positions
    np.testing.assert_allclose(calibrated_residual.mean(axis=0), 0.0, atol=1e-9)
    assert np.abs(calibrated_residual[:, 1]).mean() < 0.2 * np.abs(raw_residual[:, 1]).mean()


def test_fit_recovers_a_known_offset_and_slope_and_ignores_empty_clusters():
    rng = np.random.default_rng(2)
    clusters = rng.exponential(1000.0, size=(300, N_ROWS, N_COLUMNS))
    clusters[::10] = 0.0  # 30 empty clusters, with absurd positions: they must not count
    centroid = charge_centroid(clusters, PITCH_X, PITCH_Y)
    positions = np.column_stack([3.0 + 0.9 * centroid[:, 0], -20.0 + 1.1 * centroid[:, 1]])
    positions[::10] = 1e6

    baseline = CentroidBaseline.fit(clusters, positions, PITCH_X, PITCH_Y)
    assert baseline.offset_x_um == pytest.approx(3.0)
    assert baseline.slope_x == pytest.approx(0.9)
    assert baseline.offset_y_um == pytest.approx(-20.0)
    assert baseline.slope_y == pytest.approx(1.1)
    assert baseline.n_fit_clusters == 270

    predicted = baseline.predict(clusters)
    assert np.isnan(predicted[::10]).all()
    has_charge = np.ones(300, dtype=bool)
    has_charge[::10] = False
    np.testing.assert_allclose(predicted[has_charge], positions[has_charge])


def test_fit_matches_numpy_polyfit_on_noisy_positions():
    rng = np.random.default_rng(3)
    clusters = rng.exponential(1000.0, size=(200, N_ROWS, N_COLUMNS))
    centroid = charge_centroid(clusters, PITCH_X, PITCH_Y)
    positions = centroid * [1.2, 0.8] + [5.0, -7.0] + rng.normal(0, 2.0, size=(200, 2))
    baseline = CentroidBaseline.fit(clusters, positions, PITCH_X, PITCH_Y)
    slope_x, offset_x = np.polyfit(centroid[:, 0], positions[:, 0], 1)
    slope_y, offset_y = np.polyfit(centroid[:, 1], positions[:, 1], 1)
    assert (baseline.slope_x, baseline.offset_x_um) == pytest.approx((slope_x, offset_x))
    assert (baseline.slope_y, baseline.offset_y_um) == pytest.approx((slope_y, offset_y))


def test_dict_round_trip_through_json():
    rng = np.random.default_rng(4)
    clusters = rng.exponential(1000.0, size=(50, N_ROWS, N_COLUMNS))
    positions = rng.normal(0.0, 10.0, size=(50, 2))
    baseline = CentroidBaseline.fit(clusters, positions, PITCH_X, PITCH_Y)
    restored = CentroidBaseline.from_dict(json.loads(json.dumps(baseline.to_dict())))
    assert restored == baseline
    np.testing.assert_array_equal(restored.predict(clusters), baseline.predict(clusters))


def test_from_dict_names_missing_and_bad_keys():
    values = CentroidBaseline(PITCH_X, PITCH_Y, 0.0, 0.0, 1.0, 1.0, 10).to_dict()
    del values["slope_y"]
    with pytest.raises(ValueError, match=r"missing keys \['slope_y'\]"):
        CentroidBaseline.from_dict(values)
    values["slope_y"] = "steep"
    with pytest.raises(ValueError, match="'slope_y' must be a number"):
        CentroidBaseline.from_dict(values)
    values["slope_y"], values["extra"] = 1.0, 2.0
    with pytest.raises(ValueError, match=r"unknown keys \['extra'\]"):
        CentroidBaseline.from_dict(values)


@pytest.mark.parametrize("n_with_charge", [0, 1])
def test_fit_needs_two_clusters_with_charge(n_with_charge):
    clusters = empty_clusters(5)
    clusters[:n_with_charge, 6, 10] = 100.0
    with pytest.raises(ValueError, match=f"pixels has {n_with_charge} clusters with charge"):
        CentroidBaseline.fit(clusters, np.zeros((5, 2)), PITCH_X, PITCH_Y)


def test_fit_needs_spread_of_the_centroid():
    clusters = empty_clusters(4)
    clusters[:, 6, 10] = 100.0
    clusters[:, 6, 11] = [100.0, 200.0, 300.0, 400.0]  # y varies, x is always 0
    with pytest.raises(ValueError, match="the x centroid has the same value"):
        CentroidBaseline.fit(clusters, np.zeros((4, 2)), PITCH_X, PITCH_Y)


@pytest.mark.parametrize(
    ("pixels", "positions", "pitch_x", "match"),
    [
        (np.ones((3, 273)), np.zeros((3, 2)), PITCH_X, "pixels must have shape"),
        (np.full((3, 13, 21), np.nan), np.zeros((3, 2)), PITCH_X, "pixels contains NaN"),
        (-np.ones((3, 13, 21)), np.zeros((3, 2)), PITCH_X, "pixels contains 819 negative"),
        (np.ones((3, 13, 21)), np.zeros((3, 3)), PITCH_X, r"positions must have shape"),
        (np.ones((3, 13, 21)), np.full((3, 2), np.inf), PITCH_X, "positions contains NaN"),
        (np.ones((3, 13, 21)), np.zeros((3, 2)), 0.0, "pitch_x_um must be a positive"),
        (np.ones((3, 13, 21)), np.zeros((3, 2)), "50", "pitch_x_um must be a positive"),
    ],
)
def test_bad_input_raises_one_line_naming_the_argument(pixels, positions, pitch_x, match):
    with pytest.raises(ValueError, match=match) as error:
        CentroidBaseline.fit(pixels, positions, pitch_x, PITCH_Y)
    assert "\n" not in str(error.value)
