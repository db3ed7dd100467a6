"""Tests of the built-in RICH simulator: the NA62 file layout, the PMT table, the
Cherenkov physics (against :mod:`smartml.tasks.rich_pid.physics` and numbers from the
NA62 papers), determinism and the cache."""

import h5py
import numpy as np
import pytest
from pydantic import ValidationError
from scipy.spatial import cKDTree

from smartml.config.strict import validate_json_section
from smartml.tasks.rich_pid import physics
from smartml.tasks.rich_pid.layout import (
    EVENT_DTYPE,
    HIT_DTYPE,
    MUON,
    PION,
    POSITRON,
    ROOT_ATTRIBUTES,
    label_of,
    pmt_row,
)
from smartml.tasks.rich_pid.simulation_config import RichSimulationConfig
from smartml.tasks.rich_pid.simulator import (
    MANIFEST_NAME,
    PMT_TABLE_NAME,
    event_files,
    focal_plane_positions,
    pmt_positions,
    read_manifest,
    simulate_cached,
    simulate_events,
    simulation_dir,
    write_dataset,
)

SMALL = {"n_events": 2500, "events_per_file": 1000}
MASSES = {MUON: physics.MUON_MASS, PION: physics.PION_MASS, POSITRON: physics.POSITRON_MASS}


def config_with(**settings) -> RichSimulationConfig:
    return RichSimulationConfig.model_validate({**SMALL, **settings})


def at_momentum(momentum: float, **settings) -> RichSimulationConfig:
    """Every track at ``momentum`` (a 1 MeV/c wide flat spectrum)."""
    return config_with(
        momentum_min_gev=momentum,
        momentum_max_gev=momentum + 0.001,
        momentum_spectrum="flat",
        **settings,
    )


def simulate(config: RichSimulationConfig, label: int, n: int = 2000, seed: int = 5):
    return simulate_events(config, np.full(n, label), np.random.default_rng(seed))


def hit_rows(hits: np.ndarray) -> np.ndarray:
    return pmt_row(hits["disk_id"], hits["updowndisk_id"], hits["supercell_id"], hits["pmt_id"])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(config_with(), tmp_path_factory.mktemp("rich") / "dataset")


def read_file(path):
    with h5py.File(path, "r") as handle:
        attrs = {name: handle.attrs[name] for name in ROOT_ATTRIBUTES}
        return attrs, handle["Events"][:], handle["Hits"][:], handle["HitMapping"][:]


def test_files_have_the_exact_na62_layout(dataset):
    files = event_files(dataset)
    assert [path.name for path in files] == ["events.0.h5", "events.1.h5", "events.2.h5"]
    sizes, event_ids = [], []
    for burst, path in enumerate(files):
        with h5py.File(path, "r") as handle:
            assert set(handle) == {"Events", "Hits", "HitMapping"}
            assert handle["Events"].dtype == EVENT_DTYPE
            assert handle["Hits"].dtype == HIT_DTYPE
            assert handle["HitMapping"].dtype == np.dtype("<i8")
        attrs, events, hits, mapping = read_file(path)
        entries = int(attrs["entries"])
        offsets = [int(attrs[name]) for name in ROOT_ATTRIBUTES[1:]]
        assert entries == len(events)
        assert offsets[0] == 0 and offsets == sorted(offsets) and offsets[-1] <= entries
        assert mapping.shape == (entries + 1,)
        assert mapping[0] == 0 and mapping[-1] == len(hits)
        assert np.all(np.diff(mapping) >= 0)
        assert np.all(events["burst_id"] == burst) and np.all(events["run_id"] == 1)
        sizes.append(entries)
        event_ids.append(events["event_id"])
    assert sizes == [1000, 1000, 500]
    assert np.array_equal(np.concatenate(event_ids), np.arange(2500))


def test_mixture_is_muon_dominated_and_labels_follow_the_offsets(dataset):
    labels, radii, expected = [], [], []
    for path in event_files(dataset):
        attrs, events, _, _ = read_file(path)
        file_labels = label_of(np.arange(len(events)), attrs)
        labels.append(file_labels)
        radii.append(events["ring_radius"])
        momentum = events["track_momentum"].astype(np.float64)
        expected.append(np.stack([physics.ring_radius(momentum, MASSES[c]) for c in (0, 1, 2)], 1))
    labels, radii, expected = map(np.concatenate, (labels, radii, expected))
    fractions = np.bincount(labels, minlength=3) / len(labels)
    assert fractions == pytest.approx([0.80, 0.15, 0.05], abs=0.025)
    # The fitted radius is that of the labelled particle, not of the others.
    own = np.abs(radii - expected[np.arange(len(labels)), labels])
    assert np.median(own) < 3.0
    for label, other in ((MUON, PION), (PION, MUON), (POSITRON, PION)):
        chosen = labels == label
        assert np.median(np.abs(radii[chosen] - expected[chosen, other])) > 8.0


def test_hits_name_pmts_of_the_table_and_the_manifest_lists_every_file(dataset):
    for path in event_files(dataset):
        _, _, hits, _ = read_file(path)
        assert set(np.unique(hits["disk_id"])) == {0, 1}
        assert set(np.unique(hits["updowndisk_id"])) == {0, 1}
        assert hits["supercell_id"].min() >= 0 and hits["supercell_id"].max() <= 60
        assert hits["pmt_id"].min() >= 0 and hits["pmt_id"].max() <= 7
    table = np.load(dataset / PMT_TABLE_NAME)
    assert table.shape == (1952, 3) and table.dtype == np.float32
    assert np.array_equal(table, pmt_positions())
    manifest = read_manifest(dataset)
    assert manifest is not None
    names = {entry["name"] for entry in manifest["files"]}
    assert names == {PMT_TABLE_NAME, "events.0.h5", "events.1.h5", "events.2.h5"}
    assert manifest["n_events"] == 2500 and manifest["config"]["n_events"] == 2500


def test_pmt_table_is_a_hexagonal_grid_shared_by_both_disks():
    table = pmt_positions()
    assert np.array_equal(table[:976, :2], table[976:, :2])
    assert np.all(table[:976, 2] == 0) and np.all(table[976:, 2] == 1)
    local = table[:976, :2].astype(np.float64)
    assert len(np.unique(local, axis=0)) == 976
    distances, _ = cKDTree(local).query(local, k=7)
    assert distances[:, 1] == pytest.approx(18.0, abs=1e-3)  # nearest neighbour: the pitch
    inner = np.hypot(local[:, 0], local[:, 1]) < 250
    assert distances[inner, 1:] == pytest.approx(18.0, abs=1e-3)  # six neighbours inside
    rows = np.unique(np.round(local[:, 1], 3))
    assert np.diff(rows) == pytest.approx(18.0 * np.sqrt(3) / 2, abs=2e-3)  # 15.59 mm
    assert 280 < np.abs(local).max() <= 300
    # Upper half (updown 0) above, lower half (updown 1) below the disk's centre line.
    assert np.all(local[:488, 1] > 0) and np.all(local[488:, 1] < 0)


def test_hits_lie_on_a_circle_once_the_disk_offsets_are_added():
    centre = (20.0, -30.0)
    config = at_momentum(
        40.0,
        noise_hits_mean=0.0,
        hit_radius_smearing_mm=0.0,
        ring_centre_spread_mm=0.0,
        ring_centre_mean_mm=centre,
    )
    sample = simulate(config, POSITRON, n=300)
    rows = hit_rows(sample.hits)
    event = np.repeat(np.arange(300), np.diff(sample.hit_mapping))
    x, y = focal_plane_positions(rows, config.disk_offsets_mm)
    expected = physics.ring_radius(40.0, physics.POSITRON_MASS)
    # One hexagonal cell (circumradius 18/√3 = 10.4 mm) from the ring at most.
    assert np.abs(np.hypot(x - centre[0], y - centre[1]) - expected).max() < 10.4
    for disk in (0, 1):  # rings centred near X = 0 land on both disks
        assert len(np.unique(event[sample.hits["disk_id"] == disk])) > 0.98 * 300
    # Without the offsets the two halves do not join into one circle.
    naive = pmt_positions()[rows, :2]
    naive_distance = np.hypot(naive[:, 0] - centre[0], naive[:, 1] - centre[1])
    assert np.abs(naive_distance - expected).max() > 50.0
    fitted = sample.events["ring_centre_pos"]
    assert np.median(np.abs(fitted - centre)) < 1.5


@pytest.mark.parametrize("momentum", [17.0, 25.0, 40.0])
@pytest.mark.parametrize("label", [MUON, PION])
def test_fitted_ring_radius_matches_the_cherenkov_radius(momentum, label):
    events = simulate(at_momentum(momentum), label, n=1000).events
    expected = float(physics.ring_radius(momentum, MASSES[label]))
    assert np.median(events["ring_radius"]) == pytest.approx(expected, abs=1.0)
    resolution = np.subtract(*np.percentile(events["ring_radius"], [84, 16])) / 2
    assert 0.5 < resolution < 4.0  # mm: ~5 mm per hit over ~10-14 hits


def test_mean_hits_at_saturation_follow_the_setting_and_sin2_theta():
    for photoelectrons in (14.0, 20.0):
        config = at_momentum(40.0, noise_hits_mean=0.0, photoelectrons_at_saturation=photoelectrons)
        counts = np.diff(simulate(config, POSITRON, n=4000).hit_mapping)
        assert counts.mean() == pytest.approx(photoelectrons, rel=0.03)
        assert counts.var() == pytest.approx(photoelectrons, rel=0.15)  # Poisson
    pions = np.diff(simulate(at_momentum(17.0, noise_hits_mean=0.0), PION, n=4000).hit_mapping)
    sin2 = physics.sin2_cherenkov_angle(17.0, physics.PION_MASS)
    saturated = physics.sin2_cherenkov_angle(1.0, 0.0)
    assert pions.mean() == pytest.approx(14.0 * sin2 / saturated, rel=0.05)


def test_thresholds_muon_at_10_gev_small_rings_pion_at_12_gev_none():
    config = at_momentum(10.0, noise_hits_mean=0.0, ring_centre_spread_mm=0.0)
    muons = simulate(config, MUON, n=3000)
    rows = hit_rows(muons.hits)
    x, y = focal_plane_positions(rows, config.disk_offsets_mm)
    radius = float(physics.ring_radius(10.0, physics.MUON_MASS))
    assert 40 < radius < 80  # just above the 9.43 GeV/c threshold
    assert len(rows) > 1000
    assert np.median(np.hypot(x, y)) == pytest.approx(radius, abs=3.0)
    pions = simulate(at_momentum(12.0, noise_hits_mean=0.0), PION, n=3000)
    assert len(pions.hits) == 0
    assert np.all(pions.events["ring_radius"] == 0)
    assert np.all(pions.events["ring_centre_pos"] == 0)


def test_noise_hits_are_poisson_and_spread_over_the_time_window():
    config = at_momentum(12.0, noise_hits_mean=6.0, noise_time_window_ns=10.0)
    sample = simulate(config, PION, n=4000)  # below threshold: noise only
    counts = np.diff(sample.hit_mapping)
    assert counts.mean() == pytest.approx(6.0, rel=0.05)
    chod = np.repeat(sample.events["chod_time"], counts)
    delay = sample.hits["hit_time"] - chod
    assert np.abs(delay).max() <= 10.0 + 1e-4
    assert np.mean(np.abs(delay) < 0.5) == pytest.approx(0.05, abs=0.01)
    assert len(np.unique(hit_rows(sample.hits))) > 1900  # every PMT can be noisy


def test_hit_times_follow_the_track_time_and_are_ordered_within_events():
    config = at_momentum(30.0, noise_hits_mean=0.0, ring_time_spread_ns=0.0)
    sample = simulate(config, MUON, n=1000)
    counts = np.diff(sample.hit_mapping)
    delay = sample.hits["hit_time"] - np.repeat(sample.events["chod_time"], counts)
    assert np.std(delay) == pytest.approx(0.2, rel=0.05)
    event = np.repeat(np.arange(1000), counts)
    same_event = event[1:] == event[:-1]
    assert np.all(np.diff(sample.hits["hit_time"])[same_event] >= 0)


def test_likelihoods_prefer_the_true_hypothesis_and_are_finite():
    for label, column in ((PION, 0), (MUON, 1)):
        likelihood = simulate(at_momentum(20.0), label, n=1000).events["ring_likelihood"]
        assert np.isfinite(likelihood).all() and likelihood.min() >= 0 and likelihood.max() <= 1
        assert np.mean(np.argmax(likelihood[:, :2], axis=1) == column) > 0.9


def test_same_seed_same_files_other_seed_other_events(tmp_path):
    first = write_dataset(config_with(n_events=300), tmp_path / "a")
    again = write_dataset(config_with(n_events=300), tmp_path / "b")
    other = write_dataset(config_with(n_events=300, seed=2), tmp_path / "c")
    _, events_a, hits_a, mapping_a = read_file(first / "events.0.h5")
    _, events_b, hits_b, mapping_b = read_file(again / "events.0.h5")
    _, events_c, _, _ = read_file(other / "events.0.h5")
    assert events_a.tobytes() == events_b.tobytes() and hits_a.tobytes() == hits_b.tobytes()
    assert np.array_equal(mapping_a, mapping_b)
    assert not np.array_equal(events_a["track_momentum"], events_c["track_momentum"])


def test_simulate_cached_reuses_the_dataset_of_the_same_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTML_CACHE_DIR", str(tmp_path))
    config = config_with(n_events=200)
    directory = simulate_cached(config)
    assert directory == simulation_dir(config)
    assert directory.parent == tmp_path / "simulated" and directory.name.startswith("richsim-")
    assert (directory / MANIFEST_NAME).is_file()
    written = (directory / "events.0.h5").stat().st_mtime_ns

    def fail(*_):
        raise AssertionError("simulated again")

    monkeypatch.setattr("smartml.tasks.rich_pid.simulator._simulate_into", fail)
    assert simulate_cached(config) == directory
    assert (directory / "events.0.h5").stat().st_mtime_ns == written
    assert simulation_dir(config_with(n_events=201)) != directory
    assert not list(tmp_path.glob("simulated/.*"))  # no staging directory left behind


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"momentum_min_gev": 45.0, "momentum_max_gev": 15.0}, "greater than momentum_min_gev"),
        ({"mixture": {"muon": 0.9, "pion": 0.2, "positron": 0.0}}, "add up to 1"),
        ({"noise_hits_mean": -1.0}, "greater than or equal to 0"),
        ({"n_events": 1e6}, "valid integer"),
        ({"disk_offsets_mm": [[9000.0, 0.0], [0.0, 0.0]]}, "less than or equal to 5000"),
    ],
)
def test_simulation_settings_are_validated(settings, message):
    with pytest.raises(ValidationError, match=message):
        validate_json_section(RichSimulationConfig, settings)


def test_simulation_settings_read_from_json_arrays():
    config = validate_json_section(
        RichSimulationConfig,
        {"disk_offsets_mm": [[10, 0], [-10, 2.5]], "ring_centre_mean_mm": [1, 2]},
    )
    assert config.disk_offsets_mm == ((10.0, 0.0), (-10.0, 2.5))
    assert config.ring_centre_mean_mm == (1.0, 2.0)
