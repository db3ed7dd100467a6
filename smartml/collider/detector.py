"""Simplified detector: Gaussian smearing of muons and jets, acceptance, MET.

- Muons: ``pT → pT (1 + σ_rel ξ)`` with ``σ_rel = a ⊕ b·pT`` (tracker resolution:
  multiple scattering ⊕ sagitta), η and φ plus small Gaussians.
- Jets (b quarks, no hadronisation or radiation): ``σ_rel = a/√pT ⊕ c``.
- A smeared pT is kept positive by its absolute value (only matters for resolutions
  of tens of percent).
- MET: the recoil parton balances the hard system, so ``−Σ(truth visible) =
  Σ(neutrinos)``; the missing transverse momentum is ``−Σ(reconstructed muons,
  accepted jets and unclustered recoil) + N(0, σ_MET)`` per component: neutrinos,
  mismeasurement and jets outside the acceptance show up as MET; the Gaussian stands
  for the resolution of the soft, unclustered activity (which includes a recoil that
  is not a jet).

>>> import numpy as np
>>> from smartml.collider.generation_config import GenerationConfig
>>> rng = np.random.default_rng(0)
>>> pt, eta, phi = smear_muons(np.array([40.0]), np.array([0.5]), np.array([1.0]),
...                            GenerationConfig(), rng)
>>> bool(abs(pt[0] - 40.0) < 3.0)
True
"""

import numpy as np

from smartml.collider.generation_config import GenerationConfig
from smartml.collider.kinematics import wrap_phi


def _smear(
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    relative: np.ndarray,
    eta_sigma: float,
    phi_sigma: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smear (pT, η, φ) with relative pT resolution ``relative`` and Gaussian angles."""
    smeared_pt = np.abs(pt * (1.0 + relative * rng.standard_normal(pt.shape)))
    smeared_eta = eta + eta_sigma * rng.standard_normal(eta.shape)
    smeared_phi = wrap_phi(phi + phi_sigma * rng.standard_normal(phi.shape))
    return smeared_pt, smeared_eta, smeared_phi


def smear_muons(
    pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, config: GenerationConfig, rng
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reconstructed muon (pT, η, φ): ``σ(pT)/pT = a ⊕ b·pT``.

    Args:
        pt, eta, phi: truth kinematics, any shape.
        config: the resolutions.
        rng: the random generator.

    Returns:
        smeared (pT, η, φ), φ in (−π, π].
    """
    relative = np.hypot(config.muon_pt_resolution, config.muon_pt_resolution_per_gev * pt)
    return _smear(
        pt, eta, phi, relative, config.muon_eta_resolution, config.muon_phi_resolution, rng
    )


def smear_jets(
    pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, config: GenerationConfig, rng
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reconstructed jet (pT, η, φ): ``σ(pT)/pT = a/√pT ⊕ c``.

    Args: as :func:`smear_muons`.
    """
    relative = np.hypot(
        config.jet_pt_stochastic / np.sqrt(np.maximum(pt, 1e-6)), config.jet_pt_constant
    )
    return _smear(pt, eta, phi, relative, config.jet_eta_resolution, config.jet_phi_resolution, rng)


def muons_accepted(pt: np.ndarray, eta: np.ndarray, config: GenerationConfig) -> np.ndarray:
    """Events whose two muons pass the cuts: leading and subleading pT, |η|.

    Args:
        pt: (n, 2) reconstructed muon pT.
        eta: (n, 2) their η.
        config: the thresholds.

    Returns:
        (n,) booleans.
    """
    leading, subleading = np.max(pt, axis=1), np.min(pt, axis=1)
    return (
        (leading > config.lepton_pt_min_gev[0])
        & (subleading > config.lepton_pt_min_gev[1])
        & np.all(np.abs(eta) < config.lepton_abs_eta_max, axis=1)
    )


def missing_transverse_momentum(
    visible_px: np.ndarray, visible_py: np.ndarray, config: GenerationConfig, rng
) -> tuple[np.ndarray, np.ndarray]:
    """MET and its azimuth from the summed reconstructed visible momentum.

    Args:
        visible_px, visible_py: (n,) sums over reconstructed muons and accepted jets.
        config: ``met_resolution_gev``, the soft-term Gaussian σ per component.
        rng: the random generator.

    Returns:
        (MET, METPhi) with METPhi in (−π, π].
    """
    sigma = config.met_resolution_gev
    met_x = -visible_px + sigma * rng.standard_normal(visible_px.shape)
    met_y = -visible_py + sigma * rng.standard_normal(visible_py.shape)
    return np.hypot(met_x, met_y), np.arctan2(met_y, met_x)
