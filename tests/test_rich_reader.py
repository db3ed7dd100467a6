"""The RICH HDF5 reader and PMT table: content against a one-event-at-a-time
reference, cuts, labels, padding, splits, and every bad input of issue 11 §7."""

from pathlib import Path

import h5py
import numpy as np
import pytest
from rich_files import RichArrays, in_time_points, make_events, write_pmt_table, write_rich

from smartml.errors import DataError
from smartml.tasks.rich_pid.hdf5_reader import RichHdf5Source, add_counts
from smartml.tasks.rich_pid.layout import HIT_MAPPING, HITS
from smartml.tasks.rich_pid.pmt_table import load_pmt_table
from smartml.tasks.rich_pid.schema import RichDataConfig

COUNTS = {"muon": 130, "pion": 60, "positron": 20}
NO_CUTS = {
    "momentum_min_gev": 0.0,
    "momentum_max_gev": 1000.0,
    "ring_centre_window_mm": 10_000.0,
    "empty_events": "keep",
}


@pytest.fixture(scope="module")
def rich(tmp_path_factory):
    """Two files of hand-made rings (do not modify) and the PMT table."""
    directory = tmp_path_factory.mktemp("rich")
    table = write_pmt_table(directory / "pmt.npy")
    arrays = [make_events(COUNTS, seed=seed) for seed in (1, 2)]
    paths = [write_rich(directory / f"run{i}.h5", a) for i, a in enumerate(arrays)]
    return directory, paths, arrays, table


def source_of(paths, table_path, **data) -> RichHdf5Source:
    config = RichDataConfig(
        source="files", files=[str(p) for p in paths], pmt_positions=str(table_path), **data
    )
    return RichHdf5Source(config, paths, load_pmt_table(table_path, config.disk_offsets_mm))


def read_all(source: RichHdf5Source):
    parts = list(source.iter_chunks(source.chunks))
    inputs = {name: np.concatenate([p.inputs[name] for p in parts]) for name in parts[0].inputs}
    labels = np.concatenate([p.labels for p in parts])
    counts: dict[str, int] = {}
    for part in parts:
        add_counts(counts, part.counts)
    aux = np.concatenate([p.aux.to_records(index=False) for p in parts])
    return inputs, labels, aux, counts


def data_error(call, *args, **kwargs) -> str:
    with pytest.raises(DataError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- content ---------------------------------------------------------------------------


@pytest.mark.parametrize("events_per_chunk, max_points", [(7, 64), (50, 5), (1000, 12)])
def test_chunked_reading_equals_the_event_by_event_reference(rich, events_per_chunk, max_points):
    directory, paths, arrays, table = rich
    source = source_of(
        paths,
        directory / "pmt.npy",
        events_per_chunk=events_per_chunk,
        max_points=max_points,
        classes={"keep_positrons": True},
        **NO_CUTS,
    )
    inputs, labels, aux, counts = read_all(source)
    reference = [p for a in arrays for p in in_time_points(a, table, 0.5, max_points)]
    assert len(inputs["points"]) == len(reference) == counts["kept"] == 2 * sum(COUNTS.values())
    for i, points in enumerate(reference):
        np.testing.assert_array_equal(inputs["points"][i, : len(points)], points)
        assert inputs["mask"][i].sum() == len(points)
        assert inputs["mask"][i, : len(points)].all()
    np.testing.assert_array_equal(labels, np.concatenate([a.labels() for a in arrays]))
    events = np.concatenate([a.events for a in arrays])
    np.testing.assert_array_equal(inputs["momentum"][:, 0], events["track_momentum"])
    np.testing.assert_array_equal(aux["event_id"], events["event_id"])
    np.testing.assert_array_equal(aux["ring_centre_y"], events["ring_centre_pos"][:, 1])


def test_centre_on_ring_subtracts_each_events_fitted_centre_from_its_hits(rich):
    directory, paths, arrays, _ = rich
    every = {"classes": {"keep_positrons": True}, "max_points": 16, **NO_CUTS}
    plain = read_all(source_of(paths[:1], directory / "pmt.npy", **every))[0]
    centred = read_all(source_of(paths[:1], directory / "pmt.npy", centre_on_ring=True, **every))[0]
    centres = arrays[0].events["ring_centre_pos"].astype(np.float32)
    real = plain["mask"] > 0
    expected = plain["points"].copy()
    expected[..., :2] -= centres[:, None, :]
    np.testing.assert_array_equal(centred["points"][real], expected[real])
    assert (centred["points"][~real] == 0).all()  # padding stays exactly 0
    np.testing.assert_array_equal(centred["mask"], plain["mask"])


def test_padding_is_exactly_zero_and_n_hits_counts_all_in_time_hits(rich):
    directory, paths, _, _ = rich
    source = source_of(paths[:1], directory / "pmt.npy", max_points=4, **NO_CUTS)
    inputs, _, aux, _ = read_all(source)
    padding = inputs["mask"] == 0
    assert np.signbit(inputs["points"][padding]).sum() == 0
    assert (inputs["points"][padding] == 0).all()
    np.testing.assert_array_equal(inputs["mask"].sum(axis=1), np.minimum(aux["n_hits"], 4))
    assert (aux["n_hits"] > 4).any() and (aux["n_hits"] == 0).any()
    # truncated events keep the hits closest in time
    full = source_of(paths[:1], directory / "pmt.npy", max_points=64, **NO_CUTS)
    wide = read_all(full)[0]["points"]
    many = np.flatnonzero(aux["n_hits"] > 4)
    for i in many:
        n = aux["n_hits"][i]
        kept_dt = np.abs(inputs["points"][i, :, 2])
        assert kept_dt.max() <= np.sort(np.abs(wide[i, :n, 2]))[3]


def test_cuts_remove_what_a_numpy_reference_removes_and_count_it(rich):
    directory, paths, arrays, table = rich
    cuts = {"momentum_min_gev": 15.0, "momentum_max_gev": 45.0, "time_window_ns": 0.5}
    for empty in ("drop", "keep"):
        source = source_of(paths, directory / "pmt.npy", empty_events=empty, **cuts)
        _, labels, aux, counts = read_all(source)
        expected_labels, expected_ids, totals = [], [], {}
        for a in arrays:
            n_in_time = np.array([len(p) for p in in_time_points(a, table, 0.5, 1952)])
            p, centre = a.events["track_momentum"], a.events["ring_centre_pos"]
            in_range = (p >= 15) & (p < 45)
            in_window = (np.abs(centre) < 2500).all(axis=1)
            kept_class = a.labels() < 2
            keep = kept_class & in_range & in_window & ((n_in_time > 0) | (empty == "keep"))
            expected_labels.append(a.labels()[keep])
            expected_ids.append(a.events["event_id"][keep])
            add_counts(
                totals,
                {
                    "read": int(kept_class.sum()),
                    "momentum_outside": int((kept_class & ~in_range).sum()),
                    "centre_outside": int((kept_class & in_range & ~in_window).sum()),
                    "no_in_time_hits": int(
                        (kept_class & in_range & in_window & (n_in_time == 0)).sum()
                    ),
                    "kept": int(keep.sum()),
                },
            )
        np.testing.assert_array_equal(labels, np.concatenate(expected_labels))
        np.testing.assert_array_equal(aux["event_id"], np.concatenate(expected_ids))
        assert counts == totals
        assert min(totals.values()) > 0
        assert ((aux["momentum"] >= 15) & (aux["momentum"] < 45)).all()


def test_empty_events_are_kept_with_an_empty_cloud(rich):
    directory, paths, _, _ = rich
    inputs, _, aux, counts = read_all(source_of(paths, directory / "pmt.npy", **NO_CUTS))
    empty = aux["n_hits"] == 0
    assert empty.sum() == counts["no_in_time_hits"] > 0
    assert (inputs["mask"][empty] == 0).all() and (inputs["points"][empty] == 0).all()


def test_chunks_hold_one_class_and_positrons_are_never_read_unless_kept(rich):
    directory, paths, _, _ = rich
    source = source_of(paths, directory / "pmt.npy", events_per_chunk=40)
    offsets = source.files[paths[0]].offsets
    assert all(chunk.index + chunk.n_rows <= offsets["positron_offset"] for chunk in source.chunks)
    assert [source.label_of_chunk(c) for c in source.chunks[:6]] == [0, 0, 0, 0, 1, 1]
    assert [(c.index, c.n_rows) for c in source.chunks[:6]] == [
        (0, 40),
        (40, 40),
        (80, 40),
        (120, 10),
        (130, 40),
        (170, 20),
    ]
    kept = source_of(
        paths, directory / "pmt.npy", events_per_chunk=40, classes={"keep_positrons": True}
    )
    assert {kept.label_of_chunk(c) for c in kept.chunks} == {0, 1, 2}


def test_split_is_stratified_by_class_disjoint_and_complete(rich):
    directory, paths, _, _ = rich
    source = source_of(paths, directory / "pmt.npy", events_per_chunk=30)
    splits = source.split(seed=3)
    events = {
        name: {(c.source_file, c.index + c.offset + i) for c in chunks for i in range(c.n_rows)}
        for name, chunks in splits.items()
    }
    assert sum(len(e) for e in events.values()) == len(set().union(*events.values()))
    assert len(set().union(*events.values())) == 2 * (COUNTS["muon"] + COUNTS["pion"])
    for name, fraction in (("train", 0.8), ("validation", 0.1), ("test", 0.1)):
        for label, count in ((0, COUNTS["muon"]), (1, COUNTS["pion"])):
            n = sum(c.n_rows for c in splits[name] if source.label_of_chunk(c) == label)
            assert n == pytest.approx(2 * count * fraction, abs=1)
    assert source.split(seed=3) == splits and source.split(seed=4) != splits


def test_a_chunk_reads_only_its_slices(rich, monkeypatch):
    directory, paths, arrays, _ = rich
    source = source_of(paths[:1], directory / "pmt.npy", events_per_chunk=25)
    lengths = []
    original = h5py.Dataset.__getitem__

    def spy(self, selection, *args, **kwargs):
        result = original(self, selection, *args, **kwargs)
        lengths.append(len(result))
        return result

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    chunk = source.chunks[2]
    source.read_chunk(chunk)
    hits_of_chunk = arrays[0].mapping[75] - arrays[0].mapping[50]
    assert sorted(lengths) == sorted([25, 26, hits_of_chunk])


# -- bad input ---------------------------------------------------------------------------


def corrupted(tmp_path: Path, rich, change=None, **write) -> Path:
    _, _, arrays, _ = rich
    a = arrays[0]
    copy = RichArrays(a.events.copy(), a.hits.copy(), a.mapping.copy(), dict(a.attributes))
    if change is not None:
        change(copy)
    return write_rich(tmp_path / "bad.h5", copy, **write)


def open_error(tmp_path, rich, change=None, **write) -> str:
    directory = rich[0]
    path = corrupted(tmp_path, rich, change, **write)
    return data_error(source_of, [path], directory / "pmt.npy")


def read_error(tmp_path, rich, change, **data) -> str:
    directory = rich[0]
    source = source_of([corrupted(tmp_path, rich, change)], directory / "pmt.npy", **data)
    return data_error(read_all, source)


@pytest.mark.parametrize("name", ["entries", "muon_offset", "pion_offset", "positron_offset"])
def test_a_missing_attribute_is_named(tmp_path, rich, name):
    message = open_error(tmp_path, rich, skip=(name,))
    assert message == f"{tmp_path / 'bad.h5'}: missing root attribute '{name}'"


@pytest.mark.parametrize("name", ["Events", "Hits", "HitMapping"])
def test_a_missing_dataset_is_named(tmp_path, rich, name):
    assert (
        open_error(tmp_path, rich, skip=(name,))
        == f"{tmp_path / 'bad.h5'}: missing dataset '{name}'"
    )


def test_a_missing_field_is_named(tmp_path, rich):
    def drop_time(a):
        names = [n for n in a.hits.dtype.names if n != "hit_time"]
        a.hits = np.array(a.hits[names].tolist(), dtype=[(n, "<i4") for n in names])

    assert "dataset 'Hits' has no field 'hit_time'" in open_error(tmp_path, rich, drop_time)


def test_offsets_not_sorted_or_beyond_entries_are_named(tmp_path, rich):
    def unsorted(a):
        a.attributes["pion_offset"] = a.attributes["positron_offset"] + 1

    message = open_error(tmp_path, rich, unsorted)
    assert "root attribute 'positron_offset' = 190 is below 'pion_offset' = 191" in message
    assert message.startswith(str(tmp_path / "bad.h5"))

    def beyond(a):
        a.attributes["positron_offset"] = a.attributes["entries"] + 5

    assert "'positron_offset' = 215 is beyond entries = 210" in open_error(tmp_path, rich, beyond)


def test_events_of_another_length_than_entries_are_named(tmp_path, rich):
    def short(a):
        a.events = a.events[:-1]

    assert "dataset 'Events' has 209 rows, expected entries = 210" in open_error(
        tmp_path, rich, short
    )


def test_hit_mapping_of_the_wrong_length_is_named(tmp_path, rich):
    def short(a):
        a.mapping = a.mapping[:-1]

    message = open_error(tmp_path, rich, short)
    assert f"dataset '{HIT_MAPPING}' has shape (210,), expected (entries + 1,) = (211,)" in message


def test_a_decreasing_hit_mapping_is_named_with_its_index(tmp_path, rich):
    def decrease(a):
        a.mapping[17] = a.mapping[16] - 1

    message = open_error(tmp_path, rich, decrease)
    assert f"dataset '{HIT_MAPPING}' decreases at index 17" in message


def test_a_hit_mapping_beyond_the_hits_is_named(tmp_path, rich):
    def beyond(a):
        a.mapping[-1] = len(a.hits) + 3

    assert f"index 210 is {len(rich[2][0].hits) + 3}, beyond the" in open_error(
        tmp_path, rich, beyond
    )


def test_not_an_hdf5_file_is_named(tmp_path, rich):
    path = tmp_path / "text.h5"
    path.write_text("not hdf5")
    message = data_error(source_of, [path], rich[0] / "pmt.npy")
    assert message.startswith(f"{path}: not a readable HDF5 file")


@pytest.mark.parametrize("field, value", [("pmt_id", 8), ("supercell_id", 61), ("disk_id", -1)])
def test_a_pmt_id_outside_the_table_is_named_with_its_hit_index(tmp_path, rich, field, value):
    def bad_id(a):
        a.hits[field][a.mapping[60] + 2] = value

    message = read_error(tmp_path, rich, bad_id)
    index = rich[2][0].mapping[60] + 2
    assert f"bad.h5: dataset '{HITS}', index {index}: {field} = {value} is outside" in message


def test_nan_momentum_is_named_with_its_event_index(tmp_path, rich):
    def nan(a):
        a.events["track_momentum"][42] = np.nan

    message = read_error(tmp_path, rich, nan)
    assert (
        message
        == f"{tmp_path / 'bad.h5'}: dataset 'Events', index 42: track_momentum is nan; it must be finite"
    )


def test_ring_mass_is_the_squared_mass_of_the_files_radius_and_momentum(rich):
    directory, _, arrays, _ = rich
    source = source_of(
        [directory / "run0.h5"], directory / "pmt.npy", use_ring_mass=True, **NO_CUTS
    )
    inputs, _, aux, _ = read_all(source)
    row_of = {event_id: row for row, event_id in enumerate(arrays[0].events["event_id"])}
    events = arrays[0].events[[row_of[event_id] for event_id in aux["event_id"]]]
    # independent of physics.ring_mass_squared: θc from the angle, β from cos θc = 1/(nβ)
    theta = np.arctan(events["ring_radius"].astype(np.float64) / 17_000.0)
    beta = 1.0 / ((1.0 + 62.8e-6) * np.cos(theta))
    p = events["track_momentum"].astype(np.float64)
    expected = p**2 * (1.0 / beta**2 - 1.0)
    np.testing.assert_allclose(inputs["ring_mass"][:, 0], expected, rtol=1e-5, atol=1e-7)
    assert set(inputs) == {"points", "mask", "momentum", "ring_mass"}


def test_hit_count_counts_every_in_time_hit_also_beyond_max_points(rich):
    directory, _, arrays, _ = rich
    source = source_of(
        [directory / "run0.h5"], directory / "pmt.npy", use_hit_count=True, max_points=5, **NO_CUTS
    )
    inputs, _, aux, _ = read_all(source)
    row_of = {event_id: row for row, event_id in enumerate(arrays[0].events["event_id"])}
    a = arrays[0]
    expected = []
    for event_id in aux["event_id"]:
        row = row_of[event_id]
        hits = a.hits[a.mapping[row] : a.mapping[row + 1]]
        expected.append(np.sum(np.abs(hits["hit_time"] - a.events["chod_time"][row]) < 0.5))
    np.testing.assert_array_equal(inputs["hit_count"][:, 0], expected)
    # the reader's events have more hits than max_points, so the count is not the mask's
    assert max(expected) > 5
    np.testing.assert_array_equal(inputs["mask"].sum(axis=1), np.minimum(expected, 5))
    assert set(inputs) == {"points", "mask", "momentum", "hit_count"}


@pytest.mark.parametrize("option", ["use_ring_radius", "use_ring_mass"])
def test_nan_ring_radius_is_an_error_only_when_it_is_an_input(tmp_path, rich, option):
    def nan(a):
        a.events["ring_radius"][150] = np.nan

    message = read_error(tmp_path, rich, nan, **{option: True}, **NO_CUTS)
    assert "dataset 'Events', index 150: ring_radius is nan" in message
    directory = rich[0]
    source = source_of([tmp_path / "bad.h5"], directory / "pmt.npy", **NO_CUTS)
    assert read_all(source)[3]["kept"] == 190


@pytest.mark.parametrize(
    "table, expected",
    [
        (
            np.zeros((976, 3), np.float32),
            "has shape (976, 3) and dtype float32, expected (1952, 3) float32 or float64",
        ),
        (
            np.zeros((1952, 3), np.int64),
            "has shape (1952, 3) and dtype int64, expected (1952, 3) float32 or float64",
        ),
    ],
)
def test_a_position_table_of_the_wrong_shape_or_dtype_is_named(tmp_path, table, expected):
    np.save(tmp_path / "pmt.npy", table)
    message = data_error(load_pmt_table, tmp_path / "pmt.npy", ((0, 0), (0, 0)))
    assert (
        message == f"{tmp_path / 'pmt.npy'}: the PMT position table {expected} (x mm, y mm, disk)"
    )


def test_a_position_table_with_nan_or_a_wrong_disk_is_named(tmp_path):
    table = write_pmt_table(tmp_path / "pmt.npy")
    table[100, 1] = np.nan
    np.save(tmp_path / "nan.npy", table)
    assert "row 100, column 1 of the PMT table is nan" in data_error(
        load_pmt_table, tmp_path / "nan.npy", ((0, 0), (0, 0))
    )
    table = write_pmt_table(tmp_path / "pmt.npy")
    table[1000, 2] = 0
    np.save(tmp_path / "disk.npy", table)
    assert "row 1000 of the PMT table has disk 0, expected 1" in data_error(
        load_pmt_table, tmp_path / "disk.npy", ((0, 0), (0, 0))
    )


def test_disk_offsets_move_each_disk(tmp_path):
    table = write_pmt_table(tmp_path / "pmt.npy")
    pmt = load_pmt_table(tmp_path / "pmt.npy", ((100.0, -5.0), (-200.0, 7.0)))
    np.testing.assert_array_equal(pmt.positions[:976], table[:976, :2] + [100.0, -5.0])
    np.testing.assert_array_equal(pmt.positions[976:], table[976:, :2] + [-200.0, 7.0])
