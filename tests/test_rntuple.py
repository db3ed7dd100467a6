"""RNTuples (what uproot's dict assignment writes): smartml.inspect lists them with
statistics equal to numpy's, smartml.convert and an NtupleReader read them like a
TTree; what uproot cannot do for an RNTuple is one line naming it as an RNTuple."""

import json

import awkward as ak
import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
import uproot
from ntuple_files import write_tree

from smartml import convert
from smartml import inspect as smartml_inspect
from smartml.errors import DataError
from smartml.ntuples.feature_selection import FeatureSelection
from smartml.ntuples.root_reader import NtupleReader, open_tree, single_tree

N = 30


def rntuple_branches(seed: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    counts = rng.choice([0, 1, 2, 3], size=N)
    return {
        "Event": np.arange(N, dtype=np.int64) + 2**24 + 1,  # no exact float32
        "MET": rng.exponential(20.0, N).astype(np.float32),
        "passed": rng.random(N) < 0.5,
        "Jet_PT": ak.unflatten(rng.exponential(40.0, int(counts.sum())), counts),
        "label": ak.Array([f"event {i}" for i in range(N)]),
    }


@pytest.fixture(scope="module")
def rntuple(tmp_path_factory):
    """A file with one RNTuple 'events' (and its branches)."""
    path = tmp_path_factory.mktemp("rntuple") / "events.root"
    branches = rntuple_branches()
    with uproot.recreate(path) as file:
        file["events"] = branches  # dict assignment writes an RNTuple
    assert uproot.open(path).classname_of("events") == "ROOT::RNTuple"
    return path, branches


def second_object(jagged) -> tuple[np.ndarray, np.ndarray]:
    """(value of object 1 or NaN, whether the event has it), computed by hand."""
    rows = jagged.tolist()
    return (
        np.array([row[1] if len(row) > 1 else np.nan for row in rows]),
        np.array([len(row) > 1 for row in rows]),
    )


def test_inspect_lists_the_rntuple_with_numpy_statistics(rntuple, capsys):
    path, branches = rntuple
    assert smartml_inspect.main([str(path), "--json", "--step", "7"]) == 0
    (summary,) = json.loads(capsys.readouterr().out)["trees"]
    assert (summary["name"], summary["kind"], summary["entries"]) == ("events", "RNTuple", N)
    found = {branch["name"]: branch for branch in summary["branches"]}
    assert sorted(found) == sorted(branches)  # uproot writes the fields sorted
    event = found["Event"]["statistics"]
    assert (event["min"], event["max"]) == (2**24 + 1, 2**24 + N)  # exact integers
    met = found["MET"]["statistics"]
    values = branches["MET"].astype(np.float64)
    assert met["mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert met["std"] == pytest.approx(values.std(), rel=1e-9)
    jets = ak.to_numpy(ak.flatten(branches["Jet_PT"]))
    assert found["Jet_PT"]["jagged"] and found["Jet_PT"]["statistics"]["count"] == len(jets)
    assert found["Jet_PT"]["statistics"]["max"] == pytest.approx(jets.max(), rel=1e-12)
    assert found["Jet_PT"]["objects_per_event"]["max"] == max(map(len, branches["Jet_PT"]))
    assert found["label"]["statistics"] is None  # strings: not numbers
    assert smartml_inspect.main([str(path)]) == 0
    assert "RNTuple 'events': 30 entries, 5 fields" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".h5", ".parquet"])
def test_convert_reads_the_rntuple(rntuple, tmp_path, capsys, suffix):
    path, branches = rntuple
    features = tmp_path / "features.yaml"
    features.write_text("branches: [Event, MET, passed, 'Jet_PT[1]']\n")
    output = tmp_path / f"out{suffix}"
    status = convert.main([str(path), "--features", str(features), "--output", str(output)])
    assert status == 0, capsys.readouterr().err
    if suffix == ".h5":
        with h5py.File(output) as file:
            columns = {name: file[name][:] for name in file}
    else:
        columns = {k: np.asarray(v) for k, v in pq.read_table(output).to_pydict().items()}
    jet, has_jet = second_object(branches["Jet_PT"])
    np.testing.assert_array_equal(columns["source_entry"], np.flatnonzero(has_jet))
    np.testing.assert_array_equal(columns["Event"], branches["Event"][has_jet])
    assert columns["Event"].dtype == np.int64 and columns["passed"].dtype == np.bool_
    np.testing.assert_array_equal(columns["passed"], branches["passed"][has_jet])
    np.testing.assert_array_equal(columns["MET"], branches["MET"][has_jet])
    np.testing.assert_array_equal(columns["Jet_PT[1]"], jet[has_jet].astype(np.float32))


def test_a_reader_chains_an_rntuple_and_a_ttree(rntuple, tmp_path):
    path, branches = rntuple
    flat = {k: branches[k] for k in ("Event", "MET", "Jet_PT")}
    ttree = write_tree(tmp_path / "ttree.root", flat)
    selection = FeatureSelection.model_validate(
        {"branches": ["MET", "Jet_PT[1]"], "missing_object": "fill", "fill_value": -1.0}
    )
    with NtupleReader([path, ttree], "events", selection) as reader:
        assert reader.n_entries == 2 * N
        features, entries, dropped = reader.read(0, 2 * N)
    jet, has_jet = second_object(branches["Jet_PT"])
    expected = np.column_stack([branches["MET"], np.where(has_jet, jet, -1.0)]).astype(np.float32)
    np.testing.assert_array_equal(features, np.concatenate([expected, expected]))
    np.testing.assert_array_equal(entries, np.arange(2 * N))
    assert dropped == 0


def test_a_file_with_a_ttree_and_an_rntuple_names_both(rntuple, tmp_path):
    path, _ = rntuple
    both = tmp_path / "both.root"
    with uproot.recreate(both) as file:
        file["ntuple"] = {"x": np.arange(3.0)}
        file.mktree("tree", {"x": np.float64}).extend({"x": np.arange(3.0)})
    with pytest.raises(DataError, match=r": holds trees: ntuple, tree; choose one with --tree$"):
        single_tree(both)
    with pytest.raises(DataError, match=r": no tree 'events'; trees in the file: ntuple, tree$"):
        open_tree(both, "events")
    assert single_tree(path) == "events"


def test_bad_rntuple_inputs_are_one_line(rntuple, tmp_path, capsys):
    path, _ = rntuple
    features = tmp_path / "features.yaml"
    for branches, message in [
        ("[METT]", f"{path}: tree 'events': no branch 'METT'; nearest: MET"),
        ("[label]", f"{path}: tree 'events': branch 'label' holds std::string, not numbers"),
        ("[Jet_PT]", f"{path}: tree 'events': 'Jet_PT' is a jagged branch"),
    ]:
        features.write_text(f"branches: {branches}\n")
        argv = [str(path), "--features", str(features), "--output", str(tmp_path / "o.h5")]
        assert convert.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"smartml.convert: error: {message}") and err.count("\n") == 1


def test_a_nan_in_an_rntuple_names_the_entry(tmp_path):
    path = tmp_path / "nan.root"
    with uproot.recreate(path) as file:
        file["events"] = {"x": np.array([1.0, 2.0, np.nan, 4.0])}
    selection = FeatureSelection.model_validate({"branches": ["x"]})
    with NtupleReader([path], "events", selection) as reader:
        with pytest.raises(DataError, match=r"feature 'x' is NaN at entry 2 of the file"):
            reader.read(0, 4)


def test_what_uproot_cannot_do_for_an_rntuple_is_refused(rntuple):
    path, _ = rntuple
    tree = open_tree(path, "events")
    try:
        where = f"{path}: RNTuple 'events': uproot does not compute expressions for an RNTuple"
        with pytest.raises(DataError) as raised:
            tree.arrays(cut="MET > 10")
        assert str(raised.value) == f"{where} (a cut); ask for its fields by name"
        with pytest.raises(DataError, match=r"\('2 \* MET'\); ask for its fields by name$"):
            tree.arrays(["MET", "2 * MET"])
        with pytest.raises(DataError, match=r"\(aliases\)"):
            list(tree.iterate(["y"], aliases={"y": "MET"}, step_size=10))
        assert tree.arrays(["MET"], entry_start=2, entry_stop=5, library="np")["MET"].shape == (3,)
    finally:
        tree.file.close()


def test_a_field_uproot_cannot_decode_is_one_line_naming_the_rntuple(
    rntuple, tmp_path, capsys, monkeypatch
):
    path, _ = rntuple

    def undecodable(*args, **kwargs):
        raise NotImplementedError("column type 0x1f")

    model = type(uproot.open(path)["events"])
    monkeypatch.setattr(model, "arrays", undecodable)
    monkeypatch.setattr(model, "iterate", undecodable)
    message = f"{path}: RNTuple 'events': uproot cannot read it (column type 0x1f)"
    features = tmp_path / "features.yaml"
    features.write_text("branches: [MET]\n")
    argv = [str(path), "--features", str(features), "--output", str(tmp_path / "o.h5")]
    for tool, args in ((convert, argv), (smartml_inspect, [str(path)])):
        assert tool.main(args) == 2
        assert capsys.readouterr().err.endswith(f": error: {message}\n")
    assert not (tmp_path / "o.h5").exists()
