"""What tells that a file is still the one a run read: its content identity.

The sha256 of a local file's bytes (cached for large files under the smartml cache,
keyed by path, size, modification time and inode, so that a multi-GB file is not read
again at every check); of a remote ROOT file, which would have to be read whole for
that, its UUID and length (ROOT writes a new UUID into every file it creates).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from smartml.data.cache import cache_root
from smartml.errors import DataError, SmartmlError
from smartml.files import file_sha256, write_json_atomic
from smartml.locations import Location, is_remote
from smartml.ntuples.remote_files import open_remote

log = logging.getLogger(__name__)

# Files from this size on have their sha256 cached (smaller ones are hashed each time).
CACHED_HASH_MIN_BYTES = 64 << 20
HASH_CACHE_KIND = "file-hashes"


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
        with open_remote(str(location)) as opened:
            return content_identity(location, opened.file)
    return f"ROOT UUID {root_file.uuid}, {root_file.fEND} bytes"


def _cached_sha256(path: Path) -> str:
    """The sha256 of a local file; of a large one, taken from the hash cache when the
    file's path, size, modification time and inode are those it was hashed with."""
    try:
        stat = path.stat()
    except OSError:
        return file_sha256(path, DataError)  # names the file in one line
    if stat.st_size < CACHED_HASH_MIN_BYTES:
        return file_sha256(path, DataError)
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
