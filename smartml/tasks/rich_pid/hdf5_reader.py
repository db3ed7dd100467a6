"""Reader of RICH events in the NA62 HDF5 layout (see :mod:`.layout`), chunk by chunk.

**Opening** a source checks every file without loading it: the root attributes and
the three datasets exist with the layout's fields, ``Events`` has ``entries`` rows,
the offsets are sorted (muon ≤ pion ≤ positron ≤ entries), ``HitMapping`` has
``entries + 1`` values, starts at 0, never decreases (checked in blocks of
:data:`CHECK_BLOCK`) and ends within ``Hits``. Each problem is one
:class:`~smartml.errors.DataError` naming the file, the dataset or attribute and
the index.

**Chunks** are ranges of at most ``events_per_chunk`` events of one class (events
are sorted muon, pion, positron, so a chunk never straddles a class boundary); the
chunks of a class that is not kept (positrons by default) are never made, so those
events are never read. :meth:`RichHdf5Source.split` splits each class's chunks with
the configured fractions (a class-stratified :func:`~smartml.data.chunks.split_chunks`):
every split has the file's class mixture, even though a chunk holds one class.

**Reading** a chunk reads only its slice of ``Events``, ``HitMapping`` and ``Hits``.
A NaN track momentum or time, or a PMT id outside the table, is a DataError naming
the file, dataset and index. Events are then cut, in this order and counted per cut
(:class:`ChunkData.counts`): momentum outside [min, max), fitted ring centre with
|x| or |y| not below the window (a NaN centre included), and no in-time hit
(|hit_time − chod_time| < δ), which drops the event or keeps it with an empty cloud
(``empty_events``).

**Points**: the in-time hits of an event as (x mm, y mm, Δt ns), x and y the PMT
position on the common plane (disk offsets added), Δt = hit_time − chod_time. When an
event has more than ``max_points`` in-time hits, the ``max_points`` closest in time
(smallest |Δt|) are kept: out-of-time noise is what a wider count would add, and
ring photons cluster at Δt ≈ 0. Points are ordered by |Δt| (ties: file order); rows
past an event's hits are exactly 0 with mask 0. Labels come from the file's offsets
(:func:`~smartml.tasks.rich_pid.layout.label_of`), never from its name.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from smartml.config.common import SPLIT_NAMES
from smartml.data.chunks import Chunk, split_chunks
from smartml.data.source import ArraySpec, Inputs
from smartml.errors import DataError, first_line
from smartml.tasks.rich_pid import physics
from smartml.tasks.rich_pid.layout import (
    EVENT_DTYPE,
    EVENTS,
    HIT_DTYPE,
    HIT_MAPPING,
    HITS,
    OFFSET_ATTRIBUTES,
    PMTS_PER_DISK,
    PMTS_PER_HALF_DISK,
    PMTS_PER_SUPERCELL,
    ROOT_ATTRIBUTES,
    label_of,
    pmt_row,
)
from smartml.tasks.rich_pid.pmt_table import PmtTable
from smartml.tasks.rich_pid.schema import RichDataConfig

CHECK_BLOCK = 1 << 20  # HitMapping values checked at once on opening (8 MB)
COUNTS = ("read", "momentum_outside", "centre_outside", "no_in_time_hits", "kept")
AUX_COLUMNS = (
    "momentum",
    "run_id",
    "burst_id",
    "event_id",
    "event_index",
    "n_hits",
    "ring_radius",
    "ring_centre_x",
    "ring_centre_y",
)
# Valid range of each hit id, exclusive upper bound (the PMT row formula of layout).
HIT_ID_LIMITS = {
    "disk_id": 2,
    "updowndisk_id": PMTS_PER_DISK // PMTS_PER_HALF_DISK,
    "supercell_id": PMTS_PER_HALF_DISK // PMTS_PER_SUPERCELL,
    "pmt_id": PMTS_PER_SUPERCELL,
}


@dataclass(frozen=True)
class FileInfo:
    """What opening one file found: its events and their class boundaries."""

    path: Path
    entries: int
    offsets: dict[str, int]

    def class_range(self, label: int) -> tuple[int, int]:
        """First and one-past-last event of class ``label``."""
        bounds = [*(self.offsets[name] for name in OFFSET_ATTRIBUTES), self.entries]
        return bounds[label], bounds[label + 1]


@dataclass
class ChunkData:
    """The events of one chunk that pass the cuts.

    Attributes:
        inputs: ``points`` (n, N, 3) mm/mm/ns, ``mask`` (n, N), ``momentum`` (n, 1)
            GeV/c, with ``use_ring_radius`` ``ring_radius`` (n, 1) mm and with
            ``use_ring_mass`` ``ring_mass`` (n, 1) GeV²/c⁴, with ``use_hit_count``
            ``hit_count`` (n, 1) in-time hits; float32.
        labels: (n,) int64 class labels.
        aux: :data:`AUX_COLUMNS`, n rows.
        counts: events per cut (:data:`COUNTS`), for the whole chunk.
    """

    inputs: Inputs
    labels: np.ndarray
    aux: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)

    def subset(self, keep: np.ndarray) -> ChunkData:
        """The events where ``keep`` (bool, n) is true; counts unchanged."""
        inputs = {name: array[keep] for name, array in self.inputs.items()}
        aux = self.aux[keep].reset_index(drop=True)
        return ChunkData(inputs, self.labels[keep], aux, self.counts)


def first_event(chunk: Chunk) -> int:
    """Index in its file of the first event a chunk reads.

    >>> first_event(Chunk(Path("f.h5"), 2000, 50, offset=30))
    2030
    """
    if not isinstance(chunk.index, int):
        raise TypeError(f"{chunk.source_file}: a RICH chunk's index is its first event")
    return chunk.index + chunk.offset


def add_counts(total: dict[str, int], counts: dict[str, int]) -> dict[str, int]:
    """Add ``counts`` into ``total`` in place, key by key.

    >>> add_counts({"read": 2}, {"read": 3, "kept": 1})
    {'read': 5, 'kept': 1}
    """
    for key, value in counts.items():
        total[key] = total.get(key, 0) + value
    return total


class RichHdf5Source:
    """The events of one or more RICH HDF5 files, read chunk by chunk.

    A :class:`~smartml.data.source.ChunkSource` of raw (unstandardised) inputs and
    integer labels; see the module docstring for chunks, cuts and points.

    Args:
        data: the ``data`` section (cuts, classes, max_points, chunk size).
        files: the ``.h5`` files, in the order their events are used.
        pmt: the PMT position table, disk offsets added.

    Attributes:
        chunks: every chunk of a kept class, files in order, events ascending.
        files: file path -> :class:`FileInfo`.
    """

    def __init__(self, data: RichDataConfig, files: Sequence[Path], pmt: PmtTable) -> None:
        if not files:
            raise DataError("no RICH .h5 files to read")
        self.data = data
        self.pmt = pmt
        self.n_classes = len(data.class_names())
        self.files = {Path(path): inspect_file(Path(path)) for path in files}
        self.chunks = [chunk for info in self.files.values() for chunk in self._chunks_of(info)]

    def _chunks_of(self, info: FileInfo) -> Iterator[Chunk]:
        size = self.data.events_per_chunk
        for label in range(self.n_classes):
            first, stop = info.class_range(label)
            for start in range(first, stop, size):
                yield Chunk(info.path, start, min(size, stop - start))

    def label_of_chunk(self, chunk: Chunk) -> int:
        """The class of every event of ``chunk``."""
        return int(label_of(np.array([first_event(chunk)]), self._info(chunk).offsets)[0])

    # -- the ChunkSource protocol ------------------------------------------------------

    @property
    def input_specs(self) -> dict[str, ArraySpec]:
        """points (N, 3), mask (N,), momentum (1,) and optionally ring_radius (1,),
        ring_mass (1,) and hit_count (1,)."""
        float32 = np.dtype(np.float32)
        specs = {
            "points": ArraySpec((self.data.max_points, 3), float32),
            "mask": ArraySpec((self.data.max_points,), float32),
            "momentum": ArraySpec((1,), float32),
        }
        if self.data.use_ring_radius:
            specs["ring_radius"] = ArraySpec((1,), float32)
        if self.data.use_ring_mass:
            specs["ring_mass"] = ArraySpec((1,), float32)
        if self.data.use_hit_count:
            specs["hit_count"] = ArraySpec((1,), float32)
        return specs

    @property
    def target_spec(self) -> ArraySpec:
        """() int64 class labels."""
        return ArraySpec((), np.dtype(np.int64))

    def exact_rows(self, chunk: Chunk) -> int | None:
        """None: the cuts drop events while reading."""
        return None

    def read_examples(self, chunk: Chunk) -> tuple[Inputs, np.ndarray]:
        """:meth:`read_chunk` as ``(inputs, labels)``."""
        data = self.read_chunk(chunk)
        return data.inputs, data.labels

    # -- splitting ---------------------------------------------------------------------

    def split(self, seed: int) -> dict[str, list[Chunk]]:
        """Train / validation / test chunks, each class split with the fractions.

        Raises:
            DataError: a kept class has fewer events than there are splits.
        """
        splits: dict[str, list[Chunk]] = {name: [] for name in SPLIT_NAMES}
        where = f"{len(self.files)} RICH file(s) ({next(iter(self.files))}, ...)"
        for label, name in enumerate(self.data.class_names()):
            chunks = [chunk for chunk in self.chunks if self.label_of_chunk(chunk) == label]
            parts = split_chunks(chunks, self.data.split.fractions(), seed, None, where, name)
            for split, part in parts.items():
                splits[split] += part
        return splits

    # -- reading -----------------------------------------------------------------------

    def read_chunk(self, chunk: Chunk) -> ChunkData:
        """The events of ``chunk`` that pass the cuts, with their points (see the
        module docstring); arrays are new and writeable.

        Raises:
            DataError: the file cannot be read, a NaN momentum or time, a PMT id
                outside the table, each naming file, dataset and index.
        """
        first = first_event(chunk)
        with self._open(chunk.source_file) as file:
            events, mapping = self._read_events(file, chunk, first)
            hits = self._read_hits(file, chunk, mapping, ("hit_time", *HIT_ID_LIMITS))
        cuts = self._cut(chunk, first, events, mapping, hits["hit_time"])
        keep = cuts.keep
        inputs = {
            "points": self._points(chunk, mapping, hits, cuts, events["ring_centre_pos"]),
            "momentum": events["track_momentum"][keep, None].astype(np.float32),
        }
        inputs["mask"] = _mask(cuts.n_in_time[keep], self.data.max_points)
        if self.data.use_ring_radius or self.data.use_ring_mass:
            radius = events["ring_radius"][keep]
            self._check_finite(chunk, first, radius, "ring_radius", np.flatnonzero(keep))
        if self.data.use_ring_radius:
            inputs["ring_radius"] = radius[:, None].astype(np.float32)
        if self.data.use_ring_mass:
            mass = physics.ring_mass_squared(events["track_momentum"][keep], radius)
            inputs["ring_mass"] = mass[:, None].astype(np.float32)
        if self.data.use_hit_count:
            inputs["hit_count"] = cuts.n_in_time[keep, None].astype(np.float32)
        labels = label_of(first + np.flatnonzero(keep), self._info(chunk).offsets)
        return ChunkData(inputs, labels, _aux(events, first, cuts), cuts.counts)

    def read_selection(self, chunk: Chunk) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        """Labels and momenta (GeV/c) of the events of ``chunk`` that pass the cuts,
        with the counts, reading only ``Events``, ``HitMapping`` and the hit times:
        the first pass of the training-split balancing."""
        first = first_event(chunk)
        with self._open(chunk.source_file) as file:
            events, mapping = self._read_events(file, chunk, first)
            hit_time = self._read_hits(file, chunk, mapping, ("hit_time",))["hit_time"]
        cuts = self._cut(chunk, first, events, mapping, hit_time)
        labels = label_of(first + np.flatnonzero(cuts.keep), self._info(chunk).offsets)
        return labels, events["track_momentum"][cuts.keep].astype(np.float64), cuts.counts

    def iter_chunks(self, chunks: Sequence[Chunk]) -> Iterator[ChunkData]:
        """:meth:`read_chunk` of each chunk in turn (one chunk in memory at a time)."""
        return (self.read_chunk(chunk) for chunk in chunks)

    # -- reading helpers ---------------------------------------------------------------

    def _info(self, chunk: Chunk) -> FileInfo:
        info = self.files.get(chunk.source_file)
        if info is None:
            raise DataError(f"{chunk.source_file}: not one of the files of this source")
        return info

    @staticmethod
    def _open(path: Path) -> h5py.File:
        try:
            return h5py.File(path, "r")
        except OSError as error:
            raise DataError(f"{path}: not a readable HDF5 file ({first_line(error)})") from None

    def _read_events(
        self, file: h5py.File, chunk: Chunk, first: int
    ) -> tuple[np.ndarray, np.ndarray]:
        stop = first + chunk.n_rows
        events = file[EVENTS][first:stop]
        mapping = np.asarray(file[HIT_MAPPING][first : stop + 1], np.int64)
        for name in ("track_momentum", "chod_time"):
            self._check_finite(chunk, first, events[name], name)
        return events, mapping

    def _read_hits(
        self, file: h5py.File, chunk: Chunk, mapping: np.ndarray, names: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """The chunk's hits (fields ``names``), one slice of ``Hits``."""
        rows = file[HITS].fields(list(names))[int(mapping[0]) : int(mapping[-1])]
        # h5py gives a plain array for one field, a structured one for several
        hits = {name: np.asarray(rows[name] if rows.dtype.names else rows) for name in names}
        bad = np.flatnonzero(~np.isfinite(hits["hit_time"]))
        if len(bad):
            raise DataError(
                f"{chunk.source_file}: dataset '{HITS}', index {int(mapping[0]) + bad[0]}: "
                f"hit_time is {hits['hit_time'][bad[0]]}; it must be finite"
            )
        for name, limit in HIT_ID_LIMITS.items():
            if name not in hits:
                continue
            outside = np.flatnonzero((hits[name] < 0) | (hits[name] >= limit))
            if len(outside):
                raise DataError(
                    f"{chunk.source_file}: dataset '{HITS}', index "
                    f"{int(mapping[0]) + outside[0]}: {name} = {hits[name][outside[0]]} is "
                    f"outside 0..{limit - 1}, so not a PMT of the {len(self.pmt.positions)}-row "
                    f"table {self.pmt.path}"
                )
        return hits

    def _check_finite(
        self,
        chunk: Chunk,
        first: int,
        values: np.ndarray,
        name: str,
        positions: np.ndarray | None = None,
    ) -> None:
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            index = first + (bad[0] if positions is None else positions[bad[0]])
            raise DataError(
                f"{chunk.source_file}: dataset '{EVENTS}', index {index}: {name} is "
                f"{values[bad[0]]}; it must be finite"
            )

    def _cut(
        self,
        chunk: Chunk,
        first: int,
        events: np.ndarray,
        mapping: np.ndarray,
        hit_time: np.ndarray,
    ) -> _Cuts:
        """Which events pass the cuts, and the in-time hits (see the module docstring)."""
        data = self.data
        n = len(events)
        event_of_hit = np.repeat(np.arange(n), np.diff(mapping))
        dt = hit_time - events["chod_time"][event_of_hit]
        in_time = np.abs(dt) < data.time_window_ns
        n_in_time = np.bincount(event_of_hit[in_time], minlength=n)
        momentum = events["track_momentum"]
        in_range = (momentum >= data.momentum_min_gev) & (momentum < data.momentum_max_gev)
        centre = events["ring_centre_pos"]
        with np.errstate(invalid="ignore"):  # a NaN centre is outside the window
            in_window = (np.abs(centre) < data.ring_centre_window_mm).all(axis=1)
        has_hits = n_in_time > 0
        keep = in_range & in_window & (has_hits | (data.empty_events == "keep"))
        counts = {
            "read": n,
            "momentum_outside": int((~in_range).sum()),
            "centre_outside": int((in_range & ~in_window).sum()),
            "no_in_time_hits": int((in_range & in_window & ~has_hits).sum()),
            "kept": int(keep.sum()),
        }
        return _Cuts(keep, n_in_time, event_of_hit, dt.astype(np.float32), in_time, counts)

    def _points(
        self,
        chunk: Chunk,
        mapping: np.ndarray,
        hits: dict[str, np.ndarray],
        cuts: _Cuts,
        centres: np.ndarray,
    ) -> np.ndarray:
        """(kept events, max_points, 3) points, zero padded (see the module docstring);
        with ``centre_on_ring``, x and y relative to the event's ``centres`` (mm)."""
        n_points = self.data.max_points
        selected = np.flatnonzero(cuts.in_time & cuts.keep[cuts.event_of_hit])
        event = cuts.event_of_hit[selected]
        order = np.lexsort((np.abs(cuts.dt[selected]), event))  # by event, then |Δt|
        selected, event = selected[order], event[order]
        rank = np.arange(len(event)) - np.searchsorted(event, event, side="left")
        within = rank < n_points
        selected, event, rank = selected[within], event[within], rank[within]
        rows = pmt_row(
            hits["disk_id"][selected],
            hits["updowndisk_id"][selected],
            hits["supercell_id"][selected],
            hits["pmt_id"][selected],
        )
        output_row = np.cumsum(cuts.keep) - 1  # event -> its row among the kept events
        points = np.zeros((int(cuts.keep.sum()), n_points, 3), np.float32)
        points[output_row[event], rank, :2] = self.pmt.positions[rows]
        if self.data.centre_on_ring:
            points[output_row[event], rank, :2] -= centres[event]
        points[output_row[event], rank, 2] = cuts.dt[selected]
        return points


@dataclass
class _Cuts:
    keep: np.ndarray  # (events,) bool
    n_in_time: np.ndarray  # (events,) in-time hits per event
    event_of_hit: np.ndarray  # (hits,) event of each hit in the chunk
    dt: np.ndarray  # (hits,) hit_time - chod_time, ns
    in_time: np.ndarray  # (hits,) bool
    counts: dict[str, int]


def _mask(n_in_time: np.ndarray, n_points: int) -> np.ndarray:
    return (np.arange(n_points) < np.minimum(n_in_time, n_points)[:, None]).astype(np.float32)


def _aux(events: np.ndarray, first: int, cuts: _Cuts) -> pd.DataFrame:
    kept = events[cuts.keep]
    return pd.DataFrame(
        {
            "momentum": kept["track_momentum"].astype(np.float64),
            "run_id": kept["run_id"],
            "burst_id": kept["burst_id"],
            "event_id": kept["event_id"],
            "event_index": first + np.flatnonzero(cuts.keep),
            "n_hits": cuts.n_in_time[cuts.keep],
            "ring_radius": kept["ring_radius"].astype(np.float64),
            "ring_centre_x": kept["ring_centre_pos"][:, 0].astype(np.float64),
            "ring_centre_y": kept["ring_centre_pos"][:, 1].astype(np.float64),
        },
        columns=list(AUX_COLUMNS),
    )


# -- checks on opening -----------------------------------------------------------------


def inspect_file(path: Path) -> FileInfo:
    """Check one file's layout without loading its data (see the module docstring).

    Raises:
        DataError: one line naming the file, the attribute or dataset and the index.
    """
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise DataError(f"{path}: not a readable HDF5 file ({first_line(error)})") from None
    with file:
        attributes = _root_attributes(path, file)
        entries = attributes["entries"]
        for name, dtype in ((EVENTS, EVENT_DTYPE), (HITS, HIT_DTYPE)):
            _check_fields(path, file, name, dtype)
        if len(file[EVENTS]) != entries:
            raise DataError(
                f"{path}: dataset '{EVENTS}' has {len(file[EVENTS])} rows, expected "
                f"entries = {entries}"
            )
        _check_offsets(path, attributes)
        _check_hit_mapping(path, file, entries)
    offsets = {name: attributes[name] for name in OFFSET_ATTRIBUTES}
    return FileInfo(path, entries, offsets)


def _root_attributes(path: Path, file: h5py.File) -> dict[str, int]:
    values = {}
    for name in ROOT_ATTRIBUTES:
        if name not in file.attrs:
            raise DataError(f"{path}: missing root attribute '{name}'")
        value = np.asarray(file.attrs[name])
        if value.shape not in ((), (1,)) or not np.issubdtype(value.dtype, np.integer):
            raise DataError(f"{path}: root attribute '{name}' is {value!r}, expected an integer")
        values[name] = int(value.reshape(-1)[0])
    return values


def _check_fields(path: Path, file: h5py.File, name: str, dtype: np.dtype) -> None:
    if name not in file or not isinstance(file[name], h5py.Dataset):
        raise DataError(f"{path}: missing dataset '{name}'")
    found = file[name].dtype.names or ()
    for field_name in dtype.names or ():
        if field_name not in found:
            raise DataError(f"{path}: dataset '{name}' has no field '{field_name}'")
        shape, expected = file[name].dtype[field_name].shape, dtype[field_name].shape
        if shape != expected:
            raise DataError(
                f"{path}: dataset '{name}', field '{field_name}' has shape {shape}, "
                f"expected {expected}"
            )


def _check_offsets(path: Path, attributes: dict[str, int]) -> None:
    """0 <= muon <= pion <= positron <= entries."""
    previous_text, previous = "0", 0
    for name in OFFSET_ATTRIBUTES:
        value = attributes[name]
        if value < previous:
            raise DataError(
                f"{path}: root attribute '{name}' = {value} is below {previous_text}; "
                "events must be sorted muon, pion, positron"
            )
        if value > attributes["entries"]:
            raise DataError(
                f"{path}: root attribute '{name}' = {value} is beyond entries = "
                f"{attributes['entries']}"
            )
        previous_text, previous = f"'{name}' = {value}", value


def _check_hit_mapping(path: Path, file: h5py.File, entries: int) -> None:
    """entries + 1 integers from 0, never decreasing, ending within Hits; read in blocks."""
    if HIT_MAPPING not in file or not isinstance(file[HIT_MAPPING], h5py.Dataset):
        raise DataError(f"{path}: missing dataset '{HIT_MAPPING}'")
    mapping = file[HIT_MAPPING]
    if mapping.ndim != 1 or len(mapping) != entries + 1:
        raise DataError(
            f"{path}: dataset '{HIT_MAPPING}' has shape {mapping.shape}, expected "
            f"(entries + 1,) = ({entries + 1},)"
        )
    if not np.issubdtype(mapping.dtype, np.integer):
        raise DataError(
            f"{path}: dataset '{HIT_MAPPING}' has dtype {mapping.dtype}, expected int64"
        )
    if mapping[0] != 0:
        raise DataError(f"{path}: dataset '{HIT_MAPPING}', index 0 is {mapping[0]}, expected 0")
    previous = 0
    for start in range(0, entries + 1, CHECK_BLOCK):
        block = np.asarray(mapping[start : start + CHECK_BLOCK], np.int64)
        steps = np.diff(np.concatenate([[previous], block]))
        down = np.flatnonzero(steps < 0)
        if len(down):
            index = start + down[0]
            raise DataError(
                f"{path}: dataset '{HIT_MAPPING}' decreases at index {index} "
                f"({block[down[0]]} after {previous if down[0] == 0 else block[down[0] - 1]})"
            )
        previous = int(block[-1])
    if previous > len(file[HITS]):
        raise DataError(
            f"{path}: dataset '{HIT_MAPPING}', index {entries} is {previous}, beyond the "
            f"{len(file[HITS])} rows of '{HITS}'"
        )
