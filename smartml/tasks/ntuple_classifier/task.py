"""Signal against background from the features of ROOT ntuples.

Data: the samples of the ``data`` section (:mod:`.schema`), each a chain of ROOT files
read by :class:`~smartml.ntuples.root_reader.NtupleReader` in entry ranges; every sample
is split with the configured fractions on its own (so every split holds every sample),
and the chunks of all samples are shuffled together with the split seed. The features
are standardised with the mean and standard deviation of the training split
(``feature_scaling.json``, which also holds the class weights).

Weights: each event carries its sample's weight, a constant or a branch's value
(normalised to cross section × luminosity when asked; negative weights by
``data.negative_weights``: :mod:`.weights`); what the weight pass found per sample is
recorded in ``feature_scaling.json`` and the metrics (``weights``). With
``class_weighting: balanced`` the weights of each class are scaled so that both
classes carry the same total training weight (the final weights summed over the
entries of the training split). Keras gets ``(features, label, weight)``.

Aliases: each sample maps the features' names onto its own branches
(``data.samples[i].aliases``, :mod:`smartml.ntuples.aliases`), so that samples with
differently named branches share one feature selection.

Evaluation: the feature validation plots (each feature, signal vs background, train
vs test, normalised) under ``plots/inputs/`` and the correlation matrices per class
(metrics.json ``inputs``); the output kind's ROC, scores and
confusion matrix, the confusion matrix at ``working_point``, the train-vs-test score
distributions with Kolmogorov–Smirnov p-values (overtraining check), accuracy and AUC
against the epoch, and ``predictions.parquet`` (sample, entry, label, weight, score).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from smartml.data.chunks import Chunk, describe_split, split_chunks
from smartml.data.scaling import TargetScaling
from smartml.errors import DataError, RunDirectoryError
from smartml.files import expand_patterns, write_json_atomic
from smartml.ntuples.feature_selection import FeatureSelection
from smartml.ntuples.root_reader import NtupleReader
from smartml.ntuples.tabular_source import FEATURES, Sample, TabularSource
from smartml.outputs.logits import Logits
from smartml.tasks.base import SPLITS, Evaluation, Examples
from smartml.tasks.ntuple_classifier.schema import (
    CLASS_NAMES,
    NtupleClassifierDataConfig,
    SampleConfig,
)
from smartml.tasks.ntuple_classifier.weights import WeightSummary, sample_weights, weighted_auc
from smartml.tasks.tabular import SCALING_FORMAT_VERSION, TabularTask

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from smartml.backend import keras, tf

log = logging.getLogger("smartml.ntuple_classifier")

SCALING = "feature_scaling.json"
PREDICTIONS = "predictions.parquet"
SIGNAL = CLASS_NAMES.index("signal")
# Training events the standardisation is fitted on, and the events per split that the
# feature plots and the overtraining check show.
FIT_EVENTS = 200_000
PLOT_EVENTS = 50_000


class WeightedEventLogits(Logits):
    """Signal/background logits; Keras also reports the accuracy (logit > 0)."""

    def keras_metrics(self) -> list:
        from smartml.backend import keras

        return [
            *super().keras_metrics(),
            keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0),
        ]


class NtupleClassifierTask(TabularTask[NtupleClassifierDataConfig]):
    """``features (k,)`` standardised -> one signal logit."""

    data_config = NtupleClassifierDataConfig

    run_files = (SCALING,)
    products = (PREDICTIONS,)

    @property
    def output(self) -> Logits:
        return WeightedEventLogits(CLASS_NAMES, positive="signal")

    # -- data ----------------------------------------------------------------------

    def open_source(self) -> TabularSource:
        return TabularSource(self._samples(), self.data.entries_per_chunk)

    def _samples(self) -> list[Sample]:
        data, selection = self.data, self.feature_selection()
        self.weight_summaries: dict[str, WeightSummary] = {}
        if data.source == "simulation":
            from smartml.collider.event_generator import TREE_NAME, cached_ntuple

            simulation = data.simulation
            signal = cached_ntuple(simulation.generation, simulation.n_signal, "drell_yan")
            background = cached_ntuple(
                simulation.generation, simulation.n_background, "ttbar_dilepton"
            )
            return [
                Sample("drell_yan", NtupleReader([signal], TREE_NAME, selection, False), SIGNAL),
                Sample(
                    "ttbar", NtupleReader([background], TREE_NAME, selection, False), 1 - SIGNAL
                ),
            ]
        return [self._file_sample(sample, selection) for sample in data.samples]

    def _file_sample(self, sample: SampleConfig, selection: FeatureSelection) -> Sample:
        """One sample of ``source: files``: its chain read through its aliases, the
        weight of every entry computed (and recorded) before any training."""
        key = f"data.samples[{sample.name}]"
        reader = NtupleReader(
            expand_patterns(sample.files, f"{key}.files"),
            sample.tree,
            selection,
            False,
            sample.aliases,
            f"{key}.aliases",
        )
        weights, weight, summary = sample_weights(
            reader, sample.weight, self.data.negative_weights, f"{key}.weight"
        )
        self.weight_summaries[sample.name] = summary
        if summary.negative_entries:
            log.info(
                "%s: %d entries of negative weight (sum %g): %s",
                key,
                summary.negative_entries,
                summary.negative_sum,
                self.data.negative_weights,
            )
        return Sample(sample.name, reader, CLASS_NAMES.index(sample.label), weight, weights=weights)

    def prepare(self, fit: bool) -> None:
        source = self.source
        self.splits = self._split(source)
        log.info("data: %s", describe_split(self.splits, "event"))
        if fit:
            self._fit(source)
        self._read_scaling()

    def _split(self, source: TabularSource) -> dict[str, list[Chunk]]:
        """Every sample split on its own, then all chunks of a split shuffled together."""
        data = self.data
        splits: dict[str, list[Chunk]] = {name: [] for name in SPLITS}
        for index, sample in enumerate(source.samples):
            chunks = [chunk for chunk in source.chunks if chunk.index[0] == index]  # type: ignore[index]
            where = f"sample {sample.name!r} ({sample.reader.where()})"
            parts = split_chunks(
                chunks, data.split.fractions(), data.split.seed, None, where, "event"
            )
            for split, part in parts.items():
                splits[split] += part
        rng = np.random.default_rng(data.split.seed)
        return {
            name: [chunks[i] for i in rng.permutation(len(chunks))]
            for name, chunks in splits.items()
        }

    def _fit(self, source: TabularSource) -> None:
        """Standardisation of the features and the class weights, from the training split."""
        rows = self.rows("train", FIT_EVENTS)
        scaling = TargetScaling.fit_batches((part.features for part in rows), source.feature_names)
        content = {
            "version": SCALING_FORMAT_VERSION,
            "features": scaling.to_dict(),
            "class_weights": self._class_weights(source),
            "samples": {name: s.to_dict() for name, s in self.weight_summaries.items()},
        }
        write_json_atomic(self.run_file(SCALING), content, RunDirectoryError)

    def _class_weights(self, source: TabularSource) -> list[float]:
        """Per-class factors on the samples' weights: 1, or (balanced) so that both
        classes carry half the training weight of the entries (their final weights:
        normalised, negative ones as the policy leaves them)."""
        totals = np.zeros(len(CLASS_NAMES))
        for chunk in self.splits["train"]:
            index, start = chunk.index  # type: ignore[misc]
            sample = source.samples[index]
            if sample.weights is None:
                totals[sample.label] += chunk.n_rows * sample.weight
            else:
                first = start + chunk.offset
                totals[sample.label] += np.nansum(sample.weights[first : first + chunk.n_rows])
        if self.data.class_weighting == "none":
            return [1.0] * len(CLASS_NAMES)
        if np.any(totals <= 0):
            label = CLASS_NAMES[int(np.argmin(totals))]
            raise DataError(
                f"the training split's {label} events have a total weight of "
                f"{totals.min():g}; class_weighting 'balanced' needs a positive one"
            )
        return (totals.sum() / (len(CLASS_NAMES) * totals)).tolist()

    def _read_scaling(self) -> None:
        path = self.run_file(SCALING)
        content = self.read_scaling(path, "feature scaling", ("features",))
        self.scaling = TargetScaling.from_dict(content["features"], f"{path}: features")
        weights = content.get("class_weights")
        if not (
            isinstance(weights, list)
            and len(weights) == len(CLASS_NAMES)
            and all(isinstance(w, (int, float)) and np.isfinite(w) and w > 0 for w in weights)
        ):
            raise RunDirectoryError(
                f"{path}: key 'class_weights' must be {len(CLASS_NAMES)} positive numbers"
            )
        self.class_weights = np.asarray(weights, np.float32)

    def _transform(self, inputs: dict, targets: np.ndarray) -> tuple[dict, np.ndarray]:
        inputs[FEATURES] = self.scaling.transform(inputs[FEATURES])
        targets[:, 1] *= self.class_weights[targets[:, 0].astype(np.int64)]
        return inputs, targets

    def datasets(self) -> tuple[tf.data.Dataset, tf.data.Dataset]:
        train, validation = self.streamed_datasets(
            lambda split: self.source, self.splits.__getitem__, self._transform
        )

        def weighted(inputs: dict, targets: tf.Tensor) -> tuple:
            return inputs, targets[:, :1], targets[:, 1]

        return train.map(weighted), validation.map(weighted)

    def examples(self, split: str, max_n: int | None = None) -> Examples:
        parts = self.rows(split, max_n)
        features = np.concatenate([part.features for part in parts])
        targets = np.concatenate([part.targets for part in parts])
        names = [self.source.samples[part.sample].name for part in parts]
        aux = pd.DataFrame(
            {
                "sample": np.repeat(names, [len(part.entries) for part in parts]),
                "entry": np.concatenate([part.entries for part in parts]),
                "weight": targets[:, 1].astype(np.float64),
            }
        )
        labels = targets[:, 0].astype(np.int64)
        return Examples({FEATURES: self.scaling.transform(features)}, labels, aux)

    # -- figures and metrics ---------------------------------------------------------

    def _input_validation(self) -> tuple[dict, dict[str, Figure]]:
        """Each feature, signal vs background, train vs test (figures ``inputs/<name>``),
        and the correlation matrix of each class (the numbers)."""
        from smartml.tasks.ntuple_classifier.feature_validation import feature_validation

        train, test = self._raw("train"), self._raw("test")
        numbers, figures = feature_validation(
            train[0],
            train[1],
            test[0],
            test[1],
            self.source.feature_names,
            CLASS_NAMES,
            run_name=self.config.name,
        )
        return numbers, {f"inputs/{name}": figure for name, figure in figures.items()}

    def _raw(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        parts = self.rows(split, PLOT_EVENTS)
        features = np.concatenate([part.features for part in parts])
        labels = np.concatenate([part.targets[:, 0] for part in parts]).astype(np.int64)
        return features, labels

    def evaluate(self, model: keras.Model, figures: bool = True) -> Evaluation:
        """The template's evaluation, plus the overtraining check on a training sample and
        the validation of the input features (``inputs``: correlations per class)."""
        metrics, drawn, tables = super().evaluate(model, figures)
        from smartml.tasks.ntuple_classifier.score_overtraining import overtraining_check

        train = self.examples("train", PLOT_EVENTS)
        test = self.examples("test", PLOT_EVENTS)
        numbers, figure = overtraining_check(
            train.targets,
            self.predict(model, train),
            test.targets,
            self.predict(model, test),
            CLASS_NAMES,
            "signal",
            self.config.name,
        )
        metrics["overtraining"] = numbers
        metrics["inputs"], input_figures = self._input_validation()
        if figures:
            drawn["overtraining"] = figure
            drawn.update(input_figures)
            drawn.update(_training_curves(self.run_dir.history, self.config.name))
        return Evaluation(metrics, drawn, tables)

    def task_metrics(self, examples: Examples, prediction: np.ndarray) -> dict:
        """The confusion matrix at the working point, in events and weighted by the
        events' weights, the weighted ROC area.

        The output kind's ROC and efficiencies count events; with samples of
        different weights (cross section × luminosity / events) an analysis wants
        them weighted: ``weighted.auc`` and ``weighted.confusion`` are, with the
        weights as ``data.negative_weights`` leaves them (signed ones summed as
        they are: :func:`~.weights.weighted_auc`). ``weights`` records each sample's
        weight pass (Σw, normalisation, negative entries)."""
        from smartml.metrics.classification import confusion_matrix, predicted_classes

        threshold = self.data.working_point
        chosen = predicted_classes(prediction, CLASS_NAMES, "signal", threshold)
        counts = confusion_matrix(examples.targets, chosen, CLASS_NAMES)
        weights = examples.aux["weight"].to_numpy()
        weighted = np.zeros((len(CLASS_NAMES), len(CLASS_NAMES)))
        np.add.at(weighted, (examples.targets, chosen), weights)
        auc = weighted_auc(examples.targets, prediction[:, SIGNAL], weights)
        return {
            "working_point": {"threshold": threshold, "confusion": counts.tolist()},
            # None: a class's total weight is not positive (no area to speak of)
            "weighted": {"auc": auc if np.isfinite(auc) else None, "confusion": weighted.tolist()},
            "weights": {name: s.to_dict() for name, s in self.weight_summaries.items()},
        }

    def test_tables(self, examples: Examples, prediction: np.ndarray) -> dict[str, pd.DataFrame]:
        """``predictions.parquet``: sample, entry, weight, label and signal score of
        every test event."""
        table = examples.aux.assign(label=examples.targets, score=prediction[:, SIGNAL])
        return {PREDICTIONS: table}

    def task_figures(self, examples: Examples, prediction: np.ndarray) -> dict[str, Figure]:
        from smartml.metrics.classification import (
            confusion_figure,
            confusion_matrix,
            predicted_classes,
        )

        chosen = predicted_classes(prediction, CLASS_NAMES, "signal", self.data.working_point)
        counts = confusion_matrix(examples.targets, chosen, CLASS_NAMES)
        return {"confusion_working_point": confusion_figure(counts, CLASS_NAMES, self.config.name)}


def _training_curves(history: Path, run_name: str) -> dict[str, Figure]:
    """Accuracy and AUC of training and validation against the epoch."""
    from smartml.metrics.figures import new_axes, title

    if not history.is_file():
        return {}
    table = pd.read_csv(history)
    figures: dict[str, Any] = {}
    for metric in ("accuracy", "auc"):
        if metric not in table or f"val_{metric}" not in table:
            continue
        figure, axes = new_axes()
        epochs = np.arange(1, len(table) + 1)
        axes.plot(epochs, table[metric], label="training")
        axes.plot(epochs, table[f"val_{metric}"], label="validation")
        axes.set_xlabel("epoch")
        axes.set_ylabel(metric if metric == "accuracy" else "ROC AUC")
        axes.set_title(title(f"{metric} per epoch", run_name))
        axes.legend()
        figures[f"{metric}_per_epoch"] = figure
    return figures
