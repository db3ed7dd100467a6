"""Real PixelAV files hold clusters with NaN pixels: dropped and counted by default,
refused with ``data.non_finite: "error"``; the decoded row groups kept in memory."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from pixel_files import pixel_table, random_clusters, write_table

from smartml.data.chunks import Chunk
from smartml.data.pipeline import make_dataset
from smartml.errors import DataError
from smartml.tasks.smart_pixels.layout import PIXELS_PER_SLICE, TARGETS
from smartml.tasks.smart_pixels.parquet_reader import PixelParquetSource
from smartml.tasks.smart_pixels.schema import PixelDataConfig
from smartml.train import main as train_main

REPO = Path(__file__).parents[1]
N_FILES, ROWS_PER_FILE, ROWS_PER_GROUP = 3, 200, 50
SLICES = [0, 19]


def spoil(pixels: np.ndarray, labels: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Put NaN/inf into ~4% of the rows, scattered over every row group: in a
    selected slice, in a label, and (harmless) in an unselected slice. Returns the
    rows of each kind."""
    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(pixels))
    kinds = {"pixel": rows[:12], "label": rows[12:20], "unselected": rows[20:30]}
    for row in kinds["pixel"]:
        pixels[row, rng.integers(PIXELS_PER_SLICE)] = rng.choice([np.nan, np.inf])
    for row in kinds["label"]:
        labels[row, rng.integers(len(TARGETS))] = np.nan
    for row in kinds["unselected"]:
        pixels[row, 5 * PIXELS_PER_SLICE + rng.integers(PIXELS_PER_SLICE)] = np.nan
    return kinds


@pytest.fixture
def spoiled(tmp_path):
    """recon3D/labels pairs with non-finite rows; the truth of what is kept."""
    pixels, labels = random_clusters(N_FILES * ROWS_PER_FILE, seed=3)
    kinds = spoil(pixels, labels, seed=4)
    for i in range(N_FILES):
        rows = slice(i * ROWS_PER_FILE, (i + 1) * ROWS_PER_FILE)
        suffix = f"_d{17301 + i}"
        write_table(
            tmp_path / "px" / f"recon3D{suffix}.parquet",
            pixel_table(pixels[rows], None),
            ROWS_PER_GROUP,
        )
        write_table(
            tmp_path / "lb" / f"labels{suffix}.parquet", pixel_table(None, labels[rows]), 70
        )
    bad = np.zeros(len(pixels), bool)
    bad[np.concatenate([kinds["pixel"], kinds["label"]])] = True
    return tmp_path, pixels, labels, bad


def source_of(directory: Path, **data) -> PixelParquetSource:
    config = PixelDataConfig(
        source="parquet",
        layout="recon3d",
        path=str(directory / "px"),
        labels_path=str(directory / "lb"),
        time_slices=SLICES,
        **data,
    )
    return PixelParquetSource(config, directory / "px", directory / "lb")


def file_rows(chunks: list[Chunk], source: PixelParquetSource) -> np.ndarray:
    """Global row numbers (over all files, in file order) of the chunks' rows."""
    file_index = {
        path: i for i, path in enumerate(dict.fromkeys(c.source_file for c in source.chunks))
    }
    rows = []
    for chunk in chunks:
        start = file_index[chunk.source_file] * ROWS_PER_FILE + chunk.index * ROWS_PER_GROUP
        rows.append(np.arange(start + chunk.offset, start + chunk.offset + chunk.n_rows))
    return np.concatenate(rows)


def test_non_finite_clusters_are_dropped_and_counted_per_file(spoiled):
    directory, pixels, labels, bad = spoiled
    source = source_of(directory)
    splits = source.split(seed=7)
    for chunks in splits.values():
        assert source.non_finite_dropped(chunks) is None  # nothing decoded yet
        x, y = source.read_chunks(chunks)
        rows = file_rows(chunks, source)
        kept = rows[~bad[rows]]
        np.testing.assert_array_equal(y, labels[kept])
        expected_x = pixels[kept].reshape(-1, 20, 13, 21)[:, SLICES].transpose(0, 2, 3, 1)
        np.testing.assert_array_equal(x, expected_x)
        dropped = source.non_finite_dropped(chunks)
        per_file = np.bincount(rows[bad[rows]] // ROWS_PER_FILE, minlength=N_FILES)
        assert dropped == {
            f"recon3D_d{17301 + i}.parquet": int(n) for i, n in enumerate(per_file) if n
        }
        assert sum(source.exact_rows(chunk) for chunk in chunks) == len(y)
    assert sum(sum(source.non_finite_dropped(c).values()) for c in splits.values()) == bad.sum()


def test_the_split_is_seeded_and_ignores_the_drops(spoiled, tmp_path_factory):
    directory, pixels, labels, _ = spoiled
    clean = tmp_path_factory.mktemp("clean")
    for i in range(N_FILES):
        suffix = f"_d{17301 + i}"
        rows = slice(i * ROWS_PER_FILE, (i + 1) * ROWS_PER_FILE)
        clean_pixels = np.nan_to_num(pixels[rows], posinf=0.0)
        write_table(clean / "px" / f"recon3D{suffix}.parquet", pixel_table(clean_pixels, None), 50)
        write_table(clean / "lb" / f"labels{suffix}.parquet", pixel_table(None, labels[rows]), 50)
    first, again = source_of(directory).split(7), source_of(directory).split(7)
    assert first == again
    described = {
        name: [(c.source_file.name, c.index, c.offset, c.n_rows) for c in chunks]
        for name, chunks in first.items()
    }
    clean_split = source_of(clean).split(7)
    assert described == {
        name: [(c.source_file.name, c.index, c.offset, c.n_rows) for c in chunks]
        for name, chunks in clean_split.items()
    }


def test_error_mode_names_the_first_non_finite_value(spoiled):
    directory, _, _, bad = spoiled
    source = source_of(directory, non_finite="error")
    assert source.exact_rows(source.chunks[0]) == source.chunks[0].n_rows
    first_bad_chunk = next(c for c in source.chunks if bad[file_rows([c], source)].any())
    with pytest.raises(DataError) as caught:
        source.read_chunk(first_bad_chunk)
    row = int(file_rows([first_bad_chunk], source)[bad[file_rows([first_bad_chunk], source)]][0])
    message = str(caught.value)
    assert f"row {row % ROWS_PER_FILE}," in message and "data.non_finite 'error'" in message
    assert "\n" not in message


def test_pipeline_states_its_batches_once_the_split_is_decoded(spoiled):
    directory, _, _, bad = spoiled
    source = source_of(directory)
    train = source.split(seed=7)["train"]
    assert source.exact_rows(train[0]) is None
    assert source.decode_ahead(train)
    kept = int((~bad[file_rows(train, source)]).sum())
    dataset = make_dataset(source, train, None, batch_size=64, shuffle=True, seed=0)
    assert int(dataset.cardinality()) == -(-kept // 64)
    targets = np.concatenate([y for _, y in dataset.as_numpy_iterator()])
    assert len(targets) == kept and np.isfinite(targets).all()


def counting_reads(source: PixelParquetSource) -> list:
    """Record every parquet read of ``source`` (file, row groups)."""
    reads, read = [], source._read

    def counted(path, row_groups, *args):
        reads.append((path.name, tuple(row_groups)))
        return read(path, row_groups, *args)

    source._read = counted
    return reads


def test_decoded_row_groups_are_read_from_memory(spoiled):
    directory, *_ = spoiled
    source = source_of(directory)
    reads = counting_reads(source)
    chunk = source.chunks[1]
    first = source.read_chunk(chunk, with_final_slice=True)
    assert len(reads) == 2  # the pixel file's row group and the labels
    for again, expected in zip(source.read_chunk(chunk, True), first, strict=True):
        np.testing.assert_array_equal(again, expected)
    source.read_chunk(chunk)  # without the final slice: served by the same decoding
    assert len(reads) == 2 and source.memory_cache.used_bytes > 0


def test_without_memory_cache_every_read_decodes_the_file(spoiled):
    directory, *_ = spoiled
    source = source_of(directory, memory_cache_mb=0)
    reads = counting_reads(source)
    first = source.read_chunk(source.chunks[1])
    again = source.read_chunk(source.chunks[1])
    assert len(source.memory_cache) == 0 and source.memory_cache.full
    assert len(reads) == 4
    np.testing.assert_array_equal(first[0], again[0])


def test_a_training_run_reports_the_drops(spoiled, tmp_path, caplog):
    """pixel_2t on the spoiled files: the run trains, and the log, normalization.json
    and metrics.json count the dropped clusters per file."""
    directory, _, _, bad = spoiled
    config = json.loads((REPO / "configs" / "pixel_2t.json").read_text())
    config["data"].update(
        source="parquet",
        layout="recon3d",
        path=str(directory / "px"),
        labels_path=str(directory / "lb"),
    )
    config["model"].update(filters=2, hidden_units=[4])
    config["training"].update(epochs=1, batch_size=64, verbose=0)
    config["output"] = {"dir": str(tmp_path / "run"), "plots": False}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING, logger="smartml"):
        assert train_main([str(tmp_path / "config.json")]) == 0
    assert any("NaN/inf pixels or labels" in r.getMessage() for r in caplog.records)
    dropped = json.loads((tmp_path / "run" / "metrics.json").read_text())["non_finite_dropped"]
    assert set(dropped) == {"train", "validation", "test"}
    assert sum(split["clusters"] for split in dropped.values()) == bad.sum()
    record = json.loads((tmp_path / "run" / "normalization.json").read_text())
    assert record["non_finite_dropped"]["clusters"] == dropped["train"]["clusters"]


@pytest.mark.parametrize("contained_only", [False, True])
@pytest.mark.parametrize("max_rows", [None, 50])
def test_read_chunks_from_the_cache_equals_reading_the_files(spoiled, contained_only, max_rows):
    directory, *_ = spoiled
    cached = source_of(directory, contained_only=contained_only)
    uncached = source_of(directory, contained_only=contained_only, memory_cache_mb=0)
    test = cached.split(seed=7)["test"] + cached.split(seed=7)["validation"]
    for got, expected in zip(
        cached.read_chunks(test, max_rows, True),
        uncached.read_chunks(test, max_rows, True),
        strict=True,
    ):
        np.testing.assert_array_equal(got, expected)
        assert max_rows is None or len(got) == max_rows
