"""Comparing finished runs: the table, the plot, and runs that cannot be compared."""

import json

from smartml.evaluate import main as evaluate_main
from smartml.evaluation.run_comparison import comparison_table, plot_comparison


def metrics(width: float, sparsity: float | None = None) -> dict:
    result = {t: {"robust_width": width, "rms": width * 1.2, "pull_std": 1.0} for t in ("x", "y")}
    result["test_clusters"] = 10
    if sparsity is not None:
        layer = {"sparsity": sparsity, "weights": 10, "macs": 10, "nonzero_macs": 5, "bops": 1.0}
        result["hardware"] = {"layers": {"d0": layer}, "sparsity": sparsity, "bops": 123.0}
    return result


def fake_run(root, name: str, content: dict):
    run = root / name
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps(content))
    (run / "COMPLETE.json").write_text("{}")
    return run


def test_table_has_a_row_per_run_with_sparsity_when_known():
    table = comparison_table({"dense": metrics(2.0), "mdmm": metrics(3.0, 0.5)}, ["x", "y"])
    rows = table.splitlines()
    assert rows[2].startswith("| dense | 2 | 2.4 | 1 | 2 |") and rows[2].endswith("| – | – |")
    assert rows[3].endswith("| 0.500 (0.500) | 123 |")


def test_plot_is_written(tmp_path):
    path = plot_comparison({"a": metrics(2.0), "b": metrics(3.0, 0.4)}, ["x"], tmp_path / "c.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_compares_runs(tmp_path, capsys):
    a = fake_run(tmp_path, "a", metrics(2.0))
    b = fake_run(tmp_path, "b", metrics(3.0, 0.5))
    assert evaluate_main([str(a), str(b), "--output", str(tmp_path / "cmp")]) == 0
    assert "| b | 3 | 3.6 | 1 |" in capsys.readouterr().out
    assert (tmp_path / "cmp" / "comparison.md").is_file()
    assert (tmp_path / "cmp" / "comparison.png").is_file()


def test_cli_refuses_runs_of_other_tasks_and_incomplete_runs(tmp_path, capsys):
    a = fake_run(tmp_path, "a", metrics(2.0))
    other = fake_run(tmp_path, "other", {"rms": {"value": 1}})
    assert evaluate_main([str(a), str(other), "--output", str(tmp_path / "cmp")]) == 2
    assert "other: metrics.json lacks targets ['x', 'y']" in capsys.readouterr().err
    (tmp_path / "half").mkdir()
    assert evaluate_main([str(a), str(tmp_path / "half")]) == 2
    assert "COMPLETE.json missing" in capsys.readouterr().err


def test_cli_names_a_corrupt_metrics_file(tmp_path, capsys):
    a = fake_run(tmp_path, "a", metrics(2.0))
    b = fake_run(tmp_path, "b", metrics(2.0))
    (b / "metrics.json").write_text("{broken")
    assert evaluate_main([str(a), str(b), "--output", str(tmp_path / "cmp")]) == 2
    assert f"{b / 'metrics.json'}: cannot read this run file" in capsys.readouterr().err
