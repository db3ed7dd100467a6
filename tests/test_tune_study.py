"""``python -m smartml.tune`` end to end on tiny pixel searches: a single-objective
study with pruning, a two-objective study by two workers on one journal file (its
Pareto front against an independent non-dominated filter), a killed search resumed."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from tune_files import space, tune_config

from smartml.tune.__main__ import main as tune_main
from smartml.tune.worker import RUN_DIR_ATTR

pytestmark = pytest.mark.slow
REPO = Path(__file__).parents[1]


def journal_study(tmp_path: Path, name: str = "tiny") -> optuna.Study:
    storage = optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "run" / "tune" / "study.log"))
    )
    return optuna.load_study(study_name=name, storage=storage)


def non_dominated(values: np.ndarray) -> np.ndarray:
    """Rows of ``values`` (all minimised) that no other row dominates."""
    return np.array(
        [not np.any(np.all(values <= row, axis=1) & np.any(values < row, axis=1)) for row in values]
    )


def assert_unique_trials(study: optuna.Study) -> None:
    numbers = [trial.number for trial in study.trials]
    assert sorted(numbers) == list(range(len(numbers)))
    run_dirs = [t.user_attrs[RUN_DIR_ATTR] for t in study.trials if RUN_DIR_ATTR in t.user_attrs]
    assert len(set(run_dirs)) == len(run_dirs)


def test_single_objective_study_with_pruning(tmp_path, capsys):
    tune = {"parameters": space(), "objectives": [{"metric": "val_loss"}], "pruner": "median"}
    path = tune_config(tmp_path, tune, epochs=2)
    assert tune_main([str(path), "--trials", "3"]) == 0
    out = capsys.readouterr().out
    study = journal_study(tmp_path)
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == 3 and len(study.trials) == 3
    assert sum(line.startswith("trial ") for line in out.splitlines()) == 3
    best = json.loads((tmp_path / "run" / "tune" / "best.json").read_text())
    assert best["trial"] == study.best_trial.number
    assert best["val_loss"] == pytest.approx(study.best_value)
    run_dir = Path(best["run_dir"])
    assert (run_dir / "COMPLETE.json").is_file()
    # the objective is the kept epoch's validation loss, not a test-split number
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["validation"]["value"] == pytest.approx(study.best_value)
    history = list(csv.DictReader((run_dir / "history.csv").read_text().splitlines()))
    assert min(float(row["val_loss"]) for row in history) == pytest.approx(study.best_value)
    config = json.loads(Path(best["config"]).read_text())
    assert config["tune"] is None and config["output"]["dir"] == str(run_dir)
    for key, value in study.best_trial.params.items():
        section, *rest = key.split(".")
        node = config[section]
        for part in rest:
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert node == pytest.approx(value)


def test_two_objectives_two_workers_on_one_journal(tmp_path, capsys):
    objectives = [{"metric": "y-midplane.robust_width"}, {"metric": "hardware.bops"}]
    path = tune_config(tmp_path, {"parameters": space(), "objectives": objectives})
    assert tune_main([str(path), "--trials", "4", "--workers", "2"]) == 0
    study = journal_study(tmp_path)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 4
    assert_unique_trials(study)
    assert all(t.user_attrs.get("fail_reason") == "surplus" for t in study.get_trials(
        states=(TrialState.FAIL,)))  # fmt: skip
    values = np.array([trial.values for trial in complete])
    expected = {complete[i].number for i in np.flatnonzero(non_dominated(values))}
    tune_dir = tmp_path / "run" / "tune"
    front = list(csv.DictReader((tune_dir / "pareto.csv").read_text().splitlines()))
    assert {int(row["trial"]) for row in front} == expected
    assert json.loads((tune_dir / "pareto.json").read_text()) == [
        {**row, "trial": int(row["trial"])}
        | {k: float(row[k]) for k in ("y-midplane.robust_width", "hardware.bops")}
        | {"model.hidden_units.0": int(row["model.hidden_units.0"])}
        | {"training.learning_rate": float(row["training.learning_rate"])}
        for row in front
    ]
    for row in front:  # each listed run is complete and its objective is on validation
        run_dir = Path(row["run_dir"])
        assert (run_dir / "COMPLETE.json").is_file()
        on_validation = json.loads((run_dir / "validation_metrics.json").read_text())
        width = on_validation["y-midplane"]["robust_width"]
        assert float(row["y-midplane.robust_width"]) == pytest.approx(width)
        on_test = json.loads((run_dir / "metrics.json").read_text())
        assert on_validation["validation_examples"] == on_test["test_examples"] == 60
    assert (tune_dir / "pareto.png").stat().st_size > 10_000
    out = capsys.readouterr().out
    assert "Pareto front:" in out


def test_killed_search_resumes_with_the_dead_trial_failed(tmp_path):
    tune = {"parameters": space(), "objectives": [{"metric": "val_loss"}]}
    path = tune_config(tmp_path, tune, epochs=4)
    command = [sys.executable, "-m", "smartml.tune", str(path), "--trials", "3"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    search = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    second_trial = tmp_path / "run" / "tune" / "trial-1" / "run.json"
    deadline = time.monotonic() + 120
    while not second_trial.is_file() and time.monotonic() < deadline and search.poll() is None:
        time.sleep(0.05)
    os.killpg(search.pid, signal.SIGKILL)
    search.wait()
    assert second_trial.is_file(), "the search did not reach its second trial"
    running = journal_study(tmp_path).get_trials(states=(TrialState.RUNNING,))
    assert [trial.number for trial in running] == [1]

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "trial 1: its process died; marked failed" in rerun.stdout
    study = journal_study(tmp_path)
    assert [t.number for t in study.get_trials(states=(TrialState.FAIL,))] == [1]
    assert [t.number for t in study.get_trials(states=(TrialState.COMPLETE,))] == [0, 2, 3]
    assert_unique_trials(study)
