"""Provenance and the model card (issue 24): every evaluation records the software and
machine that made it, and a complete run carries a MODEL_CARD.md made from its own
records."""

import json
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np

import smartml
from smartml.runs import provenance as provenance_module
from smartml.runs.provenance import (
    PACKAGES,
    describe_version_change,
    provenance,
    version_differences,
)
from smartml.train import main as train_main
from tests.ntuple_files import tiny_classifier_config

REPO = Path(__file__).parents[1]


def test_provenance_names_versions_commit_host_and_device():
    record = provenance("cpu")
    assert record["smartml"] == smartml.__version__
    assert record["device"] == "cpu"
    assert set(record["packages"]) == set(PACKAGES)
    assert record["packages"]["qkeras"] == metadata.version("qkeras") == "0.9.0"
    assert record["packages"]["tensorflow"] == metadata.version("tensorflow")
    if (REPO / ".git").exists():
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        assert record["git_commit"].removesuffix("+dirty") == head
    json.dumps(record)  # JSON-able as recorded


def test_version_differences_name_each_changed_package():
    recorded = {"smartml": "0.1.0", "packages": {"tensorflow": "2.21.0", "numpy": "2.1.0"}}
    current = {"smartml": "0.1.0", "packages": {"tensorflow": "2.22.0", "numpy": "2.1.0"}}
    assert version_differences(recorded, current) == "tensorflow 2.21.0 -> 2.22.0"
    assert version_differences(recorded, recorded) is None
    assert describe_version_change(None, "runs/x") is None


def test_describe_version_change_is_one_line(monkeypatch):
    recorded = provenance()
    assert describe_version_change(recorded, "runs/x") is None
    older = {**recorded, "smartml": "0.0.9"}
    message = describe_version_change(older, "runs/x")
    assert message == (
        f"runs/x was made by other software (smartml 0.0.9 -> {smartml.__version__}); "
        "its numbers may differ"
    )


def test_git_commit_is_none_outside_a_checkout(monkeypatch, tmp_path):
    provenance_module.git_commit.cache_clear()
    fake = tmp_path / "site-packages" / "smartml" / "runs" / "provenance.py"
    monkeypatch.setattr(provenance_module, "__file__", str(fake))
    try:
        assert provenance_module.git_commit() is None
    finally:
        provenance_module.git_commit.cache_clear()


def test_a_complete_run_records_provenance_and_writes_its_model_card(tmp_path):
    config = tiny_classifier_config(tmp_path)
    content = json.loads(config.read_text())
    assert train_main([str(config)]) == 0
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["provenance"]["smartml"] == smartml.__version__
    assert metrics["provenance"]["device"] == "cpu"
    card = (run / "MODEL_CARD.md").read_text()
    assert card.startswith(f"# Model card: {content['name']}\n")
    complete = json.loads((run / "COMPLETE.json").read_text())
    started = json.loads((run / "run.json").read_text())
    assert complete["provenance"]["packages"] == started["provenance"]["packages"]
    assert started["provenance"]["smartml"] == smartml.__version__
    assert f"fingerprint `{complete['fingerprint']}`" in card
    auc = metrics["roc"]["auc"]
    assert f"{auc:.4g}"[:5] in card  # the summary table's AUC
    bops = metrics["hardware"]["bops"]
    assert f"{bops:,.0f} BOPs" in card and f"{metrics['hardware']['luts']:,} LUTs" in card
    assert "- not exported yet" in card
    assert np.isfinite(auc)


def test_opening_a_run_made_by_other_software_warns_in_one_line(tmp_path, caplog):
    from smartml.runs.directory import RunDirectory
    from smartml.runs.opening import warn_if_other_software

    run = RunDirectory(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"provenance": provenance()}))
    assert warn_if_other_software(run) is None
    older = {**provenance(), "packages": {**provenance()["packages"], "qkeras": "0.8.0"}}
    (tmp_path / "metrics.json").write_text(json.dumps({"provenance": older}))
    with caplog.at_level("WARNING", logger="smartml.runs"):
        message = warn_if_other_software(run)
    assert message == (
        f"{tmp_path} was made by other software (qkeras 0.8.0 -> 0.9.0); its numbers may differ"
    )
    assert caplog.messages == [message]
    (tmp_path / "metrics.json").write_text(json.dumps({}))
    assert warn_if_other_software(run) is None  # a run from before provenance: no word
