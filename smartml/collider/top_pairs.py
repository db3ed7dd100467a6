r"""LO top-pair production and the dileptonic decay chain of the t t̄ background.

Partonic cross sections (Combridge 1979; Ellis, Stirling, Webber eq. 10.12), with
``ρ = 4 m_t² / ŝ`` and ``β = √(1 − ρ)``::

    σ̂(q q̄ → t t̄) = 8π α_s² / (27 ŝ) · β (1 + ρ/2)
    σ̂(g g → t t̄) = π α_s² / (3 ŝ) · [(1 + ρ + ρ²/16) ln((1 + β)/(1 − β)) − β (7/4 + 31ρ/16)]

at a fixed ``α_s`` (:data:`ALPHA_S`, its value at ``μ = m_t``): the background only
needs a realistic shape. Decays t → b W, W → μ ν are isotropic in the rest frame of
the decaying particle (no spin correlations); masses of t and W follow Breit–Wigner
(Cauchy) distributions truncated at ±10 widths (and at the kinematic limit).

>>> import numpy as np
>>> sigma = gg_to_top_pair(np.array([400.0**2, 1000.0**2]))
>>> bool(sigma[0] > sigma[1] > 0.0)
True
"""

import numpy as np

from smartml.collider.constants import (
    GAMMA_TOP,
    GAMMA_W,
    GEV2_TO_PB,
    M_BOTTOM,
    M_TOP,
    M_W,
    MUON_MASS,
)
from smartml.collider.kinematics import boost, from_rest_frame_decay, two_body_momentum

ALPHA_S = 0.108
"""Strong coupling at μ = m_t (LO running from α_s(M_Z) = 0.118)."""
WIDTHS_KEPT = 10.0


def _threshold_factors(s_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rho = 4.0 * M_TOP**2 / s_hat
    beta = np.sqrt(np.clip(1.0 - rho, 0.0, None))
    return rho, beta


def qqbar_to_top_pair(s_hat: np.ndarray) -> np.ndarray:
    """σ̂(q q̄ → t t̄) [pb], 0 below threshold."""
    rho, beta = _threshold_factors(s_hat)
    return 8.0 * np.pi * ALPHA_S**2 / (27.0 * s_hat) * beta * (1.0 + rho / 2.0) * GEV2_TO_PB


def gg_to_top_pair(s_hat: np.ndarray) -> np.ndarray:
    """σ̂(g g → t t̄) [pb], 0 below threshold."""
    rho, beta = _threshold_factors(s_hat)
    below = beta <= 0.0
    safe_beta = np.where(below, 0.5, beta)
    log_term = np.log((1.0 + safe_beta) / (1.0 - safe_beta))
    bracket = (1.0 + rho + rho**2 / 16.0) * log_term - safe_beta * (7.0 / 4.0 + 31.0 * rho / 16.0)
    value = np.pi * ALPHA_S**2 / (3.0 * s_hat) * bracket * GEV2_TO_PB
    return np.where(below, 0.0, value)


def truncated_breit_wigner(
    mass: float, width: float, upper: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Masses from a Cauchy of (mass, width) within [mass − 10Γ, min(mass + 10Γ, upper)].

    Args:
        mass, width: the resonance [GeV].
        upper: (n,) per-event kinematic limits; must exceed ``mass − 10Γ``.
        rng: the random generator.
    """
    half = width / 2.0
    low = np.arctan(-WIDTHS_KEPT * width / half)
    high = np.arctan((np.minimum(upper, mass + WIDTHS_KEPT * width) - mass) / half)
    return mass + half * np.tan(low + rng.uniform(size=np.shape(upper)) * (high - low))


def _isotropic(momentum: np.ndarray, mass, rng: np.random.Generator) -> np.ndarray:
    n = momentum.shape[0]
    cos_theta = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    return from_rest_frame_decay(momentum, np.broadcast_to(mass, (n,)), cos_theta, phi)


def decay_top(top: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """t → b W, W → μ ν, isotropic in each rest frame.

    Args:
        top: (n, 4) lab four-vectors of the (anti)top quarks.
        rng: the random generator.

    Returns:
        ``{"b", "muon", "neutrino"}``: (n, 4) lab four-vectors.
    """
    top_mass = np.sqrt(np.clip(top[:, 0] ** 2 - np.sum(top[:, 1:] ** 2, axis=1), 0.0, None))
    w_mass = truncated_breit_wigner(M_W, GAMMA_W, top_mass - M_BOTTOM - 1e-3, rng)
    w_rest = _isotropic(two_body_momentum(top_mass, M_BOTTOM, w_mass), w_mass, rng)
    b_rest = np.concatenate(
        [np.sqrt(np.sum(w_rest[:, 1:] ** 2, 1) + M_BOTTOM**2)[:, None], -w_rest[:, 1:]], 1
    )
    w_lab = boost(w_rest, top)
    muon_rest = _isotropic(
        two_body_momentum(w_mass, MUON_MASS, np.zeros_like(w_mass)), MUON_MASS, rng
    )
    neutrino_rest = np.concatenate(
        [np.sqrt(np.sum(muon_rest[:, 1:] ** 2, 1))[:, None], -muon_rest[:, 1:]], 1
    )
    return {
        "b": boost(b_rest, top),
        "muon": boost(muon_rest, w_lab),
        "neutrino": boost(neutrino_rest, w_lab),
    }


def top_masses(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) top masses from the truncated Breit–Wigner."""
    return truncated_breit_wigner(M_TOP, GAMMA_TOP, np.full(n, np.inf), rng)
