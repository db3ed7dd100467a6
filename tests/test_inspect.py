"""python -m smartml.inspect: the statistics of ROOT, HDF5 and parquet files equal
numpy's over the whole columns, read in chunks; --json parses; bad input is one line."""

import json

import awkward as ak
import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ntuple_files import event_branches, write_tree

from smartml import inspect as smartml_inspect
from smartml.ntuples.column_statistics import RunningStatistics

N = 90


def numpy_statistics(values):
    values = np.asarray(values, dtype=np.float64).ravel()
    finite = values[np.isfinite(values)]
    return {
        "count": finite.size,
        "nan": int(np.isnan(values).sum()),
        "inf": int(np.isinf(values).sum()),
        "min": finite.min(),
        "max": finite.max(),
        "mean": finite.mean(),
        "std": finite.std(),
    }


def assert_statistics(found, values):
    expected = numpy_statistics(values)
    assert {k: found[k] for k in ("count", "nan", "inf")} == {
        k: expected[k] for k in ("count", "nan", "inf")
    }
    for key in ("min", "max", "mean", "std"):
        assert found[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-12), key


def inspect_json(capsys, path, step):
    status = smartml_inspect.main([str(path), "--json", "--step", str(step)])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    return json.loads(printed.out)


def test_running_statistics_merge_chunks_like_numpy():
    rng = np.random.default_rng(2)
    values = rng.normal(1e6, 3.0, 10_001)  # a large offset: naive sums of x² would cancel
    values[[5, 900]] = np.nan
    values[77] = -np.inf
    running = RunningStatistics()
    for chunk in np.array_split(values, 17):
        running.update(chunk)
    assert_statistics(running.summary(), values)


def test_root_trees_branches_and_jagged_statistics(tmp_path, capsys):
    events = event_branches(N, seed=9)
    events["MET"][[3, 40]] = np.nan
    path = write_tree(tmp_path / "e.root", events, momemta={"weight": np.linspace(1, 2, N)})
    summary = inspect_json(capsys, path, step=16)
    assert [t["name"] for t in summary["trees"]] == ["events", "momemta"]
    tree = summary["trees"][0]
    assert tree["entries"] == N
    branches = {b["name"]: b for b in tree["branches"]}
    assert list(branches) == [
        "lep1_PT",
        "lep1_Eta",
        "lep1_Phi",
        "lep2_PT",
        "lep2_Eta",
        "lep2_Phi",
        "MET",
        "METPhi",
        "nJet_PT",
        "Jet_PT",
        "nJet_Eta",
        "Jet_Eta",
    ]
    assert_statistics(branches["MET"]["statistics"], events["MET"])
    assert branches["MET"]["statistics"]["nan"] == 2
    assert_statistics(branches["lep2_Eta"]["statistics"], events["lep2_Eta"])
    jets = branches["Jet_PT"]
    assert jets["jagged"] and jets["type"] == "float[]"
    assert_statistics(jets["statistics"], ak.to_numpy(ak.flatten(events["Jet_PT"])))
    assert_statistics(jets["objects_per_event"], ak.to_numpy(ak.num(events["Jet_PT"])))
    assert branches["MET"]["objects_per_event"] is None
    assert_statistics(summary["trees"][1]["branches"][0]["statistics"], np.linspace(1, 2, N))


def test_hdf5_datasets(tmp_path, capsys):
    rng = np.random.default_rng(1)
    table = rng.normal(size=(N, 3)).astype(np.float32)
    table[7, 1] = np.inf
    labels = rng.integers(0, 5, N)
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("group/table", data=table, chunks=(10, 3))
        file.create_dataset("labels", data=labels)
        file.create_dataset("names", data=np.array([b"a", b"b"]))
        file["labels"].attrs["source_branch"] = "label"
    summary = inspect_json(capsys, path, step=13)
    datasets = {d["name"]: d for d in summary["datasets"]}
    assert (
        datasets["group/table"]["shape"] == [N, 3] and datasets["group/table"]["dtype"] == "float32"
    )
    assert_statistics(datasets["group/table"]["statistics"], table)
    assert datasets["group/table"]["statistics"]["inf"] == 1
    assert_statistics(datasets["labels"]["statistics"], labels)
    assert datasets["labels"]["attributes"] == {"source_branch": "label"}
    assert datasets["names"]["statistics"] is None


def test_parquet_columns(tmp_path, capsys):
    rng = np.random.default_rng(4)
    x = rng.exponential(size=N)
    path = tmp_path / "c.parquet"
    pq.write_table(
        pa.table({"x": x, "n": np.arange(N), "s": [str(i) for i in range(N)]}),
        path,
        row_group_size=20,
    )
    summary = inspect_json(capsys, path, step=7)
    assert summary["rows"] == N and summary["row_groups"] == 5
    columns = {c["name"]: c for c in summary["columns"]}
    assert_statistics(columns["x"]["statistics"], x)
    assert_statistics(columns["n"]["statistics"], np.arange(N))
    assert columns["s"]["statistics"] is None and columns["s"]["dtype"] == "string"


def test_text_output_lists_every_column(tmp_path, capsys):
    path = write_tree(
        tmp_path / "e.root", {"MET": np.array([1.0, 3.0]), "Jet_PT": ak.Array([[1.0], []])}
    )
    assert smartml_inspect.main([str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [f"{path} (root): 1 trees", "tree 'events': 2 entries, 3 branches"]
    assert lines[3].split() == ["MET", "double", "1", "3", "2", "1", "0"]
    assert lines[5].split() == ["Jet_PT", "double[]", "1", "1", "1", "0", "0"]
    assert lines[6].split() == ["objects/event", "count", "0", "1", "0.5", "0.5", "0"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.csv", b"a,b\n", "{path}: expected a file ending in .root, .h5, .hdf5, .parquet, .pq"),
        ("gone.root", None, "{path}: no such file"),
        (
            "bad.root",
            b"not root at all" * 100,
            "{path}: not a readable ROOT file (not a ROOT file: first four bytes are b'not '",
        ),
        (
            "bad.h5",
            b"garbage" * 100,
            "{path}: not a readable HDF5 file (Unable to synchronously open file (file signature not found))",
        ),
        (
            "bad.parquet",
            b"garbage" * 100,
            "{path}: not a readable parquet file (Parquet magic bytes not found in footer. Either the file is corrupted or this is not a parquet file.)",
        ),
    ],
)
def test_bad_files_are_one_line(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert smartml_inspect.main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"smartml.inspect: error: {message.format(path=path)}")
    assert err.count("\n") == 1


def test_root_strings_have_no_statistics(tmp_path, capsys):
    import uproot

    path = tmp_path / "s.root"
    with uproot.recreate(path) as file:
        tree = file.mktree("events", {"x": np.float32, "label": "string"})
        tree.extend({"x": np.array([1.0, 2.0], np.float32), "label": ak.Array(["a", "bb"])})
    branches = inspect_json(capsys, path, step=1)["trees"][0]["branches"]
    assert branches[1] == {
        "name": "label",
        "type": "char*",
        "jagged": False,
        "statistics": None,
        "objects_per_event": None,
    }
    assert_statistics(branches[0]["statistics"], [1.0, 2.0])
