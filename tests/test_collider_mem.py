"""The MEM weight of one event: the LO density's normalisation, the strict LO
(back-to-back, ``recoil: null``) weight's narrow-resolution limit and vegas vs plain
Monte Carlo, seeds and convergence, and positive weights on generated events (with
recoil). The recoil weight's own checks: ``test_collider_mem_recoil.py``."""

import math

import numpy as np
import pytest
from mem_events import generated_like_events
from scipy import integrate

from smartml.collider import drell_yan
from smartml.collider import matrix_element_method as mem
from smartml.collider.constants import GEV2_TO_PB, SQRT_S
from smartml.collider.event_generator import generate_drell_yan
from smartml.collider.generation_config import GenerationConfig
from smartml.collider.parton_densities import GRV94LO
from smartml.errors import DataError

# An LO-like event: back to back, pT and φ smeared a little (well inside the resolution).
EVENT = {
    "lep1_PT": 45.3,
    "lep1_Eta": 0.7,
    "lep1_Phi": 1.2,
    "lep2_PT": 44.6,
    "lep2_Eta": -0.2,
    "lep2_Phi": 1.2 - np.pi + 0.001,
}
FAST = mem.MemSettings(neval=1000, nitn_adapt=4, nitn=4)
STRICT_LO = FAST.model_copy(update={"recoil": None})


def toy_matrix_element(s_hat, cos_theta, quark):
    """|M|² = 1 + cos²θ + 0.3 cosθ for every quark (dimensionless)."""
    return np.broadcast_to(1.0 + cos_theta**2 + 0.3 * cos_theta, np.shape(s_hat))


def test_density_integrates_to_partonic_cross_section_times_luminosity():
    """∫ F dpT dη₁ dη₂ dφ at fixed (ŝ, y) is 2 × (1/s) Σ_q L_q(x₁, x₂) σ̂(ŝ): the Jacobian
    pT/(8π²s), the flux 1/(2ŝ) and the unit conversion, with a toy |M|² and an
    independent σ̂ = ∫ |M|²/(32πŝ) dcosθ (the 2: both charge assignments)."""
    density = mem.DrellYanDensity(matrix_element=toy_matrix_element)
    s_hat, rapidity, s = 120.0**2, 0.4, SQRT_S**2

    def per_cos_theta(c):  # dpT dη₁ dη₂ = dŝ dy dc / (4 pT), φ gives 2π
        gap = 2 * np.arctanh(c)
        pt = math.sqrt(s_hat) / (2 * math.cosh(gap / 2))
        value = density(
            np.array([pt]), np.array([rapidity + gap / 2]), np.array([rapidity - gap / 2])
        )
        return 2 * math.pi * float(value[0]) / (4 * pt)

    from_density, _ = integrate.quad(per_cos_theta, -1 + 1e-12, 1 - 1e-12, epsabs=0, epsrel=1e-9)
    sigma_hat = (
        GEV2_TO_PB
        / (32 * math.pi * s_hat)
        * integrate.quad(lambda c: toy_matrix_element(s_hat, c, 1), -1, 1)[0]
    )
    x1 = math.sqrt(s_hat / s) * math.exp(rapidity)
    x2 = math.sqrt(s_hat / s) * math.exp(-rapidity)
    pdf = GRV94LO()
    at_x1 = pdf.xf_all(np.array([x1]), np.array([s_hat]))
    at_x2 = pdf.xf_all(np.array([x2]), np.array([s_hat]))
    luminosity = sum(
        float(at_x1[q][0] * at_x2[-q][0] + at_x1[-q][0] * at_x2[q][0]) for q in range(1, 6)
    ) / (x1 * x2)
    assert from_density == pytest.approx(2 * luminosity * sigma_hat / s, rel=1e-7)


def test_density_matches_the_dilepton_mass_and_rapidity_density():
    """With the real |M|²: ∫ F over cosθ and φ at fixed (m, y) is 2 d²σ/(dm dy) of
    :func:`drell_yan.hadronic_cross_section_density` (σ̂ in closed form; the 2: both
    charge assignments), on and off the Z pole."""
    density = mem.DrellYanDensity()
    for mass, rapidity in [(91.188, 0.0), (70.0, 1.3), (200.0, -2.1)]:

        def per_cos_theta(c, mass=mass, rapidity=rapidity):
            gap = 2 * np.arctanh(c)
            pt = mass / (2 * math.cosh(gap / 2))
            eta1, eta2 = np.array([rapidity + gap / 2]), np.array([rapidity - gap / 2])
            return 2 * math.pi * float(density(np.array([pt]), eta1, eta2)[0]) / (4 * pt)

        per_s_hat, _ = integrate.quad(per_cos_theta, -1 + 1e-12, 1 - 1e-12, epsrel=1e-9)
        expected = drell_yan.hadronic_cross_section_density(mass, rapidity, GRV94LO())
        assert 2 * mass * per_s_hat == pytest.approx(2 * float(expected), rel=1e-7)


def test_density_vanishes_beyond_the_proton_momentum():
    density = mem.DrellYanDensity()
    values = density(np.array([45.0, 4000.0]), np.array([0.0, 2.0]), np.array([0.0, 1.5]))
    assert values[0] > 0 and values[1] == 0.0


def test_narrow_transfer_functions_give_the_density_at_the_measured_point():
    """σ → 0: the η transfer functions become deltas; the pT and φ ones leave
    N(pT₁ − pT₂; 0, √2 r pT) N(Δφ − π; 0, √2 σ_φ) for an exactly back-to-back event."""
    event = dict(EVENT, lep2_PT=45.3, lep2_Phi=1.2 - np.pi)
    narrow = mem.MuonResolutions(pt_relative=1e-6, pt_relative_per_gev=0.0, eta=1e-6, phi=1e-6)
    settings = STRICT_LO.model_copy(update={"resolutions": narrow})
    weight, error = mem.mem_weight(event, settings)
    pt = event["lep1_PT"]
    density = mem.DrellYanDensity()(np.array([pt]), np.array([0.7]), np.array([-0.2]))[0]
    expected = (
        density
        / (math.sqrt(2 * math.pi) * math.sqrt(2) * 1e-6 * pt)
        / (math.sqrt(2 * math.pi) * math.sqrt(2) * 1e-6)
    )
    assert weight == pytest.approx(expected, rel=1e-4)
    assert error < 1e-4 * weight


def plain_monte_carlo(event, settings, n_points, seed):
    """Uniform sampling of F·W over a box of ±7σ around the measured muons (numpy)."""
    measured = mem.MeasuredMuons.from_event(event)
    widths = settings.resolutions
    pt_centre = 0.5 * (measured.pt1 + measured.pt2)
    pt_half = 7 * widths.pt_sigma(pt_centre)
    rng = np.random.default_rng(seed)
    pt = rng.uniform(pt_centre - pt_half, pt_centre + pt_half, n_points)
    eta1 = rng.uniform(measured.eta1 - 7 * widths.eta, measured.eta1 + 7 * widths.eta, n_points)
    eta2 = rng.uniform(measured.eta2 - 7 * widths.eta, measured.eta2 + 7 * widths.eta, n_points)
    volume = 2 * pt_half * (14 * widths.eta) ** 2
    values = mem.lab_integrand(pt, eta1, eta2, measured, settings, mem.DrellYanDensity()) * volume
    return values.mean(), values.std() / math.sqrt(n_points)


def test_vegas_agrees_with_plain_monte_carlo():
    """Wide resolutions, so that a uniform sampler converges: the vegas variables,
    their Jacobians and the scaling against an independent integration."""
    wide = mem.MuonResolutions(pt_relative=0.03, eta=0.05, phi=0.05)
    settings = mem.MemSettings(neval=4000, nitn_adapt=5, nitn=5, resolutions=wide, recoil=None)
    weight, error = mem.mem_weight(EVENT, settings)
    plain, plain_error = plain_monte_carlo(EVENT, settings, 400_000, seed=3)
    assert plain_error < 0.02 * plain  # the comparison can fail
    assert abs(weight - plain) < 4 * math.hypot(error, plain_error)


def test_weight_is_reproducible_with_a_seed():
    first = mem.mem_weight(EVENT, FAST, stream=7)
    assert mem.mem_weight(EVENT, FAST, stream=7) == first
    other = mem.mem_weight(EVENT, FAST.model_copy(update={"seed": 2}), stream=7)
    assert other != first and other[0] == pytest.approx(first[0], rel=5 * first[1] / first[0])


def test_relative_uncertainty_falls_with_neval():
    coarse = mem.mem_weight(EVENT, mem.MemSettings(neval=500, nitn_adapt=4, nitn=4))
    fine = mem.mem_weight(EVENT, mem.MemSettings(neval=8000, nitn_adapt=4, nitn=4))
    assert fine[1] / fine[0] < 0.5 * coarse[1] / coarse[0]
    assert fine[0] == pytest.approx(coarse[0], rel=5 * coarse[1] / coarse[0])


def test_weights_are_positive_and_finite_on_generated_like_events():
    """With recoil: the recoil weight is precise; without, the strict LO one is too."""
    settings = mem.MemSettings(neval=500, nitn_adapt=3, nitn=3)
    for event in generated_like_events(8, seed=5, resolutions=settings.resolutions):
        weight, error = mem.mem_weight(event, settings)
        assert np.isfinite(weight) and weight > 0
        assert 0 < error < 0.01 * weight
    strict_lo = settings.model_copy(update={"recoil": None})
    back_to_back = generated_like_events(8, 5, settings.resolutions, recoil_scale_gev=None)
    for event in back_to_back:
        weight, error = mem.mem_weight(event, strict_lo)
        assert np.isfinite(weight) and weight > 0
        assert 0 < error < 0.2 * weight


def test_weights_are_positive_and_finite_on_generator_events():
    """Events of the built-in generator (with its ISR recoil), integrated with its own
    smearing as the transfer functions and its recoil spectrum: every weight positive
    and precise."""
    config = GenerationConfig(seed=4)
    events = generate_drell_yan(6, 4, config)
    assert np.max(events["gen_recoil_PT"]) > 3.0  # the events do recoil
    settings = mem.MemSettings(
        neval=500,
        nitn_adapt=3,
        nitn=3,
        resolutions=mem.MuonResolutions.from_generation_config(config),
        sqrt_s_gev=config.sqrt_s_gev,
        recoil=config.recoil,
    )
    assert settings.resolutions == mem.MuonResolutions()  # the defaults are the generator's
    assert settings.recoil == mem.MemSettings().recoil
    for entry in range(6):
        event = {key: float(events[key][entry]) for key in mem.MUON_BRANCHES}
        weight, error = mem.mem_weight(event, settings, stream=entry)
        assert np.isfinite(weight) and weight > 0
        assert 0 < error < 0.05 * weight


def test_transfer_functions_are_normalised_in_the_measured_pt():
    """∫ W dpT_meas over both muons' pT (η, φ at their true values) is 1 per unit η, φ
    density: the Gaussians are normalised in the measured variable."""
    widths = mem.MuonResolutions(pt_relative=0.1, eta=0.01, phi=0.01)

    def transfer(pt1_measured, pt2_measured):
        muons = mem.MeasuredMuons(pt1_measured, 0.0, 0.0, pt2_measured, 0.0, np.pi)
        return float(
            np.exp(
                mem.transfer_log_weight(np.array(40.0), np.array(0.0), np.array(0.0), muons, widths)
            )
        )

    total, _ = integrate.dblquad(transfer, 10.0, 70.0, 10.0, 70.0)
    at_delta = 1 / (2 * math.pi * 0.01**2) / math.sqrt(2 * math.pi * 2 * 0.01**2)
    assert total == pytest.approx(at_delta, rel=1e-6)


def test_truncated_gaussian_map_integrates_a_peak_exactly():
    """∫ g(x(u)) dx/du du = ∫ g dx over [low, high] for a Gaussian-like g (what the map
    flattens): the Jacobian and the truncation, against scipy's quad."""
    mapping = mem.TruncatedGaussianMap(mean=2.0, sigma=0.5, low=0.0, high=5.0)

    def peak(x):
        return np.exp(-0.5 * ((x - 2.1) / 0.45) ** 2) * (1 + x)

    u = (np.arange(100_000) + 0.5) / 100_000
    x, log_jacobian = mapping(u)
    mapped = np.mean(peak(x) * np.exp(log_jacobian))
    assert mapped == pytest.approx(integrate.quad(peak, 0.0, 5.0)[0], rel=1e-6)
    assert np.all(np.diff(x) > 0) and x[0] > 0.0 and x[-1] < 5.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lep2_Eta": None}, "event: no lep2_Eta; expected the keys lep1_PT"),
        ({"lep1_PT": float("nan")}, "event: lep1_PT = nan; expected a finite value"),
        ({"lep2_PT": -3.0}, "event: lep2_PT = -3.0; expected a finite value (pT > 0)"),
    ],
)
def test_bad_event_values_are_one_line_errors(change, message):
    event = {key: value for key, value in {**EVENT, **change}.items() if value is not None}
    with pytest.raises(DataError, match=r"^" + message.replace("(", r"\(").replace(")", r"\)")):
        mem.mem_weight(event, FAST)
