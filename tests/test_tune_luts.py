"""``hardware.luts`` as a search objective: the predicted distributed-arithmetic LUTs
of each trial's kept model, minimised by default."""

import json
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from tune_files import space, tune_config

from smartml.hardware import cost as hc
from smartml.runs.directory import RunDirectory
from smartml.tune.__main__ import main as tune_main
from smartml.tune.search import prepare_search
from smartml.tune.worker import RUN_DIR_ATTR


def test_luts_is_a_hardware_objective_minimised_by_default(tmp_path):
    objectives = [{"metric": "y-midplane.robust_width"}, {"metric": "hardware.luts"}]
    path = tune_config(tmp_path, {"parameters": space(), "objectives": objectives})
    search = prepare_search(str(path))
    assert [(o.metric, o.direction, o.source) for o in search.objectives] == [
        ("y-midplane.robust_width", "minimize", "summary"),
        ("hardware.luts", "minimize", "hardware"),
    ]


@pytest.mark.slow
def test_trials_report_the_luts_of_their_kept_model(tmp_path):
    tune = {"parameters": space(), "objectives": [{"metric": "hardware.luts"}]}
    path = tune_config(tmp_path, tune)
    assert tune_main([str(path), "--trials", "2"]) == 0
    storage = optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "run" / "tune" / "study.log"))
    )
    study = optuna.load_study(study_name="tiny", storage=storage)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 2
    for trial in complete:
        run_dir = Path(trial.user_attrs[RUN_DIR_ATTR])
        model = RunDirectory(run_dir).load_model()
        assert trial.values == [round(hc.luts(model))]
        on_validation = json.loads((run_dir / "validation_metrics.json").read_text())
        assert on_validation["hardware"]["luts"] == trial.values[0]
