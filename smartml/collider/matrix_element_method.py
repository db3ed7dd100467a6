r"""Matrix-Element-Method weights of dimuon events under the LO Drell–Yan hypothesis,
with the dimuon's transverse recoil against initial-state radiation (ISR).

The weight of a measured event ``y`` (the two muons' ``pT, η, φ``) is the
differential cross section of ``p p → Z/γ* (+ recoil) → μ⁺μ⁻``, folded with the
detector's resolution::

    w(y) = ∫ d⁶p  D(p) · W(y | p)

over the true muons ``p = (pT₁, η₁, φ₁, pT₂, η₂, φ₂)``. ``W`` is the product of the
six Gaussian transfer functions (the generator's smearing): ``pT_meas ~ N(pT, r·pT)``,
``η_meas ~ N(η, σ_η)``, ``φ_meas ~ N(φ, σ_φ)`` for each muon. ``D`` is the density of
the true muons under the hypothesis: the LO Drell–Yan process in the frame where the
dimuon has no transverse momentum, times the density ``ρ(q)`` of the dimuon's
transverse momentum ``q = p₁T + p₂T`` (:class:`~smartml.collider.recoil.RecoilSpectrum`,
normalised in ``d²q``).

**Recoil.** Following MoMEMta's ``BuildInitialState`` with ``do_transverse_boost``
(the initial state is built in the frame where the final state has no transverse
momentum, so that momentum is conserved) and the transverse-boost treatment of ISR
of Alwall, Freitas and Mattelaer, "The Matrix Element Method and QCD Radiation",
Phys. Rev. D 83 (2011) 074010, arXiv:1010.2263, the LO matrix element is evaluated
after the Lorentz transformation that takes the dimuon ``Q = p₁ + p₂`` (mass ``m``,
rapidity ``y``) to rest: a boost along z by ``−y`` then a transverse boost along
``q``. It keeps ``m`` and ``y``, so ``ŝ = m²``, ``x₁,₂ = m e^(±y)/√s`` and, with ``θ``
the angle between +z and muon 1 in that rest frame (the transverse boost leaves
``p_z`` unchanged), ``cos θ = 2 pT₁ sinh(η₁ − y) / m``. The generator's recoil
(:mod:`smartml.collider.event_generator`) is the inverse transformation, so the
weight is the exact density of its events. The recoil is measured by the muons
themselves (``σ(q)`` ≈ √2 σ(pT) ≈ 0.6 GeV at the Z), far better than by the hadronic
recoil (MET, jets: ≈ 8 GeV), which is therefore not used: the six muon branches are
all the weight needs.

**Density.** The two-body measure factorises as ``d³p₁/(2E₁) d³p₂/(2E₂) = d⁴Q dΩ/8``
(massless muons, ``Ω`` in any rest frame of ``Q``), ``d⁴Q = ½ dm² dy d²q``, and the LO
``dx₁ dx₂ δ(E)δ(p_z)`` is ``2/s``. Replacing the LO ``δ²(q)`` by ``ρ(q)``::

    D(p) = pT₁ pT₂ / (8π² s) · Σ L · |M|²/(2ŝ) · ρ(q)

per GeV² (``pT₁ pT₂``), unit η₁ η₂ and rad², summed over the quark flavours d, u, s,
c, b (from either proton; ``L = f(x₁) f(x₂)``, :class:`GRV94LO` at ``Q² = ŝ``) and the
two charge assignments (the ntuple has no charge: ``|M|²(c) + |M|²(−c)``). ``|M|²``
is :func:`smartml.collider.drell_yan.squared_matrix_element`. ``Σ L |M|²/(2ŝ)`` is
computed by the LO density ``F(pT, η₁, η₂) = pT/(8π²s) · Σ L |M|²/(2ŝ)``
(:class:`DrellYanDensity`) at the back-to-back configuration with the same ``m``,
``y`` and ``cos θ``: ``D = F · pT₁ pT₂ / pT* · ρ(q)`` with ``pT* = (m/2)√(1 − cos²θ)``.

**Variables.** Each of the six true variables is drawn from a truncated Gaussian
(inverse CDF of ``u ∈ [0, 1]``, ±``truncation_sigmas``; φ at most ±π) centred on its
measured value with its transfer function's width there: the transfer functions are
flattened by the Jacobians ``dx/du = Z σ / φ((x − μ)/σ)`` and what vegas sees is ``D``,
smooth on the resolution scale (the Z Breit–Wigner, the PDFs, ``ρ``). Every event
whose muons have ``x₁, x₂ < 1`` gets a positive weight, however large its recoil.

**Normalisation.** ``w`` is the differential cross section in the six measured
variables, in pb / GeV² (per GeV of each muon's pT, per unit η and per radian φ):
its integral over the measured region with ``pT₁ > pT₂`` is the LO cross section
(``ρ`` is normalised). **Back-to-back limit.** ``ρ → δ²(q)`` gives the strict LO
weight of earlier versions, kept as the ``recoil: null`` setting (muons back to back
with equal pT, vegas over ``(pT, η₁, η₂)``, φ integrated analytically, below). For an
event that is back to back within the resolution, the two weights differ only in the
recoil factor: the recoil weight replaces the 2-d Gaussian ``N(q_meas; 0, Σ_q)`` of the
LO weight (``σ_q∥ = √2 σ(pT)``, ``σ_q⊥ = √2 pT σ_φ``) by its convolution with ``ρ``,
``(ρ ∗ N)(q_meas)``; ``tests/test_collider_mem_recoil.py`` checks that ratio.

**Strict LO (``recoil: null``).** The true muons are back to back with equal ``pT``:
``(pT, η₁, η₂, φ)`` fix the event, with ``x₁ = pT (e^η₁ + e^η₂)/√s``,
``x₂ = pT (e^−η₁ + e^−η₂)/√s``, ``ŝ = 4 pT² cosh²((η₁−η₂)/2)``, ``cos θ = tanh((η₁−η₂)/2)``,
and ``dx₁ dx₂ dΦ₂ = pT / (8π² s) · dpT dη₁ dη₂ dφ``, so the density is ``F``. The φ
integral is exact: ``∫ dφ N(φ₁ | φ) N(φ₂ | φ + π) = N(Δφ − π; 0, √2 σ_φ)``. ``pT`` is
drawn around the inverse-variance mean of the two muons (width ``r·pT/√2``), ``η₁, η₂``
around theirs. An event with recoil is many σ from this hypothesis: its weight is
tiny (rescaled by ``exp(log_scale)``, 0 below 1e-308).

>>> event = {"lep1_PT": 45.0, "lep1_Eta": 0.3, "lep1_Phi": 0.5,
...          "lep2_PT": 44.0, "lep2_Eta": -0.4, "lep2_Phi": 0.501 - np.pi}
>>> weight, error = mem_weight(event, MemSettings(neval=1000, nitn_adapt=3, nitn=3))
>>> bool(0 < error < 0.01 * weight)
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
from smartml.collider.recoil import RecoilSpectrum
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


# -- strict LO, back to back (recoil: null) ----------------------------------------------


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


def largest_separable_log(
    log_function: Callable[[np.ndarray], np.ndarray], dimensions: int, points: int = 2001
) -> float:
    """The largest value on ``[0, 1]^dimensions`` of a sum of one-axis terms
    ``Σ_a g_a(u_a)``, each axis scanned on ``points`` points (faces included) with the
    others at the centre.

    >>> abs(largest_separable_log(lambda u: -((u - [0.2, 1.0]) ** 2).sum(axis=1), 2)) < 1e-12
    True
    """
    grid = np.linspace(0.0, 1.0, points)
    centre = float(log_function(np.full((1, dimensions), 0.5))[0])
    largest = centre
    for axis in range(dimensions):
        probe = np.full((points, dimensions), 0.5)
        probe[:, axis] = grid
        values = log_function(probe)
        largest += float(np.max(values[np.isfinite(values)], initial=centre)) - centre
    return largest


def unit_cube_integrand(
    measured: MeasuredMuons, settings: MemSettings, density: LabDensity
) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    """The weight's integrand on ``[0, 1]³`` (vegas batch form: ``u[i, d] -> f[i]``),
    divided by ``exp(log_scale)``, and ``log_scale``.

    ``log_scale`` is the log of the transfer functions times the Jacobian at the
    centre of the cube: an event far from LO kinematics (muons not back to back
    within the resolution) has weights below 1e-300, whose variance would underflow.
    For such an event the map is narrower than the transfer functions' product and
    the log grows towards the cube's faces: ``log_scale`` is its largest value
    (:func:`largest_separable_log`), so the scaled integrand cannot overflow.
    """
    maps = integration_maps(measured, settings)

    def log_factor(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        (pt, log_jac_pt), (eta1, log_jac1), (eta2, log_jac2) = (
            mapping(u[:, axis]) for axis, mapping in enumerate(maps)
        )
        log_transfer = transfer_log_weight(pt, eta1, eta2, measured, settings.resolutions)
        # one exp of the sum: W and the Jacobians cancel where each alone would overflow
        return pt, eta1, eta2, log_transfer + log_jac_pt + log_jac1 + log_jac2

    log_scale = largest_separable_log(lambda u: log_factor(u)[3], dimensions=3)

    def integrand(u: np.ndarray) -> np.ndarray:
        pt, eta1, eta2, log_value = log_factor(u)
        with np.errstate(under="ignore"):
            return density(pt, eta1, eta2) * np.exp(log_value - log_scale)

    return integrand, log_scale


# -- with recoil (the default) ---------------------------------------------------------

TrueMuons = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""(pT₁, η₁, φ₁, pT₂, η₂, φ₂) arrays of the true muons (GeV, rad)."""

COS_THETA_LIMIT = 1.0 - 1e-12
"""|cos θ| is clipped here: the equivalent back-to-back η's stay finite."""


def dimuon_frame(muons: TrueMuons) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The dimuon's mass, rapidity and transverse momentum, and ``cos θ`` of muon 1 in
    its rest frame (boost along z by ``−y``, then along ``q``; module docstring).

    >>> muons = tuple(np.array([v]) for v in (40.0, 0.5, 0.0, 40.0, -0.5, np.pi))
    >>> m, y, qt, c = dimuon_frame(muons)
    >>> bool(np.allclose([m[0], y[0], qt[0], c[0]], [80 * np.cosh(0.5), 0, 0, np.tanh(0.5)]))
    True
    """
    pt1, eta1, phi1, pt2, eta2, phi2 = muons
    plus = pt1 * np.exp(eta1) + pt2 * np.exp(eta2)  # E + p_z
    minus = pt1 * np.exp(-eta1) + pt2 * np.exp(-eta2)  # E − p_z, exact at large η
    qx = pt1 * np.cos(phi1) + pt2 * np.cos(phi2)
    qy = pt1 * np.sin(phi1) + pt2 * np.sin(phi2)
    # m² = 2 pT₁ pT₂ (cosh Δη − cos Δφ): no cancellation between large E and p
    mass = np.sqrt(2.0 * pt1 * pt2 * (np.cosh(eta1 - eta2) - np.cos(phi1 - phi2)))
    rapidity = 0.5 * np.log(plus / minus)
    cos_theta = np.clip(2.0 * pt1 * np.sinh(eta1 - rapidity) / mass, -1.0, 1.0)
    return mass, rapidity, np.hypot(qx, qy), cos_theta


def recoil_density(muons: TrueMuons, density: LabDensity, spectrum: RecoilSpectrum) -> np.ndarray:
    """``D(p)`` of the module docstring: the LO density in the dimuon's rest frame
    times ``ρ(q)``, in pb per GeV² (``pT₁ pT₂``) per unit η₁, η₂ and rad².

    Args:
        muons: the true muons.
        density: the LO (back-to-back) density ``F(pT, η₁, η₂)``.
        spectrum: the recoil's ``ρ(q)``.

    Returns:
        D, 0 where ``x₁`` or ``x₂`` ≥ 1.
    """
    mass, rapidity, qt, cos_theta = dimuon_frame(muons)
    cos_theta = np.clip(cos_theta, -COS_THETA_LIMIT, COS_THETA_LIMIT)
    half_gap = np.arctanh(cos_theta)
    pt_star = 0.5 * mass * np.sqrt((1.0 - cos_theta) * (1.0 + cos_theta))
    lo = density(pt_star, rapidity + half_gap, rapidity - half_gap)
    return lo * (muons[0] * muons[3] / pt_star) * spectrum.density(qt)


def muon_transfer_log_weight(
    muons: TrueMuons, measured: MeasuredMuons, resolutions: MuonResolutions
) -> np.ndarray:
    """log of the six transfer functions at the true ``muons``: per GeV² (the two pT
    densities) per rad² (φ differences wrapped to (−π, π]).

    >>> muons = MeasuredMuons(40.0, 0.0, 3.1, 40.0, 0.0, -3.1)
    >>> widths = MuonResolutions(pt_relative=0.1, pt_relative_per_gev=0.0, eta=0.1, phi=0.1)
    >>> true = tuple(np.array([v]) for v in (40.0, 0.0, -3.1, 40.0, 0.0, 3.1))
    >>> value = np.exp(muon_transfer_log_weight(true, muons, widths))
    >>> bool(np.isclose(value, np.exp(-2 * 0.5 * (2 * np.pi - 6.2) ** 2 / 0.01)
    ...                 / (2 * np.pi * 4.0**2) / (2 * np.pi * 0.1**2) ** 2))
    True
    """
    pt1, eta1, phi1, pt2, eta2, phi2 = muons
    return (
        gaussian_log_pdf(measured.pt1, pt1, resolutions.pt_sigma(pt1))
        + gaussian_log_pdf(measured.pt2, pt2, resolutions.pt_sigma(pt2))
        + gaussian_log_pdf(measured.eta1, eta1, resolutions.eta)
        + gaussian_log_pdf(measured.eta2, eta2, resolutions.eta)
        + gaussian_log_pdf(wrap_angle(measured.phi1 - phi1), 0.0, resolutions.phi)
        + gaussian_log_pdf(wrap_angle(measured.phi2 - phi2), 0.0, resolutions.phi)
    )


def recoil_integration_maps(
    measured: MeasuredMuons, settings: MemSettings
) -> tuple[TruncatedGaussianMap, ...]:
    """The maps of the six true variables, each centred on its measured value with its
    transfer function's width there (module docstring)."""
    widths, reach = settings.resolutions, settings.truncation_sigmas
    maps = []
    for pt, eta, phi in (
        (measured.pt1, measured.eta1, measured.phi1),
        (measured.pt2, measured.eta2, measured.phi2),
    ):
        pt_sigma = float(widths.pt_sigma(pt))
        maps.append(
            TruncatedGaussianMap(
                pt, pt_sigma, max(pt - reach * pt_sigma, 1e-3 * pt), pt + reach * pt_sigma
            )
        )
        maps.append(
            TruncatedGaussianMap(
                eta, widths.eta, eta - reach * widths.eta, eta + reach * widths.eta
            )
        )
        # beyond ±π the same azimuth would be counted twice
        phi_reach = min(reach * widths.phi, math.pi)
        maps.append(TruncatedGaussianMap(phi, widths.phi, phi - phi_reach, phi + phi_reach))
    return tuple(maps)


def recoil_unit_cube_integrand(
    measured: MeasuredMuons, settings: MemSettings, density: LabDensity
) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    """The recoil weight's integrand on ``[0, 1]⁶`` (vegas batch form), divided by
    ``exp(log_scale)``, and ``log_scale``: the log of ``D · W`` times the Jacobians at
    the centre of the cube (``W`` and the Jacobians are summed as logs: each alone can
    overflow for narrow resolutions, their product is close to 1)."""
    maps = recoil_integration_maps(measured, settings)
    spectrum = settings.recoil or RecoilSpectrum()

    def log_factor(u: np.ndarray) -> tuple[TrueMuons, np.ndarray]:
        mapped = [mapping(u[:, axis]) for axis, mapping in enumerate(maps)]
        muons: TrueMuons = tuple(x for x, _ in mapped)  # type: ignore[assignment]
        log_jacobian = np.sum([log_jac for _, log_jac in mapped], axis=0)
        return muons, muon_transfer_log_weight(muons, measured, settings.resolutions) + log_jacobian

    centre, log_centre = log_factor(np.full((1, 6), 0.5))
    density_centre = float(recoil_density(centre, density, spectrum)[0])
    log_scale = float(log_centre[0])
    if density_centre > 0 and math.isfinite(density_centre):
        log_scale += math.log(density_centre)

    def integrand(u: np.ndarray) -> np.ndarray:
        muons, log_value = log_factor(u)
        with np.errstate(under="ignore"):
            return recoil_density(muons, density, spectrum) * np.exp(log_value - log_scale)

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
        settings: points, iterations, seed, resolutions and the recoil spectrum
            (``settings.recoil`` None: the strict back-to-back LO weight).
        density: the LO density; :class:`DrellYanDensity` by default.
        stream: with ``settings.seed`` seeds the random numbers (the event's entry in a
            file, so each event's weight is the same however the file is split).

    Returns:
        (weight, its uncertainty) in pb / GeV² (module docstring).

    Raises:
        DataError: a key is missing or a value is not finite (pT not positive).
    """
    measured = MeasuredMuons.from_event(event)
    density = density or DrellYanDensity(settings.sqrt_s_gev)
    if settings.recoil is None:
        integrand, log_scale = unit_cube_integrand(measured, settings, density)
        dimensions = 3
    else:
        integrand, log_scale = recoil_unit_cube_integrand(measured, settings, density)
        dimensions = 6
    rng = np.random.default_rng([settings.seed, stream])
    integrator = vegas.Integrator(dimensions * [[0.0, 1.0]], ran_array_generator=rng.random)
    batch_integrand = vegas.lbatchintegrand(integrand)
    integrator(batch_integrand, nitn=settings.nitn_adapt, neval=settings.neval)
    result = integrator(batch_integrand, nitn=settings.nitn, neval=settings.neval, adapt=False)
    return rescaled(float(result.mean), log_scale), rescaled(float(result.sdev), log_scale)


def rescaled(value: float, log_scale: float) -> float:
    """``value · exp(log_scale)`` for ``value`` ≥ 0, computed as one exp of the summed
    logs (each factor alone may overflow); 0 below the smallest float, inf above the
    largest.

    >>> rescaled(0.0, 1e6), rescaled(math.e, -1.0), rescaled(1e-300, 700.0) > 1e3
    (0.0, 1.0, True)
    """
    if value <= 0.0:
        return 0.0
    log_value = math.log(value) + log_scale
    if log_value > 709.0:
        return math.inf
    return math.exp(log_value) if log_value > -745.0 else 0.0
