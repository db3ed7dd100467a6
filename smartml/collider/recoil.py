r"""The transverse momentum ``qT`` of the dimuon (or t t̄) system: the recoil against
initial-state radiation (ISR) and the partons' intrinsic transverse momentum.

At leading order the hard system has no transverse momentum; real dimuons have a
``qT`` spectrum that rises linearly from 0, peaks at a few GeV (soft-gluon
resummation and intrinsic kT) and falls as a power law (hard ISR). One distribution
of the two-dimensional vector ``q = (qx, qy)``, isotropic in azimuth and normalised
in ``d²q``, describes both the generator's recoil and the MEM's recoil density::

    ρ(q) = (b − 1) / (π a²) · (1 + q²/a²)^(−b)

so that ``dP/dqT = 2 (b − 1) qT / a² · (1 + qT²/a²)^(−b)``, the cumulative
``P(qT' < qT) = 1 − (1 + qT²/a²)^(1−b)``, the mode at ``a/√(2b − 1)``, the median at
``a √(2^(1/(b−1)) − 1)`` and a tail ``∝ qT^(1−2b)``. The defaults ``a = 9 GeV``,
``b = 2`` (mode 5.2 GeV, median 9 GeV, mean ``π a / 2`` = 14 GeV, 17% above 20 GeV,
3% above 50 GeV, tail ``qT⁻³``) were chosen by hand to resemble the normalised
Z-boson ``pT`` spectra measured at the LHC (CMS, JHEP 12 (2019) 061; ATLAS, JHEP 09
(2014) 145): they are a shape of the right size, not a fit to those data.

>>> spectrum = RecoilSpectrum()
>>> round(float(spectrum.median_gev()), 6), round(float(spectrum.cdf(20.0)), 4)
(9.0, 0.8316)
>>> bool(np.isclose(spectrum.density(0.0), 1 / (np.pi * 81.0)))
True
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from smartml.config.strict import StrictModel


class RecoilSpectrum(StrictModel):
    """The ``qT`` distribution of the module docstring: scale ``a`` and power ``b``."""

    scale_gev: float = Field(
        9.0, ge=0.5, le=200.0, allow_inf_nan=False, description="a of (1 + qT²/a²)^−b [GeV]"
    )
    power: float = Field(
        2.0, ge=1.2, le=10.0, allow_inf_nan=False, description="b of (1 + qT²/a²)^−b"
    )

    def density(self, qt: np.ndarray | float) -> np.ndarray:
        """ρ(q): the density per unit ``d²q`` [GeV⁻²] at ``|q| = qt``."""
        a2 = self.scale_gev**2
        return np.asarray(
            (self.power - 1.0) / (math.pi * a2) * (1.0 + np.square(qt) / a2) ** -self.power
        )

    def log_density(self, qt: np.ndarray | float) -> np.ndarray:
        """log ρ(q), finite for any finite ``qt``."""
        a2 = self.scale_gev**2
        return np.asarray(
            math.log((self.power - 1.0) / (math.pi * a2))
            - self.power * np.log1p(np.square(qt) / a2)
        )

    def cdf(self, qt: np.ndarray | float) -> np.ndarray:
        """P(qT' < qt)."""
        return np.asarray(1.0 - (1.0 + np.square(qt) / self.scale_gev**2) ** (1.0 - self.power))

    def quantile(self, probability: np.ndarray | float) -> np.ndarray:
        """The inverse of :meth:`cdf` (``probability`` in [0, 1))."""
        tail = (1.0 - np.asarray(probability)) ** (1.0 / (1.0 - self.power))
        return np.asarray(self.scale_gev * np.sqrt(np.clip(tail - 1.0, 0.0, None)))

    def median_gev(self) -> float:
        """The median qT [GeV]."""
        return float(self.quantile(0.5))

    def sample(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``size`` recoil vectors: their magnitudes ``qT`` [GeV] and azimuths (uniform).

        Args:
            size: how many.
            rng: the random generator.

        Returns:
            (qT, φ) arrays of shape (size,).
        """
        qt = self.quantile(rng.uniform(size=size))
        return qt, rng.uniform(-math.pi, math.pi, size)
