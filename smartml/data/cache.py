"""A cache of generated datasets, one directory per settings, published atomically.

A simulator (or any slow conversion) writes its dataset once per settings into
``root/<prefix>-<12 hex>``, where the hex digits hash the settings; every later run
with the same settings reuses it. A dataset directory holds the writer's files and
a manifest (JSON) written last, holding the settings, the files and whatever the
writer reports. It counts as complete only when its manifest matches the settings
and lists files that exist; anything else (an interrupted run, a damaged file
list, other settings) is written again. The directory is filled under a hidden
name and renamed into place (:func:`smartml.files.publish_directory`), so a
half-written dataset never looks complete.

**Generators.** The three generators (the smart-pixel and RICH simulators, the
collider event generator) each describe their cache once as a
:class:`GeneratorCache`: the settings that key a dataset (generator version, config,
the digests of the tables it reads), the kind of data, the files a dataset holds.
Every ``root`` argument means the same: the directory holding that generator's
datasets, one sub-directory per settings; None (the default) is
:func:`cache_root` of the kind.

**Where.** :func:`cache_root` is the one place that decides where a kind of
generated data lives: the config's explicit path if it names one, else
``$SMARTML_CACHE_DIR/<kind>``, else ``<user cache>/<kind>`` (platformdirs'
``user_cache_dir("smartml")``, e.g. ``~/.cache/smartml/simulated`` on Linux). It does
not depend on the current directory, so every working directory shares one cache.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> def write(directory):
...     (directory / "rows.txt").write_text("1 2 3")
...     return {"rows": 3}
>>> first = ensure_cached(root, "toy", {"version": 1, "n": 3}, write)
>>> first.name.startswith("toy-"), read_manifest(first)["rows"]
(True, 3)
>>> ensure_cached(root, "toy", {"version": 1, "n": 3}, write) == first  # reused
True
"""

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel

from smartml.errors import DataError, SmartmlError
from smartml.files import publish_directory, write_json_atomic

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
CACHE_DIR_VARIABLE = "SMARTML_CACHE_DIR"
Writer = Callable[[Path], dict[str, Any] | None]


def cache_root(
    configured: str | Path | None = None,
    kind: str = "simulated",
    environment: Mapping[str, str] = os.environ,
) -> Path:
    """The directory holding the cached datasets of one kind (e.g. simulated data).

    Args:
        configured: a path the user's config gives for the cache (e.g. a task's
            ``data.path`` for simulated data); used unchanged when given.
        kind: the sub-directory of the smartml cache for this kind of data.
        environment: where ``SMARTML_CACHE_DIR`` is looked up (the process's
            environment; tests pass their own).

    Returns:
        ``configured``, else ``$SMARTML_CACHE_DIR/<kind>`` when the variable is set and
        not empty, else ``platformdirs.user_cache_dir("smartml")/<kind>``; ``~`` is
        expanded.

    >>> cache_root("my/data", environment={"SMARTML_CACHE_DIR": "/scratch/smartml"}).as_posix()
    'my/data'
    >>> cache_root(environment={"SMARTML_CACHE_DIR": "/scratch/smartml"}).as_posix()
    '/scratch/smartml/simulated'
    """
    if configured:
        return Path(configured).expanduser()
    base = environment.get(CACHE_DIR_VARIABLE) or platformdirs.user_cache_dir("smartml")
    return Path(base).expanduser() / kind


def _as_json(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings as they read back from JSON (tuples become lists...)."""
    return json.loads(json.dumps(settings, allow_nan=False))


def cache_dir(root: str | Path, prefix: str, settings: dict[str, Any]) -> Path:
    """The directory of ``settings`` under ``root``: ``root/<prefix>-<12 hex>``.

    Args:
        root: the cache root.
        prefix: names the kind of dataset (e.g. ``"pixelsim"``).
        settings: JSON-serialisable; include a format/generator version, so that
            changing the generator gives a new directory.

    >>> cache_dir("data", "toy", {"n": 3}) == cache_dir("data", "toy", {"n": 3})
    True
    >>> cache_dir("data", "toy", {"n": 3}) == cache_dir("data", "toy", {"n": 4})
    False
    """
    key = json.dumps(settings, sort_keys=True, allow_nan=False)
    return Path(root) / f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def read_manifest(directory: str | Path, manifest_name: str = MANIFEST_NAME) -> dict | None:
    """The manifest of a dataset directory, or None if absent, unreadable or not an object."""
    try:
        manifest = json.loads((Path(directory) / manifest_name).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def is_cached(
    directory: str | Path, settings: dict[str, Any], manifest_name: str = MANIFEST_NAME
) -> bool:
    """Whether ``directory`` holds a complete dataset of exactly these settings."""
    manifest = read_manifest(directory, manifest_name)
    if manifest is None:
        return False
    if any(manifest.get(key) != value for key, value in _as_json(settings).items()):
        return False
    files = manifest.get("files")
    return isinstance(files, list) and all(
        isinstance(entry, dict) and (Path(directory) / str(entry.get("name"))).is_file()
        for entry in files
    )


def write_cached(
    directory: str | Path,
    settings: dict[str, Any],
    write: Writer,
    manifest_name: str = MANIFEST_NAME,
    what: str = "the dataset",
    error: type[SmartmlError] = DataError,
    owned: Callable[[str], bool] | None = None,
) -> Path:
    """Write a dataset and its manifest into ``directory``, atomically.

    Args:
        directory: where the dataset goes (replaced if it exists and ``owned``
            accepts every name in it, see :func:`~smartml.files.publish_directory`).
        settings: stored at the top of the manifest.
        write: ``write(staging)`` writes the files into the staging directory and
            returns details for the manifest (or None). Unless it reports
            ``"files"`` (a list of objects with a ``"name"``), every file it wrote
            is listed.
        manifest_name: the manifest's file name.
        what: names the dataset in messages.
        error: raised on OSError, one line naming the directory.
        owned: names that an existing ``directory`` may hold to be replaced.

    Returns:
        ``directory``.
    """
    directory = Path(directory)
    settings = _as_json(settings)
    with publish_directory(directory, what, error, owned) as staging:
        started = time.perf_counter()
        details = write(staging) or {}
        clash = sorted(set(details) & set(settings))
        if clash:
            raise ValueError(f"the writer's details repeat the settings' key '{clash[0]}'")
        files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
        manifest = {
            **settings,
            "files": [{"name": name} for name in files],
            "seconds": round(time.perf_counter() - started, 3),
            **details,
        }
        write_json_atomic(staging / manifest_name, manifest, error)
    return directory


def ensure_cached(
    root: str | Path,
    prefix: str,
    settings: dict[str, Any],
    write: Writer,
    manifest_name: str = MANIFEST_NAME,
    what: str = "the dataset",
    error: type[SmartmlError] = DataError,
    owned: Callable[[str], bool] | None = None,
) -> Path:
    """The cached dataset of ``settings`` under ``root``, written first if needed.

    Args: as :func:`cache_dir` and :func:`write_cached`.

    Returns:
        :func:`cache_dir` of the settings.
    """
    directory = cache_dir(root, prefix, settings)
    if is_cached(directory, settings, manifest_name):
        return directory
    log.info("writing %s into %s", what, directory)
    return write_cached(directory, settings, write, manifest_name, what, error, owned)


@dataclass(frozen=True)
class GeneratorCache:
    r"""How one generator's datasets are cached: the one place that decides their
    key, their directory, what replaces what, and how they are read back.

    Attributes:
        identity: the settings naming the generator and its version, e.g.
            ``{"format": "smartml-pixel-simulation", "simulator_version": 1}``. Bump
            the version when the physics or the file format changes: it is part of
            the key, so older datasets are generated again instead of reused.
        prefix: names the dataset directories, ``<root>/<prefix>-<12 hex>``.
        kind: the sub-directory of the smartml cache (:func:`cache_root`) that
            holds them when no root is given.
        what: names a dataset in messages (``"the simulated dataset"``).
        manifest_name: the manifest's file name.
        owned_files: a regular expression matching every file name a dataset
            holds: an existing directory with any other entry is never replaced.
            Empty: any directory may be replaced.

    >>> import tempfile
    >>> toy = GeneratorCache({"toy_version": 1}, "toy", owned_files=r"rows\.txt|manifest\.json")
    >>> root = Path(tempfile.mkdtemp())
    >>> def write(directory):
    ...     (directory / "rows.txt").write_text("1 2 3")
    ...     return {"rows": 3}
    >>> settings = toy.settings({"n": 3}, tables={"lookup": "ab12"})
    >>> settings
    {'toy_version': 1, 'config': {'n': 3}, 'lookup_sha256': 'ab12'}
    >>> directory = toy.ensure(settings, write, root)
    >>> directory == toy.directory(settings, root), toy.read_manifest(directory)["rows"]
    (True, 3)
    """

    identity: Mapping[str, Any]
    prefix: str
    kind: str = "simulated"
    what: str = "the generated dataset"
    manifest_name: str = MANIFEST_NAME
    owned_files: str = ""
    _owned: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_owned", re.compile(self.owned_files))

    def settings(
        self,
        config: BaseModel | Mapping[str, Any],
        tables: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """What identifies one dataset: its cache key and its manifest's first keys.

        Args:
            config: the generation settings (a pydantic model, dumped as JSON).
            tables: name -> sha256 of each input table the generator reads, so an
                edited table never reuses old data (key ``<name>_sha256``).
            fields: further settings outside ``config`` (e.g. the process).

        Returns:
            ``identity``, then ``config``, the fields and the table digests.
        """
        dumped = config.model_dump(mode="json") if isinstance(config, BaseModel) else config
        digests = {f"{name}_sha256": digest for name, digest in (tables or {}).items()}
        return {**self.identity, "config": dict(dumped), **fields, **digests}

    def root(self, root: str | Path | None = None) -> Path:
        """The directory holding the datasets: ``root``, else :func:`cache_root` of
        :attr:`kind`."""
        return cache_root(root, self.kind)

    def directory(self, settings: dict[str, Any], root: str | Path | None = None) -> Path:
        """The dataset directory of ``settings`` (:meth:`settings`) under :meth:`root`."""
        return cache_dir(self.root(root), self.prefix, settings)

    def ensure(
        self, settings: dict[str, Any], write: Writer, root: str | Path | None = None
    ) -> Path:
        """The dataset of ``settings``, written by ``write(staging)`` first unless a
        complete one is cached (:func:`ensure_cached`).

        Raises:
            DataError: the directory cannot be written (one line naming it).
        """
        return ensure_cached(self.root(root), self.prefix, settings, write, **self._write_options())

    def write(self, directory: str | Path, settings: dict[str, Any], write: Writer) -> Path:
        """Write the dataset of ``settings`` into ``directory`` (outside the cache),
        atomically (:func:`write_cached`).

        Raises:
            DataError: the directory cannot be written or holds foreign files.
        """
        return write_cached(directory, settings, write, **self._write_options())

    def read_manifest(self, directory: str | Path) -> dict | None:
        """The manifest of a dataset, or None if absent or unreadable."""
        return read_manifest(directory, self.manifest_name)

    def _write_options(self) -> dict[str, Any]:
        return {
            "manifest_name": self.manifest_name,
            "what": self.what,
            "error": DataError,
            "owned": self._owned.fullmatch if self.owned_files else None,
        }
