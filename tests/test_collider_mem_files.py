"""MEM weights of a ROOT file: aligned output, resume after a kill, workers (a Dask
LocalCluster), failures recorded per entry, the output checked before any work, bad
input and the ``python -m smartml.mem`` command line."""

import json
import re

import awkward as ak
import numpy as np
import pytest
import uproot
from analysis_samples import hzz_aliases
from mem_events import generated_like_events, read_weights, write_events
from ntuple_files import write_tree

from smartml import mem as mem_cli
from smartml.collider import matrix_element_method as mem
from smartml.collider import mem_integration
from smartml.collider.mem_integration import EventStatus
from smartml.errors import ConfigError, DataError, OutputError

SETTINGS = mem.MemSettings(neval=300, nitn_adapt=2, nitn=2)
N_EVENTS = 10


@pytest.fixture
def events_file(tmp_path):
    events = generated_like_events(N_EVENTS, seed=11, resolutions=SETTINGS.resolutions)
    events[3]["lep1_PT"] = float("nan")  # an invalid event: NaN weight, counted
    events[6].update(lep1_Eta=9.0, lep2_Eta=9.0)  # x₁ > 1: weight 0, counted
    return write_events(tmp_path / "dy.root", events)


def test_weights_are_aligned_with_the_input_entries(events_file, tmp_path):
    output = tmp_path / "out" / "weights.root"
    report = mem_integration.integrate_file(
        events_file, "events", output, SETTINGS, chunk=4, progress=False
    )
    weights, errors, status = read_weights(output)
    assert len(weights) == N_EVENTS == report.n_events == report.n_integrated
    assert status.dtype == np.int32
    with uproot.open(events_file) as root_file:
        inputs = root_file["events"].arrays(list(mem.MUON_BRANCHES), library="np")
    for entry in (0, 5, 9):  # each event's weight is its own integration, seeded by its entry
        event = {key: float(inputs[key][entry]) for key in mem.MUON_BRANCHES}
        assert (weights[entry], errors[entry]) == mem.mem_weight(event, SETTINGS, stream=entry)
    assert np.isnan(weights[3]) and weights[6] == 0.0
    assert (report.n_failed, report.failed_entries) == (2, (3, 6))
    assert status[3] == EventStatus.INVALID_INPUT and status[6] == EventStatus.NON_POSITIVE_WEIGHT
    assert report.status_counts == {
        EventStatus.OK: N_EVENTS - 2,
        EventStatus.INVALID_INPUT: 1,
        EventStatus.NON_POSITIVE_WEIGHT: 1,
    }
    assert [f.reason for f in report.failures] == ["lep1_PT = nan", "w = 0.0"]
    ok = np.delete(np.arange(N_EVENTS), [3, 6])
    assert np.all(weights[ok] > 0) and np.all(errors[ok] > 0) and np.all(status[ok] == 0)
    assert (report.workers, report.engine) == (1, "this process")
    assert not mem_integration.partial_directory(output).exists()
    assert sorted(p.name for p in output.parent.iterdir()) == ["weights.root"]


class FailingDensity:
    """The LO density, except that it raises (or returns NaN, as vegas then says
    ``integrand evaluates to nan``) for a dimuon of pT above 100 GeV in its rest frame:
    the high-mass events that the tests plant, not the others (pT ≤ 60 GeV)."""

    def __init__(self, failure):
        self.density = mem.DrellYanDensity()
        self.failure = failure

    def __call__(self, pt, eta1, eta2):
        if np.any(pt > 100.0):
            if self.failure == "nan":
                return np.full_like(pt, np.nan)
            raise ValueError("negative dimensions are not allowed")
        return self.density(pt, eta1, eta2)


def plant_high_mass_events(path, entries):
    """Rewrite the events file with back-to-back muons of pT 150 GeV at ``entries``."""
    with uproot.open(path) as root_file:
        arrays = root_file["events"].arrays(list(mem.MUON_BRANCHES), library="np")
    events = [{key: float(arrays[key][i]) for key in mem.MUON_BRANCHES} for i in range(N_EVENTS)]
    for entry in entries:
        events[entry].update(
            lep1_PT=150.0, lep1_Eta=0.1, lep1_Phi=0.3, lep2_PT=150.0, lep2_Eta=-0.2,
            lep2_Phi=0.3 - np.pi,
        )  # fmt: skip
    write_events(path, events)
    return events


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        ("raise", "ValueError: negative dimensions are not allowed"),
        ("nan", "integrand evaluates to nan"),
    ],
)
def test_an_event_whose_integration_fails_is_recorded_and_the_run_goes_on(
    events_file, tmp_path, failure, reason
):
    events = plant_high_mass_events(events_file, [2, 7])
    output = tmp_path / "weights.root"
    report = mem_integration.integrate_file(
        events_file, "events", output, SETTINGS, chunk=4, density=FailingDensity(failure),
        progress=False,
    )  # fmt: skip
    weights, errors, status = read_weights(output)
    expected_status = [0, 0, 2, 1, 0, 0, 3, 2, 0, 0]
    assert list(status) == expected_status
    assert np.isnan(weights[[2, 3, 7]]).all() and np.isnan(errors[[2, 3, 7]]).all()
    assert report.n_failed == 4 and report.failed_entries == (2, 3, 6, 7)
    assert report.status_counts == {
        EventStatus.OK: 6,
        EventStatus.INVALID_INPUT: 1,
        EventStatus.INTEGRATOR_ERROR: 2,
        EventStatus.NON_POSITIVE_WEIGHT: 1,
    }
    assert reason in report.failures[0].reason and reason in report.failures[3].reason
    for entry in (0, 5, 9):  # the others: the weight of the LO density, as if alone
        assert (weights[entry], errors[entry]) == mem.mem_weight(
            events[entry], SETTINGS, stream=entry
        )
    line = mem_cli.summary_line(output, report)
    assert f"{output}: tree momemta, 10 events, 4 failed (6 ok" not in line
    assert (
        "4 failed (1 invalid input, 2 integrator error, 1 non positive weight; "
        f"entry 2: integrator error ({report.failures[0].reason}); "
        "entry 3: invalid input (lep1_PT = nan); entry 6: non positive weight (w = 0.0); ...)"
    ) in line


def test_an_interrupt_is_not_recorded_as_a_failed_event(events_file, tmp_path):
    class Interrupting:
        def __call__(self, pt, eta1, eta2):
            raise KeyboardInterrupt

    output = tmp_path / "weights.root"
    with pytest.raises(KeyboardInterrupt):
        mem_integration.integrate_file(
            events_file, "events", output, SETTINGS, density=Interrupting(), progress=False
        )
    assert not output.exists()


def run_command(events_file, output, *options):
    return mem_cli.main(
        [str(events_file), "--output", str(output), "--no-progress", "--neval", "300",
         "--nitn-adapt", "2", "--nitn", "2", "--max-events", "3", *options]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("weights.h5", "weights.h5: expected a file name ending in .root"),
        ("folder.root", "folder.root: is a directory; expected a .root file"),
        ("existing.root", "existing.root: exists; give --overwrite to replace it"),
        ("a_file/weights.root", "a_file: is a file; expected a directory"),
        ("/sys/weights.root", "--output /sys: cannot write in /sys (Permission denied)"),
    ],
)
def test_the_output_is_refused_before_any_work(events_file, tmp_path, capsys, name, message):
    (tmp_path / "folder.root").mkdir()
    (tmp_path / "existing.root").write_text("an older result")
    (tmp_path / "a_file").write_text("not a folder")
    before = sorted(tmp_path.rglob("*"))
    status = run_command(events_file, tmp_path / name)
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith(
        "smartml.mem: error: --output "
    )
    assert message in captured.err
    assert sorted(tmp_path.rglob("*")) == before  # nothing created, not even a hidden folder
    assert (tmp_path / "existing.root").read_text() == "an older result"


def test_overwrite_replaces_an_output_but_never_the_input(events_file, tmp_path, capsys):
    output = tmp_path / "existing.root"
    output.write_text("an older result")
    assert run_command(events_file, output, "--overwrite") == 0
    assert list(read_weights(output)[2]) == [0, 0, 0]
    capsys.readouterr()
    assert run_command(events_file, events_file, "--overwrite") == 2
    assert "is the input file; choose another name" in capsys.readouterr().err
    assert uproot.open(events_file)["events"].num_entries == N_EVENTS


def test_a_failed_write_keeps_the_chunks_for_a_rerun_that_only_writes(
    events_file, tmp_path, monkeypatch
):
    output = tmp_path / "weights.root"
    real_save = mem_integration.save_chunk

    def save_then_block_the_output(partial, index, result):
        real_save(partial, index, result)
        if index == 2:  # the last chunk: something takes the output's name meanwhile
            output.mkdir()

    monkeypatch.setattr(mem_integration, "save_chunk", save_then_block_the_output)
    with pytest.raises(OutputError) as raised:
        mem_integration.integrate_file(
            events_file, "events", output, SETTINGS, chunk=4, progress=False
        )
    partial = mem_integration.partial_directory(output)
    assert str(raised.value) == (
        f"{output}: cannot write (Is a directory); the integrated chunks are kept in "
        f"{partial}: rerun the same command to write them without integrating again"
    )
    assert len(list(partial.glob("chunk-*.npz"))) == 3
    assert not list(tmp_path.glob(".weights.root.partial-*"))
    monkeypatch.undo()
    output.rmdir()
    report = mem_integration.integrate_file(
        events_file, "events", output, SETTINGS, chunk=4, progress=False
    )
    assert (report.n_events, report.n_integrated, report.failed_entries) == (10, 0, (3, 6))
    assert not partial.exists() and len(read_weights(output)[0]) == N_EVENTS


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
    for resumed_branch, whole_branch in zip(
        read_weights(resumed), read_weights(whole), strict=True
    ):
        np.testing.assert_array_equal(resumed_branch, whole_branch)
    assert report.failed_entries == (3, 6)  # the resumed chunks' failures are reported too
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


def test_a_local_cluster_of_two_workers_gives_the_weights_of_one_process(events_file, tmp_path):
    one, two = tmp_path / "one.root", tmp_path / "two.root"
    mem_integration.integrate_file(events_file, "events", one, SETTINGS, chunk=3, progress=False)
    report = mem_integration.integrate_file(
        events_file, "events", two, SETTINGS, workers=2, chunk=2, progress=False
    )
    for two_branch, one_branch in zip(read_weights(two), read_weights(one), strict=True):
        np.testing.assert_array_equal(two_branch, one_branch)
    assert report.engine == "a LocalCluster of 2 worker processes"
    assert 1 <= report.workers <= 2 and report.failed_entries == (3, 6)
    assert report.worker_seconds > 0


def test_command_line_writes_the_weight_tree(events_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SMARTML_PROGRESS", "1")  # the bar, as on a terminal
    output = tmp_path / "weights.root"
    status = mem_cli.main(
        [str(events_file), "--output", str(output), "--neval", "300", "--nitn-adapt", "2",
         "--nitn", "2", "--chunk", "4", "--max-events", "5"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0
    assert "5/5" in err and "event/s" in err  # the progress bar
    assert (
        f"{output}: tree momemta, 5 events, 1 failed (1 invalid input; "
        "entry 3: invalid input (lep1_PT = nan)); 5 integrated in " in out
    )
    assert "1 worker ran chunks in this process)" in out
    weights, _, status = read_weights(output)
    assert len(weights) == 5 and list(status) == [0, 0, 0, 1, 0]


def write_analysis_layouts(events_file, tmp_path):
    """The events of ``events_file`` as analyses store them: a flat tree with
    ``pt1, eta1, phi1, …`` and a jagged one with only ``Muon_Px/Py/Pz[]``, a third
    muon in every other event (which the aliases must not pick)."""
    with uproot.open(events_file) as root_file:
        muons = root_file["events"].arrays(list(mem.MUON_BRANCHES), library="np")
    flat = {
        f"{variable}{lepton}": muons[f"lep{lepton}_{name}"]
        for lepton in (1, 2)
        for variable, name in (("pt", "PT"), ("eta", "Eta"), ("phi", "Phi"))
    }
    pt, eta, phi = (
        np.stack([muons[f"lep1_{name}"], muons[f"lep2_{name}"]], axis=1)
        for name in ("PT", "Eta", "Phi")
    )
    counts = np.tile([2, 3], N_EVENTS // 2)
    jagged = {}
    for axis, values in (
        ("x", pt * np.cos(phi)),
        ("y", pt * np.sin(phi)),
        ("z", pt * np.sinh(eta)),
    ):
        with_third = [list(row) + [1.0] * (n - 2) for row, n in zip(values, counts, strict=True)]
        jagged[f"Muon_P{axis}"] = ak.Array(with_third)
    return write_tree(tmp_path / "flat.root", flat), write_tree(tmp_path / "jagged.root", jagged)


def test_aliases_read_flat_and_cartesian_files_as_the_generators_names(events_file, tmp_path):
    flat, jagged = write_analysis_layouts(events_file, tmp_path)
    aliases_file = tmp_path / "aliases.json"
    aliases_file.write_text(json.dumps(hzz_aliases()))  # pT, η, φ from Muon_Px/Py/Pz[i]
    renames = [f"lep{i}_{name}={variable}{i}" for i in (1, 2)
               for name, variable in (("PT", "pt"), ("Eta", "eta"), ("Phi", "phi"))]  # fmt: skip
    runs = {
        "generator": (events_file, []),
        "flat": (flat, [option for rename in renames for option in ("--branch", rename)]),
        "jagged": (jagged, ["--aliases", str(aliases_file)]),
    }
    results = {}
    for name, (path, options) in runs.items():
        assert run_command(path, tmp_path / f"weights_{name}.root", *options) == 0
        results[name] = read_weights(tmp_path / f"weights_{name}.root")
    for name in ("flat", "jagged"):
        assert list(results[name][2]) == list(results["generator"][2])  # the NaN event too
    np.testing.assert_array_equal(results["flat"][0], results["generator"][0])
    # pT, η, φ recomputed from px, py, pz differ from the originals in the last bits
    np.testing.assert_allclose(results["jagged"][0], results["generator"][0], rtol=1e-6)


def test_resuming_with_other_aliases_is_refused(events_file, tmp_path, monkeypatch):
    flat, _ = write_analysis_layouts(events_file, tmp_path)
    output = tmp_path / "w.root"
    renames = ["lep1_PT=pt1", "lep1_Eta=eta1", "lep1_Phi=phi1"]
    renames += ["lep2_PT=pt2", "lep2_Eta=eta2", "lep2_Phi=phi2"]
    options = [option for rename in renames for option in ("--branch", rename)]
    interrupt_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        mem_integration.integrate_file(
            flat, "events", output, SETTINGS, chunk=2, progress=False,
            aliases=mem_cli.aliases_from(mem_cli.parse_args([str(flat), "--output", "x.root", *options])),
        )  # fmt: skip
    swapped = {**dict(rename.split("=") for rename in renames), "lep1_PT": "pt2", "lep2_PT": "pt1"}
    with pytest.raises(ConfigError, match="started with other aliases"):
        mem_integration.integrate_file(
            flat, "events", output, SETTINGS, chunk=2, progress=False, aliases=swapped
        )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing.root"], "missing.root: no such ROOT file"),
        (["not_root.root"], "not_root.root: not a readable ROOT file"),
        (["dy.root", "--tree", "event"], "dy.root: no tree 'event'; trees in the file: events"),
        (["no_eta.root"], "no_eta.root: tree 'events': no branch 'lep2_Eta'; nearest: lep2_Et"),
        (
            ["no_eta.root", "--branch", "lep2_Eta=lep2_Eat"],
            "aliases.lep2_Eta: branch 'lep2_Eat' not in ",
        ),
        (["dy.root", "--branch", "lep3_PT=x"], "--branch: 'lep3_PT' is not read by the MEM"),
        (["dy.root", "--branch", "lep1_PT"], "--branch 'lep1_PT': expected NAME=BRANCH"),
        (["dy.root", "--aliases", "aliases.txt"], "aliases.txt: an aliases file must end in"),
        (["dy.root", "--neval", "5"], "--neval 5: input should be greater than or equal to 100"),
        (["dy.root", "--workers", "0"], "--workers 0: expected an integer ≥ 1"),
        (
            ["dy.root", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"],
            "--workers 2: the workers are those of --scheduler tcp://127.0.0.1:8786; give one",
        ),
        (
            ["dy.root", "--scheduler", "127.0.0.1"],
            "--scheduler 127.0.0.1: expected a Dask scheduler address tcp://host:port",
        ),
        (
            ["dy.root", "--scheduler", "tcp://127.0.0.1:port"],
            "--scheduler tcp://127.0.0.1:port: expected a Dask scheduler address",
        ),
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


def test_a_chunk_that_keeps_killing_workers_ends_the_run_after_the_others(events_file, tmp_path):
    from dask import config
    from mem_crash import ProcessKillingDensity

    plant_high_mass_events(events_file, [5])
    output = tmp_path / "weights.root"
    # allowed-failures 0: the first death of a worker running the chunk is its last
    with (
        config.set({"distributed.scheduler.allowed-failures": 0}),
        pytest.raises(DataError) as raised,
    ):
        mem_integration.integrate_file(
            events_file, "events", output, SETTINGS, workers=2, chunk=3,
            density=ProcessKillingDensity(), progress=False,
        )  # fmt: skip
    partial = mem_integration.partial_directory(output)
    # the chunk of entry 5, and any chunk that was queued on a worker it killed (a
    # worker's death counts against every chunk assigned to it)
    assert re.fullmatch(
        rf"{re.escape(str(events_file))}: the chunk\(s\) of entries (0-2, )?3-5(, \d-\d)* killed "
        r"more than 0 workers each \(distributed.scheduler.allowed-failures\); the other "
        rf"chunks are saved in {re.escape(str(partial))}: rerun the same command to retry "
        r"these, or a smaller --chunk to isolate the event",
        str(raised.value),
    )
    saved = {int(path.stem.split("-")[1]) for path in partial.glob("chunk-*.npz")}
    lost_events = sum(min(3, N_EVENTS - 3 * index) for index in set(range(4)) - saved)
    assert 1 not in saved and 0 < len(saved) and not output.exists()
    report = mem_integration.integrate_file(  # the rerun integrates the lost chunks only
        events_file, "events", output, SETTINGS, chunk=3, progress=False
    )
    assert (report.n_events, report.n_integrated) == (N_EVENTS, lost_events)


def test_an_unreachable_scheduler_is_one_line_before_any_work(
    events_file, tmp_path, capsys, monkeypatch
):
    import socket

    from smartml.collider import mem_engine

    monkeypatch.setattr(mem_engine, "CONNECT_SECONDS", 1.0)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    output = tmp_path / "weights.root"
    status = mem_cli.main(
        [str(events_file), "--output", str(output), "--no-progress", "--scheduler", address]
    )
    captured = capsys.readouterr()
    assert status == 2 and captured.err.count("\n") == 1
    assert captured.err.startswith(
        f"smartml.mem: error: --scheduler {address}: cannot connect to the Dask scheduler "
        "within 1 s ("
    )
    assert captured.err.endswith("); is it running?\n")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dy.root"]  # nothing left
