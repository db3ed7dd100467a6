"""A k-dimensional Gaussian prediction: mean and full covariance (an MDN with one component)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from smartml.errors import DataError
from smartml.outputs.base import RegressionKind, TargetScaling

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from smartml.backend import keras
    from smartml.metrics.summary import SummaryMetric

DEFAULT_MIN_SIGMA = 1e-3


@dataclass
class GaussianPrediction:
    """Means ``(n, k)`` and covariances ``(n, k, k)``, physical units."""

    mean: np.ndarray
    covariance: np.ndarray


class GaussianMDN(RegressionKind):
    """Mean and Cholesky factor of a k-dimensional Gaussian, trained by its negative
    log-likelihood (:class:`smartml.losses.MultivariateGaussianNLL`, whose docstring
    gives the output order).

    Args:
        targets: the k target names (``"all"`` is reserved for the joint calibration).
        units: their units ("" when dimensionless).
        labels: their names in tables and figures (default: the target names).
        baselines: a classic estimate to show beside the network: target name ->
            auxiliary column holding its prediction (NaN where it has none).
        baseline_label: the estimate's name in legends.
        min_sigma: floor added to the Cholesky diagonal (the loss's).

    >>> kind = GaussianMDN(["x", "y"], ["µm", "µm"])
    >>> kind.n_outputs
    5
    >>> kind.decode(np.array([[1.0, 0.0, 2.0, 0.0, 0.0]])).mean.tolist()
    [[1.0, 2.0]]
    """

    def __init__(
        self,
        targets: Sequence[str],
        units: Sequence[str],
        labels: Sequence[str] | None = None,
        baselines: Mapping[str, str] | None = None,
        baseline_label: str = "baseline",
        min_sigma: float = DEFAULT_MIN_SIGMA,
        bin_variables: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(targets, units, labels, bin_variables)
        self.baselines = dict(baselines or {})
        self.baseline_label = baseline_label
        self.min_sigma = min_sigma

    @property
    def n_outputs(self) -> int:
        from smartml.losses.gaussian_nll import n_mdn_outputs

        return n_mdn_outputs(len(self.targets))

    def loss(self) -> keras.losses.Loss:
        from smartml.losses import MultivariateGaussianNLL

        return MultivariateGaussianNLL(n_targets=len(self.targets), min_sigma=self.min_sigma)

    def distillation_loss(self) -> Callable[[Any, Any], Any]:
        """The student's NLL expected under the teacher's Gaussian (its means and
        covariances both): :meth:`MultivariateGaussianNLL.expected_under`."""
        return self.loss().expected_under

    def decode(self, raw: np.ndarray, scaling: TargetScaling | None = None) -> GaussianPrediction:
        from smartml.losses.gaussian_nll import gaussian_from_outputs

        mean, covariance = gaussian_from_outputs(raw, len(self.targets), self.min_sigma)
        if scaling is not None:
            mean = scaling.inverse_targets(mean)
            covariance = scaling.inverse_covariance(covariance)
        return GaussianPrediction(mean, covariance)

    def metrics(
        self, targets: np.ndarray, prediction: GaussianPrediction, aux: pd.DataFrame
    ) -> dict:
        from smartml.metrics.gaussian import target_metrics

        return target_metrics(
            targets, prediction.mean, prediction.covariance, self.targets, self.units
        )

    def figures(
        self,
        targets: np.ndarray,
        prediction: GaussianPrediction,
        aux: pd.DataFrame,
        run_name: str | None = None,
    ) -> dict[str, Figure]:
        from smartml.metrics.gaussian_plots import gaussian_figures

        return gaussian_figures(
            targets,
            prediction.mean,
            prediction.covariance,
            self.targets,
            self.units,
            baseline=self.baseline_predictions(aux),
            baseline_label=self.baseline_label,
            run_name=run_name,
            labels=self.labels,
        )

    def baseline_predictions(self, aux: pd.DataFrame) -> dict[str, np.ndarray]:
        """Target name -> the baseline's predictions, from the auxiliary columns."""
        missing = [column for column in self.baselines.values() if column not in aux]
        if missing:
            raise DataError(f"examples lack the baseline columns {missing}")
        return {target: aux[column].to_numpy() for target, column in self.baselines.items()}

    def summary_metrics(self) -> list[SummaryMetric]:
        return self.resolution_summary(("pull_std", "pull std", "one"))
