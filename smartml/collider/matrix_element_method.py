r"""Matrix-Element-Method weights of dimuon events under the LO Drell–Yan hypothesis.

The weight of a measured event ``y`` (the two muons' ``pT, η, φ``) is the
differential cross section of ``p p → Z/γ* → μ⁺μ⁻`` at leading order, folded with
the detector's resolution::

    w(y) = Σ ∫ dx₁ dx₂ f_a(x₁, ŝ) f_b(x₂, ŝ) · |M|²(ŝ, cos θ) / (2ŝ) · dΦ₂ · W(y | p)

summed over the quark flavours d, u, s, c, b (quark from either proton) and over the
two charge assignments (the ntuple has no charge: lep1 is the leading muon, and the
density of a pair ordered by pT is the sum over which one is the μ⁻). ``|M|²`` is
:func:`smartml.collider.drell_yan.squared_matrix_element` (spin- and colour-averaged,
γ and Z with interference), the densities :class:`GRV94LO` at the factorisation
scale ``Q² = ŝ``, and ``W`` the product of Gaussian transfer functions (the
generator's smearing): ``pT_meas ~ N(pT, r·pT)``, ``η_meas ~ N(η, σ_η)``,
``φ_meas ~ N(φ, σ_φ)`` for each muon.

**Variables.** At LO the true muons are back-to-back in the transverse plane with
equal ``pT``: four numbers ``(pT, η₁, η₂, φ)`` fix the event exactly, with
``x₁ = pT (e^η₁ + e^η₂)/√s``, ``x₂ = pT (e^−η₁ + e^−η₂)/√s``,
``ŝ = x₁x₂s = 4 pT² cosh²((η₁−η₂)/2)`` and, for the μ⁻ being muon 1 and the quark
coming from the proton moving along +z, ``cos θ = tanh((η₁−η₂)/2)`` (θ between the
quark and the μ⁻ in the pair's rest frame). Integrating the four-momentum delta
function against ``dx₁ dx₂ d³p₁/((2π)³2E₁) d³p₂/((2π)³2E₂)``, with
``d³p/(2E) = ½ pT dpT dη dφ`` for massless muons and ``δ(E)δ(p_z) = 2δ(P⁺)δ(P⁻)``
in light-cone components, gives the Jacobian::

    dx₁ dx₂ dΦ₂ = pT / (8π² s) · dpT dη₁ dη₂ dφ

so the LO density is ``F = pT/(8π²s) · Σ L · |M|²/(2ŝ)`` (pb per GeV per unit η₁, η₂,
φ; :class:`DrellYanDensity`), with ``L = f(x₁) f(x₂)``. Summed over both charge
assignments the angular factor is ``|M|²(c) + |M|²(−c)``. Nothing but the transfer
functions depends on φ (unpolarised beams), so the φ integral is done exactly:
``∫ dφ N(φ₁ | φ) N(φ₂ | φ + π) = N(Δφ − π; 0, √2 σ_φ)``.

**Peaks.** The transfer functions are the narrow peaks (the Z Breit–Wigner in ``ŝ``
is as wide as the pT resolution at the Z pole). Each of ``η₁, η₂, pT`` is drawn from
a truncated Gaussian (inverse CDF of ``u ∈ [0, 1]``, ±``truncation_sigmas``) centred
on its measured value (for pT the inverse-variance mean of the two muons, with
width ``r·pT/√2``): the transfer functions are flattened by the Jacobian
``dx/du = Z σ / φ((x − μ)/σ)`` and vegas adapts to what is left, the Breit–Wigner
and the PDFs. A point outside ``x < 1`` contributes 0.

**Normalisation.** ``w`` is the differential cross section in the six measured
variables, in pb / GeV² (per GeV of each muon's pT, per unit η and per radian φ):
its integral over the measured region with ``pT₁ > pT₂`` is the LO cross section.
The missing transverse momentum adds no information at LO (it is the imbalance of
the smeared muons) and is not used.

>>> event = {"lep1_PT": 45.0, "lep1_Eta": 0.3, "lep1_Phi": 0.5,
...          "lep2_PT": 44.0, "lep2_Eta": -0.4, "lep2_Phi": 0.501 - np.pi}
>>> weight, error = mem_weight(event, MemSettings(neval=1000, nitn_adapt=3, nitn=3))
>>> bool(0 < error < 0.05 * weight)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import vegas
from scipy import special

from smartml.collider import drell_yan
from smartml.collider.constants import GEV2_TO_PB, SQRT_S
from smartml.collider.mem_settings import MemSettings, MuonResolutions
from smartml.collider.parton_densities import GRV94LO
from smartml.errors import DataError

MUON_BRANCHES = ("lep1_PT", "lep1_Eta", "lep1_Phi", "lep2_PT", "lep2_Eta", "lep2_Phi")
"""The event's keys (branches) the weight depends on."""

LabDensity = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``(pT, η₁, η₂) -> F``: a LO density in pb per GeV per unit η₁, η₂ and φ."""


@dataclass(frozen=True)
class MeasuredMuons:
    """The measured momenta of the two muons (GeV, rad)."""

    pt1: float
    eta1: float
    phi1: float
    pt2: float
    eta2: float
    phi2: float

    @classmethod
    def from_event(cls, event: Mapping[str, float]) -> MeasuredMuons:
        """Read :data:`MUON_BRANCHES` from ``event``.

        Raises:
            DataError: a key is missing, a value is not finite or a pT is not positive.
        """
        values = []
        for key in MUON_BRANCHES:
            if key not in event:
                raise DataError(f"event: no {key}; expected the keys {', '.join(MUON_BRANCHES)}")
            value = float(event[key])
            if not math.isfinite(value) or (key.endswith("_PT") and value <= 0):
                raise DataError(f"event: {key} = {value}; expected a finite value (pT > 0)")
            values.append(value)
        return cls(*values)


def wrap_angle(phi: np.ndarray | float) -> np.ndarray:
    """``phi`` wrapped to (−π, π].

    >>> wrap_angle(np.array([np.pi, -np.pi, 3 * np.pi / 2])) / np.pi
    array([ 1. ,  1. , -0.5])
    """
    return np.pi - np.mod(np.pi - np.asarray(phi, dtype=float), 2 * np.pi)


def gaussian_log_pdf(
    x: np.ndarray | float, mean: np.ndarray | float, sigma: np.ndarray | float
) -> np.ndarray:
    """log N(x; mean, sigma), elementwise.

    >>> float(np.exp(gaussian_log_pdf(np.array(0.0), 0.0, 1.0))) == 1 / math.sqrt(2 * math.pi)
    True
    """
    return -0.5 * ((x - mean) / sigma) ** 2 - np.log(sigma) - 0.5 * math.log(2 * math.pi)


class DrellYanDensity:
    """The LO Drell–Yan density ``F(pT, η₁, η₂)`` of the module docstring, summed over
    the quark flavours, the proton the quark comes from and the charge assignments.

    Args:
        sqrt_s: the proton-proton centre-of-mass energy [GeV].
        pdf: the parton densities (``xf_all(x, q2)``), GRV94 LO by default.
        matrix_element: ``(ŝ, cos θ, quark) -> |M|²``, the LO Drell–Yan one by default.

    Returns (when called with arrays ``pt, eta1, eta2`` of one shape):
        F in pb / GeV per unit η₁, η₂ and φ; 0 where ``x₁`` or ``x₂`` ≥ 1.
    """

    def __init__(
        self,
        sqrt_s: float = SQRT_S,
        pdf: GRV94LO | None = None,
        matrix_element: Callable[..., np.ndarray] = drell_yan.squared_matrix_element,
    ) -> None:
        self.sqrt_s = sqrt_s
        self.pdf = pdf or GRV94LO()
        self.matrix_element = matrix_element

    def __call__(self, pt: np.ndarray, eta1: np.ndarray, eta2: np.ndarray) -> np.ndarray:
        s = self.sqrt_s**2
        x1 = pt * (np.exp(eta1) + np.exp(eta2)) / self.sqrt_s
        x2 = pt * (np.exp(-eta1) + np.exp(-eta2)) / self.sqrt_s
        inside = (x1 < 1.0) & (x2 < 1.0)
        x1, x2 = np.where(inside, x1, 0.5), np.where(inside, x2, 0.5)  # finite PDFs outside
        s_hat = x1 * x2 * s
        cos_theta = np.tanh(0.5 * (eta1 - eta2))
        pairs = drell_yan.parton_luminosities(x1, x2, s_hat, self.pdf)
        total = np.zeros_like(s_hat)
        for quark in drell_yan.DRELL_YAN_QUARKS:
            luminosity = (pairs[quark] + pairs[-quark]) / (x1 * x2)  # f f, from x f · x f
            angular = self.matrix_element(s_hat, cos_theta, quark) + self.matrix_element(
                s_hat, -cos_theta, quark
            )
            total += luminosity * angular
        density = pt / (8 * math.pi**2 * s) * total / (2 * s_hat) * GEV2_TO_PB
        return np.where(inside, density, 0.0)


def transfer_log_weight(
    pt: np.ndarray,
    eta1: np.ndarray,
    eta2: np.ndarray,
    measured: MeasuredMuons,
    resolutions: MuonResolutions,
) -> np.ndarray:
    """log of the transfer functions of both muons at true ``(pT, η₁, η₂)``, with the
    φ integral done (module docstring): per GeV² (the two pT densities).

    >>> muons = MeasuredMuons(40.0, 0.0, 0.0, 40.0, 0.0, np.pi)
    >>> widths = MuonResolutions(pt_relative=0.1, pt_relative_per_gev=0.0, eta=0.1, phi=0.1)
    >>> at_peak = transfer_log_weight(np.array(40.0), np.array(0.0), np.array(0.0), muons, widths)
    >>> bool(np.isclose(np.exp(at_peak), 1 / (2 * np.pi * 4.0**2) / (2 * np.pi * 0.1**2)
    ...                 / np.sqrt(2 * np.pi * 2 * 0.1**2)))
    True
    """
    pt_sigma = resolutions.pt_sigma(pt)
    azimuthal_gap = wrap_angle(measured.phi1 - measured.phi2 - np.pi)
    return (
        gaussian_log_pdf(measured.pt1, pt, pt_sigma)
        + gaussian_log_pdf(measured.pt2, pt, pt_sigma)
        + gaussian_log_pdf(measured.eta1, eta1, resolutions.eta)
        + gaussian_log_pdf(measured.eta2, eta2, resolutions.eta)
        + gaussian_log_pdf(azimuthal_gap, 0.0, math.sqrt(2.0) * resolutions.phi)
    )


@dataclass(frozen=True)
class TruncatedGaussianMap:
    """``u ∈ [0, 1] -> x``: the inverse CDF of N(mean, sigma) truncated to [low, high].

    >>> mapping = TruncatedGaussianMap(mean=1.0, sigma=2.0, low=-1.0, high=3.0)
    >>> x, log_jacobian = mapping(np.array([0.0, 0.5, 1.0]))
    >>> np.round(x, 6).tolist()
    [-1.0, 1.0, 3.0]
    """

    mean: float
    sigma: float
    low: float
    high: float

    def __call__(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Returns x and log(dx/du)."""
        cdf_low = special.ndtr((self.low - self.mean) / self.sigma)
        cdf_high = special.ndtr((self.high - self.mean) / self.sigma)
        z = special.ndtri(cdf_low + u * (cdf_high - cdf_low))
        x = np.clip(self.mean + self.sigma * z, self.low, self.high)
        log_jacobian = math.log(cdf_high - cdf_low) - gaussian_log_pdf(x, self.mean, self.sigma)
        return x, log_jacobian


def integration_maps(
    measured: MeasuredMuons, settings: MemSettings
) -> tuple[TruncatedGaussianMap, TruncatedGaussianMap, TruncatedGaussianMap]:
    """The maps of ``pT, η₁, η₂`` centred on the measured muons (module docstring)."""
    widths, reach = settings.resolutions, settings.truncation_sigmas
    # inverse-variance mean of the two measured pT (σ ∝ pT up to the b·pT term)
    weights = np.array([measured.pt1, measured.pt2]) ** -2.0
    pt_mean = float(np.average([measured.pt1, measured.pt2], weights=weights))
    pt_sigma = float(widths.pt_sigma(pt_mean)) / math.sqrt(2.0)
    pt_range = reach * pt_sigma + abs(measured.pt1 - measured.pt2)
    pt_map = TruncatedGaussianMap(
        pt_mean, pt_sigma, max(pt_mean - pt_range, 1e-3 * pt_mean), pt_mean + pt_range
    )
    eta1_map, eta2_map = (
        TruncatedGaussianMap(eta, widths.eta, eta - reach * widths.eta, eta + reach * widths.eta)
        for eta in (measured.eta1, measured.eta2)
    )
    return pt_map, eta1_map, eta2_map


def lab_integrand(
    pt: np.ndarray,
    eta1: np.ndarray,
    eta2: np.ndarray,
    measured: MeasuredMuons,
    settings: MemSettings,
    density: LabDensity,
) -> np.ndarray:
    """``F · W`` at true ``(pT, η₁, η₂)`` (φ integrated): the function whose integral
    over ``dpT dη₁ dη₂`` is the weight, in pb / GeV³."""
    with np.errstate(under="ignore"):
        transfer = np.exp(transfer_log_weight(pt, eta1, eta2, measured, settings.resolutions))
    return density(pt, eta1, eta2) * transfer


def unit_cube_integrand(
    measured: MeasuredMuons, settings: MemSettings, density: LabDensity
) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    """The weight's integrand on ``[0, 1]³`` (vegas batch form: ``u[i, d] -> f[i]``),
    divided by ``exp(log_scale)``, and ``log_scale``.

    ``log_scale`` is the log of the transfer functions times the Jacobian at the
    centre of the cube: an event far from LO kinematics (muons not back to back
    within the resolution) has weights below 1e-300, whose variance would underflow.
    """
    maps = integration_maps(measured, settings)

    def log_factor(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        (pt, log_jac_pt), (eta1, log_jac1), (eta2, log_jac2) = (
            mapping(u[:, axis]) for axis, mapping in enumerate(maps)
        )
        log_transfer = transfer_log_weight(pt, eta1, eta2, measured, settings.resolutions)
        # one exp of the sum: W and the Jacobians cancel where each alone would overflow
        return pt, eta1, eta2, log_transfer + log_jac_pt + log_jac1 + log_jac2

    log_scale = float(log_factor(np.full((1, 3), 0.5))[3][0])

    def integrand(u: np.ndarray) -> np.ndarray:
        pt, eta1, eta2, log_value = log_factor(u)
        with np.errstate(under="ignore"):
            return density(pt, eta1, eta2) * np.exp(log_value - log_scale)

    return integrand, log_scale


def mem_weight(
    event: Mapping[str, float],
    settings: MemSettings,
    density: LabDensity | None = None,
    stream: int = 0,
) -> tuple[float, float]:
    """The MEM weight of one event: vegas, ``nitn_adapt`` adapting iterations, then
    ``nitn`` on the frozen grid whose weighted mean is the result.

    Args:
        event: the measured muons, keys :data:`MUON_BRANCHES` (GeV, rad).
        settings: points, iterations, seed and resolutions.
        density: the LO density; :class:`DrellYanDensity` by default.
        stream: with ``settings.seed`` seeds the random numbers (the event's entry in a
            file, so each event's weight is the same however the file is split).

    Returns:
        (weight, its uncertainty) in pb / GeV² (module docstring).

    Raises:
        DataError: a key is missing or a value is not finite (pT not positive).
    """
    measured = MeasuredMuons.from_event(event)
    rng = np.random.default_rng([settings.seed, stream])
    integrator = vegas.Integrator(3 * [[0.0, 1.0]], ran_array_generator=rng.random)
    integrand, log_scale = unit_cube_integrand(
        measured, settings, density or DrellYanDensity(settings.sqrt_s_gev)
    )
    batch_integrand = vegas.lbatchintegrand(integrand)
    integrator(batch_integrand, nitn=settings.nitn_adapt, neval=settings.neval)
    result = integrator(batch_integrand, nitn=settings.nitn, neval=settings.neval, adapt=False)
    with np.errstate(under="ignore"):
        scale = math.exp(log_scale) if log_scale > -745.0 else 0.0
    return float(result.mean) * scale, float(result.sdev) * scale
