"""Progress bars on long work (issue 24): drawn on stderr only on a terminal (or when
SMARTML_PROGRESS=1), never in pipes and logs, with smartml's log lines kept whole;
tested here with a forced terminal."""

import io
import logging
import sys

from ntuple_files import event_branches, write_tree

from smartml import console
from smartml.inspect import main as inspect_main
from smartml.tasks.rich_pid.schema import RichSimulationConfig
from smartml.tasks.rich_pid.simulator import write_dataset


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def as_terminal(monkeypatch) -> Terminal:
    """stderr becomes a terminal whose output the test reads back (set in the test's
    body: pytest's capture replaces sys.stderr again after fixtures)."""
    monkeypatch.delenv(console.PROGRESS_VARIABLE, raising=False)
    stream = Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    return stream


def test_a_bar_on_a_terminal_counts_to_the_total_and_keeps_log_lines_whole(monkeypatch):
    terminal = as_terminal(monkeypatch)
    log = logging.getLogger("smartml.test_progress")
    log.setLevel(logging.INFO)
    with console.progress(10, "event", "working") as bar:
        bar.update(4)
        log.info("halfway there")
        bar.update(6)
    text = terminal.getvalue()
    assert "working" in text and "100%" in text and "10/10" in text
    assert "halfway there\n" in text
    line = next(line for line in text.replace("\r", "\n").split("\n") if "halfway" in line)
    assert line.strip() == "halfway there"  # the bar did not write into the log line


def test_no_bar_in_a_pipe_or_when_switched_off(monkeypatch):
    terminal = as_terminal(monkeypatch)
    monkeypatch.setenv(console.PROGRESS_VARIABLE, "0")
    with console.progress(5, "event", "quiet") as bar:
        bar.update(5)
    assert terminal.getvalue() == ""
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    monkeypatch.delenv(console.PROGRESS_VARIABLE)
    assert not console.progress_enabled()
    monkeypatch.setenv(console.PROGRESS_VARIABLE, "1")
    assert console.progress_enabled()


def test_the_rich_simulator_shows_its_progress(monkeypatch, tmp_path):
    terminal = as_terminal(monkeypatch)
    config = RichSimulationConfig.model_validate({"n_events": 600, "events_per_file": 250})
    write_dataset(config, tmp_path / "dataset")
    text = terminal.getvalue()
    assert "simulating RICH events" in text and "600/600" in text


def test_inspect_of_a_root_file_shows_its_progress(monkeypatch, tmp_path, capsys):
    path = write_tree(tmp_path / "f.root", event_branches(500, seed=1))
    terminal = as_terminal(monkeypatch)
    assert inspect_main([str(path), "--step", "100"]) == 0
    text = terminal.getvalue()
    assert "reading events" in text and "500/500" in text
    assert "Jet_Eta" in capsys.readouterr().out  # the summary itself still on stdout
