"""The interface of an output kind (see :mod:`smartml.outputs`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from smartml.errors import DataError
from smartml.tasks.base import ValidationMetric

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from smartml.backend import keras
    from smartml.evaluation.summary import SummaryMetric


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

    def keras_metrics(self) -> list:
        """Metrics compiled into the model (logged per epoch, for training and validation)."""
        return []

    def validation_metric(self) -> ValidationMetric:
        return ValidationMetric("val_loss", "lower")

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
