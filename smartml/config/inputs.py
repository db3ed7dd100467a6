"""The files a run reads: resolved to absolute paths, recorded, checked for changes.

A configuration names its input files by path (``data.files``, ``data.features``,
``data.pmt_positions``, ...). Every such key is typed :data:`InputPath`: validating
the configuration makes a relative path absolute against the working directory (the
directory the command runs in, as before; ``~`` is expanded) and leaves a URL
(``root://``, ``https://``) as it is. A run's config.json therefore names the very
files it read, and the run can be evaluated from any directory.

What a run reads is declared by its data section (``input_files()`` of the task's
schema: the keys it reads in its ``source``) as :class:`NamedInput` entries. When a
run starts, :func:`record_inputs` keeps for each key its patterns and every file they
matched, with its size and content identity (:func:`content_identity`: the sha256
of a local file, the ROOT UUID and length of a remote one). :func:`input_change`
later compares the files on disk with that record: a changed, missing, added or
removed file is described in one line naming the key and the file.

>>> import tempfile
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

import glob
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from smartml.errors import DataError, SmartmlError
from smartml.files import expand_patterns, file_sha256, write_json_atomic
from smartml.locations import Location, as_location, is_remote

log = logging.getLogger(__name__)

# Files at least this large have their sha256 cached (keyed by path, size, mtime and
# inode), so that evaluating a run on hundreds of GB does not read them all again.
CACHED_HASH_MIN_BYTES = 64 << 20
HASH_CACHE_KIND = "file-hashes"


def resolve_location(value: str) -> str:
    """A configured path made absolute (``~`` expanded, ``..`` folded); a URL as it is.

    >>> resolve_location("root://eos.cern.ch//store/a.root")
    'root://eos.cern.ch//store/a.root'
    >>> resolve_location("/data/rich/../na62/*.h5")
    '/data/na62/*.h5'
    >>> resolve_location("f.yaml") == os.path.join(os.getcwd(), "f.yaml")
    True
    """
    if is_remote(value):
        return value
    return os.path.abspath(os.path.expanduser(value))


# A configuration key naming a file, a glob, a directory or a URL (see the module
# docstring); validated to its absolute form.
InputPath = Annotated[str, Field(min_length=1), AfterValidator(resolve_location)]


@dataclass(frozen=True)
class NamedInput:
    """The files one configuration key names.

    Args:
        key: the dotted key, as in messages (``data.samples[signal].files``).
        patterns: absolute paths, globs or URLs (as validated by :data:`InputPath`).
        evaluation: whether evaluation and export read them too (the data do; the
            initial weights are read by training only).
    """

    key: str
    patterns: tuple[str, ...]
    evaluation: bool = True


def named_file(key: str, path: str, evaluation: bool = True) -> NamedInput:
    """One file by its name, not a glob (``[`` in a name is no pattern).

    >>> named_file("data.features", "/cfg/f[1].yaml").patterns
    ('/cfg/f[[]1].yaml',)
    """
    return NamedInput(key, (path if is_remote(path) else glob.escape(path),), evaluation)


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


def content_identity(location: Location, root_file: Any = None) -> str:
    """What tells that a file is still the one a run read: ``sha256:<hex>`` of a
    local file's bytes (cached for large files, see :data:`CACHED_HASH_MIN_BYTES`);
    of a remote one, which would have to be read whole for that, the ROOT file's UUID
    and length (ROOT writes a new UUID into every file it creates).

    Args:
        location: a local path, or a URL of a ROOT file.
        root_file: the remote file already opened (uproot's ReadOnlyFile; else it is
            opened).

    Raises:
        DataError: one line naming the file or URL when it cannot be read.
    """
    if not is_remote(location):
        return "sha256:" + _cached_sha256(Path(location))
    if root_file is None:
        from smartml.ntuples.remote_files import open_remote

        with open_remote(str(location)) as opened:
            return content_identity(location, opened.file)
    return f"ROOT UUID {root_file.uuid}, {root_file.fEND} bytes"


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


def _cached_sha256(path: Path) -> str:
    """The sha256 of a local file; of a large one, taken from the hash cache when the
    file's path, size, modification time and inode are those it was hashed with."""
    try:
        stat = path.stat()
    except OSError:
        return file_sha256(path, DataError)  # names the file in one line
    if stat.st_size < CACHED_HASH_MIN_BYTES:
        return file_sha256(path, DataError)
    from smartml.data.cache import cache_root

    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}"
    entry = cache_root(kind=HASH_CACHE_KIND) / f"{hashlib.sha256(key.encode()).hexdigest()}.json"
    try:
        cached = json.loads(entry.read_text())
        if cached.get("key") == key:
            return str(cached["sha256"])
    except (OSError, ValueError, AttributeError, KeyError):
        pass  # not cached yet, or damaged: hashed again below
    log.info("hashing %s (%.1f GB) for the run's record of its inputs", path, stat.st_size / 1e9)
    digest = file_sha256(path, DataError)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(entry, {"key": key, "sha256": digest})
    except (OSError, SmartmlError) as err:
        log.info("hash of %s not cached (%s)", path, err)  # the next check reads it again
    return digest
