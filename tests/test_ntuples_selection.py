"""FeatureSelection: DeepMEM's prefix × suffix semantics, wildcards, object indices,
derived features, and the one-line errors of a selection a tree cannot satisfy."""

import pytest
from pydantic import ValidationError

from smartml.errors import DataError
from smartml.ntuples.feature_selection import FeatureSelection, resolve

BRANCHES = {
    "lep1_PT": False,
    "lep1_Eta": False,
    "lep2_PT": False,
    "lep2_Eta": False,
    "j1_PT": False,
    "j1_Eta": False,
    "MET": False,
    "MET_Phi": False,
    "nMuon": False,
    "Muon_Px": True,
}
WHERE = "a.root: tree 'events'"


def test_prefixes_combine_with_the_suffixes_at_the_same_index():
    selection = FeatureSelection(
        prefixes=[["lep1_"], ["lep2_", "j1_"], ["MET"]],
        suffixes=[["PT"], ["PT", "Eta"], ["", "_Phi"]],
    )
    resolved = resolve(selection, BRANCHES, WHERE)
    assert resolved.feature_names == [
        "lep1_PT",
        "lep2_PT",
        "lep2_Eta",
        "j1_PT",
        "j1_Eta",
        "MET",
        "MET_Phi",
    ]
    assert resolved.branches == resolved.feature_names


def test_order_is_branches_then_combinations_then_wildcards_without_repeats():
    selection = FeatureSelection(
        branches=["MET", "Muon_Px[1]"],
        prefixes=[["lep1_"]],
        suffixes=[["PT"]],
        wildcards=["lep*_PT", "j1_*"],
    )
    resolved = resolve(selection, BRANCHES, WHERE)
    assert resolved.feature_names == ["MET", "Muon_Px[1]", "lep1_PT", "lep2_PT", "j1_PT", "j1_Eta"]
    assert resolved.columns["Muon_Px[1]"].branch == "Muon_Px"
    assert resolved.columns["Muon_Px[1]"].index == 1
    assert resolved.source_of("Muon_Px[1]") == "Muon_Px"


def test_derived_features_read_their_inputs_without_outputting_them():
    selection = FeatureSelection.model_validate(
        {
            "branches": ["MET"],
            "derived": [
                {"kind": "delta_phi", "name": "dphi", "phi": "MET_Phi", "reference": "lep1_Eta"},
                {
                    "kind": "invariant_mass",
                    "name": "m",
                    "objects": [
                        {"pt": "lep1_PT", "eta": "lep1_Eta", "phi": "MET_Phi"},
                        {"pt": "Muon_Px[0]", "eta": "lep2_Eta", "phi": "MET_Phi", "mass": 0.105},
                    ],
                },
            ],
        }
    )
    resolved = resolve(selection, BRANCHES, WHERE)
    assert resolved.feature_names == ["MET", "dphi", "m"]
    assert set(resolved.columns) == {
        "MET",
        "MET_Phi",
        "lep1_Eta",
        "lep1_PT",
        "Muon_Px[0]",
        "lep2_Eta",
    }
    assert resolved.source_of("dphi") == "delta_phi(MET_Phi, lep1_Eta)"


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        (
            {"branches": ["lep1_Pt"]},
            "a.root: tree 'events': no branch 'lep1_Pt'; nearest: lep1_PT, lep1_Eta, lep2_PT",
        ),
        (
            {"prefixes": [["lep1_"], ["j2_"]], "suffixes": [["PT"], ["PT"]]},
            "a.root: tree 'events': prefixes[1] × suffixes[1] ('j2_' + 'PT'): no branch 'j2_PT'; "
            "nearest: j1_PT, lep2_PT",
        ),
        (
            {"branches": ["Muon_Px"]},
            "a.root: tree 'events': 'Muon_Px' is a jagged branch (objects per event): select one "
            "object with an index, e.g. 'Muon_Px[0]'",
        ),
        (
            {"branches": ["MET[0]"]},
            "a.root: tree 'events': 'MET[0]': 'MET' holds one value per event, not a list of "
            "objects; write 'MET' without an index",
        ),
        ({"wildcards": ["jet_*"]}, "a.root: tree 'events': wildcard 'jet_*' matches no branch"),
        (
            {"wildcards": ["Muon*"]},
            "a.root: tree 'events': wildcard 'Muon*' matches only jagged branches (Muon_Px); "
            "select their objects in branches, e.g. 'Muon_Px[0]'",
        ),
        (
            {
                "derived": [
                    {"kind": "delta_phi", "name": "MET", "phi": "MET_Phi", "reference": "j1_Eta"}
                ]
            },
            "a.root: tree 'events': derived feature 'MET' has the name of a branch; choose another name",
        ),
    ],
)
def test_a_selection_the_tree_cannot_satisfy_is_one_line(selection, message):
    with pytest.raises(DataError) as caught:
        resolve(FeatureSelection.model_validate(selection), BRANCHES, WHERE)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("selection", "problem"),
    [
        ({"prefixes": [["a"]], "suffixes": []}, "prefixes has 1 lists but suffixes has 0"),
        ({}, "no feature selected"),
        ({"branches": ["MET"], "missing_object": "skip"}, "missing_object"),
        ({"branches": ["MET"], "fill_value": float("nan")}, "fill_value"),
    ],
)
def test_an_inconsistent_selection_is_refused(selection, problem):
    with pytest.raises(ValidationError, match=problem):
        FeatureSelection.model_validate(selection)
