"""python -m smartml.train / smartml.evaluate on a small simulated dataset, end to end."""

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from run_interruption import history_epochs

from smartml.evaluate import main as evaluate_main
from smartml.models.saved import load_model
from smartml.train import main as train_main

pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[1]


def small_config(tmp_path: Path, **training) -> Path:
    config = json.loads((REPO / "configs" / "pixel_2t.json").read_text())
    config["name"] = "tiny"
    config["data"]["path"] = str(tmp_path / "simulated")
    config["data"]["simulation"].update(n_clusters=6000, clusters_per_file=2000, rows_per_group=500)
    config["training"].update({"epochs": 2, "batch_size": 256, "verbose": 0, **training})
    config["output"]["dir"] = str(tmp_path / "run")
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    tmp_path = tmp_path_factory.mktemp("e2e")
    assert train_main([str(small_config(tmp_path)), "--epochs", "3", "--seed", "7"]) == 0
    return tmp_path / "run"


def test_run_directory_is_complete(trained):
    for name in (
        "config.json",
        "normalization.json",
        "baseline.json",
        "model.h5",
        "history.csv",
        "metrics.json",
        "COMPLETE.json",
    ):
        assert (trained / name).is_file(), name
    assert (trained / "tensorboard").is_dir()
    assert {p.name for p in (trained / "plots").glob("*.png")} >= {
        "residual_x-midplane.png",
        "pull_cotBeta.png",
        "loss.png",
    }
    assert history_epochs(trained) == [0, 1, 2]


def test_resolved_config_holds_the_command_line_values(trained):
    config = json.loads((trained / "config.json").read_text())
    assert config["training"]["epochs"] == 3 and config["training"]["seed"] == 7


def test_metrics_have_resolutions_pulls_and_the_baseline(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    for target in ("x-midplane", "y-midplane", "cotAlpha", "cotBeta"):
        assert metrics[target]["rms"] > 0 and np.isfinite(metrics[target]["pull_std"])
    assert metrics["x-midplane"]["unit"] == "µm"
    assert metrics["centroid_baseline"]["x-midplane"]["robust_width"] > 0
    assert metrics["test_examples"] > 0 and metrics["training"]["parameters"] == 2029


def test_saved_model_reproduces_the_metrics_through_evaluate(trained, capsys):
    before = json.loads((trained / "metrics.json").read_text())
    assert evaluate_main([str(trained)]) == 0
    after = json.loads((trained / "metrics.json").read_text())
    assert after["x-midplane"]["rms"] == pytest.approx(before["x-midplane"]["rms"], rel=1e-6)
    assert after["training"] == before["training"]
    assert load_model(trained / "model.h5").count_params() == 2029


def test_same_seed_same_result(tmp_path, trained):
    config = small_config(tmp_path)
    os.symlink(trained.parent / "simulated", tmp_path / "simulated")
    assert train_main([str(config), "--epochs", "3", "--seed", "7"]) == 0
    again = json.loads((tmp_path / "run" / "metrics.json").read_text())
    first = json.loads((trained / "metrics.json").read_text())
    assert again["x-midplane"]["rms"] == pytest.approx(first["x-midplane"]["rms"], rel=1e-5)


def test_unwritable_output_is_one_line_and_leaves_nothing_complete(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = train_main([str(small_config(tmp_path)), "--output", str(blocker / "run")])
    message = capsys.readouterr().err.strip()
    assert code == 2
    assert message.startswith(
        f"smartml.train: error: {blocker / 'run'}: output directory is not writable"
    )
    assert "\n" not in message


def test_evaluate_refuses_an_incomplete_run(tmp_path, capsys):
    (tmp_path / "half").mkdir()
    assert evaluate_main([str(tmp_path / "half")]) == 2
    assert "run is incomplete (COMPLETE.json missing)" in capsys.readouterr().err


def mdmm_config(tmp_path: Path, trained: Path, constraints: list) -> Path:
    os.symlink(trained.parent / "simulated", tmp_path / "simulated")
    path = small_config(tmp_path)
    config = json.loads(path.read_text())
    config["training"]["mdmm"] = {
        "lambda_learning_rate": 0.1,
        "damping": 10.0,
        "constraints": constraints,
    }
    path.write_text(json.dumps(config))
    return path


def test_mdmm_run_logs_constraints_and_saves_a_plain_model(tmp_path, trained):
    constraint = {"type": "sparsity", "name": "dense_0", "layers": "dense_0", "target": 0.5}
    assert train_main([str(mdmm_config(tmp_path, trained, [constraint]))]) == 0
    run = tmp_path / "run"
    with (run / "history.csv").open() as handle:
        columns = csv.DictReader(handle).fieldnames
    for column in ("mdmm_dense_0_value", "mdmm_dense_0_lambda", "sparsity_dense_0", "bops"):
        assert column in columns
    hardware = json.loads((run / "metrics.json").read_text())["hardware"]
    assert set(hardware["layers"]) == {
        "separable_conv",
        "pointwise_conv",
        "dense_0",
        "dense_1",
        "gaussian_params",
    }
    assert 0 <= hardware["layers"]["dense_0"]["sparsity"] <= 1 and hardware["bops"] > 0
    model = load_model(run / "model.h5")
    assert type(model).__name__ == "Functional" and model.count_params() == 2029


def test_mdmm_constraint_on_a_missing_layer_is_one_line(tmp_path, trained, capsys):
    constraint = {"type": "sparsity", "layers": "dense_9", "target": 0.5}
    assert train_main([str(mdmm_config(tmp_path, trained, [constraint]))]) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("smartml.train: error: ") and "dense_9" in message
    assert "\n" not in message
    assert not (tmp_path / "run" / "COMPLETE.json").exists()


def test_evaluate_names_a_corrupt_baseline_file(tmp_path, trained, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    (copy / "baseline.json").write_text("{oops")
    assert evaluate_main([str(copy)]) == 2
    message = capsys.readouterr().err.strip()
    assert f"{copy / 'baseline.json'}: cannot read the centroid baseline: not valid JSON" in message
    assert "\n" not in message
