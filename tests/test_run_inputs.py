"""A run records its input files (issue 23, item 3): config.json names them by
absolute path, run.json records each file's content, and evaluate, export and
resuming refuse a changed, missing or added one in one line naming key and file.

One ntuple-classifier run (a features file, a glob of ROOT files) is trained for
real, from relative paths; the tests that edit its inputs put them back.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from smartml.config.loader import save_config, validate_config
from smartml.errors import RunDirectoryError
from smartml.evaluate import main as evaluate_main
from smartml.export.__main__ import main as export_main
from smartml.ntuples.file_identity import content_identity
from smartml.runs.directory import RunDirectory, run_inputs
from smartml.train import main as train_main
from tests.ntuple_files import event_branches, write_tree
from tests.rich_files import write_pmt_table

FEATURES_YAML = """\
branches: [lep1_PT, lep2_PT, MET]
derived:
  - {kind: balance, name: pt_balance, first: lep1_PT, second: lep2_PT}
"""


def classifier_config(**changes) -> dict:
    """A tiny ntuple classifier on ./sig_*.root and ./bkg.root with ./features.yaml,
    every path relative to the working directory."""
    return {
        "name": "inputs",
        "task": {"name": "ntuple_classifier"},
        "data": {
            "source": "files",
            "samples": [
                {"name": "signal", "files": ["sig_*.root"], "label": "signal"},
                {"name": "ttbar", "files": ["bkg.root"], "label": "background"},
            ],
            "features": "features.yaml",
            "entries_per_chunk": 100,
        },
        "model": {"name": "mlp", "hidden_units": [4], "quantization": {}},
        "training": {"epochs": 1, "batch_size": 64, "verbose": 0},
        "output": {"dir": "run", "plots": False},
        **changes,
    }


def write_inputs(folder: Path) -> None:
    for name, n, seed in (("sig_a", 150, 1), ("sig_b", 100, 2), ("bkg", 250, 3)):
        write_tree(folder / f"{name}.root", event_branches(n, seed), chunk=100)
    (folder / "features.yaml").write_text(FEATURES_YAML)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A folder with the inputs and a complete run trained there from relative paths."""
    folder = tmp_path_factory.mktemp("inputs")
    write_inputs(folder)
    (folder / "classifier.json").write_text(json.dumps(classifier_config()))
    before = Path.cwd()
    os.chdir(folder)
    try:
        assert train_main(["classifier.json"]) == 0
    finally:
        os.chdir(before)
    return folder


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@contextmanager
def edited(path: Path, content: bytes | None) -> Iterator[None]:
    """``path`` holding ``content`` (None: removed) inside the block, restored after."""
    original = path.read_bytes() if path.exists() else None
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)
    try:
        yield
    finally:
        if original is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(original)


def test_config_json_names_absolute_paths_and_evaluates_from_another_directory(
    workspace, tmp_path, monkeypatch, capsys
):
    run = workspace / "run"
    stored = json.loads((run / "config.json").read_text())
    assert stored["data"]["features"] == str(workspace / "features.yaml")
    assert [sample["files"] for sample in stored["data"]["samples"]] == [
        [str(workspace / "sig_*.root")],
        [str(workspace / "bkg.root")],
    ]
    recorded = json.loads((run / "run.json").read_text())["inputs"]
    assert sorted(recorded) == [
        "data.features",
        "data.samples[signal].files",
        "data.samples[ttbar].files",
    ]
    signal = recorded["data.samples[signal].files"]["files"]
    assert [file["path"] for file in signal] == [
        str(workspace / "sig_a.root"),
        str(workspace / "sig_b.root"),
    ]
    assert signal[0]["identity"] == content_identity(workspace / "sig_a.root")
    assert signal[0]["size"] == (workspace / "sig_a.root").stat().st_size
    monkeypatch.chdir(tmp_path)  # no features.yaml nor sig_*.root here
    assert evaluate_main([str(run)]) == 0, capsys.readouterr().err


def test_an_edited_features_file_is_refused_by_evaluate_and_export(workspace, tmp_path, capsys):
    run, features = workspace / "run", workspace / "features.yaml"
    old = content_identity(features).removeprefix("sha256:")
    metrics = (run / "metrics.json").read_bytes()
    redefined = FEATURES_YAML.replace(
        "first: lep1_PT, second: lep2_PT", "first: MET, second: lep2_PT"
    )
    with edited(features, redefined.encode()):
        new = content_identity(features).removeprefix("sha256:")
        assert evaluate_main([str(run)]) == 2
        assert one_line(capsys) == (
            f"smartml.evaluate: error: {run}: data.features file {features} changed since "
            f"the run was trained (sha256 {old[:12]}… -> {new[:12]}…); retrain, or restore "
            "the file"
        )
        assert (run / "metrics.json").read_bytes() == metrics
        assert export_main([str(run), "--hls", "--output", str(tmp_path / "fw")]) == 2
        assert f"{run}: data.features file {features} changed" in one_line(capsys)
        assert not (tmp_path / "fw").exists()


def test_the_analysis_loaders_refuse_an_edited_input_before_reading_data(workspace):
    """The notebooks' and comparisons' loaders (open_task with data, RunContents.model)
    check the inputs as evaluate does."""
    from smartml.analysis.run_contents import open_run
    from smartml.runs.opening import open_task

    run, features = workspace / "run", workspace / "features.yaml"
    with edited(features, FEATURES_YAML.replace("MET]", "MET, lep1_Eta]").encode()):
        with pytest.raises(RunDirectoryError, match=r"data\.features file .* changed since"):
            open_task(run)
        with pytest.raises(RunDirectoryError, match=r"data\.features file .* changed since"):
            _ = open_run(run).model


def test_a_file_added_to_or_removed_from_a_data_glob_is_refused(workspace, capsys):
    run = workspace / "run"
    added, removed = workspace / "sig_c.root", workspace / "sig_b.root"
    key = "data.samples[signal].files"
    with edited(added, removed.read_bytes()):
        assert evaluate_main([str(run)]) == 2
        assert (
            f"{run}: {key} file {added} was added since the run was trained (it matches now); "
            "retrain, or restore the file"
        ) in one_line(capsys)
    with edited(removed, None):
        assert evaluate_main([str(run)]) == 2
        assert f"{run}: {key} file {removed} is missing (the run was trained with it)" in (
            one_line(capsys)
        )


def test_an_edited_pmt_table_is_refused(tmp_path):
    """RICH data files with the table they need: the record of a run on them refuses
    the table once edited (evaluate and export call this same check)."""
    table = tmp_path / "pmt.npy"
    write_pmt_table(table)
    (tmp_path / "run1.h5").write_bytes(b"events")
    raw = {
        "name": "rich",
        "task": {"name": "rich_pid"},
        "data": {
            "source": "files",
            "files": [str(tmp_path / "run*.h5")],
            "pmt_positions": str(table),
        },
        "model": {"name": "pointnet"},
        "output": {"dir": str(tmp_path / "run")},
    }
    run_dir = RunDirectory(tmp_path / "run")
    run_dir.path.mkdir()
    run_dir.record_start(validate_config(raw))
    run_dir.refuse_changed_inputs()  # unchanged: no error
    positions = np.load(table)
    positions[0, 0] += 1.0
    np.save(table, positions)
    with pytest.raises(RunDirectoryError) as caught:
        run_dir.refuse_changed_inputs()
    assert str(caught.value).startswith(
        f"{run_dir.path}: data.pmt_positions file {table} changed since the run was trained "
        "(sha256 "
    )


def test_resuming_with_a_changed_input_is_refused(workspace, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(workspace)
    config = validate_config(classifier_config(output={"dir": str(tmp_path / "unfinished")}))
    run_dir = RunDirectory(config.run_dir())
    run_dir.path.mkdir()
    save_config(config, run_dir.config)
    run_dir.record_start(config)  # an unfinished run: config.json and run.json
    (tmp_path / "resume.json").write_text(json.dumps(config.model_dump(mode="json")))
    with edited(workspace / "bkg.root", (workspace / "sig_a.root").read_bytes()):
        assert train_main([str(tmp_path / "resume.json")]) == 2
        message = one_line(capsys)
    assert message.startswith(
        f"smartml.train: error: {run_dir.path}: data.samples[ttbar].files file "
        f"{workspace / 'bkg.root'} changed since the run was trained ("
    )
    assert message.endswith("; restore the file, or pass --overwrite to start anew")
    assert not run_dir.model.exists()


def test_a_run_recorded_before_input_records_evaluates_with_a_warning(workspace, tmp_path, caplog):
    old = tmp_path / "old"
    shutil.copytree(workspace / "run", old)
    record = json.loads((old / "run.json").read_text())
    del record["inputs"]
    (old / "run.json").write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING, logger="smartml.runs.directory"):
        assert evaluate_main([str(old)]) == 0
    assert f"{old}: the run predates input records" in caplog.text


@pytest.mark.parametrize(
    ("data", "keys"),
    [
        (
            {
                "task": "mem_regression",
                "source": "files",
                "files": ["ev*.root"],
                "weights": {"files": ["w.root"]},
                "features": "f.yaml",
            },
            ["data.features", "data.files", "data.weights.files"],
        ),
        (
            {"task": "rich_pid", "source": "files", "files": ["r*.h5"], "pmt_positions": "t.npy"},
            ["data.files", "data.pmt_positions"],
        ),
        (
            {
                "task": "smart_pixels",
                "source": "parquet",
                "layout": "recon3d",
                "path": "px",
                "labels_path": "labels",
            },
            ["data.path", "data.labels_path"],
        ),
        ({"task": "smart_pixels", "path": "cache"}, []),  # a simulation's cache is no input
        ({"task": "rich_pid", "pmt_positions": "t.npy"}, ["data.pmt_positions"]),
    ],
)
def test_every_task_resolves_and_declares_its_input_files(data, keys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    task = data.pop("task")
    models = {"mem_regression": "mlp", "rich_pid": "pointnet", "smart_pixels": "pixel_mdn"}
    raw = {
        "name": "x",
        "task": {"name": task},
        "data": data,
        "model": {"name": models[task]},
        "training": {"initial_weights": "runs/dense"},
    }
    config = validate_config(raw)
    declared = run_inputs(config)
    assert [named.key for named in declared] == [*keys, "training.initial_weights"]
    assert config.training.initial_weights == str(tmp_path / "runs" / "dense")
    for named in declared:
        assert all(Path(pattern).is_absolute() for pattern in named.patterns), named
        assert named.evaluation == (named.key != "training.initial_weights")


def test_a_remote_file_keeps_its_url():
    config = validate_config(
        classifier_config()
        | {
            "data": classifier_config()["data"]
            | {
                "samples": [
                    {"name": "s", "files": ["root://eos.cern.ch//store/s.root"], "label": "signal"},
                    {"name": "b", "files": ["https://host/b.root"], "label": "background"},
                ],
                "features": {"branches": ["MET"]},
            }
        }
    )
    assert [named.patterns for named in run_inputs(config)] == [
        ("root://eos.cern.ch//store/s.root",),
        ("https://host/b.root",),
    ]


def test_a_large_file_is_hashed_once_per_size_mtime_and_inode(tmp_path, monkeypatch):
    """The hash cache: an unchanged file (same path, size, mtime, inode) is not read
    again; a touched one is."""
    from smartml.ntuples import file_identity

    monkeypatch.setattr(file_identity, "CACHED_HASH_MIN_BYTES", 0)
    data = tmp_path / "large.root"
    data.write_bytes(b"a" * 100)
    first = content_identity(data)
    stat = data.stat()
    data.write_bytes(b"b" * 100)  # same size, same inode
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert content_identity(data) == first  # taken from the cache, not read
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert content_identity(data) != first
