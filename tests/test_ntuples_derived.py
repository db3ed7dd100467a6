"""Derived features against independent numpy formulas."""

import numpy as np

from smartml.ntuples.derived_features import delta_phi, invariant_mass


def test_delta_phi_is_the_wrapped_difference():
    rng = np.random.default_rng(3)
    phi, reference = rng.uniform(-10, 10, (2, 10_000))
    expected = np.angle(np.exp(1j * (phi - reference)))  # (−π, π]
    result = delta_phi(phi, reference)
    np.testing.assert_allclose(result, expected, atol=1e-12)
    assert result.min() > -np.pi and result.max() <= np.pi


def test_delta_phi_of_opposite_directions_is_plus_pi():
    assert delta_phi(np.array([0.0, np.pi]), np.array([np.pi, 0.0])).tolist() == [np.pi, np.pi]


def _four_vector(pt, eta, phi, mass):
    """E, px, py, pz from the polar angle: |p| = pT / sin θ, θ = 2 atan(exp(−η))."""
    theta = 2 * np.arctan(np.exp(-eta))
    p = pt / np.sin(theta)
    return np.stack([np.hypot(p, mass), pt * np.cos(phi), pt * np.sin(phi), p * np.cos(theta)])


def test_invariant_mass_matches_four_vectors():
    rng = np.random.default_rng(5)
    n = 1000
    a = (rng.uniform(5, 100, n), rng.uniform(-3, 3, n), rng.uniform(-np.pi, np.pi, n), 0.105)
    b = (rng.uniform(5, 100, n), rng.uniform(-3, 3, n), rng.uniform(-np.pi, np.pi, n), 4.7)
    total = _four_vector(*a) + _four_vector(*b)
    expected = np.sqrt(total[0] ** 2 - np.sum(total[1:] ** 2, axis=0))
    np.testing.assert_allclose(invariant_mass(a, b), expected, rtol=1e-9)


def test_massless_invariant_mass_is_the_collider_formula():
    rng = np.random.default_rng(6)
    pt1, pt2 = rng.uniform(5, 100, (2, 500))
    eta1, eta2 = rng.uniform(-2.5, 2.5, (2, 500))
    phi1, phi2 = rng.uniform(-np.pi, np.pi, (2, 500))
    expected = np.sqrt(2 * pt1 * pt2 * (np.cosh(eta1 - eta2) - np.cos(phi1 - phi2)))
    result = invariant_mass((pt1, eta1, phi1, 0.0), (pt2, eta2, phi2, 0.0))
    np.testing.assert_allclose(result, expected, rtol=1e-7)
