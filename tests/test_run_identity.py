"""A run's identity: training never replaces or mixes runs, evaluation and export
verify that model.h5 is the run's, export never replaces another run's project.

Run directories are built here without training (a configured model saved beside
its config.json) wherever the behaviour allows; one toy run is trained for real.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import conformance_tasks
import pytest

from smartml.config.fingerprint import differing_keys, fingerprint
from smartml.config.loader import load_config, save_config, validate_config
from smartml.errors import RunDirectoryError
from smartml.evaluate import main as evaluate_main
from smartml.export.__main__ import main as export_main
from smartml.registry import TASKS
from smartml.runs.directory import RunDirectory
from smartml.train import main as train_main

REPO = Path(__file__).parents[1]


@pytest.fixture(scope="module", autouse=True)
def toy_tasks():
    conformance_tasks.register()
    yield
    conformance_tasks.unregister()


def toy_config(run: Path, **changes) -> dict:
    """A toy_signal run configuration writing to ``run``; ``changes``: dotted keys."""
    raw = {
        "name": "toy",
        "task": {"name": "toy_signal"},
        "data": {"n_examples": 800},
        "model": {"name": "mlp", "hidden_units": [8], "quantization": {}},
        "training": {"epochs": 1, "batch_size": 32, "verbose": 0, "backup_every_batches": 5},
        "output": {"dir": str(run)},
    }
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = raw
        for key in parents:
            node = node[key]
        node[leaf] = value
    return raw


def write_json(path: Path, content: dict) -> Path:
    path.write_text(json.dumps(content))
    return path


def fabricate_run(run: Path, raw: dict, model_raw: dict | None = None, complete: str = "") -> None:
    """A run directory without training: config.json of ``raw``, the task's run files
    and model.h5 built from ``model_raw`` (default ``raw``); ``complete``: "" (unfinished), "legacy" (a
    COMPLETE.json without fingerprint and hash) or "recorded"."""
    from smartml.models.binding import build_model

    config = validate_config(raw)
    run_dir = RunDirectory(run)
    run.mkdir(parents=True)
    save_config(config, run_dir.config)
    TASKS.get(config.task.name)(config, run_dir).prepare(fit=True)  # the task's run files
    built_from = validate_config(model_raw or raw)
    task = TASKS.get(built_from.task.name)(built_from, run_dir)
    build_model(built_from, task).save(run_dir.model)
    marker = {"finished": "2025-01-01T00:00:00+0000"}
    if complete == "recorded":
        marker.update(fingerprint=fingerprint(config), model_sha256=sha256_of(run_dir.model))
    if complete:
        write_json(run_dir.marker, marker)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


# -- the fingerprint -------------------------------------------------------------------


def test_fingerprint_is_the_sha256_of_the_config_without_its_volatile_keys(tmp_path):
    config = load_config(write_json(tmp_path / "c.json", toy_config(tmp_path / "run")))
    tree = config.model_dump(mode="json")
    del tree["export"], tree["tune"], tree["output"]["dir"], tree["output"]["plots"]
    del tree["output"]["plot_style"], tree["output"]["plot_formats"]
    del tree["training"]["verbose"], tree["training"]["device"], tree["training"]["distribution"]
    canonical = json.dumps(tree, sort_keys=True, separators=(",", ":")).encode()
    assert fingerprint(config) == hashlib.sha256(canonical).hexdigest()


def test_only_keys_that_change_what_is_trained_change_the_fingerprint(tmp_path):
    base = toy_config(tmp_path / "run")
    volatile = {
        "training.verbose": 2,
        "training.device": "gpu:1",
        "output.dir": "elsewhere",
        "output.plots": False,
        "output.plot_style": "CMS",
        "output.plot_formats": ["pdf"],
        "export": {"backend": "Catapult"},
        "tune": {
            "parameters": [
                {"key": "training.learning_rate", "type": "float", "low": 1e-4, "high": 0.01}
            ],
            "objectives": [{"metric": "val_loss"}],
        },
    }
    trained = {"training.learning_rate": 0.01, "data.n_examples": 900, "training.epochs": 2}
    reference = fingerprint(validate_config(base))
    for key, value in volatile.items():
        assert fingerprint(validate_config(toy_config(tmp_path / "run", **{key: value}))) == (
            reference
        ), key
    for key, value in trained.items():
        assert fingerprint(validate_config(toy_config(tmp_path / "run", **{key: value}))) != (
            reference
        ), key


def test_differing_keys_are_dotted_and_leave_volatile_keys_out():
    old = {"training": {"epochs": 3, "verbose": 2}, "data": {"time_slices": [0, 19], "a": 1}}
    new = copy.deepcopy(old)
    new["training"].update(epochs=4, verbose=0)
    new["data"]["time_slices"] = [5, 19]
    del new["data"]["a"]
    new["model"] = {"name": "m"}
    expected = ["data.a", "data.time_slices", "model.name", "training.epochs"]
    assert differing_keys(old, new) == expected
    assert differing_keys(old, old) == []


# -- training into an existing run directory -------------------------------------------


def test_training_a_complete_run_again_is_refused_before_anything_changes(tmp_path, capsys):
    """Finding 1: the same training command on a complete run used to delete it."""
    run = tmp_path / "run"
    raw = toy_config(run)
    fabricate_run(run, raw, complete="recorded")
    before = snapshot(run)
    assert train_main([str(write_json(tmp_path / "c.json", raw)), "--epochs", "2"]) == 2
    assert one_line(capsys) == (
        f"smartml.train: error: {run}: run is complete; pass --overwrite to replace it, "
        "or --output for a new run"
    )
    assert snapshot(run) == before


def test_resuming_with_another_config_is_refused_before_anything_is_written(tmp_path, capsys):
    """Finding 2: an interrupted run resumed by another configuration mixed the two."""
    run = tmp_path / "run"
    fabricate_run(run, toy_config(run))
    (run / "backup").mkdir()
    (run / "backup" / "checkpoint").write_text("interrupted")
    before = snapshot(run)
    other = toy_config(run, **{"training.learning_rate": 0.001, "data.n_examples": 900})
    assert train_main([str(write_json(tmp_path / "other.json", other))]) == 2
    message = one_line(capsys)
    assert message.startswith(f"smartml.train: error: {run}: the unfinished run there has")
    assert "data.n_examples: 800 -> 900, training.learning_rate: 0.002 -> 0.001" in message
    assert "--overwrite" in message
    assert snapshot(run) == before  # config.json included, byte for byte


def test_an_unfinished_run_without_backup_is_not_restarted_with_another_config(tmp_path, capsys):
    run = tmp_path / "run"
    fabricate_run(run, toy_config(run))
    before = snapshot(run)
    other = toy_config(run, **{"model.hidden_units": [4]})
    assert train_main([str(write_json(tmp_path / "other.json", other))]) == 2
    assert "model.hidden_units: [8] -> [4]" in one_line(capsys)
    assert snapshot(run) == before


def test_same_config_resumes_a_backup_and_restarts_without_one(tmp_path):
    run = tmp_path / "run"
    raw = toy_config(run, **{"training.verbose": 2})  # a volatile key may change
    fabricate_run(run, toy_config(run))
    run_dir, config = RunDirectory(run), validate_config(raw)
    run_dir.refuse_conflicts(config)
    assert not run_dir.open_for_training()  # no backup: a fresh start, products removed
    assert not run_dir.model.exists()
    run_dir.backup.mkdir()
    (run_dir.backup / "checkpoint").write_text("interrupted")
    assert run_dir.open_for_training()


def test_overwrite_starts_an_unfinished_run_of_another_config_anew(tmp_path):
    run = tmp_path / "run"
    fabricate_run(run, toy_config(run))
    (run / "backup").mkdir()
    (run / "backup" / "checkpoint").write_text("interrupted")
    run_dir = RunDirectory(run)
    other = validate_config(toy_config(run, **{"training.learning_rate": 0.001}))
    run_dir.refuse_conflicts(other, overwrite=True)
    assert not run_dir.open_for_training(overwrite=True)
    assert not run_dir.backup.exists() and not run_dir.model.exists()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A complete toy run."""
    directory = tmp_path_factory.mktemp("identity")
    assert train_main([str(write_json(directory / "toy.json", toy_config(directory / "run")))]) == 0
    return directory / "run"


def test_a_complete_run_records_its_identity_and_keeps_no_backup(trained):
    config = load_config(trained / "config.json")
    complete = json.loads((trained / "COMPLETE.json").read_text())
    assert complete["fingerprint"] == fingerprint(config)
    assert json.loads((trained / "run.json").read_text())["fingerprint"] == fingerprint(config)
    assert complete["model_sha256"] == sha256_of(trained / "model.h5")
    assert not (trained / "backup").exists()  # finding 14: no empty backup/ is kept


def test_overwrite_replaces_a_complete_run(tmp_path):
    run = tmp_path / "run"
    fabricate_run(run, toy_config(run, **{"model.hidden_units": [4]}), complete="recorded")
    raw = toy_config(run)
    assert train_main([str(write_json(tmp_path / "toy.json", raw)), "--overwrite"]) == 0
    complete = json.loads((run / "COMPLETE.json").read_text())
    assert complete["fingerprint"] == fingerprint(validate_config(raw))
    assert complete["model_sha256"] == sha256_of(run / "model.h5")
    assert load_config(run / "config.json").model.hidden_units == [8]


# -- evaluate and export verify the model ----------------------------------------------


def test_evaluate_refuses_a_model_of_another_architecture(tmp_path, capsys):
    """Finding 3 (evaluate): a model.h5 that the config does not build is refused in
    one line, also for runs completed before a hash was recorded."""
    run = tmp_path / "run"
    smaller = toy_config(run, **{"model.hidden_units": [4]})
    fabricate_run(run, toy_config(run), model_raw=smaller, complete="legacy")
    assert evaluate_main([str(run)]) == 2
    # the quantized mlp on 4 features, one logit: (4 + 1) h + (h + 1) parameters
    assert one_line(capsys) == (
        f"smartml.evaluate: error: {run / 'model.h5'}: does not match the run's configuration "
        f"(config.json): parameters: model.h5 has {5 * 4 + 5}, the configuration builds "
        f"{5 * 8 + 9}"
    )
    assert not (run / "metrics.json").exists()


def test_export_refuses_a_model_with_other_inputs(tmp_path, capsys):
    run = tmp_path / "run"
    weights_task = toy_config(run, **{"task.name": "toy_weights"})
    fabricate_run(run, toy_config(run), model_raw=weights_task, complete="legacy")
    assert export_main([str(run), "--hls", "--output", str(tmp_path / "fw")]) == 2
    message = one_line(capsys)
    assert "inputs: model.h5 has {'features': (6,)}, the configuration builds" in message
    assert "{'features': (4,)}" in message
    assert not (tmp_path / "fw").exists()


@pytest.fixture
def copied_run(trained, tmp_path) -> Path:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    return copy


def test_evaluate_refuses_a_model_replaced_after_completion(copied_run, tmp_path, capsys):
    """Same architecture, other weights: only the recorded sha256 tells them apart."""
    other = tmp_path / "other"
    fabricate_run(other, toy_config(other))
    (copied_run / "model.h5").write_bytes((other / "model.h5").read_bytes())
    before = snapshot(copied_run)
    assert evaluate_main([str(copied_run)]) == 2
    assert one_line(capsys) == (
        f"smartml.evaluate: error: {copied_run / 'model.h5'}: changed since the run completed "
        "(its sha256 differs from the one in COMPLETE.json); restore the run's own model or "
        "train it again with --overwrite"
    )
    assert snapshot(copied_run) == before


def test_evaluate_refuses_a_config_edited_after_completion(copied_run, capsys):
    edited = json.loads((copied_run / "config.json").read_text())
    edited["training"]["learning_rate"] = 0.5
    write_json(copied_run / "config.json", edited)
    assert evaluate_main([str(copied_run)]) == 2
    assert f"{copied_run / 'config.json'}: changed since the run completed" in one_line(capsys)


def test_a_run_saved_before_a_key_was_added_still_evaluates_and_exports(
    copied_run, tmp_path, capsys
):
    """A run trained by an older smartml has no value for a key added since (the
    schema gives it its default today): that is not an edit of its configuration."""
    from smartml.config.fingerprint import fingerprint
    from smartml.export.__main__ import main as export_main

    older = json.loads((copied_run / "config.json").read_text())
    del older["training"]["backup_every_batches"]  # "added later", with a default
    write_json(copied_run / "config.json", older)
    completion = json.loads((copied_run / "COMPLETE.json").read_text())
    write_json(copied_run / "COMPLETE.json", {**completion, "fingerprint": fingerprint(older)})
    assert evaluate_main([str(copied_run)]) == 0
    firmware = tmp_path / "firmware"
    assert export_main([str(copied_run), "--hls", "--output", str(firmware)]) == 0


def test_resuming_a_run_saved_before_a_key_was_added_is_not_a_conflict(tmp_path):
    run = tmp_path / "run"
    raw = toy_config(run)
    fabricate_run(run, raw)  # an unfinished run, config.json written by an older smartml
    older = json.loads((run / "config.json").read_text())
    del older["training"]["backup_every_batches"]
    write_json(run / "config.json", older)
    RunDirectory(run).refuse_conflicts(load_config(run / "config.json"))  # no error
    changed = load_config(run / "config.json", {"training.backup_every_batches": 7})
    with pytest.raises(RunDirectoryError, match=r"training\.backup_every_batches: 200 -> 7"):
        RunDirectory(run).refuse_conflicts(changed)


# -- export never replaces another run's project ---------------------------------------


def test_export_refuses_a_project_of_another_run(trained, tmp_path, capsys):
    """Finding 3 (export): the default --output would replace firmware/<name> of
    whatever run was exported there before."""
    project = tmp_path / "fw" / "toy"
    project.mkdir(parents=True)
    write_json(project / "source.json", {"run_dir": "/elsewhere/runs/toy"})
    (project / "report.json").write_text("{}")
    before = snapshot(project)
    assert export_main([str(trained), "--hls", "--output", str(tmp_path / "fw")]) == 2
    assert one_line(capsys) == (
        f"smartml.export: error: {project}: was exported from /elsewhere/runs/toy; "
        "choose --output or remove it"
    )
    assert snapshot(project) == before


def test_export_refuses_a_directory_that_is_not_provably_its_own(trained, tmp_path, capsys):
    project = tmp_path / "fw" / "toy"
    project.mkdir(parents=True)
    (project / "notes.txt").write_text("mine")
    assert export_main([str(trained), "--hls", "--output", str(tmp_path / "fw")]) == 2
    assert one_line(capsys).endswith(
        f"{project}: exists and holds no source.json naming the run it came from; "
        "choose --output or remove it"
    )
    assert (project / "notes.txt").read_text() == "mine"


def test_export_records_its_run_and_replaces_its_own_project(trained, tmp_path, capsys):
    arguments = [str(trained), "--hls", "--output", str(tmp_path), "--verify-examples", "40"]
    assert export_main(arguments) == 0
    source = json.loads((tmp_path / "toy" / "source.json").read_text())
    complete = json.loads((trained / "COMPLETE.json").read_text())
    assert source == {
        "run_dir": str(trained.resolve()),
        "fingerprint": complete["fingerprint"],
        "model_sha256": complete["model_sha256"],
    }
    (tmp_path / "toy" / "stale.txt").write_text("from the first export")
    assert export_main(arguments) == 0  # a re-export of the same run replaces it
    assert not (tmp_path / "toy" / "stale.txt").exists()
    assert (tmp_path / "toy" / "report.json").is_file()
