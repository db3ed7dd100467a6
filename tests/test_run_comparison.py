"""Comparing finished runs through summary metrics: the table, the plot, the command,
and runs that cannot be compared."""

import json

import numpy as np
import pytest
from summary_files import CLASSIFIER_SUMMARY, PIXEL_SUMMARY

from smartml.cli import run_cli
from smartml.evaluation.run_comparison import (
    compare_runs,
    comparison_table,
    plot_against_cost,
    plot_comparison,
    run_labels,
)
from smartml.metrics.summary import SummaryMetric

TWO_TARGETS = [m for m in PIXEL_SUMMARY if m.key.split(".")[0] in ("x-midplane", "y-midplane")]


def metrics(width: float, sparsity: float | None = None) -> dict:
    result = {
        t: {"robust_width": width, "rms": width * 1.2, "pull_std": 1.0 + width / 10}
        for t in ("x-midplane", "y-midplane", "cotAlpha", "cotBeta")
    }
    result["test_examples"] = 10
    if sparsity is not None:
        layer = {"sparsity": sparsity, "weights": 10, "macs": 10, "nonzero_macs": 5, "bops": 1.0}
        result["hardware"] = {"layers": {"d0": layer}, "sparsity": sparsity, "bops": 123.0}
    return result


def classifier_metrics(auc: float, misid: float) -> dict:
    point = {"threshold": 0.3, "signal_efficiency": 0.9, "background_efficiency": misid}
    return {"roc": {"auc": auc}, "operating_points": {"efficiency_90": point}}


def fake_run(root, name: str, content: dict):
    run = root / name
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps(content))
    (run / "COMPLETE.json").write_text("{}")
    return run


def compare(run_dirs, output, summary=PIXEL_SUMMARY) -> int:
    """compare_runs as the command line calls it: errors become one line and status 2."""
    return run_cli(lambda: compare_runs(run_dirs, output, summary), "smartml.evaluate")


def test_table_has_a_row_per_run_with_units_and_sparsity_when_known():
    table = comparison_table({"dense": metrics(2.0), "mdmm": metrics(3.0, 0.5)}, TWO_TARGETS)
    rows = table.splitlines()
    assert rows[0] == (
        "| run | x width [µm] ↓ | x RMS [µm] ↓ | x pull std →1 | y width [µm] ↓ | y RMS [µm] ↓ "
        "| y pull std →1 | sparsity | BOPs |"
    )
    assert rows[2].startswith("| dense | 2 | 2.4 | 1.2 | 2 |") and rows[2].endswith("| – | – |")
    assert rows[3].endswith("| 0.500 (0.500) | 123 |")


def test_table_without_hardware_has_no_hardware_columns():
    table = comparison_table({"a": classifier_metrics(0.9, 0.1)}, CLASSIFIER_SUMMARY)
    assert table.splitlines() == [
        "| run | AUC ↑ | mis-ID at 90% ↓ |",
        "| --- | --- | --- |",
        "| a | 0.9 | 0.1 |",
    ]


def test_plot_shows_each_metric_relative_to_the_first_run():
    runs = {"a": metrics(2.0), "b": metrics(3.0, 0.4), "c": metrics(1.0)}
    figure = plot_comparison(runs, TWO_TARGETS)
    metric_axes, sparsity_axes = figure.axes
    heights = {c.get_label(): [bar.get_height() for bar in c] for c in metric_axes.containers}
    np.testing.assert_allclose(heights["a"], [1.0] * 6)
    # The pull std compares by its distance from 1: 0.3 / 0.2 for b.
    np.testing.assert_allclose(heights["b"], [1.5] * 6)
    np.testing.assert_allclose(heights["c"], [0.5] * 6)
    assert metric_axes.get_xticklabels()[0].get_text() == "x width ↓"
    assert metric_axes.get_ylabel().startswith("relative to a")
    (sparsity_bars,) = sparsity_axes.containers
    assert sparsity_bars.get_label() == "b"
    assert [bar.get_height() for bar in sparsity_bars] == [0.4]


def test_cost_plot_draws_each_lower_is_better_metric_against_bops_and_luts():
    quantized = metrics(6.0, 0.1)
    quantized["hardware"]["luts"] = 30000.0
    older = metrics(5.0, 0.2)  # no luts recorded
    runs = {"q": quantized, "older": older, "float": metrics(4.0)}
    figure = plot_against_cost(runs, TWO_TARGETS)
    # width and RMS of x and y (pull std is not "lower is better"), by BOPs and LUTs
    assert len(figure.axes) == 8
    by_bops, by_luts = figure.axes[0], figure.axes[1]
    assert by_bops.get_ylabel() == "x width [µm]" and by_bops.get_xlabel() == "BOPs"
    points = {
        line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
        for line in by_bops.get_lines()
    }
    assert points["q"] == ([123.0], [6.0]) and points["older"] == ([123.0], [5.0])
    assert points["float (float)"][1] == [4.0, 4.0]  # a horizontal line
    luts = {line.get_label(): list(line.get_xdata()) for line in by_luts.get_lines()}
    assert luts["q"] == [30000.0] and "older" not in luts
    assert by_bops.get_xscale() == "linear"  # 123 BOPs alone: no decade to span
    wide = plot_against_cost(
        {**runs, "big": metrics(3.0, 0.1) | {"hardware": {"bops": 5e4}}}, TWO_TARGETS
    )
    assert wide.axes[0].get_xscale() == "log"
    # on a log axis only 1, 2 and 5 of each decade are labelled, never the other minors
    wide.canvas.draw()
    labelled = [tick.get_text() for tick in wide.axes[0].get_xticklabels(minor=True)]
    assert not any(labelled)
    # two references: two line styles, so the legend tells them apart
    two = plot_against_cost({**runs, "float 2": metrics(3.5)}, TWO_TARGETS)
    styles = {
        line.get_label(): line.get_linestyle()
        for line in two.axes[0].get_lines()
        if line.get_label().endswith("(float)")
    }
    assert len(styles) == 2 and len(set(styles.values())) == 2
    rms = {line.get_label(): list(line.get_ydata()) for line in figure.axes[2].get_lines()}
    assert rms["q"] == [pytest.approx(7.2)]


def test_plot_of_classifiers_has_one_panel_and_leaves_missing_values_out():
    runs = {"a": classifier_metrics(0.8, 0.2), "b": {"roc": {"auc": 0.96}}}
    figure = plot_comparison(runs, CLASSIFIER_SUMMARY)
    (axes,) = figure.axes
    heights = {c.get_label(): [bar.get_height() for bar in c] for c in axes.containers}
    np.testing.assert_allclose(heights["b"], [1.2, np.nan])


def test_summary_metric_reads_dotted_paths_and_refuses_non_numbers():
    metric = SummaryMetric("roc.auc", "AUC", better="higher")
    assert metric.value({"roc": {"auc": 1}}) == 1.0
    assert metric.value({"roc": 0.5}) is None
    assert metric.value({"roc": {"auc": None}}) is None
    with pytest.raises(ValueError, match=r"metrics.json key 'roc.auc' holds dict"):
        metric.value({"roc": {"auc": {"value": 1}}})
    with pytest.raises(ValueError, match="better must be one of 'lower', 'higher', 'zero', 'one'"):
        SummaryMetric("a", "a", better="smaller")
    with pytest.raises(ValueError, match="must be a dotted path"):
        SummaryMetric("a..b", "a")


def test_runs_of_the_same_name_get_unique_labels(tmp_path):
    assert run_labels([tmp_path / "s1" / "run", tmp_path / "s2" / "run", tmp_path / "other"]) == [
        "s1/run",
        "s2/run",
        "other",
    ]


def test_command_compares_runs(tmp_path, capsys):
    a = fake_run(tmp_path, "a", metrics(2.0))
    b = fake_run(tmp_path, "b", metrics(3.0, 0.5))
    assert compare([a, b], tmp_path / "cmp") == 0
    assert "| b | 3 | 3.6 | 1.3 |" in capsys.readouterr().out
    assert (tmp_path / "cmp" / "comparison.md").read_text().startswith("| run | x width [µm]")
    assert (tmp_path / "cmp" / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "cmp" / "comparison_cost.png").is_file()  # b has a hardware block


def test_command_keeps_runs_of_the_same_name_apart(tmp_path, capsys):
    a = fake_run(tmp_path / "seed1", "run", metrics(2.0))
    b = fake_run(tmp_path / "seed2", "run", metrics(3.0))
    assert compare([a, b], tmp_path / "cmp") == 0
    out = capsys.readouterr().out
    assert "| seed1/run | 2 |" in out and "| seed2/run | 3 |" in out
    assert compare([a, a], tmp_path / "cmp") == 2
    assert "a run directory is given twice" in capsys.readouterr().err


def test_command_compares_classifiers(tmp_path, capsys):
    a = fake_run(tmp_path, "a", classifier_metrics(0.9, 0.1))
    b = fake_run(tmp_path, "b", classifier_metrics(0.95, 0.05))
    assert compare([a, b], tmp_path / "cmp", CLASSIFIER_SUMMARY) == 0
    assert "| b | 0.95 | 0.05 |" in capsys.readouterr().out


def test_command_refuses_runs_of_other_tasks_and_incomplete_runs(tmp_path, capsys):
    a = fake_run(tmp_path, "a", metrics(2.0))
    other = fake_run(tmp_path, "other", {"rms": {"value": 1}})
    assert compare([a, other], tmp_path / "cmp") == 2
    err = capsys.readouterr().err
    assert "other: metrics.json lacks x-midplane.robust_width, x-midplane.rms" in err
    assert "; compare runs of one task" in err
    (tmp_path / "half").mkdir()
    assert compare([a, tmp_path / "half"], tmp_path / "cmp") == 2
    assert "COMPLETE.json missing" in capsys.readouterr().err


def test_command_names_a_corrupt_metrics_file(tmp_path, capsys):
    a = fake_run(tmp_path, "a", metrics(2.0))
    b = fake_run(tmp_path, "b", metrics(2.0))
    (b / "metrics.json").write_text("{broken")
    assert compare([a, b], tmp_path / "cmp") == 2
    assert f"{b / 'metrics.json'}: cannot read the run file" in capsys.readouterr().err


def test_evaluate_refuses_runs_of_different_tasks_in_one_line(tmp_path, capsys):
    """``smartml.evaluate A B`` reads each run's task from its config.json."""
    import conformance_tasks

    from smartml.evaluate import main as evaluate_main

    pixels = fake_run(tmp_path, "pixels", metrics(2.0))
    signal = fake_run(tmp_path, "signal", classifier_metrics(0.9, 0.1))
    for run, task, model in (
        (pixels, "smart_pixels", "pixel_mdn"),
        (signal, "toy_signal", "mlp"),
    ):
        config = {"name": run.name, "task": {"name": task}, "data": {}, "model": {"name": model}}
        (run / "config.json").write_text(json.dumps(config))
    conformance_tasks.register()
    try:
        assert evaluate_main([str(pixels), str(signal), "--output", str(tmp_path / "cmp")]) == 2
    finally:
        conformance_tasks.unregister()
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "smartml.evaluate: error: runs of different tasks cannot be compared: "
        f"{pixels} (smart_pixels), {signal} (toy_signal)"
    ]
    assert not (tmp_path / "cmp").exists()
