"""smartml.data.chunks: seeded splits of chunks and caps on rows."""

from pathlib import Path

import numpy as np
import pytest

from smartml.data.chunks import Chunk, split_chunks, split_counts, take_rows
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


def test_too_few_chunks_is_one_line_naming_the_data():
    with pytest.raises(DataError) as caught:
        split_chunks(make_chunks(2), FRACTIONS, 0, where="/data/rich", kind="block")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("/data/rich: only 2 block(s)")
    assert "train/validation/test split needs at least 3" in message


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
