"""The simulator on a given PMT table (``data.pmt_positions`` with ``source:
simulation``): hits on that table's PMTs, its content in the cache key, float64 tables
accepted, bad tables refused in one line."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from smartml.config.loader import load_config
from smartml.errors import DataError
from smartml.runs.directory import RunDirectory
from smartml.tasks.rich_pid import physics
from smartml.tasks.rich_pid.layout import PMTS_PER_DISK, pmt_row
from smartml.tasks.rich_pid.pmt_table import load_pmt_table, read_pmt_table
from smartml.tasks.rich_pid.simulation_config import RichSimulationConfig
from smartml.tasks.rich_pid.simulator import (
    event_files,
    focal_plane_positions,
    pmt_positions,
    simulate_events,
    table_layout,
)
from smartml.tasks.rich_pid.task import RichPidTask

REPO = Path(__file__).resolve().parents[1]
CENTRE = (20.0, -30.0)
EXACT_RINGS = {
    "momentum_min_gev": 40.0,
    "momentum_max_gev": 40.001,
    "momentum_spectrum": "flat",
    "noise_hits_mean": 0.0,
    "hit_radius_smearing_mm": 0.0,
    "ring_centre_spread_mm": 0.0,
    "ring_centre_mean_mm": CENTRE,
    "mixture": {"muon": 0.0, "pion": 0.0, "positron": 1.0},
}


def moved_table(shift=(5.0, -3.0), seed: int = 0) -> np.ndarray:
    """The built-in layout shifted and with each disk's rows shuffled: PMT ids and
    positions that the built-in grid cannot produce."""
    table = pmt_positions().copy()
    table[:, :2] += np.asarray(shift, np.float32)
    order = np.random.default_rng(seed).permutation(PMTS_PER_DISK)
    return np.concatenate([table[:PMTS_PER_DISK][order], table[PMTS_PER_DISK:][order]])


def task_with_table(tmp_path: Path, table_path: Path | None, **simulation) -> RichPidTask:
    config = json.loads((REPO / "configs" / "rich_pointnet.json").read_text())
    config["data"]["simulation"] = {"n_events": 300, "events_per_file": 300, **simulation}
    if table_path is not None:
        config["data"]["pmt_positions"] = str(table_path)
    path = tmp_path / "rich.json"
    path.write_text(json.dumps(config))
    return RichPidTask(load_config(path), RunDirectory(tmp_path / "run"))


def read_rows_and_times(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(event_files(directory)[0]) as handle:
        hits = handle["Hits"][:]
    rows = pmt_row(hits["disk_id"], hits["updowndisk_id"], hits["supercell_id"], hits["pmt_id"])
    return rows, hits["hit_time"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTML_CACHE_DIR", str(tmp_path / "cache"))


def test_simulated_hits_lie_on_the_given_tables_pmts(tmp_path, cache):
    table = moved_table()
    np.save(tmp_path / "pmt.npy", table)
    task = task_with_table(tmp_path, tmp_path / "pmt.npy", **EXACT_RINGS)
    _, table_path = task._data_files()
    # The dataset's table, which the reader places hits with, is the given one.
    np.testing.assert_array_equal(np.load(table_path), table)
    rows, _ = read_rows_and_times(table_path.parent)
    offsets = task.data.simulation.disk_offsets_mm
    x, y = load_pmt_table(table_path, offsets).positions[rows].T
    expected = physics.ring_radius(40.0, physics.POSITRON_MASS)
    distance = np.hypot(x - CENTRE[0], y - CENTRE[1])
    # Every hit within one hexagonal cell (circumradius 18/√3 = 10.4 mm) of the ring,
    # and both disks hit: the ring is whole on the given table.
    assert len(rows) > 1000
    assert np.abs(distance - expected).max() < 18.0 / np.sqrt(3.0) + 1e-3
    assert set(np.unique(rows // PMTS_PER_DISK)) == {0, 1}
    # The same rows on the built-in grid are scattered: the ids are the table's.
    builtin = focal_plane_positions(rows, offsets)
    builtin_distance = np.hypot(builtin[0] - CENTRE[0], builtin[1] - CENTRE[1])
    assert np.abs(builtin_distance - expected).max() > 100.0


def test_a_sub_sampled_table_only_fires_its_own_pmts(tmp_path):
    """Rows left out of the table (moved far off the disk, 18 mm apart so that the
    table's pitch stays 18 mm) never fire; the kept half of each disk does."""
    table = pmt_positions().copy()
    removed = np.zeros(len(table), bool)
    removed[: PMTS_PER_DISK // 2] = True
    removed[PMTS_PER_DISK : PMTS_PER_DISK + PMTS_PER_DISK // 2] = True
    # Off the focal plane, kept distinct so that the table stays valid.
    table[removed, 0] = 4000.0 + 18.0 * (np.arange(removed.sum()) % (PMTS_PER_DISK // 2))
    table[removed, 1] = 0.0
    path = tmp_path / "half.npy"
    np.save(path, table)
    layout = table_layout(path)
    config = RichSimulationConfig.model_validate(EXACT_RINGS)
    sample = simulate_events(config, np.full(300, 2), np.random.default_rng(3), layout)
    hits = sample.hits
    rows = pmt_row(hits["disk_id"], hits["updowndisk_id"], hits["supercell_id"], hits["pmt_id"])
    assert layout.pitch_mm == pytest.approx(18.0, abs=1e-3)
    assert len(rows) > 500 and not removed[rows].any()


def test_a_changed_table_changes_the_cache_key_and_the_events(tmp_path, cache):
    path = tmp_path / "pmt.npy"
    np.save(path, moved_table(shift=(0.0, 0.0)))
    first, _ = task_with_table(tmp_path, path)._data_files()
    # The same path with another content: never the cached events of the first.
    np.save(path, moved_table(shift=(6.0, 4.0)))
    second, _ = task_with_table(tmp_path, path)._data_files()
    builtin, _ = task_with_table(tmp_path, None)._data_files()
    assert len({first[0].parent, second[0].parent, builtin[0].parent}) == 3
    rows_first, _ = read_rows_and_times(first[0].parent)
    rows_second, _ = read_rows_and_times(second[0].parent)
    assert not np.array_equal(rows_first, rows_second)
    # The same content again reuses the cache.
    np.save(path, moved_table(shift=(0.0, 0.0)))
    again, _ = task_with_table(tmp_path, path)._data_files()
    assert again[0].parent == first[0].parent


def test_a_float64_table_is_accepted_as_its_float32_values(tmp_path, cache):
    table = moved_table()
    np.save(tmp_path / "f32.npy", table)
    np.save(tmp_path / "f64.npy", table.astype(np.float64))
    converted = read_pmt_table(tmp_path / "f64.npy")
    assert converted.dtype == np.float32
    np.testing.assert_array_equal(converted, table)
    positions = load_pmt_table(tmp_path / "f64.npy", ((150.0, 0.0), (-150.0, 0.0))).positions
    assert positions.dtype == np.float32 and positions.shape == (1952, 2)
    # Same geometry, same simulated dataset, whichever dtype the file was written in.
    from_f64, _ = task_with_table(tmp_path, tmp_path / "f64.npy")._data_files()
    from_f32, _ = task_with_table(tmp_path, tmp_path / "f32.npy")._data_files()
    assert from_f64 == from_f32


def one_line_data_error(function, *args) -> str:
    with pytest.raises(DataError) as caught:
        function(*args)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_bad_tables_are_refused_in_one_line_naming_the_file(tmp_path, cache):
    path = tmp_path / "bad.npy"
    np.save(path, np.zeros((976, 3), np.float64))
    assert one_line_data_error(table_layout, path).startswith(
        f"{path}: the PMT position table has shape (976, 3) and dtype float64"
    )
    np.save(path, np.zeros((1952, 3), np.int32))
    assert "dtype int32, expected (1952, 3) float32 or float64" in one_line_data_error(
        table_layout, path
    )
    table = pmt_positions().astype(np.float64)
    table[7, 0] = np.nan
    np.save(path, table)
    assert one_line_data_error(table_layout, path) == (
        f"{path}: row 7, column 0 of the PMT table is nan"
    )
    table[7, 0] = 1e300
    np.save(path, table)
    assert one_line_data_error(table_layout, path) == (
        f"{path}: row 7, column 0 of the PMT table is 1e+300 (beyond float32's range)"
    )
    table = pmt_positions()
    table[1000, :2] = table[1010, :2]
    np.save(path, table)
    assert one_line_data_error(table_layout, path) == (
        f"data.pmt_positions: {path}: rows 1000 and 1010 of the PMT table are at one "
        "position on disk 1; the simulator cannot tell which PMT a photon there fires"
    )
    # Through the task: the simulation refuses before simulating anything.
    message = one_line_data_error(task_with_table(tmp_path, path)._data_files)
    assert message.startswith("data.pmt_positions: ")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.h5"))
