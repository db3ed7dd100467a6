"""The notebooks under notebooks/ run end to end on small runs, and are committed stripped."""

import json
from pathlib import Path

import nbformat
import pytest

from smartml.analysis.notebook_files import execute, is_stripped

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


@pytest.mark.parametrize("name", ["weights_analysis.ipynb", "compare_runs.ipynb"])
def test_committed_notebooks_are_stripped(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert is_stripped(notebook), (
        f"notebooks/{name} has outputs: run "
        f"python -m smartml.analysis.notebook_files strip notebooks/{name}"
    )
    assert any("parameters" in c.metadata.get("tags", []) for c in notebook.cells)


def tiny_run(tmp_path: Path, name: str, thickness_um: float = 100.0, mdmm=None) -> Path:
    from test_train_end_to_end import small_config

    from smartml.train import main as train_main

    folder = tmp_path / name
    folder.mkdir()
    path = small_config(folder)
    config = json.loads(path.read_text())
    config["name"] = name
    config["data"]["path"] = str(tmp_path / f"simulated-{thickness_um:g}")
    config["data"]["simulation"]["sensor"]["thickness_um"] = thickness_um
    config["training"]["mdmm"] = mdmm
    path.write_text(json.dumps(config))
    assert train_main([str(path), "--epochs", "2"]) == 0
    return folder / "run"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from smartml.export.__main__ import main as export_main

    tmp_path = tmp_path_factory.mktemp("notebooks")
    sparsity = {
        "lambda_learning_rate": 0.1,
        "damping": 10.0,
        "constraints": [{"type": "sparsity", "layers": "all", "target": 0.3}],
    }
    made = {
        "plain": tiny_run(tmp_path, "plain"),
        "mdmm": tiny_run(tmp_path, "mdmm", mdmm=sparsity),
        "thick": tiny_run(tmp_path, "thick", thickness_um=150.0),
        "firmware": tmp_path / "firmware",
    }
    exported = [str(made["mdmm"]), "--hls", "--output", str(made["firmware"])]
    assert export_main([*exported, "--verify-clusters", "200"]) == 0
    return made


def outputs(notebook) -> list:
    return [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]


def text_of(notebook) -> str:
    parts = []
    for output in outputs(notebook):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
        parts.append(output.get("data", {}).get("text/html", ""))
    return "\n".join(parts)


def images(notebook) -> int:
    return sum("image/png" in output.get("data", {}) for output in outputs(notebook))


@pytest.mark.slow
def test_weights_analysis_runs_on_an_exported_mdmm_run(runs, tmp_path):
    executed = execute(
        NOTEBOOKS / "weights_analysis.ipynb",
        {"RUN_DIR": str(runs["mdmm"]), "FIRMWARE_ROOT": str(runs["firmware"])},
        tmp_path / "executed.ipynb",
    )
    assert not [o for o in outputs(executed) if o.output_type == "error"]
    # histograms, levels, zeros vs targets, constraint histories, sparsity, BOPs
    assert images(executed) == 6
    text = text_of(executed)
    assert "bit_identical_fraction': 1.0" in text and "keras_width" in text
    assert (tmp_path / "executed.ipynb").is_file()


@pytest.mark.slow
def test_weights_analysis_says_when_a_run_was_not_exported(runs, tmp_path):
    executed = execute(
        NOTEBOOKS / "weights_analysis.ipynb",
        {"RUN_DIR": str(runs["plain"]), "FIRMWARE_ROOT": str(tmp_path)},
    )
    assert "not exported: run python -m smartml.export" in text_of(executed)


@pytest.mark.slow
def test_compare_runs_shows_differences_metrics_and_angle_dependence(runs):
    executed = execute(
        NOTEBOOKS / "compare_runs.ipynb",
        {
            "RUN_DIRS": [str(runs[name]) for name in ("plain", "mdmm", "thick")],
            "MAX_CLUSTERS": 400,
        },
    )
    assert not [o for o in outputs(executed) if o.output_type == "error"]
    text = text_of(executed)
    assert "data.simulation.sensor.thickness_um" in text and "training.mdmm" in text
    assert "x-midplane width" in text
    # width bars, resolution vs cotBeta and cotAlpha, sparsity bars
    assert images(executed) == 4
