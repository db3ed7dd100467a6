"""Chunks: the units in which a dataset is read, split and shuffled.

A chunk is a piece of one file that a reader reads whole: a parquet row group, a
block of rows of an HDF5 dataset, a range of entries of a ROOT tree. Splitting a
dataset by chunks (not by examples) keeps reading sequential and lets the split be
fixed by the files and a seed alone, without reading any data.

**Splits.** :func:`split_chunks` shuffles the chunks with a seeded permutation and
cuts it into consecutive slices with the given fractions (rounded; each split gets
at least one chunk). The same seed and files give the same test set on every run.

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
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from smartml.errors import DataError


@dataclass(frozen=True)
class Chunk:
    """One unit of reading: the first ``n_rows`` rows of one piece of one file.

    Attributes:
        source_file: the file the piece is in.
        index: which piece, as the reader that made the chunk understands it
            (a row-group number, a ``(start, stop)`` row range, ...).
        n_rows: examples to read from the start of the piece (before any cut a
            reader applies while reading).
    """

    source_file: Path
    index: int | tuple[int, ...]
    n_rows: int


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


def split_chunks(
    chunks: Sequence[Chunk],
    fractions: Mapping[str, float],
    seed: int,
    max_rows: int | None = None,
    where: str = "the data",
    kind: str = "chunk",
) -> dict[str, list[Chunk]]:
    """Split chunks after a seeded shuffle (see the module docstring).

    Args:
        chunks: every chunk of the dataset, in a fixed order (e.g. files in natural
            order, pieces ascending).
        fractions: split name -> fraction, in split order; the first split takes
            what rounding leaves.
        seed: seed of the permutation.
        max_rows: use at most this many rows in all, shared out with the fractions.
        where: names the dataset in messages (e.g. its directory).
        kind: what a chunk is, in messages (e.g. ``"row group"``).

    Returns:
        Split name -> its chunks, in permuted order (a prefix of them when capped).

    Raises:
        DataError: fewer chunks than splits.
        ValueError: ``max_rows`` smaller than the number of splits, or fractions
            that are not positive and summing to 1.
    """
    names, shares = list(fractions), list(fractions.values())
    if any(share <= 0 for share in shares) or abs(sum(shares) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must be positive and sum to 1, got {dict(fractions)}")
    if len(chunks) < len(names):
        raise DataError(
            f"{where}: only {len(chunks)} {kind}(s) in all files, but the "
            f"{'/'.join(names)} split needs at least {len(names)}; write smaller "
            f"{kind}s or more files"
        )
    order = np.random.default_rng(seed).permutation(len(chunks))
    ends = np.cumsum(split_counts(len(chunks), shares))
    pieces = np.split(order, ends[:-1])
    splits = {name: [chunks[i] for i in piece] for name, piece in zip(names, pieces, strict=True)}
    if max_rows is None:
        return splits
    return {
        name: take_rows(splits[name], share)
        for name, share in zip(names, split_counts(max_rows, shares), strict=True)
    }
