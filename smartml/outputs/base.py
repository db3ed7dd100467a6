"""The interface of an output kind (see :mod:`smartml.outputs`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from smartml.errors import ConfigError, DataError
from smartml.metrics.summary import ValidationMetric

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from smartml.backend import keras
    from smartml.metrics.summary import Better, SummaryMetric


class TargetScaling(Protocol):
    """What a task's target standardisation offers for decoding predictions."""

    def inverse_targets(self, y: np.ndarray) -> np.ndarray: ...

    def inverse_covariance(self, covariance: np.ndarray) -> np.ndarray: ...


class OutputKind(ABC):
    """What the model's output vector means, and how such predictions are judged.

    Args:
        bin_variables: auxiliary columns (:attr:`Examples.aux`) against which the
            metrics are also given per bin, with their units (e.g.
            ``{"momentum": "GeV/c"}``).
    """

    def __init__(self, bin_variables: Mapping[str, str] | None = None) -> None:
        self.bin_variables = dict(bin_variables or {})

    @property
    @abstractmethod
    def n_outputs(self) -> int:
        """Size of the model's output vector."""

    @abstractmethod
    def loss(self) -> keras.losses.Loss:
        """The training loss (serialisable)."""

    def distillation_loss(self) -> Callable[[Any, Any], Any]:
        """The per-example loss of a student's outputs against a teacher's, for
        ``training.distillation``: ``loss(teacher_outputs, student_outputs)`` -> (batch,).

        Raises:
            ConfigError: this output kind has none.
        """
        raise ConfigError(
            f"training.distillation: the output kind {type(self).__name__} has no distillation loss"
        )

    def keras_metrics(self) -> list:
        """Metrics compiled into the model (logged per epoch, for training and validation)."""
        return []

    def validation_metric(self) -> ValidationMetric:
        return ValidationMetric("val_loss", "lower")

    def training_targets(self, targets: np.ndarray) -> np.ndarray:
        """Targets as the loss takes them in training batches (float32 by default)."""
        return np.asarray(targets, dtype=np.float32)

    @abstractmethod
    def decode(self, raw: np.ndarray, scaling: TargetScaling | None = None) -> Any:
        """Predictions in physical units from raw outputs ``(n, n_outputs)``."""

    @abstractmethod
    def metrics(self, targets: np.ndarray, prediction: Any, aux: pd.DataFrame) -> dict:
        """JSON-serialisable metrics of ``prediction`` against ``targets``."""

    @abstractmethod
    def figures(
        self, targets: np.ndarray, prediction: Any, aux: pd.DataFrame, run_name: str | None = None
    ) -> dict[str, Figure]:
        """Figures by file stem (``run_name`` goes into their titles)."""

    @abstractmethod
    def summary_metrics(self) -> list[SummaryMetric]:
        """The headline numbers of this kind (see :class:`SummaryMetric`)."""

    def binned_variables(self, aux: pd.DataFrame) -> dict[str, tuple[np.ndarray, str]]:
        """``{name: (values, unit)}`` of the :attr:`bin_variables` in ``aux``."""
        missing = [name for name in self.bin_variables if name not in aux]
        if missing:
            raise DataError(f"examples lack the auxiliary columns {missing} to bin the metrics in")
        return {name: (aux[name].to_numpy(), unit) for name, unit in self.bin_variables.items()}


class RegressionKind(OutputKind):
    """Base of the regression kinds: named targets with units and display labels.

    Args:
        targets: the k target names (keys of metrics.json).
        units: their units ("" when dimensionless).
        labels: their names in tables and figures (default: the target names).
    """

    def __init__(
        self,
        targets: Sequence[str],
        units: Sequence[str],
        labels: Sequence[str] | None = None,
        bin_variables: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(bin_variables)
        if len(targets) != len(units) or (labels is not None and len(labels) != len(targets)):
            raise ValueError(f"{len(targets)} targets need as many units and labels")
        self.targets = list(targets)
        self.units = list(units)
        self.labels = list(labels) if labels is not None else list(targets)

    def resolution_summary(self, third: tuple[str, str, Better]) -> list[SummaryMetric]:
        """Per target its robust width and RMS (lower is better) and ``third``: (key,
        label suffix, better), e.g. ``("pull_std", "pull std", "one")``."""
        from smartml.metrics.summary import SummaryMetric

        key, suffix, better = third
        summary = []
        for target, unit, label in zip(self.targets, self.units, self.labels, strict=True):
            summary += [
                SummaryMetric(f"{target}.robust_width", f"{label} width", unit, "lower"),
                SummaryMetric(f"{target}.rms", f"{label} RMS", unit, "lower"),
                SummaryMetric(
                    f"{target}.{key}", f"{label} {suffix}", unit if better == "zero" else "", better
                ),
            ]
        return summary


def json_table(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """A per-bin frame as JSON-safe column lists (NaN -> None), for metrics.json.

    >>> json_table(pd.DataFrame({"count": [3, 0], "width": [0.5, float("nan")]}))
    {'count': [3, 0], 'width': [0.5, None]}
    """
    cleaned = frame.astype(object).where(pd.notna(frame), None)
    return {str(column): cleaned[column].tolist() for column in cleaned.columns}
