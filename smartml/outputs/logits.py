"""Class scores: one logit for two classes, one per class otherwise."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from smartml.metrics.summary import ValidationMetric
from smartml.outputs.base import OutputKind, TargetScaling, json_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from smartml.backend import keras
    from smartml.metrics.summary import SummaryMetric

DEFAULT_EFFICIENCIES = (0.9,)
BINS_PER_VARIABLE = 8


class Logits(OutputKind):
    """Class logits, trained by cross-entropy and judged as a selection of the
    ``positive`` class (:mod:`smartml.metrics.classification`): ROC and AUC,
    operating points at target signal efficiencies (threshold, background efficiency
    per class), confusion matrix, and efficiencies with Clopper–Pearson intervals per
    bin of the :attr:`bin_variables`.

    Two classes have one output (the logit of the second class, sigmoid), more have
    one per class (softmax). Targets are integer labels ``0 … C−1``.

    Args:
        classes: the class names, in label order.
        positive: the class selected (its efficiency is the signal efficiency);
            default: the last class.
        signal_efficiencies: the operating points reported.

    >>> kind = Logits(["muon", "pion"])
    >>> kind.n_outputs, kind.decode(np.array([[0.0]])).tolist()
    (1, [[0.5, 0.5]])
    >>> kind.training_targets(np.array([0, 1])).tolist()
    [[0.0], [1.0]]
    >>> kind.decode(np.array([[-2000.0], [2000.0]])).tolist()  # saturated, no overflow
    [[1.0, 0.0], [0.0, 1.0]]
    """

    def __init__(
        self,
        classes: Sequence[str],
        positive: str | None = None,
        signal_efficiencies: Sequence[float] = DEFAULT_EFFICIENCIES,
        bin_variables: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(bin_variables)
        if len(classes) < 2 or len(set(classes)) != len(classes):
            raise ValueError(f"classes must be two or more distinct names, got {list(classes)}")
        self.classes = list(classes)
        self.positive = positive if positive is not None else self.classes[-1]
        if self.positive not in self.classes:
            raise ValueError(f"positive class {self.positive!r} is not among {self.classes}")
        self.signal_efficiencies = list(signal_efficiencies)

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    @property
    def n_outputs(self) -> int:
        return 1 if self.binary else len(self.classes)

    def loss(self) -> keras.losses.Loss:
        from smartml.backend import keras

        if self.binary:
            return keras.losses.BinaryCrossentropy(from_logits=True)
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def distillation_loss(self) -> Callable[[Any, Any], Any]:
        """Cross-entropy of the student's logits against the teacher's probabilities
        (soft labels)."""
        from smartml.backend import keras, tf

        def soft_label_cross_entropy(teacher, student):
            if self.binary:
                soft = tf.sigmoid(teacher)
                return keras.losses.binary_crossentropy(soft, student, from_logits=True)
            soft = tf.nn.softmax(teacher)
            return keras.losses.categorical_crossentropy(soft, student, from_logits=True)

        return soft_label_cross_entropy

    def keras_metrics(self) -> list:
        from smartml.backend import keras

        if self.binary:
            return [keras.metrics.AUC(from_logits=True, name="auc")]
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def validation_metric(self) -> ValidationMetric:
        if self.binary:
            return ValidationMetric("val_auc", "higher")
        return ValidationMetric("val_accuracy", "higher")

    def training_targets(self, labels: np.ndarray) -> np.ndarray:
        """Labels as the loss takes them: (n, 1) floats for two classes, (n,) ints else."""
        labels = np.asarray(labels)
        if self.binary:
            return labels.reshape(-1, 1).astype(np.float32)
        return labels.astype(np.int32)

    def decode(self, raw: np.ndarray, scaling: TargetScaling | None = None) -> np.ndarray:
        """Class probabilities ``(n, C)``."""
        from scipy.special import expit, softmax  # no overflow for large logits

        logits = np.asarray(raw, dtype=np.float64).reshape(len(raw), self.n_outputs)
        if self.binary:
            second = expit(logits[:, 0])
            return np.stack([1.0 - second, second], axis=1)
        return softmax(logits, axis=1)

    def metrics(self, targets: np.ndarray, prediction: np.ndarray, aux: pd.DataFrame) -> dict:
        from smartml.metrics import binning, classification

        labels = np.asarray(targets).reshape(-1)
        metrics = classification.classification_metrics(
            labels, prediction, self.classes, self.positive, self.signal_efficiencies
        )
        for variable, (values, _unit) in self.binned_variables(aux).items():
            edges = binning.equal_population_edges(values, BINS_PER_VARIABLE, variable)
            for efficiency in self.signal_efficiencies:
                frame = classification.operating_points_per_bin(
                    values, labels, prediction, self.classes, self.positive, edges, efficiency
                )
                point = metrics["operating_points"][_point_name(efficiency)]
                point[f"per_{variable}_bin"] = json_table(frame)
        return metrics

    def figures(
        self,
        targets: np.ndarray,
        prediction: np.ndarray,
        aux: pd.DataFrame,
        run_name: str | None = None,
    ) -> dict[str, Figure]:
        from smartml.metrics import binning, classification

        variables = {
            name: (values, binning.equal_population_edges(values, BINS_PER_VARIABLE, name), unit)
            for name, (values, unit) in self.binned_variables(aux).items()
        }
        return classification.classification_figures(
            np.asarray(targets).reshape(-1),
            prediction,
            self.classes,
            self.positive,
            self.signal_efficiencies[0],
            variables,
            run_name,
        )

    def summary_metrics(self) -> list[SummaryMetric]:
        from smartml.metrics.summary import SummaryMetric

        summary = [SummaryMetric("roc.auc", "AUC", "", "higher")]
        for efficiency in self.signal_efficiencies:
            key = f"operating_points.{_point_name(efficiency)}.background_efficiency"
            label = f"mis-ID at {100 * efficiency:g}% {self.positive} eff"
            summary.append(SummaryMetric(key, label, "", "lower"))
        summary.append(SummaryMetric("accuracy", "accuracy", "", "higher"))
        return summary


def _point_name(efficiency: float) -> str:
    """The operating point's key in metrics.json, as
    :func:`smartml.metrics.classification.classification_metrics` names it.

    >>> _point_name(0.995)
    'efficiency_99p5'
    """
    from smartml.metrics.classification import point_key

    return point_key("efficiency", 100 * efficiency)
