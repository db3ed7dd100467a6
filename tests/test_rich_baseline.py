"""The ring-radius likelihood baseline against the Gaussian overlap it should reproduce."""

import json

import numpy as np
import pytest
from scipy import stats

from smartml.errors import DataError, RunDirectoryError
from smartml.metrics.point_regression import robust_width
from smartml.tasks.rich_pid import physics
from smartml.tasks.rich_pid.layout import MUON, PION, POSITRON
from smartml.tasks.rich_pid.ring_likelihood_baseline import (
    MIN_RINGS_PER_HIT_BIN,
    MIN_TAIL_FRACTION,
    NO_RING_SCORE,
    SCORE_LIMIT,
    RadiusResolution,
    RingLikelihoodBaseline,
    resolution_figure,
)

TRUE_RESOLUTION = RadiusResolution(stochastic_mm=12.0, constant_mm=1.5)


def synthetic_rings(n: int, seed: int = 0, outlier_fraction: float = 0.0):
    """Pion and muon rings: expected radius at the momentum, Gaussian σ(n_hits) scatter,
    optionally a fraction of radii spread uniformly (noise hits dragging the fit)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(MUON, PION + 1, n)
    momentum = rng.uniform(15.0, 45.0, n)
    n_hits = rng.integers(4, 25, n)
    mass = np.where(labels == PION, physics.PION_MASS, physics.MUON_MASS)
    radius = physics.ring_radius(momentum, mass) + rng.normal(size=n) * TRUE_RESOLUTION.sigma(
        n_hits
    )
    outlier = rng.random(n) < outlier_fraction
    radius[outlier] = rng.uniform(0.0, 300.0, outlier.sum())
    return radius, n_hits, momentum, labels


def binomial_tolerance(probability: float, n: int, sigmas: float = 5.0) -> float:
    return sigmas * np.sqrt(probability * (1 - probability) / n) + 1e-9


@pytest.mark.parametrize("threshold", [0.0, 2.0, -1.5])
def test_selection_matches_the_gaussian_overlap_of_the_two_radii(threshold):
    """At one momentum and one hit count, log L(π) − log L(μ) >= t cuts the radius at
    r < (R_π + R_μ)/2 − t σ²/ΔR, so the efficiencies are normal CDFs."""
    momentum, hits, n = 30.0, 16, 200_000
    sigma = float(TRUE_RESOLUTION.sigma(hits))
    r_pion = float(physics.ring_radius(momentum, physics.PION_MASS))
    r_muon = float(physics.ring_radius(momentum, physics.MUON_MASS))
    cut = (r_pion + r_muon) / 2 - threshold * sigma**2 / (r_muon - r_pion)
    rng = np.random.default_rng(1)
    baseline = RingLikelihoodBaseline(TRUE_RESOLUTION, tail_fraction=MIN_TAIL_FRACTION)
    expected = {
        r_pion: stats.norm.cdf(cut, loc=r_pion, scale=sigma),  # pion efficiency
        r_muon: stats.norm.cdf(cut, loc=r_muon, scale=sigma),  # muon mis-ID
    }
    for centre, probability in expected.items():
        radius = rng.normal(centre, sigma, n)
        scores = baseline.scores(radius, np.full(n, hits), np.full(n, momentum))
        assert np.mean(scores >= threshold) == pytest.approx(
            probability, abs=binomial_tolerance(probability, n)
        )


def test_resolution_fit_recovers_a_known_sigma_of_n_hits():
    radius, n_hits, momentum, labels = synthetic_rings(300_000)
    baseline = RingLikelihoodBaseline.fit(radius, n_hits, momentum, labels)
    assert baseline.resolution.stochastic_mm == pytest.approx(12.0, rel=0.03)
    assert baseline.resolution.constant_mm == pytest.approx(1.5, abs=0.3)
    measured = baseline.measured
    assert measured["n_hits"] == list(range(4, 25))
    np.testing.assert_allclose(
        measured["sigma_mm"], TRUE_RESOLUTION.sigma(measured["n_hits"]), rtol=0.04
    )
    # The per-bin widths are the robust widths of the true-class residuals.
    mass = np.where(labels == PION, physics.PION_MASS, physics.MUON_MASS)
    residual = radius - physics.ring_radius(momentum, mass)
    assert measured["sigma_mm"][0] == pytest.approx(robust_width(residual[n_hits == 4]))
    assert baseline.n_fit_rings == radius.size
    # Without outliers only the floor of the tail remains.
    assert baseline.tail_fraction == MIN_TAIL_FRACTION


def test_tail_fraction_is_measured_and_keeps_every_score_finite_and_bounded():
    radius, n_hits, momentum, labels = synthetic_rings(100_000, seed=2, outlier_fraction=0.02)
    baseline = RingLikelihoodBaseline.fit(radius, n_hits, momentum, labels)
    # Uniform outliers that land within 5σ of the expectation are not counted.
    assert 0.012 < baseline.tail_fraction <= 0.02
    extreme = np.array([0.0, 1e-3, 1e6, 1e300, 190.0])
    scores = baseline.scores(extreme, np.full(5, 3), np.full(5, 15.0))
    assert np.isfinite(scores).all() and np.abs(scores).max() <= SCORE_LIMIT
    # Far from both expectations the tails take over: no preference.
    assert scores[3] == pytest.approx(0.0, abs=1e-9)


def test_events_without_a_ring_score_below_every_ring():
    baseline = RingLikelihoodBaseline(TRUE_RESOLUTION, tail_fraction=1e-3)
    radius = np.array([np.nan, 170.0, 170.0, 170.0])
    scores = baseline.scores(radius, np.array([10, 2, 3, 0]), np.full(4, 25.0))
    assert scores[[0, 1, 3]].tolist() == [NO_RING_SCORE] * 3
    assert NO_RING_SCORE < -SCORE_LIMIT < scores[2]


def test_fit_ignores_positrons_and_events_without_a_ring():
    radius, n_hits, momentum, labels = synthetic_rings(50_000, seed=3)
    reference = RingLikelihoodBaseline.fit(radius, n_hits, momentum, labels)
    extra = 5_000
    with_junk = RingLikelihoodBaseline.fit(
        np.concatenate([radius, np.full(extra, 250.0), np.full(extra, np.nan)]),
        np.concatenate([n_hits, np.full(2 * extra, 10)]),
        np.concatenate([momentum, np.full(2 * extra, 20.0)]),
        np.concatenate([labels, np.full(extra, POSITRON), np.full(extra, PION)]),
    )
    assert with_junk == reference


def test_json_round_trip_gives_the_same_baseline_and_scores(tmp_path):
    radius, n_hits, momentum, labels = synthetic_rings(20_000, seed=4, outlier_fraction=0.01)
    baseline = RingLikelihoodBaseline.fit(radius, n_hits, momentum, labels)
    path = tmp_path / "ring_baseline.json"
    baseline.to_json(path)
    loaded = RingLikelihoodBaseline.from_json(path)
    assert loaded == baseline and loaded.measured == baseline.measured
    np.testing.assert_array_equal(
        loaded.scores(radius, n_hits, momentum), baseline.scores(radius, n_hits, momentum)
    )
    assert json.loads(path.read_text())["resolution"]["stochastic_mm"] == pytest.approx(
        baseline.resolution.stochastic_mm
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop("tail_fraction"), "missing key 'tail_fraction'"),
        (lambda c: c.update(extra=1), "unexpected key 'extra'"),
        (lambda c: c.update(version=9), "key 'version' is 9, expected 1"),
        (lambda c: c["resolution"].update(constant_mm="x"), "key 'constant_mm' must be a number"),
        (lambda c: c.update(tail_fraction=2.0), "tail_fraction must be in"),
        (lambda c: c.update(n_fit_rings=-1), "key 'n_fit_rings' must be an integer >= 0"),
    ],
)
def test_a_damaged_baseline_file_is_one_line_naming_file_and_key(tmp_path, change, message):
    baseline = RingLikelihoodBaseline(TRUE_RESOLUTION, tail_fraction=1e-3, n_fit_rings=7)
    content = baseline.to_dict()
    change(content)
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(content))
    with pytest.raises(RunDirectoryError, match=message) as error:
        RingLikelihoodBaseline.from_json(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("radius", "n_hits", "momentum", "message"),
    [
        (
            [150.0, 160.0],
            [10, 10],
            [20.0, np.nan],
            r"momentum must be finite and > 0 GeV/c.*index 1",
        ),
        ([150.0, np.inf], [10, 10], [20.0, 20.0], r"radius must be finite or NaN"),
        ([150.0, 160.0], [10, -1], [20.0, 20.0], r"n_hits must be >= 0"),
        ([150.0, 160.0], [10.5, 3], [20.0, 20.0], r"n_hits must be whole numbers"),
        ([150.0, 160.0], [10], [20.0, 20.0], r"n_hits must have the shape of radius"),
    ],
)
def test_bad_event_arrays_are_refused_in_one_line(radius, n_hits, momentum, message):
    baseline = RingLikelihoodBaseline(TRUE_RESOLUTION, tail_fraction=1e-3)
    with pytest.raises(DataError, match=message) as error:
        baseline.scores(radius, n_hits, momentum)
    assert "\n" not in str(error.value)


def test_too_few_rings_per_hit_count_cannot_measure_the_resolution():
    n = MIN_RINGS_PER_HIT_BIN
    radius = np.full(n, 180.0) + np.random.default_rng(0).normal(0, 3, n)
    with pytest.raises(DataError, match=r"1 hit count.*need at least 2"):
        RingLikelihoodBaseline.fit(radius, np.full(n, 12), np.full(n, 40.0), np.full(n, PION))


def test_resolution_figure_draws_the_measurement_and_the_fit():
    radius, n_hits, momentum, labels = synthetic_rings(30_000, seed=5)
    baseline = RingLikelihoodBaseline.fit(radius, n_hits, momentum, labels)
    points, curve = resolution_figure(baseline, "pointnet").axes[0].lines
    np.testing.assert_allclose(
        points.get_xydata(),
        np.stack([baseline.measured["n_hits"], baseline.measured["sigma_mm"]], axis=1),
    )
    np.testing.assert_allclose(curve.get_ydata(), baseline.resolution.sigma(curve.get_xdata()))
