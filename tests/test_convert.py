"""python -m smartml.convert: HDF5 and parquet files whose values equal the ROOT branches,
with their provenance attributes; a failure or ^C leaves no output; bad input is one
line and exit status 2."""

import json

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
from ntuple_files import event_branches, write_tree

from smartml import convert
from smartml.errors import DataError
from smartml.ntuples import conversion
from smartml.ntuples.feature_selection import FeatureSelection
from smartml.ntuples.hdf5_writer import Hdf5FeatureWriter
from smartml.ntuples.root_reader import NtupleReader

N = 50
FEATURES = (
    "branches: [MET, 'Jet_PT[1]']\n"
    "prefixes: [[lep1_, lep2_]]\n"
    "suffixes: [[PT, Phi]]\n"
    "derived:\n"
    "  - {kind: delta_phi, name: dphi, phi: lep2_Phi, reference: lep1_Phi}\n"
)
NAMES = ["MET", "Jet_PT[1]", "lep1_PT", "lep1_Phi", "lep2_PT", "lep2_Phi", "dphi"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    events = event_branches(N, seed=4)
    files = [
        write_tree(folder / "a.root", {k: v[:20] for k, v in events.items()}),
        write_tree(folder / "b.root", {k: v[20:] for k, v in events.items()}),
    ]
    features = folder / "features.yaml"
    features.write_text(FEATURES)
    return files, features, events


def expected_rows(events):
    """The selection computed directly from the branches (no smartml code)."""
    second = [row[1] if len(row) > 1 else None for row in events["Jet_PT"].tolist()]
    kept = np.array([value is not None for value in second])
    columns = {
        "MET": events["MET"],
        "Jet_PT[1]": np.array([v if v is not None else 0.0 for v in second], np.float32),
        **{name: events[name] for name in ["lep1_PT", "lep1_Phi", "lep2_PT", "lep2_Phi"]},
    }
    difference = events["lep2_Phi"].astype(np.float64) - events["lep1_Phi"]
    columns["dphi"] = np.angle(np.exp(1j * difference)).astype(np.float32)
    return {name: values[kept] for name, values in columns.items()}, np.flatnonzero(kept)


def run(capsys, *argv):
    status = convert.main([str(a) for a in argv])
    return status, capsys.readouterr()


def test_hdf5_holds_the_branches_and_their_provenance(tmp_path, capsys, inputs):
    files, features, events = inputs
    output = tmp_path / "out.h5"
    status, printed = run(capsys, *files, "--features", features, "--output", output, "--step", 7)
    assert status == 0, printed.err
    columns, entries = expected_rows(events)
    with h5py.File(output) as written:
        assert list(written.attrs["features"]) == NAMES
        for name in NAMES:
            np.testing.assert_allclose(written[name][:], columns[name], rtol=1e-6, atol=1e-6)
            assert written[name].dtype == np.float32 and written[name].compression == "gzip"
            assert written[name].chunks is not None
        np.testing.assert_array_equal(written["source_entry"][:], entries)
        assert written["Jet_PT[1]"].attrs["source_branch"] == "Jet_PT"
        assert written["Jet_PT[1]"].attrs["object_index"] == 1
        assert written["lep1_PT"].attrs["source_branch"] == "lep1_PT"
        assert written["dphi"].attrs["source_branch"] == "delta_phi(lep2_Phi, lep1_Phi)"
        assert list(written.attrs["source_files"]) == [str(f) for f in files]
        assert written.attrs["tree"] == "events"  # the only tree, found without --tree
        assert written.attrs["entries_read"] == N
        assert written.attrs["dropped_rows"] == N - len(entries) > 0
    assert printed.out.startswith(f"{output}: {len(entries)} rows x 7 features from {N} entries")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5"]


def test_parquet_has_a_row_group_per_chunk_and_the_same_values(tmp_path, capsys, inputs):
    files, features, events = inputs
    output = tmp_path / "out.parquet"
    argv = [*files, "--tree", "events", "--features", features, "--output", output, "--step", 10]
    status, printed = run(capsys, *argv)
    assert status == 0, printed.err
    columns, entries = expected_rows(events)
    parquet = pq.ParquetFile(output)
    assert parquet.metadata.num_row_groups == 5  # N / step, none of them empty here
    table = parquet.read()
    assert table.column_names == [*NAMES, "source_entry"]
    for name in NAMES:
        np.testing.assert_allclose(table[name].to_numpy(), columns[name], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(table["source_entry"].to_numpy(), entries)
    assert parquet.schema_arrow.field("Jet_PT[1]").metadata == {
        b"source_branch": b"Jet_PT",
        b"object_index": b"1",
    }
    provenance = json.loads(parquet.metadata.metadata[b"smartml"])
    assert provenance == {
        "source_files": [str(f) for f in files],
        "tree": "events",
        "features": NAMES,
        "entries_read": N,
        "dropped_rows": N - len(entries),
    }


def test_a_failure_mid_way_leaves_no_output(tmp_path, capsys):
    values = np.arange(30, dtype=np.float32)
    values[25] = np.nan
    source = write_tree(tmp_path / "nan.root", {"MET": values})
    features = tmp_path / "f.json"
    features.write_text('{"branches": ["MET"]}')
    out = tmp_path / "out"
    out.mkdir()
    for name in ["x.h5", "x.parquet"]:
        status, printed = run(
            capsys, source, "--features", features, "--output", out / name, "--step", 10
        )
        assert status == 2
        assert printed.err == (
            f"smartml.convert: error: {source}: tree 'events': feature 'MET' is NaN at entry 25 "
            "of the file; remove or fix such events\n"
        )
    assert list(out.iterdir()) == []


def test_an_interruption_leaves_no_output_and_keeps_an_old_one(
    tmp_path, capsys, inputs, monkeypatch
):
    files, features, _ = inputs
    output = tmp_path / "out.h5"
    output.write_bytes(b"old")
    calls = []

    def interrupted(self, features, entries):
        calls.append(len(entries))
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Hdf5FeatureWriter, "write", interrupted)
    argv = [*files, "--features", features, "--output", output, "--step", 10, "--overwrite"]
    status, printed = run(capsys, *argv)
    assert status == 130 and "interrupted" in printed.err
    assert len(calls) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["out.h5"] and output.read_bytes() == b"old"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--output", "{tmp}/o.csv"],
            "--output {tmp}/o.csv: expected a file ending in .h5, .hdf5, .parquet, .pq",
        ),
        (["--output", "{tmp}/o.h5", "--step", "0"], "--step 0: must be greater than 0"),
        (
            ["--output", "{tmp}/o.h5", "--compression", "zstd"],
            "--compression zstd: hdf5 takes one of gzip, lzf, none",
        ),
        (
            ["--output", "{tmp}/o.h5", "--tree", "hftree"],
            "{a}: no tree 'hftree'; trees in the file: events",
        ),
        (["--output", "{tmp}"], "--output {tmp}: is a directory; expected a file name"),
    ],
)
def test_bad_options_are_one_line(tmp_path, capsys, inputs, argv, message):
    files, features, _ = inputs
    folder = tmp_path / "out"
    folder.mkdir()
    argv = [a.format(tmp=folder) for a in argv]
    status, printed = run(capsys, files[0], "--features", features, *argv)
    assert status == 2
    assert printed.err == f"smartml.convert: error: {message.format(tmp=folder, a=files[0])}\n"
    assert list(folder.iterdir()) == []


def test_a_features_file_typo_is_one_line(tmp_path, capsys, inputs):
    files, _, _ = inputs
    features = tmp_path / "f.yaml"
    features.write_text("branches: [MET]\nwildcard: ['lep*']\n")
    status, printed = run(capsys, files[0], "--features", features, "--output", tmp_path / "o.h5")
    assert status == 2
    assert printed.err == (
        f"smartml.convert: error: {features}: wildcard: unknown key 'wildcard'; "
        "did you mean 'wildcards'?\n"
    )


def test_several_trees_need_tree(tmp_path):
    path = write_tree(tmp_path / "two.root", {"x": np.zeros(3)}, momemta={"w": np.zeros(3)})
    (tmp_path / "f.yaml").write_text("branches: [x]\n")
    with pytest.raises(
        DataError, match=r"two.root: holds trees: events, momemta; choose one with --tree$"
    ):
        conversion.convert([path], None, tmp_path / "f.yaml", tmp_path / "o.h5")


def test_converted_rows_equal_the_reader(tmp_path, inputs):
    files, features, _ = inputs
    written = conversion.convert(files, "events", features, tmp_path / "o.h5", step=3)
    selection = FeatureSelection.model_validate({"branches": ["MET", "Jet_PT[1]"]})
    reader = NtupleReader(files, "events", selection)
    direct = reader.read(0, reader.n_entries)
    with h5py.File(tmp_path / "o.h5") as out:
        np.testing.assert_array_equal(out["Jet_PT[1]"][:], direct.features[:, 1])
    assert written.dropped_rows == direct.dropped
