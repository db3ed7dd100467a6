"""Tests of the built-in smart-pixel simulator: file layout, determinism, physics, cache.

Physics expectations are computed here independently of the simulator's code: the
Landau most probable value from Bichsel's numbers, the electron mobility from the
Jacoboni-Canali formula, helix geometry from pT and B, Gaussian tails from scipy.
"""

import json
import logging
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy.stats import norm

from smartml.errors import ConfigError, DataError
from smartml.tasks.smart_pixels.layout import (
    EXTRA_LABELS,
    N_PIXEL_COLUMNS,
    TARGETS,
    natural_sort_key,
)
from smartml.tasks.smart_pixels.schema import SimulationConfig
from smartml.tasks.smart_pixels.simulator import (
    MANIFEST_NAME,
    SIMULATOR_VERSION,
    drift_model,
    ensure_simulated,
    read_manifest,
    simulate_clusters,
    simulation_dir,
    write_dataset,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LABELS = [*TARGETS, *EXTRA_LABELS]
THICKNESS_UM = 100.0
PITCH_X_UM, PITCH_Y_UM = 50.0, 12.5


def config_with(**sections) -> SimulationConfig:
    """A SimulationConfig from nested dicts, e.g. ``config_with(sensor={...})``."""
    return SimulationConfig.model_validate(sections)


# Perpendicular, straight tracks: every cluster the same shape, all charge contained.
PERPENDICULAR = {"pt_min_gev": 10.0, "pt_max_gev": 20.0, "eta_max": 0.01}
PERPENDICULAR_TRACKS = {**PERPENDICULAR, "beamspot_sigma_z_mm": 0.0}


def simulate(config: SimulationConfig, n: int, seed: int = 7):
    return simulate_clusters(config, n, np.random.default_rng(seed))


def most_probable(values: np.ndarray, bin_width: float) -> float:
    """Mode of a histogram smoothed over three bins."""
    edges = np.arange(values.min(), values.max() + bin_width, bin_width)
    counts, edges = np.histogram(values, edges)
    smooth = np.convolve(counts, np.ones(3), mode="same")
    peak = np.argmax(smooth)
    return 0.5 * (edges[peak] + edges[peak + 1])


def centroids_um(final_slice: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Charge-weighted centroid (µm from the window centre) of (n, 13, 21) clusters."""
    total = final_slice.sum(axis=(1, 2))
    rows = (final_slice.sum(axis=2) * np.arange(13)).sum(axis=1) / total
    cols = (final_slice.sum(axis=1) * np.arange(21)).sum(axis=1) / total
    return (rows - 6) * PITCH_X_UM, (cols - 10) * PITCH_Y_UM


def canali_tan_lorentz(bias_v=100.0, temperature_k=263.0, field_t=3.8, hall=1.15):
    """tan θ_L from the Jacoboni-Canali electron mobility (Solid-State El. 20 (1977) 77)."""
    field = bias_v / (THICKNESS_UM * 1e-4)
    v_max = 1.53e9 * temperature_k**-0.87
    e_crit = 1.01 * temperature_k**1.55
    b = 2.57e-2 * temperature_k**0.66
    mobility = (v_max / e_crit) / (1 + (field / e_crit) ** b) ** (1 / b)
    return hall * mobility * 1e-4 * field_t, mobility * field * 1e-8  # -, µm/ps


# --- files ------------------------------------------------------------------------
TINY = {"n_clusters": 30, "clusters_per_file": 20, "rows_per_group": 20}
SMALL = {"n_clusters": 250, "clusters_per_file": 100, "rows_per_group": 60, "seed": 3}


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    config = config_with(**SMALL)
    return config, write_dataset(config, tmp_path_factory.mktemp("sim") / "dataset")


def test_dataset_files_and_row_groups(small_dataset):
    _, directory = small_dataset
    names = sorted((p.name for p in directory.iterdir()), key=natural_sort_key)
    assert names == ["part.0.parquet", "part.1.parquet", "part.2.parquet", MANIFEST_NAME]
    expected_groups = {0: [60, 40], 1: [60, 40], 2: [50]}
    for index, groups in expected_groups.items():
        metadata = pq.ParquetFile(directory / f"part.{index}.parquet").metadata
        assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == groups


def test_parquet_columns_are_float32_pixels_then_labels(small_dataset):
    _, directory = small_dataset
    schema = pq.ParquetFile(directory / "part.0.parquet").schema_arrow
    assert schema.names == [str(i) for i in range(N_PIXEL_COLUMNS)] + LABELS
    assert {str(field.type) for field in schema} == {"float"}


def test_manifest_describes_the_dataset(small_dataset):
    config, directory = small_dataset
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    assert manifest["config"] == config.model_dump(mode="json")
    assert manifest["n_clusters"] == 250
    assert manifest["simulator_version"] == SIMULATOR_VERSION
    assert [f["clusters"] for f in manifest["files"]] == [100, 100, 50]
    assert manifest["seconds"] > 0 and manifest["clusters_per_second"] > 0
    assert read_manifest(directory) == manifest


def test_file_content_is_simulate_clusters_of_the_file_stream(small_dataset):
    """File i, row group by row group, equals simulate_clusters on stream spawn()[i]."""
    config, directory = small_dataset
    stream = np.random.SeedSequence(config.seed).spawn(3)[1]
    rng = np.random.default_rng(stream)
    part = pq.ParquetFile(directory / "part.1.parquet")
    for group, rows in enumerate([60, 40]):
        pixels, labels = simulate_clusters(config, rows, rng)
        table = part.read_row_group(group)
        stored = np.stack([table.column(str(i)).to_numpy() for i in range(N_PIXEL_COLUMNS)], 1)
        np.testing.assert_array_equal(stored, pixels.reshape(rows, -1))
        for name in LABELS:
            np.testing.assert_array_equal(table.column(name).to_numpy(), labels[name].to_numpy())


def test_many_files_are_numbered_in_natural_order(tmp_path):
    config = config_with(n_clusters=11, clusters_per_file=1, rows_per_group=1)
    directory = write_dataset(config, tmp_path / "many")
    listed = [entry["name"] for entry in read_manifest(directory)["files"]]
    assert listed == [f"part.{i}.parquet" for i in range(11)]
    assert sorted(listed, key=natural_sort_key) == listed
    assert all((directory / name).is_file() for name in listed)


def test_same_config_writes_identical_files(tmp_path):
    config = config_with(**TINY)
    first = write_dataset(config, tmp_path / "first")
    second = write_dataset(config, tmp_path / "second")
    for name in ["part.0.parquet", "part.1.parquet"]:
        assert (first / name).read_bytes() == (second / name).read_bytes()
    other = write_dataset(config_with(**{**TINY, "seed": 2}), tmp_path / "other")
    assert (other / "part.0.parquet").read_bytes() != (first / "part.0.parquet").read_bytes()


# --- determinism and API ----------------------------------------------------------
def test_same_seed_same_clusters_and_other_seed_different():
    config = SimulationConfig()
    pixels_a, labels_a = simulate(config, 50, seed=1)
    pixels_b, labels_b = simulate(config, 50, seed=1)
    pixels_c, labels_c = simulate(config, 50, seed=2)
    np.testing.assert_array_equal(pixels_a, pixels_b)
    assert labels_a.equals(labels_b)
    assert not np.array_equal(pixels_a, pixels_c)
    assert not np.array_equal(labels_a.to_numpy(), labels_c.to_numpy())


def test_shapes_dtypes_and_empty_request():
    pixels, labels = simulate(SimulationConfig(), 5)
    assert pixels.shape == (5, 20, 13, 21) and pixels.dtype == np.float32
    assert list(labels.columns) == LABELS
    assert set(labels.dtypes.astype(str)) == {"float32"}
    pixels, labels = simulate(SimulationConfig(), 0)
    assert pixels.shape == (0, 20, 13, 21) and len(labels) == 0
    assert list(labels.columns) == LABELS
    with pytest.raises(ValueError, match="n_clusters"):
        simulate(SimulationConfig(), -1)


def test_pt_too_low_to_reach_the_layer_is_a_config_error():
    config = config_with(tracks={"pt_min_gev": 0.01})
    with pytest.raises(ConfigError, match=r"data\.simulation\.tracks\.pt_min_gev=0\.01") as err:
        simulate(config, 1)
    assert "\n" not in str(err.value)


def test_simulation_dir_is_a_stable_hash_of_the_settings(tmp_path):
    base = simulation_dir(SimulationConfig(), tmp_path)
    assert base == simulation_dir(SimulationConfig(), tmp_path)
    assert base.parent == tmp_path
    assert base.name.startswith("pixelsim-") and len(base.name) == len("pixelsim-") + 12
    assert simulation_dir(config_with(seed=2), tmp_path) != base
    assert simulation_dir(config_with(sensor={"threshold_electrons": 500}), tmp_path) != base


# --- labels and geometry ----------------------------------------------------------
@pytest.fixture(scope="module")
def default_sample():
    return simulate(SimulationConfig(), 4000, seed=11)


def test_labels_follow_helix_geometry(default_sample):
    """cotBeta from pT, B, the hit's place on the 12-sided layer; direction unit vector."""
    _, labels = default_sample
    pt = labels["pt"].to_numpy(np.float64)
    y_hit_mm = (labels["y-local"] + labels["y-midplane"]).to_numpy(np.float64) * 1e-3
    radius = np.hypot(30.0, y_hit_mm)
    bend = np.sign(pt) * np.arcsin(0.3 * 3.8 * radius * 1e-3 / (2 * np.abs(pt)))
    expected_cot_beta = np.tan(np.arctan2(y_hit_mm, 30.0) + bend)
    np.testing.assert_allclose(labels["cotBeta"], expected_cot_beta, atol=2e-6, rtol=1e-5)
    n = labels[["n_x", "n_y", "n_z"]].to_numpy(np.float64)
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(labels["cotAlpha"], n[:, 0] / n[:, 2], rtol=1e-5)
    np.testing.assert_allclose(labels["cotBeta"], n[:, 1] / n[:, 2], rtol=1e-4, atol=1e-6)
    assert (n[:, 2] > 0).all()
    half_width_um = 30e3 * math.tan(math.pi / 12)
    assert np.abs(labels["y-local"]).max() <= half_width_um


def test_entry_point_and_mid_plane_inside_central_pixel(default_sample):
    _, labels = default_sample
    assert np.abs(labels["x-midplane"]).max() <= PITCH_X_UM / 2
    assert np.abs(labels["y-midplane"]).max() <= PITCH_Y_UM / 2
    np.testing.assert_allclose(
        labels["x-entry"], labels["x-midplane"] - labels["cotAlpha"] * 50.0, atol=1e-3
    )
    np.testing.assert_allclose(
        labels["y-entry"], labels["y-midplane"] - labels["cotBeta"] * 50.0, atol=1e-4
    )
    assert (labels["z-entry"] == 0).all()


def test_pt_spectrum_and_charges(default_sample):
    """dN/dpT ~ pT^-2 on [0.2, 20]: median 1 / (5 - 0.5 (5 - 0.05)) = 0.396 GeV."""
    _, labels = default_sample
    pt = labels["pt"].to_numpy()
    assert np.median(np.abs(pt)) == pytest.approx(1 / (5 - 0.5 * 4.95), rel=0.06)
    assert 0.2 <= np.abs(pt).min() and np.abs(pt).max() <= 20.0
    assert np.mean(pt > 0) == pytest.approx(0.5, abs=0.04)


def test_beamspot_spreads_the_track_angles():
    _, narrow = simulate(config_with(tracks={"beamspot_sigma_z_mm": 0.0, "eta_max": 1.0}), 2000)
    _, wide = simulate(config_with(tracks={"beamspot_sigma_z_mm": 35.0, "eta_max": 1.0}), 2000)
    # Without a beam spot pz/pT = sinh(η) exactly when ρ/s ≈ 1: |η| ≤ 1.
    n = narrow[["n_x", "n_y", "n_z"]].to_numpy(np.float64)
    eta = np.arcsinh(n[:, 0] / np.hypot(n[:, 1], n[:, 2]))
    assert np.abs(eta).max() < 1.0 + 1e-3
    assert np.std(wide["cotAlpha"]) > 1.5 * np.std(narrow["cotAlpha"])


# --- ionisation -------------------------------------------------------------------
@pytest.fixture(scope="module")
def perpendicular_sample():
    return simulate(config_with(tracks=PERPENDICULAR_TRACKS), 4000, seed=5)


def test_charge_has_landau_most_probable_value_and_tail(perpendicular_sample):
    """Bichsel: MPV 72 e-h/µm in 100 µm; the mean sits well above it (δ-ray tail)."""
    pixels, labels = perpendicular_sample
    created = labels["number_eh_pairs"].to_numpy()
    collected = pixels[:, -1].sum(axis=(1, 2))
    assert most_probable(created, 200.0) == pytest.approx(72 * THICKNESS_UM, rel=0.05)
    # Collected: a little lost below threshold at the cluster edges.
    assert most_probable(collected, 200.0) == pytest.approx(72 * THICKNESS_UM, rel=0.07)
    for charge in (created, collected):
        mpv = most_probable(charge, 200.0)
        assert charge.mean() > 1.15 * mpv
        assert np.quantile(charge, 0.95) > 1.8 * mpv  # long upper tail
        assert np.quantile(charge, 0.02) > 0.6 * mpv  # steep lower edge


def test_loss_per_um_grows_with_thickness_like_landau():
    """Landau: Δ/x = a + ξ₁ (λ + ln(ξ₁ x / ε)) with λ a standard Landau variate, so every
    quantile of the loss per µm grows by ξ₁ ln 3 = 17.8 eV ln 3 = 5.4 e-h/µm from 100 to
    300 µm (low quantiles: the δ-ray cap only touches the tail)."""
    _, thin = simulate(config_with(tracks=PERPENDICULAR_TRACKS), 3000)
    thick_sensor = {"thickness_um": 300.0, "bias_voltage_v": 300.0}
    _, thick = simulate(config_with(tracks=PERPENDICULAR_TRACKS, sensor=thick_sensor), 3000)
    per_um_thin = np.quantile(thin["number_eh_pairs"], 0.2) / 100
    per_um_thick = np.quantile(thick["number_eh_pairs"], 0.2) / 300
    assert per_um_thick - per_um_thin == pytest.approx(17.8 * math.log(3) / 3.6, abs=1.0)


def test_charge_is_proportional_to_path_length():
    """Fast tracks at any angle: 76-90 e-h per µm of path (median, above the MPV)."""
    _, labels = simulate(config_with(tracks={"pt_min_gev": 2.0}), 4000)
    path_um = THICKNESS_UM / labels["n_z"].to_numpy()
    per_um = labels["number_eh_pairs"].to_numpy() / path_um
    for low, high in [(100, 115), (200, 230), (300, 345)]:
        selected = per_um[(path_um >= low) & (path_um < high)]
        assert selected.size > 150
        assert 76 <= np.median(selected) <= 90


def test_slow_pions_ionise_more():
    """ξ ∝ 1/β² = 1 + (m_π/p)² = 1.475 at p = 0.2025 GeV. From the Landau form above, a
    quantile Δ_q scales by w (1 + ξ ln(w) / Δ_q(β=1)) with w = 1/β²."""
    slow_tracks = {**PERPENDICULAR_TRACKS, "pt_min_gev": 0.2, "pt_max_gev": 0.205}
    _, slow = simulate(config_with(tracks=slow_tracks), 3000)
    _, fast = simulate(config_with(tracks=PERPENDICULAR_TRACKS), 3000)
    fast_q20_ev = np.quantile(fast["number_eh_pairs"], 0.2) * 3.6
    w = 1 + (0.13957 / 0.2025) ** 2
    expected = w * (1 + 17.8 * THICKNESS_UM * math.log(w) / fast_q20_ev)
    ratio = np.quantile(slow["number_eh_pairs"], 0.2) / np.quantile(fast["number_eh_pairs"], 0.2)
    assert ratio == pytest.approx(expected, abs=0.03)


def test_very_long_tracks_are_cut_by_the_window_but_fully_counted():
    """|η| up to 4: paths of up to 2.7 mm. Only the part over the window is stepped,
    but number_eh_pairs covers the whole path."""
    tracks = {**PERPENDICULAR_TRACKS, "eta_max": 4.0}
    pixels, labels = simulate(config_with(tracks=tracks), 1000)
    path_um = THICKNESS_UM / labels["n_z"].to_numpy()
    long = path_um > 1000
    assert long.sum() > 200
    per_um = labels["number_eh_pairs"].to_numpy()[long] / path_um[long]
    assert 80 <= np.median(per_um) <= 95
    collected = pixels[long, -1].sum(axis=(1, 2))
    window_fraction = 13 * PITCH_X_UM / (THICKNESS_UM * np.abs(labels["cotAlpha"][long]))
    assert np.median(collected / labels["number_eh_pairs"][long] / window_fraction) == (
        pytest.approx(1.0, abs=0.05)
    )


# --- drift: position, Lorentz shift, cluster size -------------------------------
def test_x_centroid_tracks_x_midplane(default_sample):
    """Charge sharing resolves x best near |cotAlpha| ~ pitch/thickness = 0.5."""
    pixels, labels = default_sample
    x_centroid, _ = centroids_um(pixels[:, -1])
    shared = np.abs(labels["cotAlpha"]).between(0.3, 1.0).to_numpy()
    assert shared.sum() > 500
    assert np.corrcoef(x_centroid[shared], labels["x-midplane"][shared])[0, 1] > 0.9


@pytest.mark.parametrize("field_t", [3.8, -3.8, 0.0])
def test_y_centroid_is_lorentz_shifted(field_t):
    """Electrons drifting to +z in B along +x are pushed to -y by T/2 tan θ_L on average."""
    config = config_with(tracks=PERPENDICULAR, sensor={"magnetic_field_t": field_t})
    pixels, labels = simulate(config, 2000)
    tan_lorentz, _ = canali_tan_lorentz(field_t=field_t)
    assert drift_model(config.sensor).tan_lorentz == pytest.approx(tan_lorentz, rel=1e-9)
    _, y_centroid = centroids_um(pixels[:, -1])
    # Tracks are spread over the face, so their own inclination averages out.
    shift = y_centroid - labels["y-midplane"].to_numpy()
    assert np.mean(shift) == pytest.approx(-THICKNESS_UM / 2 * tan_lorentz, abs=0.5)
    # y-midplane spans one 12.5 µm pitch, against ~2 µm centroid resolution.
    corrected = labels["y-midplane"] - THICKNESS_UM / 2 * tan_lorentz
    assert np.corrcoef(y_centroid, corrected)[0, 1] > 0.75


def test_cluster_length_along_x_follows_cot_alpha(default_sample):
    """Rows hit ≈ 1 + T |cotAlpha| / pitch_x (a segment of that length on a grid)."""
    pixels, labels = default_sample
    rows_hit = (pixels[:, -1].sum(axis=2) > 0).sum(axis=1)
    expected = 1 + THICKNESS_UM * np.abs(labels["cotAlpha"].to_numpy()) / PITCH_X_UM
    contained = expected < 10
    slope, intercept = np.polyfit(expected[contained], rows_hit[contained], 1)
    assert slope == pytest.approx(1.0, abs=0.12)
    assert intercept == pytest.approx(0.0, abs=0.5)
    short = expected < 1.2
    assert rows_hit[short].mean() < 1.5 < rows_hit[(expected > 4) & contained].mean()


# --- time slices, noise, threshold -----------------------------------------------
def test_noiseless_slices_accumulate_until_the_last_electron_arrives():
    """No noise/threshold: totals never decrease, all charge arrives by T/v, none lost."""
    sensor = {"noise_electrons": 0.0, "threshold_electrons": 0.0}
    pixels, labels = simulate(config_with(tracks=PERPENDICULAR_TRACKS, sensor=sensor), 500)
    totals = pixels.sum(axis=(2, 3), dtype=np.float64)
    assert (np.diff(totals, axis=1) >= -1e-3 * totals[:, 1:]).all()
    assert (np.diff(pixels, axis=1) >= 0).all()  # per pixel too
    _, velocity = canali_tan_lorentz()
    last_arrival_slice = math.floor(THICKNESS_UM / velocity / 200.0)  # 1.29 ns -> slice 6
    assert last_arrival_slice == 6
    np.testing.assert_array_equal(pixels[:, last_arrival_slice], pixels[:, -1])
    assert (totals[:, last_arrival_slice - 1] < totals[:, -1]).mean() > 0.95
    np.testing.assert_allclose(totals[:, -1], labels["number_eh_pairs"], rtol=1e-5)


def test_slow_drift_is_cut_by_the_time_window():
    """10 V over 100 µm: the drift takes longer than the 20 x 200 ps window."""
    sensor = {"noise_electrons": 0.0, "threshold_electrons": 0.0, "bias_voltage_v": 10.0}
    pixels, labels = simulate(config_with(tracks=PERPENDICULAR_TRACKS, sensor=sensor), 300)
    collected = pixels[:, -1].sum(axis=(1, 2)) / labels["number_eh_pairs"].to_numpy()
    # Uniform field 1 kV/cm: v = μ E; only charge created within 4 ns · v of z = T arrives.
    mobility_field = 1e3
    v_max, e_crit, b = 1.53e9 * 263**-0.87, 1.01 * 263**1.55, 2.57e-2 * 263**0.66
    mobility = (v_max / e_crit) / (1 + (mobility_field / e_crit) ** b) ** (1 / b)
    reach_um = mobility * mobility_field * 1e-8 * 4000.0
    assert np.median(collected) == pytest.approx(reach_um / THICKNESS_UM, abs=0.05)


def test_default_slices_hold_almost_all_charge_in_the_last_slice(default_sample):
    pixels, _ = default_sample
    mean_totals = pixels.sum(axis=(2, 3), dtype=np.float64).mean(axis=0)
    assert (np.diff(mean_totals) > -0.002 * mean_totals[-1]).all()
    assert mean_totals[-1] >= 0.99 * mean_totals.max()
    assert mean_totals[0] < 0.3 * mean_totals[-1]


@pytest.mark.parametrize("threshold", [400.0, 1500.0])
def test_no_readout_is_below_threshold(threshold):
    pixels, _ = simulate(config_with(sensor={"threshold_electrons": threshold}), 500)
    fired = pixels[pixels != 0]
    assert fired.size > 0 and fired.min() >= threshold
    assert (pixels >= 0).all()


def test_noise_is_independent_per_readout(perpendicular_sample):
    """Slices 18 and 19 hold the same charge; their difference is noise with σ√2."""
    pixels, _ = perpendicular_sample
    late, last = pixels[:, 18].ravel(), pixels[:, 19].ravel()
    big = (late > 2000) & (last > 2000)
    assert big.sum() > 1000
    assert np.std(last[big] - late[big]) == pytest.approx(75.0 * math.sqrt(2), rel=0.1)


def empty_rows(pixels: np.ndarray) -> np.ndarray:
    """Readouts of rows 0-2 and 10-12: perpendicular tracks never reach them."""
    return np.concatenate([pixels[:, :, :3].ravel(), pixels[:, :, 10:].ravel()])


@pytest.mark.parametrize("threshold_sigmas", [3.5, 2.0, 0.0])
def test_noise_alone_fires_empty_pixels_at_the_gaussian_rate(threshold_sigmas):
    """Rate Q(t/σ) and mean σ φ(t/σ) / Q(t/σ) of the tail, for sparse and dense noise."""
    sensor = {"noise_electrons": 100.0, "threshold_electrons": 100.0 * threshold_sigmas}
    pixels, _ = simulate(config_with(tracks=PERPENDICULAR_TRACKS, sensor=sensor), 300)
    readouts = empty_rows(pixels)
    fired = readouts[readouts > 0]
    rate = norm.sf(threshold_sigmas)
    expected = rate * readouts.size
    assert fired.size == pytest.approx(expected, abs=5 * math.sqrt(expected))
    tail_mean = 100.0 * norm.pdf(threshold_sigmas) / rate
    assert fired.mean() == pytest.approx(tail_mean, rel=0.05)


def test_no_noise_means_empty_pixels_stay_empty(perpendicular_sample):
    sensor = {"noise_electrons": 0.0, "threshold_electrons": 0.0}
    pixels, _ = simulate(config_with(tracks=PERPENDICULAR_TRACKS, sensor=sensor), 200)
    assert (empty_rows(pixels) == 0).all()
    default_pixels, _ = perpendicular_sample
    assert (empty_rows(default_pixels) > 0).sum() < 5  # 5e-8 per readout


# --- cache ------------------------------------------------------------------------


def test_ensure_simulated_writes_once_then_reuses(tmp_path, caplog):
    config = config_with(**TINY)
    with caplog.at_level(logging.INFO, logger="smartml.tasks.smart_pixels.simulator"):
        directory = ensure_simulated(config, tmp_path)
    assert directory == simulation_dir(config, tmp_path)
    assert any("simulating 30" in r.message for r in caplog.records)
    assert any("clusters/s" in r.message for r in caplog.records)
    mtimes = {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="smartml.tasks.smart_pixels.simulator"):
        assert ensure_simulated(config, tmp_path) == directory
    assert not caplog.records
    assert {p.name: p.stat().st_mtime_ns for p in directory.iterdir()} == mtimes
    assert sorted(p.name for p in tmp_path.iterdir()) == [directory.name]  # no leftovers


def test_half_written_directory_is_simulated_again(tmp_path):
    config = config_with(**TINY)
    directory = simulation_dir(config, tmp_path)
    directory.mkdir(parents=True)
    (directory / "part.0.parquet").write_bytes(b"truncated")
    ensure_simulated(config, tmp_path)
    assert read_manifest(directory)["n_clusters"] == 30
    assert pq.ParquetFile(directory / "part.0.parquet").metadata.num_rows == 20


@pytest.mark.parametrize("damage", ["other config", "missing file", "bad json"])
def test_damaged_manifest_or_files_are_simulated_again(tmp_path, damage):
    config = config_with(**TINY)
    directory = ensure_simulated(config, tmp_path)
    manifest_path = directory / MANIFEST_NAME
    if damage == "other config":
        manifest = json.loads(manifest_path.read_text())
        manifest["config"]["seed"] = 99
        manifest_path.write_text(json.dumps(manifest))
    elif damage == "missing file":
        (directory / "part.1.parquet").unlink()
    else:
        manifest_path.write_text("{not json")
    ensure_simulated(config, tmp_path)
    assert read_manifest(directory)["config"] == config.model_dump(mode="json")
    assert (directory / "part.1.parquet").is_file()


def test_unwritable_target_is_a_one_line_data_error(tmp_path):
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("a file where the cache root should be")
    with pytest.raises(DataError) as err:
        ensure_simulated(config_with(**TINY), blocker)
    message = str(err.value)
    assert str(blocker) in message and "\n" not in message
    assert message.startswith("cannot write the simulated dataset to")


def test_existing_directory_with_other_files_is_not_replaced(tmp_path):
    directory = tmp_path / "precious"
    directory.mkdir()
    (directory / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match=r"precious.*notes\.txt") as err:
        write_dataset(config_with(**TINY), directory)
    assert "\n" not in str(err.value)
    assert (directory / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious"]  # staging removed


def prepared_pixel_task(folder: Path, data_path: str | None = None):
    """A smart-pixels task on a tiny simulation, prepared in (and from) ``folder``."""
    from smartml.config import load_config
    from smartml.runs.directory import RunDirectory
    from smartml.tasks.smart_pixels.task import SmartPixelsTask

    config = json.loads((CONFIGS / "pixel_2t.json").read_text())
    config["data"]["simulation"].update(n_clusters=60, clusters_per_file=30, rows_per_group=10)
    if data_path is not None:
        config["data"]["path"] = data_path
    folder.mkdir()
    (folder / "cfg.json").write_text(json.dumps(config))
    task = SmartPixelsTask(load_config(folder / "cfg.json"), RunDirectory(folder / "run"))
    task.run_dir.path.mkdir()
    task.prepare(fit=True)
    return task


def test_simulated_data_are_shared_by_every_working_directory(
    tmp_path, monkeypatch, caplog, private_cache_dir
):
    sources = []
    with caplog.at_level(logging.INFO, logger="smartml.tasks.smart_pixels.simulator"):
        for name in ("analysis", "elsewhere"):  # two working directories
            (tmp_path / name).mkdir()
            monkeypatch.chdir(tmp_path / name)
            sources.append(prepared_pixel_task(tmp_path / name / "project").source.path.resolve())
    assert sources[0] == sources[1]
    assert sources[0].parent == private_cache_dir / "simulated"
    assert sum("simulating 60" in record.message for record in caplog.records) == 1
    assert not list(tmp_path.rglob("pixelsim-*"))  # nothing next to the working directories


def test_an_explicit_simulation_path_is_used_as_given(tmp_path, monkeypatch, private_cache_dir):
    monkeypatch.chdir(tmp_path)
    task = prepared_pixel_task(tmp_path / "work", data_path="my_cache")
    # relative to the working directory, made absolute when the config is validated
    assert task.source.path.parent == tmp_path / "my_cache"
    assert (tmp_path / "my_cache" / task.source.path.name / MANIFEST_NAME).is_file()
