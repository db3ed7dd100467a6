"""MEM weights of a ROOT file: aligned output, resume after a kill, workers, bad input
and the ``python -m smartml.mem`` command line."""

import numpy as np
import pytest
import uproot
from mem_events import generated_like_events, write_events

from smartml import mem as mem_cli
from smartml.collider import matrix_element_method as mem
from smartml.collider import mem_integration
from smartml.errors import ConfigError, DataError

SETTINGS = mem.MemSettings(neval=300, nitn_adapt=2, nitn=2)
N_EVENTS = 10


@pytest.fixture
def events_file(tmp_path):
    events = generated_like_events(N_EVENTS, seed=11, resolutions=SETTINGS.resolutions)
    events[3]["lep1_PT"] = float("nan")  # an invalid event: NaN weight, counted
    events[6].update(lep1_Eta=9.0, lep2_Eta=9.0)  # x₁ > 1: weight 0, counted
    return write_events(tmp_path / "dy.root", events)


def read_weights(path):
    with uproot.open(path) as root_file:
        tree = root_file[mem_integration.WEIGHT_TREE]
        arrays = tree.arrays(
            [mem_integration.WEIGHT_BRANCH, mem_integration.ERROR_BRANCH], library="np"
        )
        return arrays[mem_integration.WEIGHT_BRANCH], arrays[mem_integration.ERROR_BRANCH]


def test_weights_are_aligned_with_the_input_entries(events_file, tmp_path):
    output = tmp_path / "out" / "weights.root"
    report = mem_integration.integrate_file(
        events_file, "events", output, SETTINGS, chunk=4, progress=False
    )
    weights, errors = read_weights(output)
    assert len(weights) == N_EVENTS == report.n_events == report.n_integrated
    with uproot.open(events_file) as root_file:
        inputs = root_file["events"].arrays(list(mem.MUON_BRANCHES), library="np")
    for entry in (0, 5, 9):  # each event's weight is its own integration, seeded by its entry
        event = {key: float(inputs[key][entry]) for key in mem.MUON_BRANCHES}
        assert (weights[entry], errors[entry]) == mem.mem_weight(event, SETTINGS, stream=entry)
    assert np.isnan(weights[3]) and weights[6] == 0.0
    assert (report.n_failed, report.failed_entries) == (2, (3, 6))
    ok = np.delete(np.arange(N_EVENTS), [3, 6])
    assert np.all(weights[ok] > 0) and np.all(errors[ok] > 0)
    assert not mem_integration.partial_directory(output).exists()
    assert sorted(p.name for p in output.parent.iterdir()) == ["weights.root"]


def interrupt_after(monkeypatch, n_chunks):
    """Make the run stop (as ^C would) once ``n_chunks`` chunks are saved."""
    saved = []
    real_save = mem_integration.save_chunk

    def save_then_stop(*args):
        real_save(*args)
        saved.append(args[1])
        if len(saved) == n_chunks:
            raise KeyboardInterrupt

    monkeypatch.setattr(mem_integration, "save_chunk", save_then_stop)
    return saved


def test_resumed_run_gives_the_file_of_one_run(events_file, tmp_path, monkeypatch):
    whole = tmp_path / "whole.root"
    mem_integration.integrate_file(events_file, "events", whole, SETTINGS, chunk=3, progress=False)
    resumed = tmp_path / "resumed.root"
    interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        mem_integration.integrate_file(
            events_file, "events", resumed, SETTINGS, chunk=3, progress=False
        )
    partial = mem_integration.partial_directory(resumed)
    assert sorted(p.name for p in partial.glob("chunk-*")) == [
        "chunk-000000.npz",
        "chunk-000001.npz",
    ]
    assert not resumed.exists()
    monkeypatch.undo()
    report = mem_integration.integrate_file(
        events_file, "events", resumed, SETTINGS, chunk=3, progress=False
    )
    assert (report.n_events, report.n_integrated) == (N_EVENTS, N_EVENTS - 6)
    np.testing.assert_array_equal(read_weights(resumed)[0], read_weights(whole)[0])
    np.testing.assert_array_equal(read_weights(resumed)[1], read_weights(whole)[1])
    assert not partial.exists()


def test_resume_refuses_a_changed_input_or_settings(events_file, tmp_path, monkeypatch):
    output = tmp_path / "weights.root"
    interrupt_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        mem_integration.integrate_file(
            events_file, "events", output, SETTINGS, chunk=4, progress=False
        )
    monkeypatch.undo()
    other_settings = SETTINGS.model_copy(update={"neval": 400})
    with pytest.raises(ConfigError, match=r"started with other settings; rerun with the same"):
        mem_integration.integrate_file(
            events_file, "events", output, other_settings, chunk=4, progress=False
        )
    events = generated_like_events(N_EVENTS, seed=12, resolutions=SETTINGS.resolutions)
    write_events(events_file, events)
    with pytest.raises(DataError, match=r"dy.root: the file changed since the unfinished run"):
        mem_integration.integrate_file(
            events_file, "events", output, SETTINGS, chunk=4, progress=False
        )


def test_two_workers_give_the_weights_of_one(events_file, tmp_path):
    one, two = tmp_path / "one.root", tmp_path / "two.root"
    mem_integration.integrate_file(events_file, "events", one, SETTINGS, chunk=3, progress=False)
    mem_integration.integrate_file(
        events_file, "events", two, SETTINGS, workers=2, chunk=3, progress=False
    )
    np.testing.assert_array_equal(read_weights(two)[0], read_weights(one)[0])
    np.testing.assert_array_equal(read_weights(two)[1], read_weights(one)[1])


def test_command_line_writes_the_weight_tree(events_file, tmp_path, capsys):
    output = tmp_path / "weights.root"
    status = mem_cli.main(
        [str(events_file), "--output", str(output), "--neval", "300", "--nitn-adapt", "2",
         "--nitn", "2", "--chunk", "4", "--max-events", "5"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0
    assert "5/5" in err and "event/s" in err  # the progress bar
    assert (
        f"{output}: tree momemta, 5 events (1 with a zero or non-finite weight: entries 3)" in out
    )
    assert len(read_weights(output)[0]) == 5


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing.root"], "missing.root: input file not found"),
        (["not_root.root"], "not_root.root: cannot read as a ROOT file"),
        (
            ["dy.root", "--tree", "event"],
            "dy.root: no tree 'event'; the file holds the trees ['events']",
        ),
        (["no_eta.root"], "no_eta.root: tree 'events' has no branch 'lep2_Eta'; nearest: lep2_Et"),
        (["dy.root", "--neval", "5"], "--neval 5: input should be greater than or equal to 100"),
        (["dy.root", "--workers", "0"], "--workers 0: expected an integer ≥ 1"),
    ],
)
def test_bad_input_is_one_line(events_file, tmp_path, capsys, arguments, message):
    (tmp_path / "not_root.root").write_text("not a ROOT file")
    renamed = generated_like_events(2, seed=1, resolutions=SETTINGS.resolutions)
    for event in renamed:
        event["lep2_Et"] = event.pop("lep2_Eta")
    write_events(tmp_path / "no_eta.root", renamed)
    name, *options = arguments
    output = tmp_path / "weights.root"
    status = mem_cli.main(
        [str(tmp_path / name), "--output", str(output), "--no-progress", *options]
    )
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("smartml.mem: error: ")
    assert message in captured.err
    assert not output.exists()
