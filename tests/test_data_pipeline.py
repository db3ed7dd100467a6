"""The generic streaming pipeline on a masked multi-input point-cloud source
(the RICH shapes: points (N, 3), mask (N,), momentum (1,); integer class targets)."""

from pathlib import Path

import numpy as np
import pytest

from smartml.backend import keras, reraise_smartml_errors, tf
from smartml.data.chunks import Chunk
from smartml.data.pipeline import make_dataset
from smartml.data.source import ArraySpec, ChunkSource, iter_examples, read_examples
from smartml.errors import DataError

N_POINTS, N_EXAMPLES, ROWS_PER_CHUNK = 8, 50, 7


class PointCloudSource:
    """Points, mask and momentum held in memory, cut into chunks of 7 rows.

    ``drop_every``: drop each example whose index is a multiple of it (a cut: the
    row counts are then not exact); ``damage``: make ``read_examples`` return
    something wrong for the chunk at that position.
    """

    def __init__(self, seed: int = 0, drop_every: int | None = None, damage: str | None = None):
        rng = np.random.default_rng(seed)
        self.points = rng.normal(size=(N_EXAMPLES, N_POINTS, 3)).astype(np.float32)
        self.mask = rng.random((N_EXAMPLES, N_POINTS)) < 0.7
        self.momentum = rng.uniform(1, 60, (N_EXAMPLES, 1)).astype(np.float32)
        self.labels = np.arange(N_EXAMPLES, dtype=np.int64)  # identifies each example
        self.drop_every, self.damage = drop_every, damage
        self.chunks = [
            Chunk(Path("rich_0.h5"), (start, stop), stop - start)
            for start in range(0, N_EXAMPLES, ROWS_PER_CHUNK)
            for stop in [min(start + ROWS_PER_CHUNK, N_EXAMPLES)]
        ]

    @property
    def input_specs(self) -> dict[str, ArraySpec]:
        return {
            "points": ArraySpec((N_POINTS, 3), np.dtype(np.float32)),
            "mask": ArraySpec((N_POINTS,), np.dtype(bool)),
            "momentum": ArraySpec((1,), np.dtype(np.float32)),
        }

    @property
    def target_spec(self) -> ArraySpec:
        return ArraySpec((), np.dtype(np.int64))

    def exact_rows(self, chunk: Chunk) -> int | None:
        return chunk.n_rows if self.drop_every is None else None

    def read_examples(self, chunk: Chunk):
        start = chunk.index[0] + chunk.offset  # the piece's first row, then the range in it
        rows = np.arange(start, start + chunk.n_rows)
        if self.drop_every:
            rows = rows[rows % self.drop_every != 0]
        inputs = {
            "points": self.points[rows].copy(),
            "mask": self.mask[rows].copy(),
            "momentum": self.momentum[rows].copy(),
        }
        targets = self.labels[rows].copy()
        if self.damage and start == 14:  # the third chunk
            self._damage(inputs, targets, chunk)
        return inputs, targets

    def _damage(self, inputs, targets, chunk):
        if self.damage == "nan":
            raise DataError(f"{chunk.source_file}: row 15, input 'momentum' is nan")
        if self.damage == "shape":
            inputs["points"] = inputs["points"][:, :5]
        elif self.damage == "missing":
            del inputs["mask"]
        elif self.damage == "rows":
            inputs["momentum"] = inputs["momentum"][:3]


def double_momentum(inputs, targets):
    inputs["momentum"] *= 2.0
    return inputs, targets


def epoch(dataset) -> tuple[dict[str, np.ndarray], np.ndarray, list[int]]:
    parts, targets = [], []
    for inputs, labels in dataset:
        parts.append({name: tensor.numpy() for name, tensor in inputs.items()})
        targets.append(labels.numpy())
    inputs = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    return inputs, np.concatenate(targets), [len(t) for t in targets]


def test_the_toy_source_and_a_pixel_reader_are_chunk_sources(pixel_parts):
    from smartml.tasks.smart_pixels.parquet_reader import PixelParquetSource
    from smartml.tasks.smart_pixels.schema import PixelDataConfig

    config = PixelDataConfig(source="parquet", path=str(pixel_parts.directory))
    assert isinstance(PointCloudSource(), ChunkSource)
    assert isinstance(PixelParquetSource(config, pixel_parts.directory), ChunkSource)


def test_elements_are_dicts_with_static_shapes_and_the_specs_dtypes():
    source = PointCloudSource()
    inputs, targets = make_dataset(source, source.chunks, None, 16, True, 0, 64).element_spec
    assert sorted(inputs) == ["mask", "momentum", "points"]
    assert inputs["points"].shape.as_list() == [None, N_POINTS, 3]
    assert inputs["points"].dtype == tf.float32
    assert inputs["mask"].shape.as_list() == [None, N_POINTS] and inputs["mask"].dtype == tf.bool
    assert inputs["momentum"].shape.as_list() == [None, 1]
    assert targets.shape.as_list() == [None] and targets.dtype == tf.int64


@pytest.mark.parametrize("shuffle", [False, True])
def test_one_epoch_is_every_example_once_transformed(shuffle):
    source = PointCloudSource()
    dataset = make_dataset(source, source.chunks, double_momentum, 16, shuffle, 3, 64)
    inputs, labels, sizes = epoch(dataset)
    assert sizes == [16, 16, 16, 2]
    if not shuffle:
        np.testing.assert_array_equal(labels, np.arange(N_EXAMPLES))
    assert sorted(labels) == list(range(N_EXAMPLES))
    np.testing.assert_array_equal(inputs["points"], source.points[labels])
    np.testing.assert_array_equal(inputs["mask"], source.mask[labels])
    np.testing.assert_array_equal(inputs["momentum"], 2.0 * source.momentum[labels])


def test_shuffled_orders_change_every_epoch_and_are_fixed_by_the_seed():
    source = PointCloudSource()

    def two_epochs(seed):
        dataset = make_dataset(source, source.chunks, None, 10, True, seed, 32)
        return epoch(dataset)[1], epoch(dataset)[1]

    first, second = two_epochs(5)
    assert not np.array_equal(first, second)
    again = two_epochs(5)
    np.testing.assert_array_equal(first, again[0])
    np.testing.assert_array_equal(second, again[1])
    assert not np.array_equal(first, two_epochs(6)[0])


def test_cardinality_is_stated_when_rows_are_known():
    exact = PointCloudSource()
    dataset = make_dataset(exact, exact.chunks, None, 16, True, 0, 64)
    assert int(dataset.cardinality()) == 4 == len(epoch(dataset)[2])
    cut = PointCloudSource(drop_every=3)
    dataset = make_dataset(cut, cut.chunks, None, 16, True, 0, 64)
    assert int(dataset.cardinality()) == int(tf.data.UNKNOWN_CARDINALITY)
    labels = epoch(dataset)[1]
    assert sorted(labels) == [i for i in range(N_EXAMPLES) if i % 3]


def test_a_keras_model_with_three_named_inputs_fits_on_it():
    source = PointCloudSource()
    points = keras.Input((N_POINTS, 3), name="points")
    mask = keras.Input((N_POINTS,), name="mask")
    momentum = keras.Input((1,), name="momentum")
    weights = keras.layers.Lambda(lambda m: tf.cast(m, tf.float32)[..., None])(mask)
    pooled = keras.layers.GlobalMaxPooling1D()(keras.layers.Dense(4)(points) * weights)
    logits = keras.layers.Dense(2)(keras.layers.Concatenate()([pooled, momentum]))
    model = keras.Model([points, mask, momentum], logits)
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )

    def to_two_classes(inputs, targets):
        return inputs, targets % 2

    dataset = make_dataset(source, source.chunks, to_two_classes, 16, True, 0, 64)
    history = model.fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_empty_chunk_list_is_an_error():
    with pytest.raises(DataError, match="no chunks"):
        make_dataset(PointCloudSource(), [], None, 16, True, 0)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("nan", r"rich_0\.h5: row 15, input 'momentum' is nan"),
        (
            "shape",
            r"rich_0\.h5 \(chunk \(14, 21\)\): input 'points' has shape \(7, 5, 3\), expected \(n, 8, 3\)",
        ),
        (
            "missing",
            r"gave inputs \['momentum', 'points'\], expected \['mask', 'momentum', 'points'\]",
        ),
        ("rows", r"input 'momentum' has 3 rows but the targets have 7"),
    ],
)
def test_bad_chunks_raise_one_line_data_errors(damage, expected):
    source = PointCloudSource(damage=damage)
    dataset = make_dataset(source, source.chunks, None, 4, False, 0)
    with pytest.raises(DataError, match=expected) as caught, reraise_smartml_errors():
        epoch(dataset)
    assert "\n" not in str(caught.value)


def test_iter_and_read_examples_stop_after_max_rows():
    source = PointCloudSource()
    batches = list(iter_examples(source, source.chunks, max_rows=10))
    assert [len(targets) for _, targets in batches] == [7, 3]
    inputs, targets = read_examples(source, source.chunks[2:], max_rows=9)
    np.testing.assert_array_equal(targets, np.arange(14, 23))
    np.testing.assert_array_equal(inputs["points"], source.points[14:23])
    everything = read_examples(source, source.chunks)[1]
    np.testing.assert_array_equal(everything, np.arange(N_EXAMPLES))


def test_read_examples_of_nothing_has_the_specs_shapes():
    inputs, targets = read_examples(PointCloudSource(), [])
    assert inputs["points"].shape == (0, N_POINTS, 3) and inputs["mask"].dtype == bool
    assert targets.shape == (0,) and targets.dtype == np.int64
