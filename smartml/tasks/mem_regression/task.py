"""A network in place of the Matrix-Element-Method integral (the DeepMEM seed).

Data: the events' ROOT tree (features by a
:class:`~smartml.ntuples.feature_selection.FeatureSelection`) and the weights' tree
aligned with it (:mod:`.weight_files`); by default generated LO Drell–Yan events and
their weights integrated here, both cached. The target is ``−log10 w``; events whose
weight is zero, negative or not finite are dropped and counted (or refused, with
``non_positive_weights: "error"``). Features and target are standardised with the
training split's mean and standard deviation (``mem_scaling.json``).

Output: one value trained by the mean squared error, or a Gaussian with predicted σ
(``loss: "gaussian_nll"``). Evaluation, on the test events: the output kind's
residuals of ``−log10 w``, and for the weight itself
(:mod:`smartml.tasks.mem_regression.weight_regression`) the DNN/integrator ratio, the relative
error (median, 68% and 95% quantiles of its size), MAPE, the ``−log10 w`` overlay,
the relative error against each input, and the speed-up: the integrator's seconds per
event (``speed_events`` test events integrated again, one process) against the
network's (batch inference of 65,536 events: the test events, repeated).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from smartml.data.chunks import describe_split, split_chunks
from smartml.data.scaling import TargetScaling
from smartml.errors import DataError, RunDirectoryError
from smartml.files import expand_patterns, write_json_atomic
from smartml.ntuples.feature_selection import FeatureSelection
from smartml.ntuples.root_reader import NtupleReader
from smartml.ntuples.tabular_source import FEATURES, Sample, TabularSource
from smartml.outputs.base import OutputKind
from smartml.outputs.gaussian_mdn import GaussianMDN, GaussianPrediction
from smartml.outputs.point_regression import PointRegression
from smartml.tasks.base import Evaluation, Examples
from smartml.tasks.mem_regression.schema import MemDataConfig
from smartml.tasks.mem_regression.weight_files import cached_weights, read_weights
from smartml.tasks.tabular import SCALING_FORMAT_VERSION, TabularTask

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from smartml.backend import keras, tf
    from smartml.metrics.summary import SummaryMetric

log = logging.getLogger("smartml.mem_regression")

SCALING = "mem_scaling.json"
ALIASES = "data.aliases"
TARGET = "neg_log10_weight"
TARGET_LABEL = "−log10 w"
FIT_EVENTS = 200_000
# Events per batch when timing the network's inference (the test events, repeated).
SPEED_BATCH = 65_536


class _TargetUnits:
    """The output kinds' view of the target standardisation."""

    def __init__(self, scaling: TargetScaling) -> None:
        self.scaling = scaling

    def inverse_targets(self, y: np.ndarray) -> np.ndarray:
        return self.scaling.inverse(y)

    def inverse_covariance(self, covariance: np.ndarray) -> np.ndarray:
        return self.scaling.inverse_covariance(covariance)


class MemRegressionTask(TabularTask[MemDataConfig]):
    """``features (k,)`` standardised -> ``−log10 w`` (standardised)."""

    data_config = MemDataConfig

    run_files = (SCALING,)

    @property
    def output(self) -> OutputKind:
        if self.data.loss == "gaussian_nll":
            return GaussianMDN([TARGET], [""], [TARGET_LABEL])
        return PointRegression([TARGET], [""], [TARGET_LABEL])

    def summary_metrics(self) -> list[SummaryMetric]:
        """The weight's accuracy, its bias, and the speed-up over the integrator."""
        from smartml.metrics.summary import SummaryMetric

        return [
            SummaryMetric("weight.abs_relative_error_median", "median |Δw/w|"),
            SummaryMetric("weight.abs_relative_error_q68", "68% |Δw/w|"),
            SummaryMetric("weight.abs_relative_error_q95", "95% |Δw/w|"),
            SummaryMetric("weight.relative_error_median", "median Δw/w", better="zero"),
            SummaryMetric("speed.speed_up", "speed-up", better="higher"),
        ]

    # -- data ----------------------------------------------------------------------

    def _files(self) -> tuple[list[Any], list[Any], dict]:
        """The events' files, the weights' files (local paths, or URLs where the file
        helpers accept them), and what the integration recorded."""
        data = self.data
        if data.source == "simulation":
            from smartml.collider.event_generator import cached_ntuple

            simulation = data.simulation
            events = cached_ntuple(simulation.generation, simulation.n_events, "drell_yan")
            weights, manifest = cached_weights(
                events,
                data.tree,
                self._mem_settings(),
                simulation.workers,
                simulation.scheduler,
            )
            return [events], [weights], manifest
        files = expand_patterns(data.files, "data.files")
        return files, expand_patterns(data.weights.files, "data.weights.files"), {}

    def _mem_settings(self):
        """The integrator's settings, its transfer functions and its recoil spectrum
        those of the generator (the weight is then the exact density of the events)."""
        from smartml.collider.mem_settings import MuonResolutions

        generation = self.data.simulation.generation
        resolutions = MuonResolutions.from_generation_config(generation)
        update = {"resolutions": resolutions, "recoil": generation.recoil}
        return self.data.simulation.mem.model_copy(update=update)

    def open_source(self) -> TabularSource:
        data = self.data
        events, weight_files, self.integration = self._files()
        reader = NtupleReader(
            events, data.tree, self.feature_selection(), aliases=data.aliases, aliases_key=ALIASES
        )
        if data.simulation.speed_events:
            # checked now: the measurement runs after training, and must not fail there
            self._muon_reader(reader).close()
        weights = read_weights(weight_files, data.weights.tree, data.weights.branch, reader)
        bad = ~(np.isfinite(weights) & (weights > 0))
        self.n_bad_weights = int(bad.sum())
        if self.n_bad_weights:
            first = int(np.flatnonzero(bad)[0])
            files = ", ".join(map(str, weight_files))
            where = f"{files}: tree {data.weights.tree!r}, branch {data.weights.branch!r}"
            if data.non_positive_weights == "error":
                raise DataError(
                    f"{where}: entry {first}: weight {float(weights[first])!r} (not > 0); "
                    f"{self.n_bad_weights} such entries; data.non_positive_weights 'drop' "
                    "drops them"
                )
            log.info(
                "%s: %d events without a positive weight dropped (first: entry %d)",
                where,
                self.n_bad_weights,
                first,
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            targets = np.where(bad, np.nan, -np.log10(np.where(bad, 1.0, weights)))
        self.weights = np.where(bad, np.nan, weights)
        sample = Sample("events", reader, targets=targets[:, None])
        return TabularSource(
            [sample], data.entries_per_chunk, regression=True, target_names=[TARGET]
        )

    def prepare(self, fit: bool) -> None:
        source = self.source
        data = self.data
        where = f"the events ({source.samples[0].reader.where()})"
        self.splits = split_chunks(
            source.chunks, data.split.fractions(), data.split.seed, None, where, "event"
        )
        log.info("data: %s", describe_split(self.splits, "event"))
        if fit:
            rows = self.rows("train", FIT_EVENTS)
            features = TargetScaling.fit_batches((r.features for r in rows), source.feature_names)
            target = TargetScaling.fit_batches((r.targets for r in rows), [TARGET])
            content = {
                "version": SCALING_FORMAT_VERSION,
                "features": features.to_dict(),
                "target": target.to_dict(),
                "dropped_weights": self.n_bad_weights,
            }
            write_json_atomic(self.run_file(SCALING), content, RunDirectoryError)
        self._read_scaling()

    def _read_scaling(self) -> None:
        path = self.run_file(SCALING)
        content = self.read_scaling(path, "MEM scaling", ("features", "target"))
        self.feature_scaling = TargetScaling.from_dict(content["features"], f"{path}: features")
        self.target_scaling = TargetScaling.from_dict(content["target"], f"{path}: target")

    def _transform(self, inputs: dict, targets: np.ndarray) -> tuple[dict, np.ndarray]:
        inputs[FEATURES] = self.feature_scaling.transform(inputs[FEATURES])
        return inputs, self.target_scaling.transform(targets)

    def datasets(self) -> tuple[tf.data.Dataset, tf.data.Dataset]:
        return self.streamed_datasets(
            lambda split: self.source, self.splits.__getitem__, self._transform
        )

    def examples(self, split: str, max_n: int | None = None) -> Examples:
        parts = self.rows(split, max_n)
        features = np.concatenate([part.features for part in parts])
        entries = np.concatenate([part.entries for part in parts])
        aux = pd.DataFrame(features.astype(np.float64), columns=self.source.feature_names)
        aux.insert(0, "entry", entries)
        aux["weight"] = self.weights[entries]
        targets = np.concatenate([part.targets for part in parts]).astype(np.float64)
        return Examples({FEATURES: self.feature_scaling.transform(features)}, targets, aux)

    def decode(self, raw: np.ndarray) -> Any:
        return self.output.decode(raw, _TargetUnits(self.target_scaling))

    # -- evaluation -------------------------------------------------------------------

    def evaluate(self, model: keras.Model, figures: bool = True) -> Evaluation:
        """The template's evaluation, plus the speed-up of the network over the integrator."""
        evaluation = super().evaluate(model, figures)
        evaluation.metrics["speed"] = self._speed(model)
        return evaluation

    def task_metrics(self, examples: Examples, prediction: Any) -> dict:
        from smartml.tasks.mem_regression.weight_regression import weight_metrics

        w_true, w_pred = _weights(examples, prediction)
        return {
            "weight": weight_metrics(w_true, w_pred),
            "dropped_weights": self.n_bad_weights,
        }

    def task_figures(self, examples: Examples, prediction: Any) -> dict[str, Figure]:
        from smartml.tasks.mem_regression.weight_regression import weight_regression_figures

        w_true, w_pred = _weights(examples, prediction)
        inputs = examples.aux[self.source.feature_names]
        return weight_regression_figures(w_true, w_pred, inputs, run_name=self.config.name)

    def _speed(self, model: keras.Model) -> dict:
        """Seconds per event of the network (batch inference: the test events repeated to
        :data:`SPEED_BATCH` rows) and of the integrator (``speed_events`` test events,
        one process), and their ratio."""
        from smartml.tasks.mem_regression.weight_regression import seconds_per_event, speed_up

        test = self.examples("test")
        features = test.inputs[FEATURES]
        # a batch as an analysis would send: the test events repeated to SPEED_BATCH rows
        batch = np.resize(features, (max(SPEED_BATCH, len(features)), features.shape[1]))
        dnn = seconds_per_event(lambda x: model.predict_on_batch(x), batch)
        result: dict[str, Any] = {"dnn_seconds_per_event": dnn, "dnn_batch": len(batch)}
        integrator = self._integrator_seconds(test.aux["entry"].to_numpy())
        if integrator is not None:
            result.update(integrator)
            result["speed_up"] = speed_up(integrator["integrator_seconds_per_event"], dnn)
        return result

    def _muon_reader(self, events: NtupleReader) -> NtupleReader:
        """The muons the integrator needs, read through ``data.aliases`` from the events'
        files.

        Raises:
            DataError: one line naming the name or alias that resolves to no branch.
        """
        from smartml.collider.matrix_element_method import MUON_BRANCHES

        selection = FeatureSelection(branches=list(MUON_BRANCHES))
        try:
            return NtupleReader(
                events.files,
                events.tree_name,
                selection,
                aliases=self.data.aliases,
                aliases_key=ALIASES,
            )
        except DataError as err:
            raise DataError(
                f"the integrator's speed measurement (data.simulation.speed_events > 0, "
                f"set 0 to skip it) reads {', '.join(MUON_BRANCHES)}: {err}"
            ) from None

    def _integrator_seconds(self, entries: np.ndarray) -> dict | None:
        """Time the integrator on the first test events (None without muon branches)."""
        from smartml.collider.matrix_element_method import MUON_BRANCHES, mem_weight

        n = min(self.data.simulation.speed_events, len(entries))
        reader = self.source.samples[0].reader
        if n == 0:
            return None
        muons = self._muon_reader(reader)
        settings = self._mem_settings()
        rows = _first_rows(muons, entries, n)
        muons.close()
        if not rows:
            return None
        n = len(rows)
        started = time.perf_counter()
        for row in rows:
            mem_weight(dict(zip(MUON_BRANCHES, map(float, row), strict=True)), settings)
        seconds = (time.perf_counter() - started) / n
        return {"integrator_seconds_per_event": seconds, "integrator_events": n}


def _first_rows(reader: NtupleReader, entries: np.ndarray, n: int) -> list[np.ndarray]:
    """The rows of the first ``n`` of ``entries`` that ``reader`` keeps (an event lacking
    an object an alias indexes, e.g. ``Muon_Px[1]``, is read as no row and skipped)."""
    rows: list[np.ndarray] = []
    for entry in entries:
        if len(rows) == n:
            break
        features = reader.read(int(entry), int(entry) + 1).features
        rows.extend(features[:1])
    return rows


def _weights(examples: Examples, prediction: Any) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted weights from ``−log10 w`` (a Gaussian's mean when predicted)."""
    mean = prediction.mean if isinstance(prediction, GaussianPrediction) else prediction
    predicted = np.asarray(mean, np.float64).reshape(len(examples), -1)[:, 0]
    return examples.aux["weight"].to_numpy(), 10.0 ** (-predicted)
