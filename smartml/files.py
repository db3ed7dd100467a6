"""Files written whole or not at all, and JSON objects read with one-line errors.

A crash (or Ctrl-C, or a full disk) must never leave a file or a directory that
looks finished but is not: :func:`atomic_file` (used by smartml's writers of a
file, :func:`write_json_atomic` among them) yields a temporary file beside the
destination and renames it into place; :func:`publish_directory` does the same for a
whole directory (a simulated dataset, a firmware project). A rename within one file
system is atomic, so a reader sees the old content or the new, never half.

A writer killed half-way (``kill -9``, a crash) cannot remove its temporary file or
staging directory. Its name says who wrote it,
``.<name>.partial-<pid>+<host>+<random>[<suffixes of name>]``, so the next write into
the same parent removes it once it is provably stale: written on this host by a
process that no longer exists. Entries of a live process, or of another host (a
shared file system), are never touched.

What smartml publishes gets the mode a plain ``open()`` or ``mkdir()`` would give
under the process's umask (the temporaries are created private, 0600 and 0700), so
colleagues can read a shared run or project when the umask lets them.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> write_json_atomic(root / "settings.json", {"bits": 8})
>>> read_json_object(root / "settings.json", "settings file")
{'bits': 8}
>>> with publish_directory(root / "dataset", what="the dataset") as staging:
...     _ = (staging / "part.0.txt").write_text("rows")
>>> sorted(p.name for p in root.iterdir())
['dataset', 'settings.json']
"""

import glob
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from smartml.errors import ConfigError, SmartmlError

log = logging.getLogger(__name__)

# A staging (or swapped-out) directory: .<destination>.<partial|old>-<pid>+<host>+<random>
_TAGGED = re.compile(r"\..+\.(?:partial|old)-(?P<pid>\d+)\+(?P<host>[A-Za-z0-9._-]+)\+[^+/]*")


def _reason(error: OSError) -> str:
    """The one-line cause of an OSError ('Permission denied', 'No space left ...')."""
    return error.strerror or (str(error).splitlines() or [type(error).__name__])[0]


def read_text_file(path: Path, what: str, error: type[SmartmlError] = SmartmlError) -> str:
    """The UTF-8 text of ``path``; one line naming the file and ``what`` it is when it
    is missing, a directory, unreadable or not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, expected the {what}") from None
    except OSError as err:
        raise error(f"{path}: cannot read the {what} ({_reason(err)})") from None
    except UnicodeDecodeError:
        raise error(f"{path}: the {what} is not UTF-8 text") from None


def read_json_object(
    path: str | Path, what: str, error: type[SmartmlError] = SmartmlError
) -> dict[str, Any]:
    """Read a file that must hold one JSON object.

    Args:
        path: the file.
        what: what the file is, for the message (e.g. ``"normalisation file"``).
        error: the :class:`~smartml.errors.SmartmlError` subclass to raise.

    Returns:
        The object as a dict (NaN and Infinity literals are accepted, as by
        :func:`json.loads`; callers that need finite numbers check their keys).

    Raises:
        error: one line naming the file when it is missing, unreadable, not JSON or
            not a JSON object.
    """
    path = Path(path)
    text = read_text_file(path, what, error)
    try:
        content = json.loads(text)
    except json.JSONDecodeError as err:
        raise error(f"{path}: cannot read the {what}: not valid JSON ({err})") from None
    if not isinstance(content, dict):
        raise error(f"{path}: expected a JSON object ({what}), found a {type(content).__name__}")
    return content


def write_json_atomic(
    path: str | Path, content: Any, error: type[SmartmlError] = SmartmlError
) -> None:
    """Write ``content`` as indented, standard JSON, replacing ``path`` atomically.

    Args:
        path: the destination; its directory must exist.
        content: JSON-serialisable data without NaN or inf (not standard JSON).
        error: the :class:`~smartml.errors.SmartmlError` subclass to raise.

    Raises:
        error: one line naming the file when it cannot be written.
        ValueError: ``content`` holds NaN/inf or is not JSON-serialisable.
    """
    text = json.dumps(content, indent=2, allow_nan=False) + "\n"
    with atomic_file(path, error) as temporary, temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())  # the data reach the disk before the rename does


# Guards the set-and-restore fallback of _umask: two threads doing it at once could
# restore each other's temporary value and leave the process with the wrong umask.
_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it.

    ``os.umask`` is process-global and can only be read by setting it; a file another
    thread creates between the set and the restore gets the temporary mask. Linux
    (4.7 and later) shows the value in ``/proc/self/status``; elsewhere it is set and
    restored under :data:`_UMASK_LOCK`. It is read at every write rather than once, so
    a program (or a test) that changes its umask is followed.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass  # not Linux, or an older kernel: set and restore below
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _publishable(path: Path, directory: bool = False) -> None:
    """Give a private temporary the mode ``open()``/``mkdir()`` would give it."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextmanager
def atomic_file(
    destination: str | Path,
    error: type[SmartmlError] = SmartmlError,
    what: str = "",
    hint: str = "",
    parents: bool = False,
) -> Iterator[Path]:
    """A hidden temporary file beside ``destination``, renamed onto it when the block
    ends without an exception and removed otherwise (also on ^C).

    The temporary is named after its writer (see the module docstring) and ends with
    the destination's suffixes (Keras picks a weights format from them); stale
    temporaries of killed writers beside it are removed first
    (:func:`remove_stale_staging`). Before the rename it gets the mode a plain
    ``open()`` would give under the umask.

    Args:
        destination: the file to create or replace.
        error: the :class:`~smartml.errors.SmartmlError` subclass to raise.
        what: what is written, for the message (e.g. ``"the ntuple"``).
        hint: appended to the message (e.g. what the user can do about it).
        parents: create the destination's missing parent directories.

    Returns:
        A context manager yielding the (empty, existing) temporary file's path.

    Raises:
        error: one line, ``<destination>: cannot write[ <what>] (<reason>)<hint>``, on
            any OSError creating, writing (inside the block) or renaming the file.
    """
    destination = Path(destination)
    message = f"{destination}: cannot write{f' {what}' if what else ''}"
    temporary = None
    try:
        if parents:
            destination.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(destination.parent)
        handle, name = tempfile.mkstemp(
            prefix=_writer_prefix(destination, "partial"),
            suffix="".join(destination.suffixes),
            dir=destination.parent,
        )
        os.close(handle)
        temporary = Path(name)
        yield temporary
        _publishable(temporary)
        os.replace(temporary, destination)
    except OSError as err:
        raise error(f"{message} ({_reason(err)}){hint}") from None
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)  # gone already after a successful rename


def _check_replaceable(
    destination: Path, what: str, error: type[SmartmlError], owned: Callable[[str], bool] | None
) -> None:
    """Refuse to replace a file, or a directory holding entries that are not ours."""
    if not destination.exists():
        return
    if not destination.is_dir():
        raise error(f"cannot write {what} to {destination}: it exists and is not a directory")
    if owned is None:
        return
    foreign = sorted(entry.name for entry in destination.iterdir() if not owned(entry.name))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise error(
            f"cannot write {what} to {destination}: it exists and holds other files "
            f"({shown}); remove them or choose another path"
        )


def _this_host() -> str:
    """The host name, reduced to the characters a tagged directory name may hold."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "unknown"


def _writer_prefix(destination: Path, role: str) -> str:
    """Name prefix of a hidden sibling of ``destination`` that identifies its writer."""
    return f".{destination.name}.{role}-{os.getpid()}+{_this_host()}+"


def _process_exists(pid: int) -> bool:
    """Whether a process with this id runs on this host (one of another user counts)."""
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, OSError):
        return False  # not a valid process id at all
    return True


def remove_stale_staging(parent: str | Path) -> list[Path]:
    """Remove the temporary files and staging directories in ``parent`` left by
    killed writers.

    An entry counts as stale only when its name says it was written on this host
    (see the module docstring) by a process that no longer exists; any other entry,
    including untagged or foreign ones, stays.

    Args:
        parent: the directory whose hidden temporaries are checked.

    Returns:
        The files and directories removed.
    """
    parent = Path(parent)
    removed: list[Path] = []
    host = _this_host()
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed  # nothing to clean where nothing can be listed
    for entry in entries:
        tag = _TAGGED.fullmatch(entry.name)
        if tag is None or tag["host"] != host or _process_exists(int(tag["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            try:
                entry.unlink()
            except OSError:
                continue  # removed by another writer meanwhile, or not ours to remove
        log.info("removed %s, left by process %s that no longer runs", entry, tag["pid"])
        removed.append(entry)
    return removed


def _move_into_place(staging: Path, destination: Path) -> None:
    """Rename ``staging`` to ``destination``, swapping out an old directory there."""
    if not destination.exists():
        os.rename(staging, destination)
        return
    # Move the old one aside first: renaming onto a non-empty directory fails.
    old = Path(tempfile.mkdtemp(prefix=_writer_prefix(destination, "old"), dir=destination.parent))
    os.rename(destination, old / "previous")
    os.rename(staging, destination)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def publish_directory(
    destination: str | Path,
    what: str,
    error: type[SmartmlError] = SmartmlError,
    owned: Callable[[str], bool] | None = None,
) -> Iterator[Path]:
    """Fill a hidden staging directory, then rename it to ``destination``.

    The staging directory (``.<name>.partial-<pid>+<host>+*`` beside
    ``destination``) is renamed into place only when the block ends without an
    exception; otherwise it is removed and ``destination`` is left as it was. Stale
    staging directories of killed writers beside it are removed first
    (:func:`remove_stale_staging`).

    Args:
        destination: the directory to create or replace; its parents are created.
        what: what is written, for messages (e.g. ``"the simulated dataset"``).
        error: the :class:`~smartml.errors.SmartmlError` subclass to raise.
        owned: when given, an existing ``destination`` is replaced only if every
            entry name in it satisfies ``owned`` (checked before the block runs and
            again before the swap); when None, an existing directory is replaced.

    Returns:
        A context manager yielding the staging directory (a :class:`Path`).

    Raises:
        error: one line, ``cannot write <what> to <destination>: <reason>``, when the
            destination is a file or holds foreign entries, or on any OSError while
            staging (including inside the block) or renaming.
    """
    destination = Path(destination)
    _check_replaceable(destination, what, error, owned)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(destination.parent)
        staging = Path(
            tempfile.mkdtemp(prefix=_writer_prefix(destination, "partial"), dir=destination.parent)
        )
        _publishable(staging, directory=True)
    except OSError as err:
        raise error(f"cannot write {what} to {destination}: {_reason(err)}") from None
    try:
        yield staging
        _check_replaceable(destination, what, error, owned)
        _move_into_place(staging, destination)
    except OSError as err:
        raise error(f"cannot write {what} to {destination}: {_reason(err)}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already after the swap


def expand_patterns(patterns: list[str], key: str) -> list[str | Path]:
    """The files that ``patterns`` (paths, globs or URLs) name, in order, each once.

    A URL (``root://``, ``http(s)://``) is passed on as it is, a string: it is neither
    globbed nor checked here (the reader names it if it cannot be read).

    Args:
        patterns: from a configuration; key: its key, named in the error.

    Raises:
        DataError: a local pattern that matches no file.

    >>> expand_patterns([__file__, __file__], "files") == [Path(__file__)]
    True
    >>> expand_patterns(["root://eos.cern.ch//store/a.root"], "files")
    ['root://eos.cern.ch//store/a.root']
    """
    from smartml.errors import DataError
    from smartml.locations import is_remote

    files: list[str | Path] = []
    for pattern in patterns:
        if is_remote(pattern):
            files += [pattern] if pattern not in files else []
            continue
        matches = sorted(glob.glob(pattern)) or ([pattern] if Path(pattern).exists() else [])
        if not matches:
            raise DataError(f"{key}: '{pattern}' matches no file")
        files += [Path(match) for match in matches if Path(match) not in files]
    return files


def file_sha256(path: Path, error: type[SmartmlError] = SmartmlError) -> str:
    """The sha256 (hex) of a file's bytes, read in blocks.

    Raises:
        error: one line naming the file when it cannot be read.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "empty"
    >>> _ = path.write_bytes(b"")
    >>> file_sha256(path)[:16]
    'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:
        raise error(f"{path}: cannot read ({_reason(err)})") from None
    return digest.hexdigest()


DATA_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def parse_data_file(path: Path, what: str) -> Any:
    """The content of a YAML (``.yaml``, ``.yml``) or JSON (``.json``) file a user
    writes (features, aliases) as Python data; ``what`` names the file's role in
    messages.

    Raises:
        ConfigError: one line naming the file when it cannot be read or parsed.
    """
    import yaml

    text = read_text_file(path, what, ConfigError)
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON ({err})") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(err, "problem", None) or type(err).__name__
        raise ConfigError(f"{path}: not valid YAML{line} ({problem})") from None
