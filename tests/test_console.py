"""smartml.console: what is noise, where tracebacks go, step timings; and the run
summary table the commands print (smartml.metrics.summary)."""

import logging
import os
import tempfile
from pathlib import Path

import platformdirs
import pytest

from smartml import console
from smartml.metrics.summary import SummaryMetric, summary_table

# Lines TensorFlow 2.21 prints on a machine without a GPU, as they come.
NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795527957.922820   24543 port.cc:153] oneDNN custom operations are on.",
    "I0000 00:00:1795527957.923182   24543 cudart_stub.cc:31] Could not find cuda drivers "
    "on your machine, GPU will not be used.",
    "E0000 00:00:1795527960.901368   24543 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
]
REAL_ERROR = "E0000 00:00:1795527960.901368   24543 bfc_allocator.cc:12] out of memory"


@pytest.fixture
def quiet():
    """Leave console verbosity and logger levels as they were."""
    names = ["", "smartml", *console.THIRD_PARTY_LEVELS]
    levels = {name: logging.getLogger(name).level for name in names}
    verbose = console.is_verbose()
    yield
    console.set_verbose(verbose)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def write_to_descriptor_2(lines: list[str]) -> None:
    os.write(2, "".join(f"{line}\n" for line in lines).encode())


def test_native_noise_is_dropped_and_a_real_error_kept(capfd, quiet):
    console.set_verbose(False)
    with console.filtered_native_stderr():
        write_to_descriptor_2([NOISE[0], REAL_ERROR, *NOISE[1:]])
    assert capfd.readouterr().err == f"{REAL_ERROR}\n"


def test_verbose_keeps_every_native_line_in_order(capfd, quiet):
    console.set_verbose(True)
    with console.filtered_native_stderr():
        write_to_descriptor_2([*NOISE, REAL_ERROR])
    assert capfd.readouterr().err == "".join(f"{line}\n" for line in [*NOISE, REAL_ERROR])


def test_descriptor_2_is_restored_after_an_exception(capfd, quiet):
    console.set_verbose(False)
    with pytest.raises(ValueError), console.filtered_native_stderr():
        write_to_descriptor_2(["kept before the error"])
        raise ValueError
    write_to_descriptor_2(["after"])
    assert capfd.readouterr().err == "kept before the error\nafter\n"


def test_quiet_logging_keeps_smartml_info_only(quiet):
    console.configure_logging(verbose=False)
    assert logging.getLogger("smartml.train").isEnabledFor(logging.INFO)
    assert not logging.getLogger().isEnabledFor(logging.INFO)  # hls4ml's "keras dict linear"
    assert not logging.getLogger("absl").isEnabledFor(logging.INFO)  # "Sharding callback"
    assert not logging.getLogger("tensorflow").isEnabledFor(logging.WARNING)
    assert logging.getLogger("tensorflow").isEnabledFor(logging.ERROR)
    assert logging.getLogger("absl").isEnabledFor(logging.WARNING)


def test_verbose_logging_shows_third_party_info(quiet):
    console.configure_logging(verbose=True)
    for name in ("", "absl", "tensorflow", "smartml.export"):
        assert logging.getLogger(name).isEnabledFor(logging.INFO), name


def test_log_directory_is_the_platform_user_log_dir_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv(console.LOG_DIR_VARIABLE, raising=False)
    assert console.log_directory() == Path(platformdirs.user_log_dir("smartml"))
    monkeypatch.setenv(console.LOG_DIR_VARIABLE, str(tmp_path / "logs"))
    assert console.log_directory() == tmp_path / "logs"


def test_traceback_goes_to_the_temporary_folder_when_the_log_directory_fails(monkeypatch, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv(console.LOG_DIR_VARIABLE, str(blocker / "logs"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    try:
        raise KeyError("missing key")
    except KeyError as error:
        path = console.write_traceback("smartml.test", error)
    assert path is not None and path.parent == tmp_path / "tmp"
    assert path.name.startswith("smartml.test-")
    assert "KeyError: 'missing key'" in path.read_text()


def test_timed_step_logs_start_and_end_with_seconds(caplog):
    caplog.set_level(logging.INFO, logger="smartml.test")
    with console.timed_step(logging.getLogger("smartml.test"), "compiling") as step:
        pass
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["compiling ...", f"compiling: done ({step.seconds:.1f} s)"]
    assert 0 <= step.seconds < 1


def test_summary_table_shows_each_metric_and_the_baseline_beside_it():
    summary = [
        SummaryMetric("x.robust_width", "x width", "µm"),
        SummaryMetric("x.pull_std", "x pull std", better="one"),
        SummaryMetric("y.rms", "y RMS", "µm"),
    ]
    metrics = {
        "x": {"robust_width": 6.07123, "pull_std": 0.98765},
        "y": {"rms": 1.3},
        "centroid_baseline": {"x": {"robust_width": 8.04}, "y": {"rms": 1.97}},
        "hardware": {"bops": 1.0},
    }
    lines = summary_table(metrics, summary, "pixel_2t").splitlines()
    assert lines[0].split() == ["metric", "pixel_2t", "centroid", "baseline"]
    rows = {
        metric.header: line.removeprefix(metric.header).split()
        for metric, line in zip(summary, lines[1:], strict=True)
    }
    assert rows == {
        "x width [µm]": ["6.071", "8.04"],
        "x pull std": ["0.9877", "–"],
        "y RMS [µm]": ["1.3", "1.97"],
    }
    assert len({len(line) for line in lines[:2]}) == 1  # right-aligned columns


def test_summary_table_without_baseline_has_two_columns():
    table = summary_table({"roc": {"auc": 0.91}}, [SummaryMetric("roc.auc", "AUC")], "tagger")
    assert table.splitlines() == ["metric  tagger", "AUC       0.91"]
