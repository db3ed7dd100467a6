"""Event generators: distributions against the LO prediction, detector, ntuple files, cache."""

import subprocess
import sys

import awkward as ak
import numpy as np
import pytest
import uproot
from scipy import integrate, stats

from smartml.collider import event_generator
from smartml.collider.constants import MUON_MASS
from smartml.collider.drell_yan import (
    DRELL_YAN_QUARKS,
    forward_backward_asymmetry,
    hadronic_cross_section_density,
    parton_luminosities,
    partonic_cross_section,
)
from smartml.collider.event_generator import (
    cached_ntuple,
    generate_drell_yan,
    generate_ttbar_dilepton,
    write_ntuple,
)
from smartml.collider.generation_config import GenerationConfig
from smartml.collider.parton_densities import GRV94LO
from smartml.collider.recoil import RecoilSpectrum
from smartml.errors import OutputError

PERFECT = GenerationConfig(
    muon_pt_resolution=0.0,
    muon_pt_resolution_per_gev=0.0,
    muon_eta_resolution=0.0,
    muon_phi_resolution=0.0,
    jet_pt_stochastic=0.0,
    jet_pt_constant=0.0,
    jet_eta_resolution=0.0,
    jet_phi_resolution=0.0,
    met_resolution_gev=0.0,
    lepton_pt_min_gev=(0.0, 0.0),
    lepton_abs_eta_max=10.0,
    jet_pt_min_gev=0.0,
    jet_abs_eta_max=10.0,
)
FLAT = [f"{lep}_{v}" for lep in ("lep1", "lep2") for v in ("PT", "Eta", "Phi")] + ["MET", "METPhi"]


@pytest.fixture(scope="module")
def drell_yan_truth():
    return generate_drell_yan(20_000, seed=3, config=PERFECT)


def _four_vectors(events, lepton):
    pt, eta, phi = (events[f"gen_{lepton}_{v}"] for v in ("PT", "Eta", "Phi"))
    momentum = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=1)
    energy = np.sqrt(np.sum(momentum**2, axis=1) + MUON_MASS**2)
    return np.concatenate([energy[:, None], momentum], axis=1)


def _mass(events, prefix=""):
    pt1, pt2 = events[f"{prefix}lep1_PT"], events[f"{prefix}lep2_PT"]
    deta = events[f"{prefix}lep1_Eta"] - events[f"{prefix}lep2_Eta"]
    dphi = events[f"{prefix}lep1_Phi"] - events[f"{prefix}lep2_Phi"]
    return np.sqrt(2.0 * pt1 * pt2 * (np.cosh(deta) - np.cos(dphi)))


def test_mass_distribution_follows_sigma_hat_times_luminosity(drell_yan_truth):
    """KS test of the generated m_ℓℓ (no cuts) against ∫ dy d²σ/(dm dy) (scipy quad)."""
    mass = np.sqrt(drell_yan_truth["gen_shat"])
    # Massless formula from (pT, η, φ): the muon mass shifts it by < 0.2%.
    np.testing.assert_allclose(_mass(drell_yan_truth, "gen_"), mass, rtol=2e-3)
    pdf = GRV94LO()

    def density(m: float) -> float:
        y_max = np.log(13000.0 / m)
        grid = np.linspace(-y_max, y_max, 401)
        return float(
            np.trapezoid(hadronic_cross_section_density(np.full_like(grid, m), grid, pdf), grid)
        )

    masses = np.unique(np.concatenate([np.linspace(60, 200, 400), np.linspace(85, 97, 400)]))
    cdf = integrate.cumulative_trapezoid([density(m) for m in masses], masses, initial=0.0)
    cdf /= cdf[-1]
    result = stats.ks_1samp(mass, lambda m: np.interp(m, masses, cdf))
    assert result.pvalue > 1e-3


def test_forward_backward_asymmetry_above_the_z(drell_yan_truth):
    """A_FB of the generated cosθ (quark vs μ⁻) in m bins vs the luminosity-weighted prediction."""
    pdf = GRV94LO()
    mass, cos_theta = np.sqrt(drell_yan_truth["gen_shat"]), drell_yan_truth["gen_cos_theta"]
    for low, high in ((100.0, 130.0), (130.0, 200.0)):
        in_bin = (mass > low) & (mass < high)
        forward, n = np.sum(cos_theta[in_bin] > 0), np.sum(in_bin)
        measured = (2.0 * forward - n) / n
        error = np.sqrt((1.0 - measured**2) / n)
        m, y = np.meshgrid(np.linspace(low, high, 60), np.linspace(-4.5, 4.5, 181), indexing="ij")
        x1, x2 = m / 13000 * np.exp(y), m / 13000 * np.exp(-y)
        inside = (x1 < 1.0) & (x2 < 1.0)
        lum = parton_luminosities(np.where(inside, x1, 0.5), np.where(inside, x2, 0.5), m**2, pdf)
        lum = {q: value * inside for q, value in lum.items()}
        numerator = denominator = 0.0
        for q in DRELL_YAN_QUARKS:
            sigma = (lum[q] + lum[-q]) * partonic_cross_section(m**2, q) / m
            numerator += np.sum(sigma * forward_backward_asymmetry(m**2, q))
            denominator += np.sum(sigma)
        assert measured == pytest.approx(numerator / denominator, abs=4.0 * error + 0.01)
        assert measured > 0.2


def test_recoil_keeps_mass_and_rapidity_and_balances_momentum(drell_yan_truth):
    """The transverse boost keeps the pair's mass and rapidity (from the muons'
    four-vectors, muon mass included); the muons' summed pT is the recoil; the recoil
    jet balances it, so without smearing the MET is 0."""
    events = drell_yan_truth
    pair = _four_vectors(events, "lep1") + _four_vectors(events, "lep2")
    mass = np.sqrt(pair[:, 0] ** 2 - np.sum(pair[:, 1:] ** 2, axis=1))
    np.testing.assert_allclose(mass, np.sqrt(events["gen_shat"]), rtol=1e-9)
    rapidity = 0.5 * np.log((pair[:, 0] + pair[:, 3]) / (pair[:, 0] - pair[:, 3]))
    np.testing.assert_allclose(rapidity, events["gen_y"], atol=1e-9)
    recoil = events["gen_recoil_PT"]
    np.testing.assert_allclose(pair[:, 1], recoil * np.cos(events["gen_recoil_Phi"]), atol=1e-9)
    np.testing.assert_allclose(pair[:, 2], recoil * np.sin(events["gen_recoil_Phi"]), atol=1e-9)
    assert np.median(recoil) > 5.0  # not back to back
    assert np.all(ak.num(events["Jet_PT"]) == 1)
    np.testing.assert_allclose(ak.to_numpy(events["Jet_PT"][:, 0]), recoil, rtol=1e-5)
    assert np.all(events["MET"] < 1e-3) and np.all(events["gen_MET"] == 0.0)
    np.testing.assert_array_equal(events["lep1_Charge"] + events["lep2_Charge"], 0)
    np.testing.assert_allclose(
        events["gen_x1"] * events["gen_x2"] * 13000.0**2, events["gen_shat"], rtol=1e-9
    )


def test_no_recoil_gives_back_to_back_muons():
    events = generate_drell_yan(2_000, seed=3, config=PERFECT.model_copy(update={"recoil": None}))
    np.testing.assert_allclose(events["gen_lep1_PT"], events["gen_lep2_PT"], rtol=1e-9)
    dphi = np.abs(events["gen_lep1_Phi"] - events["gen_lep2_Phi"])
    np.testing.assert_allclose(dphi, np.pi, atol=1e-9)
    assert np.all(events["gen_recoil_PT"] == 0.0) and np.all(ak.num(events["Jet_PT"]) == 0)
    assert np.all(events["MET"] < 1e-3)


@pytest.mark.parametrize(
    "spectrum", [RecoilSpectrum(), RecoilSpectrum(scale_gev=4.0, power=3.0)], ids=str
)
def test_recoil_spectrum_follows_its_parametrisation(spectrum):
    """KS test of the generated qT (no cuts, 20k events) against the closed-form CDF,
    a chi² of its azimuth against uniform."""
    events = generate_drell_yan(
        20_000, seed=11, config=PERFECT.model_copy(update={"recoil": spectrum})
    )
    assert stats.ks_1samp(events["gen_recoil_PT"], spectrum.cdf).pvalue > 1e-3
    counts, _ = np.histogram(events["gen_recoil_Phi"], bins=20, range=(-np.pi, np.pi))
    assert stats.chisquare(counts).pvalue > 1e-3
    # the KS test can fail: another spectrum's CDF is rejected
    other = RecoilSpectrum(scale_gev=spectrum.scale_gev * 1.1, power=spectrum.power)
    assert stats.ks_1samp(events["gen_recoil_PT"], other.cdf).pvalue < 1e-6


def test_smearing_acceptance_and_met_resolution():
    config = GenerationConfig(met_resolution_gev=5.0)
    events = generate_drell_yan(5_000, seed=4, config=config)
    assert np.all(events["lep1_PT"] > 20.0) and np.all(events["lep2_PT"] > 10.0)
    assert np.all(events["lep1_PT"] >= events["lep2_PT"])
    assert np.all(np.abs(events["lep1_Eta"]) < 2.5) and np.all(np.abs(events["lep2_Eta"]) < 2.5)
    # Both muons together (lep1 alone is biased up: the larger reconstructed pT).
    reco = np.concatenate([events["lep1_PT"], events["lep2_PT"]])
    truth = np.concatenate([events["gen_lep1_PT"], events["gen_lep2_PT"]])
    pull = (reco / truth - 1.0) / np.hypot(0.01, 1e-4 * truth)
    assert np.mean(pull) == pytest.approx(0.0, abs=0.05)
    assert np.std(pull) == pytest.approx(1.0, abs=0.05)
    # MET: the soft term (σ = 5 per component) ⊕ the muon and recoil-jet
    # mismeasurement, Rayleigh-like (the recoil itself is balanced).
    assert 5.0 < np.mean(events["MET"]) < 9.0
    # At most one jet, the recoil's: opposite the dimuon, from a recoil above ~10 GeV.
    has_jet = ak.to_numpy(ak.num(events["Jet_PT"])) == 1
    assert np.all(ak.num(events["Jet_PT"]) <= 1) and 0.05 < np.mean(has_jet) < 0.4
    jet_phi = ak.to_numpy(events["Jet_Phi"][has_jet][:, 0])
    opposite = np.angle(np.exp(1j * (jet_phi - events["gen_recoil_Phi"][has_jet] - np.pi)))
    assert np.all(np.abs(opposite) < 0.2) and np.all(events["gen_recoil_PT"][has_jet] > 10.0)


def test_ttbar_has_b_jets_a_recoil_and_large_met():
    truth = generate_ttbar_dilepton(3_000, seed=5, config=PERFECT)
    assert np.all(ak.num(truth["Jet_PT"]) == 3)  # two b jets and the recoil jet
    assert np.all(np.diff(ak.to_numpy(truth["Jet_PT"]), axis=1) <= 0)
    # No smearing: MET is exactly the neutrinos'.
    np.testing.assert_allclose(truth["MET"], truth["gen_MET"], rtol=1e-4, atol=1e-3)
    assert np.all(np.sqrt(truth["gen_shat"]) > 2 * 150.0)
    events = generate_ttbar_dilepton(3_000, seed=6, config=GenerationConfig())
    drell_yan = generate_drell_yan(3_000, seed=6, config=GenerationConfig())
    assert np.all(ak.num(events["Jet_PT"]) <= 3) and np.mean(ak.num(events["Jet_PT"])) > 1.5
    assert np.median(events["MET"]) > 4.0 * np.median(drell_yan["MET"])
    assert set(events) == set(drell_yan)


def test_ntuple_round_trip(tmp_path):
    events = generate_ttbar_dilepton(500, seed=7, config=GenerationConfig())
    path = write_ntuple(tmp_path / "tt.root", events, chunk_size=128)
    tree = uproot.open(path)["events"]
    assert tree.num_entries == 500
    assert set(tree.keys()) == (set(events) | {"nJet"})
    assert tree["Jet_PT"].typename == "float[]" and tree["nJet"].typename == "int32_t"
    assert tree["lep1_PT"].typename == "float" and tree["gen_x1"].typename == "double"
    assert tree["lep1_Charge"].typename == "int32_t"
    read = tree.arrays(library="ak")
    for name in [*FLAT, "gen_x1", "gen_parton1"]:
        np.testing.assert_array_equal(ak.to_numpy(read[name]), events[name])
    assert ak.all(read["Jet_PT"] == events["Jet_PT"])
    np.testing.assert_array_equal(ak.to_numpy(read["nJet"]), ak.num(events["Jet_PT"]))
    assert [p.name for p in tmp_path.iterdir()] == ["tt.root"]


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    events = generate_drell_yan(300, seed=8, config=GenerationConfig())

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(event_generator, "_chunk", broken)
    with pytest.raises(OutputError, match=r"dy\.root: cannot write the ntuple"):
        write_ntuple(tmp_path / "dy.root", events)
    assert list(tmp_path.iterdir()) == []


def test_killed_write_leaves_no_file(tmp_path):
    """SIGKILL in the middle of a write: the destination never appears."""
    target = tmp_path / "big.root"
    script = (
        "import time, numpy as np\n"
        "from smartml.collider import event_generator as g\n"
        "real = g._chunk\n"
        "def slow(*a):\n"
        "    print('writing', flush=True); time.sleep(60); return real(*a)\n"
        "g._chunk = slow\n"
        f"g.write_ntuple({str(target)!r}, {{'x': np.arange(10.0)}})\n"
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as run:
        assert run.stdout is not None and run.stdout.readline().strip() == "writing"
        run.kill()
        run.wait()
    assert not target.exists()


def test_cache_reuses_and_regenerates(tmp_path):
    config = GenerationConfig(seed=2)
    first = cached_ntuple(config, 400, "drell_yan", root=tmp_path)
    stamp = first.stat().st_mtime_ns
    assert cached_ntuple(config, 400, "drell_yan", root=tmp_path) == first
    assert first.stat().st_mtime_ns == stamp
    other = cached_ntuple(config.model_copy(update={"seed": 3}), 400, "drell_yan", root=tmp_path)
    assert other != first and other.exists()
    manifest = (first.parent / "manifest.json").read_text()
    assert '"cross_section_pb"' in manifest and '"drell_yan"' in manifest
    assert uproot.open(first)["events"].num_entries == 400
