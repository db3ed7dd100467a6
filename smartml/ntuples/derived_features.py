"""Features computed from branches, by name: an azimuthal difference, an invariant mass
and a balance.

Kept small on purpose: each is a closed formula on float64 numpy arrays, tested against
independent numpy code (tests/test_ntuples_derived.py).
"""

import numpy as np


def delta_phi(phi: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``phi − reference`` wrapped to (−π, π].

    Args:
        phi, reference: azimuthal angles in radians (same shape).

    Returns:
        the difference, float64, in (−π, π] (−π itself maps to +π).

    >>> delta_phi(np.array([3.0, -3.0, np.pi]), np.array([-3.0, 3.0, 0.0])).round(4)
    array([-0.2832,  0.2832,  3.1416])
    """
    difference = np.asarray(phi, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    # np.mod maps to [0, 2π); 2π − mod(π − d) lands in (−π, π] with +π kept.
    return np.pi - np.mod(np.pi - difference, 2 * np.pi)


def invariant_mass(
    first: tuple[np.ndarray, np.ndarray, np.ndarray, float],
    second: tuple[np.ndarray, np.ndarray, np.ndarray, float],
) -> np.ndarray:
    """Invariant mass of two objects given as (pT, η, φ, mass).

    Args:
        first, second: transverse momentum, pseudorapidity, azimuth (arrays of one shape)
            and the object's rest mass (0 for massless), in consistent units (GeV).

    Returns:
        m = √((E₁ + E₂)² − |p₁ + p₂|²), float64; tiny negative m² from rounding give 0.

    >>> m = invariant_mass((np.array([45.0]), np.array([0.0]), np.array([0.0]), 0.0),
    ...                    (np.array([45.0]), np.array([0.0]), np.array([np.pi]), 0.0))
    >>> m.round(6)
    array([90.])
    """
    energy = np.zeros(np.shape(first[0]))
    momentum = np.zeros((3, *np.shape(first[0])))
    for pt, eta, phi, mass in (first, second):
        pt, eta, phi = (np.asarray(a, dtype=np.float64) for a in (pt, eta, phi))
        components = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)])
        momentum += components
        energy += np.sqrt(np.sum(components**2, axis=0) + mass**2)
    squared = energy**2 - np.sum(momentum**2, axis=0)
    return np.sqrt(np.maximum(squared, 0.0))


def balance(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``(first − second) / (first + second)``, float64 (0 where both are 0).

    >>> balance(np.array([60.0, 0.0]), np.array([40.0, 0.0])).tolist()
    [0.2, 0.0]
    """
    a, b = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    total = a + b
    return np.divide(a - b, total, out=np.zeros_like(total), where=total != 0)
