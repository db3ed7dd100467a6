"""The notebooks under notebooks/ run end to end on small runs, and are committed stripped.

The module fixture trains three tiny runs (a plain one, one with an MDMM sparsity
constraint, one on a thicker sensor) and writes a firmware report.json in the
documented shape for the MDMM run. Each notebook is executed by papermill, with
parameters injected after its ``parameters`` cell, as users run it::

    papermill notebooks/weights_analysis.ipynb out.ipynb -p RUN_DIR runs/x
"""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from notebook_runs import NOTEBOOKS, execute, html_tables, images, run_notebook, text_of
from report_files import EXPORT_SETTINGS

import smartml

NAMES = ["weights_analysis.ipynb", "compare_runs.ipynb"]


def nbstripout(*arguments: str | Path) -> subprocess.CompletedProcess:
    """Run the nbstripout command; with ``--verify`` its exit status is 1 when
    stripping would change the file."""
    return subprocess.run(
        [sys.executable, "-m", "nbstripout", *map(str, arguments)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebooks_are_stripped_and_have_a_parameters_cell(name):
    verified = nbstripout("--verify", NOTEBOOKS / name)
    assert verified.returncode == 0, (
        f"notebooks/{name} holds outputs; strip it before committing: "
        f"nbstripout notebooks/{name} ({verified.stdout.strip()})"
    )
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_parameter_cells_name_the_documented_defaults():
    def parameters(name):
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
        namespace: dict = {}
        exec(cell.source, namespace)
        return {k: v for k, v in namespace.items() if not k.startswith("__")}

    assert parameters("weights_analysis.ipynb") == {
        "RUN_DIR": "runs/pixel_2t",
        "REPORT_PATH": None,
        "FIRMWARE_ROOT": "firmware",
    }
    assert set(parameters("compare_runs.ipynb")) == {"RUN_DIRS", "MAX_CLUSTERS", "BINS"}


def test_papermill_injects_parameters_and_runs_this_checkouts_smartml(tmp_path, monkeypatch):
    """A small notebook through the same papermill call as the notebooks below: the
    parameters cell is overridden, the kernel works in ``cwd`` and imports this
    smartml; the executed notebook holds outputs, so nbstripout --verify refuses it."""
    notebook = nbformat.v4.new_notebook()
    defaults = nbformat.v4.new_code_cell('RUN_DIR = "runs/default"\nBINS = 8')
    defaults.metadata["tags"] = ["parameters"]
    body = "import os, smartml\nprint(RUN_DIR, BINS * 2, os.getcwd(), smartml.__file__)"
    notebook.cells = [defaults, nbformat.v4.new_code_cell(body)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.metadata["language_info"] = {"name": "python"}
    source = tmp_path / "source.ipynb"
    nbformat.write(notebook, source)
    assert nbstripout(source).returncode == 0  # as before a commit: ids made stable
    assert nbstripout("--verify", source).returncode == 0
    work = tmp_path / "work"
    work.mkdir()

    executed = run_notebook(source, {"RUN_DIR": "runs/b", "BINS": 3}, work, monkeypatch)

    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'RUN_DIR = "runs/b"' in injected[0].source
    printed = executed.cells[-1].outputs[0]["text"].split()
    assert printed == ["runs/b", "6", str(work), smartml.__file__]
    assert nbstripout("--verify", work / "executed_source.ipynb").returncode == 1


def tiny_run(root: Path, name: str, thickness_um: float = 100.0, mdmm=None) -> Path:
    from test_train_end_to_end import small_config

    from smartml.train import main as train_main

    folder = root / name
    folder.mkdir()
    path = small_config(folder)
    config = json.loads(path.read_text())
    config["name"] = name
    config["data"]["path"] = str(root / f"simulated-{thickness_um:g}")
    config["data"]["simulation"].update(n_clusters=4000, clusters_per_file=2000, rows_per_group=250)
    config["data"]["simulation"]["sensor"]["thickness_um"] = thickness_um
    config["training"]["mdmm"] = mdmm
    config["output"]["plots"] = False
    path.write_text(json.dumps(config))
    assert train_main([str(path), "--epochs", "2"]) == 0
    return folder / "run"


def write_report(run: Path, firmware_root: Path) -> dict:
    """A report.json in the shape ``python -m smartml.export --hls`` writes."""
    metrics = json.loads((run / "metrics.json").read_text())
    hardware = metrics["hardware"]
    report = {
        "version": 1,
        "run": "mdmm",
        "run_dir": str(run),
        **EXPORT_SETTINGS,
        "input_precision": "fixed<16,8,RND_CONV,SAT>",
        "layers": [
            {
                "name": name,
                "class": "Dense",
                "precision": {"weight": "fixed<8,1,RND_CONV,SAT>", "result": "fixed<18,4>"},
                "parameters": entry["weights"],
                "multiplications": entry["macs"],
                "zero_weights": round(entry["sparsity"] * entry["weights"]),
                "bops": entry["bops"],
                "latency_cycles": 2,
                "luts": 123,
                "dsps": 0,
            }
            for name, entry in hardware["layers"].items()
        ],
        "totals": {"parameters": 2029, "bops": hardware["bops"], "luts": 4321, "dsps": 0},
        "resource_estimate": {"tool": "test estimate", "limits": "none"},
        "verification": {
            "examples": 400,
            "outputs": 5600,
            "bit_identical_fraction": 0.99875,
            "max_difference_lsb": 1.0,
            "output_lsb": 6.1e-05,
            "threshold": 0.999,
            "passed": False,
            "metrics_keras": {t: metrics[t] for t in ("x-midplane", "cotBeta")},
            "metrics_firmware": {t: metrics[t] for t in ("x-midplane", "cotBeta")},
        },
        "synthesis": None,
        "timing_seconds": {"convert": 1.0, "compile": 10.0, "csim": 20.0},
    }
    path = firmware_root / "mdmm" / "report.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(report))
    return report


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("notebook_runs")
    sparsity = {
        "lambda_learning_rate": 0.1,
        "damping": 10.0,
        "constraints": [
            {"type": "sparsity", "name": "dense_0", "layers": "dense_0", "target": 0.3}
        ],
    }
    made = {
        "plain": tiny_run(root, "plain"),
        "mdmm": tiny_run(root, "mdmm", mdmm=sparsity),
        "thick": tiny_run(root, "thick", thickness_um=150.0),
        "firmware": root / "firmware",
    }
    made["report"] = write_report(made["mdmm"], made["firmware"])
    return made


@pytest.mark.slow
def test_weights_analysis_of_an_exported_mdmm_run(runs, tmp_path, monkeypatch):
    report = runs["firmware"] / "mdmm" / "report.json"
    executed = execute(
        "weights_analysis.ipynb",
        # REPORT_PATH wins over FIRMWARE_ROOT (where firmware/mdmm/report.json is
        # found is tested in test_analysis_firmware_report.py)
        {"RUN_DIR": str(runs["mdmm"]), "REPORT_PATH": str(report), "FIRMWARE_ROOT": "nowhere"},
        tmp_path,
        monkeypatch,
    )
    # weights, levels, zeros vs targets, constraint history, sparsity history, BOPs history
    assert images(executed) == 6
    # levels, zeros, constraints, layer costs, firmware metrics and layers
    assert html_tables(executed) == 6
    text = text_of(executed)
    assert "mdmm (" in text and "2029 parameters, 5 quantized layers" in text
    assert str(report) in text
    assert "'bit_identical_fraction': 0.99875" in text and "'passed': False" in text
    assert "'estimate_tool': 'test estimate'" in text and "x width [µm]" in text
    assert "not exported" not in text
    assert (tmp_path / "executed_weights_analysis.ipynb").is_file()


@pytest.mark.slow
def test_weights_analysis_of_a_plain_run_says_it_was_not_exported(runs, tmp_path, monkeypatch):
    executed = execute(
        "weights_analysis.ipynb",
        {"RUN_DIR": str(runs["plain"]), "FIRMWARE_ROOT": str(runs["firmware"])},
        tmp_path,
        monkeypatch,
    )
    text = text_of(executed)
    assert f"not exported: no {runs['firmware']}/plain/report.json" in text
    assert "no MDMM constraints in this run" in text
    # weights, levels, zeros, the note on the constraint history, sparsity and BOPs
    assert images(executed) == 6
    assert "BOPs" in text and "no quantized layers" not in text


@pytest.mark.slow
def test_compare_runs_shows_differences_resolution_profiles_and_hardware(
    runs, tmp_path, monkeypatch
):
    executed = execute(
        "compare_runs.ipynb",
        {
            "RUN_DIRS": [str(runs[name]) for name in ("plain", "mdmm", "thick")],
            "MAX_CLUSTERS": 300,
            "BINS": 3,
        },
        tmp_path,
        monkeypatch,
    )
    text = text_of(executed)
    for key in ("data.simulation.sensor.thickness_um", "training.mdmm.constraints", "data.path"):
        assert key in text
    assert "| run | x width [µm] ↓ |" in text  # the smartml.evaluate table
    assert "x pull std" in text and "minimum BOPs" in text
    # summary bars, stored profiles, vs cotBeta, vs cotAlpha, sparsity bars, BOPs bars
    assert images(executed) == 6


@pytest.mark.slow
def test_predictions_of_the_whole_test_split_reproduce_metrics_json(runs):
    from smartml.analysis import comparison
    from smartml.analysis.run_contents import open_run

    run = open_run(runs["mdmm"])
    predictions = comparison.predict_test_split(run, max_clusters=None)
    assert predictions.targets == comparison.gaussian_targets(run)
    assert len(predictions.truth) == run.metrics["test_examples"]
    for k, target in enumerate(predictions.targets):
        residual = predictions.mean[:, k] - predictions.truth[:, k]
        low, high = np.quantile(residual, [0.158655254, 0.841344746])
        assert (high - low) / 2 == pytest.approx(run.metrics[target]["robust_width"], rel=1e-4)
        pulls = residual / predictions.sigma[:, k]
        assert np.std(pulls) == pytest.approx(run.metrics[target]["pull_std"], rel=1e-4)
    assert comparison.predict_test_split(run, max_clusters=None) is predictions  # cached
    assert len(comparison.predict_test_split(run, max_clusters=50).truth) == 50


@pytest.mark.slow
def test_weights_analysis_finds_a_real_export_by_run_name(runs, tmp_path, monkeypatch):
    """End to end with the exporter: the report smartml.export writes is the one the
    notebook reads, found under FIRMWARE_ROOT by the run's name."""
    from smartml.export.__main__ import main as export_main

    firmware = tmp_path / "exported"
    exported = [str(runs["plain"]), "--hls", "--output", str(firmware)]
    assert export_main([*exported, "--verify-examples", "100"]) == 0
    executed = execute(
        "weights_analysis.ipynb",
        {"RUN_DIR": str(runs["plain"]), "FIRMWARE_ROOT": str(firmware)},
        tmp_path,
        monkeypatch,
    )
    text = text_of(executed)
    assert str(firmware / "plain" / "report.json") in text
    assert "'bit_identical_fraction': 1.0" in text and "'passed': True" in text
    assert "not exported" not in text
