"""smartml.analysis.comparison and run_contents: several runs side by side, from run
directories written here (configs, metrics, a small saved model)."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pixel_files import pixel_model

from smartml.analysis import comparison
from smartml.analysis.run_contents import open_run, open_runs
from smartml.backend import keras
from smartml.errors import RunDirectoryError
from smartml.evaluation.run_comparison import comparison_table
from smartml.hardware import cost as hardware_cost
from smartml.metrics.gaussian import residual_profile

TARGETS = ["x-midplane", "cotBeta"]


SMALL_MODEL = {"filters": 2, "hidden_units": [4]}


def small_model(seed: int) -> keras.Model:
    """A small pixel MDN with random weights, of the architecture :func:`config` names
    (the analysis verifies a run's model against its configuration)."""
    model = pixel_model(**SMALL_MODEL)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.1, w.shape) for w in model.get_weights()])
    return model


def target_metrics(scale: float, with_profile: bool = True) -> dict:
    metrics = {}
    rng = np.random.default_rng(int(scale * 10))
    for k, target in enumerate(TARGETS):
        entry = {
            "robust_width": scale * (k + 1),
            "rms": 1.2 * scale * (k + 1),
            "bias": 0.01 * scale,
            "pull_mean": -0.02 * scale,
            "pull_std": 1.0 + 0.01 * scale,
        }
        if with_profile:
            truth = rng.uniform(-1, 1, 2000)
            entry["profile_vs_truth"] = residual_profile(truth, rng.normal(0, scale, 2000), bins=5)
        metrics[target] = entry
    metrics["all"] = {"d2_mean": 4.0}
    metrics["test_examples"] = 2000
    return metrics


def write_run(root: Path, name: str, config: dict, metrics: dict, model=None) -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"name": name, **config}))
    (run / "metrics.json").write_text(json.dumps(metrics))
    if model is not None:
        model.save(run / "model.h5")
    (run / "COMPLETE.json").write_text("{}")
    return run


def config(thickness: float, time_slices: list[int], mdmm=None, output_dir="x") -> dict:
    return {
        "task": {"name": "smart_pixels"},
        "model": {"name": "pixel_mdn", **SMALL_MODEL},
        "data": {
            "time_slices": time_slices,
            "simulation": {"seed": 1, "sensor": {"thickness_um": thickness, "pitch_x_um": 50.0}},
        },
        "training": {"epochs": 2, "mdmm": mdmm},
        "output": {"dir": output_dir},
    }


MDMM = {"damping": 10.0, "constraints": [{"type": "sparsity", "layers": "all", "target": 0.5}]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run "mdmm" recorded its hardware block, run "thick" (trained before it was
    recorded) has only its model."""
    root = tmp_path_factory.mktemp("runs")
    mdmm_model, thick_model = small_model(1), small_model(2)
    mdmm_hardware = hardware_cost.hardware_report(mdmm_model)
    write_run(
        root,
        "mdmm",
        config(100.0, [0, 19], MDMM, "runs/a"),
        {**target_metrics(1.0), "hardware": mdmm_hardware},
        mdmm_model,
    )
    write_run(
        root, "thick", config(150.0, [0, 19], None, "runs/b"), target_metrics(2.0), thick_model
    )
    return {
        "paths": [root / "mdmm", root / "thick"],
        "hardware": {"mdmm": mdmm_hardware, "thick": hardware_cost.hardware_report(thick_model)},
    }


def test_metrics_table_has_the_summary_metrics_and_hardware(runs):
    opened = open_runs(runs["paths"])
    table = comparison.metrics_table(opened)
    assert table.index.tolist() == ["mdmm", "thick"]
    headers = [metric.header for metric in opened[0].summary]
    assert table.columns.tolist() == [*headers, "sparsity", "BOPs"]
    shown = {"x-midplane": ("x", " [µm]"), "cotBeta": ("cotβ", "")}
    for name, scale in (("mdmm", 1.0), ("thick", 2.0)):
        for k, target in enumerate(TARGETS):
            label, unit = shown[target]
            assert table.loc[name, f"{label} width{unit}"] == scale * (k + 1)
            assert table.loc[name, f"{label} RMS{unit}"] == pytest.approx(1.2 * scale * (k + 1))
            assert table.loc[name, f"{label} pull std"] == pytest.approx(1.0 + 0.01 * scale)
        # targets the runs did not record (y, cotAlpha) are missing, not invented
        assert pd.isna(table.loc[name, "y width [µm]"])
        hardware = runs["hardware"][name]
        assert table.loc[name, "sparsity"] == pytest.approx(hardware["sparsity"])
        assert table.loc[name, "BOPs"] == pytest.approx(hardware["bops"])


def test_hardware_of_a_run_without_the_block_is_computed_from_its_model(runs):
    thick = open_run(runs["paths"][1])
    assert "hardware" not in thick.metrics
    expected = runs["hardware"]["thick"]
    assert thick.hardware["bops"] == pytest.approx(expected["bops"])
    for name, entry in expected["layers"].items():
        assert thick.hardware["layers"][name] == pytest.approx(entry)


def test_summary_is_the_table_of_smartml_evaluate_with_hardware_for_every_run(runs):
    opened = open_runs(runs["paths"])
    expected = comparison_table(
        {
            "mdmm": json.loads((runs["paths"][0] / "metrics.json").read_text()),
            "thick": {
                **json.loads((runs["paths"][1] / "metrics.json").read_text()),
                "hardware": runs["hardware"]["thick"],
            },
        },
        opened[0].summary,
    )
    assert comparison.summary_markdown(opened) == expected
    assert expected.splitlines()[-1].endswith(f"| {runs['hardware']['thick']['bops']:.4g} |")


def test_hardware_and_layer_sparsity_tables(runs):
    opened = open_runs(runs["paths"])
    hardware = comparison.hardware_table(opened)
    for name, report in runs["hardware"].items():
        assert hardware.loc[name, "BOPs"] == pytest.approx(report["bops"])
        assert hardware.loc[name, "minimum BOPs"] == pytest.approx(report["minimum_bops"])
        assert hardware.loc[name, "MACs"] == report["macs"] > 0
    ratio = runs["hardware"]["thick"]["bops"] / runs["hardware"]["mdmm"]["bops"]
    assert hardware["BOPs / first"].tolist() == pytest.approx([1.0, ratio])
    sparsity = comparison.layer_sparsity_table(opened)
    layers = list(runs["hardware"]["mdmm"]["layers"])
    assert sparsity.columns.tolist() == layers
    for name, report in runs["hardware"].items():
        assert sparsity.loc[name].tolist() == pytest.approx(
            [report["layers"][layer]["sparsity"] for layer in layers]
        )


def test_config_differences_list_exactly_the_keys_that_differ(runs):
    table = comparison.config_differences(open_runs(runs["paths"]))
    assert table.columns.tolist() == ["mdmm", "thick"]
    assert table.index.tolist() == [
        "data.simulation.sensor.thickness_um",
        "training.mdmm.constraints",
        "training.mdmm.damping",
    ]
    assert table.loc["data.simulation.sensor.thickness_um"].tolist() == [100.0, 150.0]
    assert table.loc["training.mdmm.damping"].tolist() == [10.0, None]


def test_flatten_gives_dotted_keys():
    flat = comparison.flatten(config(100.0, [0, 1, 2]))
    assert flat["data.time_slices"] == "[0, 1, 2]"
    assert flat["data.simulation.sensor.thickness_um"] == 100.0
    assert flat["training.mdmm"] is None and "output.dir" in flat


def test_stored_profiles_are_the_profiles_of_metrics_json(runs, tmp_path):
    opened = open_runs(runs["paths"])
    profiles = comparison.stored_profiles(opened, "cotBeta")
    assert list(profiles) == ["mdmm", "thick"]
    for run in opened:
        stored = run.metrics["cotBeta"]["profile_vs_truth"]
        frame = profiles[run.name]
        assert frame["centre"].tolist() == stored["centres"]
        assert frame["count"].tolist() == stored["counts"]
        assert frame["robust_width"].tolist() == stored["robust_width"]
    no_profile = write_run(tmp_path, "old", config(100.0, [0]), target_metrics(1.0, False))
    assert comparison.stored_profiles([open_run(no_profile)], "cotBeta") == {}


def test_binned_resolution_matches_a_computation_by_hand():
    rng = np.random.default_rng(5)
    truth = np.column_stack([rng.normal(0, 10, 3000), rng.uniform(-0.3, 0.3, 3000)])
    scale = np.where(truth[:, 1] > 0.1, 3.0, 1.0)  # x is worse at large cotBeta
    mean = truth + rng.normal(size=truth.shape) * np.column_stack([scale, 0.01 * scale])
    sigma = np.column_stack([np.full(3000, 2.0), np.full(3000, 0.01)])
    table = comparison.binned_resolution(truth, mean, sigma, TARGETS, "cotBeta", 3)

    edges = np.quantile(truth[:, 1], [0, 1 / 3, 2 / 3, 1])
    central = math.erf(1 / math.sqrt(2)) / 2
    assert table["low"].tolist() == pytest.approx(edges[:-1].tolist())
    assert table["high"].tolist() == pytest.approx(edges[1:].tolist())
    assert table["n"].tolist() == [1000, 1000, 1000]
    for b in range(3):
        inside = (truth[:, 1] >= edges[b]) & (
            truth[:, 1] < edges[b + 1] if b < 2 else truth[:, 1] <= edges[b + 1]
        )
        residual = mean[inside, 0] - truth[inside, 0]
        low, high = np.quantile(residual, [0.5 - central, 0.5 + central])
        assert table.loc[b, "x-midplane width"] == pytest.approx((high - low) / 2, rel=1e-6)
        assert table.loc[b, "x-midplane pull std"] == pytest.approx(np.std(residual / 2.0))
    assert table.loc[2, "x-midplane width"] > 2 * table.loc[0, "x-midplane width"]


def test_runs_with_the_same_name_are_told_apart(runs, tmp_path):
    first = write_run(tmp_path / "one", "same", config(100.0, [0]), target_metrics(1.0))
    second = write_run(tmp_path / "two", "same", config(100.0, [0]), target_metrics(1.0))
    names = [run.name for run in open_runs([first, second, runs["paths"][0]])]
    assert names == [f"same ({first})", f"same ({second})", "mdmm"]


def test_missing_incomplete_and_corrupt_runs_are_one_line_errors(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(RunDirectoryError, match=f"^{missing}: no such run directory$"):
        open_runs([missing])
    run = write_run(tmp_path, "half", config(100.0, [0]), target_metrics(1.0))
    (run / "COMPLETE.json").unlink()
    with pytest.raises(RunDirectoryError) as caught:
        open_run(run)
    assert str(caught.value) == (
        f"{run}: run is incomplete (COMPLETE.json missing); "
        "finish it by running the same training command again"
    )
    (run / "COMPLETE.json").write_text("{}")
    (run / "metrics.json").write_text('{"x": ')
    with pytest.raises(
        RunDirectoryError, match=r"metrics\.json: cannot read the run file: not valid JSON"
    ):
        open_run(run)


def test_a_run_without_model_file_names_it_when_the_model_is_needed(tmp_path):
    run = open_run(write_run(tmp_path, "nomodel", config(100.0, [0]), target_metrics(1.0)))
    assert isinstance(comparison.config_differences([run, run]), pd.DataFrame)
    with pytest.raises(RunDirectoryError, match=r"model\.h5: no saved model there"):
        run.hardware  # noqa: B018


def test_a_model_that_the_configuration_does_not_build_is_refused(tmp_path):
    """Notebooks check a run's model as evaluate and export do."""
    other = pixel_model(filters=3, hidden_units=[4])
    run = write_run(tmp_path, "swapped", config(100.0, [0, 19]), target_metrics(1.0), other)
    with pytest.raises(RunDirectoryError, match=r"model\.h5: does not match the run.s config"):
        _ = open_run(run).model
