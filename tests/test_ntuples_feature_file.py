"""Features files (YAML or JSON): read strictly, a typo is one line naming file and key."""

import json

import pytest

from smartml.errors import ConfigError
from smartml.ntuples.feature_file import load_feature_file

SELECTION = {
    "prefixes": [["lep1_"], ["lep2_", "j1_"], ["MET"]],
    "suffixes": [["PT"], ["PT", "Eta"], ["", "_Phi"]],
    "branches": ["Jet_PT[0]"],
    "missing_object": "fill",
    "fill_value": -5,
    "derived": [
        {
            "kind": "invariant_mass",
            "name": "m_ll",
            "objects": [
                {"pt": "lep1_PT", "eta": "lep1_Eta", "phi": "lep1_Phi"},
                {"pt": "lep2_PT", "eta": "lep2_Eta", "phi": "lep2_Phi", "mass": 0.105},
            ],
        }
    ],
}


def test_yaml_and_json_give_the_same_selection(tmp_path):
    yaml_file = tmp_path / "features.yml"
    yaml_file.write_text(
        "prefixes: [[lep1_], [lep2_, j1_], [MET]]\n"
        "suffixes: [[PT], [PT, Eta], ['', _Phi]]\n"
        "branches: ['Jet_PT[0]']\n"
        "missing_object: fill\n"
        "fill_value: -5\n"
        "derived:\n"
        "  - kind: invariant_mass\n"
        "    name: m_ll\n"
        "    objects:\n"
        "      - {pt: lep1_PT, eta: lep1_Eta, phi: lep1_Phi}\n"
        "      - {pt: lep2_PT, eta: lep2_Eta, phi: lep2_Phi, mass: 0.105}\n"
    )
    json_file = tmp_path / "features.json"
    json_file.write_text(json.dumps(SELECTION))
    from_yaml, from_json = load_feature_file(yaml_file), load_feature_file(json_file)
    assert from_yaml == from_json
    assert from_yaml.fill_value == -5.0 and from_yaml.derived[0].objects[1].mass == 0.105


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "f.yaml",
            "branches: [MET]\nmissing_objects: fill\n",
            "f.yaml: missing_objects: unknown key 'missing_objects'; did you mean 'missing_object'?",
        ),
        (
            "f.json",
            '{"branches": ["MET"], "derived": [{"kind": "delta_phi", "name": "d", "phi": "a", "refrence": "b"}]}',
            "f.json: derived[0].refrence: unknown key 'refrence'; did you mean 'reference'? (and 1 more problem)",
        ),
        (
            "f.yaml",
            "branches: MET\n",
            "f.yaml: branches: Input should be a valid array (got 'MET')",
        ),
        ("f.yaml", "- MET\n", "f.yaml: expected a mapping of feature keys, found a list"),
        (
            "f.json",
            "{",
            "f.json: not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        ),
        (
            "f.yaml",
            "branches: [MET\n",
            "f.yaml: not valid YAML at line 2 (expected ',' or ']', but got '<stream end>')",
        ),
        (
            "f.txt",
            "branches: [MET]\n",
            "f.txt: a features file must end in .yaml, .yml, .json (YAML or JSON)",
        ),
    ],
)
def test_a_bad_features_file_is_one_line(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_feature_file(path)
    assert str(caught.value) == f"{tmp_path}/{message}"


def test_a_missing_features_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: features file not found$"):
        load_feature_file(tmp_path / "nope.yaml")
