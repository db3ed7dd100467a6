"""NtupleReader on ROOT files written by uproot: values equal the branches, object
indices with both missing-object policies, chained files equal one file, chunked
reads equal a whole read, and every bad input is one line naming file, tree, branch."""

import awkward as ak
import numpy as np
import pytest
from ntuple_files import event_branches, write_tree

from smartml.errors import DataError
from smartml.ntuples.derived_features import delta_phi, invariant_mass
from smartml.ntuples.feature_selection import FeatureSelection
from smartml.ntuples.root_reader import NtupleReader, check_aligned

N = 60


@pytest.fixture(scope="module")
def events():
    return event_branches(N, seed=11)


@pytest.fixture(scope="module")
def one_file(tmp_path_factory, events):
    return write_tree(tmp_path_factory.mktemp("one") / "all.root", events)


@pytest.fixture(scope="module")
def two_files(tmp_path_factory, events):
    folder = tmp_path_factory.mktemp("two")
    first = {key: value[:25] for key, value in events.items()}
    second = {key: value[25:] for key, value in events.items()}
    return [write_tree(folder / "a.root", first), write_tree(folder / "b.root", second)]


def jet(events, name, index):
    """Object ``index`` of a jagged branch with NaN where it is missing (awkward-free)."""
    return np.array([row[index] if len(row) > index else np.nan for row in events[name].tolist()])


def test_flat_features_are_the_branches(one_file, events):
    reader = NtupleReader([one_file], "events", FeatureSelection(branches=["MET", "lep1_PT"]))
    features, entries, dropped = reader.read(0, N)
    assert features.dtype == np.float32 and features.shape == (N, 2)
    np.testing.assert_array_equal(features[:, 0], events["MET"])
    np.testing.assert_array_equal(features[:, 1], events["lep1_PT"])
    np.testing.assert_array_equal(entries, np.arange(N))
    assert dropped == 0 and reader.n_entries == N and reader.feature_names == ["MET", "lep1_PT"]


def test_events_without_the_object_are_dropped_and_counted(one_file, events):
    selection = FeatureSelection(branches=["Jet_PT[1]", "MET"])
    features, entries, dropped = NtupleReader([one_file], "events", selection).read(0, N)
    second_jet = jet(events, "Jet_PT", 1)
    has_it = ~np.isnan(second_jet)
    np.testing.assert_array_equal(entries, np.flatnonzero(has_it))
    np.testing.assert_array_equal(features[:, 0], second_jet[has_it])
    np.testing.assert_array_equal(features[:, 1], events["MET"][has_it])
    assert dropped == N - has_it.sum() > 0


def test_events_without_the_object_are_filled(one_file, events):
    selection = FeatureSelection(branches=["Jet_PT[1]"], missing_object="fill", fill_value=-9.0)
    features, entries, dropped = NtupleReader([one_file], "events", selection).read(0, N)
    expected = np.nan_to_num(jet(events, "Jet_PT", 1), nan=-9.0)
    np.testing.assert_array_equal(features[:, 0], expected.astype(np.float32))
    assert dropped == 0 and len(entries) == N


def test_derived_features_equal_the_formulas(one_file, events):
    selection = FeatureSelection.model_validate(
        {
            "branches": ["lep1_Phi"],
            "missing_object": "fill",
            "fill_value": -1.0,
            "derived": [
                {"kind": "delta_phi", "name": "dphi", "phi": "lep2_Phi", "reference": "lep1_Phi"},
                {"kind": "balance", "name": "pt_balance", "first": "lep1_PT", "second": "lep2_PT"},
                {
                    "kind": "delta_phi",
                    "name": "abs_dphi",
                    "phi": "lep2_Phi",
                    "reference": "lep1_Phi",
                    "absolute": True,
                },
                {
                    "kind": "invariant_mass",
                    "name": "m_ll",
                    "objects": [
                        {"pt": "lep1_PT", "eta": "lep1_Eta", "phi": "lep1_Phi", "mass": 0.105},
                        {"pt": "lep2_PT", "eta": "lep2_Eta", "phi": "lep2_Phi", "mass": 0.105},
                    ],
                },
                {
                    "kind": "invariant_mass",
                    "name": "m_jl",
                    "objects": [
                        {"pt": "lep1_PT", "eta": "lep1_Eta", "phi": "lep1_Phi"},
                        {"pt": "Jet_PT[0]", "eta": "Jet_Eta[0]", "phi": "lep2_Phi"},
                    ],
                },
            ],
        }
    )
    features, _, _ = NtupleReader([one_file], "events", selection).read(0, N)
    e = {k: v.astype(np.float64) for k, v in events.items() if not isinstance(v, ak.Array)}
    dphi = np.angle(np.exp(1j * (e["lep2_Phi"] - e["lep1_Phi"])))
    np.testing.assert_allclose(features[:, 1], dphi, rtol=1e-6, atol=1e-6)
    # |Δφ| from the scalar product of the two directions, not from wrapping
    cos = np.cos(e["lep2_Phi"]) * np.cos(e["lep1_Phi"]) + np.sin(e["lep2_Phi"]) * np.sin(
        e["lep1_Phi"]
    )
    np.testing.assert_allclose(features[:, 3], np.arccos(np.clip(cos, -1, 1)), atol=1e-5)
    pt1, pt2 = e["lep1_PT"], e["lep2_PT"]
    np.testing.assert_allclose(features[:, 2], (pt1 - pt2) / (pt1 + pt2), rtol=1e-5)
    features = np.delete(features, [2, 3], axis=1)
    m_ll = invariant_mass(
        *[(e[f"{lep}_PT"], e[f"{lep}_Eta"], e[f"{lep}_Phi"], 0.105) for lep in ("lep1", "lep2")]
    )
    np.testing.assert_allclose(features[:, 2], m_ll, rtol=1e-6)
    pt, eta = jet(events, "Jet_PT", 0), jet(events, "Jet_Eta", 0)
    has_jet = ~np.isnan(pt)
    m_jl = np.sqrt(
        2
        * e["lep1_PT"]
        * pt
        * (np.cosh(e["lep1_Eta"] - eta) - np.cos(e["lep1_Phi"] - e["lep2_Phi"]))
    )
    np.testing.assert_allclose(features[has_jet, 3], m_jl[has_jet], rtol=1e-5)
    assert (features[~has_jet, 3] == -1.0).all() and (~has_jet).any()
    assert delta_phi(np.array([1.0]), np.array([0.0])) == pytest.approx(1.0)


@pytest.mark.parametrize("policy", ["drop", "fill"])
def test_chained_files_read_like_one_file(one_file, two_files, policy):
    selection = FeatureSelection(
        branches=["MET", "Jet_Eta[0]"], wildcards=["lep2_*"], missing_object=policy
    )
    whole = NtupleReader([one_file], "events", selection).read(0, N)
    chained = NtupleReader(two_files, "events", selection)
    assert chained.entries_per_file == [25, 35] and chained.n_entries == N
    across = chained.read(0, N)
    np.testing.assert_array_equal(across.features, whole.features)
    np.testing.assert_array_equal(across.entries, whole.entries)
    assert across.dropped == whole.dropped
    middle = chained.read(20, 31)  # spans both files
    in_range = (whole.entries >= 20) & (whole.entries < 31)
    np.testing.assert_array_equal(middle.features, whole.features[in_range])
    np.testing.assert_array_equal(middle.entries, whole.entries[in_range])


def test_chunked_reading_equals_whole_reading(two_files):
    reader = NtupleReader(two_files, "events", FeatureSelection(branches=["Jet_PT[0]", "MET"]))
    whole = reader.read(0, N)
    chunks = list(reader.iterate(step=13))
    assert len(chunks) == 5
    np.testing.assert_array_equal(np.concatenate([c.features for c in chunks]), whole.features)
    np.testing.assert_array_equal(np.concatenate([c.entries for c in chunks]), whole.entries)
    assert sum(c.dropped for c in chunks) == whole.dropped


def test_aligned_trees_in_other_files_pass_and_a_length_mismatch_names_both(tmp_path, one_file):
    weights = {"weight_DY": np.ones(N, np.float32)}
    good = write_tree(tmp_path / "w.root", weights, tree="momemta")
    inputs = NtupleReader([one_file], "events", FeatureSelection(branches=["MET"]))
    check_aligned(inputs, NtupleReader([good], "momemta", FeatureSelection(branches=["weight_DY"])))
    short = write_tree(
        tmp_path / "short.root", {"weight_DY": np.ones(N - 2, np.float32)}, tree="momemta"
    )
    target = NtupleReader([short], "momemta", FeatureSelection(branches=["weight_DY"]))
    with pytest.raises(DataError) as caught:
        check_aligned(inputs, target)
    assert str(caught.value) == (
        f"{one_file}: tree 'events' has {N} entries but {short}: tree 'momemta' has {N - 2}; "
        "the trees must be aligned entry by entry"
    )


def test_a_target_tree_in_the_same_file_is_aligned(tmp_path):
    path = write_tree(
        tmp_path / "both.root", {"x": np.arange(5.0)}, momemta={"weight_DY": np.arange(5.0)}
    )
    inputs = NtupleReader([path], "events", FeatureSelection(branches=["x"]))
    check_aligned(inputs, NtupleReader([path], "momemta", FeatureSelection(branches=["weight_DY"])))


SELECT_MET = FeatureSelection(branches=["MET"])


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"^\S+nope.root: no such ROOT file$"):
        NtupleReader([tmp_path / "nope.root"], "events", SELECT_MET)


def test_empty_file(tmp_path):
    (tmp_path / "empty.root").write_bytes(b"")
    with pytest.raises(
        DataError, match=r"empty.root: the file is empty \(0 bytes\), not a ROOT file$"
    ):
        NtupleReader([tmp_path / "empty.root"], "events", SELECT_MET)


def test_corrupt_files(tmp_path, one_file):
    (tmp_path / "noise.root").write_bytes(np.random.default_rng(0).bytes(3000))
    with pytest.raises(
        DataError, match=r"noise.root: not a readable ROOT file \(not a ROOT file: first four bytes"
    ):
        NtupleReader([tmp_path / "noise.root"], "events", SELECT_MET)
    (tmp_path / "cut.root").write_bytes(one_file.read_bytes()[:2000])
    with pytest.raises(
        DataError, match=r"cut.root: not a readable ROOT file \(expected Chunk of length"
    ):
        NtupleReader([tmp_path / "cut.root"], "events", SELECT_MET)


def test_missing_tree_lists_the_trees(tmp_path):
    path = write_tree(
        tmp_path / "t.root", {"x": np.arange(3.0)}, tree="hftree", momemta={"w": np.arange(3.0)}
    )
    with pytest.raises(DataError) as caught:
        NtupleReader([path], "events", SELECT_MET)
    assert str(caught.value) == f"{path}: no tree 'events'; trees in the file: hftree, momemta"


def test_wildcards_giving_other_features_in_another_file(tmp_path, one_file):
    other = write_tree(tmp_path / "other.root", {"lep1_PT": np.zeros(3, np.float32)})
    with pytest.raises(DataError) as caught:
        NtupleReader([one_file, other], "events", FeatureSelection(wildcards=["lep*_PT"]))
    assert str(caught.value) == (
        f"{other}: tree 'events': the selection gives other features than in {one_file} "
        "(differing: lep2_PT)"
    )


def test_a_closed_reader_closes_its_files(one_file):
    with NtupleReader([one_file], "events", SELECT_MET) as reader:
        assert len(reader.read(0, 3).features) == 3
    assert all(tree.file.closed for tree in reader._trees)


def test_missing_branch_in_the_second_file_names_it(tmp_path, one_file):
    other = write_tree(tmp_path / "other.root", {"MET_": np.arange(3.0, dtype=np.float32)})
    with pytest.raises(DataError) as caught:
        NtupleReader([one_file, other], "events", SELECT_MET)
    assert str(caught.value) == f"{other}: tree 'events': no branch 'MET'; nearest: MET_"


def test_an_object_index_beyond_every_event(one_file):
    with pytest.raises(DataError) as caught:
        NtupleReader([one_file], "events", FeatureSelection(branches=["MET", "Jet_PT[3]"]))
    assert str(caught.value) == (
        f"{one_file}: tree 'events': 'Jet_PT[3]': no event has more than 3 objects in "
        "branch 'Jet_PT' (index 3 needs 4)"
    )


@pytest.mark.parametrize(("bad", "shown"), [(np.nan, "NaN"), (np.inf, "inf (infinite)")])
def test_a_non_finite_feature_names_feature_file_and_entry(tmp_path, bad, shown):
    values = np.arange(20, dtype=np.float32)
    values[[13, 17]] = bad
    path = write_tree(tmp_path / "nan.root", {"x": np.zeros(20, np.float32), "MET": values})
    reader = NtupleReader([path], "events", FeatureSelection(branches=["x", "MET"]))
    reader.read(0, 13)  # the events before are fine
    with pytest.raises(DataError) as caught:
        list(reader.iterate(step=8))
    assert str(caught.value) == (
        f"{path}: tree 'events': feature 'MET' is {shown} at entry 13 of the file; "
        "remove or fix such events"
    )


def test_a_tree_without_entries(tmp_path):
    path = write_tree(tmp_path / "none.root", {"MET": np.zeros(0, np.float32)})
    with pytest.raises(DataError, match=r"none.root: tree 'events': the tree has no entries$"):
        NtupleReader([path], "events", SELECT_MET)


def test_a_branch_of_strings_is_no_feature(tmp_path):
    import uproot

    path = tmp_path / "s.root"
    with uproot.recreate(path) as file:
        tree = file.mktree("events", {"x": np.float32, "label": "string"})
        tree.extend({"x": np.arange(2, dtype=np.float32), "label": ak.Array(["a", "bb"])})
    with pytest.raises(DataError) as caught:
        NtupleReader([path], "events", FeatureSelection(wildcards=["*"]))
    assert str(caught.value) == f"{path}: tree 'events': branch 'label' holds char*, not numbers"
