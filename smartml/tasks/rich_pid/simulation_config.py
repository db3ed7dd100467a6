"""Settings of the built-in RICH simulator (:mod:`smartml.tasks.rich_pid.simulator`).

The ``simulation`` field of the rich_pid task's ``data`` section. Imports no
TensorFlow (configuration validation imports it). Every number has bounds: a value
outside them can only be a typing mistake. Units are in the names (GeV/c, mm, ns).

>>> config = RichSimulationConfig()
>>> config.mixture.muon, config.momentum_min_gev, config.photoelectrons_at_saturation
(0.8, 15.0, 14.0)
>>> RichSimulationConfig.model_validate({"mixture": {"muon": 0.5, "pion": 0.2, "positron": 0.2}})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for RichSimulationConfig
mixture
  Value error, the fractions muon, pion, positron must add up to 1, not 0.9 ...
"""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from smartml.config.strict import PositiveFloat, Seed, StrictModel

# More events than this is a typing mistake (a million simulate in under a minute).
MAX_SIMULATED_EVENTS = 100_000_000
# Positions on the focal plane further out than this are beyond the RICH vessel.
Millimetres = Annotated[float, Field(ge=-5000.0, le=5000.0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
FRACTION_TOLERANCE = 1e-6


class ParticleMixture(StrictModel):
    """Fractions of muons, pions and positrons among the simulated tracks.

    Beam-like by default: NA62's RICH sees mostly muons (the K⁺ → μ⁺ν decays and the
    beam halo); the analysis files hold ≈ 89% μ, 10% π, 1% e⁺. The default keeps the
    muon dominance with more pions and positrons, so that a small sample has enough
    of each; the reader balances the classes per momentum bin for training.
    """

    muon: Fraction = 0.80
    pion: Fraction = 0.15
    positron: Fraction = 0.05

    @model_validator(mode="after")
    def _adds_up_to_one(self) -> "ParticleMixture":
        total = self.muon + self.pion + self.positron
        if abs(total - 1.0) > FRACTION_TOLERANCE:
            raise ValueError(
                f"the fractions muon, pion, positron must add up to 1, not {total:.6g}"
            )
        return self


class RichSimulationConfig(StrictModel):
    """One simulated RICH dataset: events, tracks, photons, noise and geometry.

    The defaults are documented in the simulator's module docstring, with the physics
    each setting stands for.
    """

    n_events: int = Field(300_000, gt=0, le=MAX_SIMULATED_EVENTS)
    seed: Seed = 1
    events_per_file: int = Field(100_000, gt=0, le=MAX_SIMULATED_EVENTS)
    run_id: int = Field(1, ge=0, le=2**31 - 1, description="written as Events.run_id")
    mixture: ParticleMixture = ParticleMixture()
    momentum_min_gev: float = Field(15.0, gt=0, le=500.0, allow_inf_nan=False)
    momentum_max_gev: float = Field(45.0, gt=0, le=500.0, allow_inf_nan=False)
    momentum_spectrum: Literal["exponential", "flat"] = Field(
        "exponential",
        description="dN/dp ∝ exp(-p / momentum_scale_gev) between the limits, or flat",
    )
    momentum_scale_gev: PositiveFloat = Field(
        25.0, le=1000.0, description="e-folding momentum of the exponential spectrum"
    )
    photoelectrons_at_saturation: PositiveFloat = Field(
        14.0, le=100.0, description="mean photo-electrons of a β → 1 ring (Poisson)"
    )
    hit_radius_smearing_mm: float = Field(
        2.5,
        ge=0,
        le=50.0,
        allow_inf_nan=False,
        description="Gaussian spread of each photon's distance from the ring centre "
        "(chromatic dispersion, mirror quality), before the PMT granularity",
    )
    ring_centre_mean_mm: tuple[Millimetres, Millimetres] = Field(
        (0.0, 0.0), description="focal-plane ring centre of a track along the beam axis"
    )
    ring_centre_spread_mm: float = Field(
        50.0,
        ge=0,
        le=1000.0,
        allow_inf_nan=False,
        description="Gaussian spread per axis of the ring centre: f·θ of the track angles",
    )
    chod_time_range_ns: PositiveFloat = Field(
        100.0, le=1e6, description="track (CHOD) times are uniform in [0, range)"
    )
    ring_time_spread_ns: float = Field(
        0.1,
        ge=0,
        le=10.0,
        allow_inf_nan=False,
        description="Gaussian spread of the ring's time around the CHOD time",
    )
    hit_time_jitter_ns: float = Field(
        0.2,
        ge=0,
        le=10.0,
        allow_inf_nan=False,
        description="Gaussian spread of each hit's time around the ring's time",
    )
    noise_hits_mean: float = Field(
        6.0, ge=0, le=1000.0, allow_inf_nan=False, description="noise hits per event (Poisson)"
    )
    noise_time_window_ns: PositiveFloat = Field(
        10.0, le=1e4, description="noise hit times are uniform within ± this of the CHOD time"
    )
    disk_offsets_mm: tuple[tuple[Millimetres, Millimetres], tuple[Millimetres, Millimetres]] = (
        Field(
            ((150.0, 0.0), (-150.0, 0.0)),
            description="(x, y) added to the disk-local PMT positions of disk 0 (Jura) and "
            "disk 1 (Salève) to give focal-plane positions",
        )
    )
    reconstruction_time_window_ns: PositiveFloat = Field(
        0.5,
        le=100.0,
        description="the ring fit written into Events uses hits with "
        "|hit_time - chod_time| below this",
    )

    @model_validator(mode="after")
    def _momentum_range(self) -> "RichSimulationConfig":
        if self.momentum_max_gev <= self.momentum_min_gev:
            raise ValueError("momentum_max_gev must be greater than momentum_min_gev")
        return self
