r"""Built-in event generators: pp → Z/γ* → μ⁺μ⁻ and dileptonic t t̄, as ROOT ntuples.

Every default configuration of the ntuple tasks runs offline on these events. Both
processes write the same branches (DeepMEM-style names), one entry per event:

- reconstructed (float32): ``lep1_PT, lep1_Eta, lep1_Phi, lep2_PT, lep2_Eta,
  lep2_Phi`` (lep1 = the muon of larger reconstructed pT), ``lep1_Charge,
  lep2_Charge`` (int32), ``MET, METPhi``, and the jagged jets ``Jet_PT, Jet_Eta,
  Jet_Phi`` with their counter ``nJet`` (pT-ordered; Drell–Yan at LO has none);
- truth (float64, prefix ``gen_``): ``gen_lep1_PT ... gen_lep2_Phi`` of the same
  two muons, ``gen_MET, gen_METPhi`` (the neutrinos), ``gen_recoil_PT,
  gen_recoil_Phi`` (the transverse momentum of the hard system, μμ or t t̄, from
  the ISR recoil), ``gen_x1, gen_x2`` (momentum
  fractions of the partons from beam 1, along +z, and beam 2), ``gen_shat`` (ŝ of
  the hard process [GeV²]), ``gen_y`` (its rapidity), ``gen_cos_theta`` (Drell–Yan:
  cos of the angle between the incoming quark and the μ⁻ in the μμ rest frame; t t̄:
  of the top against +z in the t t̄ rest frame; the rest frame is reached by a boost
  along z, then one along the recoil) and ``gen_parton1`` (int32, PDG id of
  the parton from beam 1: ±q, or 21 for gg → t t̄).

Drell–Yan (:func:`generate_drell_yan`)
--------------------------------------
``d³σ/(dm dy dcosθ*) = (2/m) Σ_q [x1f_q(x1) x2f_q̄(x2) dσ̂_q/dc(c) + x1f_q̄(x1)
x2f_q(x2) dσ̂_q/dc(−c)]`` (GRV94 LO at Q = m, :mod:`smartml.collider.drell_yan`),
θ* the angle between +z and the μ⁻ in the μμ rest frame. Sampled by importance:
m from 80% a Breit–Wigner in m² (the Z) and 20% ``∝ m⁻³`` (the photon) inside
``[mll_min_gev, mll_max_gev]``, y uniform within the kinematic limit
``|y| < ln(√s/m)``, cosθ* and φ uniform; the weights are unweighted by
accept–reject against the largest weight of the first batch (times 1.1; events with
a larger weight, if any, are kept with weight 1 and counted as ``overweight``). The
quark flavour and which beam it came from are drawn in proportion to their terms.

t t̄ → b μ⁺ν b̄ μ⁻ν̄ (:func:`generate_ttbar_dilepton`)
-----------------------------------------------------
gg and q q̄ → t t̄ at LO (:mod:`smartml.collider.top_pairs`) with the GRV94 LO
luminosities at Q = m_t: m_tt from ``∝ m⁻⁴`` above threshold, y uniform, the top
direction isotropic in the t t̄ frame (the "flat-ish" angular distribution of the
simplification), then t → bW, W → μν isotropic with Breit–Wigner masses. The two b
quarks are the jets. Every W decays to μν: the sample is the dimuon channel only.

ISR recoil (both processes; ``recoil`` of :class:`GenerationConfig`)
------------------------------------------------------------------
The hard system (μμ or t t̄) gets a transverse momentum ``q`` drawn from
:class:`~smartml.collider.recoil.RecoilSpectrum` (``dP/dqT ∝ qT (1 + qT²/a²)^−b``,
azimuth uniform), independent of its mass and rapidity: its decay products are
built in its rest frame, boosted along ``q`` to transverse momentum ``qT`` and then
along z to rapidity ``y``, so the mass, the rapidity, ``x₁``, ``x₂`` and the decay
angles are those of the LO event (the MEM's transverse-boost hypothesis,
:mod:`smartml.collider.matrix_element_method`, inverts exactly this). Momentum is
balanced by one recoil parton of transverse momentum ``−q`` and pseudorapidity
``y + N(0, recoil_jet_eta_sigma)``: a jet when its reconstructed pT and |η| pass the
jet cuts (t t̄: beside the two b jets), otherwise unclustered activity, measured in
the MET's soft term. Both processes use the same spectrum (the Z's; the t t̄
system's is in reality harder). ``recoil: null`` gives the LO events (no recoil).

Detector (:mod:`smartml.collider.detector`): smeared muons and jets, muon acceptance
(leading/subleading pT, |η|), jets kept within their pT and |η| cuts, MET from the
reconstructed imbalance (muons, jets and the unclustered recoil) plus a Gaussian
soft term.

Simplifications: LO matrix elements; the recoil is one parton whose energy is not
taken from the beams (x₁, x₂ are the LO ones); no parton shower, hadronisation,
underlying event or pile-up; fixed-order α_s for t t̄; no spin correlations in the
top decays; no τ decays; muons only; efficiency 100% inside the acceptance.

>>> from smartml.collider.generation_config import GenerationConfig
>>> events = generate_drell_yan(200, seed=1, config=GenerationConfig())
>>> len(events["lep1_PT"]), bool((events["lep1_PT"] >= events["lep2_PT"]).all())
(200, True)
>>> int(ak.max(ak.num(events["Jet_PT"])))  # at most the recoil jet
1
"""

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import awkward as ak
import numpy as np
import uproot

from smartml.collider import detector, top_pairs
from smartml.collider.constants import GAMMA_Z, M_Z, MUON_MASS
from smartml.collider.drell_yan import (
    DRELL_YAN_QUARKS,
    differential_cross_section,
    parton_luminosities,
)
from smartml.collider.generation_config import GenerationConfig
from smartml.collider.kinematics import (
    boost,
    boost_z,
    from_rest_frame_decay,
    pt_eta_phi,
    two_body_momentum,
    wrap_phi,
)
from smartml.collider.parton_densities import GLUON, GRV94LO
from smartml.console import progress
from smartml.data.cache import MANIFEST_NAME, GeneratorCache
from smartml.errors import ConfigError, OutputError
from smartml.files import atomic_file

log = logging.getLogger(__name__)

# Bump when the physics or the file format changes: it is part of the cache key.
GENERATOR_VERSION = 2
NTUPLE_NAME = "events.root"
TREE_NAME = "events"
PROCESSES = ("drell_yan", "ttbar_dilepton")
Process = Literal["drell_yan", "ttbar_dilepton"]
#: One cache per process: ``<root>/<process>-<12 hex>/events.root``.
CACHES = {
    process: GeneratorCache(
        identity={"generator_version": GENERATOR_VERSION},
        prefix=process,
        kind="collider",
        what=f"the generated {process} ntuple",
        owned_files=f"{re.escape(NTUPLE_NAME)}|{re.escape(MANIFEST_NAME)}",
    )
    for process in PROCESSES
}
BATCH_SIZE = 100_000
WRITE_CHUNK = 100_000
GENERATION_CHUNK = 500_000
WEIGHT_MARGIN = 1.1
BREIT_WIGNER_FRACTION = 0.8
TOP_PAIR_MASS_MAX_GEV = 4000.0

Branches = dict[str, Any]
PDF = GRV94LO()
# (+q, −q) for each quark: the signed id of the parton from beam 1.
_DRELL_YAN_CHANNELS = np.array([sign * q for q in DRELL_YAN_QUARKS for sign in (1, -1)])


@dataclass
class GenerationStats:
    """What a generation run reports (written to a cached ntuple's manifest)."""

    proposed: int = 0
    accepted_hard: int = 0
    overweight: int = 0
    weight_sum_pb: float = 0.0
    selected: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        """Cross section before cuts [pb], acceptance, unweighting efficiency."""
        return {
            "cross_section_pb": self.weight_sum_pb / max(self.proposed, 1),
            "acceptance": self.selected / max(self.accepted_hard, 1),
            "unweighting_efficiency": self.accepted_hard / max(self.proposed, 1),
            "overweight_fraction": self.overweight / max(self.accepted_hard, 1),
        }


# -- sampling helpers ---------------------------------------------------------------


def _power_law(low: float, high: float, power: float, u: np.ndarray) -> np.ndarray:
    """Inverse CDF of ∝ m^(−power) on [low, high] (power ≠ 1)."""
    a, b = low ** (1.0 - power), high ** (1.0 - power)
    return (a + u * (b - a)) ** (1.0 / (1.0 - power))


def _power_law_density(m: np.ndarray, low: float, high: float, power: float) -> np.ndarray:
    norm = (high ** (1.0 - power) - low ** (1.0 - power)) / (1.0 - power)
    return m ** (-power) / norm


def _mass_proposal(
    size: int, low: float, high: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Dilepton masses from the Z Breit–Wigner (in m²) ⊕ m⁻³ mixture and their density."""
    scale = M_Z * GAMMA_Z
    t_low, t_high = np.arctan((low**2 - M_Z**2) / scale), np.arctan((high**2 - M_Z**2) / scale)
    resonant = np.sqrt(M_Z**2 + scale * np.tan(rng.uniform(t_low, t_high, size)))
    continuum = _power_law(low, high, 3.0, rng.uniform(size=size))
    mass = np.where(rng.uniform(size=size) < BREIT_WIGNER_FRACTION, resonant, continuum)
    bw_density = 2.0 * mass * scale / (((mass**2 - M_Z**2) ** 2 + scale**2) * (t_high - t_low))
    density = BREIT_WIGNER_FRACTION * bw_density + (1.0 - BREIT_WIGNER_FRACTION) * (
        _power_law_density(mass, low, high, 3.0)
    )
    return mass, density


def _choose(contributions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per row, the index of a column drawn in proportion to the (n, k) contributions."""
    cumulative = np.cumsum(contributions, axis=1)
    draw = rng.uniform(size=len(contributions)) * cumulative[:, -1]
    return np.minimum(np.sum(cumulative < draw[:, None], axis=1), contributions.shape[1] - 1)


def _rapidity_and_fractions(mass: np.ndarray, sqrt_s: float, rng: np.random.Generator):
    y_max = np.log(sqrt_s / mass)
    y = rng.uniform(-1.0, 1.0, mass.shape) * y_max
    tau_root = mass / sqrt_s
    return y, y_max, tau_root * np.exp(y), tau_root * np.exp(-y)


# -- hard processes -------------------------------------------------------------------


def _propose_drell_yan(size: int, config: GenerationConfig, rng) -> Branches:
    """Weighted Drell–Yan hard events (weights in pb)."""
    mass, mass_density = _mass_proposal(size, config.mll_min_gev, config.mll_max_gev, rng)
    y, y_max, x1, x2 = _rapidity_and_fractions(mass, config.sqrt_s_gev, rng)
    cos_theta = rng.uniform(-1.0, 1.0, size)
    s_hat = mass**2
    luminosity = parton_luminosities(x1, x2, s_hat, PDF)
    terms = []
    for quark in DRELL_YAN_QUARKS:
        terms.append(luminosity[quark] * differential_cross_section(s_hat, cos_theta, quark))
        terms.append(luminosity[-quark] * differential_cross_section(s_hat, -cos_theta, quark))
    contributions = np.stack(terms, axis=1) * (2.0 / mass)[:, None]
    weight = contributions.sum(axis=1) / (mass_density / (2.0 * y_max) / 2.0)
    return {
        "weight": weight,
        "contributions": contributions,
        "mass": mass,
        "y": y,
        "x1": x1,
        "x2": x2,
        "cos_theta": cos_theta,
    }


def _propose_top_pairs(size: int, config: GenerationConfig, rng) -> Branches:
    """Weighted t t̄ hard events (weights in pb)."""
    low = 2.0 * (top_pairs.M_TOP - top_pairs.WIDTHS_KEPT * top_pairs.GAMMA_TOP)
    high = min(TOP_PAIR_MASS_MAX_GEV, 0.5 * config.sqrt_s_gev)
    mass = _power_law(low, high, 4.0, rng.uniform(size=size))
    top_mass, antitop_mass = top_pairs.top_masses(size, rng), top_pairs.top_masses(size, rng)
    y, y_max, x1, x2 = _rapidity_and_fractions(mass, config.sqrt_s_gev, rng)
    s_hat = mass**2
    scale = np.full(size, top_pairs.M_TOP**2)
    beam1, beam2 = PDF.xf_all(x1, scale), PDF.xf_all(x2, scale)
    quark_sigma = top_pairs.qqbar_to_top_pair(s_hat)
    terms = [beam1[GLUON] * beam2[GLUON] * top_pairs.gg_to_top_pair(s_hat)]
    for quark in DRELL_YAN_QUARKS:
        terms.append(beam1[quark] * beam2[-quark] * quark_sigma)
        terms.append(beam1[-quark] * beam2[quark] * quark_sigma)
    open_ = mass > top_mass + antitop_mass
    contributions = np.stack(terms, axis=1) * np.where(open_, 2.0 / mass, 0.0)[:, None]
    weight = contributions.sum(axis=1) / (_power_law_density(mass, low, high, 4.0) / (2.0 * y_max))
    return {
        "weight": weight,
        "contributions": contributions,
        "mass": mass,
        "y": y,
        "x1": x1,
        "x2": x2,
        "cos_theta": rng.uniform(-1.0, 1.0, size),
        "top_mass": top_mass,
        "antitop_mass": antitop_mass,
    }


# -- events -------------------------------------------------------------------------


def _draw_recoil(rapidity: np.ndarray, config: GenerationConfig, rng) -> Branches:
    """The hard system's transverse momentum ``qx, qy`` and the recoil parton's truth
    ``pt, eta, phi`` (module docstring); no parton (empty columns) without recoil."""
    n = len(rapidity)
    if config.recoil is None:
        return {"qx": np.zeros(n), "qy": np.zeros(n)} | _no_jets(n)
    qt, phi = config.recoil.sample(n, rng)
    eta = rapidity + config.recoil_jet_eta_sigma * rng.standard_normal(n)
    return {
        "qx": qt * np.cos(phi),
        "qy": qt * np.sin(phi),
        "pt": qt[:, None],
        "eta": eta[:, None],
        "phi": wrap_phi(phi + np.pi)[:, None],
    }


def _recoiling_pair(
    mass: np.ndarray,
    mass1,
    mass2,
    cos_theta: np.ndarray,
    rapidity: np.ndarray,
    recoil: Branches,
    rng,
) -> tuple[np.ndarray, np.ndarray]:
    """Two daughters of a system of mass ``mass``, transverse momentum ``(qx, qy)`` of
    ``recoil`` and ``rapidity``: decayed at rest (``cos_theta`` against z), boosted along
    q, then along z (mass and rapidity kept)."""
    momentum = two_body_momentum(mass, mass1, mass2)
    phi = rng.uniform(-np.pi, np.pi, mass.shape)
    first = from_rest_frame_decay(momentum, np.broadcast_to(mass1, mass.shape), cos_theta, phi)
    second = from_rest_frame_decay(
        momentum, np.broadcast_to(mass2, mass.shape), -cos_theta, phi + np.pi
    )
    qx, qy = recoil["qx"], recoil["qy"]
    transverse = np.stack([np.sqrt(mass**2 + qx**2 + qy**2), qx, qy, np.zeros_like(mass)], axis=-1)
    return (
        boost_z(boost(first, transverse), rapidity),
        boost_z(boost(second, transverse), rapidity),
    )


def _reconstructed_jets(
    truth: Branches, config: GenerationConfig, rng
) -> tuple[Branches, np.ndarray]:
    """Smeared jets within the cuts, pT-ordered and NaN-padded, and which truth
    partons (columns of ``truth``) became jets.

    Args:
        truth: (n, k) arrays ``pt, eta, phi`` of the partons (NaN where absent).
        config: resolutions and cuts.
        rng: the random generator.
    """
    pt, eta, phi = detector.smear_jets(truth["pt"], truth["eta"], truth["phi"], config, rng)
    kept = (pt > config.jet_pt_min_gev) & (np.abs(eta) < config.jet_abs_eta_max)
    order = np.argsort(np.where(kept, -pt, np.inf), axis=1, kind="stable")
    jets = {
        key: np.take_along_axis(np.where(kept, value, np.nan), order, axis=1)
        for key, value in (("pt", pt), ("eta", eta), ("phi", phi))
    }
    return jets, kept


def _unclustered_recoil(recoil: Branches, clustered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(px, py) of the recoil parton where it is not a jet (the soft term sees it)."""
    if recoil["pt"].shape[1] == 0:
        zero = np.zeros(len(recoil["qx"]))
        return zero, zero
    free = ~clustered[:, 0]
    return np.where(free, -recoil["qx"], 0.0), np.where(free, -recoil["qy"], 0.0)


def _common_truth(
    hard: Branches, parton1: np.ndarray, cos_theta: np.ndarray, recoil: Branches
) -> Branches:
    return {
        "gen_recoil_PT": np.hypot(recoil["qx"], recoil["qy"]),
        "gen_recoil_Phi": np.arctan2(recoil["qy"], recoil["qx"]),
        "gen_x1": hard["x1"],
        "gen_x2": hard["x2"],
        "gen_shat": hard["mass"] ** 2,
        "gen_y": hard["y"],
        "gen_cos_theta": cos_theta,
        "gen_parton1": parton1.astype(np.int32),
    }


def _muon_and_met_branches(
    muons: tuple[np.ndarray, np.ndarray],
    neutrino_sum: np.ndarray,
    jets: Branches,
    unclustered: tuple[np.ndarray, np.ndarray],
    config: GenerationConfig,
    rng,
) -> tuple[Branches, np.ndarray]:
    """Smeared, ordered muons, MET and the acceptance mask.

    Args:
        muons: lab four-vectors (μ⁻, μ⁺), each (n, 4).
        neutrino_sum: (n, 4) summed neutrino four-vectors.
        jets: reconstructed jets as (n, k) arrays ``pt``, ``phi`` (NaN where absent).
        unclustered: (px, py) of the visible activity that is not a jet (the recoil).
        config: the detector.
        rng: the random generator.
    """
    truth = [pt_eta_phi(p) for p in muons]
    true_pt, true_eta, true_phi = (np.stack([t[i] for t in truth], axis=1) for i in range(3))
    pt, eta, phi = detector.smear_muons(true_pt, true_eta, true_phi, config, rng)
    charge = np.broadcast_to(np.array([-1, 1], dtype=np.int32), pt.shape)
    jet_px = np.nansum(jets["pt"] * np.cos(jets["phi"]), axis=1) + unclustered[0]
    jet_py = np.nansum(jets["pt"] * np.sin(jets["phi"]), axis=1) + unclustered[1]
    met, met_phi = detector.missing_transverse_momentum(
        np.sum(pt * np.cos(phi), axis=1) + jet_px,
        np.sum(pt * np.sin(phi), axis=1) + jet_py,
        config,
        rng,
    )
    order = np.argsort(-pt, axis=1, kind="stable")
    branches: Branches = {}
    for slot, name in enumerate(("lep1", "lep2")):
        pick = order[:, slot : slot + 1]
        for suffix, reco, gen in (
            ("PT", pt, true_pt),
            ("Eta", eta, true_eta),
            ("Phi", phi, true_phi),
        ):
            branches[f"{name}_{suffix}"] = np.take_along_axis(reco, pick, 1)[:, 0].astype(
                np.float32
            )
            branches[f"gen_{name}_{suffix}"] = np.take_along_axis(gen, pick, 1)[:, 0]
        branches[f"{name}_Charge"] = np.take_along_axis(charge, pick, 1)[:, 0]
    branches["MET"], branches["METPhi"] = met.astype(np.float32), met_phi.astype(np.float32)
    branches["gen_MET"] = np.hypot(neutrino_sum[:, 1], neutrino_sum[:, 2])
    branches["gen_METPhi"] = np.arctan2(neutrino_sum[:, 2], neutrino_sum[:, 1])
    return branches, detector.muons_accepted(pt, eta, config)


def _jet_branches(jets: Branches) -> Branches:
    """(n, k) NaN-padded jets → jagged ``Jet_*`` (awkward, float32)."""
    present = ~np.isnan(jets["pt"])
    counts = present.sum(axis=1)
    return {
        f"Jet_{suffix}": ak.unflatten(jets[key][present].astype(np.float32), counts)
        for suffix, key in (("PT", "pt"), ("Eta", "eta"), ("Phi", "phi"))
    }


def _no_jets(n: int) -> Branches:
    return {key: np.zeros((n, 0)) for key in ("pt", "eta", "phi")}


def _drell_yan_events(hard: Branches, config: GenerationConfig, rng) -> tuple[Branches, np.ndarray]:
    channel = _choose(hard["contributions"], rng)
    parton1 = _DRELL_YAN_CHANNELS[channel]
    n = len(parton1)
    recoil = _draw_recoil(hard["y"], config, rng)
    muon_minus, muon_plus = _recoiling_pair(
        hard["mass"], MUON_MASS, MUON_MASS, hard["cos_theta"], hard["y"], recoil, rng
    )
    jets, clustered = _reconstructed_jets(recoil, config, rng)
    branches, accepted = _muon_and_met_branches(
        (muon_minus, muon_plus),
        np.zeros((n, 4)),
        jets,
        _unclustered_recoil(recoil, clustered),
        config,
        rng,
    )
    cos_quark = np.where(parton1 > 0, hard["cos_theta"], -hard["cos_theta"])
    branches.update(_common_truth(hard, parton1, cos_quark, recoil))
    branches.update(_jet_branches(jets))
    return branches, accepted


def _ttbar_events(hard: Branches, config: GenerationConfig, rng) -> tuple[Branches, np.ndarray]:
    channel = _choose(hard["contributions"], rng)
    parton1 = np.concatenate([[GLUON], _DRELL_YAN_CHANNELS])[channel]
    recoil = _draw_recoil(hard["y"], config, rng)
    top, antitop = _recoiling_pair(
        hard["mass"],
        hard["top_mass"],
        hard["antitop_mass"],
        hard["cos_theta"],
        hard["y"],
        recoil,
        rng,
    )
    from_top, from_antitop = top_pairs.decay_top(top, rng), top_pairs.decay_top(antitop, rng)
    b_truth = [pt_eta_phi(p) for p in (from_top["b"], from_antitop["b"])]
    # the recoil parton (if any) is column 0: _unclustered_recoil reads it there
    partons = {
        key: np.concatenate([recoil[key], np.stack([t[i] for t in b_truth], axis=1)], axis=1)
        for i, key in enumerate(("pt", "eta", "phi"))
    }
    jets, clustered = _reconstructed_jets(partons, config, rng)
    neutrinos = from_top["neutrino"] + from_antitop["neutrino"]
    branches, accepted = _muon_and_met_branches(
        (from_antitop["muon"], from_top["muon"]),
        neutrinos,
        jets,
        _unclustered_recoil(recoil, clustered),
        config,
        rng,
    )
    branches.update(_common_truth(hard, parton1, hard["cos_theta"], recoil))
    branches.update(_jet_branches(jets))
    return branches, accepted


_PROCESSES: dict[
    str, tuple[Callable[..., Branches], Callable[..., tuple[Branches, np.ndarray]]]
] = {
    "drell_yan": (_propose_drell_yan, _drell_yan_events),
    "ttbar_dilepton": (_propose_top_pairs, _ttbar_events),
}


def _select(branches: Branches, mask: np.ndarray) -> Branches:
    return {name: value[mask] for name, value in branches.items()}


def _concatenate(parts: list[Branches], n: int) -> Branches:
    names = parts[0].keys()
    joined: Branches = {}
    for name in names:
        values = [part[name] for part in parts]
        if isinstance(values[0], ak.Array):
            joined[name] = ak.concatenate(values)[:n]
        else:
            joined[name] = np.concatenate(values)[:n]
    return joined


def _generate(
    process: str, n: int, seed: int, config: GenerationConfig
) -> tuple[Branches, GenerationStats]:
    """Unweighted, selected events of ``process`` and what the run measured."""
    if process not in _PROCESSES:
        raise ConfigError(f"unknown process '{process}', expected one of {', '.join(PROCESSES)}")
    propose, build = _PROCESSES[process]
    rng = np.random.default_rng(seed)
    stats = GenerationStats()
    parts: list[Branches] = []
    max_weight = None
    while stats.selected < n or not parts:
        hard = propose(BATCH_SIZE, config, rng)
        weight = hard.pop("weight")
        if max_weight is None:
            max_weight = WEIGHT_MARGIN * float(weight.max())
        stats.proposed += len(weight)
        stats.weight_sum_pb += float(weight.sum())
        stats.overweight += int(np.sum(weight > max_weight))
        keep = rng.uniform(size=len(weight)) * max_weight < weight
        stats.accepted_hard += int(keep.sum())
        branches, accepted = build(_select(hard, keep), config, rng)
        parts.append(_select(branches, accepted))
        stats.selected += int(accepted.sum())
    return _concatenate(parts, n), stats


def generate_drell_yan(n: int, seed: int, config: GenerationConfig) -> Branches:
    """Unweighted pp → Z/γ* → μ⁺μ⁻ events passing the acceptance (module docstring).

    Args:
        n: number of events.
        seed: seeds the numpy generator (``config.seed`` is not used).
        config: collider, m_ℓℓ window, detector and cuts.

    Returns:
        ``{branch: array}``: numpy arrays of length n, and awkward jagged arrays for
        ``Jet_PT, Jet_Eta, Jet_Phi`` (the recoil jet where it passes the jet cuts).
    """
    return _generate("drell_yan", n, seed, config)[0]


def generate_ttbar_dilepton(n: int, seed: int, config: GenerationConfig) -> Branches:
    """Unweighted t t̄ → b μ⁺ν b̄ μ⁻ν̄ events passing the muon acceptance.

    Args: as :func:`generate_drell_yan`.

    Returns:
        the same branches as :func:`generate_drell_yan`; up to three jets per event
        (two b jets and the recoil jet).
    """
    return _generate("ttbar_dilepton", n, seed, config)[0]


# -- ROOT output --------------------------------------------------------------------


def _jagged_groups(events: Mapping[str, Any]) -> dict[str, list[str]]:
    """Jagged branches grouped by the prefix before their first '_' (``Jet`` → nJet)."""
    groups: dict[str, list[str]] = {}
    for name, value in events.items():
        if isinstance(value, ak.Array):
            groups.setdefault(name.split("_", 1)[0], []).append(name)
    return groups


def _branch_types(events: Mapping[str, Any], groups: dict[str, list[str]]) -> dict[str, Any]:
    jagged = {name for names in groups.values() for name in names}
    types: dict[str, Any] = {
        name: np.asarray(value).dtype for name, value in events.items() if name not in jagged
    }
    for prefix, names in groups.items():
        fields = ", ".join(f"{name[len(prefix) + 1 :]}: float32" for name in names)
        types[prefix] = ak.types.from_datashape(f"var * {{{fields}}}", highlevel=False)
    return types


def _chunk(events: Mapping[str, Any], groups: dict[str, list[str]], start: int, stop: int) -> dict:
    jagged = {name for names in groups.values() for name in names}
    chunk: dict[str, Any] = {
        name: np.asarray(value[start:stop]) for name, value in events.items() if name not in jagged
    }
    for prefix, names in groups.items():
        chunk[prefix] = ak.zip(
            {
                name[len(prefix) + 1 :]: ak.values_astype(events[name][start:stop], np.float32)
                for name in names
            }
        )
    return chunk


def _length(events: Mapping[str, Any]) -> int:
    lengths = {name: len(value) for name, value in events.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"write_ntuple: branches of different lengths {lengths}")
    return next(iter(lengths.values()))


def write_ntuple(
    path: str | Path,
    events: Mapping[str, Any],
    tree: str = TREE_NAME,
    chunk_size: int = WRITE_CHUNK,
) -> Path:
    """Write events as a ROOT TTree, in baskets of ``chunk_size`` entries, atomically.

    Flat branches keep their numpy dtype; awkward jagged branches ``<Prefix>_<Name>``
    (float32) share one counter ``n<Prefix>`` per prefix (``Jet_PT`` → ``nJet``). The
    file is written under a hidden name beside ``path`` and renamed into place, so a
    crash never leaves a partial ``path``.

    Args:
        path: the ``.root`` file to create or replace.
        events: ``{branch: array}``, all of the same length.
        tree: the TTree's name.
        chunk_size: entries per ``extend`` (one basket each).

    Returns:
        ``path``.

    Raises:
        OutputError: the file cannot be written (one line naming it).
        ValueError: branches of different lengths.
    """
    path = Path(path)
    n = _length(events)
    groups = _jagged_groups(events)
    with (
        atomic_file(path, OutputError, "the ntuple", parents=True) as staging,
        uproot.recreate(staging) as file,
    ):
        writer = file.mktree(tree, _branch_types(events, groups))
        for start in range(0, n, chunk_size):
            writer.extend(_chunk(events, groups, start, min(start + chunk_size, n)))
    return path


# -- cache ----------------------------------------------------------------------------


def _write_generated(
    staging: Path, config: GenerationConfig, n: int, process: str
) -> dict[str, Any]:
    """Generate ``n`` events in chunks (seeds spawned from ``config.seed``) into one file."""
    n_chunks = -(-n // GENERATION_CHUNK)
    seeds = np.random.SeedSequence(config.seed).spawn(n_chunks)
    parts, summaries = [], []
    with progress(n, "event", f"generating {process}") as bar:
        for index, seed in enumerate(seeds):
            size = min(GENERATION_CHUNK, n - index * GENERATION_CHUNK)
            events, stats = _generate(process, size, int(seed.generate_state(1)[0]), config)
            parts.append(events)
            summaries.append(stats.summary())
            bar.update(size)
    write_ntuple(staging / NTUPLE_NAME, _concatenate(parts, n) if len(parts) > 1 else parts[0])
    return {key: float(np.mean([s[key] for s in summaries])) for key in summaries[0]}


def cached_ntuple(
    config: GenerationConfig, n: int, process: Process, root: str | Path | None = None
) -> Path:
    """The ntuple of ``n`` events of ``process``, generated once per settings.

    Kept under ``<root>/<process>-<12 hex>`` (:data:`CACHES`) with a
    ``manifest.json`` (settings, cross section before cuts [pb], acceptance,
    unweighting efficiency); the same config and ``n`` reuse the file, any change
    generates a new one.

    Args:
        config: generation settings (``config.seed`` seeds the run).
        n: number of selected events.
        process: ``"drell_yan"`` or ``"ttbar_dilepton"``.
        root: the directory holding one ntuple per settings (default
            ``$SMARTML_CACHE_DIR/collider`` or the user cache's, see
            :class:`~smartml.data.cache.GeneratorCache`).

    Returns:
        the path of the ROOT file (tree ``events``).

    Raises:
        ConfigError: an unknown process or n < 1.
        DataError: the cache directory cannot be written.
    """
    if process not in PROCESSES:
        raise ConfigError(f"unknown process '{process}', expected one of {', '.join(PROCESSES)}")
    if n < 1:
        raise ConfigError(f"the number of events to generate must be at least 1, not {n}")
    cache = CACHES[process]
    directory = cache.ensure(
        cache.settings(config, process=process, n_events=n),
        lambda staging: _write_generated(staging, config, n, process),
        root,
    )
    return directory / NTUPLE_NAME
