"""Reader of smart-pixel clusters stored as parquet (see :mod:`.layout`).

Two directory layouts, both as written by PixelAV and the public smart-pixels data:

- ``parts``: ``part.*.parquet`` files in ``path`` holding pixel and label columns,
  taken in natural order (``part.2`` before ``part.10``);
- ``recon3d``: pixel files ``recon3D<suffix>.parquet`` in ``path``, each with a labels
  file ``labels<suffix>.parquet`` in ``labels_path`` (``recon3D_d17301.parquet`` ↔
  ``labels_d17301.parquet``) holding the same rows in the same order. The label
  file's row groups need not match the pixel file's: labels are read by row offset.

Nothing reads the whole dataset. Opening a source reads only file footers (and
checks them: rows, pixel and label columns and their types); data are read one row
group at a time (a :class:`~smartml.data.chunks.Chunk` whose ``index`` is the row
group), and only the columns of the selected time slices plus the four targets.
:class:`PixelParquetSource` is a :class:`~smartml.data.source.ChunkSource` (input
``"pixels"``, 4 targets) for the streaming pipeline
:func:`smartml.data.pipeline.make_dataset`.

**Decoded once.** Decoding parquet is what reading costs. Each row group decoded is
kept in a :class:`~smartml.data.memory_cache.MemoryCache` (``data.memory_cache_mb``)
as sparse, lossless :class:`~smartml.data.compact_array.CompactArray` (a simulated
20-slice cluster takes ~0.7 kB instead of 22 kB), so the epochs after the first read
from memory. The cache is filled lazily by whatever reads (the normalisation fit,
:meth:`PixelParquetSource.decode_ahead`, the first epoch); nothing is rewritten to disk.

**Non-finite clusters.** Public PixelAV files hold clusters with NaN pixels. With
``data.non_finite: "drop"`` (the default) a cluster whose selected pixels or labels
hold NaN, inf or null is dropped while reading and counted per chunk
(:meth:`PixelParquetSource.non_finite_dropped`); the split is made from the files'
rows before any drop, so it stays the same. With ``"error"`` the first such value
raises a :class:`DataError` naming the file, row group, row and column. Once a row
group has been decoded the reader knows its kept rows
(:meth:`PixelParquetSource.exact_rows`).

**Splits.** :meth:`PixelParquetSource.split` is
:func:`~smartml.data.chunks.split_chunks` of the row groups with the configured
fractions of the clusters: a seeded permutation cut into train / validation / test,
a row group across a cut divided into two row ranges. The split depends only on the
seed and the files, so the test set is the same on every run.

**max_clusters.** The cap is shared out between the splits with the same fractions
and each split keeps a prefix of its chunks (see :mod:`smartml.data.chunks`):
changing the cap never moves a cluster from one split into another, and runs with
different caps (same seed and files) never test on each other's training clusters.
The cap counts clusters before the ``contained_only`` cut.

**Row groups.** A row group is read whole, so memory while reading (and in the
tf.data pipeline, a few row groups at a time) grows with the row-group size:
5000 rows are 11 MB of float32 for 2 time slices, 109 MB for 20. Row groups of
5-20k rows work well; a file written as one huge row group is one huge chunk.

**contained_only.** Keeps the clusters whose final time slice (slice 19, the whole
cluster, read as its 64 border columns when not among the selected slices) has no
charge (a non-zero value) on the window's border: rows 0 and 12, columns 0 and 20.
"""

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from smartml.config.common import SPLIT_NAMES
from smartml.data.chunks import Chunk, split_chunks
from smartml.data.compact_array import CompactArray, compact
from smartml.data.memory_cache import MemoryCache, release_freed_memory
from smartml.data.source import ArraySpec, Inputs, map_ahead, take_examples
from smartml.errors import ConfigError, DataError, first_line
from smartml.tasks.smart_pixels.layout import (
    N_PIXEL_COLUMNS,
    PIXELS_PER_SLICE,
    TARGETS,
    natural_sort_key,
    pixel_columns,
)
from smartml.tasks.smart_pixels.normalization import INPUT_NAME
from smartml.tasks.smart_pixels.schema import N_COLUMNS, N_ROWS, N_TIME_SLICES, PixelDataConfig

FINAL_SLICE = N_TIME_SLICES - 1
PARTS_PATTERN = "part.*.parquet"
RECON3D_PREFIX, LABELS_PREFIX = "recon3D", "labels"
# Open files kept for reuse: reopening a 5460-column file costs 10-40 ms of footer
# parsing, as much as reading a 2-slice row group; an open file holds its parsed
# footer (~25 MB for 4 row groups of 5460 columns), so the pool is kept small.
IDLE_OPEN_FILES = 8


@dataclass(frozen=True)
class _DecodedGroup:
    """One row group as decoded: what the pipeline reads from, kept in the memory cache.

    Attributes:
        x: (n, 273 T) pixels of the selected slices in image order.
        y: (n, 4) labels.
        extra: (n, k) columns of slice 19 beside the selected slices (k = 0, its 64
            border pixels or all 273).
        finite: (n,) whether the row's pixels (selected slices) and labels are finite.
    """

    x: CompactArray
    y: CompactArray
    extra: CompactArray
    finite: CompactArray

    def as_tuple(self) -> tuple[CompactArray, ...]:
        return (self.x, self.y, self.extra, self.finite)


@dataclass(frozen=True)
class _FileInfo:
    """What the footers told us about one pixel file (and its labels file)."""

    group_starts: np.ndarray  # first row of each row group, plus the total at the end
    label_file: Path | None  # None in the ``parts`` layout (labels in the pixel file)
    label_group_starts: np.ndarray | None


def border_pixel_indices() -> np.ndarray:
    """Indices (row*21 + col, ascending) of the 64 border pixels of a 13x21 window."""
    rows, cols = np.divmod(np.arange(PIXELS_PER_SLICE), N_COLUMNS)
    border = (rows == 0) | (rows == N_ROWS - 1) | (cols == 0) | (cols == N_COLUMNS - 1)
    return np.flatnonzero(border)


def image_order_columns(time_slices: Sequence[int]) -> list[str]:
    """Pixel column names ordered (row, column, slice): a row of values in this order
    reshapes to a (13, 21, T) image with time last.

    >>> image_order_columns([0, 19])[:4]
    ['0', '5187', '1', '5188']
    """
    return [str(t * PIXELS_PER_SLICE + i) for i in range(PIXELS_PER_SLICE) for t in time_slices]


def _open_parquet(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{path}: not a readable parquet file ({first_line(error)})") from None


def _check_numeric(path: Path, schema: pa.Schema, names: Sequence[str]) -> None:
    types = {name: kind for name, kind in zip(schema.names, schema.types, strict=True)}
    numeric = {kind for kind in set(types.values()) if _is_number(kind)}
    for name in names:
        if types[name] not in numeric:
            raise DataError(f"{path}: column '{name}' has type {types[name]}, expected numbers")


def _is_number(kind: pa.DataType) -> bool:
    return pa.types.is_floating(kind) or pa.types.is_integer(kind)


def _check_pixel_columns(path: Path, schema: pa.Schema) -> None:
    """All 5460 pixel columns "0".."5459" must be there, numeric, and nothing else numbered."""
    numbered = [name for name in schema.names if name.isdigit()]
    expected = pixel_columns(list(range(N_TIME_SLICES)))
    names = set(numbered)
    if len(numbered) != N_PIXEL_COLUMNS or names != set(expected):
        missing = next((name for name in expected if name not in names), None)
        detail = f"first missing: '{missing}'" if missing else "with numbers beyond 5459"
        raise DataError(
            f"{path}: has {len(numbered)} pixel columns ({detail}), expected "
            f"{N_PIXEL_COLUMNS} = {N_TIME_SLICES} time slices x {N_ROWS} rows x "
            f"{N_COLUMNS} columns named '0'..'{N_PIXEL_COLUMNS - 1}'"
        )
    _check_numeric(path, schema, numbered)


def _check_label_columns(path: Path, schema: pa.Schema) -> None:
    for name in TARGETS:
        if name not in schema.names:
            raise DataError(
                f"{path}: no label column '{name}' (the targets are {', '.join(TARGETS)})"
            )
    _check_numeric(path, schema, TARGETS)


def _group_starts(metadata: pq.FileMetaData) -> np.ndarray:
    rows = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    return np.concatenate([[0], np.cumsum(rows, dtype=np.int64)])


def _find_files(
    layout: str, path: Path, labels_path: Path | None
) -> list[tuple[Path, Path | None]]:
    """Pixel files in natural order, each with its labels file (recon3d) or None."""
    for directory, role in ((path, "data.path"), (labels_path, "data.labels_path")):
        if directory is not None and not directory.is_dir():
            raise DataError(f"{directory} ({role}): no such directory")
    pattern = PARTS_PATTERN if layout == "parts" else f"{RECON3D_PREFIX}*.parquet"
    pixel_files = sorted(path.glob(pattern), key=natural_sort_key)
    if not pixel_files:
        raise DataError(f"{path}: no {pattern} files (data.layout is '{layout}')")
    if layout == "parts":
        return [(file, None) for file in pixel_files]
    if labels_path is None:
        raise ConfigError("data.labels_path: layout 'recon3d' needs the labels directory")
    suffixes = [file.name[len(RECON3D_PREFIX) :] for file in pixel_files]
    return [
        (file, labels_path / f"{LABELS_PREFIX}{s}")
        for file, s in zip(pixel_files, suffixes, strict=True)
    ]


class PixelParquetSource:
    """The clusters of one parquet directory, read row group by row group.

    Args:
        data_config: the ``data`` section (layout, time slices, cuts, split, cap,
            non-finite rows, memory cache).
        path: the pixel directory, already resolved by the caller.
        labels_path: the labels directory (``recon3d`` layout only).

    Attributes:
        chunks: every non-empty row group (``Chunk(pixel file, row group, rows)``),
            files in natural order, groups ascending.
        time_slices: the selected slices, in the configured order (the last axis of x).
        memory_cache: decoded row groups kept for later reads (see the module docstring).
    """

    def __init__(
        self, data_config: PixelDataConfig, path: Path, labels_path: Path | None = None
    ) -> None:
        self.config = data_config
        self.path = Path(path)
        self.labels_path = Path(labels_path) if labels_path is not None else None
        self.time_slices = list(data_config.time_slices)
        # Requested in image order (row, column, slice), so that the row-major matrix
        # arrow builds is already (n, 13, 21, T): no transposition in numpy.
        self._pixel_names = image_order_columns(self.time_slices)
        self._border = border_pixel_indices()
        self.memory_cache = MemoryCache(data_config.memory_cache_mb * 2**20)
        # (pixel file, row group) -> rows that are not finite, for every group decoded
        self._non_finite_rows: dict[tuple[Path, int], np.ndarray] = {}
        # Two pools, so that opening small labels files never closes a pixel file.
        self._open_files = _OpenFilePool(IDLE_OPEN_FILES)
        self._open_label_files = _OpenFilePool(IDLE_OPEN_FILES)
        files = _find_files(data_config.layout, self.path, self.labels_path)
        # Footers of 5460-column files take ~15 ms each to parse: in parallel.
        infos = list(map_ahead(lambda pair: self._inspect(*pair), files))
        self._files: dict[Path, _FileInfo] = {}
        self.chunks: list[Chunk] = []
        for (pixel_file, _), info in zip(files, infos, strict=True):
            self._files[pixel_file] = info
            sizes = np.diff(info.group_starts)
            self.chunks += [
                Chunk(pixel_file, int(group), int(sizes[group])) for group in np.flatnonzero(sizes)
            ]

    @property
    def n_clusters(self) -> int:
        """Clusters in all files (before any cut)."""
        return sum(chunk.n_rows for chunk in self.chunks)

    # -- the ChunkSource protocol ------------------------------------------------------

    @property
    def input_specs(self) -> dict[str, ArraySpec]:
        """One input, ``"pixels"``: (13, 21, T) float32 charge in electrons."""
        shape = (N_ROWS, N_COLUMNS, len(self.time_slices))
        return {INPUT_NAME: ArraySpec(shape, np.dtype(np.float32))}

    @property
    def target_spec(self) -> ArraySpec:
        """(4,) float32 targets in ``TARGETS`` order, physical units."""
        return ArraySpec((len(TARGETS),), np.dtype(np.float32))

    def exact_rows(self, chunk: Chunk) -> int | None:
        """Clusters :meth:`read_chunk` returns for ``chunk``: known unless
        ``contained_only`` cuts, or non-finite rows are dropped from a row group not
        decoded yet (:meth:`decode_ahead` decodes them)."""
        if self.config.contained_only:
            return None
        if self.config.non_finite == "error":
            return chunk.n_rows
        dropped = self._non_finite_in(chunk)
        return None if dropped is None else chunk.n_rows - dropped

    def read_examples(self, chunk: Chunk) -> tuple[Inputs, np.ndarray]:
        """:meth:`read_chunk` as ``({"pixels": x}, y)``."""
        x, y = self.read_chunk(chunk)
        return {INPUT_NAME: x}, y

    def labels_file(self, chunk: Chunk) -> Path | None:
        """The labels file of a chunk (``recon3d``), None when labels are in the pixel file."""
        return self._info(chunk).label_file

    # -- opening ---------------------------------------------------------------------

    def _inspect(self, pixel_file: Path, label_file: Path | None) -> _FileInfo:
        """Check one pixel file (and its labels file) from the footers alone."""
        with _open_parquet(pixel_file) as parquet:
            metadata, schema = parquet.metadata, parquet.schema_arrow
        if metadata.num_rows == 0:
            raise DataError(f"{pixel_file}: the file has no rows")
        _check_pixel_columns(pixel_file, schema)
        if label_file is None:
            _check_label_columns(pixel_file, schema)
            return _FileInfo(_group_starts(metadata), None, None)
        if not label_file.is_file():
            raise DataError(f"{pixel_file}: its labels file {label_file} does not exist")
        with _open_parquet(label_file) as parquet:
            label_metadata, label_schema = parquet.metadata, parquet.schema_arrow
        if label_metadata.num_rows != metadata.num_rows:
            raise DataError(
                f"{label_file}: has {label_metadata.num_rows} rows but its pixel file "
                f"{pixel_file.name} has {metadata.num_rows}; they must be row-aligned"
            )
        _check_label_columns(label_file, label_schema)
        return _FileInfo(_group_starts(metadata), label_file, _group_starts(label_metadata))

    # -- splitting -------------------------------------------------------------------

    def split(self, seed: int) -> dict[str, list[Chunk]]:
        """Train / validation / test chunks: a seeded permutation cut with the fractions.

        Returns:
            ``{"train": [...], "validation": [...], "test": [...]}``, each in permuted
            order and capped by ``max_clusters`` as described in the module docstring.
        """
        cap = self.config.max_clusters
        if cap is not None and cap < len(SPLIT_NAMES) <= self.n_clusters:
            raise ConfigError(
                f"data.max_clusters: {cap} cannot give each of train/validation/test a cluster"
            )
        return split_chunks(
            self.chunks, self.config.split.fractions(), seed, cap, str(self.path), "cluster"
        )

    # -- reading ---------------------------------------------------------------------

    def read_chunk(self, chunk: Chunk, with_final_slice: bool = False) -> tuple[np.ndarray, ...]:
        """Read one chunk.

        Args:
            chunk: one of :attr:`chunks` (or a shortened copy from :meth:`split`).
            with_final_slice: also return the full-cluster image (slice 19).

        Returns:
            ``(x, y)`` or ``(x, y, final)``: x (n, 13, 21, T) float32 charge in
            electrons, time slices last in the configured order; y (n, 4) float32
            targets in ``TARGETS`` order and physical units; final (n, 13, 21) float32.
            Non-finite clusters are dropped (``non_finite: drop``, see
            :meth:`non_finite_dropped`) and ``contained_only`` is applied to all of
            them. The arrays are new, C-contiguous and writeable (the pipeline
            normalises them in place).

        Raises:
            DataError: the file cannot be read, or (``non_finite: error``) a value
                read is NaN, inf or null.
        """
        decoded = self._decoded(chunk, self._extra_pixel_names(with_final_slice))
        start, stop = chunk.offset, chunk.offset + chunk.n_rows
        x = decoded.x.rows(start, stop).reshape(-1, N_ROWS, N_COLUMNS, len(self.time_slices))
        y, extra = decoded.y.rows(start, stop), decoded.extra.rows(start, stop)
        arrays = [x, y]
        if with_final_slice:
            arrays.append(self._final_slice(x, extra))
        keep = decoded.finite.rows(start, stop)
        if self.config.non_finite == "error" and not keep.all():
            self._refuse_non_finite(chunk, keep, x, y)
        if self.config.contained_only:
            keep &= ~(self._border_charge(x, extra) != 0).any(axis=1)
        if not keep.all():
            arrays = [array[keep] for array in arrays]
        return tuple(arrays)

    def iter_chunks(
        self, chunks: Sequence[Chunk], max_rows: int | None = None, with_final_slice: bool = False
    ) -> Iterator[tuple[np.ndarray, ...]]:
        """Yield :meth:`read_chunk` of each chunk in turn, stopping after ``max_rows``
        clusters in all (counted after the cuts; the last is cut short). Chunks are
        decoded a few ahead in parallel threads; memory holds those few, e.g. to fit a
        normalisation on a large split."""
        read = lambda chunk: self.read_chunk(chunk, with_final_slice)  # noqa: E731
        yield from take_examples(map_ahead(read, chunks), max_rows)

    def read_chunks(
        self, chunks: Sequence[Chunk], max_rows: int | None = None, with_final_slice: bool = False
    ) -> tuple[np.ndarray, ...]:
        """All of :meth:`iter_chunks` concatenated: ``(x, y)`` or ``(x, y, final)``.

        The chunks are first decoded into the memory cache (small), so that the
        result is written once into arrays of its final size: memory holds the
        result and one chunk, not the pieces and their concatenation (655 MB instead
        of 1.3 GB for 30k clusters of 20 slices).
        """
        decoded = self.decode_ahead(chunks, with_final_slice)
        rows = [self.exact_rows(chunk) for chunk in chunks]
        if not decoded or None in rows:  # the cache is full, or a cut is known only once applied
            parts = list(self.iter_chunks(chunks, max_rows, with_final_slice))
            parts = parts or [self._empty(with_final_slice)]
            return tuple(np.concatenate(arrays) for arrays in zip(*parts, strict=True))
        empty = self._empty(with_final_slice)
        total = sum(n or 0 for n in rows)
        total = total if max_rows is None else min(total, max_rows)
        arrays = [np.empty((total, *array.shape[1:]), array.dtype) for array in empty]
        filled = 0
        for part in self.iter_chunks(chunks, max_rows, with_final_slice):
            for array, values in zip(arrays, part, strict=True):
                array[filled : filled + len(values)] = values
            filled += len(part[0])
        return tuple(arrays)

    def decode_ahead(self, chunks: Sequence[Chunk], with_final_slice: bool = False) -> bool:
        """Decode the row groups of ``chunks`` into the memory cache now (in parallel
        threads), while they fit; e.g. the training split before the first epoch, so
        that the pipeline knows how many clusters each chunk gives.

        Returns:
            Whether every row group of ``chunks`` is now in the memory cache.
        """
        if self.memory_cache.budget_bytes == 0:
            return False
        extra = tuple(self._extra_pixel_names(with_final_slice))
        groups = {(chunk.source_file, chunk.index): chunk for chunk in chunks}
        todo = [c for c in groups.values() if self._cached(c, extra) is None]

        def decode(chunk: Chunk) -> bool:
            return not self.memory_cache.full and bool(self._decoded(chunk, list(extra)))

        decoded = all(list(map_ahead(decode, todo)))
        # An open file holds its parsed footer (~30 MB for 10 row groups of 5460
        # columns), and the allocators the freed decoding buffers: give both back.
        self._open_files.close_all()
        self._open_label_files.close_all()
        release_freed_memory()
        return decoded and all(self._cached(chunk, extra) is not None for chunk in groups.values())

    def non_finite_dropped(self, chunks: Sequence[Chunk]) -> dict[str, int] | None:
        """Non-finite clusters that reading ``chunks`` drops, by pixel file name (files
        with none left out); None until every chunk's row group has been decoded (in
        this process) or with ``non_finite: error``.

        Counted before the ``contained_only`` cut.
        """
        if self.config.non_finite == "error":
            return None
        dropped: dict[str, int] = {}
        for chunk in chunks:
            count = self._non_finite_in(chunk)
            if count is None:
                return None
            if count:
                name = chunk.source_file.name
                dropped[name] = dropped.get(name, 0) + count
        return dropped

    # -- reading helpers -------------------------------------------------------------

    def _info(self, chunk: Chunk) -> _FileInfo:
        info = self._files.get(chunk.source_file)
        if info is None:
            raise DataError(f"{chunk.source_file}: not one of the files of this source")
        return info

    def _non_finite_in(self, chunk: Chunk) -> int | None:
        """Non-finite rows among the chunk's, None if its row group was not decoded."""
        rows = self._non_finite_rows.get((chunk.source_file, chunk.index))  # type: ignore[arg-type]
        return None if rows is None else _count_in(rows, chunk.offset, chunk.offset + chunk.n_rows)

    def _cached(self, chunk: Chunk, extra: tuple[str, ...]) -> _DecodedGroup | None:
        """A cached decoding of the chunk's row group holding at least ``extra``."""
        final = tuple(pixel_columns([FINAL_SLICE])) if FINAL_SLICE not in self.time_slices else ()
        for columns in dict.fromkeys([extra, final]):  # the whole slice 19 serves any request
            if set(extra) <= set(columns):
                arrays = self.memory_cache.get((chunk.source_file, chunk.index, columns))
                if arrays is not None:
                    return _DecodedGroup(*arrays)
        return None

    def _decoded(self, chunk: Chunk, extra_names: list[str]) -> _DecodedGroup:
        """The chunk's whole row group, decoded (from the memory cache when there)."""
        info = self._info(chunk)
        group = chunk.index
        if not isinstance(group, int):
            raise TypeError(f"{chunk.source_file}: a pixel chunk is one row group, got {group}")
        cached = self._cached(chunk, tuple(extra_names))
        if cached is not None:
            return cached
        first = int(info.group_starts[group])
        n_rows = int(info.group_starts[group + 1]) - first
        label_names = list(TARGETS) if info.label_file is None else []
        names = self._pixel_names + extra_names + label_names
        table = self._read(chunk.source_file, [group], names)
        n_pixels, n_extra = len(self._pixel_names), len(extra_names)
        x = _matrix(table.select(list(range(n_pixels))))
        extra = _matrix(table.select(list(range(n_pixels, n_pixels + n_extra))))
        if info.label_file is None:
            y = _matrix(table.select(list(range(n_pixels + n_extra, table.num_columns))))
        else:
            y = self._labels(info, first, n_rows)
        del table  # 109 MB for 5000 clusters of 20 slices: not kept while compacting
        finite = np.isfinite(x).all(axis=1) & np.isfinite(y).all(axis=1)
        self._non_finite_rows[(chunk.source_file, group)] = np.flatnonzero(~finite)
        decoded = _DecodedGroup(compact(x), compact(y), compact(extra), compact(finite))
        self.memory_cache.put((chunk.source_file, group, tuple(extra_names)), decoded.as_tuple())
        return decoded

    def _refuse_non_finite(
        self, chunk: Chunk, finite: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> None:
        """Raise a DataError naming the chunk's first non-finite value."""
        info = self._info(chunk)
        row = int(np.argmin(finite))
        first_row = int(info.group_starts[chunk.index]) + chunk.offset
        pixels = x[row].reshape(-1)
        if not np.isfinite(pixels).all():
            column = int(np.argmin(np.isfinite(pixels)))
            where = f"{chunk.source_file}: row group {chunk.index}, "
            name, value = self._pixel_names[column], pixels[column]
        else:
            column = int(np.argmin(np.isfinite(y[row])))
            where = f"{info.label_file or chunk.source_file}: "
            where += "" if info.label_file else f"row group {chunk.index}, "
            name, value = TARGETS[column], y[row, column]
        raise DataError(
            f"{where}row {first_row + row}, column '{name}' is {value} (null, NaN or inf); "
            "clusters must be finite with data.non_finite 'error' ('drop' drops such clusters)"
        )

    def _extra_pixel_names(self, with_final_slice: bool) -> list[str]:
        """Columns of slice 19 to read beside the selected slices, if it is not one."""
        if FINAL_SLICE in self.time_slices:
            return []
        if with_final_slice:
            return pixel_columns([FINAL_SLICE])
        if self.config.contained_only:
            offset = FINAL_SLICE * PIXELS_PER_SLICE
            return [str(offset + i) for i in self._border]
        return []

    def _final_slice(self, x: np.ndarray, extra: np.ndarray) -> np.ndarray:
        """(n, 13, 21) slice 19: from x when selected, else from the extra columns."""
        if FINAL_SLICE in self.time_slices:
            return np.ascontiguousarray(x[..., self.time_slices.index(FINAL_SLICE)])
        return extra.reshape(-1, N_ROWS, N_COLUMNS)

    def _border_charge(self, x: np.ndarray, extra: np.ndarray) -> np.ndarray:
        """(n, 64) charge on the border pixels of slice 19."""
        if FINAL_SLICE in self.time_slices:
            pixels = x.reshape(len(x), PIXELS_PER_SLICE, len(self.time_slices))
            return pixels[:, self._border, self.time_slices.index(FINAL_SLICE)]
        if extra.shape[1] == PIXELS_PER_SLICE:  # the whole slice was read
            return extra[:, self._border]
        return extra  # only its border columns were read

    def _labels(self, info: _FileInfo, start: int, n_rows: int) -> np.ndarray:
        """recon3d: rows ``start`` to ``start + n_rows - 1`` of the labels file, whose
        row groups may differ from the pixel file's."""
        starts, label_file = info.label_group_starts, info.label_file
        if starts is None or label_file is None:  # a parts-layout file: labels are inline
            raise ValueError("a parts-layout file has no separate labels file")
        first = int(np.searchsorted(starts, start, side="right")) - 1
        last = int(np.searchsorted(starts, start + n_rows, side="left"))
        groups = list(range(first, last))
        table = self._read(label_file, groups, list(TARGETS), self._open_label_files)
        return _matrix(table.slice(start - int(starts[first]), n_rows))

    def _read(
        self,
        path: Path,
        row_groups: list[int],
        columns: list[str],
        pool: "_OpenFilePool | None" = None,
    ) -> pa.Table:
        try:
            with (pool or self._open_files).borrow(path) as parquet:
                # One thread per chunk: tf.data already reads chunks in parallel.
                return parquet.read_row_groups(row_groups, columns=columns, use_threads=False)
        except (pa.ArrowException, OSError) as error:
            raise DataError(
                f"{path}: cannot read row group(s) {row_groups} ({first_line(error)})"
            ) from None

    def _empty(self, with_final_slice: bool) -> tuple[np.ndarray, ...]:
        x = np.zeros((0, N_ROWS, N_COLUMNS, len(self.time_slices)), np.float32)
        y = np.zeros((0, len(TARGETS)), np.float32)
        return (x, y, np.zeros((0, N_ROWS, N_COLUMNS), np.float32)) if with_final_slice else (x, y)


class _OpenFilePool:
    """Open parquet files for reuse, each lent to one thread at a time.

    (Not ``threading.local``: tf.data runs Python in its own threads, whose Python
    thread state, and with it any thread-local data, is dropped after every call.)
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._idle: list[tuple[Path, pq.ParquetFile]] = []  # oldest first
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self, path: Path) -> Iterator[pq.ParquetFile]:
        with self._lock:
            index = next((i for i, (p, _) in enumerate(self._idle) if p == path), None)
            parquet = self._idle.pop(index)[1] if index is not None else None
        if parquet is None:
            parquet = _open_parquet(path)
        try:
            yield parquet
        finally:
            self.give_back(path, parquet)

    def close_all(self) -> None:
        """Close every idle file."""
        with self._lock:
            idle, self._idle = self._idle, []
        for _, parquet in idle:
            parquet.close()

    def give_back(self, path: Path, parquet: pq.ParquetFile) -> None:
        """Keep an open file for reuse (closing the oldest idle one beyond capacity)."""
        with self._lock:
            self._idle.append((path, parquet))
            evicted = self._idle.pop(0)[1] if len(self._idle) > self._capacity else None
        if evicted is not None:
            evicted.close()


def _matrix(table: pa.Table) -> np.ndarray:
    """(rows, columns) float32, C order, converted in C++ (a Python loop over 5460
    columns costs ~20x more)."""
    if table.num_rows == 0 or table.num_columns == 0:
        return np.zeros((table.num_rows, table.num_columns), np.float32)
    tensor = table.combine_chunks().to_batches()[0].to_tensor(null_to_nan=True)
    return np.asarray(tensor).astype(np.float32, copy=False)


def _count_in(rows: np.ndarray, start: int, stop: int) -> int:
    """How many of the sorted ``rows`` lie in ``[start, stop)``.

    >>> _count_in(np.array([1, 4, 9]), 2, 9)
    1
    """
    return int(np.searchsorted(rows, stop) - np.searchsorted(rows, start))
