"""Where a result came from: the software and machine that made it.

:func:`provenance` is recorded in run.json (training's start), COMPLETE.json,
metrics.json (each evaluation) and report.json (each export): smartml's version, the
git commit of its source when it runs from a checkout, Python and the libraries whose
versions change numbers (TensorFlow, tf_keras, QKeras, hls4ml, da4ml, numpy), the host
and the device. :func:`version_differences` says, in one line, how the software now
running differs from the one a run recorded, so that ``smartml evaluate`` and
``smartml export`` can warn before they report numbers made by other code.

>>> recorded = {"smartml": "0.1.0", "packages": {"numpy": "2.1.0", "qkeras": "0.9.0"}}
>>> now = {"smartml": "0.2.0", "packages": {"numpy": "2.1.0", "qkeras": "0.9.0"}}
>>> version_differences(recorded, now)
'smartml 0.1.0 -> 0.2.0'
>>> version_differences(recorded, recorded) is None
True
"""

from __future__ import annotations

import platform
import socket
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

# The distributions whose versions can change a trained model, its metrics or its firmware.
PACKAGES = ("tensorflow", "tf_keras", "qkeras", "hls4ml", "da4ml", "numpy")
GIT_TIMEOUT_S = 5


def provenance(device: str | None = None) -> dict[str, Any]:
    """What made a result, as JSON-able data.

    Args:
        device: the device the work ran on (``cpu``, ``gpu:0``), when there is one.

    Returns:
        ``{"smartml", "git_commit", "python", "packages", "host", "platform"[, "device"]}``;
        ``git_commit`` is None outside a git checkout and ends in ``+dirty`` when the
        checkout has uncommitted changes.
    """
    from smartml import __version__

    record: dict[str, Any] = {
        "smartml": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
    }
    if device is not None:
        record["device"] = device
    return record


def package_versions() -> dict[str, str | None]:
    """Installed version of each of :data:`PACKAGES` (None when not installed); read
    from the installed metadata, so nothing is imported."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@cache
def git_commit() -> str | None:
    """The commit of the smartml source in use, when it is a git checkout (an editable
    install); ``+dirty`` marks uncommitted changes. None otherwise (an installed wheel,
    or no git)."""
    source = Path(__file__).resolve().parents[2]
    if not (source / ".git").exists():
        return None
    try:
        commit = _git(source, "rev-parse", "HEAD")
        dirty = _git(source, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit


def version_differences(recorded: dict[str, Any], current: dict[str, Any]) -> str | None:
    """How ``current`` software differs from ``recorded``: ``"smartml 0.1.0 -> 0.2.0,
    tensorflow 2.21.0 -> 2.22.0"``; None when smartml and every recorded package
    agree (host, device and the git commit are not compared)."""
    changes = []
    if recorded.get("smartml") != current.get("smartml"):
        changes.append(f"smartml {recorded.get('smartml')} -> {current.get('smartml')}")
    before, now = recorded.get("packages", {}), current.get("packages", {})
    for name in sorted(set(before) | set(now)):
        if before.get(name) != now.get(name):
            changes.append(f"{name} {before.get(name)} -> {now.get(name)}")
    return ", ".join(changes) or None


def describe_version_change(recorded: dict[str, Any] | None, what: str) -> str | None:
    """The one-line warning for ``what`` (e.g. ``runs/x``) made by other software than
    the one running now; None when it matches or recorded nothing."""
    if not recorded:
        return None
    changes = version_differences(recorded, provenance())
    if changes is None:
        return None
    return f"{what} was made by other software ({changes}); its numbers may differ"


def _git(source: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(source), *args],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=True,
    )
    return result.stdout.strip()
