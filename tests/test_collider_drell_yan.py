"""LO Drell–Yan matrix element and cross sections against independent closed forms."""

import numpy as np
import pytest
from scipy import integrate, optimize

from smartml.collider import drell_yan
from smartml.collider.constants import (
    ALPHA,
    G_F,
    GAMMA_Z,
    GEV2_TO_PB,
    KAPPA,
    M_Z,
    SIN2_THETA_W,
)
from smartml.collider.drell_yan import (
    differential_cross_section,
    forward_backward_asymmetry,
    hadronic_cross_section_density,
    partonic_cross_section,
    squared_matrix_element,
)
from smartml.collider.parton_densities import GRV94LO

QUARKS = [1, 2, 3, 4, 5]
ROOT_S_HAT = [20.0, 60.0, 88.0, M_Z, 95.0, 150.0, 400.0]
CHARGE = {1: -1 / 3, 2: 2 / 3, 3: -1 / 3, 4: 2 / 3, 5: -1 / 3}
ISOSPIN = {1: -0.5, 2: 0.5, 3: -0.5, 4: 0.5, 5: -0.5}


def _helicity_matrix_element(s_hat: float, cos_theta: float, quark: int) -> float:
    """|M|² summed over the four helicity amplitudes, with a complex Z propagator.

    Chiral couplings g_L,R = V ± A; LL and RR go as (1 + cosθ)², LR and RL as
    (1 − cosθ)² (θ between the quark and the ℓ⁻); spin average 1/4, colour 1/3."""

    def chiral(charge: float, isospin: float) -> dict[str, float]:
        vector = isospin - 2.0 * charge * SIN2_THETA_W
        return {"L": vector + isospin, "R": vector - isospin}

    quark_g, lepton_g = chiral(CHARGE[quark], ISOSPIN[quark]), chiral(-1.0, -0.5)
    propagator = KAPPA * s_hat / (s_hat - M_Z**2 + 1j * M_Z * GAMMA_Z)
    total = 0.0
    for hq, gq in quark_g.items():
        for hl, gl in lepton_g.items():
            amplitude = CHARGE[quark] * -1.0 + gq * gl * propagator
            angular = (1.0 + cos_theta) ** 2 if hq == hl else (1.0 - cos_theta) ** 2
            total += abs(amplitude) ** 2 * angular
    return 16.0 * np.pi**2 * ALPHA**2 / 3.0 * total / 4.0


@pytest.mark.parametrize("quark", QUARKS)
def test_matrix_element_equals_the_helicity_amplitude_sum(quark):
    for root_s in ROOT_S_HAT:
        for cos_theta in (-0.9, -0.3, 0.0, 0.5, 1.0):
            expected = _helicity_matrix_element(root_s**2, cos_theta, quark)
            got = squared_matrix_element(np.array(root_s**2), np.array(cos_theta), quark)
            assert float(got) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("quark", QUARKS)
def test_pure_qed_cross_section(quark, monkeypatch):
    """Without the Z (κ = 0) σ̂ = 4πα² Q_f² / (9ŝ); at ŝ = 1 GeV² the Z is negligible anyway."""
    s_hat = np.array([1.0, 100.0, 1e4])
    qed = 4.0 * np.pi * ALPHA**2 * CHARGE[quark] ** 2 / (9.0 * s_hat) * GEV2_TO_PB
    assert partonic_cross_section(s_hat[:1], quark)[0] == pytest.approx(qed[0], rel=2e-3)
    monkeypatch.setattr(drell_yan, "KAPPA", 0.0)
    np.testing.assert_allclose(partonic_cross_section(s_hat, quark), qed, rtol=1e-12)
    np.testing.assert_allclose(forward_backward_asymmetry(s_hat, quark), 0.0, atol=1e-15)


@pytest.mark.parametrize("quark", [1, 2])
def test_differential_integrates_to_the_total_and_to_the_asymmetry(quark):
    for root_s in ROOT_S_HAT:
        s_hat = root_s**2

        def density(c: float, s_hat: float = s_hat) -> float:
            return float(differential_cross_section(np.array(s_hat), np.array(c), quark))

        forward, _ = integrate.quad(density, 0.0, 1.0)
        backward, _ = integrate.quad(density, -1.0, 0.0)
        total = partonic_cross_section(np.array([s_hat]), quark)[0]
        assert forward + backward == pytest.approx(total, rel=1e-10)
        asymmetry = forward_backward_asymmetry(np.array([s_hat]), quark)[0]
        assert (forward - backward) / (forward + backward) == pytest.approx(asymmetry, rel=1e-9)


@pytest.mark.parametrize("quark", [1, 2])
def test_peak_at_the_z_mass_with_the_narrow_width_height(quark):
    """Peak within 0.1 GeV of M_Z; height 12π Γ_ℓℓ Γ_qq / (9 M_Z² Γ_Z²) with the
    partial widths Γ_f = N_c G_F M_Z³ (V_f² + A_f²) / (6√2 π)."""
    peak = optimize.minimize_scalar(
        lambda m: -partonic_cross_section(np.array([m * m]), quark)[0],
        bounds=(80.0, 100.0),
        method="bounded",
        options={"xatol": 1e-5},
    )
    assert peak.x == pytest.approx(M_Z, abs=0.1)

    def width(charge: float, isospin: float, colours: int) -> float:
        vector = isospin - 2.0 * charge * SIN2_THETA_W
        return colours * G_F * M_Z**3 * (vector**2 + isospin**2) / (6.0 * np.sqrt(2.0) * np.pi)

    leptons, quarks = width(-1.0, -0.5, 1), width(CHARGE[quark], ISOSPIN[quark], 3)
    height = 12.0 * np.pi * leptons * quarks / (9.0 * M_Z**2 * GAMMA_Z**2) * GEV2_TO_PB
    assert partonic_cross_section(np.array([M_Z**2]), quark)[0] == pytest.approx(height, rel=5e-3)


@pytest.mark.parametrize("quark", QUARKS)
def test_sign_convention_of_the_asymmetry(quark):
    """ℓ⁻ follows the quark above the Z (A_FB > 0) and opposes it well below (A_FB < 0)."""
    above = forward_backward_asymmetry(np.array([110.0, 200.0, 1000.0]) ** 2, quark)
    below = forward_backward_asymmetry(np.array([40.0, 70.0]) ** 2, quark)
    assert np.all(above > 0.0) and np.all(below < 0.0)
    assert np.all(np.abs(forward_backward_asymmetry(np.geomspace(1, 1e7, 50), quark)) <= 0.75)


def test_hadronic_cross_section_around_the_z():
    """σ(pp → μμ, 66 < m < 116 GeV) at 13 TeV at LO: the measured (NNLO) value is
    ≈ 1.9 nb; LO with these PDFs is expected 10–30% lower."""
    pdf = GRV94LO()

    def density(y: float, m: float) -> float:
        return float(hadronic_cross_section_density(np.array(m), np.array(y), pdf))

    sigma, _ = integrate.dblquad(
        density,
        66.0,
        116.0,
        lambda m: -np.log(13000.0 / m),
        lambda m: np.log(13000.0 / m),
        epsrel=1e-2,
    )
    assert 1300.0 < sigma < 2000.0
    assert hadronic_cross_section_density(np.array(91.0), np.array(5.0), pdf) == 0.0


def test_rejects_a_non_quark():
    with pytest.raises(ValueError, match=r"PDG id 1\.\.5"):
        partonic_cross_section(np.array([100.0]), 21)
