"""mem_regression on events whose branches are named otherwise (``pt1, eta1, phi1, …``):
``data.aliases`` maps the features' and the integrator's names onto them, and the
integrator's speed measurement is checked before training, not after."""

import json
from pathlib import Path

import numpy as np
import pytest
from mem_events import mem_run_config

from smartml.collider.event_generator import generate_drell_yan
from smartml.collider.generation_config import GenerationConfig
from smartml.collider.matrix_element_method import MUON_BRANCHES
from smartml.errors import DataError
from tests.ntuple_files import prepared_task, write_tree

N = 200
RENAMED = {
    f"lep{lepton}_{name}": f"{variable}{lepton}"
    for lepton in (1, 2)
    for name, variable in (("PT", "pt"), ("Eta", "eta"), ("Phi", "phi"))
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path, dict]:
    directory = tmp_path_factory.mktemp("mem_aliases")
    events = generate_drell_yan(N, 11, GenerationConfig())
    renamed = {branch: np.asarray(events[name], np.float64) for name, branch in RENAMED.items()}
    events_file = write_tree(directory / "zmumu.root", renamed, chunk=50)
    weights = 1e-4 * np.exp(-renamed["pt1"] / 40.0)
    weights_file = write_tree(directory / "w.root", {"weight_DY": weights}, tree="momemta")
    return events_file, weights_file, renamed


def config(tmp_path: Path, files, **data) -> Path:
    events_file, weights_file, _ = files
    return mem_run_config(
        tmp_path,
        events_file,
        weights_file,
        entries_per_chunk=50,
        speed_events=2,
        model={"name": "mlp", "hidden_units": [8]},
        plots=False,
        **data,
    )


def test_aliases_feed_the_features_and_the_integrator(tmp_path, files):
    task = prepared_task(config(tmp_path, files, aliases=RENAMED))
    examples = task.examples("test")
    entries = examples.aux["entry"].to_numpy()
    renamed = files[2]
    np.testing.assert_allclose(examples.aux["lep1_PT"], renamed["pt1"][entries], rtol=1e-6)
    np.testing.assert_allclose(examples.aux["lep2_Eta"], renamed["eta2"][entries], rtol=1e-6)
    timed = task._integrator_seconds(entries)
    assert timed is not None and timed["integrator_events"] == 2
    assert timed["integrator_seconds_per_event"] > 0


def test_a_missing_integrator_branch_fails_before_training(tmp_path, files):
    # the features resolve (pt1, pt2 exist); the integrator's lep1_PT... do not
    features = {"branches": ["pt1", "pt2"]}
    with pytest.raises(DataError) as caught:
        prepared_task(config(tmp_path, files, features=features))
    assert str(caught.value) == (
        "the integrator's speed measurement (data.simulation.speed_events > 0, set 0 to "
        f"skip it) reads {', '.join(MUON_BRANCHES)}: {files[0]}: tree 'events': no branch "
        "'lep1_PT'"
    )
    task = prepared_task(
        config(tmp_path, files, features=features), {"data.simulation.speed_events": 0}
    )
    assert task.source.feature_names == ["pt1", "pt2"]


def test_a_bad_alias_names_its_key_and_the_file(tmp_path, files):
    aliases = {**RENAMED, "lep2_Phi": "phi_2"}
    with pytest.raises(DataError) as caught:
        prepared_task(config(tmp_path, files, aliases=aliases))
    # the features (lep2_Phi in the default's azimuthal difference) are resolved first
    assert str(caught.value) == (
        f"data.aliases.lep2_Phi: branch 'phi_2' not in {files[0]}: tree 'events'; "
        "nearest: phi2, phi1"
    )


def test_the_speed_measurement_skips_events_lacking_an_aliased_muon(tmp_path):
    import awkward as ak

    from smartml.ntuples.feature_selection import FeatureSelection
    from smartml.ntuples.root_reader import NtupleReader
    from smartml.tasks.mem_regression.task import _first_rows

    counts = np.array([1, 2, 1, 2, 2])
    px = ak.unflatten(np.arange(1.0, counts.sum() + 1), counts)
    path = write_tree(tmp_path / "m.root", {"Muon_Px": px})
    aliases = {"a": "Muon_Px[0]", "b": "Muon_Px[1]"}
    reader = NtupleReader([path], "events", FeatureSelection(branches=["a", "b"]), True, aliases)
    rows = _first_rows(reader, np.array([0, 1, 2, 3, 4]), 2)
    # entries 1 and 3 are the first with two muons: (2, 3) and (5, 6)
    np.testing.assert_array_equal(np.array(rows), [[2.0, 3.0], [5.0, 6.0]])


def test_the_integrator_takes_the_generators_recoil_and_resolutions(tmp_path):
    from smartml.config import load_config
    from smartml.registry import TASKS
    from smartml.runs.directory import RunDirectory

    content = json.loads((Path(__file__).parents[1] / "configs" / "mem_dy.json").read_text())
    generation = {"recoil": {"scale_gev": 4.0, "power": 3.0}, "muon_eta_resolution": 0.002}
    content["data"]["simulation"]["generation"] = generation
    content["output"]["dir"] = str(tmp_path / "run")
    path = tmp_path / "mem.json"
    path.write_text(json.dumps(content))
    config = load_config(path)
    task = TASKS.get("mem_regression")(config, RunDirectory(config.run_dir()))
    settings = task._mem_settings()
    assert (settings.recoil.scale_gev, settings.recoil.power) == (4.0, 3.0)
    assert settings.resolutions.eta == 0.002
    content["data"]["simulation"]["generation"] = {"recoil": None}
    path.write_text(json.dumps(content))
    config = load_config(path)
    assert (
        TASKS.get("mem_regression")(config, RunDirectory(config.run_dir()))._mem_settings().recoil
        is None
    )
