"""The ntuple_classifier task on users' ROOT files: weights, splits, the files of a run,
and its bad input (one line naming the key, file, tree or branch)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from smartml.errors import DataError
from smartml.train import main as train_main
from tests.ntuple_files import event_branches, prepared_task, write_tree

FEATURES = {"branches": ["lep1_PT", "lep2_PT", "MET", "Jet_PT[0]"], "missing_object": "fill"}


def samples(tmp_path: Path) -> dict[str, Path]:
    """A signal sample in two files (low MET) and a background in one (high MET)."""
    paths = {}
    for name, n, seed, met_scale in (
        ("sig_a", 300, 1, 1.0),
        ("sig_b", 200, 2, 1.0),
        ("bkg", 700, 3, 10.0),
    ):
        branches = event_branches(n, seed)
        branches["MET"] = (branches["MET"] * met_scale).astype(np.float32)
        paths[name] = write_tree(tmp_path / f"{name}.root", branches, chunk=100)
    return paths


def config_file(tmp_path: Path, **data) -> Path:
    files = samples(tmp_path)
    config = {
        "name": "classifier",
        "task": {"name": "ntuple_classifier"},
        "data": {
            "source": "files",
            "samples": [
                {
                    "name": "signal",
                    "files": [str(tmp_path / "sig_*.root")],
                    "label": "signal",
                    "weight": 2.0,
                },
                {"name": "ttbar", "files": [str(files["bkg"])], "label": "background"},
            ],
            "features": FEATURES,
            "entries_per_chunk": 100,
            **data,
        },
        "model": {"name": "mlp", "hidden_units": [16]},
        "training": {"epochs": 8, "batch_size": 64, "learning_rate": 0.01, "verbose": 0},
        "output": {"dir": str(tmp_path / "run"), "plots": True},
    }
    path = tmp_path / "classifier.json"
    path.write_text(json.dumps(config))
    return path


def test_balanced_class_weights_give_both_classes_the_same_training_weight(tmp_path):
    task = prepared_task(config_file(tmp_path))
    train = task.examples("train")
    weights = train.aux["weight"].to_numpy() * task.class_weights[train.targets]
    signal, background = weights[train.targets == 1].sum(), weights[train.targets == 0].sum()
    assert signal == pytest.approx(background, rel=1e-6)
    # the sample weight 2.0 is kept in the aux column, the balance on top of it
    assert set(train.aux.loc[train.targets == 1, "weight"]) == {2.0}
    assert set(train.aux["sample"]) == {"signal", "ttbar"}
    scaling = json.loads((tmp_path / "run" / "feature_scaling.json").read_text())
    assert scaling["features"]["target_names"] == ["lep1_PT", "lep2_PT", "MET", "Jet_PT[0]"]


def test_preparing_the_task_writes_no_plots(tmp_path):
    """prepare() fits and records the scaling; figures are the evaluation's products."""
    prepared_task(config_file(tmp_path))
    assert not (tmp_path / "run" / "plots").exists()


def test_every_split_holds_both_samples_and_the_split_is_reproducible(tmp_path):
    path = config_file(tmp_path)
    first, second = prepared_task(path), prepared_task(path)
    for split in ("train", "validation", "test"):
        examples = first.examples(split)
        assert set(examples.aux["sample"]) == {"signal", "ttbar"}
        again = second.examples(split)
        np.testing.assert_array_equal(examples.aux["entry"], again.aux["entry"])
    entries = pd.concat([first.examples(s).aux for s in ("train", "validation", "test")])
    assert len(entries) == 1200 and not entries.duplicated(["sample", "entry"]).any()


def test_training_on_files_writes_its_plots_predictions_and_metrics(tmp_path):
    assert train_main([str(config_file(tmp_path))]) == 0
    run = tmp_path / "run"
    inputs = {p.name for p in (run / "plots" / "inputs").iterdir()}
    assert {"feature_MET.png", "feature_Jet_PT_0.png", "correlation_signal.png"} <= inputs
    plots = {p.name for p in (run / "plots").iterdir()}
    assert {
        "overtraining.png",
        "accuracy_per_epoch.png",
        "roc.png",
        "confusion_working_point.png",
    } <= plots
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["overtraining"]) >= {"signal", "background"}
    correlation = metrics["inputs"]["correlation"]
    assert np.array(correlation["signal"]["matrix"]).shape == (4, 4)
    assert correlation["signal"]["events"] + correlation["background"]["events"] > 0
    confusion = np.array(metrics["working_point"]["confusion"])
    predictions = pd.read_parquet(run / "predictions.parquet")
    assert confusion.sum() == len(predictions) == metrics["test_examples"]
    chosen = (predictions["score"] > 0.5).astype(int)
    for label in (0, 1):
        for predicted in (0, 1):
            expected = ((predictions["label"] == label) & (chosen == predicted)).sum()
            assert confusion[label, predicted] == expected
    assert metrics["roc"]["auc"] > 0.8  # MET alone gives 10/11 = 0.91
    # weighted by the samples' weights (signal 2.0, background 1.0), from the predictions
    weighted = metrics["weighted"]
    expected_auc = roc_auc_score(
        predictions["label"], predictions["score"], sample_weight=predictions["weight"]
    )
    assert weighted["auc"] == pytest.approx(expected_auc, rel=1e-12)
    np.testing.assert_allclose(weighted["confusion"], confusion * np.array([[1.0], [2.0]]))


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            {"samples": [{"name": "s", "files": ["x.root"], "label": "signal"}]},
            "source 'files' needs samples of both classes (signal and background); got signal",
        ),
        (
            {"class_weighting": "equal"},
            "data.class_weighting: Input should be 'none' or 'balanced' (got 'equal')",
        ),
        (
            {"entries_per_chunks": 5},
            "data.entries_per_chunks: unknown key 'entries_per_chunks'; did you mean 'entries_per_chunk'?",
        ),
    ],
)
def test_bad_configurations_name_the_key(tmp_path, capsys, change, expected):
    path = config_file(tmp_path)
    config = json.loads(path.read_text())
    config["data"].update(change)
    path.write_text(json.dumps(config))
    assert train_main([str(path)]) == 2
    assert expected in capsys.readouterr().err


def test_a_pattern_that_matches_nothing_is_named(tmp_path):
    path = config_file(tmp_path)
    with pytest.raises(DataError) as caught:
        prepared_task(
            path,
            {
                "data.samples": [
                    {
                        "name": "signal",
                        "files": [str(tmp_path / "nothing*.root")],
                        "label": "signal",
                    },
                    {"name": "ttbar", "files": [str(tmp_path / "bkg.root")], "label": "background"},
                ]
            },
        )
    assert (
        str(caught.value)
        == f"data.samples[signal].files: '{tmp_path / 'nothing*.root'}' matches no file"
    )


def test_a_missing_branch_names_file_tree_and_nearest(tmp_path):
    path = config_file(tmp_path)
    with pytest.raises(DataError) as caught:
        prepared_task(path, {"data.features": {"branches": ["lep1_Pt"]}})
    message = str(caught.value)
    assert "sig_a.root: tree 'events'" in message and "'lep1_Pt'" in message
    assert "nearest: lep1_PT" in message


def test_a_features_file_with_a_typo_is_named(tmp_path):
    features = tmp_path / "features.yaml"
    features.write_text("branches: [lep1_PT]\nmissing_objects: fill\n")
    path = config_file(tmp_path)
    with pytest.raises(Exception) as caught:
        prepared_task(path, {"data.features": str(features)})
    assert "features.yaml" in str(caught.value) and "missing_objects" in str(caught.value)


def test_an_index_no_sample_reaches_is_an_error_but_one_sample_may_lack_it(tmp_path):
    path = config_file(tmp_path)
    task = prepared_task(
        path, {"data.features": {"branches": ["Jet_PT[2]"], "missing_object": "fill"}}
    )
    assert task.source.feature_names == ["Jet_PT[2]"]
    with pytest.raises(DataError) as caught:
        prepared_task(
            path, {"data.features": {"branches": ["Jet_PT[3]"], "missing_object": "fill"}}
        )
    assert "no event has more than 3 objects in branch 'Jet_PT'" in str(caught.value)
