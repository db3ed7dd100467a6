"""The settings of one event's matrix-element-method integration: its vegas budget
and the muon resolutions of its transfer functions (schemas only: a configuration
loads without the integrator's numerical libraries)."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from smartml.collider.constants import SQRT_S
from smartml.collider.recoil import RecoilSpectrum
from smartml.config.strict import Seed, StrictModel


class MuonResolutions(StrictModel):
    """Widths of the Gaussian transfer functions; they must be those the events were
    smeared with (defaults: those of :mod:`smartml.collider.generation_config`):
    ``σ(pT)/pT = pt_relative ⊕ pt_relative_per_gev · pT``, ``σ(η)``, ``σ(φ)``.

    >>> round(float(MuonResolutions().pt_sigma(100.0)), 6)  # 100 GeV · (0.01 ⊕ 0.01)
    1.414214
    """

    pt_relative: float = Field(
        0.01, gt=0, le=0.5, allow_inf_nan=False, description="constant term of σ(pT)/pT"
    )
    pt_relative_per_gev: float = Field(
        1.0e-4, ge=0, le=0.01, allow_inf_nan=False, description="σ(pT)/pT term ∝ pT [1/GeV]"
    )
    eta: float = Field(0.001, gt=0, le=0.5, allow_inf_nan=False, description="σ(η)")
    phi: float = Field(0.001, gt=0, le=0.5, allow_inf_nan=False, description="σ(φ) [rad]")

    def pt_sigma(self, pt: np.ndarray | float) -> np.ndarray | float:
        """σ(pT) [GeV] at true ``pt`` [GeV]."""
        return pt * np.hypot(self.pt_relative, self.pt_relative_per_gev * pt)

    @classmethod
    def from_generation_config(cls, config: Any) -> MuonResolutions:
        """The muon smearing of an event generator's settings (an object with
        ``muon_pt_resolution``, ``muon_pt_resolution_per_gev``, ``muon_eta_resolution``
        and ``muon_phi_resolution``, as :class:`GenerationConfig` has)."""
        return cls(
            pt_relative=config.muon_pt_resolution,
            pt_relative_per_gev=config.muon_pt_resolution_per_gev,
            eta=config.muon_eta_resolution,
            phi=config.muon_phi_resolution,
        )


class MemSettings(StrictModel):
    """How one event's weight is integrated (vegas), with which resolutions and which
    recoil spectrum (``recoil``: the dimuon's transverse-momentum density; ``null``
    for the strict back-to-back LO weight, which real dimuons are many σ away from)."""

    neval: int = Field(4000, ge=100, le=10_000_000, description="integrand points per iteration")
    nitn_adapt: int = Field(5, ge=1, le=100, description="iterations that adapt the grid")
    nitn: int = Field(5, ge=1, le=100, description="frozen-grid iterations giving the result")
    seed: Seed = Field(1, description="with the event's entry, seeds vegas's random numbers")
    truncation_sigmas: float = Field(
        7.0, ge=3.0, le=20.0, allow_inf_nan=False, description="integration range in σ"
    )
    resolutions: MuonResolutions = MuonResolutions()
    recoil: RecoilSpectrum | None = Field(
        RecoilSpectrum(),
        description="the dimuon's qT density (the generator's); null: strict back-to-back LO",
    )
    sqrt_s_gev: float = Field(
        SQRT_S, ge=200.0, le=100_000.0, allow_inf_nan=False, description="collider energy"
    )
