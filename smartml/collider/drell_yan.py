r"""Leading-order Drell–Yan, q q̄ → γ*/Z → ℓ⁺ℓ⁻, with the full γ/Z interference.

The partonic cross section (massless fermions; colour average 1/3)::

    dσ̂/dΩ = α²/(4ŝ) · (1/3) · [A0 (1 + cos²θ) + A1 cos θ]
    A0 = Q_f² − 2 Q_f V_ℓ V_f χ1 + (A_ℓ² + V_ℓ²)(A_f² + V_f²) χ2
    A1 = −4 Q_f A_ℓ A_f χ1 + 8 A_ℓ V_ℓ A_f V_f χ2
    χ1 = κ ŝ (ŝ − M_Z²) / D,  χ2 = κ² ŝ² / D,  D = (ŝ − M_Z²)² + Γ_Z² M_Z²
    κ = √2 G_F M_Z² / (4πα),  V_f = T3_f − 2 Q_f sin²θ_W,  A_f = T3_f

(Ellis, Stirling, Webber, "QCD and collider physics", ch. 9, crossed from
e⁺e⁻ → f f̄; the lepton is a charged lepton, Q_ℓ = −1, already folded into the signs).
**θ is the angle between the incoming quark and the outgoing ℓ⁻ in the ℓ⁺ℓ⁻ rest
frame.** With this convention A_FB > 0 above the Z for u and d quarks.

Integrated: ``dσ̂/dcosθ = 2π dσ̂/dΩ``, ``σ̂ = 4πα² A0 / (9ŝ)``,
``A_FB = (σ̂_F − σ̂_B)/σ̂ = 3 A1 / (8 A0)``. Cross sections are in pb (``GEV2_TO_PB``).

In pp collisions (:func:`hadronic_cross_section_density`), with ``τ = m²/s = x1 x2``
and ``y = ½ ln(x1/x2)``::

    d²σ/(dm dy) = (2/m) Σ_q [x1 f_q(x1) x2 f_q̄(x2) + x1 f_q̄(x1) x2 f_q(x2)] σ̂_q(m²)

at the factorisation scale Q = m.

>>> import numpy as np
>>> peak = partonic_cross_section(np.array([91.188**2]), 2)
>>> 700 < float(peak[0]) < 900  # u ū → Z → μμ at the pole [pb]
True
>>> float(forward_backward_asymmetry(np.array([200.0**2]), 2)[0]) > 0
True
"""

from typing import NamedTuple

import numpy as np

from smartml.collider.constants import (
    ALPHA,
    GAMMA_Z,
    GEV2_TO_PB,
    KAPPA,
    M_Z,
    SIN2_THETA_W,
    SQRT_S,
)
from smartml.collider.parton_densities import GRV94LO

LEPTON_CHARGE = -1.0
LEPTON_ISOSPIN = -0.5
DRELL_YAN_QUARKS = (1, 2, 3, 4, 5)


class Couplings(NamedTuple):
    """Electric charge Q, vector V = T3 − 2Q sin²θ_W and axial A = T3 couplings."""

    charge: float
    vector: float
    axial: float


def fermion_couplings(charge: float, isospin: float) -> Couplings:
    """The couplings of a fermion of charge ``charge`` and weak isospin ``isospin``.

    >>> fermion_couplings(-1.0, -0.5).axial
    -0.5
    """
    return Couplings(charge, isospin - 2.0 * charge * SIN2_THETA_W, isospin)


LEPTON = fermion_couplings(LEPTON_CHARGE, LEPTON_ISOSPIN)


def quark_couplings(quark: int) -> Couplings:
    """Couplings of a quark by PDG id (1 d, 2 u, 3 s, 4 c, 5 b; sign ignored).

    Raises:
        ValueError: not a quark that Drell–Yan sums over.
    """
    flavour = abs(int(quark))
    if flavour not in DRELL_YAN_QUARKS:
        raise ValueError(f"drell_yan: quark must be a PDG id 1..5 (d u s c b), not {quark}")
    up_type = flavour % 2 == 0
    return fermion_couplings(2.0 / 3.0 if up_type else -1.0 / 3.0, 0.5 if up_type else -0.5)


def propagator_factors(s_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """χ1 (γ–Z interference) and χ2 (|Z|²) at ``s_hat`` [GeV²]."""
    s_hat = np.asarray(s_hat, dtype=np.float64)
    denominator = (s_hat - M_Z**2) ** 2 + (GAMMA_Z * M_Z) ** 2
    chi1 = KAPPA * s_hat * (s_hat - M_Z**2) / denominator
    chi2 = KAPPA**2 * s_hat**2 / denominator
    return chi1, chi2


def angular_coefficients(s_hat: np.ndarray, quark: int) -> tuple[np.ndarray, np.ndarray]:
    """A0 (symmetric) and A1 (forward–backward) of the module docstring.

    Args:
        s_hat: partonic centre-of-mass energy squared [GeV²].
        quark: PDG id of the incoming quark (1..5).

    Returns:
        ``(A0, A1)``, the shape of ``s_hat``.
    """
    q = quark_couplings(quark)
    chi1, chi2 = propagator_factors(s_hat)
    lep = LEPTON
    a0 = (
        q.charge**2
        - 2.0 * q.charge * lep.vector * q.vector * chi1
        + (lep.axial**2 + lep.vector**2) * (q.axial**2 + q.vector**2) * chi2
    )
    a1 = (
        -4.0 * q.charge * lep.axial * q.axial * chi1
        + 8.0 * (lep.axial * lep.vector * q.axial * q.vector) * chi2
    )
    return a0, a1


def squared_matrix_element(s_hat: np.ndarray, cos_theta: np.ndarray, quark: int) -> np.ndarray:
    """Spin- and colour-averaged |M|² of q q̄ → γ*/Z → ℓ⁺ℓ⁻ (dimensionless).

    ``|M|² = (16π²α²/3) [A0 (1 + cos²θ) + A1 cos θ]`` so that
    ``dσ̂/dΩ = |M|² / (64π² ŝ)``.

    Args:
        s_hat: ŝ [GeV²].
        cos_theta: cosine of the angle between the incoming quark and the ℓ⁻ in
            the ℓ⁺ℓ⁻ rest frame; broadcast with ``s_hat``.
        quark: PDG id of the quark (1..5).

    Returns:
        |M|², the broadcast shape.
    """
    a0, a1 = angular_coefficients(s_hat, quark)
    cos_theta = np.asarray(cos_theta, dtype=np.float64)
    return 16.0 * np.pi**2 * ALPHA**2 / 3.0 * (a0 * (1.0 + cos_theta**2) + a1 * cos_theta)


def differential_cross_section(s_hat: np.ndarray, cos_theta: np.ndarray, quark: int) -> np.ndarray:
    """dσ̂/dcosθ [pb] (integrated over the azimuth).

    Args: as :func:`squared_matrix_element`.

    Returns:
        ``2π |M|² / (64π² ŝ)`` in pb.
    """
    s_hat = np.asarray(s_hat, dtype=np.float64)
    return squared_matrix_element(s_hat, cos_theta, quark) / (32.0 * np.pi * s_hat) * GEV2_TO_PB


def partonic_cross_section(s_hat: np.ndarray, quark: int) -> np.ndarray:
    """σ̂(q q̄ → ℓ⁺ℓ⁻) = 4πα² A0 / (9ŝ) [pb].

    Args:
        s_hat: ŝ [GeV²].
        quark: PDG id of the quark (1..5).
    """
    s_hat = np.asarray(s_hat, dtype=np.float64)
    a0, _ = angular_coefficients(s_hat, quark)
    return 4.0 * np.pi * ALPHA**2 * a0 / (9.0 * s_hat) * GEV2_TO_PB


def forward_backward_asymmetry(s_hat: np.ndarray, quark: int) -> np.ndarray:
    """A_FB = 3 A1 / (8 A0), ℓ⁻ forward along the incoming quark.

    Args:
        s_hat: ŝ [GeV²].
        quark: PDG id of the quark (1..5).
    """
    a0, a1 = angular_coefficients(s_hat, quark)
    return 3.0 * a1 / (8.0 * a0)


def parton_luminosities(
    x1: np.ndarray, x2: np.ndarray, q2: np.ndarray, pdf: GRV94LO
) -> dict[int, np.ndarray]:
    """``x1 f(x1) · x2 f(x2)`` of each signed q q̄ pair, the quark in beam 1 for +q.

    Args:
        x1: momentum fractions of the parton in beam 1 (along +z).
        x2: of the parton in beam 2.
        q2: factorisation scale Q² [GeV²].
        pdf: the parton densities.

    Returns:
        ``{+q: xf_q(x1) xf_q̄(x2), −q: xf_q̄(x1) xf_q(x2)}`` for q = 1..5.
    """
    beam1 = pdf.xf_all(x1, q2)
    beam2 = pdf.xf_all(x2, q2)
    pairs: dict[int, np.ndarray] = {}
    for quark in DRELL_YAN_QUARKS:
        pairs[quark] = beam1[quark] * beam2[-quark]
        pairs[-quark] = beam1[-quark] * beam2[quark]
    return pairs


def hadronic_cross_section_density(
    mass: np.ndarray, rapidity: np.ndarray, pdf: GRV94LO, sqrt_s: float = SQRT_S
) -> np.ndarray:
    """d²σ/(dm dy) of pp → γ*/Z → ℓ⁺ℓ⁻ [pb/GeV] (module docstring), Q = m.

    Args:
        mass: dilepton mass m [GeV].
        rapidity: dilepton rapidity y; broadcast with ``mass``.
        pdf: the parton densities.
        sqrt_s: collider energy [GeV].

    Returns:
        the density, 0 where x1 or x2 would exceed 1.
    """
    mass, rapidity = np.broadcast_arrays(
        np.asarray(mass, np.float64), np.asarray(rapidity, np.float64)
    )
    x1 = mass / sqrt_s * np.exp(rapidity)
    x2 = mass / sqrt_s * np.exp(-rapidity)
    inside = (x1 < 1.0) & (x2 < 1.0)
    s_hat = mass**2
    luminosity = parton_luminosities(
        np.where(inside, x1, 0.5), np.where(inside, x2, 0.5), s_hat, pdf
    )
    total = np.zeros_like(mass)
    for quark in DRELL_YAN_QUARKS:
        pair = luminosity[quark] + luminosity[-quark]
        total += pair * partonic_cross_section(s_hat, quark)
    return np.where(inside, 2.0 / mass * total, 0.0)
