"""Task hooks compute, the evaluation writes (issue 23, items 1 and 2): a task's tables
(``predictions.parquet``) are declared products, written for the test split only by
the evaluation of a run, and removed when a run starts anew."""

from pathlib import Path

import numpy as np
import pytest

from smartml.registry import TASKS
from smartml.tasks.ntuple_classifier.task import PREDICTIONS
from smartml.train import main as train_main
from smartml.training import trainer
from tests.ntuple_files import prepared_task, tiny_classifier_config

REPO = Path(__file__).parents[1]


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("task", ["ntuple_classifier", "rich_pid"])
def test_the_predictions_file_is_a_declared_product(task):
    assert PREDICTIONS in TASKS.get(task).products


def test_a_new_run_interrupted_at_its_start_holds_no_earlier_predictions(
    tmp_path, monkeypatch, capsys
):
    config = tiny_classifier_config(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / PREDICTIONS).write_bytes(b"an earlier run's predictions")

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "save_config", interrupt)  # ^C just after the run opens
    assert train_main([str(config), "--overwrite"]) == 130
    assert not (run / PREDICTIONS).exists()


def test_metrics_of_a_split_write_nothing_into_the_run(tmp_path):
    """A tune trial scores the validation split with these hooks: its run directory
    must stay byte-identical."""
    task = prepared_task(tiny_classifier_config(tmp_path))
    before = snapshot(task.run_dir.path)
    examples = task.examples("validation")
    rng = np.random.default_rng(0)
    signal = rng.uniform(size=len(examples))
    metrics = task.split_metrics(examples, np.stack([1 - signal, signal], axis=1))
    assert metrics["weighted"]["auc"] == pytest.approx(0.5, abs=0.15)
    assert snapshot(task.run_dir.path) == before


def test_the_test_table_holds_every_test_event_and_its_score(tmp_path):
    task = prepared_task(tiny_classifier_config(tmp_path))
    examples = task.examples("test")
    signal = np.linspace(0.0, 1.0, len(examples))
    tables = task.test_tables(examples, np.stack([1 - signal, signal], axis=1))
    assert list(tables) == [PREDICTIONS]
    table = tables[PREDICTIONS]
    np.testing.assert_array_equal(table["score"].to_numpy(), signal.astype(table["score"].dtype))
    np.testing.assert_array_equal(table["label"].to_numpy(), examples.targets)
    assert len(table) == len(examples)
