"""Reference runs beside a search's Pareto front (``tune.reference_runs``,
``--reference``): checked before any trial (one line naming the key and the path),
measured as a trial is (its kept model on the validation split) and drawn on the
Pareto plot, whose points ``pareto_plot.json`` holds."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from tune_files import space, tune_config

from smartml.errors import ConfigError
from smartml.hardware import cost as hc
from smartml.train import main as train_main
from smartml.tune.__main__ import main as tune_main
from smartml.tune.results import pareto_figure
from smartml.tune.search import prepare_search

OBJECTIVES = [{"metric": "y-midplane.robust_width"}, {"metric": "hardware.luts"}]


def search_config(tmp_path: Path, references: list[str], epochs: int = 1) -> Path:
    tune = {"parameters": space(), "objectives": OBJECTIVES, "reference_runs": references}
    return tune_config(tmp_path, tune, epochs=epochs)


def one_line_error(path: Path, references: tuple[str, ...] = ()) -> str:
    with pytest.raises(ConfigError) as raised:
        prepare_search(str(path), references=references)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_a_missing_reference_run_is_named_with_its_key_in_one_line(tmp_path, capsys):
    path = search_config(tmp_path, ["runs/l1l2"])
    message = one_line_error(path)
    assert message == (
        f"{path}: tune.reference_runs[0]: {tmp_path / 'runs' / 'l1l2'}: no such run directory"
    )
    # --reference is relative to the working directory; the command stops before any trial
    (tmp_path / "runs" / "l1l2").mkdir(parents=True)
    path = search_config(tmp_path, [])
    assert tune_main([str(path), "--reference", str(tmp_path / "runs" / "l1l2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--reference: " in err and "incomplete" in err
    assert not (tmp_path / "run" / "tune").exists()


def test_pareto_figure_draws_the_plot_data_with_labelled_references():
    plot = {
        "x": {"metric": "y-midplane.robust_width", "direction": "minimize"},
        "y": {"metric": "hardware.luts", "direction": "minimize", "scale": "linear"},
        "objectives_not_shown": [],
        "trials": [{"trial": 0, "x": 3.0, "y": 900.0}, {"trial": 1, "x": 2.0, "y": 1500.0}],
        "front": [{"trial": 1, "x": 2.0, "y": 1500.0}, {"trial": 0, "x": 3.0, "y": 900.0}],
        "references": [{"run": "l1l2", "x": 2.5, "y": 1400.0}, {"run": "mdmm", "x": 4, "y": 700}],
    }
    axes = pareto_figure(plot, "tiny").axes[0]
    lines = {line.get_label(): line.get_xydata().tolist() for line in axes.get_lines()}
    assert lines == {
        "Pareto front": [[2.0, 1500.0], [3.0, 900.0]],
        "l1l2": [[2.5, 1400.0]],
        "mdmm": [[4.0, 700.0]],
    }
    assert axes.collections[0].get_offsets().tolist() == [[3.0, 900.0], [2.0, 1500.0]]
    assert {text.get_text() for text in axes.texts} == {"0", "1", "l1l2", "mdmm"}
    assert [text.get_text() for text in axes.get_legend().get_texts()] == [
        "trials", "Pareto front", "l1l2", "mdmm"
    ]  # fmt: skip


@pytest.mark.slow
def test_reference_run_beside_the_pareto_front_of_width_against_luts(tmp_path, capsys):
    # the reference: the search's configuration, untuned, L1/L2-regularised
    path = search_config(tmp_path, ["refs/l1l2"])
    config = json.loads(path.read_text())
    config.update(name="tiny_l1l2", tune=None)
    config["model"]["regularization"] = {"kernel_l1": 0.01, "kernel_l2": 0.01}
    config["output"]["dir"] = str(tmp_path / "refs" / "l1l2")
    (tmp_path / "l1l2.json").write_text(json.dumps(config))
    assert train_main([str(tmp_path / "l1l2.json")]) == 0
    before = sorted(p.name for p in (tmp_path / "refs" / "l1l2").iterdir())

    assert tune_main([str(path), "--trials", "2"]) == 0
    out = capsys.readouterr().out
    tune_dir = tmp_path / "run" / "tune"
    assert (tune_dir / "pareto.png").stat().st_size > 10_000
    plot = json.loads((tune_dir / "pareto_plot.json").read_text())
    assert plot["x"]["metric"] == "y-midplane.robust_width"
    assert plot["y"]["metric"] == "hardware.luts"
    assert len(plot["trials"]) == 2 and plot["front"]
    [reference] = plot["references"]
    assert reference["run"] == "l1l2"
    assert "reference runs:" in out and "l1l2" in out

    # its objectives computed independently: the run's model and task on the validation split
    from smartml.runs.opening import open_verified_run

    run_dir, task, model = open_verified_run(tmp_path / "refs" / "l1l2")
    examples = task.examples("validation")
    width = task.split_metrics(examples, task.predict(model, examples))["y-midplane"]
    assert reference["x"] == pytest.approx(width["robust_width"], rel=1e-6)
    assert reference["y"] == round(hc.luts(model))
    assert np.isfinite(reference["x"]) and reference["y"] > 0
    table = json.loads((tune_dir / "references.json").read_text())
    assert table == [
        {"run": "l1l2", "y-midplane.robust_width": reference["x"], "hardware.luts": reference["y"],
         "run_dir": str(tmp_path / "refs" / "l1l2"),
         "config": str(tmp_path / "refs" / "l1l2" / "config.json")}
    ]  # fmt: skip
    # nothing written into the reference run
    assert sorted(p.name for p in run_dir.path.iterdir()) == before

    # a run on other data is refused before any trial, naming the differing key
    other = tmp_path / "refs" / "other"
    shutil.copytree(run_dir.path, other)
    recorded = json.loads((other / "config.json").read_text())
    recorded["data"]["simulation"]["n_clusters"] = 700
    (other / "config.json").write_text(json.dumps(recorded))
    message = one_line_error(path, (str(other),))
    assert message.startswith(f"--reference: {other}: not trained on the search's task and data")
    assert "data.simulation.n_clusters: 600 -> 700" in message
