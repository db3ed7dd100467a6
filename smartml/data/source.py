"""What every dataset reader offers: named inputs and targets, read chunk by chunk.

A task's reader (parquet clusters, HDF5 point clouds, ROOT ntuples) describes its
data as :class:`ArraySpec` per input name and one for the targets, lists its
:class:`~smartml.data.chunks.Chunk` pieces, and reads one chunk at a time into
numpy. The streaming pipeline (:mod:`smartml.data.pipeline`), the split
(:func:`~smartml.data.chunks.split_chunks`) and the fits on the training split
(:func:`iter_examples`) need nothing else.

>>> import numpy as np
>>> batches = [({"a": np.arange(4)}, np.arange(4)), ({"a": np.arange(3)}, np.arange(3))]
>>> list(take_examples(batches, 5))
[({'a': array([0, 1, 2, 3])}, array([0, 1, 2, 3])), ({'a': array([0])}, array([0]))]
"""

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable

import numpy as np

from smartml.data.chunks import Chunk
from smartml.errors import DataError

Inputs = dict[str, np.ndarray]
Item = TypeVar("Item")
Result = TypeVar("Result")

# Chunks read at once: half the cores (the other half trains), 2 to 4. Readers spend
# their time in decoders that release the GIL (pyarrow, h5py), so they scale with
# cores; each holds a few copies of a chunk in memory (~0.5 GB for 5000 pixel
# clusters x 20 slices).
READ_PARALLELISM = min(4, max(2, (os.cpu_count() or 2) // 2))


class ArraySpec(NamedTuple):
    """Shape (without the batch axis) and dtype of one array of examples.

    >>> ArraySpec((64, 3), np.dtype("float32")).batched(5)
    (5, 64, 3)
    """

    shape: tuple[int, ...]
    dtype: np.dtype

    def batched(self, n: int | None) -> tuple[int | None, ...]:
        """The shape of ``n`` examples."""
        return (n, *self.shape)


@runtime_checkable
class ChunkSource(Protocol):
    """A dataset read one :class:`Chunk` at a time.

    Attributes:
        chunks: every chunk of the dataset, in a fixed order.
        input_specs: input name -> spec; the names are the model's Input names.
        target_spec: spec of the targets (e.g. ``(4,)`` float32, ``()`` int64 class).
    """

    chunks: list[Chunk]

    @property
    def input_specs(self) -> dict[str, ArraySpec]: ...

    @property
    def target_spec(self) -> ArraySpec: ...

    def exact_rows(self, chunk: Chunk) -> int | None:
        """How many examples ``read_examples(chunk)`` will return, when known before
        reading it (``chunk.n_rows`` unless the reader drops rows, e.g. by a cut or
        because they are not finite), else None. Known counts let the pipeline state
        its number of batches, which Keras needs to resume in the middle of an epoch."""
        ...

    def read_examples(self, chunk: Chunk) -> tuple[Inputs, np.ndarray]:
        """Inputs (name -> (n, *shape)) and targets (n, *shape) of one chunk: rows
        ``chunk.offset`` to ``chunk.offset + chunk.n_rows - 1`` of its piece (a split
        divides pieces into such ranges).

        The arrays are new and writeable (the pipeline transforms them in place);
        a NaN, inf or unreadable value raises a one-line
        :class:`~smartml.errors.DataError` naming the file and the row.
        """
        ...


def take_examples(batches: Iterable[tuple[Any, ...]], max_rows: int | None) -> Iterator[tuple]:
    """The leading ``max_rows`` rows of a stream of batches, the last one cut short.

    Each batch is a tuple whose items are arrays or dicts of arrays, all with the
    same number of rows. Lazy: reads no more batches than needed.
    """
    remaining = np.inf if max_rows is None else max_rows
    for batch in batches:
        if remaining <= 0:
            return
        n = _n_rows(batch[0])
        if n > remaining:
            batch = tuple(_head(item, int(remaining)) for item in batch)
            n = int(remaining)
        remaining -= n
        yield batch


def _n_rows(item: np.ndarray | Inputs) -> int:
    return len(next(iter(item.values()))) if isinstance(item, dict) else len(item)


def _head(item: np.ndarray | Inputs, n: int) -> np.ndarray | Inputs:
    if isinstance(item, dict):
        return {name: array[:n] for name, array in item.items()}
    return item[:n]


def map_ahead(
    function: Callable[[Item], Result], items: Iterable[Item], workers: int = READ_PARALLELISM
) -> Iterator[Result]:
    """``map(function, items)`` computed in ``workers`` threads, in order, with at
    most ``workers`` items in progress or waiting (so memory holds a few results).

    >>> list(map_ahead(lambda n: n * n, range(5), workers=2))
    [0, 1, 4, 9, 16]
    """
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(workers) as pool:
        for item in items:
            if len(pending) == workers:
                yield pending.popleft().result()
            pending.append(pool.submit(function, item))
        while pending:
            yield pending.popleft().result()


def iter_examples(
    source: ChunkSource, chunks: Sequence[Chunk], max_rows: int | None = None
) -> Iterator[tuple[Inputs, np.ndarray]]:
    """``source.read_examples`` of each chunk in turn, stopping after ``max_rows``
    examples in all (the last batch cut short). Memory is one chunk at a time, e.g.
    to fit a normalisation on a large training split."""
    return take_examples((source.read_examples(chunk) for chunk in chunks), max_rows)


def read_examples(
    source: ChunkSource, chunks: Sequence[Chunk], max_rows: int | None = None
) -> tuple[Inputs, np.ndarray]:
    """All of :func:`iter_examples` concatenated (empty arrays of the specs' shapes
    when there is nothing to read)."""
    parts = list(iter_examples(source, chunks, max_rows))
    if not parts:
        inputs = {
            name: np.zeros((0, *spec.shape), spec.dtype)
            for name, spec in source.input_specs.items()
        }
        target = source.target_spec
        return inputs, np.zeros((0, *target.shape), target.dtype)
    inputs = {name: np.concatenate([part[0][name] for part in parts]) for name in parts[0][0]}
    return inputs, np.concatenate([part[1] for part in parts])


def check_examples(source: ChunkSource, chunk: Chunk, inputs: Inputs, targets: np.ndarray) -> None:
    """Raise a one-line DataError when what a chunk gave does not match the specs.

    Checks the input names, the shape of each input and of the targets (batch axis
    aside) and that every array has as many rows as the targets; dtypes are cast
    by the caller, not checked.
    """
    where = f"{chunk.source_file} (chunk {chunk.index})"
    names, expected = sorted(inputs), sorted(source.input_specs)
    if names != expected:
        raise DataError(f"{where}: the reader gave inputs {names}, expected {expected}")
    arrays = {**{f"input '{name}'": inputs[name] for name in names}, "targets": targets}
    specs = {
        **{f"input '{n}'": s for n, s in source.input_specs.items()},
        "targets": source.target_spec,
    }
    for what, array in arrays.items():
        if np.shape(array)[1:] != specs[what].shape:
            expected_shape = ", ".join(["n", *map(str, specs[what].shape)])
            raise DataError(
                f"{where}: {what} has shape {np.shape(array)}, expected ({expected_shape})"
            )
        if len(array) != len(targets):
            raise DataError(
                f"{where}: {what} has {len(array)} rows but the targets have {len(targets)}"
            )
