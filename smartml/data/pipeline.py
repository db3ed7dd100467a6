"""Streaming tf.data pipeline over any :class:`~smartml.data.source.ChunkSource`.

One iteration of the dataset is one pass over the given chunks (row groups, blocks
of rows, see :mod:`smartml.data.chunks`); nothing is rewritten or cached on disk
first, and memory is bounded by the shuffle buffer plus a few chunks, not by the
data::

    chunk indices --shuffle--> read whole chunks (2-4 in parallel, in order; rows
    permuted, transformed in numpy) --> blocks of 32 examples --shuffle
    (shuffle_buffer examples)--> batches --> prefetch

Elements are ``(inputs, targets)`` batches with ``inputs`` a dict keyed by input
name (a Keras functional model takes a dict keyed by its Input layers' names), all
with static shapes except the batch axis.

The shuffle moves blocks of 32 examples, not single examples: tf.data's shuffle
costs ~6 µs per element for a 2-slice pixel cluster and ~50 µs for 20 slices (as
much as reading the cluster), so per example it was the bottleneck; per block it
costs 32 times less. Each chunk's rows are permuted before it is cut into blocks,
so a block is a random sample of its chunk, and a batch draws on the same few
chunks that a per-example shuffle with the same buffer would hold.

Keras ``fit`` re-iterates the dataset every epoch; with ``shuffle=True`` every
iteration has a new order (chunk order, rows within chunks, blocks), and the
sequence of orders is fixed by ``seed``. The pipeline keeps no Python state
between iterations, so a run resumed by Keras ``BackupAndRestore`` simply iterates
it again (the resumed epochs then replay the orders from the first epoch on: the
same data, not a bit-identical continuation). When the source knows how many rows
each chunk gives before reading it (:meth:`~smartml.data.source.ChunkSource.exact_rows`),
the dataset states its number of batches, which lets Keras resume an interrupted
run in the middle of an epoch.

Errors raised while reading (e.g. a NaN in a row group) reach the caller wrapped
in a ``tf.errors.OpError``; :func:`smartml.backend.reraise_smartml_errors` turns
them back into the original one-line :class:`~smartml.errors.DataError`.
"""

import logging
from collections.abc import Callable, Sequence

import numpy as np

from smartml.backend import tf
from smartml.data.chunks import Chunk
from smartml.data.source import READ_PARALLELISM, ChunkSource, Inputs, check_examples
from smartml.errors import DataError

log = logging.getLogger(__name__)
SHUFFLE_BLOCK = 32  # examples moved together by the shuffle (see the module docstring)
# The shuffle buffer holds at most this many bytes of examples: TensorFlow keeps the
# memory of a buffer once filled, and 65536 clusters of 20 slices are 1.4 GB.
SHUFFLE_BUFFER_BYTES = 512 * 2**20

Transform = Callable[[Inputs, np.ndarray], tuple[Inputs, np.ndarray]]


def make_dataset(
    source: ChunkSource,
    chunks: Sequence[Chunk],
    transform: Transform | None,
    batch_size: int,
    shuffle: bool,
    seed: int,
    shuffle_buffer: int = 65536,
    shard: tuple[int, int] = (0, 1),
) -> tf.data.Dataset:
    """Batches of transformed examples streamed from the chunks' files.

    Args:
        source: the reader the chunks come from.
        chunks: e.g. ``split_chunks(source.chunks, ...)["train"]``.
        transform: ``(inputs, targets) -> (inputs, targets)`` applied in numpy to
            each chunk (e.g. a normalisation fitted on the training split); it may
            modify its arguments in place and must keep their shapes. None: none.
        batch_size: examples per batch (the last batch may be smaller).
        shuffle: shuffle chunk order and examples, differently every iteration.
            Without it the order is the chunks' order, the same every time.
        seed: fixes the sequence of shuffled orders.
        shuffle_buffer: examples held by the shuffle (memory: that many examples,
            e.g. 143 MB for the default 65536 and 2-slice pixel clusters), at most
            :data:`SHUFFLE_BUFFER_BYTES` of them (23.5k 20-slice clusters).
        shard: ``(i, n)``: this reader is worker ``i`` of ``n`` and takes chunks
            ``i::n``, chosen before any shuffle so that it never decodes rows another
            worker trains on (tf.distribute's own sharding is turned off). Its
            batches are still of the global ``batch_size``: tf.distribute cuts each
            into ``n × local replicas`` pieces and gives this worker's replicas
            theirs, so every step trains on ``batch_size`` examples in all. The
            share is repeated and cut at the global number of batches (of rows
            announced by the chunks), so that all workers take the same number of
            full steps.

    Returns:
        A dataset of ``(inputs, targets)``: ``inputs`` a dict name -> (b, *shape)
        and ``targets`` (b, *shape), with the sources' specs' shapes and dtypes.

    Raises:
        DataError: no chunks (or none for this shard). While iterating (wrapped,
            see the module docstring): a chunk that cannot be read, or whose arrays
            do not match the specs.
    """
    if not chunks:
        raise DataError("no chunks to read: the split is empty")
    # Batches in one pass over all workers' chunks: a worker's epoch (see below).
    global_batches = -(-sum(chunk.n_rows for chunk in chunks) // batch_size)
    chunks = shard_chunks(chunks, *shard)
    names = sorted(source.input_specs)  # the order of the flat py_function outputs
    specs = [source.input_specs[name] for name in names] + [source.target_spec]

    def read_transformed(index: tf.Tensor, row_seed: tf.Tensor) -> list[np.ndarray]:
        chunk = chunks[int(index)]
        inputs, targets = source.read_examples(chunk)  # fresh arrays, ours to modify
        check_examples(source, chunk, inputs, targets)
        if shuffle:
            order = np.random.default_rng(int(row_seed) % 2**63).permutation(len(targets))
            inputs = {name: array[order] for name, array in inputs.items()}
            targets = targets[order]
        if transform is not None:
            inputs, targets = transform(inputs, targets)
        arrays = [inputs[name] for name in names] + [targets]
        return [np.asarray(a, spec.dtype) for a, spec in zip(arrays, specs, strict=True)]

    @tf.autograph.experimental.do_not_convert
    def read_chunk(index: tf.Tensor, row_seed: tf.Tensor) -> tuple[dict, tf.Tensor]:
        dtypes = [tf.as_dtype(spec.dtype) for spec in specs]
        tensors = tf.py_function(read_transformed, [index, row_seed], dtypes)
        for tensor, spec in zip(tensors, specs, strict=True):
            tensor.set_shape(spec.batched(None))  # Keras needs static shapes
        return dict(zip(names, tensors[:-1], strict=True)), tensors[-1]

    indices = tf.data.Dataset.range(len(chunks))
    if shuffle:
        indices = indices.shuffle(len(chunks), seed=seed, reshuffle_each_iteration=True)
        row_seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True)
    else:
        row_seeds = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).repeat()
    if shard[1] > 1:
        indices = indices.repeat()  # one worker's share: see the end
    dataset = tf.data.Dataset.zip(indices, row_seeds)
    # Ordered (deterministic) parallel map: the order depends on the seed only.
    dataset = dataset.map(read_chunk, num_parallel_calls=READ_PARALLELISM, deterministic=True)
    if shuffle:
        # Blocks cut by rebatch (the blocks unbatch + batch would make, at 1/3 of the
        # cost: 2 slices, 300k instead of 160k clusters/s) and copied: a block that
        # stays a view of its chunk keeps the whole chunk alive in the shuffle buffer
        # (measured, 20 slices, 16k-cluster buffer: 3.6 instead of 2.0 GB).
        dataset = dataset.rebatch(SHUFFLE_BLOCK).map(_owned_copy)
        blocks = max(1, buffered_examples(source, shuffle_buffer) // SHUFFLE_BLOCK)
        dataset = dataset.shuffle(blocks, seed=seed + 2, reshuffle_each_iteration=True)
    # rebatch re-cuts (concatenates / splits) batches without unbatching to examples.
    dataset = dataset.rebatch(batch_size).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    # sharded by chunk above; tf.distribute would otherwise read everything and drop
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    dataset = dataset.with_options(options)
    if shard[1] > 1:
        # Workers must take the same number of steps, each step a full batch (an
        # empty per-replica batch breaks some layers, e.g. QSeparableConv2D): each
        # worker repeats its share and an epoch is one pass over all the data in
        # global batches; Keras starts every epoch at the beginning of the dataset.
        # Keras takes the stated number of batches for the steps, although each
        # worker uses only its pieces of each batch (about its share in all).
        dataset = dataset.take(global_batches)  # of an infinite dataset: exactly that many
        return dataset.apply(tf.data.experimental.assert_cardinality(global_batches))
    rows = [source.exact_rows(chunk) for chunk in chunks]
    if any(n is None for n in rows):
        return dataset  # rows per chunk are known only after reading
    batches = -(-sum(n for n in rows if n is not None) // batch_size)
    return dataset.apply(tf.data.experimental.assert_cardinality(batches))


def buffered_examples(source: ChunkSource, shuffle_buffer: int) -> int:
    """Examples the shuffle holds: ``shuffle_buffer``, or fewer when they would take
    more than :data:`SHUFFLE_BUFFER_BYTES` (said in one log line)."""
    specs = [*source.input_specs.values(), source.target_spec]
    example_bytes = sum(int(np.prod(s.shape, dtype=np.int64)) * s.dtype.itemsize for s in specs)
    fitting = max(SHUFFLE_BLOCK, SHUFFLE_BUFFER_BYTES // max(example_bytes, 1))
    if fitting < shuffle_buffer:
        log.info(
            "shuffle buffer: %d examples of %.1f kB (training.shuffle_buffer %d: %.0f MB)",
            fitting,
            example_bytes / 1024,
            shuffle_buffer,
            shuffle_buffer * example_bytes / 2**20,
        )
    return min(shuffle_buffer, fitting)


def shard_chunks(chunks: Sequence[Chunk], index: int, count: int) -> list[Chunk]:
    """Worker ``index`` of ``count``'s share of ``chunks``: every ``count``-th from
    ``index`` on (each worker reads whole chunks, none twice).

    Raises:
        DataError: fewer chunks than workers, so that some worker has none (every
            worker raises it, before any of them waits for the others).

    >>> shard_chunks(["a", "b", "c", "d", "e"], 1, 2)
    ['b', 'd']
    """
    if not 0 <= index < count:
        raise ValueError(f"shard {index} of {count}")
    if len(chunks) < count:
        raise DataError(
            f"{count} workers, but the split has {len(chunks)} chunk(s) and each worker "
            "reads whole chunks; use fewer workers or smaller chunks (more row groups / files)"
        )
    return list(chunks)[index::count]


def _owned_copy(inputs: dict, targets: tf.Tensor) -> tuple[dict, tf.Tensor]:
    """The block in buffers of its own (not views of the chunk it was cut from)."""
    copy = tf.raw_ops.DeepCopy
    return {name: copy(x=tensor) for name, tensor in inputs.items()}, copy(x=targets)
