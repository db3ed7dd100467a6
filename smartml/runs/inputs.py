"""A run's record of its input files (run.json ``inputs``) and the check that they
are still the ones it read.

When a run starts, :func:`record_inputs` keeps for each declared key
(:class:`~smartml.config.inputs.NamedInput`) its patterns and every file they matched,
with its size and content identity (:func:`~smartml.ntuples.file_identity.content_identity`).
:func:`input_change` later compares the files on disk with that record: a changed,
missing, added or removed file is described in one line naming the key and the file.

>>> import tempfile
>>> from pathlib import Path
>>> table = Path(tempfile.mkdtemp()) / "table.txt"
>>> _ = table.write_text("1 2 3")
>>> record = record_inputs([NamedInput("data.table", (str(table),))])
>>> input_change(record) is None
True
>>> _ = table.write_text("1 2 4")
>>> input_change(record).startswith(f"data.table file {table} changed since the run was")
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from smartml.config.inputs import NamedInput
from smartml.errors import DataError
from smartml.files import expand_patterns
from smartml.locations import Location, as_location, is_remote
from smartml.ntuples.file_identity import content_identity

__all__ = ["NamedInput", "input_change", "record_inputs"]


def record_inputs(inputs: Sequence[NamedInput]) -> dict[str, Any]:
    """What a run records of its inputs: key -> patterns, whether evaluation reads
    them, and each matched file's path, size (None for a URL: its length is in its
    identity) and :func:`content_identity`.

    A pattern that matches nothing is recorded as such: the task that reads it names
    it in its own error.
    """
    return {
        named.key: {
            "patterns": list(named.patterns),
            "evaluation": named.evaluation,
            "files": [_file_record(location) for location in _matched(named.patterns, named.key)],
        }
        for named in inputs
    }


def input_change(recorded: Mapping[str, Any], evaluation_only: bool = False) -> str | None:
    """The first difference between the inputs ``recorded`` by :func:`record_inputs`
    and the files there now, in words (``data.features file /a/f.yaml changed since
    the run was trained (sha256 ab12… -> cd34…)``); None when there is none.

    Args:
        recorded: the record (run.json's ``inputs``).
        evaluation_only: check only the inputs evaluation reads.
    """
    for key, entry in recorded.items():
        if evaluation_only and not entry.get("evaluation", True):
            continue
        then = {file["path"]: file for file in entry["files"]}
        now = [str(location) for location in _matched(entry["patterns"], key)]
        matched_now = set(now)
        for path in then:
            if path not in matched_now:
                return f"{key} file {path} is missing (the run was trained with it)"
        for path in now:
            if path not in then:
                return f"{key} file {path} was added since the run was trained (it matches now)"
        for path, old in then.items():
            difference = _content_difference(old, _file_record(as_location(path)))
            if difference:
                return f"{key} file {path} changed since the run was trained ({difference})"
    return None


def _matched(patterns: Sequence[str], key: str) -> list[Location]:
    """The files ``patterns`` match now, in order, each once; none for a pattern that
    matches nothing."""
    files: list[Location] = []
    for pattern in patterns:
        try:
            matches = expand_patterns([pattern], key)
        except DataError:
            matches = []
        files += [match for match in matches if match not in files]
    return files


def _file_record(location: Location) -> dict[str, Any]:
    identity = content_identity(location)
    size = os.stat(location).st_size if not is_remote(location) else None
    return {"path": str(location), "size": size, "identity": identity}


def _content_difference(old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    """``sha256 ab12… -> cd34…`` (a remote file: its identities) when two records of a
    file differ."""
    before, after = old["identity"], new["identity"]
    if before == after:
        return None
    hashes = [identity.removeprefix("sha256:") for identity in (before, after)]
    if all(identity.startswith("sha256:") for identity in (before, after)):
        return f"sha256 {hashes[0][:12]}… -> {hashes[1][:12]}…"
    return f"{before} -> {after}"
