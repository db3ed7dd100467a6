"""``python -m smartml.mem --scheduler``: the chunks run on a Dask scheduler's workers
(a ``dask scheduler`` and two ``dask worker`` processes on localhost here), and a
worker killed mid-run loses nothing: Dask reruns its chunk elsewhere, the output
equals a one-process run's, entry by entry."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import uproot
from mem_events import generated_like_events, write_events

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


def read_tree(path):
    branches = [
        mem_integration.WEIGHT_BRANCH,
        mem_integration.ERROR_BRANCH,
        mem_integration.STATUS_BRANCH,
    ]
    with uproot.open(path) as root_file:
        arrays = root_file[mem_integration.WEIGHT_TREE].arrays(branches, library="np")
    return [arrays[branch] for branch in branches]


@pytest.fixture
def cluster(tmp_path):
    """A scheduler on an ephemeral port and two one-thread workers without nannies
    (a killed worker stays dead); yields (address, {name: process}, a client)."""
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
            yield address, workers, client
    finally:
        for process in reversed(processes):
            process.kill()
            process.wait(30)


def test_a_killed_worker_loses_nothing_and_the_weights_are_those_of_one_process(cluster, tmp_path):
    address, workers, client = cluster
    events = write_events(
        tmp_path / "dy.root",
        generated_like_events(N_EVENTS, seed=5, resolutions=SETTINGS.resolutions),
    )
    alone = tmp_path / "alone.root"
    mem_integration.integrate_file(events, "events", alone, SETTINGS, chunk=CHUNK, progress=False)
    output = tmp_path / "weights.root"
    run = start(
        [sys.executable, "-m", "smartml.mem", str(events), "--output", str(output),
         "--scheduler", address, "--neval", "500", "--nitn-adapt", "2", "--nitn", "2",
         "--chunk", str(CHUNK), "--no-progress"],
        tmp_path / "run.log",
    )  # fmt: skip
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
    for branch_of_run, branch_alone in zip(read_tree(output), read_tree(alone), strict=True):
        np.testing.assert_array_equal(branch_of_run, branch_alone)
    assert len(read_tree(output)[0]) == N_EVENTS
