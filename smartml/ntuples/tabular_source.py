"""Examples of tabular tasks read from ROOT trees: features of one or several samples,
with a class label and a weight per sample, or with targets from an aligned tree.

A :class:`Sample` is a chain of files holding one tree (an :class:`NtupleReader`), its
class label, a per-sample weight (e.g. cross-section × luminosity / generated events)
or a weight per entry (e.g. a generator's event weight, read before training), and,
for regression, an entry-aligned reader of its targets. :class:`TabularSource`
cuts every sample into entry ranges of ``entries_per_chunk`` (the chunks that are split,
shuffled and read one at a time, :mod:`smartml.data.chunks`) and reads a chunk into the
``features`` input ``(n, k)`` and the targets:

- classification: ``(n, 2)`` float32, column 0 the label, column 1 the weight (the
  task hands Keras ``(features, label, weight)``);
- regression: ``(n, t)`` float32, the sample's targets at the kept entries (held in
  memory: one float per event and target; a task reads them from its aligned target
  tree and marks rows it rejects, e.g. a zero MEM weight, with NaN).

Rows dropped by the feature selection (an event without the indexed object), for a
NaN target or a NaN per-entry weight (a policy's drop) are counted per chunk
(:attr:`TabularRows.dropped`).

"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from smartml.data.chunks import Chunk
from smartml.data.source import ArraySpec, Inputs
from smartml.errors import DataError
from smartml.ntuples.root_reader import NtupleReader

FEATURES = "features"


@dataclass(frozen=True)
class Sample:
    """One sample of a tabular dataset.

    Attributes:
        name: shown in logs and errors (e.g. ``"signal"``, ``"ttbar"``).
        reader: its features.
        label: class index (classification; 0 for regression).
        weight: per-event weight of the sample (1 when unweighted).
        weights: (n_entries,) weight of every entry (NaN: drop the entry), in place of
            ``weight``, or None.
        targets: (n_entries, t) regression targets of every entry (NaN: drop the
            entry), or None.
    """

    name: str
    reader: NtupleReader
    label: int = 0
    weight: float = 1.0
    targets: np.ndarray | None = None
    weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.weights is not None and len(self.weights) != self.reader.n_entries:
            raise DataError(
                f"sample {self.name!r}: {len(self.weights)} weights for the "
                f"{self.reader.n_entries} entries of {self.reader.where()}"
            )
        if self.targets is not None and len(self.targets) != self.reader.n_entries:
            raise DataError(
                f"sample {self.name!r}: {len(self.targets)} target rows for the "
                f"{self.reader.n_entries} entries of {self.reader.where()}"
            )


@dataclass
class TabularRows:
    """The kept rows of one chunk.

    Attributes:
        features: (n, k) float32.
        targets: (n, 2) [label, weight] or (n, t) regression targets, float32.
        entries: (n,) global entry of each row in its sample's chain.
        sample: index of the sample.
        dropped: entries of the chunk's range dropped (a missing object, a NaN target).
    """

    features: np.ndarray
    targets: np.ndarray
    entries: np.ndarray
    sample: int
    dropped: int


class TabularSource:
    """A :class:`~smartml.data.source.ChunkSource` over the samples' trees.

    Args:
        samples: the samples, in a fixed order (chunk indices refer to it).
        entries_per_chunk: entries per chunk.
        regression: targets from the samples' target readers instead of labels.

    Raises:
        DataError: samples whose feature lists differ, an object index that no event
            of any sample reaches, or a regression sample without targets. (Build the
            samples' readers with ``check_object_indices=False``: a sample may lack
            an object that another has.)
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        entries_per_chunk: int,
        regression: bool = False,
        target_names: Sequence[str] = (),
    ) -> None:
        if not samples:
            raise DataError("no sample to read")
        self.samples = list(samples)
        self.regression = regression
        names = self.samples[0].reader.feature_names
        for sample in self.samples[1:]:
            if sample.reader.feature_names != names:
                raise DataError(
                    f"sample {sample.name!r} ({sample.reader.where()}) has features "
                    f"{sample.reader.feature_names}, sample {self.samples[0].name!r} has {names}"
                )
        if regression:
            for sample in self.samples:
                if sample.targets is None:
                    raise DataError(f"sample {sample.name!r}: no target tree given")
        self.feature_names = list(names)
        self.samples[0].reader.check_object_indices([sample.reader for sample in self.samples])
        self._target_names = list(target_names) if regression else ["label", "weight"]
        self._may_drop = self._rows_may_drop()
        self.chunks = [
            Chunk(Path(sample.reader.files[0]), (index, start), min(entries_per_chunk, n - start))
            for index, sample in enumerate(self.samples)
            for n in [sample.reader.n_entries]
            for start in range(0, n, entries_per_chunk)
        ]

    @property
    def target_names(self) -> list[str]:
        """``label, weight`` (classification) or the regression targets' names."""
        return self._target_names

    @property
    def input_specs(self) -> dict[str, ArraySpec]:
        return {FEATURES: ArraySpec((len(self.feature_names),), np.dtype(np.float32))}

    @property
    def target_spec(self) -> ArraySpec:
        return ArraySpec((len(self.target_names),), np.dtype(np.float32))

    def exact_rows(self, chunk: Chunk) -> int | None:
        """``chunk.n_rows``, or None when rows may be dropped while reading (missing
        objects, NaN targets or weights)."""
        return None if self._may_drop else chunk.n_rows

    def _rows_may_drop(self) -> bool:
        """Whether reading may drop rows: a NaN target or weight, or a missing object
        (computed once: the arrays hold one value per entry)."""
        marked = any(
            array is not None and np.isnan(array).any()
            for sample in self.samples
            for array in (sample.targets, sample.weights)
        )
        return marked or any(
            sample.reader.resolved.missing_object == "drop"
            and any(column.index is not None for column in sample.reader.resolved.leaves())
            for sample in self.samples
        )

    def read_rows(self, chunk: Chunk) -> TabularRows:
        """The kept rows of ``chunk`` (rows ``offset`` to ``offset + n_rows`` of its range)."""
        sample_index, start = chunk.index  # type: ignore[misc]
        sample = self.samples[sample_index]
        first = start + chunk.offset
        features, entries, dropped = sample.reader.read(first, first + chunk.n_rows)
        if self.regression:
            assert sample.targets is not None  # checked in __init__
            targets = sample.targets[entries]
            kept = ~np.isnan(targets).any(axis=1)
            dropped += int((~kept).sum())
            features, entries = features[kept], entries[kept]
            targets = targets[kept].astype(np.float32)
        else:
            weights = np.full(len(entries), sample.weight)
            if sample.weights is not None:
                weights = sample.weights[entries]
                kept = ~np.isnan(weights)
                dropped += int((~kept).sum())
                features, entries, weights = features[kept], entries[kept], weights[kept]
            targets = np.empty((len(entries), 2), np.float32)
            targets[:, 0] = sample.label
            targets[:, 1] = weights
        return TabularRows(features, targets, entries, sample_index, dropped)

    def read_sample(self, chunks: Sequence[Chunk], max_n: int | None) -> list[TabularRows]:
        """The rows of ``chunks``, at most about ``max_n`` (all when None): the same
        share of every chunk, so that a sample of a split holds every sample of it."""
        total = max(1, sum(chunk.n_rows for chunk in chunks))
        share = 1.0 if max_n is None else min(1.0, max_n / total)
        parts = []
        for chunk in chunks:
            if share < 1.0:
                chunk = replace(chunk, n_rows=max(1, round(share * chunk.n_rows)))
            parts.append(self.read_rows(chunk))
        return parts

    def read_examples(self, chunk: Chunk) -> tuple[Inputs, np.ndarray]:
        rows = self.read_rows(chunk)
        return {FEATURES: rows.features}, rows.targets
