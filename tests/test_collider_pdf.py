"""GRV94 LO parton densities: sum rules, positivity, continuity, flavour relations."""

import numpy as np
import pytest
from scipy import integrate

from smartml.collider.constants import M_Z
from smartml.collider.parton_densities import FLAVOURS, GLUON, GRV94LO

PDF = GRV94LO()
SCALES_GEV = [M_Z, 5.0]


def _integral_over_x(function, power: int, q: float) -> float:
    """∫₀¹ x^power f(x) dx for f = function(xf dict) / x, by scipy quad in ln x.

    ``x f`` is what the densities give; ∫ x^power f dx = ∫ x^power (x f) d ln x."""

    def integrand(log_x: float) -> float:
        x = np.array([np.exp(log_x)])
        xf = function(PDF.xf_all(x, np.array([q * q])))
        return float(xf[0] * x[0] ** power)

    value, _ = integrate.quad(integrand, np.log(1e-8), 0.0, limit=400, points=[-5.0, -1.0])
    return value


@pytest.mark.parametrize("q", SCALES_GEV)
def test_momentum_sum_rule_of_the_evolved_partons(q):
    """u, d, s and g (the partons of the 3-flavour evolution) carry all the momentum."""
    light = _integral_over_x(lambda f: sum(f[p] for p in (1, 2, 3, -1, -2, -3)) + f[GLUON], 1, q)
    assert light == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("q", SCALES_GEV)
def test_valence_counts(q):
    up = _integral_over_x(lambda f: f[2] - f[-2], 0, q)
    down = _integral_over_x(lambda f: f[1] - f[-1], 0, q)
    strange = _integral_over_x(lambda f: f[3] - f[-3], 0, q)
    assert up == pytest.approx(2.0, rel=0.02)
    assert down == pytest.approx(1.0, rel=0.03)
    assert strange == 0.0


def test_heavy_quarks_vanish_below_their_thresholds_and_grow_with_the_scale():
    x = np.geomspace(1e-4, 0.5, 20)
    at = {q: PDF.xf_all(x, np.full_like(x, q * q)) for q in (1.2, 10.0, M_Z)}
    assert np.all(at[1.2][4] == 0.0) and np.all(at[1.2][5] == 0.0)
    assert np.all(at[10.0][4] > 0.0) and np.all(at[M_Z][4] > at[10.0][4])
    assert np.all(at[M_Z][5] > at[10.0][5])


def test_positive_everywhere_on_the_fitted_range():
    x, q2 = np.meshgrid(np.geomspace(1e-5, 0.999, 300), np.geomspace(0.4, 1e6, 40))
    for flavour, density in PDF.xf_all(x, q2).items():
        assert np.all(np.isfinite(density)), flavour
        assert np.all(density >= 0.0), flavour
    assert np.all(PDF.xf(GLUON, np.array([1.0]), np.array([100.0])) == 0.0)


@pytest.mark.parametrize("q", SCALES_GEV)
def test_continuous_in_x(q):
    """On a grid 0.1% apart in x, the slope of ln xf changes smoothly: a jump or a
    kink would show as a large second difference of ln xf."""
    x = np.geomspace(1e-5, 0.9, 12_000)
    for flavour in (1, 2, -1, -2, 3, 4, GLUON):
        log_density = np.log(PDF.xf(flavour, x, np.full_like(x, q * q)))
        assert np.all(np.isfinite(log_density)), flavour
        assert np.abs(np.diff(log_density, 2)).max() < 1e-3, flavour


def test_continuous_across_the_charm_threshold():
    """Charm switches on smoothly: zero just below the threshold, tiny just above."""
    threshold_q2 = np.exp(np.exp(0.888) * np.log(0.23 / 0.2322**2)) * 0.2322**2
    x = np.array([1e-3])
    below = PDF.xf(4, x, np.array([threshold_q2 * 0.999]))
    above = PDF.xf(4, x, np.array([threshold_q2 * 1.001]))
    assert below[0] == 0.0 and 0.0 < above[0] < 1e-3 * PDF.xf(GLUON, x, np.array([threshold_q2]))[0]


def test_flavour_relations():
    x = np.geomspace(1e-4, 0.8, 50)
    q2 = np.full_like(x, 1e4)
    f = PDF.xf_all(x, q2)
    parts = PDF.components(x, q2)
    np.testing.assert_allclose(f[-1] + f[-2], parts["udbar"], rtol=1e-12)
    np.testing.assert_allclose(f[2] - f[-2], parts["uv"], rtol=1e-12)
    assert np.all(f[-1][x < 0.1] > f[-2][x < 0.1])  # d̄ > ū (the Gottfried-sum deficit)
    for flavour in FLAVOURS:
        np.testing.assert_array_equal(PDF.xf(flavour, x, q2), f[flavour])


def test_broadcasts_and_rejects_bad_input():
    grid = PDF.xf(2, np.array([[0.1], [0.2]]), np.array([10.0, 100.0, 1000.0]))
    assert grid.shape == (2, 3)
    with pytest.raises(ValueError, match="unknown parton 7"):
        PDF.xf(7, np.array([0.1]), np.array([10.0]))
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        PDF.xf(1, np.array([0.0]), np.array([10.0]))
