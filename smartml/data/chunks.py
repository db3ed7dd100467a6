"""Chunks: the units in which a dataset is read, split and shuffled.

A chunk is a piece of one file that a reader reads whole: a parquet row group, a
block of rows of an HDF5 dataset, a range of entries of a ROOT tree. Splitting a
dataset by chunks (not by examples) keeps reading sequential and lets the split be
fixed by the files and a seed alone, without reading any data.

**Splits.** :func:`split_chunks` shuffles the chunks with a seeded permutation, lays
them end to end and cuts that sequence of rows with the given fractions (rounded to
whole rows; each split gets at least one row). A chunk that straddles a cut is
divided into two row ranges (:attr:`Chunk.offset`), so the fractions hold to one
row even when there are few chunks (4 row groups still split 80/10/10, not 50/25/25);
when chunk boundaries fall on the cuts, every chunk stays whole. The same seed and
files give the same test set on every run. A split that still misses the asked
fractions by more than :data:`FRACTION_TOLERANCE` (too few rows) is reported in one
log line with the fractions obtained.

**Caps.** With ``max_rows`` the cap is shared out between the splits with the same
fractions (:func:`split_counts`), and each split keeps its chunks, in their permuted
order, until its share is reached; the last chunk kept may be cut short (a chunk
with fewer rows than the piece it names means its first rows). A capped split is
thus always a prefix of the uncapped one: changing the cap never moves an example
from one split into another.

>>> chunks = [Chunk(Path("a.parquet"), group, 10) for group in range(10)]
>>> splits = split_chunks(chunks, {"train": 0.8, "validation": 0.1, "test": 0.1}, seed=0)
>>> {name: len(part) for name, part in splits.items()}
{'train': 8, 'validation': 1, 'test': 1}
>>> capped = split_chunks(chunks, {"train": 0.8, "validation": 0.1, "test": 0.1}, 0, max_rows=25)
>>> [sum(chunk.n_rows for chunk in part) for part in capped.values()]
[21, 2, 2]
>>> few = split_chunks(chunks[:4], {"train": 0.8, "validation": 0.1, "test": 0.1}, seed=0)
>>> describe_split(few)
'32/4/4 examples in train/validation/test (0.800/0.100/0.100)'
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from smartml.errors import DataError

log = logging.getLogger(__name__)

# Largest difference between an asked and an obtained split fraction that is not
# reported (a cut is exact to one row, so only datasets of a few dozen rows miss it).
FRACTION_TOLERANCE = 0.01


@dataclass(frozen=True)
class Chunk:
    """One unit of reading: ``n_rows`` rows of one piece of one file, from ``offset``.

    A reader reads rows ``offset`` to ``offset + n_rows - 1`` of the piece (a split
    divides a piece into such ranges, a cap shortens them).

    Attributes:
        source_file: the file the piece is in.
        index: which piece, as the reader that made the chunk understands it
            (a row-group number, a ``(start, stop)`` row range, ...).
        n_rows: examples to read (before any cut a reader applies while reading).
        offset: first row of the piece to read.
    """

    source_file: Path
    index: int | tuple[int, ...]
    n_rows: int
    offset: int = 0


def split_counts(total: int, fractions: Sequence[float]) -> list[int]:
    """Sizes of consecutive splits of ``total`` items with the given fractions.

    Every split but the first is ``round(total * fraction)``, at least 1; the first
    (train) takes the rest. If that leaves it empty, the largest other split gives
    items back.

    Args:
        total: number of items, at least ``len(fractions)``.
        fractions: one per split, summing to 1.

    Returns:
        The sizes, summing to ``total``, each at least 1.

    >>> split_counts(10, [0.8, 0.1, 0.1])
    [8, 1, 1]
    >>> split_counts(4, [0.1, 0.45, 0.45])
    [1, 1, 2]
    """
    if total < len(fractions):
        raise ValueError(f"{total} items cannot fill {len(fractions)} splits")
    others = [max(1, round(total * fraction)) for fraction in fractions[1:]]
    while total - sum(others) < 1:
        others[others.index(max(others))] -= 1
    return [total - sum(others), *others]


def take_rows(chunks: Sequence[Chunk], budget: int) -> list[Chunk]:
    """The leading chunks holding ``budget`` rows, the last one shortened if needed.

    >>> take_rows([Chunk(Path("f"), 0, 4), Chunk(Path("f"), 1, 4)], 6)[-1].n_rows
    2
    """
    taken = []
    for chunk in chunks:
        if budget <= 0:
            break
        taken.append(replace(chunk, n_rows=min(chunk.n_rows, budget)))
        budget -= chunk.n_rows
    return taken


def cut_rows(chunks: Sequence[Chunk], sizes: Sequence[int]) -> list[list[Chunk]]:
    """Consecutive runs of ``chunks`` holding ``sizes`` rows; a chunk across a cut is
    divided into row ranges.

    Args:
        chunks: in the order to cut.
        sizes: rows of each run, summing to the rows of all chunks.

    Returns:
        One list of chunks per size.

    >>> runs = cut_rows([Chunk(Path("f"), 0, 10), Chunk(Path("f"), 1, 10)], [15, 5])
    >>> [[(chunk.index, chunk.offset, chunk.n_rows) for chunk in run] for run in runs]
    [[(0, 0, 10), (1, 0, 5)], [(1, 5, 5)]]
    """
    if sum(sizes) != sum(chunk.n_rows for chunk in chunks):
        raise ValueError(f"sizes {list(sizes)} do not add up to the rows of the chunks")
    runs: list[list[Chunk]] = [[] for _ in sizes]
    run, room = 0, sizes[0]
    for chunk in chunks:
        done = 0
        while done < chunk.n_rows:
            while room == 0:  # a full run (or an empty one) passes to the next
                run += 1
                room = sizes[run]
            taken = min(room, chunk.n_rows - done)
            runs[run].append(replace(chunk, n_rows=taken, offset=chunk.offset + done))
            done += taken
            room -= taken
    return runs


def split_rows(splits: Mapping[str, Sequence[Chunk]]) -> dict[str, int]:
    """Rows of each split (before any cut a reader applies while reading)."""
    return {name: sum(chunk.n_rows for chunk in chunks) for name, chunks in splits.items()}


def describe_split(splits: Mapping[str, Sequence[Chunk]], unit: str = "example") -> str:
    """One line: the rows of each split and the fractions they make."""
    rows = split_rows(splits)
    total = max(sum(rows.values()), 1)
    return (
        f"{'/'.join(map(str, rows.values()))} {unit}s in {'/'.join(rows)} "
        f"({'/'.join(f'{n / total:.3f}' for n in rows.values())})"
    )


def _report_missed_fractions(
    splits: Mapping[str, Sequence[Chunk]], fractions: Mapping[str, float], where: str, unit: str
) -> None:
    """Say in one log line when whole rows could not honour the asked fractions."""
    rows = split_rows(splits)
    total = sum(rows.values())
    if all(
        abs(rows[name] / total - share) <= FRACTION_TOLERANCE for name, share in fractions.items()
    ):
        return
    asked = "/".join(f"{share:.3f}" for share in fractions.values())
    log.warning(
        "%s: too few %ss for the asked %s split; got %s",
        where,
        unit,
        asked,
        describe_split(splits, unit),
    )


def split_chunks(
    chunks: Sequence[Chunk],
    fractions: Mapping[str, float],
    seed: int,
    max_rows: int | None = None,
    where: str = "the data",
    unit: str = "example",
) -> dict[str, list[Chunk]]:
    """Split chunks after a seeded shuffle (see the module docstring).

    Args:
        chunks: every chunk of the dataset, in a fixed order (e.g. files in natural
            order, pieces ascending).
        fractions: split name -> fraction of the rows, in split order; the first
            split takes what rounding leaves.
        seed: seed of the permutation.
        max_rows: use at most this many rows in all, shared out with the fractions.
        where: names the dataset in messages (e.g. its directory).
        unit: what a row is, in messages (e.g. ``"cluster"``).

    Returns:
        Split name -> its chunks, in permuted order (a prefix of them when capped);
        the chunks across a cut are divided (:func:`cut_rows`).

    Raises:
        DataError: fewer rows than splits.
        ValueError: ``max_rows`` smaller than the number of splits, or fractions
            that are not positive and summing to 1.
    """
    names, shares = list(fractions), list(fractions.values())
    if any(share <= 0 for share in shares) or abs(sum(shares) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must be positive and sum to 1, got {dict(fractions)}")
    total = sum(chunk.n_rows for chunk in chunks)
    if total < len(names):
        raise DataError(
            f"{where}: only {total} {unit}(s) in all files, but the "
            f"{'/'.join(names)} split needs at least {len(names)}"
        )
    order = np.random.default_rng(seed).permutation(len(chunks))
    runs = cut_rows([chunks[i] for i in order], split_counts(total, shares))
    splits = dict(zip(names, runs, strict=True))
    _report_missed_fractions(splits, fractions, where, unit)
    if max_rows is None:
        return splits
    return {
        name: take_rows(splits[name], share)
        for name, share in zip(names, split_counts(max_rows, shares), strict=True)
    }
