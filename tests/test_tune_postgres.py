"""A two-worker search on a real PostgreSQL server, started by the test from Debian's
``postgresql`` package (initdb, pg_ctl). Where none can be started the test fails
when ``CI`` is set (CI installs the package) and is skipped, with the reason, elsewhere.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from tune_files import space, tune_config

from smartml.tune.__main__ import main as tune_main
from smartml.tune.study import with_driver

pytestmark = pytest.mark.slow
SERVER_USER = "postgres"  # initdb and postgres refuse to run as root


def postgres_binary(name: str) -> str | None:
    """``name`` (initdb, pg_ctl) on PATH or in Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which(name)
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return found or (candidates[0] if candidates else None)


def as_server_user(command: list[str]) -> list[str]:
    """``command`` run as :data:`SERVER_USER` when we are root."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", SERVER_USER, "--", *command]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cannot_start(reason: str) -> None:
    message = f"no PostgreSQL server for the test: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must install Debian's postgresql package)")
    pytest.skip(message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway server on a free localhost port with an empty database ``tune``."""
    initdb, pg_ctl, createdb = (postgres_binary(n) for n in ("initdb", "pg_ctl", "createdb"))
    if not (initdb and pg_ctl and createdb):
        cannot_start("initdb/pg_ctl/createdb not on PATH nor in /usr/lib/postgresql/*/bin")
    root = Path(tempfile.mkdtemp(prefix="smartml-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, SERVER_USER)
    data, port = root / "data", free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    steps = [
        [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"],
        [pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"],
        [createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "tune"],
    ]
    started = False
    try:
        for step in steps:
            done = subprocess.run(as_server_user(step), capture_output=True, text=True)
            if done.returncode != 0:
                cannot_start(f"{Path(step[0]).name} failed: {done.stderr.strip()[-300:]}")
            started = started or step[0] == pg_ctl
        yield f"postgresql://postgres@127.0.0.1:{port}/tune"
    finally:
        if started:
            stop = [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]
            subprocess.run(as_server_user(stop), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_on_postgresql(tmp_path, postgres_url):
    objectives = [{"metric": "val_loss"}]
    path = tune_config(tmp_path, {"parameters": space(), "objectives": objectives})
    command = [str(path), "--trials", "3", "--workers", "2", "--storage", postgres_url]
    assert tune_main([*command, "--study", "pg"]) == 0
    study = optuna.load_study(study_name="pg", storage=with_driver(postgres_url))
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 3
    numbers = [trial.number for trial in study.trials]
    assert sorted(numbers) == list(range(len(numbers)))
    assert not (tmp_path / "run" / "tune" / "study.log").exists()  # not the journal
