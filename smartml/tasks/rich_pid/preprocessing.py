"""Training-split balancing by momentum bin, and feature standardisation.

**Balancing** (:class:`BalancePlan`). The beam is muon-dominated; a net trained on it
would learn the mixture. In each momentum bin (``bins`` equal bins over the momentum
range) every class is undersampled to the count of the rarest class in that bin,
streaming in two passes:

1. :meth:`BalancePlan.plan` reads labels and momenta only
   (:meth:`~smartml.tasks.rich_pid.hdf5_reader.RichHdf5Source.read_selection`) and
   counts the events of each (bin, class) cell per chunk; the kept count of a cell is
   shared out between the chunks by successive hypergeometric draws (seeded, in
   chunk order), so the totals are exact and each chunk knows its own share;
2. :meth:`BalancePlan.select` picks that many events of each cell of a chunk
   when the chunk is read, uniformly with a generator seeded by the seed and the
   chunk, so the same chunk always gives the same events, in whatever order the
   pipeline reads it.

Memory: one (bins, classes) table of integers per training chunk.

**Standardisation** (:class:`RichStandardization`), fitted on the balanced training
split: hit x and y share one scale (the pooled standard deviation of x and y) so
that rings stay circles, each with its own mean; Δt, momentum and (with
``use_ring_radius``) the ring radius each get their mean and standard deviation.
Padding rows stay exactly 0. Saved as JSON::

    {"version": 1, "features": {"x": {"mean": ..., "std": ...}, "y": ..., "dt": ...,
     "momentum": ..., "ring_radius": ...}}

>>> plan = BalancePlan.plan(
...     [(Chunk(Path("f.h5"), 0, 4), np.array([0, 0, 0, 1]), np.array([16.0, 17, 40, 41]))],
...     edges=np.array([15.0, 30.0, 45.0]), n_classes=2, seed=0)
>>> plan.before.tolist(), plan.after.tolist()
([[2, 0], [1, 1]], [[0, 0], [1, 1]])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smartml.data.chunks import Chunk
from smartml.data.scaling import finite_numbers
from smartml.data.source import Inputs
from smartml.errors import DataError, RunDirectoryError
from smartml.files import read_json_object, write_json_atomic
from smartml.tasks.rich_pid.hdf5_reader import ChunkData, first_event

FORMAT_VERSION = 1
POINT_FEATURES = ("x", "y", "dt")
GLOBAL_FEATURES = ("momentum", "ring_radius", "ring_mass", "hit_count")


def momentum_bin_edges(low: float, high: float, bins: int) -> np.ndarray:
    """``bins`` equal-width momentum bins from ``low`` to ``high`` (GeV/c).

    >>> momentum_bin_edges(15, 45, 3).tolist()
    [15.0, 25.0, 35.0, 45.0]
    """
    return np.linspace(low, high, bins + 1)


@dataclass
class BalancePlan:
    """How many events of each (momentum bin, class) cell each training chunk keeps.

    Attributes:
        edges: momentum bin edges, GeV/c.
        n_classes: classes (labels 0 … n_classes − 1).
        seed: seed of the draws and of the per-chunk selection.
        before: (bins, classes) training events per cell after the cuts.
        after: (bins, classes) events kept: per bin, each class at the bin's minimum.
        shares: chunk -> (bins, classes) events it keeps per cell.
        chunk_counts: chunk -> (bins, classes) events it has per cell.
    """

    edges: np.ndarray
    n_classes: int
    seed: int
    before: np.ndarray
    after: np.ndarray
    shares: dict[Chunk, np.ndarray]
    chunk_counts: dict[Chunk, np.ndarray]

    @classmethod
    def plan(
        cls,
        selections: Iterable[tuple[Chunk, np.ndarray, np.ndarray]],
        edges: np.ndarray,
        n_classes: int,
        seed: int,
        split: str = "train",
    ) -> BalancePlan:
        """Count the cells of every chunk, then share out the kept counts.

        Args:
            selections: ``(chunk, labels, momenta)`` of the events of each training
                chunk that pass the cuts, in a fixed chunk order.
            edges: momentum bin edges (GeV/c).
            n_classes: number of classes.
            seed: seed of the hypergeometric draws.
            split: the split's name (``train``, ``validation``), for messages.

        Raises:
            DataError: balancing keeps no event at all (a class missing everywhere),
                naming the split and its files.
        """
        counts: dict[Chunk, np.ndarray] = {}
        for chunk, labels, momentum in selections:
            counts[chunk] = _cell_counts(labels, momentum, edges, n_classes)
        shape = (len(edges) - 1, n_classes)
        before = sum(counts.values(), np.zeros(shape, np.int64))
        after = np.repeat(before.min(axis=1, keepdims=True), n_classes, axis=1)
        if after.sum() == 0:
            files = sorted({str(chunk.source_file) for chunk in counts})
            shown = ", ".join(files[:2]) + (f" and {len(files) - 2} more" if len(files) > 2 else "")
            hint = (
                "; or set data.balance.validation: false to validate on it unbalanced"
                if split == "validation"
                else ""
            )
            raise DataError(
                f"balancing the {split} split ({shown or 'no file'}) keeps no event: per "
                f"momentum bin, the events of each class are {before.tolist()} (a class has "
                f"none in every bin); give files with every class{hint}"
            )
        rng = np.random.default_rng(seed)
        remaining_total, remaining_kept = before.copy(), after.copy()
        shares = {}
        for chunk, chunk_count in counts.items():
            share = rng.hypergeometric(
                remaining_kept, remaining_total - remaining_kept, chunk_count
            ).reshape(shape)
            shares[chunk] = share
            remaining_total -= chunk_count
            remaining_kept -= share
        return cls(np.asarray(edges, np.float64), n_classes, seed, before, after, shares, counts)

    def select(self, chunk: Chunk, labels: np.ndarray, momentum: np.ndarray) -> np.ndarray:
        """Which events of a chunk the balanced split keeps (bool, one per event).

        Raises:
            DataError: the chunk is not a training chunk of the plan, or its events
                per cell differ from the first pass (the file changed meanwhile).
        """
        first = first_event(chunk)
        events = f"{chunk.source_file}: events {first}-{first + chunk.n_rows - 1}"
        share = self.shares.get(chunk)
        if share is None:
            raise DataError(f"{events} are not in the balanced training split")
        cell = _cells(labels, momentum, self.edges, self.n_classes)
        found = np.bincount(cell, minlength=share.size).reshape(share.shape)
        if not np.array_equal(found, self.chunk_counts[chunk]):
            raise DataError(
                f"{events} changed since the balancing was planned ({found.tolist()} per "
                f"momentum bin and class, planned {self.chunk_counts[chunk].tolist()})"
            )
        keys = np.random.default_rng([self.seed, first, chunk.n_rows]).random(len(cell))
        order = np.lexsort((keys, cell))
        sorted_cells = cell[order]
        rank = np.arange(len(order)) - np.searchsorted(sorted_cells, sorted_cells, side="left")
        keep = np.zeros(len(cell), bool)
        keep[order] = rank < share.reshape(-1)[sorted_cells]
        return keep

    def apply(self, chunk: Chunk, data: ChunkData) -> ChunkData:
        """The events of ``data`` (read from ``chunk``) the balanced split keeps."""
        return data.subset(self.select(chunk, data.labels, data.aux["momentum"].to_numpy()))

    def record(self, class_names: Iterable[str]) -> dict:
        """What the balancing did, for the run directory's balance file."""
        names = list(class_names)
        return {
            "momentum_edges_gev": self.edges.tolist(),
            "seed": self.seed,
            "classes": names,
            "before": {name: self.before[:, c].tolist() for c, name in enumerate(names)},
            "after": {name: self.after[:, c].tolist() for c, name in enumerate(names)},
        }


def _cells(labels: np.ndarray, momentum: np.ndarray, edges: np.ndarray, n_classes: int):
    """Cell index bin * n_classes + label of each event (momenta clipped into range)."""
    bins = np.clip(np.searchsorted(edges, momentum, side="right") - 1, 0, len(edges) - 2)
    return bins * n_classes + np.asarray(labels, np.int64)


def _cell_counts(labels, momentum, edges, n_classes) -> np.ndarray:
    cells = _cells(labels, momentum, edges, n_classes)
    return np.bincount(cells, minlength=(len(edges) - 1) * n_classes).reshape(-1, n_classes)


# -- standardisation -------------------------------------------------------------------


@dataclass
class _Moments:
    """Count, mean and sum of squared deviations, merged chunk by chunk (Chan et al.)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, np.float64).reshape(-1)
        if not len(values):
            return
        n, mean = len(values), float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        total = self.n + n
        delta = mean - self.mean
        self.m2 += m2 + delta**2 * self.n * n / total
        self.mean += delta * n / total
        self.n = total

    @property
    def variance(self) -> float:
        return self.m2 / self.n


class RichStandardization:
    """Mean and standard deviation of each feature; see the module docstring.

    Args:
        features: feature name -> (mean, std), std > 0; names from
            :data:`POINT_FEATURES` and :data:`GLOBAL_FEATURES`.

    >>> inputs = {"points": np.array([[[1.0, 2, 0.1], [0, 0, 0]], [[3.0, 6, -0.1], [0, 0, 0]]]),
    ...           "mask": np.array([[1.0, 0], [1, 0]]), "momentum": np.array([[20.0], [40]])}
    >>> scaling = RichStandardization.fit([inputs])
    >>> scaling.features["x"], scaling.features["momentum"]
    ((2.0, 1.5811388300841898), (30.0, 10.0))
    >>> scaled = scaling.transform_inputs(inputs)
    >>> scaled["points"][:, 1].tolist(), scaled["momentum"].ravel().tolist()
    ([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], [-1.0, 1.0])
    """

    def __init__(self, features: dict[str, tuple[float, float]]) -> None:
        self.features = {name: (float(m), float(s)) for name, (m, s) in features.items()}

    @classmethod
    def fit(cls, batches: Iterable[Inputs]) -> RichStandardization:
        """Fit on a stream of raw input dicts (one chunk in memory at a time).

        Raises:
            DataError: no hit or no event, or a feature without spread.
        """
        moments = {name: _Moments() for name in (*POINT_FEATURES, *GLOBAL_FEATURES)}
        for inputs in batches:
            hits = np.asarray(inputs["points"])[np.asarray(inputs["mask"]) > 0]
            for axis, name in enumerate(POINT_FEATURES):
                moments[name].add(hits[:, axis])
            for name in GLOBAL_FEATURES:
                if name in inputs:
                    moments[name].add(inputs[name])
        if moments["x"].n == 0 or moments["momentum"].n == 0:
            raise DataError("cannot fit the standardisation: the training split has no hit")
        # x and y share one scale, so that rings stay circles
        xy_std = float(np.sqrt((moments["x"].variance + moments["y"].variance) / 2))
        features = {
            "x": (moments["x"].mean, xy_std),
            "y": (moments["y"].mean, xy_std),
        }
        for name in ("dt", *GLOBAL_FEATURES):
            if moments[name].n:
                features[name] = (moments[name].mean, float(np.sqrt(moments[name].variance)))
        for name, (_mean, std) in features.items():
            if not std > 0:
                raise DataError(
                    f"cannot fit the standardisation: feature '{name}' is constant in the "
                    f"{moments[name].n} training values"
                )
        return cls(features)

    def transform_inputs(self, inputs: Inputs) -> Inputs:
        """Standardised float32 copies of raw inputs; padding rows stay exactly 0."""
        points = np.asarray(inputs["points"], np.float32)
        mask = np.asarray(inputs["mask"], np.float32)
        means = np.array([self.features[name][0] for name in POINT_FEATURES], np.float32)
        stds = np.array([self.features[name][1] for name in POINT_FEATURES], np.float32)
        scaled = dict(inputs)
        # where, not a product with the mask: padding must be +0.0, not -0.0
        scaled["points"] = np.where(mask[..., None] > 0, (points - means) / stds, np.float32(0))
        for name in GLOBAL_FEATURES:
            if name in inputs:
                mean, std = self.features[name]
                scaled[name] = ((np.asarray(inputs[name], np.float64) - mean) / std).astype(
                    np.float32
                )
        return scaled

    def transform(self, inputs: Inputs, targets: np.ndarray) -> tuple[Inputs, np.ndarray]:
        """The pipeline's transform: inputs standardised, targets unchanged."""
        return self.transform_inputs(inputs), targets

    def to_dict(self) -> dict:
        features = {name: {"mean": m, "std": s} for name, (m, s) in self.features.items()}
        return {"version": FORMAT_VERSION, "features": features}

    def save(self, path: Path) -> None:
        """Write JSON atomically (a crash never leaves a half-written file)."""
        write_json_atomic(path, self.to_dict(), RunDirectoryError)

    @classmethod
    def load(cls, path: Path, needed: Iterable[str]) -> RichStandardization:
        """Read a file :meth:`save` wrote, checking it has the ``needed`` features.

        Raises:
            RunDirectoryError: one line naming the file and the key at fault.
        """
        content = read_json_object(path, "standardisation file", RunDirectoryError)
        if content.get("version") != FORMAT_VERSION:
            raise RunDirectoryError(
                f"{path}: key 'version' is {content.get('version')!r}, expected {FORMAT_VERSION}"
            )
        features = content.get("features")
        if not isinstance(features, dict):
            raise RunDirectoryError(f"{path}: key 'features' must be an object")
        parsed = {}
        for name in needed:
            entry = features.get(name)
            if not isinstance(entry, dict) or set(entry) != {"mean", "std"}:
                raise RunDirectoryError(
                    f"{path}: key 'features.{name}' must be an object with 'mean' and 'std'"
                )
            where = f"{path}: features.{name}"
            mean = finite_numbers(entry, "mean", None, False, where)
            std = finite_numbers(entry, "std", None, True, where)
            parsed[name] = (mean, std)
        return cls(parsed)


def needed_features(
    use_ring_radius: bool, use_ring_mass: bool = False, use_hit_count: bool = False
) -> tuple[str, ...]:
    """The standardised features of a task configuration.

    >>> needed_features(False)
    ('x', 'y', 'dt', 'momentum')
    >>> needed_features(True, use_ring_mass=True, use_hit_count=True)
    ('x', 'y', 'dt', 'momentum', 'ring_radius', 'ring_mass', 'hit_count')
    """
    optional = (
        ("ring_radius", use_ring_radius),
        ("ring_mass", use_ring_mass),
        ("hit_count", use_hit_count),
    )
    return (*POINT_FEATURES, "momentum", *(name for name, used in optional if used))
