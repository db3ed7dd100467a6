"""The conformance suite: every registered task goes through the whole product.

For each task in :data:`CASES`: train two epochs on tiny data in a separate process,
kill it (SIGKILL) in the middle of the second epoch and run the same command again,
which resumes and completes; evaluate the run again; train a second run and compare
the two through the task's summary metrics; export an exportable model and check the
C simulation is bit-identical to QKeras; run both notebooks on the runs. The run's
identity holds for every task: training again into the complete run is refused, and
evaluate and export refuse a run whose model.h5 is another run's.

Adding a task = adding its case here. The three ``toy_*`` tasks
(``tests/conformance_tasks.py``) have the shapes of the coming tasks: masked
multi-input point classification, tabular point regression, tabular binary
classification.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import conformance_tasks
import pytest
from notebook_runs import execute, images, text_of
from run_interruption import history_epochs, killed_and_resumed

from smartml.evaluate import main as evaluate_main
from smartml.train import main as train_main

pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[1]
TESTS = Path(__file__).parent


@dataclass(frozen=True)
class Case:
    """One task with a tiny configuration of a model that serves it."""

    task: str
    data: dict
    model: dict
    batch_size: int
    exportable: bool = True
    quantized: bool = True  # a QKeras network: the weights notebook analyses it


PIXEL_DATA = {
    "time_slices": [0, 19],
    "simulation": {"n_clusters": 4000, "clusters_per_file": 2000, "rows_per_group": 250},
}

RICH_DATA = {
    "max_points": 32,
    "events_per_chunk": 500,
    "centre_on_ring": True,
    "simulation": {"n_events": 8000, "events_per_file": 4000},
}

NTUPLE_DATA = {
    "simulation": {"n_signal": 3000, "n_background": 3000},
    "entries_per_chunk": 500,
}
MEM_DATA = {
    "simulation": {
        "n_events": 1500,
        "workers": 1,
        "speed_events": 3,
        "mem": {"neval": 500, "nitn_adapt": 2, "nitn": 2},
    },
    "entries_per_chunk": 250,
}

CASES = [
    Case(
        "smart_pixels",
        PIXEL_DATA,
        {"name": "pixel_mdn", "filters": 2, "hidden_units": [8]},
        batch_size=16,
    ),
    Case(
        "toy_rings",
        {"n_examples": 6000},
        {"name": "deepsets", "point_units": [8, 8], "head_units": [8]},
        batch_size=16,
    ),
    Case(
        "ntuple_classifier",
        NTUPLE_DATA,
        {"name": "mlp", "hidden_units": [8], "quantization": {}},
        32,
    ),
    Case(
        "mem_regression",
        MEM_DATA,
        {"name": "mlp", "hidden_units": [8, 8], "residual": True, "quantization": {}},
        32,
    ),
    Case(
        "rich_pid",
        RICH_DATA,
        {"name": "pointnet", "point_units": [8, 8], "head_units": [8]},
        batch_size=16,
    ),
    Case(
        "rich_pid",
        RICH_DATA,
        {"name": "dgcnn", "k": 4, "edge_blocks": [[8]], "head_units": [8]},
        batch_size=16,
        exportable=False,
        quantized=False,
    ),
]


def write_config(directory: Path, case: Case, name: str, seed: int) -> Path:
    data = json.loads(json.dumps(case.data))
    if case.task == "smart_pixels":
        data["path"] = str(directory.parent / "simulated")
    config = {
        "name": name,
        "task": {"name": case.task},
        "data": data,
        "model": case.model,
        "training": {
            "epochs": 2,
            "batch_size": case.batch_size,
            "verbose": 0,
            "seed": seed,
            "backup_every_batches": 5,
        },
        "output": {"dir": str(directory / name)},
    }
    path = directory / f"{name}.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module", autouse=True)
def toy_tasks():
    """The toy tasks registered here and, through SMARTML_PLUGINS, in every training
    process and notebook kernel started by the suite."""
    paths = [str(REPO), str(TESTS), os.environ.get("PYTHONPATH", "")]
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("SMARTML_PLUGINS", "conformance_plugin")
        environment.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
        conformance_tasks.register()
        yield
        conformance_tasks.unregister()


@pytest.fixture(
    scope="module", params=CASES, ids=[f"{case.task}-{case.model['name']}" for case in CASES]
)
def runs(request, tmp_path_factory, toy_tasks):
    """(case, first run, second run): the first killed and resumed, the second plain."""
    case: Case = request.param
    directory = tmp_path_factory.mktemp(case.task) / "runs"
    directory.mkdir()
    first = directory / "first"
    command = [
        sys.executable,
        "-m",
        "smartml.train",
        str(write_config(directory, case, "first", 1)),
    ]
    resumed = killed_and_resumed(command, first, REPO)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming run" in resumed.stderr
    assert train_main([str(write_config(directory, case, "second", 2))]) == 0
    return case, first, directory / "second"


def test_killed_run_resumed_and_completed(runs):
    _, first, _ = runs
    assert history_epochs(first) == [0, 1]
    assert (first / "COMPLETE.json").is_file()
    training = json.loads((first / "metrics.json").read_text())["training"]
    assert training["resumed"] and training["first_epoch_of_this_process"] == 1


def test_declared_run_files_and_summary_metrics_are_written(runs):
    from smartml.runs.opening import open_task

    _, first, _ = runs
    _, task = open_task(first, prepare=False)
    for name in task.run_files:
        assert (first / name).is_file(), name
    metrics = json.loads((first / "metrics.json").read_text())
    for summary in task.summary_metrics():
        value = summary.value(metrics)
        assert value is not None and math.isfinite(value), summary.key
    # the primary validation metric, at the epoch whose weights were kept
    validation = task.validation_metric()
    assert metrics["validation"]["metric"] == validation.key
    kept = metrics["validation"]["epoch"]
    with (first / "history.csv").open() as handle:
        row = next(r for r in csv.DictReader(handle) if int(r["epoch"]) == kept)
    assert metrics["validation"]["value"] == float(row[validation.key])
    assert any((first / "plots").glob("*.png"))


def test_training_into_the_complete_run_again_is_refused(runs, capsys):
    _, first, _ = runs
    kept = {name: (first / name).read_bytes() for name in ("COMPLETE.json", "model.h5")}
    assert train_main([str(first.parent / "first.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"smartml.train: error: {first}: run is complete; pass --overwrite to replace it, "
        "or --output for a new run"
    )
    assert kept == {name: (first / name).read_bytes() for name in kept}


def test_evaluate_and_export_refuse_a_model_of_another_run(runs, tmp_path, capsys):
    """The second run has the first's architecture: the sha256 recorded at completion
    tells its model.h5 apart."""
    import shutil

    from smartml.export.__main__ import main as export_main

    case, first, second = runs
    mixed = tmp_path / "mixed"
    shutil.copytree(first, mixed)
    shutil.copyfile(second / "model.h5", mixed / "model.h5")
    assert evaluate_main([str(mixed)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"smartml.evaluate: error: {mixed / 'model.h5'}: changed since the run completed (its "
        "sha256 differs from the one in COMPLETE.json); restore the run's own model or train "
        "it again with --overwrite"
    )
    assert export_main([str(mixed), "--hls", "--output", str(tmp_path / "firmware")]) == 2
    err = capsys.readouterr().err.strip()
    reason = "changed since the run completed" if case.exportable else "cannot be exported"
    assert len(err.splitlines()) == 1 and reason in err
    assert not (tmp_path / "firmware").exists()


def test_evaluate_again_keeps_every_block(runs, capsys):
    _, first, _ = runs
    before = json.loads((first / "metrics.json").read_text())
    assert evaluate_main([str(first)]) == 0
    after = json.loads((first / "metrics.json").read_text())
    assert set(after) == set(before)
    assert after["training"] == before["training"]


def test_two_runs_compare_through_the_summary_metrics(runs, tmp_path, capsys):
    from smartml.runs.opening import open_task

    _, first, second = runs
    assert evaluate_main([str(first), str(second), "--output", str(tmp_path)]) == 0
    table = (tmp_path / "comparison.md").read_text()
    _, task = open_task(first, prepare=False)
    for summary in task.summary_metrics():
        assert summary.label in table
    assert "first" in table and "second" in table
    assert (tmp_path / "comparison.png").is_file()


@pytest.mark.parametrize("strategy", ["Latency", "distributed_arithmetic"])
def test_export_is_bit_identical_in_c_simulation(runs, tmp_path, capsys, strategy):
    """An exportable model's firmware computes exactly what QKeras does, with hls4ml's
    Latency strategy and with kernels built by distributed arithmetic (da4ml); a model
    that cannot be exported is refused with one line."""
    from smartml.export.__main__ import main as export_main

    case, first, _ = runs
    arguments = [str(first), "--hls", "--output", str(tmp_path), "--verify-examples", "200"]
    arguments += ["--strategy", strategy]
    # The Verilog of the DA design is simulated too; the pixel MDN's (a 98k-LUT design
    # on 16-bit inputs, minutes to compile) at a smaller size in test_export_rtl.py,
    # and the deepsets by both simulators there (its RTL would only repeat them here).
    rtl = strategy == "distributed_arithmetic" and case.task not in ("smart_pixels", "toy_rings")
    arguments += ["--rtl"] if rtl else []
    if not case.exportable:
        assert export_main(arguments) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
        return
    assert export_main(arguments) == 0
    report = json.loads((tmp_path / "first" / "report.json").read_text())
    assert report["verification"]["bit_identical_fraction"] == 1.0
    assert report["verification"]["passed"]
    source = json.loads((tmp_path / "first" / "source.json").read_text())
    assert source["run_dir"] == str(first.resolve())
    if strategy == "distributed_arithmetic":
        assert_distributed_arithmetic_costs_per_layer(report)
    if rtl:
        assert report["rtl"]["bit_identical_fraction"] == 1.0 and report["rtl"]["passed"]
        assert report["rtl"]["examples"] == report["verification"]["examples"]


def assert_distributed_arithmetic_costs_per_layer(report: dict) -> None:
    """report.json of a DA export: da4ml's cost on every dense and convolution kernel,
    totals that add up, and smartml's own LUT predictor (MDMM's luts, tune's
    hardware.luts) within 0.6-1.6x of da4ml's solution."""
    assert report["strategy"] == "distributed_arithmetic"
    rows = {row["name"]: row for row in report["layers"]}
    solved = {name for name, row in rows.items() if row["distributed_arithmetic"]}
    kernels = {name for name, row in rows.items() if row["class"] in ("QDense", "QConv2D")}
    assert kernels and kernels <= solved  # the separable's pointwise half too, where present
    total = report["distributed_arithmetic"]
    assert total["luts"] == sum(rows[name]["distributed_arithmetic"]["luts"] for name in solved)
    assert 0 < total["luts"] < report["totals"]["luts"]  # below the analytic estimate
    depths = [rows[name]["distributed_arithmetic"]["adder_depth"] for name in solved]
    assert total["adder_depth"] >= max(depths)
    assert "da4ml" in total["source"] and report["resource_estimate"]["validated"] is False
    for name in kernels:
        ratio = rows[name]["predicted_da_luts"] / rows[name]["distributed_arithmetic"]["luts"]
        assert 0.6 < ratio < 1.6, (name, ratio)


def test_both_notebooks_run_on_the_runs(runs, tmp_path, monkeypatch):
    """weights_analysis on one run, compare_runs on both: no cell fails, and the
    comparison shows every summary metric of the task. A float network (no quantized
    weights to analyse) stops the weights notebook at its first cell, naming the
    layer that has no quantized weights."""
    from papermill.exceptions import PapermillExecutionError

    from smartml.runs.opening import open_task

    case, first, second = runs
    parameters = {"RUN_DIR": str(first), "FIRMWARE_ROOT": str(tmp_path / "nowhere")}
    if case.quantized:
        analysed = execute("weights_analysis.ipynb", parameters, tmp_path, monkeypatch)
        assert "not exported" in text_of(analysed)
    else:
        with pytest.raises(PapermillExecutionError, match="UnsupportedLayerError"):
            execute("weights_analysis.ipynb", parameters, tmp_path, monkeypatch)
    compared = execute(
        "compare_runs.ipynb",
        {"RUN_DIRS": [str(first), str(second)], "MAX_CLUSTERS": 200, "BINS": 3},
        tmp_path,
        monkeypatch,
    )
    text = text_of(compared)
    _, task = open_task(first, prepare=False)
    for summary in task.summary_metrics():
        assert summary.header in text
    assert images(compared) >= (2 if case.quantized else 1)  # summary bars, sparsity
