"""Matrix-Element-Method weights of every event of a ROOT tree: cut into chunks,
integrated on Dask workers (:mod:`smartml.collider.mem_engine`), saved as they finish
(a killed run resumes), written as tree ``momemta`` beside the input's entries.

The weight of one event is :func:`smartml.collider.matrix_element_method.mem_weight`;
this module only decides which events are integrated where, keeps the results and
records, per entry, whether the integration gave a weight (:class:`EventStatus`): an
event whose integration fails is recorded with its reason and counted, and the run
goes on.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from smartml import console
from smartml.collider.matrix_element_method import (
    MUON_BRANCHES,
    LabDensity,
    mem_weight,
)
from smartml.collider.mem_engine import LOST_SCHEDULER, TaskResult, dask_client, run_tasks
from smartml.collider.mem_settings import MemSettings
from smartml.data.cache import MANIFEST_NAME, read_manifest
from smartml.errors import ConfigError, DataError, OutputError, first_line
from smartml.files import atomic_file, write_json_atomic
from smartml.locations import Location, as_location
from smartml.ntuples.aliases import AliasMap, aliases_record, check_aliases, read_columns
from smartml.ntuples.file_identity import content_identity
from smartml.ntuples.root_reader import open_tree

WEIGHT_TREE = "momemta"
WEIGHT_BRANCH = "weight_DY"
ERROR_BRANCH = "weight_DY_err"
STATUS_BRANCH = "status"
OUTPUT_SUFFIX = ".root"
MANIFEST_VERSION = 3  # 2: a status per entry and the failures' reasons; 3: input_identity
MAX_REPORTED_FAILURES = 10
MAX_REASON_CHARACTERS = 200
IN_PROCESS = "this process"


class EventStatus(IntEnum):
    """Branch :data:`STATUS_BRANCH` of tree ``momemta``: how an entry's integration went.

    ``OK`` (0) is a finite, positive weight. ``INVALID_INPUT`` (1): a muon value is
    not finite, or the event is refused by the integrand (a pT ≤ 0, ...); weight and
    error NaN. ``INTEGRATOR_ERROR`` (2): the integration raised (e.g. vegas's
    ``integrand evaluates to nan``); weight and error NaN. ``NON_POSITIVE_WEIGHT``
    (3): the integral came out zero (no phase space near the event) or negative.
    ``NON_FINITE_WEIGHT`` (4): the weight or its error came out NaN or infinite. For 3
    and 4 the branches hold what the integrator returned.
    """

    OK = 0
    INVALID_INPUT = 1
    INTEGRATOR_ERROR = 2
    NON_POSITIVE_WEIGHT = 3
    NON_FINITE_WEIGHT = 4

    @property
    def description(self) -> str:
        """The status in words, as reports print it.

        >>> EventStatus(2).description
        'integrator error'
        """
        return self.name.lower().replace("_", " ")


@dataclass(frozen=True)
class EventFailure:
    """An entry whose integration gave no weight, and why."""

    entry: int
    status: EventStatus
    reason: str

    def __str__(self) -> str:
        return f"entry {self.entry}: {self.status.description} ({self.reason})"


@dataclass(frozen=True)
class ChunkResult:
    """The integration of consecutive entries (one Dask task's result, one saved chunk).

    Attributes:
        weights, errors: one per entry (NaN where the status says so).
        status: one :class:`EventStatus` code per entry (int8).
        failures: the first :data:`MAX_REPORTED_FAILURES` failed entries and reasons.
        seconds: wall time of the integrations on the worker.
    """

    weights: np.ndarray
    errors: np.ndarray
    status: np.ndarray
    failures: tuple[EventFailure, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class IntegrationReport:
    """What :func:`integrate_file` did.

    Attributes:
        n_events: entries with a weight in the output tree.
        n_integrated: of them, those integrated by this call (the rest were resumed).
        status_counts: entries per :class:`EventStatus` (only those that occur).
        failures: the first :data:`MAX_REPORTED_FAILURES` failed entries, in entry order.
        seconds: wall time of this call's integrations (with a cluster's start-up).
        worker_seconds: the integrations' time summed over the workers.
        workers: how many workers returned chunks in this call (1: this process).
        engine: where the chunks ran (this process, a LocalCluster, an address).
    """

    n_events: int
    n_integrated: int
    status_counts: dict[EventStatus, int] = field(default_factory=dict)
    failures: tuple[EventFailure, ...] = ()
    seconds: float = 0.0
    worker_seconds: float = 0.0
    workers: int = 1
    engine: str = IN_PROCESS

    @property
    def n_failed(self) -> int:
        """Entries without a finite, positive weight."""
        return self.n_events - self.status_counts.get(EventStatus.OK, 0)

    @property
    def failed_entries(self) -> tuple[int, ...]:
        """The entries of :attr:`failures`."""
        return tuple(failure.entry for failure in self.failures)

    @property
    def seconds_per_event(self) -> float:
        """Wall seconds per integrated event (all workers together); 0 when none."""
        return self.seconds / self.n_integrated if self.n_integrated else 0.0

    @property
    def worker_seconds_per_event(self) -> float:
        """One worker's (core's) seconds per integrated event; 0 when none."""
        return self.worker_seconds / self.n_integrated if self.n_integrated else 0.0


def open_input_tree(
    path: Location, tree: str, aliases: AliasMap | None = None, aliases_key: str = "--branch"
) -> Any:
    """The TTree ``tree`` of the ROOT file ``path``, checked to give the
    :data:`MUON_BRANCHES` (through ``aliases``: name -> the file's branch or a computed
    quantity, :mod:`smartml.ntuples.aliases`).

    Raises:
        DataError: one line naming the file when it is missing or not a ROOT file, the
            tree when it is absent (with the trees there are) and a branch when it is
            absent (with the alias that names it and the nearest names).
    """
    events = open_tree(path, tree)
    check_aliases(events, MUON_BRANCHES, aliases, f"{path}: tree {tree!r}", aliases_key)
    return events


def input_identity(input: Location, events: Any) -> str:
    """What tells that an input is still the file a run began with
    (:func:`smartml.ntuples.file_identity.content_identity`, with the open file of a remote
    input)."""
    return content_identity(input, None if isinstance(input, Path) else events.file)


def partial_directory(output: Path) -> Path:
    """The hidden folder beside ``output`` that holds the finished chunks of a run."""
    return output.parent / f".{output.name}.mem-partial"


def _check_manifest(partial: Path, manifest: dict[str, Any], input_path: Location) -> None:
    """Refuse to resume ``partial`` when it was started for another input or settings."""
    found = read_manifest(partial)
    if found is None:
        raise OutputError(
            f"{partial}: unfinished MEM run without a readable manifest; remove the folder"
        )
    if found.get("version") != manifest["version"]:
        raise OutputError(
            f"{partial}: unfinished MEM run of another smartml version (chunk format "
            f"{found.get('version')}, this one reads {manifest['version']}); remove the folder"
        )
    if found.get("input_identity") != manifest["input_identity"]:
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


def _start_or_resume(partial: Path, manifest: dict[str, Any], input_path: Location) -> None:
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


def load_chunk(partial: Path, index: int) -> ChunkResult | None:
    """A finished chunk (its failures' reasons included), None if absent or unreadable."""
    try:
        with np.load(_chunk_path(partial, index), allow_pickle=False) as saved:
            failures = tuple(
                EventFailure(int(entry), EventStatus(int(status)), str(reason))
                for entry, status, reason in zip(
                    saved["failure_entry"],
                    saved["failure_status"],
                    saved["failure_reason"],
                    strict=True,
                )
            )
            return ChunkResult(
                saved["weight"], saved["error"], saved["status"], failures, float(saved["seconds"])
            )
    except (OSError, KeyError, ValueError):
        return None


def save_chunk(partial: Path, index: int, result: ChunkResult) -> None:
    """Write one chunk's results atomically (a killed run never leaves half a chunk).

    Raises:
        OutputError: the chunk cannot be written (the chunks before it are kept).
    """
    final = _chunk_path(partial, index)
    hint = "; the chunks saved before it are kept: rerun the same command to resume"
    with atomic_file(final, OutputError, "a finished chunk", hint) as temporary:
        with temporary.open("wb") as handle:
            np.savez(
                handle,
                weight=result.weights,
                error=result.errors,
                status=result.status,
                failure_entry=np.array([f.entry for f in result.failures], dtype=np.int64),
                failure_status=np.array([f.status for f in result.failures], dtype=np.int8),
                failure_reason=np.array([f.reason for f in result.failures], dtype=np.str_),
                seconds=result.seconds,
            )


def integrate_event(
    event: dict[str, float], entry: int, settings: MemSettings, density: LabDensity | None
) -> tuple[float, float, EventStatus, str]:
    """The weight of one event, or why there is none; never raises for the event's sake.

    Returns:
        (weight, error, status, reason): reason is empty for :attr:`EventStatus.OK`.
    """
    not_finite = [key for key, value in event.items() if not math.isfinite(value)]
    if not_finite:
        reason = f"{not_finite[0]} = {event[not_finite[0]]}"
        return math.nan, math.nan, EventStatus.INVALID_INPUT, reason
    try:
        weight, error = mem_weight(event, settings, density, entry)
    except DataError as err:  # the integrand's refusal of the event's values
        reason = first_line(err)[:MAX_REASON_CHARACTERS]
        return math.nan, math.nan, EventStatus.INVALID_INPUT, reason
    except Exception as err:  # any other failure of this event's integration: recorded
        reason = first_line(f"{type(err).__name__}: {err}")[:MAX_REASON_CHARACTERS]
        return math.nan, math.nan, EventStatus.INTEGRATOR_ERROR, reason
    if not (math.isfinite(weight) and math.isfinite(error)):
        return weight, error, EventStatus.NON_FINITE_WEIGHT, f"w = {weight} ± {error}"
    if weight <= 0:
        return weight, error, EventStatus.NON_POSITIVE_WEIGHT, f"w = {weight}"
    return weight, error, EventStatus.OK, ""


def integrate_chunk(
    events: dict[str, np.ndarray],
    entry_start: int,
    settings: MemSettings,
    density: LabDensity | None = None,
) -> ChunkResult:
    """Weights of consecutive events (a worker's unit of work).

    Args:
        events: arrays of :data:`MUON_BRANCHES`, one value per event.
        entry_start: the entry of the first event (seeds each event's integration).
        settings, density: as for :func:`mem_weight`.

    Returns:
        the weights, errors and :class:`EventStatus` of the events, with the reasons
        of the first failures: an event whose integration fails does not stop the
        others.
    """
    started = time.perf_counter()
    n_events = len(events[MUON_BRANCHES[0]])
    weights, errors = np.full(n_events, np.nan), np.full(n_events, np.nan)
    status = np.zeros(n_events, dtype=np.int8)
    failures: list[EventFailure] = []
    for row in range(n_events):
        event = {key: float(values[row]) for key, values in events.items()}
        entry = entry_start + row
        weights[row], errors[row], status[row], reason = integrate_event(
            event, entry, settings, density
        )
        if status[row] != EventStatus.OK and len(failures) < MAX_REPORTED_FAILURES:
            failures.append(EventFailure(entry, EventStatus(int(status[row])), reason))
    return ChunkResult(weights, errors, status, tuple(failures), time.perf_counter() - started)


def _chunk_bounds(n_events: int, chunk: int) -> list[tuple[int, int]]:
    """[start, stop) of each chunk.

    >>> _chunk_bounds(5, 2)
    [(0, 2), (2, 4), (4, 5)]
    """
    return [(start, min(start + chunk, n_events)) for start in range(0, n_events, chunk)]


@dataclass
class _Run:
    """Where one call's chunks run and what came back."""

    tree: Any
    settings: MemSettings
    density: LabDensity | None
    on_done: Callable[[int, ChunkResult], None]
    aliases: AliasMap | None = None
    aliases_key: str = "--branch"
    workers_seen: set[str] = field(default_factory=set)
    worker_seconds: float = 0.0

    def read(self, bounds: tuple[int, int]) -> dict[str, np.ndarray]:
        # an event lacking an aliased object reads NaN: recorded as invalid input
        where = f"{self.tree.file.file_path}: tree {self.tree.name!r}"
        return read_columns(
            self.tree, MUON_BRANCHES, self.aliases, *bounds, where, self.aliases_key
        )

    def done(self, index: int, result: TaskResult) -> None:
        self.workers_seen.add(result.worker)
        self.worker_seconds += result.value.seconds
        self.on_done(index, result.value)

    def in_process(self, pending: list[tuple[int, tuple[int, int]]]) -> None:
        for index, bounds in pending:
            chunk = integrate_chunk(self.read(bounds), bounds[0], self.settings, self.density)
            self.done(index, TaskResult(chunk, IN_PROCESS))

    def tasks(
        self, pending: list[tuple[int, tuple[int, int]]]
    ) -> Iterator[tuple[int, tuple[Any, ...]]]:
        for index, bounds in pending:
            yield index, (self.read(bounds), bounds[0], self.settings, self.density)


def _lost_chunks_error(
    input: Location, partial: Path, killed: dict[int, int], bounds: list[tuple[int, int]]
) -> DataError:
    """The one line for the chunks Dask gave up on (``killed``: index -> the
    scheduler's allowed failures)."""
    spans = ", ".join(f"{bounds[i][0]}-{bounds[i][1] - 1}" for i in sorted(killed)[:3])
    more = ", ..." if len(killed) > 3 else ""
    return DataError(
        f"{input}: the chunk(s) of entries {spans}{more} killed more than "
        f"{max(killed.values())} workers each "
        "(distributed.scheduler.allowed-failures); the other chunks are saved in "
        f"{partial}: rerun the same command to retry these, or a smaller --chunk to "
        "isolate the event"
    )


def _integrate_pending(
    run: _Run,
    pending: list[tuple[int, tuple[int, int]]],
    workers: int,
    scheduler: str | None,
    scheduler_key: str,
) -> tuple[dict[int, int], str]:
    """Integrate the ``pending`` (index, bounds) chunks; returns the chunks Dask gave
    up on (:func:`run_tasks`) and where they ran."""
    if scheduler is None and workers == 1:
        # one worker: no cluster to start, nothing to pickle, an injected density
        # need not be importable by another process
        run.in_process(pending)
        return {}, IN_PROCESS
    engine = scheduler or f"a LocalCluster of {workers} worker processes"
    with dask_client(workers, scheduler, scheduler_key) as client:
        try:
            killed = run_tasks(client, integrate_chunk, run.tasks(pending), run.done, "mem-chunk")
        except LOST_SCHEDULER as err:
            if client.status == "running":
                raise  # not the scheduler: a bug, with its traceback
            where = f"{scheduler_key} {scheduler}" if scheduler else engine
            raise ConfigError(
                f"{where}: lost the Dask scheduler ({type(err).__name__}: "
                f"{first_line(err)[:MAX_REASON_CHARACTERS]}); the finished chunks are saved: "
                "rerun to resume"
            ) from None
    return killed, engine


def _write_weight_tree(
    output: Path, partial: Path, n_chunks: int
) -> tuple[np.ndarray, list[EventFailure]]:
    """Write tree :data:`WEIGHT_TREE` from the chunks, atomically.

    Returns:
        the status of every entry and the chunks' recorded failures.

    Raises:
        OutputError: the tree cannot be written; the chunks stay where a rerun of the
            same command finds them (it writes without integrating again).
    """
    hint = (
        f"; the integrated chunks are kept in {partial}: rerun the same command to write "
        "them without integrating again"
    )
    status: list[np.ndarray] = []
    failures: list[EventFailure] = []
    with (
        atomic_file(output, OutputError, hint=hint) as temporary,
        uproot.recreate(temporary) as root_file,
    ):
        tree = root_file.mktree(
            WEIGHT_TREE,
            {WEIGHT_BRANCH: np.float64, ERROR_BRANCH: np.float64, STATUS_BRANCH: np.int32},
        )
        for index in range(n_chunks):
            chunk = load_chunk(partial, index)
            if chunk is None:
                raise OutputError(
                    f"{_chunk_path(partial, index)}: finished chunk unreadable; remove "
                    "it and rerun the same command to integrate it again"
                )
            tree.extend(
                {
                    WEIGHT_BRANCH: chunk.weights,
                    ERROR_BRANCH: chunk.errors,
                    STATUS_BRANCH: chunk.status.astype(np.int32),
                }
            )
            status.append(chunk.status)
            failures.extend(chunk.failures)
    return np.concatenate(status or [np.zeros(0, np.int8)]), failures


def check_output(output: Path, input: Location, overwrite: bool, option: str = "--output") -> None:
    """Refuse, before any work and creating nothing, an output that cannot be written.

    Args:
        output: the ROOT file to write; input: the events' file (never replaced).
        overwrite: an existing ``output`` may be replaced.
        option: the option or key that named ``output``, for the message.

    Raises:
        OutputError: one line when ``output`` does not end in ``.root``, is a
            directory, is the input, exists without ``overwrite``, or its folder
            cannot be written.
    """
    from smartml.cli import require_writable_directory

    if output.suffix.lower() != OUTPUT_SUFFIX:
        raise OutputError(
            f"{option} {output}: expected a file name ending in {OUTPUT_SUFFIX} "
            f"(the weights are written as a ROOT tree)"
        )
    if output.is_dir():
        raise OutputError(f"{option} {output}: is a directory; expected a {OUTPUT_SUFFIX} file")
    if isinstance(input, Path) and output.exists() and input.exists() and output.samefile(input):
        raise OutputError(f"{option} {output}: is the input file; choose another name")
    if output.exists() and not overwrite:
        raise OutputError(f"{option} {output}: exists; give --overwrite to replace it")
    require_writable_directory(output.parent, option)


def integrate_file(
    input: Location,
    tree: str,
    output: Path,
    settings: MemSettings,
    workers: int = 1,
    chunk: int = 100,
    max_events: int | None = None,
    density: LabDensity | None = None,
    progress: bool = True,
    scheduler: str | None = None,
    overwrite: bool = False,
    scheduler_key: str = "--scheduler",
    aliases: AliasMap | None = None,
    aliases_key: str = "--branch",
) -> IntegrationReport:
    """MEM weights of every event of a ROOT tree, into tree ``momemta`` of ``output``.

    The output is checked first (:func:`check_output`). The events are cut into chunks
    of ``chunk`` entries, each a Dask task (on a LocalCluster of ``workers``
    processes, or on the workers of ``scheduler``; in this process when ``workers``
    is 1 and no scheduler is given); each finished chunk is saved in a hidden folder
    beside the output (:func:`partial_directory`, with a manifest of the input's
    SHA-256 and the settings), so that after a kill the same call resumes with the
    chunks not yet done, on any engine. At the end tree ``momemta`` (branches
    ``weight_DY``, ``weight_DY_err``, ``status``: one entry per input entry, in
    order) is written under a temporary name and renamed to ``output``, and the
    folder removed. Each event is seeded by its entry: the result does not depend on
    the engine, ``workers``, ``chunk`` or interruptions. An event whose integration
    fails is recorded (:class:`EventStatus`) and counted; the others go on.

    Args:
        input: the ROOT file, a path or a ``root://``/``http(s)://`` URL; tree: its tree
            with the :data:`MUON_BRANCHES`.
        output: the ``.root`` file to write.
        settings: see :class:`MemSettings`.
        workers: worker processes of the LocalCluster (1: this process, no cluster).
        chunk: events per chunk (the work lost to a kill is at most one per worker).
        max_events: integrate only the first ``max_events`` entries (None: all).
        density: the LO density (``mem_weight``'s default when None); picklable,
            importable by the workers, when the chunks run on Dask.
        progress: show a progress bar (events/s) on stderr where bars show
            (:func:`smartml.console.progress`); False: never.
        scheduler: the address of a running Dask scheduler (``tcp://host:port``);
            ``workers`` is then unused.
        overwrite: replace an existing ``output``.
        scheduler_key: the option or configuration key of ``scheduler``, for messages.
        aliases: the :data:`MUON_BRANCHES` mapped onto the file's own branches (a
            branch, ``Muon_PT[0]``, or pT/η/φ computed from px, py, pz); an event
            lacking an aliased object is recorded as invalid input.
        aliases_key: the option or configuration key of ``aliases``, for messages.

    Returns:
        an :class:`IntegrationReport`.

    Raises:
        OutputError: the output is refused (see :func:`check_output`) or cannot be
            written (the chunks are kept for a rerun).
        DataError: missing/unreadable input, tree or branch; the input changed since
            an unfinished run began; chunks whose workers kept dying.
        ConfigError: an unfinished run was started with other settings; the
            scheduler cannot be reached or was lost.
    """
    input, output = as_location(input), Path(output)
    check_output(output, input, overwrite)
    events = open_input_tree(input, tree, aliases, aliases_key)
    n_events = events.num_entries if max_events is None else min(max_events, events.num_entries)
    manifest = {
        "version": MANIFEST_VERSION,
        "input": str(input.resolve()) if isinstance(input, Path) else input,
        "input_identity": input_identity(input, events),
        "tree": tree,
        "n_events": n_events,
        "chunk": chunk,
        "settings": settings.model_dump(mode="json"),
        "aliases": aliases_record(aliases),
    }
    partial = partial_directory(output)
    started_here = not partial.exists()
    _start_or_resume(partial, manifest, input)
    bounds = _chunk_bounds(n_events, chunk)
    pending = [
        (index, span) for index, span in enumerate(bounds) if load_chunk(partial, index) is None
    ]
    resumed = n_events - sum(stop - start for _, (start, stop) in pending)
    started = time.perf_counter()
    with console.progress(
        n_events, "event", "MEM integration", initial=resumed, shown=None if progress else False
    ) as bar:

        def on_done(index: int, result: ChunkResult) -> None:
            save_chunk(partial, index, result)
            bar.update(len(result.weights))

        run = _Run(events, settings, density, on_done, aliases, aliases_key)
        try:
            killed, engine = _integrate_pending(run, pending, workers, scheduler, scheduler_key)
        except BaseException:
            # nothing to resume (e.g. the scheduler was never reached): no folder left
            if started_here and not any(partial.glob("chunk-*.npz")):
                shutil.rmtree(partial, ignore_errors=True)
            raise
    seconds = time.perf_counter() - started
    if killed:
        raise _lost_chunks_error(input, partial, killed, bounds)
    status, failures = _write_weight_tree(output, partial, len(bounds))
    shutil.rmtree(partial, ignore_errors=True)
    codes, counts = np.unique(status, return_counts=True)
    return IntegrationReport(
        n_events=n_events,
        n_integrated=n_events - resumed,
        status_counts={EventStatus(int(c)): int(n) for c, n in zip(codes, counts, strict=True)},
        failures=tuple(sorted(failures, key=lambda f: f.entry)[:MAX_REPORTED_FAILURES]),
        seconds=seconds,
        worker_seconds=run.worker_seconds,
        workers=len(run.workers_seen),
        engine=engine,
    )
