"""Vectorised four-vector helpers: (E, px, py, pz) arrays of shape (n, 4), GeV.

>>> p = from_rest_frame_decay(np.array([45.5]), np.array([0.0]), np.array([1.0]), np.array([0.0]))
>>> np.round(p, 3).tolist()
[[45.5, 0.0, 0.0, 45.5]]
>>> np.round(boost_z(p, np.array([0.5]))[0], 3).tolist()
[75.017, 0.0, 0.0, 75.017]
"""

import numpy as np

# Scalars broadcast against the arrays of the other arguments.
Values = np.ndarray | float


def two_body_momentum(mass: Values, mass1: Values, mass2: Values) -> np.ndarray:
    """|p| of either daughter of a two-body decay in the parent's rest frame.

    ``√λ(M², m1², m2²) / (2M)``; 0 where the decay is closed.
    """
    lam = (mass**2 - (mass1 + mass2) ** 2) * (mass**2 - (mass1 - mass2) ** 2)
    return np.asarray(np.sqrt(np.clip(lam, 0.0, None)) / (2.0 * np.asarray(mass)))


def from_rest_frame_decay(
    momentum: Values, mass: Values, cos_theta: Values, phi: Values
) -> np.ndarray:
    """Four-vectors of momentum ``momentum`` and mass ``mass`` along (θ, φ)."""
    sin_theta = np.sqrt(np.clip(1.0 - cos_theta**2, 0.0, None))
    energy = np.sqrt(momentum**2 + mass**2)
    return np.stack(
        [
            energy,
            momentum * sin_theta * np.cos(phi),
            momentum * sin_theta * np.sin(phi),
            momentum * cos_theta,
        ],
        axis=-1,
    )


def boost_z(p4: np.ndarray, rapidity: np.ndarray) -> np.ndarray:
    """Boost along +z by ``rapidity``: the frame moving with rapidity −y sees p4 with +y."""
    cosh, sinh = np.cosh(rapidity), np.sinh(rapidity)
    energy = cosh * p4[:, 0] + sinh * p4[:, 3]
    pz = sinh * p4[:, 0] + cosh * p4[:, 3]
    return np.stack([energy, p4[:, 1], p4[:, 2], pz], axis=-1)


def boost(p4: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Take p4 from the rest frame of ``parent`` to the frame where ``parent`` is given.

    Args:
        p4: (n, 4) four-vectors in the parent's rest frame.
        parent: (n, 4) the parent's four-vectors.

    Returns:
        (n, 4) four-vectors in the parent's frame.
    """
    mass = np.sqrt(np.clip(parent[:, 0] ** 2 - np.sum(parent[:, 1:] ** 2, axis=1), 1e-12, None))
    beta = parent[:, 1:] / parent[:, :1]
    gamma = parent[:, 0] / mass
    beta_dot_p = np.sum(beta * p4[:, 1:], axis=1)
    # (γ − 1)/β², written as γ²/(γ + 1), stays finite for a parent at rest.
    factor = gamma**2 / (gamma + 1.0) * beta_dot_p + gamma * p4[:, 0]
    energy = gamma * (p4[:, 0] + beta_dot_p)
    return np.concatenate([energy[:, None], p4[:, 1:] + factor[:, None] * beta], axis=1)


def pt_eta_phi(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transverse momentum, pseudorapidity and azimuth (in (−π, π]) of (n, 4) vectors."""
    pt = np.hypot(p4[:, 1], p4[:, 2])
    eta = np.arcsinh(p4[:, 3] / np.maximum(pt, 1e-12))
    return pt, eta, np.arctan2(p4[:, 2], p4[:, 1])


def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Azimuths wrapped into (−π, π].

    >>> float(wrap_phi(np.array([3 * np.pi / 2]))[0]) == -np.pi / 2
    True
    """
    wrapped = np.mod(phi + np.pi, 2.0 * np.pi) - np.pi
    return np.where(wrapped == -np.pi, np.pi, wrapped)


def invariant_mass(p4: np.ndarray) -> np.ndarray:
    """√(E² − p²), 0 for numerically space-like vectors."""
    return np.sqrt(np.clip(p4[:, 0] ** 2 - np.sum(p4[:, 1:] ** 2, axis=1), 0.0, None))
