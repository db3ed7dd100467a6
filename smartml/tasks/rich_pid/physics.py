"""Cherenkov rings in NA62's RICH: neon radiator, 17 m focal length.

A particle of momentum p and mass m has β = p / √(p² + m²) and emits at the
Cherenkov angle cos θc = 1 / (n β) when n β > 1. The spherical mirror focuses the
cone onto a ring of radius R = f · tan θc on the PMT plane, independent of where the
track crosses it. With n − 1 = 62.8×10⁻⁶ and f = 17 m the saturated radius (β → 1)
is ≈ 190 mm and the thresholds are ≈ 12.5 GeV/c (π) and ≈ 9.4 GeV/c (μ). The number
of photo-electrons grows as sin²θc.

>>> round(float(ring_radius(1e6, PION_MASS)), 1)
190.5
>>> round(float(threshold_momentum(PION_MASS)), 2), round(float(threshold_momentum(MUON_MASS)), 2)
(12.45, 9.43)
>>> round(float(ring_radius(15.0, PION_MASS)))
106
>>> float(ring_radius(5.0, PION_MASS))
0.0

The squared mass of a track from its momentum and ring radius inverts the chain:

>>> round(float(ring_mass_squared(30.0, ring_radius(30.0, MUON_MASS)) / MUON_MASS**2), 6)
1.0
"""

import numpy as np

NEON_INDEX_MINUS_ONE = 62.8e-6
FOCAL_LENGTH_MM = 17_000.0
MUON_MASS = 0.1056584  # GeV/c^2
PION_MASS = 0.1395704
POSITRON_MASS = 0.000511
MASSES = {"muon": MUON_MASS, "pion": PION_MASS, "positron": POSITRON_MASS}


def cos_cherenkov_angle(momentum, mass):
    """cos θc = 1/(nβ); values above 1 mean below threshold (no light)."""
    momentum = np.asarray(momentum, dtype=np.float64)
    beta = momentum / np.sqrt(momentum**2 + mass**2)
    return 1.0 / ((1.0 + NEON_INDEX_MINUS_ONE) * beta)


def sin2_cherenkov_angle(momentum, mass):
    """sin²θc (0 below threshold): photo-electrons per ring are proportional to it."""
    cos = cos_cherenkov_angle(momentum, mass)
    return np.where(cos < 1.0, 1.0 - np.minimum(cos, 1.0) ** 2, 0.0)


def ring_radius(momentum, mass):
    """Ring radius in mm, f·tan θc (0 below threshold)."""
    cos = np.minimum(cos_cherenkov_angle(momentum, mass), 1.0)
    return FOCAL_LENGTH_MM * np.sqrt(1.0 - cos**2) / cos


def threshold_momentum(mass):
    """Momentum (GeV/c) above which a particle of ``mass`` radiates: nβ = 1."""
    n = 1.0 + NEON_INDEX_MINUS_ONE
    return mass / np.sqrt(n**2 - 1.0)


def ring_mass_squared(momentum, radius):
    """The squared mass (GeV²/c⁴) that a track of ``momentum`` (GeV/c) with a ring of
    ``radius`` (mm) has: ``m² = p² (n² cos²θc − 1)`` with ``tan θc = R / f``, the
    standard RICH mass estimate. Its resolution grows as p², its centre does not move
    with p (μ at 0.0112, π at 0.0195 GeV²/c⁴), so a quantized network separates the
    two with one threshold instead of learning R_π(p) and R_μ(p). Radius 0 (no ring)
    gives ``p² (n² − 1)``, heavier than any radiating particle.
    """
    momentum = np.asarray(momentum, dtype=np.float64)
    tan = np.asarray(radius, dtype=np.float64) / FOCAL_LENGTH_MM
    n = 1.0 + NEON_INDEX_MINUS_ONE
    return momentum**2 * (n**2 / (1.0 + tan**2) - 1.0)
