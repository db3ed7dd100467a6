"""Killing a training process in the middle of its second epoch, for resume tests."""

import csv
import signal
import subprocess
import time
from pathlib import Path


def history_epochs(run: Path) -> list[int]:
    """The epochs history.csv holds, in order."""
    if not (run / "history.csv").is_file():
        return []
    with (run / "history.csv").open() as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def backed_up_since(reference: Path, backup: Path) -> bool:
    """Whether a complete BackupAndRestore backup was written after ``reference``
    changed: TensorFlow's CheckpointManager rewrites its ``checkpoint`` index file
    (atomically) only once a checkpoint's files are all written."""
    try:
        since = reference.stat().st_mtime_ns
        return any(index.stat().st_mtime_ns > since for index in backup.rglob("checkpoint"))
    except FileNotFoundError:  # written or renamed while we look
        return False


def killed_and_resumed(command: list[str], run: Path, cwd: Path) -> subprocess.CompletedProcess:
    """Start ``command`` (a training of ``run``), SIGKILL it once epoch 0 is logged
    and a complete BackupAndRestore backup of epoch 1 exists, then run the same
    command again and return that process."""
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if history_epochs(run) == [0] and backed_up_since(run / "history.csv", run / "backup"):
            break
        time.sleep(0.02)
    assert process.poll() is None, "training ended before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run / "COMPLETE.json").exists()
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
