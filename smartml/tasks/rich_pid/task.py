"""RICH particle identification: pion or muon from the hits of its Cherenkov ring.

Data: events in the NA62 RICH HDF5 layout (:mod:`~smartml.tasks.rich_pid.hdf5_reader`),
by default written by the built-in simulator and cached, or the configured files.
Inputs (:attr:`RichPidTask.inputs`): ``points`` (max_points, 3) in-time hits (x, y,
Δt) standardised, padding rows exactly 0; ``mask`` (max_points,) 1 for a hit;
``momentum`` (1,) standardised; with ``use_ring_mass`` the squared mass of the file's
ring radius and the momentum (:func:`~smartml.tasks.rich_pid.physics.ring_mass_squared`)
``ring_mass`` (1,) standardised; with ``use_ring_radius`` the file's fitted
``ring_radius`` (1,) standardised; with ``use_hit_count`` the number of in-time hits
``hit_count`` (1,) standardised. Output: :class:`~smartml.outputs.logits.Logits`
over muon, pion (one logit, the pion score), or muon, pion, positron when positrons
are kept; the pion is the selected class. The training split is balanced per
momentum bin and the standardisation fitted on it
(:mod:`~smartml.tasks.rich_pid.preprocessing`); validation and test keep the
beam's mixture. Run files: ``standardization.json``, ``balance.json`` (what the
balancing kept per bin and class, and what the cuts removed from the training split)
and ``ring_fit_baseline.json``.

Baseline: a robust circle fit of each event's in-time hits
(:func:`~smartml.tasks.rich_pid.ring_fit.fit_circles`) and a likelihood ratio of its
radius under the pion and muon hypotheses, with the radius resolution measured on the
training split (:mod:`~smartml.tasks.rich_pid.ring_likelihood_baseline`). Evaluation
(:mod:`~smartml.tasks.rich_pid.pid_efficiency`): pion efficiency and muon mis-ID per
1 GeV/c momentum bin at three operating points (one threshold, a target pion
efficiency, and per bin the baseline's pion efficiency), ROC per momentum range,
net and ring fit on the same axes; the test events' scores go to
``predictions.parquet`` in the run directory.
"""

from __future__ import annotations

import glob
import itertools
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from smartml.backend import tf
from smartml.data.chunks import Chunk, describe_split
from smartml.data.source import ArraySpec, Inputs
from smartml.errors import DataError, RunDirectoryError
from smartml.files import read_json_object, write_json_atomic
from smartml.metrics.summary import SummaryMetric
from smartml.outputs.logits import Logits
from smartml.tasks.base import SPLITS, Examples, InputSpec, Task
from smartml.tasks.rich_pid.hdf5_reader import AUX_COLUMNS, ChunkData, RichHdf5Source, add_counts
from smartml.tasks.rich_pid.layout import PION
from smartml.tasks.rich_pid.pid_efficiency import (
    PidDefinition,
    fixed_width_edges,
    pid_figures,
    pid_metrics,
    pid_summary_metrics,
    predictions_table,
)
from smartml.tasks.rich_pid.pmt_table import load_pmt_table
from smartml.tasks.rich_pid.preprocessing import (
    BalancePlan,
    RichStandardization,
    momentum_bin_edges,
    needed_features,
)
from smartml.tasks.rich_pid.ring_fit import fit_circles
from smartml.tasks.rich_pid.ring_likelihood_baseline import (
    RingLikelihoodBaseline,
    resolution_figure,
)
from smartml.tasks.rich_pid.schema import RichDataConfig

log = logging.getLogger("smartml.rich_pid")

STANDARDIZATION = "standardization.json"
BALANCE = "balance.json"
BASELINE = "ring_fit_baseline.json"
PREDICTIONS = "predictions.parquet"
# Columns the ring fit adds to the examples' aux table.
RING_FIT_COLUMNS = ("fit_radius", "fit_hits")
ID_COLUMNS = ["run_id", "burst_id", "event_id"]
# Training events the standardisation is fitted on: per-mille precision on the scales.
FIT_EVENTS = 200_000
DESCRIPTIONS = {
    "points": "in-time hits (x, y on the common plane, Δt = hit − CHOD time), standardised; "
    "padding rows 0",
    "mask": "1 for a hit, 0 for padding",
    "momentum": "track momentum, standardised",
    "ring_radius": "the file's fitted ring radius, standardised",
    "ring_mass": "squared mass from the file's ring radius and the momentum, standardised",
    "hit_count": "in-time hits of the event (also those beyond max_points), standardised",
}


class RichPidTask(Task[RichDataConfig]):
    """Ring hits, mask and momentum -> muon / pion (/ positron) logits."""

    data_config = RichDataConfig

    run_files = (STANDARDIZATION, BALANCE, BASELINE)
    products = (PREDICTIONS,)

    @property
    def inputs(self) -> dict[str, InputSpec]:
        n = self.data.max_points
        shapes = {"points": (n, 3), "mask": (n,), "momentum": (1,)}
        if self.data.use_ring_radius:
            shapes["ring_radius"] = (1,)
        if self.data.use_ring_mass:
            shapes["ring_mass"] = (1,)
        if self.data.use_hit_count:
            shapes["hit_count"] = (1,)
        return {
            name: InputSpec(name, shape, description=DESCRIPTIONS[name])
            for name, shape in shapes.items()
        }

    @property
    def output(self) -> Logits:
        names = self.data.class_names()
        return Logits(names, positive=names[PION], bin_variables={"momentum": "GeV/c"})

    # -- data --------------------------------------------------------------------------

    def prepare(self, fit: bool) -> None:
        data = self.data
        files, pmt_path = self._data_files()
        self.source = RichHdf5Source(data, files, load_pmt_table(pmt_path, self._disk_offsets()))
        self.splits = self.source.split(seed=data.split.seed)
        log.info("data %s: %s", files[0].parent, describe_split(self.splits, "event"))
        self._balance: dict[str, BalancePlan | None] = {}
        if fit:
            self._balance = {split: self._plan_balance(split) for split in self._balanced_splits()}
            write_json_atomic(self.run_file(BALANCE), self._balance_record(), RunDirectoryError)
            # one pass over the training events for both fits
            parts = list(self._iter_split("train", FIT_EVENTS, standardized=False, ring_fit=True))
            self.standardization = RichStandardization.fit(part.inputs for part in parts)
            self.standardization.save(self.run_file(STANDARDIZATION))
            self.baseline = fit_baseline(parts)
            self.baseline.to_json(self.run_file(BASELINE))
        else:
            needed = needed_features(data.use_ring_radius, data.use_ring_mass, data.use_hit_count)
            self.standardization = RichStandardization.load(self.run_file(STANDARDIZATION), needed)
            self.baseline = RingLikelihoodBaseline.from_json(self.run_file(BASELINE))

    def _disk_offsets(self):
        """Where the disks sit on the focal plane: the simulator's own offsets for
        simulated data (so a ring split over both disks is one circle), else the
        configured ones."""
        data = self.data
        return (
            data.simulation.disk_offsets_mm if data.source == "simulation" else data.disk_offsets_mm
        )

    def _data_files(self) -> tuple[list[Path], Path]:
        """The .h5 files in order and the PMT table: simulated (cached) or configured."""
        data = self.data
        if data.source == "simulation":
            from smartml.tasks.rich_pid.simulator import (
                PMT_TABLE_NAME,
                event_files,
                simulate_cached,
                table_layout,
            )

            layout = table_layout(data.pmt_positions) if data.pmt_positions else None
            directory = simulate_cached(data.simulation, layout=layout)
            return event_files(directory), directory / PMT_TABLE_NAME
        files: list[Path] = []
        for pattern in data.files:
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise DataError(f"data.files: pattern '{pattern}' matches no file")
            files += [Path(match) for match in matches if Path(match) not in files]
        return files, Path(str(data.pmt_positions))  # the schema requires it for files

    def _balanced_splits(self) -> tuple[str, ...]:
        balance = self.data.balance
        if not balance.enabled:
            return ()
        return ("train", "validation") if balance.validation else ("train",)

    def _plan_balance(self, split: str) -> BalancePlan:
        """First pass over a split (labels and momenta only)."""
        data = self.data
        self._cut_counts: dict[str, dict[str, int]] = getattr(self, "_cut_counts", {})
        counts = self._cut_counts[split] = {}

        def selections() -> Iterator[tuple[Chunk, np.ndarray, np.ndarray]]:
            for chunk in self.splits[split]:
                labels, momentum, chunk_counts = self.source.read_selection(chunk)
                add_counts(counts, chunk_counts)
                yield chunk, labels, momentum

        edges = momentum_bin_edges(data.momentum_min_gev, data.momentum_max_gev, data.balance.bins)
        plan = BalancePlan.plan(
            selections(), edges, len(data.class_names()), data.balance.seed, split
        )
        log.info(
            "%s split: cuts %s; balanced %d of %d events",
            split,
            counts,
            plan.after.sum(),
            plan.before.sum(),
        )
        return plan

    def _balance_record(self) -> dict:
        """balance.json: the training split's plan at the top level, the validation
        split's (when balanced) under ``validation``."""
        plans = {split: plan for split, plan in self._balance.items() if plan is not None}
        if not plans:
            return {"enabled": False}
        names = self.data.class_names()
        record = {"enabled": True, "training_cuts": self._cut_counts["train"]}
        record.update(plans["train"].record(names))
        if "validation" in plans:
            record["validation"] = {
                "cuts": self._cut_counts["validation"],
                **plans["validation"].record(names),
            }
        return record

    def _balance_plan(self, split: str) -> BalancePlan | None:
        """The plan of ``split`` (None when it is not balanced), made again (it is
        deterministic) when the run files were read, and checked against the recorded
        one: the data must not have changed."""
        if split not in self._balanced_splits():
            return None
        if split not in self._balance:
            plan = self._balance[split] = self._plan_balance(split)
            recorded = read_json_object(self.run_file(BALANCE), "balance record", RunDirectoryError)
            if split == "validation":
                recorded = recorded.get("validation", {})
            now = plan.record(self.data.class_names())["after"]
            if recorded.get("after") != now:
                raise RunDirectoryError(
                    f"{self.run_file(BALANCE)}: the balanced {split} events per momentum bin "
                    f"differ from those of the data now ({now}); "
                    "the data files changed since the run started"
                )
        return self._balance[split]

    def _read(self, split: str, chunk: Chunk) -> ChunkData:
        """One chunk of a split, balanced when the split is (:meth:`_balanced_splits`)."""
        data = self.source.read_chunk(chunk)
        plan = self._balance_plan(split)
        return plan.apply(chunk, data) if plan is not None else data

    def _iter_split(
        self, split: str, max_n: int | None, standardized: bool = True, ring_fit: bool = False
    ) -> Iterator[ChunkData]:
        """Chunks of a split in order, at most ``max_n`` events in all; counts logged.

        Chunks hold one class each (files are sorted by class), so ``max_n`` events are
        the same share of every chunk, not the leading chunks: a sample of the whole
        split, every class in it."""
        chunks = self.splits[split]
        remaining = np.inf if max_n is None else max_n
        share = 1.0 if max_n is None else min(1.0, max_n / max(1, sum(c.n_rows for c in chunks)))
        counts: dict[str, int] = {}
        for chunk in chunks:
            if remaining <= 0:
                break
            data = self._read(split, chunk)
            add_counts(counts, data.counts)
            take = min(remaining, math.ceil(share * len(data.labels)))
            if len(data.labels) > take:
                data = data.subset(np.arange(len(data.labels)) < take)
            remaining -= len(data.labels)
            if ring_fit:
                data = with_ring_fit(data)
            if standardized:
                data.inputs = self.standardization.transform_inputs(data.inputs)
            yield data
        log.info("%s split: events per cut %s", split, counts)

    def datasets(self) -> tuple[tf.data.Dataset, tf.data.Dataset]:
        for split in self._balanced_splits():  # made here once, not in the reading threads
            self._balance_plan(split)
        return self.streamed_datasets(
            lambda split: _SplitSource(self, split),
            self.splits.__getitem__,
            self.standardization.transform,
        )

    def examples(self, split: str, max_n: int | None = None) -> Examples:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        parts = list(self._iter_split(split, max_n, ring_fit=True))
        if not parts:
            raise DataError(f"the {split} split has no events")
        names = list(self.inputs)
        inputs = {name: np.concatenate([part.inputs[name] for part in parts]) for name in names}
        labels = np.concatenate([part.labels for part in parts])
        aux = pd.concat([part.aux for part in parts], ignore_index=True)
        return Examples(inputs, labels, aux[[*AUX_COLUMNS, *RING_FIT_COLUMNS]])

    # -- evaluation ----------------------------------------------------------------------

    @property
    def pid_definition(self) -> PidDefinition:
        """Pion against muon, binned in momentum (positrons, when kept, are counted
        apart)."""
        data = self.data
        return PidDefinition(
            class_names=tuple(data.class_names()),
            ranges=_momentum_ranges(data.momentum_min_gev, data.momentum_max_gev),
        )

    def summary_metrics(self) -> list[SummaryMetric]:
        """The PID summary (AUC, muon mis-ID at a target pion efficiency and at the ring
        fit's): it replaces the output kind's own AUC and mis-ID, which it repeats."""
        return pid_summary_metrics(self.pid_definition)

    def baseline_scores(self, examples: Examples) -> np.ndarray:
        """The ring-fit likelihood ratio of each example (log L(π) − log L(μ))."""
        aux = examples.aux
        return self.baseline.scores(
            aux["fit_radius"].to_numpy(), aux["fit_hits"].to_numpy(), aux["momentum"].to_numpy()
        )

    def _pid_arguments(
        self, examples: Examples, prediction: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """labels, net scores, ring-fit scores, momentum and the 1 GeV/c bin edges."""
        data = self.data
        edges = fixed_width_edges(data.momentum_min_gev, data.momentum_max_gev)
        momentum = examples.aux["momentum"].to_numpy()
        return examples.targets, prediction, self.baseline_scores(examples), momentum, edges

    def task_metrics(self, examples: Examples, prediction: np.ndarray) -> dict:
        """Per-momentum-bin PID of net and ring fit."""
        return pid_metrics(
            *self._pid_arguments(examples, prediction), definition=self.pid_definition
        )

    def test_tables(self, examples: Examples, prediction: np.ndarray) -> dict[str, pd.DataFrame]:
        """``predictions.parquet``: each test event's ids, label, net and ring-fit scores
        and momentum."""
        labels, scores, baseline, momentum, _ = self._pid_arguments(examples, prediction)
        table = predictions_table(
            examples.aux[ID_COLUMNS], labels, scores, baseline, momentum, self.pid_definition
        )
        return {PREDICTIONS: table}

    def task_figures(self, examples: Examples, prediction: np.ndarray) -> dict:
        figures = pid_figures(
            *self._pid_arguments(examples, prediction),
            definition=self.pid_definition,
            run_name=self.config.name,
        )
        figures["ring_fit_resolution"] = resolution_figure(self.baseline, self.config.name)
        return figures


class _SplitSource:
    """The reader as the training pipeline needs it: one split's chunks (balanced for
    the training split), targets as the output kind's loss takes them."""

    def __init__(self, task: RichPidTask, split: str) -> None:
        self.task, self.split = task, split
        self.chunks = task.source.chunks
        self._targets = np.asarray(task.output.training_targets(np.zeros(1, np.int64)))

    @property
    def input_specs(self) -> dict[str, ArraySpec]:
        return self.task.source.input_specs

    @property
    def target_spec(self) -> ArraySpec:
        return ArraySpec(self._targets.shape[1:], self._targets.dtype)

    def exact_rows(self, chunk: Chunk) -> int | None:
        return None  # the cuts drop events while reading

    def read_examples(self, chunk: Chunk) -> tuple[Inputs, np.ndarray]:
        data = self.task._read(self.split, chunk)
        return data.inputs, self.task.output.training_targets(data.labels)


def fit_baseline(parts: list[ChunkData]) -> RingLikelihoodBaseline:
    """The ring-fit likelihood, its radius resolution measured on training events
    (``parts``: chunks with their ring fit, :func:`with_ring_fit`)."""
    aux = pd.concat([part.aux for part in parts], ignore_index=True)
    labels = np.concatenate([part.labels for part in parts])
    return RingLikelihoodBaseline.fit(
        aux["fit_radius"].to_numpy(),
        aux["fit_hits"].to_numpy(),
        aux["momentum"].to_numpy(),
        labels,
    )


def with_ring_fit(data: ChunkData) -> ChunkData:
    """``data`` with the robust circle fit of its raw (not standardised) points in
    its aux table: ``fit_radius`` (mm, NaN without a ring) and ``fit_hits``."""
    points, mask = data.inputs["points"], data.inputs["mask"] > 0
    fit = fit_circles(points[..., 0], points[..., 1], mask)
    aux = data.aux.copy()
    aux["fit_radius"] = np.where(fit.valid, fit.radius, np.nan)
    aux["fit_hits"] = np.where(fit.valid, fit.n_used, 0)
    return ChunkData(data.inputs, data.labels, aux, data.counts)


def _momentum_ranges(low: float, high: float) -> tuple[tuple[float, float], ...]:
    """Three equal momentum ranges with their own ROC area (15–25, 25–35, 35–45 GeV/c
    for the default cut)."""
    edges = np.linspace(low, high, 4)
    return tuple((float(a), float(b)) for a, b in itertools.pairwise(edges))
