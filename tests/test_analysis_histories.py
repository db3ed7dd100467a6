"""smartml.analysis.histories and run_contents: per-epoch histories read from a run's
history.csv, written here row by row."""

import csv
import json
import math
from pathlib import Path

import pytest

from smartml.analysis import histories
from smartml.analysis.run_contents import open_run
from smartml.errors import RunDirectoryError

COLUMNS = [
    "epoch",
    "bops",
    "loss",
    "mdmm_dense_0_lambda",
    "mdmm_dense_0_value",
    "mdmm_budget_value",  # a constraint whose multiplier was not logged
    "mdmm_lagrangian",
    "sparsity_dense_0",
    "sparsity_dense_1",
    "val_loss",
]
ROWS = [
    [0, 565823.6, 4.19, -2.01, 0.483, 600000.0, 5.0, 0.481, 0.418, 3.45],
    [1, 513135.6, 3.08, -1.36, 0.538, 520000.0, 1.7, 0.533, 0.590, 2.64],
    [2, 500001.0, 2.90, -1.10, 0.501, 500100.0, 1.2, 0.500, 0.500, 2.50],
]


def write_run(root: Path, rows=ROWS, columns=COLUMNS) -> Path:
    run = root / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"name": "hist", "training": {"mdmm": None}}))
    (run / "metrics.json").write_text(json.dumps({"x": {"robust_width": 1.0, "pull_std": 1.0}}))
    with (run / "history.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    (run / "COMPLETE.json").write_text("{}")
    return run


def test_constraint_values_and_multipliers_follow_the_rows(tmp_path):
    history = open_run(write_run(tmp_path)).history
    result = histories.constraint_histories(history)
    assert list(result) == ["dense_0", "budget"]  # mdmm_lagrangian is not a constraint
    dense_0 = result["dense_0"]
    assert dense_0.columns.tolist() == ["epoch", "value", "lambda"]
    assert dense_0["epoch"].tolist() == [row[0] for row in ROWS]
    assert dense_0["value"].tolist() == [row[4] for row in ROWS]
    assert dense_0["lambda"].tolist() == [row[3] for row in ROWS]
    assert result["budget"]["value"].tolist() == [row[5] for row in ROWS]
    assert all(math.isnan(value) for value in result["budget"]["lambda"])


def test_layer_sparsity_and_bops_follow_the_rows(tmp_path):
    history = open_run(write_run(tmp_path)).history
    sparsity = histories.layer_sparsity_history(history)
    assert sparsity.columns.tolist() == ["epoch", "dense_0", "dense_1"]
    assert sparsity["dense_0"].tolist() == [row[7] for row in ROWS]
    assert sparsity["dense_1"].tolist() == [row[8] for row in ROWS]
    bops = histories.bops_history(history)
    assert bops.index.tolist() == [0, 1, 2]
    assert bops.tolist() == [row[1] for row in ROWS]


def test_a_run_without_mdmm_has_no_constraint_history(tmp_path):
    run = write_run(
        tmp_path, rows=[[0, 1.0, 0.9], [1, 0.8, 0.7]], columns=["epoch", "loss", "val_loss"]
    )
    history = open_run(run).history
    assert histories.constraint_histories(history) == {}
    assert histories.layer_sparsity_history(history).columns.tolist() == ["epoch"]
    assert histories.bops_history(history) is None


def test_a_run_without_history_reads_as_none(tmp_path):
    run = write_run(tmp_path)
    (run / "history.csv").unlink()
    assert open_run(run).history is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("loss,val_loss\n1.0,2.0\n", "history.csv: no 'epoch' column; not a training history"),
        ("", "history.csv: cannot read the history (No columns to parse from file)"),
        ('epoch,loss\n0,"1.0\n', "history.csv: cannot read the history ("),
    ],
)
def test_a_bad_history_is_a_one_line_error_naming_the_file(tmp_path, content, message):
    run = write_run(tmp_path)
    (run / "history.csv").write_text(content)
    with pytest.raises(RunDirectoryError) as caught:
        open_run(run)
    assert str(caught.value).startswith(f"{run / 'history.csv'}: ")
    assert message in str(caught.value) and "\n" not in str(caught.value)
