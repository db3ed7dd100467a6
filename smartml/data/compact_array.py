"""Lossless compact storage of decoded examples: mostly-zero arrays kept sparse.

Detector data are mostly zeros: a smart-pixel cluster charges ~2% of its 13x21x20
pixels, a padded point cloud fills a few of its points. :func:`compact` keeps such an
array as its non-zero values and their positions per row (compressed sparse rows),
and any other array as it is; :meth:`CompactArray.rows` gives back exactly the
original rows (NaN and inf included: they are non-zero). A 2-slice cluster then
takes ~100 bytes instead of 2.2 kB, a 20-slice one ~700 bytes instead of 22 kB, so
the decoded clusters of a whole dataset fit in memory (see
:class:`~smartml.data.memory_cache.MemoryCache`).

>>> import numpy as np
>>> x = np.zeros((3, 4, 5), np.float32)
>>> x[0, 1, 2], x[2, 3, 4] = 7.5, np.nan
>>> stored = compact(x)
>>> stored.is_sparse, stored.nbytes < x.nbytes
(True, True)
>>> np.array_equal(stored.rows(1, 3), x[1:3], equal_nan=True)
True
"""

from dataclasses import dataclass

import numpy as np

# Stored sparse when values + positions take at most this fraction of the dense
# bytes: decoding a sparse block costs a scatter, worth it only for a real saving.
SPARSE_WHEN_SMALLER_THAN = 0.5


@dataclass(frozen=True)
class CompactArray:
    """An array of ``n`` rows, kept dense or as compressed sparse rows.

    Attributes:
        shape: the original array's shape (rows first).
        dtype: its dtype.
        dense: the array itself when not sparse, else None.
        row_starts: (n + 1,) int64: row i's non-zeros are ``[row_starts[i], row_starts[i + 1])``.
        positions: flat position of each non-zero within its row (uint16 or uint32).
        values: the non-zero values.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    dense: np.ndarray | None = None
    row_starts: np.ndarray | None = None
    positions: np.ndarray | None = None
    values: np.ndarray | None = None

    @property
    def is_sparse(self) -> bool:
        """Whether the rows are kept as their non-zero values."""
        return self.dense is None

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        parts = (self.dense, self.row_starts, self.positions, self.values)
        return sum(part.nbytes for part in parts if part is not None)

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start`` to ``stop - 1`` as a new, writeable, C-contiguous array."""
        if self.dense is not None:
            return self.dense[start:stop].copy()
        if self.row_starts is None or self.positions is None or self.values is None:
            raise ValueError("a sparse CompactArray needs row_starts, positions and values")
        n, width = stop - start, int(np.prod(self.shape[1:], dtype=np.int64))
        out = np.zeros((n, width), self.dtype)
        first, last = int(self.row_starts[start]), int(self.row_starts[stop])
        counts = np.diff(self.row_starts[start : stop + 1])
        row = np.repeat(np.arange(n), counts)
        out[row, self.positions[first:last]] = self.values[first:last]
        return out.reshape(n, *self.shape[1:])


def compact(array: np.ndarray) -> CompactArray:
    """``array`` (rows first) as a :class:`CompactArray`: sparse when that takes at
    most :data:`SPARSE_WHEN_SMALLER_THAN` of its bytes, else a copy kept dense.

    >>> compact(np.ones((2, 3))).is_sparse
    False
    """
    array = np.asarray(array)
    shape, dtype = tuple(array.shape), array.dtype
    width = int(np.prod(shape[1:], dtype=np.int64)) if array.ndim > 1 else 1
    flat = array.reshape(len(array), width)
    position_type = np.uint16 if width <= np.iinfo(np.uint16).max + 1 else np.uint32
    non_zero = flat != 0  # NaN != 0: kept, so rows come back exactly
    n_values = int(np.count_nonzero(non_zero))
    sparse_bytes = n_values * (dtype.itemsize + np.dtype(position_type).itemsize)
    sparse_bytes += 8 * (len(array) + 1)  # the row starts
    if array.ndim < 2 or sparse_bytes > SPARSE_WHEN_SMALLER_THAN * flat.nbytes:
        return CompactArray(shape, dtype, dense=np.array(array, copy=True))
    rows, columns = np.nonzero(non_zero)
    row_starts = np.zeros(len(array) + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=len(array)), out=row_starts[1:])
    return CompactArray(
        shape,
        dtype,
        row_starts=row_starts,
        positions=columns.astype(position_type),
        values=flat[rows, columns],
    )
