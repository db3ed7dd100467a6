"""Matrix-Element-Method weights of every event of a ROOT tree: cut into chunks,
integrated in parallel, saved as they finish (a killed run resumes), written as tree
``momemta`` beside the input's entries.

The weight of one event is :func:`smartml.collider.matrix_element_method.mem_weight`;
this module only decides which events are integrated where, and keeps the results.
"""

from __future__ import annotations

import concurrent.futures
import difflib
import hashlib
import itertools
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tqdm
import uproot

from smartml.collider.matrix_element_method import (
    MUON_BRANCHES,
    DrellYanDensity,
    LabDensity,
    mem_weight,
)
from smartml.collider.mem_settings import MemSettings
from smartml.data.cache import MANIFEST_NAME, read_manifest
from smartml.errors import ConfigError, DataError, OutputError
from smartml.files import write_json_atomic

WEIGHT_TREE = "momemta"
WEIGHT_BRANCH = "weight_DY"
ERROR_BRANCH = "weight_DY_err"
MANIFEST_VERSION = 1
MAX_REPORTED_FAILURES = 10


@dataclass(frozen=True)
class IntegrationReport:
    """What :func:`integrate_file` did.

    Attributes:
        n_events: entries with a weight in the output tree.
        n_integrated: of them, those integrated by this call (the rest were resumed).
        failed_entries: entries whose weight is zero or not finite (recorded as they
            came out, counted here; the first :data:`MAX_REPORTED_FAILURES`).
        n_failed: how many such entries.
        seconds: wall time of this call's integrations.
    """

    n_events: int
    n_integrated: int
    n_failed: int
    failed_entries: tuple[int, ...]
    seconds: float

    @property
    def seconds_per_event(self) -> float:
        """Wall seconds per integrated event (all workers together); 0 when none."""
        return self.seconds / self.n_integrated if self.n_integrated else 0.0


def open_input_tree(path: Path, tree: str, branches: Sequence[str] = MUON_BRANCHES):
    """The TTree ``tree`` of the ROOT file ``path``, checked to hold ``branches``.

    Raises:
        DataError: one line naming the file when it is missing or not a ROOT file, the
            tree when it is absent (with the trees there are) and a branch when it is
            absent (with the nearest names).
    """
    if not path.is_file():
        raise DataError(
            f"{path}: input file not found" + (" (a directory)" if path.exists() else "")
        )
    try:
        root_file = uproot.open(path)
    except Exception as err:  # uproot raises many types for a damaged file
        raise DataError(
            f"{path}: cannot read as a ROOT file ({type(err).__name__}: {err})"
        ) from None
    trees = sorted(
        {key.split(";")[0] for key, kind in root_file.classnames().items() if kind == "TTree"}
    )
    if tree not in trees:
        raise DataError(f"{path}: no tree {tree!r}; the file holds the trees {trees or 'none'}")
    events = root_file[tree]
    for branch in branches:
        if branch not in events.keys():
            nearest = (
                difflib.get_close_matches(branch, events.keys(), n=3) or sorted(events.keys())[:5]
            )
            raise DataError(
                f"{path}: tree {tree!r} has no branch {branch!r}; nearest: {', '.join(nearest)}"
            )
    return events


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file's content (hex)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def partial_directory(output: Path) -> Path:
    """The hidden folder beside ``output`` that holds the finished chunks of a run."""
    return output.parent / f".{output.name}.mem-partial"


def _check_manifest(partial: Path, manifest: dict[str, Any], input_path: Path) -> None:
    """Refuse to resume ``partial`` when it was started for another input or settings."""
    found = read_manifest(partial)
    if found is None:
        raise OutputError(
            f"{partial}: unfinished MEM run without a readable manifest; remove the folder"
        )
    if found.get("input_sha256") != manifest["input_sha256"]:
        raise DataError(
            f"{input_path}: the file changed since the unfinished run in {partial} began; "
            "rerun with the original file or remove that folder to start anew"
        )
    changed = sorted(key for key in manifest if found.get(key) != manifest[key] and key != "input")
    if changed:
        raise ConfigError(
            f"{partial}: the unfinished run was started with other {', '.join(changed)}; "
            "rerun with the same options or remove that folder to start anew"
        )


def _start_or_resume(partial: Path, manifest: dict[str, Any], input_path: Path) -> None:
    if partial.exists():
        _check_manifest(partial, manifest, input_path)
        return
    try:
        partial.mkdir(parents=True)
    except OSError as err:
        raise OutputError(f"{partial}: cannot create ({err.strerror})") from None
    write_json_atomic(partial / MANIFEST_NAME, manifest, OutputError)


def _chunk_path(partial: Path, index: int) -> Path:
    return partial / f"chunk-{index:06d}.npz"


def load_chunk(partial: Path, index: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The (weights, errors) of a finished chunk, None if absent or unreadable."""
    try:
        with np.load(_chunk_path(partial, index), allow_pickle=False) as saved:
            return saved["weight"], saved["error"]
    except (OSError, KeyError, ValueError):
        return None


def save_chunk(partial: Path, index: int, weights: np.ndarray, errors: np.ndarray) -> None:
    """Write one chunk's results atomically (a killed run never leaves half a chunk)."""
    final = _chunk_path(partial, index)
    temporary = final.with_name(f".{final.name}.{os.getpid()}")
    with temporary.open("wb") as handle:
        np.savez(handle, weight=weights, error=errors)
    os.replace(temporary, final)


def integrate_chunk(
    events: dict[str, np.ndarray],
    entry_start: int,
    settings: MemSettings,
    density: LabDensity | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Weights of consecutive events (a worker process's unit of work).

    Args:
        events: arrays of :data:`MUON_BRANCHES`, one value per event.
        entry_start: the entry of the first event (seeds each event's integration).
        settings, density: as for :func:`mem_weight`.

    Returns:
        (weights, errors); an event with invalid values gets NaN for both.
    """
    density = density or DrellYanDensity(settings.sqrt_s_gev)
    n_events = len(events[MUON_BRANCHES[0]])
    weights, errors = np.full(n_events, np.nan), np.full(n_events, np.nan)
    for row in range(n_events):
        event = {key: float(values[row]) for key, values in events.items()}
        try:
            weights[row], errors[row] = mem_weight(event, settings, density, entry_start + row)
        except DataError:
            continue  # recorded as NaN and counted by the caller
    return weights, errors


def _chunk_bounds(n_events: int, chunk: int) -> list[tuple[int, int]]:
    """[start, stop) of each chunk.

    >>> _chunk_bounds(5, 2)
    [(0, 2), (2, 4), (4, 5)]
    """
    return [(start, min(start + chunk, n_events)) for start in range(0, n_events, chunk)]


def _run_chunks(
    tree: Any,
    pending: list[tuple[int, tuple[int, int]]],
    settings: MemSettings,
    workers: int,
    density: LabDensity | None,
    on_done: Callable[[int, np.ndarray, np.ndarray], None],
) -> None:
    """Integrate the ``pending`` (index, bounds) chunks, calling ``on_done`` for each in
    the main process; in this process for one worker, else in spawned processes (at
    most two chunks per worker read ahead)."""

    def read(bounds: tuple[int, int]) -> dict[str, np.ndarray]:
        start, stop = bounds
        arrays = tree.arrays(list(MUON_BRANCHES), entry_start=start, entry_stop=stop, library="np")
        return {key: np.asarray(arrays[key], dtype=float) for key in MUON_BRANCHES}

    if workers == 1:
        for index, bounds in pending:
            on_done(index, *integrate_chunk(read(bounds), bounds[0], settings, density))
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads
    pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context)
    running: dict[concurrent.futures.Future, int] = {}

    def submit(index: int, bounds: tuple[int, int]) -> None:
        future = pool.submit(integrate_chunk, read(bounds), bounds[0], settings, density)
        running[future] = index

    try:
        queue = iter(pending)
        for index, bounds in itertools.islice(queue, 2 * workers):
            submit(index, bounds)
        while running:
            done, _ = concurrent.futures.wait(running, return_when="FIRST_COMPLETED")
            for future in done:
                on_done(running.pop(future), *future.result())
                for index, bounds in itertools.islice(queue, 1):
                    submit(index, bounds)
    except BaseException:
        # ^C or a failed save: the finished chunks are kept, the queued ones dropped
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _write_weight_tree(output: Path, partial: Path, n_chunks: int) -> tuple[np.ndarray, ...]:
    """Write tree :data:`WEIGHT_TREE` from the chunks, atomically; returns the weights."""
    temporary = output.with_name(f".{output.name}.writing-{os.getpid()}")
    weights = []
    try:
        with uproot.recreate(temporary) as root_file:
            tree = root_file.mktree(
                WEIGHT_TREE, {WEIGHT_BRANCH: np.float64, ERROR_BRANCH: np.float64}
            )
            for index in range(n_chunks):
                chunk = load_chunk(partial, index)
                if chunk is None:
                    raise OutputError(
                        f"{_chunk_path(partial, index)}: finished chunk unreadable; rerun"
                    )
                tree.extend({WEIGHT_BRANCH: chunk[0], ERROR_BRANCH: chunk[1]})
                weights.append(chunk[0])
        os.replace(temporary, output)
    except OSError as err:
        raise OutputError(f"{output}: cannot write ({err.strerror or err})") from None
    finally:
        temporary.unlink(missing_ok=True)
    return tuple(weights)


def integrate_file(
    input: Path,
    tree: str,
    output: Path,
    settings: MemSettings,
    workers: int = 1,
    chunk: int = 100,
    max_events: int | None = None,
    density: LabDensity | None = None,
    progress: bool = True,
) -> IntegrationReport:
    """MEM weights of every event of a ROOT tree, into tree ``momemta`` of ``output``.

    The events are cut into chunks of ``chunk`` entries, integrated in parallel over
    ``workers`` processes; each finished chunk is saved in a hidden folder beside the
    output (:func:`partial_directory`, with a manifest of the input's SHA-256 and the
    settings), so that after a kill the same call resumes with the chunks not yet
    done. At the end tree ``momemta`` (branches ``weight_DY``, ``weight_DY_err``, one
    entry per input entry, in order) is written under a temporary name and renamed to
    ``output``, and the folder removed. Each event is seeded by its entry: the result
    does not depend on ``workers``, ``chunk`` or interruptions.

    Args:
        input: the ROOT file; tree: its tree with the :data:`MUON_BRANCHES`.
        output: the ROOT file to write (replaced if it exists).
        settings: see :class:`MemSettings`.
        workers: processes integrating chunks (1: this process).
        chunk: events per chunk (the work lost to a kill is at most one per worker).
        max_events: integrate only the first ``max_events`` entries (None: all).
        density: the LO density (:class:`DrellYanDensity` by default); picklable
            when ``workers > 1``.
        progress: show a progress bar (events/s) on stderr.

    Returns:
        an :class:`IntegrationReport` (events whose weight is zero or not finite are
        counted there, not fatal).

    Raises:
        DataError: missing/unreadable input, tree or branch; the input changed since
            an unfinished run began.
        ConfigError: an unfinished run was started with other settings.
        OutputError: the output cannot be written.
    """
    input, output = Path(input), Path(output)
    events = open_input_tree(input, tree)
    n_events = events.num_entries if max_events is None else min(max_events, events.num_entries)
    manifest = {
        "version": MANIFEST_VERSION,
        "input": str(input.resolve()),
        "input_sha256": file_sha256(input),
        "tree": tree,
        "n_events": n_events,
        "chunk": chunk,
        "settings": settings.model_dump(mode="json"),
    }
    partial = partial_directory(output)
    _start_or_resume(partial, manifest, input)
    bounds = _chunk_bounds(n_events, chunk)
    pending = [
        (index, span) for index, span in enumerate(bounds) if load_chunk(partial, index) is None
    ]
    resumed = n_events - sum(stop - start for _, (start, stop) in pending)
    started = time.perf_counter()
    with tqdm.tqdm(
        total=n_events, initial=resumed, unit="event", file=sys.stderr, disable=not progress
    ) as bar:

        def on_done(index: int, weights: np.ndarray, errors: np.ndarray) -> None:
            save_chunk(partial, index, weights, errors)
            bar.update(len(weights))

        _run_chunks(events, pending, settings, workers, density, on_done)
    seconds = time.perf_counter() - started
    weights = np.concatenate(_write_weight_tree(output, partial, len(bounds)) or [np.zeros(0)])
    shutil.rmtree(partial, ignore_errors=True)
    failed = np.flatnonzero(~(np.isfinite(weights) & (weights != 0)))
    return IntegrationReport(
        n_events=n_events,
        n_integrated=n_events - resumed,
        n_failed=len(failed),
        failed_entries=tuple(int(entry) for entry in failed[:MAX_REPORTED_FAILURES]),
        seconds=seconds,
    )
