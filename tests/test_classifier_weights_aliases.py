"""The ntuple_classifier on two samples of differently named branches (a flat Z→μμ-like
file and a jagged H→ZZ-like file with a signed ``EventWeight``): aliases, per-event
weights and their normalisation, the negative-weight policies, the weights handed to
Keras and the weighted metrics, and bad weight input."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import uproot
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score

from smartml.errors import DataError
from smartml.tasks.ntuple_classifier.schema import SampleWeight
from smartml.tasks.ntuple_classifier.weights import weighted_auc
from smartml.train import main as train_main
from tests.analysis_samples import HZZ_XS_PB, LUMINOSITY_PER_PB, ZMUMU_XS_PB, classifier_config
from tests.ntuple_files import prepared_task, write_tree

N = 400


@pytest.fixture(scope="module")
def samples_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("analysis")
    classifier_config(directory, N)  # writes zmumu.root and hzz.root
    return directory


def config(tmp_path: Path, samples_dir: Path, **data) -> Path:
    """The run config on the module's files (written once), run directory in tmp_path."""
    content = classifier_config(tmp_path, N, **data)
    for sample in content["data"]["samples"]:
        sample["files"] = [str(samples_dir / Path(sample["files"][0]).name)]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(content))
    return path


def event_weight(samples_dir: Path) -> np.ndarray:
    with uproot.open(samples_dir / "hzz.root") as file:
        return file["events"]["EventWeight"].array(library="np").astype(np.float64)


def test_training_records_the_normalisation_and_weighs_the_metrics(tmp_path, samples_dir):
    assert train_main([str(config(tmp_path, samples_dir, epochs=2))]) == 0
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    raw = event_weight(samples_dir)
    hzz = metrics["weights"]["hzz"]
    assert hzz["sum_of_weights"] == pytest.approx(raw.sum(), rel=1e-12)
    assert hzz["normalization"] == pytest.approx(HZZ_XS_PB * LUMINOSITY_PER_PB / raw.sum())
    assert hzz["negative_entries"] == int((raw < 0).sum()) > 0
    assert hzz["sum_after_policy"] == pytest.approx(HZZ_XS_PB * LUMINOSITY_PER_PB)
    zmumu = metrics["weights"]["zmumu"]
    assert zmumu["sum_of_weights"] == N
    assert zmumu["normalization"] == pytest.approx(ZMUMU_XS_PB * LUMINOSITY_PER_PB / N)
    scaling = json.loads((run / "feature_scaling.json").read_text())
    assert scaling["samples"] == metrics["weights"]
    # the predictions carry each event's own normalised weight, signed
    predictions = pd.read_parquet(run / "predictions.parquet")
    background = predictions[predictions["sample"] == "hzz"]
    np.testing.assert_allclose(
        background["weight"], raw[background["entry"]] * hzz["normalization"], rtol=1e-6
    )
    assert (background["weight"] < 0).any()
    # the weighted metrics, recomputed from the predictions by brute force
    labels, scores = predictions["label"].to_numpy(), predictions["score"].to_numpy()
    weights = predictions["weight"].to_numpy()
    signal, other = labels == 1, labels == 0
    above = (scores[signal][:, None] > scores[other][None, :]) + 0.5 * (
        scores[signal][:, None] == scores[other][None, :]
    )
    pairs = weights[signal][:, None] * weights[other][None, :]
    expected = (above * pairs).sum() / pairs.sum()
    assert metrics["weighted"]["auc"] == pytest.approx(expected, rel=1e-9)
    chosen = (scores > 0.5).astype(int)
    for label in (0, 1):
        for predicted in (0, 1):
            total = weights[(labels == label) & (chosen == predicted)].sum()
            assert metrics["weighted"]["confusion"][label][predicted] == pytest.approx(total)
    assert metrics["roc"]["auc"] > 0.7


def test_keras_gets_the_final_weights_balanced_per_class(tmp_path, samples_dir):
    task = prepared_task(config(tmp_path, samples_dir))
    train, _ = task.datasets()
    labels, weights = [], []
    for _, label, weight in train.as_numpy_iterator():
        labels.append(label[:, 0])
        weights.append(weight)
    label, weight = np.concatenate(labels), np.concatenate(weights)
    # balanced: both classes carry the same total training weight, signed weights summed
    assert weight[label == 1].sum() == pytest.approx(weight[label == 0].sum(), rel=1e-5)
    assert (weight[label == 0] < 0).any()
    # the weights are the events' own: per class, a constant factor times the raw ones
    examples = task.examples("train")
    raw = event_weight(samples_dir)
    hzz = examples.aux["sample"].to_numpy() == "hzz"
    factor = task.class_weights[0] * task.weight_summaries["hzz"].normalization
    expected = np.sort(raw[examples.aux["entry"].to_numpy()[hzz]] * factor)
    np.testing.assert_allclose(np.sort(weight[label == 0]), expected, rtol=1e-5)


@pytest.mark.parametrize("policy", ["drop", "absolute"])
def test_negative_weight_policies(tmp_path, samples_dir, policy):
    task = prepared_task(config(tmp_path, samples_dir, negative_weights=policy))
    raw = event_weight(samples_dir)
    rows = [task.examples(split) for split in ("train", "validation", "test")]
    table = pd.concat([r.aux for r in rows])
    hzz = table[table["sample"] == "hzz"]
    factor = task.weight_summaries["hzz"].normalization
    assert (hzz["weight"] > 0).all()
    if policy == "drop":
        assert len(hzz) == int((raw >= 0).sum())
        np.testing.assert_allclose(hzz["weight"], raw[hzz["entry"]] * factor, rtol=1e-6)
    else:
        assert len(hzz) == N
        np.testing.assert_allclose(hzz["weight"], np.abs(raw[hzz["entry"]]) * factor, rtol=1e-6)
    summary = task.weight_summaries["hzz"]
    assert summary.policy == policy
    kept = raw[raw >= 0].sum() if policy == "drop" else np.abs(raw).sum()
    assert summary.sum_after_policy == pytest.approx(kept * factor)


def test_negative_weights_can_be_refused(tmp_path, samples_dir):
    raw = event_weight(samples_dir)
    first = int(np.flatnonzero(raw < 0)[0])
    with pytest.raises(DataError) as caught:
        prepared_task(config(tmp_path, samples_dir, negative_weights="error"))
    factor = HZZ_XS_PB * LUMINOSITY_PER_PB / raw.sum()
    assert str(caught.value) == (
        f"{samples_dir / 'hzz.root'}: tree 'events', branch 'EventWeight': entry {first} has a "
        f"negative weight ({raw[first] * factor:g}; {int((raw < 0).sum())} such entries); "
        "data.negative_weights 'keep', 'absolute' or 'drop' chooses what to do"
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_weight_names_file_branch_and_entry(tmp_path, bad):
    weights = np.ones(30)
    weights[17] = bad
    branches = {"pt1": np.linspace(20, 50, 30), "EventWeight": weights}
    path = write_tree(tmp_path / "w.root", branches)
    content = minimal_config(tmp_path, path, {"branch": "EventWeight"})
    with pytest.raises(DataError) as caught:
        prepared_task(content)
    assert str(caught.value) == (
        f"{path}: tree 'events', branch 'EventWeight': the weight of entry 17 is {bad} "
        "(1 such entries); weights must be finite"
    )


def test_a_missing_weight_branch_names_the_key_and_the_nearest(tmp_path):
    path = write_tree(
        tmp_path / "w.root", {"pt1": np.linspace(20, 50, 30), "EventWeight": np.ones(30)}
    )
    with pytest.raises(DataError) as caught:
        prepared_task(minimal_config(tmp_path, path, {"branch": "EventWeigth"}))
    assert str(caught.value) == (
        f"{path}: tree 'events': data.samples[b].weight.branch: no branch 'EventWeigth'; "
        "nearest: EventWeight"
    )


def test_a_weight_sum_that_is_not_positive_cannot_be_normalised(tmp_path):
    branches = {"pt1": np.linspace(20, 50, 30), "EventWeight": -np.ones(30)}
    path = write_tree(tmp_path / "w.root", branches)
    weight = {
        "branch": "EventWeight",
        "cross_section_pb": 1.0,
        "luminosity_per_pb": 1.0,
        "normalize": "sum_of_weights",
    }
    with pytest.raises(DataError) as caught:
        prepared_task(minimal_config(tmp_path, path, weight))
    assert str(caught.value) == (
        f"data.samples[b].weight: the weights of {path}: tree 'events' sum to -30; "
        "normalize 'sum_of_weights' needs a positive sum"
    )


def minimal_config(tmp_path: Path, background: Path, weight: dict) -> Path:
    """A signal file with ``lep1_PT`` and a background ``background`` whose ``pt1`` is
    aliased to it, weighted by ``weight``."""
    signal = write_tree(tmp_path / "s.root", {"lep1_PT": np.linspace(30, 60, 30)})
    content = {
        "name": "c",
        "task": {"name": "ntuple_classifier"},
        "data": {
            "source": "files",
            "samples": [
                {"name": "s", "files": [str(signal)], "label": "signal"},
                {
                    "name": "b",
                    "files": [str(background)],
                    "label": "background",
                    "aliases": {"lep1_PT": "pt1"},
                    "weight": weight,
                },
            ],
            "features": {"branches": ["lep1_PT"]},
            "entries_per_chunk": 10,
        },
        "model": {"name": "mlp", "hidden_units": [4]},
        "output": {"dir": str(tmp_path / "run"), "plots": False},
    }
    path = tmp_path / "c.json"
    path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize(
    "weight, expected",
    [
        ({"cross_section_pb": 1.0}, "give all three or none"),
        ({"normalize": "sum_of_weights"}, "give all three or none"),
        ({"branch": ""}, "String should have at least 1 character"),
        ({"scale": -1.0}, "Input should be greater than 0"),
        ({"scale": float("nan")}, "Input should be a finite number"),
        ({"branch": "w", "weight": 2}, "Extra inputs are not permitted"),
    ],
)
def test_malformed_weights_are_refused(weight, expected):
    with pytest.raises(ValidationError, match=expected):
        SampleWeight.model_validate(weight)


def test_the_weighted_auc_is_sklearns_for_positive_weights_and_a_pair_sum_for_signed():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(labels, 1.0), 1)  # ties, as a saturated network gives
    positive = rng.uniform(0.1, 2.0, 300)
    assert weighted_auc(labels, scores, positive) == pytest.approx(
        roc_auc_score(labels, scores, sample_weight=positive), rel=1e-12
    )
    signed = positive * np.where(rng.uniform(size=300) < 0.2, -1, 1)
    s, b = labels == 1, labels == 0
    pair = (scores[s][:, None] > scores[b]) + 0.5 * (scores[s][:, None] == scores[b])
    weights = signed[s][:, None] * signed[b]
    assert weighted_auc(labels, scores, signed) == pytest.approx(
        (pair * weights).sum() / weights.sum()
    )
    assert np.isnan(weighted_auc(labels, scores, np.where(labels == 0, -1.0, 1.0)))


def test_a_sample_alias_to_a_missing_branch_names_sample_alias_and_file(tmp_path):
    path = write_tree(tmp_path / "w.root", {"pt1": np.linspace(20, 50, 30)})
    content = json.loads(minimal_config(tmp_path, path, 1.0).read_text())
    content["data"]["samples"][1]["aliases"] = {"lep1_PT": "pt_1"}
    (tmp_path / "c.json").write_text(json.dumps(content))
    with pytest.raises(DataError) as caught:
        prepared_task(tmp_path / "c.json")
    assert str(caught.value) == (
        f"data.samples[b].aliases.lep1_PT: branch 'pt_1' not in {path}: tree 'events'; nearest: pt1"
    )


@pytest.mark.parametrize(
    "aliases, expected",
    [
        ({"lep1_PT": 3}, "data.samples[1].aliases.lep1_PT: Input should be a valid string"),
        ({"lep1_PT": {"pt_from": ["a"]}}, "List should have at least 2 items"),
        ({"lep1_PT": {"pt_from": ["a", "b"], "eta_from": ["a", "b", "c"]}}, "exactly one"),
    ],
)
def test_a_malformed_alias_in_a_config_is_one_line(tmp_path, capsys, aliases, expected):
    path = write_tree(tmp_path / "w.root", {"pt1": np.linspace(20, 50, 30)})
    content = json.loads(minimal_config(tmp_path, path, 1.0).read_text())
    content["data"]["samples"][1]["aliases"] = aliases
    (tmp_path / "c.json").write_text(json.dumps(content))
    assert train_main([str(tmp_path / "c.json")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and expected in error[0]
