"""Branch aliases (smartml.ntuples.aliases): renamed, indexed and computed columns read
from a tree, checked before any read, and through the NtupleReader's selection."""

import awkward as ak
import numpy as np
import pytest
import uproot
from pydantic import ValidationError

from smartml.errors import ConfigError, DataError
from smartml.ntuples.aliases import (
    Aliases,
    check_aliases,
    parse_alias,
    parse_aliases,
    read_columns,
)
from smartml.ntuples.feature_selection import FeatureSelection
from smartml.ntuples.root_reader import NtupleReader
from tests.ntuple_files import write_tree

N = 40


@pytest.fixture()
def muons(tmp_path):
    """A flat ``pt1`` and jagged Cartesian muons; every 5th event has one muon only."""
    rng = np.random.default_rng(3)
    counts = np.where(np.arange(N) % 5 == 0, 1, 2)
    total = int(counts.sum())
    px, py, pz = (rng.normal(0, 30, total) for _ in range(3))
    branches = {
        "pt1": rng.uniform(20, 80, N).astype(np.float64),
        "Muon_Px": ak.unflatten(px, counts),
        "Muon_Py": ak.unflatten(py, counts),
        "Muon_Pz": ak.unflatten(pz, counts),
    }
    path = write_tree(tmp_path / "muons.root", branches, chunk=9)
    return path, branches, counts


def second(branch, counts):
    """The second object's values (NaN where an event has one), independently."""
    values = np.full(len(counts), np.nan)
    for event, objects in enumerate(branch.tolist()):
        if len(objects) > 1:
            values[event] = objects[1]
    return values


CARTESIAN = {
    "lep2_PT": {"pt_from": ["Muon_Px[1]", "Muon_Py[1]"]},
    "lep2_Eta": {"eta_from": ["Muon_Px[1]", "Muon_Py[1]", "Muon_Pz[1]"]},
    "lep2_Phi": {"phi_from": ["Muon_Px[1]", "Muon_Py[1]"]},
    "lep1_PT": "pt1",
    "lep1_Px": "Muon_Px[0]",
}


def test_renamed_indexed_and_computed_columns_match_numpy(muons):
    path, branches, counts = muons
    aliases = Aliases.validate_python(CARTESIAN)
    with uproot.open(path) as file:
        columns = read_columns(file["events"], list(CARTESIAN), aliases, 0, N, "m.root")
    px, py, pz = (second(branches[f"Muon_P{a}"], counts) for a in "xyz")
    pt = np.sqrt(px**2 + py**2)
    np.testing.assert_allclose(columns["lep2_PT"], pt, rtol=1e-12)
    np.testing.assert_allclose(columns["lep2_Eta"], np.log((np.sqrt(pt**2 + pz**2) + pz) / pt))
    np.testing.assert_allclose(columns["lep2_Phi"], np.arctan2(py, px), rtol=1e-12)
    assert np.isnan(columns["lep2_PT"][counts == 1]).all()
    np.testing.assert_array_equal(columns["lep1_PT"], branches["pt1"])
    first_px = [objects[0] for objects in branches["Muon_Px"].tolist()]
    np.testing.assert_array_equal(columns["lep1_Px"], first_px)


def test_an_entry_range_reads_those_entries_only(muons):
    path, branches, _ = muons
    with uproot.open(path) as file:
        part = read_columns(file["events"], ["lep1_PT"], {"lep1_PT": "pt1"}, 10, 17, "m")
    np.testing.assert_array_equal(part["lep1_PT"], branches["pt1"][10:17])


@pytest.mark.parametrize(
    "aliases, expected",
    [
        (
            {"lep1_PT": {"pt_from": ["Muon_PX[0]", "Muon_Py[0]"]}},
            "data.samples[hzz].aliases.lep1_PT: branch 'Muon_PX' not in m.root: tree 'events'; "
            "nearest: Muon_Pz, Muon_Py, Muon_Px",
        ),
        (
            {"lep1_PT": "pt_1"},
            "data.samples[hzz].aliases.lep1_PT: branch 'pt_1' not in m.root: tree 'events'; "
            "nearest: pt1",
        ),
        (
            {"lep1_PT": "Muon_Px"},
            "data.samples[hzz].aliases.lep1_PT: m.root: tree 'events': 'Muon_Px' is a jagged "
            "branch (objects per event): select one object with an index, e.g. 'Muon_Px[0]'",
        ),
        (
            {"lep1_PT": "pt1[0]"},
            "data.samples[hzz].aliases.lep1_PT: m.root: tree 'events': 'pt1[0]': 'pt1' holds "
            "one value per event, not a list of objects; write 'pt1' without an index",
        ),
        (
            {},
            "m.root: tree 'events': no branch 'lep1_PT'",
        ),
    ],
)
def test_a_bad_alias_is_one_line_naming_alias_branch_and_file(muons, aliases, expected):
    path, _, _ = muons
    with uproot.open(path) as file, pytest.raises(DataError) as caught:
        check_aliases(
            file["events"],
            ["lep1_PT"],
            Aliases.validate_python(aliases),
            "m.root: tree 'events'",
            "data.samples[hzz].aliases",
        )
    assert str(caught.value) == expected


@pytest.mark.parametrize(
    "aliases, expected",
    [
        ({"a": {"pt_from": ["x"]}}, "List should have at least 2 items"),
        ({"a": {"pt_from": ["x", "y"], "phi_from": ["x", "y"]}}, "got pt_from, phi_from"),
        ({"a": {}}, "got none"),
        ({"a": {"mass_from": ["x", "y"]}}, "Extra inputs are not permitted"),
        ({"a": 3}, "Input should be a valid string"),
        ({"a": ""}, "String should have at least 1 character"),
    ],
)
def test_malformed_aliases_are_refused(aliases, expected):
    with pytest.raises(ValidationError, match=expected.replace("[", r"\[")):
        Aliases.validate_python(aliases)


def test_command_line_aliases_are_parsed_and_malformed_ones_named():
    assert parse_alias(" lep1_PT = pt1 ") == ("lep1_PT", "pt1")
    assert parse_aliases(["a=b", "c=Muon_Px[0]"]) == {"a": "b", "c": "Muon_Px[0]"}
    for text in ("lep1_PT", "=pt1", "lep1_PT="):
        with pytest.raises(ConfigError) as caught:
            parse_alias(text)
        assert str(caught.value) == f"--branch {text!r}: expected NAME=BRANCH, e.g. lep1_PT=pt1"
    with pytest.raises(ConfigError) as caught:
        parse_aliases(["a=b", "a=c"])
    assert str(caught.value) == "--branch 'a=c': 'a' is already mapped to 'b'"


def test_the_reader_reads_aliases_with_the_missing_object_policy(muons):
    path, branches, counts = muons
    selection = {"branches": ["lep1_PT", "lep2_PT"], "derived": []}
    dropped = NtupleReader([path], "events", FeatureSelection(**selection), aliases=CARTESIAN).read(
        0, N
    )
    assert dropped.dropped == int((counts == 1).sum())
    pt = np.hypot(second(branches["Muon_Px"], counts), second(branches["Muon_Py"], counts))
    np.testing.assert_allclose(dropped.features[:, 1], pt[counts == 2], rtol=1e-6)
    np.testing.assert_allclose(dropped.features[:, 0], branches["pt1"][counts == 2], rtol=1e-6)
    filled = NtupleReader(
        [path],
        "events",
        FeatureSelection(**selection, missing_object="fill", fill_value=-1.0),
        aliases=CARTESIAN,
    )
    features = filled.read(0, N).features
    assert (features[counts == 1, 1] == -1.0).all()
    assert filled.source_of("lep2_PT") == "pt_from(Muon_Px[1], Muon_Py[1])"
    assert filled.source_of("lep1_PT") == "pt1"


def test_an_alias_index_no_event_reaches_names_the_alias(muons):
    path, _, _ = muons
    with pytest.raises(DataError) as caught:
        NtupleReader(
            [path],
            "events",
            FeatureSelection(branches=["lep3_PT"]),
            aliases={"lep3_PT": {"pt_from": ["Muon_Px[2]", "Muon_Py[2]"]}},
            aliases_key="data.aliases",
        )
    assert str(caught.value) == (
        f"{path}: tree 'events': 'Muon_Px[2]' (in data.aliases.lep3_PT): no event has more "
        "than 2 objects in branch 'Muon_Px' (index 2 needs 3)"
    )
