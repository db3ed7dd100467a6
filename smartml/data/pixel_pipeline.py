"""tf.data input pipeline streaming smart-pixel clusters from parquet.

One iteration of the dataset is one pass over the given chunks (row groups, see
:mod:`smartml.data.pixel_parquet`); nothing is rewritten or cached on disk first,
and memory is bounded by the shuffle buffer plus a few chunks, not by the data::

    chunk indices --shuffle--> read whole chunks (pyarrow, 2-4 in parallel, in order;
    rows permuted, normalised in numpy) --> blocks of 32 clusters --shuffle
    (shuffle_buffer clusters)--> batches --> prefetch

The shuffle moves blocks of 32 clusters, not single clusters: tf.data's shuffle
costs ~6 µs per element for 2 slices and ~50 µs for 20 (as much as reading the
cluster), so per cluster it was the bottleneck; per block it costs 32 times less.
Each chunk's rows are permuted before it is cut into blocks, so a block is a random
sample of its chunk, and a batch draws on the same few chunks that a per-cluster
shuffle with the same buffer would hold.

Keras ``fit`` re-iterates the dataset every epoch; with ``shuffle=True`` every
iteration has a new order (chunk order, rows within chunks, blocks), and the
sequence of orders is fixed by ``seed``. The pipeline keeps no Python state
between iterations, so a run resumed by Keras ``BackupAndRestore`` simply iterates
it again (the resumed epochs then replay the orders from the first epoch on: the
same data, not a bit-identical continuation).

Errors raised while reading (e.g. a NaN in a row group) reach the caller wrapped
in a ``tf.errors.OpError``; :func:`smartml.backend.reraise_smartml_errors` turns
them back into the original one-line :class:`~smartml.errors.DataError`.
"""

import os
from collections.abc import Sequence

import numpy as np

from smartml.backend import tf
from smartml.config.smart_pixels import N_COLUMNS, N_ROWS
from smartml.data.normalization import PixelNormalization
from smartml.data.pixel_parquet import Chunk, PixelParquetSource
from smartml.errors import DataError

# Chunks read at once: half the cores (the other half trains), 2 to 4. Readers spend
# their time in pyarrow's decoder, which releases the GIL, so they scale with cores;
# each holds a few copies of a row group in memory (~0.5 GB for 5000 rows x 20 slices).
READ_PARALLELISM = min(4, max(2, (os.cpu_count() or 2) // 2))
SHUFFLE_BLOCK = 32  # clusters moved together by the shuffle (see the module docstring)


def make_dataset(
    source: PixelParquetSource,
    chunks: Sequence[Chunk],
    normalization: PixelNormalization,
    batch_size: int,
    shuffle: bool,
    seed: int,
    shuffle_buffer: int = 65536,
) -> tf.data.Dataset:
    """Batches of normalised clusters streamed from the chunks' parquet files.

    Args:
        source: the reader the chunks come from.
        chunks: e.g. ``source.split(seed)["train"]``.
        normalization: fitted on the training split; applied to every batch.
        batch_size: clusters per batch (the last batch may be smaller).
        shuffle: shuffle chunk order and clusters, differently every iteration.
            Without it the order is the chunks' order, the same every time.
        seed: fixes the sequence of shuffled orders.
        shuffle_buffer: clusters held by the shuffle (memory: about
            ``shuffle_buffer * 1.1 kB * T`` for T time slices, e.g. 143 MB for the
            default 65536 and 2 slices, 1.4 GB for 20 slices).

    Returns:
        A dataset of ``(x, y)``: x float32 (b, 13, 21, T) = x / s, y float32 (b, 4)
        = (y - µ) / σ, with static shapes except the batch size.
    """
    if not chunks:
        raise DataError("no chunks to read: the split is empty")
    chunks = list(chunks)
    n_slices = len(source.time_slices)
    n_targets = len(normalization.target_names)

    def read_normalised(index: tf.Tensor, row_seed: tf.Tensor) -> tuple[np.ndarray, np.ndarray]:
        x, y = source.read_chunk(chunks[int(index)])  # fresh arrays, ours to modify
        if shuffle:
            order = np.random.default_rng(int(row_seed) % 2**63).permutation(len(x))
            x, y = x[order], y[order]
        return normalization.transform_inputs(x, out=x), normalization.transform_targets(y)

    @tf.autograph.experimental.do_not_convert
    def read_chunk(index: tf.Tensor, row_seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x, y = tf.py_function(read_normalised, [index, row_seed], (tf.float32, tf.float32))
        x.set_shape((None, N_ROWS, N_COLUMNS, n_slices))  # Keras needs static shapes
        y.set_shape((None, n_targets))
        return x, y

    indices = tf.data.Dataset.range(len(chunks))
    if shuffle:
        indices = indices.shuffle(len(chunks), seed=seed, reshuffle_each_iteration=True)
        row_seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True)
    else:
        row_seeds = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).repeat()
    dataset = tf.data.Dataset.zip(indices, row_seeds)
    # Ordered (deterministic) parallel map: the order depends on the seed only.
    dataset = dataset.map(read_chunk, num_parallel_calls=READ_PARALLELISM, deterministic=True)
    if shuffle:
        # unbatch + batch, not rebatch: rebatch's blocks would be views of their chunk
        # and keep every chunk with a block in the shuffle buffer alive (measured, 20
        # slices, 16k-cluster buffer: 3.6 instead of 2.0 GB); copied blocks own their data.
        dataset = dataset.unbatch().batch(SHUFFLE_BLOCK)
        blocks = max(1, shuffle_buffer // SHUFFLE_BLOCK)
        dataset = dataset.shuffle(blocks, seed=seed + 2, reshuffle_each_iteration=True)
    # rebatch re-cuts (concatenates / splits) batches without unbatching to clusters.
    return dataset.rebatch(batch_size).prefetch(tf.data.AUTOTUNE)
