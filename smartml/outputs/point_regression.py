"""k predicted values per example, trained by the mean squared error."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from smartml.outputs.base import RegressionKind, TargetScaling, json_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from smartml.backend import keras
    from smartml.metrics.summary import SummaryMetric


class PointRegression(RegressionKind):
    """One value per target, judged by bias, RMS, robust width and relative error
    (:mod:`smartml.metrics.point_regression`), overall and per bin of the
    :attr:`bin_variables`.

    Args:
        targets: the k target names; ``units``: theirs ("" when dimensionless);
        labels: their names in tables and figures (default: the target names).

    >>> kind = PointRegression(["log10_weight"], [""])
    >>> kind.n_outputs, kind.decode(np.array([[0.5]])).tolist()
    (1, [[0.5]])
    """

    def __init__(
        self,
        targets: Sequence[str],
        units: Sequence[str],
        labels: Sequence[str] | None = None,
        bin_variables: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(targets, units, labels, bin_variables)

    @property
    def n_outputs(self) -> int:
        return len(self.targets)

    def loss(self) -> keras.losses.Loss:
        from smartml.backend import keras

        return keras.losses.MeanSquaredError()

    def distillation_loss(self) -> Callable[[Any, Any], Any]:
        """Mean squared difference of the student's values from the teacher's."""
        from smartml.backend import keras

        return keras.losses.mean_squared_error

    def decode(self, raw: np.ndarray, scaling: TargetScaling | None = None) -> np.ndarray:
        values = np.asarray(raw, dtype=np.float64).reshape(len(raw), self.n_outputs)
        return values if scaling is None else scaling.inverse_targets(values)

    def metrics(self, targets: np.ndarray, prediction: np.ndarray, aux: pd.DataFrame) -> dict:
        from smartml.metrics.point_regression import binned_residuals, point_metrics

        truth = np.asarray(targets, dtype=np.float64).reshape(len(targets), self.n_outputs)
        metrics = point_metrics(truth, prediction, self.targets, self.units)
        for variable, (values, _unit) in self.binned_variables(aux).items():
            for axis, name in enumerate(self.targets):
                residual = prediction[:, axis] - truth[:, axis]
                table = binned_residuals(values, residual)
                metrics[name][f"vs_{variable}"] = json_table(table)
        return metrics

    def figures(
        self,
        targets: np.ndarray,
        prediction: np.ndarray,
        aux: pd.DataFrame,
        run_name: str | None = None,
    ) -> dict[str, Figure]:
        from smartml.metrics.point_regression import point_regression_figures

        truth = np.asarray(targets, dtype=np.float64).reshape(len(targets), self.n_outputs)
        variables = self.binned_variables(aux) or None
        return point_regression_figures(
            truth, prediction, self.targets, self.units, variables, run_name, self.labels
        )

    def summary_metrics(self) -> list[SummaryMetric]:
        return self.resolution_summary(("bias", "bias", "zero"))
