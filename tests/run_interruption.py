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


def latest_backup_after(reference: Path, backup: Path) -> int | None:
    """The newest modification time (ns) in ``backup`` if it is later than that of
    ``reference``, else None."""
    try:
        since = reference.stat().st_mtime_ns
        newest = max((path.stat().st_mtime_ns for path in backup.rglob("*")), default=0)
    except FileNotFoundError:  # written or renamed while we look
        return None
    return newest if newest > since else None


def killed_and_resumed(command: list[str], run: Path, cwd: Path) -> subprocess.CompletedProcess:
    """Start ``command`` (a training of ``run``), SIGKILL it once epoch 0 is logged
    and a complete BackupAndRestore backup of epoch 1 exists (the second one written
    after epoch 0 ended: the first is then whole), then run the same command again
    and return that process."""
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline, first_backup = time.monotonic() + 300, None
    while time.monotonic() < deadline and process.poll() is None:
        if history_epochs(run) == [0]:
            newest = latest_backup_after(run / "history.csv", run / "backup")
            if first_backup is None:
                first_backup = newest
            elif newest is not None and newest > first_backup:
                break
        time.sleep(0.02)
    assert process.poll() is None, "training ended before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run / "COMPLETE.json").exists()
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
