"""The tf.data pipeline: every cluster once per epoch, normalised, in seeded orders."""

import numpy as np
import pyarrow as pa
import pytest
from pixel_files import pixel_table, random_clusters, write_table

from smartml.backend import keras, reraise_smartml_errors, tf, unwrap_smartml_error
from smartml.data.pipeline import make_dataset
from smartml.errors import DataError
from smartml.tasks.smart_pixels.layout import TARGETS
from smartml.tasks.smart_pixels.normalization import PixelNormalization
from smartml.tasks.smart_pixels.parquet_reader import PixelParquetSource
from smartml.tasks.smart_pixels.schema import PixelDataConfig

TIME_SLICES = [19, 0, 4]


@pytest.fixture(scope="module")
def source(pixel_parts) -> PixelParquetSource:
    config = PixelDataConfig(
        source="parquet", path=str(pixel_parts.directory), time_slices=TIME_SLICES
    )
    return PixelParquetSource(config, pixel_parts.directory)


@pytest.fixture(scope="module")
def normalization(source) -> PixelNormalization:
    return PixelNormalization.fit_batches(source.iter_chunks(source.chunks), TARGETS)


def epoch(dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """One full iteration: all x, all y and the batch sizes."""
    xs, ys = [], []
    for inputs, y in dataset:
        assert list(inputs) == ["pixels"]
        xs.append(inputs["pixels"].numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys), [len(y) for y in ys]


def sorted_by_targets(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort(y.T[::-1])  # the random targets identify the clusters
    return x[order], y[order]


def test_element_shapes_are_static(source, normalization):
    dataset = make_dataset(source, source.chunks, normalization.transform, 16, True, 0, 64)
    inputs_spec, y_spec = dataset.element_spec
    x_spec = inputs_spec["pixels"]
    assert x_spec.shape.as_list() == [None, 13, 21, 3] and x_spec.dtype == tf.float32
    assert y_spec.shape.as_list() == [None, 4] and y_spec.dtype == tf.float32


@pytest.mark.parametrize("shuffle", [False, True])
def test_one_epoch_is_every_cluster_once_normalised(source, normalization, pixel_parts, shuffle):
    dataset = make_dataset(source, source.chunks, normalization.transform, 16, shuffle, 3, 64)
    x, y, sizes = epoch(dataset)
    assert sizes == [16] * 7 + [8]  # 120 clusters
    expected_x = normalization.transform_inputs(pixel_parts.images(TIME_SLICES))
    expected_y = normalization.transform_targets(pixel_parts.labels)
    assert len(np.unique(y, axis=0)) == len(y) == 120
    if not shuffle:  # the chunks' order, unchanged
        np.testing.assert_array_equal(x, expected_x)
        np.testing.assert_array_equal(y, expected_y)
    got, expected = sorted_by_targets(x, y), sorted_by_targets(expected_x, expected_y)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_only_the_given_chunks_are_read(source, normalization, pixel_parts):
    chunks = source.split(seed=1)["validation"] + source.split(seed=1)["test"]
    _, y, _ = epoch(make_dataset(source, chunks, normalization.transform, 7, True, 0, 64))
    expected = normalization.transform_targets(source.read_chunks(chunks)[1])
    np.testing.assert_array_equal(
        sorted_by_targets(y, y)[1], sorted_by_targets(expected, expected)[1]
    )


def test_shuffled_order_changes_every_epoch_and_is_fixed_by_the_seed(source, normalization):
    def two_epochs(seed):
        dataset = make_dataset(source, source.chunks, normalization.transform, 32, True, seed, 64)
        return epoch(dataset)[1], epoch(dataset)[1]

    first, second = two_epochs(seed=5)
    assert not np.array_equal(first, second)
    again_first, again_second = two_epochs(seed=5)  # a new dataset, as in a new run
    np.testing.assert_array_equal(first, again_first)
    np.testing.assert_array_equal(second, again_second)
    assert not np.array_equal(first, two_epochs(seed=6)[0])


def test_unshuffled_order_is_the_same_every_epoch(source, normalization):
    dataset = make_dataset(source, source.chunks[:3], normalization.transform, 8, False, 0)
    np.testing.assert_array_equal(epoch(dataset)[1], epoch(dataset)[1])


def test_new_iterators_always_start_a_full_epoch(source, normalization):
    """What BackupAndRestore relies on: no state left behind by an abandoned epoch."""
    dataset = make_dataset(source, source.chunks, normalization.transform, 16, True, 2, 64)
    abandoned = iter(dataset)
    next(abandoned)
    assert sum(epoch(dataset)[2]) == 120
    assert sum(epoch(dataset)[2]) == 120


def test_keras_fits_on_the_dataset(source, normalization):
    dataset = make_dataset(source, source.chunks, normalization.transform, 32, True, 0, 64)
    pixels = keras.Input((13, 21, 3), name="pixels")
    model = keras.Model(pixels, keras.layers.Dense(4)(keras.layers.Flatten()(pixels)))
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_empty_chunk_list_is_an_error(source, normalization):
    with pytest.raises(DataError, match="no chunks"):
        make_dataset(source, [], normalization.transform, 16, True, 0)


def test_a_bad_chunk_raises_the_data_error_naming_the_file(tmp_path, normalization):
    pixels, labels = random_clusters(12, seed=4)
    pixels[9, 5 * 273 + 40] = np.nan  # row group 2 (rows 8-11), slice 5
    write_table(tmp_path / "part.0.parquet", pixel_table(pixels, labels), 4)
    config = PixelDataConfig(
        source="parquet", path=str(tmp_path), time_slices=[5], non_finite="error"
    )
    bad_source = PixelParquetSource(config, tmp_path)
    dataset = make_dataset(bad_source, bad_source.chunks, normalization.transform, 4, False, 0)
    with pytest.raises(tf.errors.OpError) as caught:
        epoch(dataset)
    original = unwrap_smartml_error(caught.value)
    assert isinstance(original, DataError)
    message = str(original)
    assert "part.0.parquet" in message and "row group 2" in message and "'1405'" in message
    assert "\n" not in message
    with (
        pytest.raises(DataError, match=r"part\.0\.parquet: row group 2, row 9"),
        reraise_smartml_errors(),
    ):
        epoch(dataset)


def test_other_tensorflow_errors_pass_through(source):
    error = tf.errors.InvalidArgumentError(None, None, "shapes do not match")
    assert unwrap_smartml_error(error) is None
    with pytest.raises(tf.errors.InvalidArgumentError), reraise_smartml_errors():
        raise error


def test_null_label_through_the_pipeline(tmp_path, normalization):
    pixels, labels = random_clusters(4, seed=1)
    table = pixel_table(pixels, labels)
    index = table.schema.get_field_index("cotAlpha")
    table = table.set_column(index, "cotAlpha", pa.array([0.1, None, 0.2, 0.3], pa.float32()))
    write_table(tmp_path / "part.0.parquet", table, 4)
    config = PixelDataConfig(
        source="parquet", path=str(tmp_path), time_slices=TIME_SLICES, non_finite="error"
    )
    bad_source = PixelParquetSource(config, tmp_path)
    dataset = make_dataset(bad_source, bad_source.chunks, normalization.transform, 4, True, 0, 8)
    with pytest.raises(DataError, match="row 1, column 'cotAlpha'"), reraise_smartml_errors():
        epoch(dataset)
