"""``python -m smartml.mem --scheduler``: the chunks run on a Dask scheduler's workers
(a ``dask scheduler`` and two ``dask worker`` processes on localhost here); a worker
killed mid-run loses nothing: Dask reruns its chunk elsewhere, the output equals a
one-process run's, entry by entry; a lost scheduler is one line, and the rerun resumes
with the chunks saved."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mem_events import generated_like_events, read_weights, write_events

import smartml
from smartml.collider import mem_integration
from smartml.collider.mem_settings import MemSettings

SETTINGS = MemSettings(neval=500, nitn_adapt=2, nitn=2)
N_EVENTS = 40
CHUNK = 4
PACKAGE_ROOT = Path(smartml.__file__).resolve().parents[1]


def start(command, log_path):
    """A process whose output goes to ``log_path``, importing this checkout's smartml."""
    environment = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    with log_path.open("w") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=PACKAGE_ROOT
        )


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen
    workers: dict[str, subprocess.Popen]
    client: Any


@pytest.fixture
def cluster(tmp_path):
    """A scheduler on an ephemeral port and two one-thread workers without nannies
    (a killed worker stays dead), with a client of the test's."""
    from distributed import Client

    scheduler_file = tmp_path / "scheduler.json"
    processes = [
        start(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1",
             "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
            tmp_path / "scheduler.log",
        )
    ]  # fmt: skip
    workers = {}
    try:
        wait_for(scheduler_file.exists, 60, "the scheduler's address")
        address = json.loads(scheduler_file.read_text())["address"]
        for name in ("worker-a", "worker-b"):
            workers[name] = start(
                [sys.executable, "-m", "dask", "worker", address, "--name", name,
                 "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
                tmp_path / f"{name}.log",
            )  # fmt: skip
            processes.append(workers[name])
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
            yield Cluster(address, processes[0], workers, client)
    finally:
        for process in reversed(processes):
            process.kill()
            process.wait(30)


def events_and_one_process_weights(directory):
    """A file of ``N_EVENTS`` events and their weights integrated in this process."""
    events = write_events(
        directory / "dy.root",
        generated_like_events(N_EVENTS, seed=5, resolutions=SETTINGS.resolutions),
    )
    alone = directory / "alone.root"
    mem_integration.integrate_file(events, "events", alone, SETTINGS, chunk=CHUNK, progress=False)
    return events, alone


def command(events, output, *options):
    return [
        sys.executable, "-m", "smartml.mem", str(events), "--output", str(output),
        "--neval", "500", "--nitn-adapt", "2", "--nitn", "2", "--chunk", str(CHUNK),
        "--no-progress", *options,
    ]  # fmt: skip


def test_a_killed_worker_loses_nothing_and_the_weights_are_those_of_one_process(cluster, tmp_path):
    address, workers, client = cluster.address, cluster.workers, cluster.client
    events, alone = events_and_one_process_weights(tmp_path)
    output = tmp_path / "weights.root"
    run = start(command(events, output, "--scheduler", address), tmp_path / "run.log")
    partial = mem_integration.partial_directory(output)
    try:
        wait_for(lambda: any(partial.glob("chunk-*.npz")), 120, "a finished chunk")
        # the victim: a worker that the scheduler has given a chunk to run right now
        names = {w["name"]: a for a, w in client.scheduler_info(n_workers=-1)["workers"].items()}
        busy = client.processing()
        victim = next(name for name in workers if busy.get(names[name]))
        running_then = busy[names[victim]]
        workers[victim].send_signal(signal.SIGKILL)
        assert run.wait(300) == 0, (tmp_path / "run.log").read_text()
    finally:
        run.kill()
    assert workers[victim].poll() == -signal.SIGKILL and running_then
    assert not partial.exists()
    printed = (tmp_path / "run.log").read_text()
    assert f"{output}: tree momemta, {N_EVENTS} events;" in printed
    assert f"{N_EVENTS} integrated in " in printed and f"ran chunks on {address})" in printed
    for branch_of_run, branch_alone in zip(read_weights(output), read_weights(alone), strict=True):
        np.testing.assert_array_equal(branch_of_run, branch_alone)
    assert len(read_weights(output)[0]) == N_EVENTS


def test_a_lost_scheduler_is_one_line_and_the_rerun_resumes(cluster, tmp_path):
    events, alone = events_and_one_process_weights(tmp_path)
    output = tmp_path / "weights.root"
    log = tmp_path / "run.log"
    run = start(command(events, output, "--scheduler", cluster.address), log)
    partial = mem_integration.partial_directory(output)
    try:
        wait_for(lambda: any(partial.glob("chunk-*.npz")), 120, "a finished chunk")
        cluster.scheduler.kill()
        assert run.wait(120) == 2, log.read_text()
    finally:
        run.kill()
    lines = log.read_text().splitlines()
    assert lines[-1].startswith(
        f"smartml.mem: error: --scheduler {cluster.address}: lost the Dask scheduler ("
    )
    assert lines[-1].endswith("); the finished chunks are saved: rerun to resume")
    saved = len(list(partial.glob("chunk-*.npz")))
    assert 0 < saved < N_EVENTS // CHUNK and not output.exists()
    rerun = subprocess.run(  # in this process now: the chunks resume on any engine
        command(events, output), capture_output=True, text=True, cwd=PACKAGE_ROOT, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"{N_EVENTS - saved * CHUNK} integrated in " in rerun.stdout
    for branch_of_run, branch_alone in zip(read_weights(output), read_weights(alone), strict=True):
        np.testing.assert_array_equal(branch_of_run, branch_alone)
