"""The smart-pixel parquet reader: content, layouts, cuts, splits and bad input."""

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pixel_files import pixel_table, random_clusters, write_parts, write_table

from smartml.data.chunks import Chunk, split_counts
from smartml.errors import ConfigError, DataError
from smartml.tasks.smart_pixels.layout import TARGETS, pixel_columns
from smartml.tasks.smart_pixels.parquet_reader import PixelParquetSource, border_pixel_indices
from smartml.tasks.smart_pixels.schema import PixelDataConfig


def parts_source(directory: Path, **data) -> PixelParquetSource:
    config = PixelDataConfig(source="parquet", path=str(directory), **data)
    return PixelParquetSource(config, directory)


def recon3d_source(written, **data) -> PixelParquetSource:
    config = PixelDataConfig(
        source="parquet",
        layout="recon3d",
        path=str(written.directory),
        labels_path=str(written.label_directory),
        **data,
    )
    return PixelParquetSource(config, written.directory, written.label_directory)


def data_error(call, *args) -> str:
    """The message of the DataError ``call(*args)`` raises; it must be one line."""
    with pytest.raises(DataError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- content ---------------------------------------------------------------------------


@pytest.mark.parametrize("time_slices", [[0, 19], [19, 0, 5], [7], list(range(20))])
def test_parts_content_equals_what_was_written(pixel_parts, time_slices):
    source = parts_source(pixel_parts.directory, time_slices=time_slices)
    x, y = source.read_chunks(source.chunks)
    assert x.dtype == y.dtype == np.float32
    assert x.shape == (120, 13, 21, len(time_slices)) and x.flags.c_contiguous
    np.testing.assert_array_equal(x, pixel_parts.images(time_slices))
    np.testing.assert_array_equal(y, pixel_parts.labels)


def test_images_put_rows_along_axis_1_and_time_last(tmp_path):
    """One charged pixel at (row 3, column 17) of slice 5: the layout, by hand."""
    pixels = np.zeros((1, 5460), np.float32)
    pixels[0, 5 * 273 + 3 * 21 + 17] = 1234.0
    write_table(tmp_path / "part.0.parquet", pixel_table(pixels, np.ones((1, 4))), 1)
    x, _ = parts_source(tmp_path, time_slices=[0, 5]).read_chunks(
        [Chunk(tmp_path / "part.0.parquet", 0, 1)]
    )
    assert x[0, 3, 17, 1] == 1234.0 and np.count_nonzero(x) == 1


def test_chunks_are_row_groups_in_natural_file_order(pixel_parts):
    source = parts_source(pixel_parts.directory)
    names = [chunk.source_file.name for chunk in source.chunks]
    assert names == ["part.1.parquet"] * 3 + ["part.2.parquet"] * 3 + ["part.10.parquet"] * 3
    assert [c.index for c in source.chunks] == [0, 1, 2] * 3
    assert [c.n_rows for c in source.chunks] == [15, 15, 10] * 3
    assert all(source.labels_file(c) is None for c in source.chunks)
    assert source.n_clusters == 120


def test_recon3d_labels_are_aligned_by_row_not_by_row_group(pixel_recon3d):
    # pixel row groups of 20 rows, label row groups of 15: every chunk but the first
    # of a file starts inside a label row group
    source = recon3d_source(pixel_recon3d, time_slices=[3, 19])
    assert [source.labels_file(c).name for c in source.chunks[:2]] == ["labels_d17301.parquet"] * 2
    x, y = source.read_chunks(source.chunks)
    np.testing.assert_array_equal(x, pixel_recon3d.images([3, 19]))
    np.testing.assert_array_equal(y, pixel_recon3d.labels)


def test_reads_only_the_selected_columns(pixel_parts, monkeypatch):
    requested = []
    original = pq.ParquetFile.read_row_groups

    def spy(self, row_groups, columns=None, **kwargs):
        requested.append(set(columns))
        return original(self, row_groups, columns=columns, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    source = parts_source(pixel_parts.directory, time_slices=[2, 7])
    source.read_chunk(source.chunks[0])
    assert requested == [set(pixel_columns([2, 7])) | set(TARGETS)]

    requested.clear()
    contained = parts_source(pixel_parts.directory, time_slices=[2], contained_only=True)
    contained.read_chunk(contained.chunks[0])
    border = {str(19 * 273 + i) for i in border_pixel_indices()}
    assert requested == [set(pixel_columns([2])) | border | set(TARGETS)]


def test_float64_and_integer_files_are_read_as_float32(tmp_path):
    pixels, labels = random_clusters(6, seed=3)
    table = pixel_table(pixels.astype(np.float64), labels.astype(np.float64))
    write_table(tmp_path / "part.0.parquet", table, 6)
    source = parts_source(tmp_path)
    x, y = source.read_chunk(source.chunks[0])
    assert x.dtype == y.dtype == np.float32
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_array_equal(x[..., 1], pixels[:, -273:].reshape(6, 13, 21))


# -- contained_only and the final slice ------------------------------------------------


def test_border_pixels_are_the_64_window_edges():
    border = border_pixel_indices()
    rows, cols = np.divmod(border, 21)
    assert len(border) == 64 == 2 * 21 + 2 * 11
    assert np.all((rows == 0) | (rows == 12) | (cols == 0) | (cols == 20))


@pytest.mark.parametrize("time_slices", [[0, 19], [0, 5]])
def test_contained_only_keeps_clusters_without_charge_on_the_final_border(pixel_parts, time_slices):
    source = parts_source(pixel_parts.directory, time_slices=time_slices, contained_only=True)
    contained = pixel_parts.contained()
    assert 0 < contained.sum() < len(contained)  # the fixture has both kinds
    x, y, final = source.read_chunks(source.chunks, with_final_slice=True)
    np.testing.assert_array_equal(x, pixel_parts.images(time_slices)[contained])
    np.testing.assert_array_equal(y, pixel_parts.labels[contained])
    np.testing.assert_array_equal(final, pixel_parts.images([19])[contained][..., 0])
    assert not final[:, [0, -1], :].any() and not final[:, :, [0, -1]].any()
    x_only, _ = source.read_chunks(source.chunks)  # border columns only, no final slice
    np.testing.assert_array_equal(x_only, x)


def test_contained_only_judges_the_final_slice_even_when_early_slices_are_clean(tmp_path):
    """A cluster whose border charge arrives late (slice 19 only) is not contained."""
    pixels = np.zeros((2, 5460), np.float32)
    pixels[:, 6 * 21 + 10] = 1000.0  # centre pixel, slice 0
    pixels[1, 19 * 273 + 0] = 500.0  # corner pixel, final slice only
    write_table(tmp_path / "part.0.parquet", pixel_table(pixels, np.eye(2, 4)), 2)
    source = parts_source(tmp_path, time_slices=[0], contained_only=True)
    _, y = source.read_chunks(source.chunks)
    np.testing.assert_array_equal(y, np.eye(2, 4)[:1])


@pytest.mark.parametrize("time_slices", [[0, 19], [4, 9]])
def test_final_slice_is_slice_19_selected_or_not(pixel_parts, time_slices):
    source = parts_source(pixel_parts.directory, time_slices=time_slices)
    *_, final = source.read_chunks(source.chunks[:2], with_final_slice=True)
    np.testing.assert_array_equal(final, pixel_parts.images([19])[:30, ..., 0])
    assert final.shape == (30, 13, 21) and final.flags.c_contiguous


# -- max_rows and reading many chunks --------------------------------------------------


def test_read_chunks_stops_at_max_rows(pixel_parts):
    source = parts_source(pixel_parts.directory)
    x, y = source.read_chunks(source.chunks, max_rows=37)
    np.testing.assert_array_equal(y, pixel_parts.labels[:37])
    assert len(x) == 37
    sizes = [len(arrays[0]) for arrays in source.iter_chunks(source.chunks, max_rows=37)]
    assert sizes == [15, 15, 7]


def test_read_chunks_of_nothing_has_the_right_shapes(pixel_parts):
    source = parts_source(pixel_parts.directory, time_slices=[1, 2, 3])
    x, y, final = source.read_chunks([], with_final_slice=True)
    assert x.shape == (0, 13, 21, 3) and y.shape == (0, 4) and final.shape == (0, 13, 21)


def test_shortened_chunk_reads_the_first_rows_of_its_row_group(pixel_parts):
    source = parts_source(pixel_parts.directory)
    second = source.chunks[1]  # rows 15..29 of part.1
    _, y = source.read_chunk(Chunk(second.source_file, second.index, 4))
    np.testing.assert_array_equal(y, pixel_parts.labels[15:19])


# -- splits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "fractions", "expected"),
    [
        (10, [0.8, 0.1, 0.1], [8, 1, 1]),
        (3, [0.8, 0.1, 0.1], [1, 1, 1]),
        (25, [0.8, 0.1, 0.1], [21, 2, 2]),
        (4, [0.1, 0.45, 0.45], [1, 1, 2]),
        (100, [0.5, 0.3, 0.2], [50, 30, 20]),
    ],
)
def test_split_counts(total, fractions, expected):
    assert split_counts(total, fractions) == expected


def split_labels(source: PixelParquetSource, splits) -> dict[str, np.ndarray]:
    """The labels read back for each split."""
    return {name: source.read_chunks(chunks)[1] for name, chunks in splits.items()}


def assert_partition(parts: dict[str, np.ndarray], labels: np.ndarray) -> None:
    """The splits' rows are disjoint and together are every row written."""
    together = np.concatenate(list(parts.values()))
    assert len(np.unique(together, axis=0)) == len(together) == len(labels)
    np.testing.assert_array_equal(np.unique(together, axis=0), np.unique(labels, axis=0))


def test_split_is_a_seeded_partition_of_the_clusters(pixel_parts):
    source = parts_source(pixel_parts.directory)
    splits = source.split(seed=7)
    assert {name: sum(c.n_rows for c in chunks) for name, chunks in splits.items()} == {
        "train": 96,
        "validation": 12,
        "test": 12,
    }
    assert_partition(split_labels(source, splits), pixel_parts.labels)
    # a fresh source over the same files gives the same split: the same test set
    assert parts_source(pixel_parts.directory).split(seed=7) == splits
    assert any(source.split(seed)["test"] != splits["test"] for seed in range(5))


def test_tiny_two_file_dataset_splits_80_10_10_not_by_whole_row_groups(tmp_path, caplog):
    """2 files x 2 row groups of 25: by row groups this was 50/25/25."""
    written = write_parts(tmp_path, n_files=2, rows_per_file=50, rows_per_group=25)
    source = parts_source(tmp_path)
    with caplog.at_level(logging.WARNING, logger="smartml.data.chunks"):
        parts = split_labels(source, source.split(seed=0))
    assert {name: len(labels) for name, labels in parts.items()} == {
        "train": 80,
        "validation": 10,
        "test": 10,
    }
    assert not caplog.records  # the asked fractions were met
    assert_partition(parts, written.labels)
    again = split_labels(parts_source(tmp_path), parts_source(tmp_path).split(seed=0))
    for name, labels in parts.items():
        np.testing.assert_array_equal(again[name], labels)


@pytest.mark.parametrize("layout", ["parts", "recon3d"])
def test_divided_row_groups_read_their_own_rows(layout, pixel_parts, pixel_recon3d):
    """Pieces of a row group (recon3d: labels in other row groups) pair each cluster's
    pixels with its own labels."""
    if layout == "parts":
        written, source = pixel_parts, parts_source(pixel_parts.directory)
    else:
        written, source = pixel_recon3d, recon3d_source(pixel_recon3d)
    splits = source.split(seed=2)
    assert any(chunk.offset > 0 for chunks in splits.values() for chunk in chunks)
    images = written.images([0, 19])
    for chunks in splits.values():
        x, y = source.read_chunks(chunks)
        rows = [int(np.flatnonzero((written.labels == label).all(axis=1))[0]) for label in y]
        np.testing.assert_array_equal(x, images[rows])


def test_split_fractions_are_taken_from_the_config(pixel_parts):
    fractions = {"train": 0.4, "validation": 0.3, "test": 0.3}
    source = parts_source(pixel_parts.directory, split=fractions)
    parts = split_labels(source, source.split(seed=0))
    assert {name: len(labels) for name, labels in parts.items()} == {
        "train": 48,
        "validation": 36,
        "test": 36,
    }
    assert_partition(parts, pixel_parts.labels)


def test_too_few_clusters_to_split(tmp_path):
    write_parts(tmp_path, n_files=1, rows_per_file=2, rows_per_group=1)
    message = data_error(parts_source(tmp_path).split, 0)
    assert message.startswith(f"{tmp_path}: only 2 cluster(s) in all files")


def test_max_clusters_caps_each_split_with_a_prefix_of_its_chunks(pixel_parts):
    full = parts_source(pixel_parts.directory).split(seed=3)
    capped = parts_source(pixel_parts.directory, max_clusters=50).split(seed=3)
    names = ("train", "validation", "test")
    shares = dict(zip(names, split_counts(50, [0.8, 0.1, 0.1]), strict=True))
    for name, chunks in capped.items():
        assert sum(c.n_rows for c in chunks) == min(shares[name], sum(c.n_rows for c in full[name]))
        assert chunks[:-1] == full[name][: len(chunks) - 1]  # a prefix...
        last, original = chunks[-1], full[name][len(chunks) - 1]
        assert (last.source_file, last.index) == (original.source_file, original.index)
        assert last.n_rows <= original.n_rows  # ...whose last chunk may be shortened


def test_max_clusters_below_three_is_a_config_error(pixel_parts):
    with pytest.raises(ConfigError, match=r"data\.max_clusters"):
        parts_source(pixel_parts.directory, max_clusters=2).split(seed=0)


# -- bad input: found on open ----------------------------------------------------------


def valid_table(n=4, seed=0, drop=(), pixels=None) -> pa.Table:
    clusters, labels = random_clusters(n, seed)
    table = pixel_table(clusters if pixels is None else pixels, labels)
    return table.drop_columns(list(drop))


def test_missing_directory(tmp_path):
    message = data_error(parts_source, tmp_path / "nowhere")
    assert "nowhere" in message and "no such directory" in message


def test_directory_without_matching_files(tmp_path):
    write_table(tmp_path / "recon3D_d1.parquet", valid_table(), 4)
    message = data_error(parts_source, tmp_path)
    assert str(tmp_path) in message and "part.*.parquet" in message


def test_empty_file(tmp_path):
    write_table(tmp_path / "part.0.parquet", valid_table().slice(0, 0), 4)
    message = data_error(parts_source, tmp_path)
    assert "part.0.parquet" in message and "no rows" in message


def test_corrupt_file(tmp_path):
    write_table(tmp_path / "part.0.parquet", valid_table(), 4)
    (tmp_path / "part.1.parquet").write_text("x-midplane,y-midplane\n1,2\n")
    message = data_error(parts_source, tmp_path)
    assert "part.1.parquet" in message and "not a readable parquet file" in message


def test_truncated_file(tmp_path):
    path = write_table(tmp_path / "part.0.parquet", valid_table(), 4)
    path.write_bytes(path.read_bytes()[:-100])
    assert "part.0.parquet" in data_error(parts_source, tmp_path)


def test_missing_pixel_column_is_named(tmp_path):
    write_table(tmp_path / "part.0.parquet", valid_table(drop=["1234"]), 4)
    message = data_error(parts_source, tmp_path)
    assert "part.0.parquet" in message and "first missing: '1234'" in message


def test_wrong_pixel_count_says_how_many(tmp_path):
    pixels, _ = random_clusters(4, 0)
    write_table(tmp_path / "part.0.parquet", valid_table(pixels=pixels[:, :2730]), 4)
    message = data_error(parts_source, tmp_path)
    assert "has 2730 pixel columns" in message and "'2730'" in message
    assert "5460 = 20 time slices x 13 rows x 21 columns" in message


def test_extra_numbered_column_is_rejected(tmp_path):
    table = valid_table().append_column("5460", pa.array(np.zeros(4, np.float32)))
    write_table(tmp_path / "part.0.parquet", table, 4)
    assert "has 5461 pixel columns" in data_error(parts_source, tmp_path)


def test_non_numeric_pixel_column(tmp_path):
    table = valid_table()
    index = table.schema.get_field_index("77")
    table = table.set_column(index, "77", pa.array(["a", "b", "c", "d"]))
    write_table(tmp_path / "part.0.parquet", table, 4)
    message = data_error(parts_source, tmp_path)
    assert "part.0.parquet" in message and "'77'" in message and "string" in message


@pytest.mark.parametrize("label", TARGETS)
def test_missing_label_column_is_named(tmp_path, label):
    write_table(tmp_path / "part.0.parquet", valid_table(drop=[label]), 4)
    message = data_error(parts_source, tmp_path)
    assert "part.0.parquet" in message and f"no label column '{label}'" in message


def recon3d_files(tmp_path, pixel_rows=4, label_rows=4, drop_label=None, **data):
    clusters, labels = random_clusters(max(pixel_rows, label_rows), 0)
    write_table(tmp_path / "px" / "recon3D_d5.parquet", pixel_table(clusters[:pixel_rows], None), 4)
    label_table = pixel_table(None, labels[:label_rows])
    if drop_label:
        label_table = label_table.drop_columns([drop_label])
    write_table(tmp_path / "lb" / "labels_d5.parquet", label_table, 4)
    config = PixelDataConfig(
        source="parquet",
        layout="recon3d",
        path=str(tmp_path / "px"),
        labels_path=str(tmp_path / "lb"),
        **data,
    )
    return config, tmp_path / "px", tmp_path / "lb"


def test_recon3d_without_its_labels_file(tmp_path):
    config, pixels, labels = recon3d_files(tmp_path)
    (labels / "labels_d5.parquet").unlink()
    message = data_error(PixelParquetSource, config, pixels, labels)
    assert "recon3D_d5.parquet" in message and "labels_d5.parquet does not exist" in message


def test_recon3d_labels_with_another_row_count(tmp_path):
    config, pixels, labels = recon3d_files(tmp_path, pixel_rows=4, label_rows=3)
    message = data_error(PixelParquetSource, config, pixels, labels)
    assert "labels_d5.parquet: has 3 rows" in message and "recon3D_d5.parquet has 4" in message


def test_recon3d_labels_missing_a_target(tmp_path):
    config, pixels, labels = recon3d_files(tmp_path, drop_label="cotAlpha")
    message = data_error(PixelParquetSource, config, pixels, labels)
    assert "labels_d5.parquet" in message and "'cotAlpha'" in message


def test_recon3d_missing_labels_directory(tmp_path):
    config, pixels, _ = recon3d_files(tmp_path)
    message = data_error(PixelParquetSource, config, pixels, tmp_path / "elsewhere")
    assert "elsewhere" in message and "data.labels_path" in message


# -- bad input: found on reading -------------------------------------------------------


def with_bad_value(table: pa.Table, column: str, row: int, value: float) -> pa.Table:
    values = table.column(column).to_numpy().copy()
    values[row] = value
    return table.set_column(table.schema.get_field_index(column), column, pa.array(values))


@pytest.mark.parametrize(
    ("column", "value"), [("300", np.nan), ("5459", np.inf), ("cotBeta", np.nan)]
)
def test_non_finite_value_is_named_by_file_row_group_row_and_column(tmp_path, column, value):
    write_table(tmp_path / "part.0.parquet", with_bad_value(valid_table(10), column, 6, value), 4)
    source = parts_source(tmp_path, time_slices=[0, 1, 19], non_finite="error")
    source.read_chunk(source.chunks[0])  # rows 0-3 are fine
    message = data_error(source.read_chunk, source.chunks[1])
    assert "part.0.parquet" in message and "row group 1" in message
    assert "row 6" in message and f"column '{column}'" in message


def test_non_finite_value_in_an_unselected_slice_is_not_read(tmp_path):
    write_table(tmp_path / "part.0.parquet", with_bad_value(valid_table(), "3000", 1, np.nan), 4)
    source = parts_source(tmp_path, time_slices=[0, 19])
    x, _ = source.read_chunks(source.chunks)
    assert np.isfinite(x).all()


def test_null_pixel_is_reported(tmp_path):
    table = valid_table(n=4)
    index = table.schema.get_field_index("10")
    table = table.set_column(index, "10", pa.array([1.0, None, 0.0, 0.0], pa.float32()))
    write_table(tmp_path / "part.0.parquet", table, 4)
    source = parts_source(tmp_path, non_finite="error")
    assert "row 1, column '10'" in data_error(source.read_chunk, source.chunks[0])


def test_non_finite_label_in_a_recon3d_labels_file(tmp_path):
    config, pixels, labels = recon3d_files(tmp_path, non_finite="error")
    label_table = pixel_table(None, random_clusters(4, 0)[1])
    write_table(
        labels / "labels_d5.parquet", with_bad_value(label_table, "x-midplane", 2, np.nan), 4
    )
    source = PixelParquetSource(config, pixels, labels)
    message = data_error(source.read_chunk, source.chunks[0])
    assert "labels_d5.parquet" in message and "row 2, column 'x-midplane'" in message


def test_file_truncated_after_opening(tmp_path):
    write_parts(tmp_path, n_files=1, rows_per_file=4, rows_per_group=4)
    source = parts_source(tmp_path)
    with open(tmp_path / "part.0.parquet", "r+b") as damaged:  # same file, still open
        damaged.truncate(100)
    assert "part.0.parquet" in data_error(source.read_chunk, source.chunks[0])


def test_chunk_of_another_source_is_rejected(pixel_parts, tmp_path):
    source = parts_source(pixel_parts.directory)
    stranger = Chunk(tmp_path / "part.0.parquet", 0, 3)
    assert "not one of the files" in data_error(source.read_chunk, stranger)


# -- the ChunkSource protocol ----------------------------------------------------------


@pytest.mark.parametrize("contained_only", [False, True])
def test_read_examples_is_read_chunk_keyed_by_the_model_input(pixel_parts, contained_only):
    source = parts_source(pixel_parts.directory, time_slices=[4, 19], contained_only=contained_only)
    assert source.input_specs == {"pixels": ((13, 21, 2), np.dtype(np.float32))}
    assert source.target_spec == ((4,), np.dtype(np.float32))
    assert source.exact_rows(source.chunks[4]) is None  # not decoded yet: NaN rows unknown
    inputs, y = source.read_examples(source.chunks[4])
    assert source.exact_rows(source.chunks[4]) == (None if contained_only else len(y))
    x, expected_y = source.read_chunk(source.chunks[4])
    assert list(inputs) == ["pixels"]
    np.testing.assert_array_equal(inputs["pixels"], x)
    np.testing.assert_array_equal(y, expected_y)
    assert (len(y) == source.chunks[4].n_rows) or contained_only
