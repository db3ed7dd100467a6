"""The MEM weights of the events: read from a weight tree aligned with the events, or
integrated once per settings into the cache.

:func:`read_weights` reads one branch of a chain of weight files (MoMEMta's
``momemta/weight_DY``, or what ``python -m smartml.mem`` writes) and checks it holds
one weight per event, file by file. :func:`cached_weights` integrates the weights of
a generated events file with :func:`~smartml.collider.mem_integration.integrate_file`
(on a Dask LocalCluster of ``data.simulation.workers`` processes, or on the workers of
``data.simulation.scheduler``) into ``cache_root(None, "mem") / "weights-<12 hex>" /
weights.root`` (resumable: a killed integration goes on where it stopped, on any
engine) and records the settings, the integrator's seconds per event on one worker,
the failed events and where they ran in the directory's manifest. The engine is not
part of the cache key: the weights do not depend on it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from smartml.collider.mem_integration import integrate_file
from smartml.collider.mem_settings import MemSettings
from smartml.data.cache import MANIFEST_NAME, cache_dir, cache_root, is_cached, read_manifest
from smartml.errors import DataError, OutputError
from smartml.files import write_json_atomic
from smartml.ntuples.feature_selection import nearest
from smartml.ntuples.root_reader import UNREADABLE, NtupleReader, open_tree

log = logging.getLogger("smartml.mem_regression")

WEIGHTS_NAME = "weights.root"
WEIGHT_TREE = "momemta"
FORMAT_VERSION = 1


def read_weights(files: list[Path], tree: str, branch: str, events: NtupleReader) -> np.ndarray:
    """The weights of every event of ``events``, float64, in entry order.

    Raises:
        DataError: a missing or unreadable file, tree or branch (naming the nearest
            branches), or a weight file whose entries differ from its events file's.
    """
    pieces = []
    for path in files:
        weights = open_tree(path, tree)
        if branch not in weights.keys():
            raise DataError(
                f"{path}: tree {tree!r}: no branch {branch!r}"
                f"{nearest(branch, list(weights.keys()))}"
            )
        try:
            pieces.append(np.asarray(weights[branch].array(library="np"), np.float64))
        except UNREADABLE as err:
            raise DataError(
                f"{path}: tree {tree!r}: cannot read branch {branch!r} ({err})"
            ) from None
    counts = [len(piece) for piece in pieces]
    if len(files) == len(events.files) and counts != events.entries_per_file:
        i = next(
            i
            for i, (a, b) in enumerate(zip(counts, events.entries_per_file, strict=True))
            if a != b
        )
        raise DataError(
            f"{files[i]}: tree {tree!r} has {counts[i]} entries but {events.where(i)} has "
            f"{events.entries_per_file[i]}; the trees must be aligned entry by entry"
        )
    if sum(counts) != events.n_entries:
        raise DataError(
            f"{', '.join(map(str, files))}: tree {tree!r} has {sum(counts)} entries but "
            f"{events.where()} has {events.n_entries}; the trees must be aligned entry by entry"
        )
    return np.concatenate(pieces)


def cached_weights(
    events: Path, tree: str, settings: MemSettings, workers: int, scheduler: str | None = None
) -> tuple[Path, dict]:
    """The weight file of a (generated) events file, integrated on first use.

    Args:
        events: the events' ROOT file; tree: its tree; settings: the integration's.
        workers: worker processes of a local Dask cluster (1: this process).
        scheduler: the address of a running Dask scheduler to use instead.

    Returns:
        (the ROOT file with tree ``momemta``, its manifest: settings, events,
        ``seconds_per_event`` of one worker, ``failed`` events and ``failures`` (the
        first, with their reasons), ``workers`` that ran chunks, ``engine``).

    Raises:
        OutputError: the cache cannot be written.
        ConfigError: the scheduler (``data.simulation.scheduler``) cannot be reached.
    """
    key = {
        "version": FORMAT_VERSION,
        "events": str(events),
        "events_bytes": events.stat().st_size,
        "tree": tree,
        "settings": settings.model_dump(mode="json"),
    }
    directory = cache_dir(cache_root(None, "mem"), "weights", key)
    output = directory / WEIGHTS_NAME
    if not is_cached(directory, key):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OutputError(
                f"{directory}: cannot create the weight cache ({err.strerror})"
            ) from None
        engine = scheduler or f"{workers} local worker(s)"
        log.info("integrating the MEM weights of %s into %s on %s", events, output, engine)
        # overwrite: a weight file without a manifest is a run killed before recording it
        report = integrate_file(
            events,
            tree,
            output,
            settings,
            workers=workers,
            scheduler=scheduler,
            overwrite=True,
            scheduler_key="data.simulation.scheduler",
        )
        manifest = {
            **key,
            "files": [{"name": WEIGHTS_NAME}],
            "seconds_per_event": report.worker_seconds_per_event,
            "failed": report.n_failed,
            "failures": [str(failure) for failure in report.failures],
            "workers": report.workers,
            "engine": report.engine,
        }
        write_json_atomic(directory / MANIFEST_NAME, manifest)
    manifest = read_manifest(directory) or {}
    return output, manifest
