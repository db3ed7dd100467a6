"""Settings of the built-in collider event generators (:mod:`smartml.collider.event_generator`).

Imports no TensorFlow. Units are in the names (GeV); relative resolutions are
fractions. Every number has bounds: a value outside them can only be a typing mistake.

>>> config = GenerationConfig()
>>> config.mll_min_gev, config.mll_max_gev, config.lepton_pt_min_gev
(60.0, 200.0, (20.0, 10.0))
>>> GenerationConfig.model_validate({"mll_min_gev": 150.0, "mll_max_gev": 100.0})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for GenerationConfig
  Value error, mll_min_gev (150) must be below mll_max_gev (100) ...
"""

from typing import Annotated

from pydantic import Field, model_validator

from smartml.collider.recoil import RecoilSpectrum
from smartml.config.strict import Seed, StrictModel

Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Gev = Annotated[float, Field(ge=0.0, le=10_000.0, allow_inf_nan=False)]
AngleSpread = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class GenerationConfig(StrictModel):
    """Collider, phase space, detector smearing and acceptance of generated events.

    The physics each setting stands for is in the generator's module docstring.
    """

    seed: Seed = 1
    sqrt_s_gev: float = Field(13_000.0, ge=200.0, le=100_000.0, allow_inf_nan=False)
    mll_min_gev: float = Field(
        60.0, ge=1.0, le=10_000.0, allow_inf_nan=False, description="Drell–Yan m_ℓℓ window"
    )
    mll_max_gev: float = Field(200.0, ge=1.0, le=10_000.0, allow_inf_nan=False)
    muon_pt_resolution: Fraction = Field(
        0.01, description="a of σ(pT)/pT = a ⊕ b·pT (constant term)"
    )
    muon_pt_resolution_per_gev: float = Field(
        1.0e-4, ge=0.0, le=0.01, allow_inf_nan=False, description="b of σ(pT)/pT = a ⊕ b·pT"
    )
    muon_eta_resolution: AngleSpread = 0.001
    muon_phi_resolution: AngleSpread = Field(0.001, description="radians")
    jet_pt_stochastic: float = Field(
        1.0, ge=0.0, le=10.0, allow_inf_nan=False, description="a of σ(pT)/pT = a/√pT ⊕ c [√GeV]"
    )
    jet_pt_constant: Fraction = Field(0.05, description="c of σ(pT)/pT = a/√pT ⊕ c")
    jet_eta_resolution: AngleSpread = 0.02
    jet_phi_resolution: AngleSpread = Field(0.02, description="radians")
    met_resolution_gev: Gev = Field(
        8.0, description="Gaussian σ of each MET component from the unclustered soft activity"
    )
    lepton_pt_min_gev: tuple[Gev, Gev] = Field(
        (20.0, 10.0), description="leading and subleading muon pT thresholds"
    )
    lepton_abs_eta_max: float = Field(2.5, gt=0.0, le=10.0, allow_inf_nan=False)
    jet_pt_min_gev: Gev = 20.0
    jet_abs_eta_max: float = Field(2.5, gt=0.0, le=10.0, allow_inf_nan=False)
    recoil: RecoilSpectrum | None = Field(
        RecoilSpectrum(),
        description="transverse momentum of the hard system (ISR recoil); null: none (LO)",
    )
    recoil_jet_eta_sigma: float = Field(
        1.0,
        ge=0.0,
        le=5.0,
        allow_inf_nan=False,
        description="the recoil jet's η is the hard system's rapidity plus N(0, this)",
    )

    @model_validator(mode="after")
    def _window_is_ordered(self) -> "GenerationConfig":
        if self.mll_min_gev >= self.mll_max_gev:
            raise ValueError(
                f"mll_min_gev ({self.mll_min_gev:g}) must be below mll_max_gev "
                f"({self.mll_max_gev:g})"
            )
        if self.mll_max_gev >= self.sqrt_s_gev:
            raise ValueError(
                f"mll_max_gev ({self.mll_max_gev:g}) must be below sqrt_s_gev ({self.sqrt_s_gev:g})"
            )
        return self
