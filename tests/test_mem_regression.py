"""The mem_regression task on users' files: events and an aligned weight tree (as
MoMEMta writes them), weights that are not positive, misaligned trees, the evaluation
of the weight and of the speed-up."""

import json
from pathlib import Path

import numpy as np
import pytest
from mem_events import mem_run_config

from smartml.collider.event_generator import generate_drell_yan, write_ntuple
from smartml.collider.generation_config import GenerationConfig
from smartml.errors import DataError
from smartml.train import main as train_main
from tests.ntuple_files import prepared_task, write_tree

N = 600
BAD = [5, 77, 300]  # entries whose weight is 0, negative, NaN


def true_weight(events: dict) -> np.ndarray:
    """A smooth stand-in for the MEM weight (the test needs a learnable target)."""
    pt = events["lep1_PT"].astype(np.float64)
    return 1e-4 * np.exp(-pt / 40.0) * (1.0 + 0.5 * np.tanh(events["lep1_Eta"]))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path, np.ndarray]:
    directory = tmp_path_factory.mktemp("mem")
    events = generate_drell_yan(N, 7, GenerationConfig())
    events_file = write_ntuple(directory / "dy.root", events)
    weights = true_weight(events)
    weights[BAD] = [0.0, -1e-5, np.nan]
    weights_file = write_tree(
        directory / "weights.root",
        {"weight_DY": weights, "weight_DY_err": 0.01 * np.abs(weights)},
        tree="momemta",
        chunk=200,
    )
    return events_file, weights_file, weights


def config_file(tmp_path: Path, files, **data) -> Path:
    events_file, weights_file, _ = files
    return mem_run_config(
        tmp_path,
        events_file,
        weights_file,
        entries_per_chunk=100,
        speed_events=3,
        model={"name": "mlp", "hidden_units": [16, 16]},
        training={"epochs": 3, "batch_size": 32, "verbose": 0},
        plots=True,
        **data,
    )


def test_weights_that_are_not_positive_are_dropped_and_counted(tmp_path, files):
    task = prepared_task(config_file(tmp_path, files))
    assert task.n_bad_weights == len(BAD)
    examples = [task.examples(split) for split in ("train", "validation", "test")]
    entries = np.concatenate([e.aux["entry"].to_numpy() for e in examples])
    assert len(entries) == N - len(BAD) and not set(BAD) & set(entries.tolist())
    weights = files[2]
    for e in examples:  # the target is −log10 of the entry's own weight
        np.testing.assert_allclose(e.targets[:, 0], -np.log10(weights[e.aux["entry"]]))
    scaling = json.loads((tmp_path / "run" / "mem_scaling.json").read_text())
    assert scaling["dropped_weights"] == len(BAD)
    assert scaling["features"]["target_names"] == [
        *("lep1_PT", "lep1_Eta", "lep2_PT", "lep2_Eta"),
        *("abs_dphi_ll", "pt_balance", "mll"),
    ]


def test_weights_that_are_not_positive_can_be_refused(tmp_path, files):
    with pytest.raises(DataError) as caught:
        prepared_task(config_file(tmp_path, files, non_positive_weights="error"))
    assert str(caught.value) == (
        f"{files[1]}: tree 'momemta', branch 'weight_DY': entry 5: weight 0.0 (not > 0); "
        "3 such entries; data.non_positive_weights 'drop' drops them"
    )


def test_a_weight_tree_of_another_length_names_both_files(tmp_path, files):
    short = write_tree(tmp_path / "short.root", {"weight_DY": np.ones(N - 1)}, tree="momemta")
    with pytest.raises(DataError) as caught:
        prepared_task(config_file(tmp_path, files), {"data.weights.files": [str(short)]})
    assert str(caught.value) == (
        f"{short}: tree 'momemta' has {N - 1} entries but {files[0]}: tree 'events' has {N}; "
        "the trees must be aligned entry by entry"
    )


def test_a_missing_weight_branch_names_the_nearest(tmp_path, files):
    with pytest.raises(DataError) as caught:
        prepared_task(config_file(tmp_path, files), {"data.weights.branch": "weight_dy"})
    assert str(caught.value) == (
        f"{files[1]}: tree 'momemta': no branch 'weight_dy'; nearest: weight_DY, weight_DY_err"
    )


@pytest.mark.parametrize("loss", ["mse", "gaussian_nll"])
def test_training_reports_the_weight_and_the_speed_up(tmp_path, files, loss):
    assert train_main([str(config_file(tmp_path, files, loss=loss))]) == 0
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    weight = metrics["weight"]
    assert weight["events"] == metrics["test_examples"] and metrics["dropped_weights"] == 3
    assert 0 <= weight["abs_relative_error_q68"] <= weight["abs_relative_error_q95"]
    speed = metrics["speed"]
    assert speed["integrator_events"] == 3 and speed["integrator_seconds_per_event"] > 0
    assert speed["speed_up"] == pytest.approx(
        speed["integrator_seconds_per_event"] / speed["dnn_seconds_per_event"]
    )
    plots = {p.name for p in (run / "plots").iterdir()}
    assert {"weight_ratio.png", "weight_log10.png", "weight_relative_error_vs_lep1_PT.png"} <= plots
