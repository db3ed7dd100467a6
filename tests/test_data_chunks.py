"""smartml.data.chunks: seeded splits of chunks and caps on rows."""

import itertools
import logging
from pathlib import Path

import numpy as np
import pytest

from smartml.data.chunks import Chunk, describe_split, split_chunks, split_counts, take_rows
from smartml.errors import DataError

FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def make_chunks(n: int, rows: int = 10) -> list[Chunk]:
    """Chunks of two files; HDF5-style (start, stop) indices for the second one."""
    first = [Chunk(Path("a.parquet"), group, rows) for group in range(n // 2)]
    second = [
        Chunk(Path("b.h5"), (start * rows, (start + 1) * rows), rows) for start in range(n - n // 2)
    ]
    return first + second


def test_split_is_a_partition_in_the_order_of_a_seeded_permutation():
    chunks = make_chunks(20)
    splits = split_chunks(chunks, FRACTIONS, seed=11)
    assert list(splits) == ["train", "validation", "test"]
    assert [len(part) for part in splits.values()] == [16, 2, 2]
    # Independently: numpy's permutation for this seed, cut 16 / 2 / 2.
    order = np.random.default_rng(11).permutation(20)
    together = splits["train"] + splits["validation"] + splits["test"]
    assert together == [chunks[i] for i in order]


def test_same_seed_same_split_other_seeds_differ():
    chunks = make_chunks(30)
    split = split_chunks(chunks, FRACTIONS, seed=4)
    assert split_chunks(list(chunks), FRACTIONS, seed=4) == split
    assert any(split_chunks(chunks, FRACTIONS, seed)["test"] != split["test"] for seed in range(5))


def test_other_split_names_and_fractions():
    splits = split_chunks(make_chunks(10), {"fit": 0.5, "check": 0.5}, seed=0)
    assert {name: len(part) for name, part in splits.items()} == {"fit": 5, "check": 5}


@pytest.mark.parametrize("max_rows", [3, 25, 57, 200, 10_000])
def test_cap_shares_rows_and_keeps_a_prefix_of_each_split(max_rows):
    chunks = make_chunks(20, rows=10)
    full = split_chunks(chunks, FRACTIONS, seed=2)
    capped = split_chunks(chunks, FRACTIONS, seed=2, max_rows=max_rows)
    shares = split_counts(max_rows, list(FRACTIONS.values()))
    for (name, part), share in zip(capped.items(), shares, strict=True):
        available = sum(chunk.n_rows for chunk in full[name])
        assert sum(chunk.n_rows for chunk in part) == min(share, available)
        assert part[:-1] == full[name][: len(part) - 1]
        last, original = part[-1], full[name][len(part) - 1]
        assert (last.source_file, last.index) == (original.source_file, original.index)
        assert 0 < last.n_rows <= original.n_rows


def test_take_rows_shortens_only_the_last_chunk():
    chunks = make_chunks(4, rows=5)
    taken = take_rows(chunks, 12)
    assert [chunk.n_rows for chunk in taken] == [5, 5, 2]
    assert taken[:2] == chunks[:2] and taken[2].index == chunks[2].index
    assert take_rows(chunks, 0) == []
    assert take_rows(chunks, 100) == chunks


def test_chunks_are_values():
    assert Chunk(Path("f"), (0, 10), 10) == Chunk(Path("f"), (0, 10), 10)
    assert len({Chunk(Path("f"), 1, 3), Chunk(Path("f"), 1, 3)}) == 1
    with pytest.raises(AttributeError):
        Chunk(Path("f"), 1, 3).n_rows = 4


def test_too_few_rows_is_one_line_naming_the_data():
    with pytest.raises(DataError) as caught:
        split_chunks(make_chunks(2, rows=1), FRACTIONS, 0, where="/data/rich", unit="event")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("/data/rich: only 2 event(s)")
    assert "train/validation/test split needs at least 3" in message


def rows_of(chunks: list[Chunk]) -> list[tuple]:
    """Every row a list of chunks names, as (file, piece, row in the piece)."""
    return [
        (chunk.source_file, chunk.index, row)
        for chunk in chunks
        for row in range(chunk.offset, chunk.offset + chunk.n_rows)
    ]


@pytest.mark.parametrize(
    ("sizes", "fractions"),
    [
        ([250, 250, 250, 250], FRACTIONS),  # 4 row groups in 2 files: 80/10/10, not 50/25/25
        ([37, 5, 120, 8, 61], FRACTIONS),  # unequal pieces
        ([1000], {"train": 0.6, "validation": 0.3, "test": 0.1}),  # one piece only
        ([30, 30, 30], {"train": 0.5, "test": 0.5}),
    ],
)
def test_few_chunks_split_with_the_asked_fractions_of_rows(sizes, fractions):
    chunks = [
        Chunk(Path(f"part.{i % 2}.parquet"), i // 2, n_rows) for i, n_rows in enumerate(sizes)
    ]
    splits = split_chunks(chunks, fractions, seed=5)
    total = sum(sizes)
    for name, share in fractions.items():
        assert abs(len(rows_of(splits[name])) - share * total) <= 1, name
    # Independently: all rows, chunk by chunk in numpy's permuted order, cut at the
    # rounded cumulative fractions.
    order = np.random.default_rng(5).permutation(len(chunks))
    every_row = rows_of([chunks[i] for i in order])
    cuts = np.cumsum([len(rows_of(splits[name])) for name in fractions])[:-1]
    expected = np.split(np.arange(total), cuts)
    for name, indices in zip(fractions, expected, strict=True):
        assert rows_of(splits[name]) == [every_row[i] for i in indices]
    assert sorted(row for part in splits.values() for row in rows_of(part)) == sorted(
        rows_of(chunks)
    )
    assert split_chunks(list(chunks), fractions, seed=5) == splits  # seeded: the same again


def test_a_chunk_across_a_cut_is_divided_into_row_ranges():
    chunks = make_chunks(4, rows=250)
    splits = split_chunks(chunks, FRACTIONS, seed=0)
    divided = [chunk for part in splits.values() for chunk in part if chunk.n_rows < 250]
    assert divided  # 800/100/100 cannot fall on the edges of 250-row pieces
    for chunk in divided:
        pieces = [c for part in splits.values() for c in part if c.index == chunk.index]
        pieces = [c for c in pieces if c.source_file == chunk.source_file]
        ranges = sorted((c.offset, c.offset + c.n_rows) for c in pieces)
        assert ranges[0][0] == 0 and ranges[-1][1] == 250
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))


def test_fractions_that_whole_rows_cannot_give_are_reported_in_one_line(caplog):
    with caplog.at_level(logging.WARNING, logger="smartml.data.chunks"):
        splits = split_chunks(make_chunks(4, rows=3), FRACTIONS, 0, where="/data/tiny")
    assert [len(rows_of(part)) for part in splits.values()] == [10, 1, 1]
    (record,) = caplog.records
    assert record.getMessage() == (
        "/data/tiny: too few examples for the asked 0.800/0.100/0.100 split; "
        "got 10/1/1 examples in train/validation/test (0.833/0.083/0.083)"
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="smartml.data.chunks"):
        split_chunks(make_chunks(4, rows=250), FRACTIONS, 0)
    assert not caplog.records


def test_describe_split_counts_rows_and_fractions():
    splits = split_chunks(make_chunks(4, rows=250), FRACTIONS, seed=1)
    assert describe_split(splits, "cluster") == (
        "800/100/100 clusters in train/validation/test (0.800/0.100/0.100)"
    )


@pytest.mark.parametrize(
    "fractions",
    [
        {"train": 0.8, "test": 0.1},
        {"train": 1.2, "test": -0.2},
        {"train": 0.5, "test": 0.5, "x": 0},
    ],
)
def test_fractions_must_be_positive_and_sum_to_one(fractions):
    with pytest.raises(ValueError, match="fractions"):
        split_chunks(make_chunks(10), fractions, 0)


def test_cap_below_the_number_of_splits_is_an_error():
    with pytest.raises(ValueError, match="cannot fill 3 splits"):
        split_chunks(make_chunks(10), FRACTIONS, 0, max_rows=2)
