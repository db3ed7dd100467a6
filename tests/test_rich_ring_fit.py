"""Tests of the vectorised circle fit against scipy's geometric least-squares fits."""

import numpy as np
import pytest
from scipy.optimize import least_squares

from smartml.tasks.rich_pid.ring_fit import fit_circles, taubin_fit

N_EVENTS, WIDTH = 150, 24


def random_rings(rng, noise_mm=3.0, min_hits=5):
    """Padded hits of random rings: (x, y, mask, true centre x, y, radius)."""
    centre_x = rng.uniform(-150, 150, N_EVENTS)
    centre_y = rng.uniform(-150, 150, N_EVENTS)
    radius = rng.uniform(80, 190, N_EVENTS)
    hits = rng.integers(min_hits, WIDTH - 3, N_EVENTS)
    mask = np.arange(WIDTH)[None] < hits[:, None]
    azimuth = rng.uniform(0, 2 * np.pi, (N_EVENTS, WIDTH))
    distance = radius[:, None] + noise_mm * rng.standard_normal((N_EVENTS, WIDTH))
    x = np.where(mask, centre_x[:, None] + distance * np.cos(azimuth), 0.0)
    y = np.where(mask, centre_y[:, None] + distance * np.sin(azimuth), 0.0)
    return x, y, mask, centre_x, centre_y, radius


def geometric_fit(x, y, start):
    """Circle minimising the sum of squared distances of the points from it."""
    result = least_squares(
        lambda p: np.hypot(x - p[0], y - p[1]) - p[2], start, xtol=1e-12, ftol=1e-12
    )
    return result.x


def geometric_fits(x, y, mask, start):
    return np.array([geometric_fit(x[i, mask[i]], y[i, mask[i]], start[i]) for i in range(len(x))])


def test_taubin_agrees_with_the_geometric_fit_on_noisy_rings():
    x, y, mask, *truth = random_rings(np.random.default_rng(1))
    fit = fit_circles(x, y, mask, refinements=0)
    geometric = geometric_fits(x, y, mask, np.column_stack(truth))
    ours = np.column_stack([fit.centre_x, fit.centre_y, fit.radius])
    assert fit.valid.all()
    assert np.abs(ours - geometric).max() < 0.5  # mm; both are within ~2 mm of the truth
    assert np.median(np.abs(ours - geometric)) < 0.05
    assert np.array_equal(fit.n_used, mask.sum(axis=1))


def test_partial_arcs_are_fitted_like_the_geometric_fit():
    rng = np.random.default_rng(2)
    angle = rng.uniform(0, 2 * np.pi, (N_EVENTS, 1)) + rng.uniform(0, np.pi, (N_EVENTS, 12))
    x, y = 40 + 150 * np.cos(angle), -20 + 150 * np.sin(angle)
    x, y = x + rng.normal(0, 1, x.shape), y + rng.normal(0, 1, y.shape)
    mask = np.ones(x.shape, dtype=bool)
    fit = fit_circles(x, y, mask, refinements=0)
    geometric = geometric_fits(x, y, mask, np.tile([40.0, -20.0, 150.0], (N_EVENTS, 1)))
    assert np.abs(fit.radius - geometric[:, 2]).max() < 1.0


def test_noise_hits_are_rejected_and_the_ring_fitted_as_without_them():
    rng = np.random.default_rng(3)
    x, y, mask, *truth = random_rings(rng, min_hits=8)
    ring_hits = mask.copy()
    # 1-3 noise hits per event, at least 50 mm off the ring, anywhere in a 600 mm square.
    for event in range(N_EVENTS):
        first = mask[event].sum()
        for slot in range(first, first + rng.integers(1, 4)):
            while True:
                px, py = rng.uniform(-300, 300, 2)
                distance = np.hypot(px - truth[0][event], py - truth[1][event])
                if abs(distance - truth[2][event]) > 50:
                    break
            x[event, slot], y[event, slot], mask[event, slot] = px, py, True
    fit = fit_circles(x, y, mask)
    inliers_only = geometric_fits(x, y, ring_hits, np.column_stack(truth))
    plain = taubin_fit(x, y, mask)
    assert np.mean(np.all(fit.used == ring_hits, axis=1)) > 0.97
    assert np.median(np.abs(fit.radius - inliers_only[:, 2])) < 0.1
    assert np.mean(np.abs(fit.radius - inliers_only[:, 2]) < 1.0) > 0.97
    # Without rejection the noise pulls the fit far off: the test above can fail.
    assert np.mean(np.abs(plain[2] - inliers_only[:, 2]) > 5.0) > 0.5


def test_events_with_fewer_than_three_hits_or_collinear_hits_are_flagged_without_nan():
    x = np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 2.0], [5.0, 0.0, -5.0]])
    y = np.array([[1.0, 5.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 2.0], [0.0, 5.0, 0.0]])
    mask = np.array([[1, 1, 0], [0, 0, 0], [1, 1, 1], [1, 1, 1]], dtype=bool)
    fit = fit_circles(x, y, mask)
    assert fit.valid.tolist() == [False, False, False, True]
    assert fit.n_used.tolist() == [2, 0, 3, 3]
    for values in (fit.centre_x, fit.centre_y, fit.radius, fit.rms):
        assert np.isfinite(values).all()
        assert (values[:3] == 0).all()
    assert fit.radius[3] == pytest.approx(5.0)
    assert not fit.used[:3].any()


def test_rms_is_that_of_the_radial_residuals_of_the_hits_used():
    x, y, mask, *_ = random_rings(np.random.default_rng(4))
    fit = fit_circles(x, y, mask)
    for event in range(0, N_EVENTS, 15):
        used = fit.used[event]
        distance = np.hypot(
            x[event, used] - fit.centre_x[event], y[event, used] - fit.centre_y[event]
        )
        expected = np.sqrt(np.mean((distance - fit.radius[event]) ** 2))
        assert fit.rms[event] == pytest.approx(expected, rel=1e-9)
