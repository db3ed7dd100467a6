"""The ``tune`` section and the search space: every mistake fails before any trial,
in one line."""

import pytest
from tune_files import space, tune_config

from smartml.errors import ConfigError
from smartml.tune.__main__ import main as tune_main
from smartml.tune.objectives import allowed_metrics
from smartml.tune.search import prepare_search
from smartml.tune.space import set_dotted, trial_raw

OBJECTIVE = [{"metric": "val_loss"}]


def refused(tmp_path, capsys, tune: dict) -> str:
    """The one error line of ``python -m smartml.tune`` on this ``tune`` section; no
    run directory may have been started."""
    path = tune_config(tmp_path, tune)
    assert tune_main([str(path), "--trials", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("smartml.tune: error: "), err
    assert not (tmp_path / "run").exists()
    return err


def test_unknown_key_fails_before_any_trial(tmp_path, capsys):
    bad = {"key": "model.hidden_unitz", "type": "int", "low": 2, "high": 4}
    err = refused(tmp_path, capsys, {"parameters": space(bad), "objectives": OBJECTIVE})
    assert "tune parameter model.hidden_unitz = 2" in err and "hidden_unitz" in err


def test_value_the_schema_refuses_fails_before_any_trial(tmp_path, capsys):
    # filters must be >= 1: the low end of the range is refused by the model schema
    bad = {"key": "model.filters", "type": "int", "low": 0, "high": 4}
    err = refused(tmp_path, capsys, {"parameters": space(bad), "objectives": OBJECTIVE})
    assert "tune parameter model.filters = 0" in err and "model.filters" in err


def test_choice_the_schema_refuses_fails(tmp_path, capsys):
    bad = {"key": "training.lr_schedule.kind", "type": "categorical", "choices": ["cosine", "x"]}
    err = refused(tmp_path, capsys, {"parameters": space(bad), "objectives": OBJECTIVE})
    assert "training.lr_schedule.kind = 'x'" in err


def test_list_index_out_of_range_fails(tmp_path, capsys):
    bad = {"key": "model.hidden_units.5", "type": "int", "low": 2, "high": 4}
    err = refused(tmp_path, capsys, {"parameters": space(bad), "objectives": OBJECTIVE})
    assert "model.hidden_units.5" in err and "list of 2" in err


def test_pruner_with_two_objectives_is_refused(tmp_path, capsys):
    objectives = [{"metric": "val_loss"}, {"metric": "hardware.bops"}]
    tune = {"parameters": space(), "objectives": objectives, "pruner": "median"}
    err = refused(tmp_path, capsys, tune)
    assert "multi-objective study cannot prune" in err


def test_test_split_or_unknown_metric_is_not_an_objective(tmp_path, capsys):
    # pull_std is best at 1, not lower or higher: not an objective either
    for metric in ("test_examples", "y-midplane.pull_std"):
        tune = {"parameters": space(), "objectives": [{"metric": metric}]}
        err = refused(tmp_path, capsys, tune)
        assert f"tune.objectives[0].metric: {metric!r}" in err and "y-midplane.robust_width" in err


def test_objectives_take_their_direction_from_the_metric(tmp_path):
    objectives = [{"metric": "y-midplane.robust_width"}, {"metric": "hardware.sparsity"}]
    path = tune_config(tmp_path, {"parameters": space(), "objectives": objectives})
    search = prepare_search(str(path))
    assert [(o.metric, o.direction, o.source) for o in search.objectives] == [
        ("y-midplane.robust_width", "minimize", "summary"),
        ("hardware.sparsity", "maximize", "hardware"),
    ]
    assert search.trials == 20 and search.tune_dir == tmp_path / "run" / "tune"


def test_allowed_metrics_name_the_validation_metric_and_costs(tmp_path):
    path = tune_config(tmp_path, {"parameters": space(), "objectives": OBJECTIVE})
    search = prepare_search(str(path))
    from smartml.registry import TASKS
    from smartml.runs.directory import RunDirectory

    task = TASKS.get("smart_pixels")(search.config, RunDirectory(tmp_path / "run"))
    allowed = allowed_metrics(search.config, task)
    assert allowed["val_loss"] == ("lower", "validation")
    assert allowed["x-midplane.rms"] == ("lower", "summary")
    assert allowed["hardware.bops"] == ("lower", "hardware")
    assert "x-midplane.pull_std" not in allowed


def test_trial_configuration_has_the_values_and_no_tune_section():
    raw = {"name": "a", "model": {"hidden_units": [16, 16]}, "tune": {"trials": 3}}
    trial = trial_raw(raw, {"model.hidden_units.1": 4}, "runs/a/tune/trial-2", "a.trial-2")
    assert trial == {
        "name": "a.trial-2",
        "model": {"hidden_units": [16, 4]},
        "output": {"dir": "runs/a/tune/trial-2"},
    }
    assert raw["model"]["hidden_units"] == [16, 16]  # the search's own copy is untouched


def test_path_through_a_number_is_refused():
    with pytest.raises(ConfigError, match=r"^training\.epochs\.x: training\.epochs is 3"):
        set_dotted({"training": {"epochs": 3}}, "training.epochs.x", 1)


def test_bad_options_are_one_line_errors(tmp_path, capsys):
    path = tune_config(tmp_path, {"parameters": space(), "objectives": OBJECTIVE})
    for options, expected in [
        (["--workers", "0"], "--workers 0: expected at least 1"),
        (["--trials", "0"], "--trials 0: expected 1 to 100000"),
        (["--storage", "postgresql://nobody@127.0.0.1:1/none"], "--storage postgresql://"),
    ]:
        try:
            status = tune_main([str(path), *options])
        except SystemExit as exit:  # argparse's errors exit from parse_args
            status = exit.code
        err = capsys.readouterr().err
        assert status == 2
        assert err.count("\n") == 1 and expected in err, err
    assert not (tmp_path / "run" / "tune").exists()
