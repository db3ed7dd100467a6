"""Figures of a Gaussian (MDN) regression.

:func:`gaussian_figures` draws, for each target (file-safe name ``<t>``),

- ``residual_<t>``: residual histogram (baseline overlaid when given), with the
  robust width (half the central 68.27% interval) of each in the legend;
- ``pull_<t>``: pull histogram against the unit Gaussian;
- ``profile_<t>``: bias and robust width of the residual in bins of the true value;
- ``sigma_<t>``: distribution of the predicted σ, with the observed robust width
  of the residuals marked;

and ``mahalanobis_d2``, the d² = rᵀ C⁻¹ r histogram against the χ²(k) pdf.
Conventions are those of :mod:`smartml.metrics.gaussian`;
:func:`smartml.metrics.figures.save_figures` writes the figures as PNG files.
"""

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from smartml.metrics.checks import EvaluationError, check_names
from smartml.metrics.figures import (
    axis_label,
    central_range,
    filename_safe,
    legend_above_data,
    new_axes,
    step_histogram,
    title,
    with_unit,
)
from smartml.metrics.gaussian import (
    check_predictions,
    covariance_calibration,
    mahalanobis_squared,
)
from smartml.metrics.point_regression import (
    MODEL_LABEL,
    WIDTH_LABEL,
    display_labels,
    profile_or_none,
    residual_histogram_figure,
    resolution_figure,
    robust_width,
)

PULL_RANGE = (-5.0, 5.0)


def gaussian_figures(
    y_true: np.ndarray,
    mean: np.ndarray,
    cov: np.ndarray,
    names: Sequence[str],
    units: Sequence[str],
    baseline: Mapping[str, np.ndarray] | None = None,
    baseline_label: str = "baseline",
    run_name: str | None = None,
    labels: Sequence[str] | None = None,
) -> dict[str, Figure]:
    """The residual, pull, profile, σ and d² figures of a Gaussian regression.

    Args:
        y_true: (n, k) true values, physical units.
        mean: (n, k) predicted means.
        cov: (n, k, k) predicted covariances.
        names: the k target names, e.g. ``TARGETS`` (file names, baseline keys).
        units: the k units, e.g. ``TARGET_UNITS`` ("" for dimensionless).
        baseline: optional map from a target name to (n,) baseline predictions of
            that target on the same examples (e.g. the charge centroid for the
            positions); NaN entries (no prediction) are skipped.
        baseline_label: legend label of the baseline.
        run_name: shown in the titles.
        labels: the k targets in titles and on axes, e.g. ``TARGET_LABELS``
            (default: ``names``).

    Returns:
        ``{name: Figure}``: four per target (``<kind>_<file-safe name>``), then
        ``mahalanobis_d2``.

    Raises:
        EvaluationError: invalid predictions (see ``check_predictions``), names or
            baseline, named in the message.
    """
    y_true, mean, cov = check_predictions(y_true, mean, cov)
    check_names(names, units, y_true.shape[1])
    labels = display_labels(names, labels)
    baseline = _checked_baseline(baseline, names, y_true.shape[0])
    stems = filename_safe(names)
    sigmas = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    figures = {}
    for i, (name, label, unit, stem) in enumerate(zip(names, labels, units, stems, strict=True)):
        residual = mean[:, i] - y_true[:, i]
        residuals = {MODEL_LABEL: residual}
        if name in baseline:
            residuals[baseline_label] = baseline[name] - y_true[:, i]
        figures[f"residual_{stem}"] = residual_histogram_figure(residuals, label, unit, run_name)
        figures[f"pull_{stem}"] = pull_figure(residual / sigmas[:, i], label, run_name)
        profiles = {
            predictor: profile_or_none(y_true[:, i], values)
            for predictor, values in residuals.items()
        }
        figures[f"profile_{stem}"] = resolution_figure(
            {predictor: p for predictor, p in profiles.items() if p is not None},
            label,
            unit,
            f"true {label}",
            unit,
            run_name,
        )
        figures[f"sigma_{stem}"] = sigma_figure(sigmas[:, i], residual, label, unit, run_name)
    figures["mahalanobis_d2"] = d2_figure(y_true, mean, cov, run_name)
    return figures


def pull_figure(pull: np.ndarray, name: str, run_name: str | None = None) -> Figure:
    """Density of the pulls of one target against the unit Gaussian."""
    figure, axes = new_axes()
    step_histogram(
        axes,
        pull,
        PULL_RANGE,
        label=f"{MODEL_LABEL}: mean {np.mean(pull):.3f}, {WIDTH_LABEL} {robust_width(pull):.3f}, "
        f"std {np.std(pull):.3f}",
        density=True,
    )
    grid = np.linspace(*PULL_RANGE, 400)
    axes.plot(grid, stats.norm.pdf(grid), linestyle="--", label="unit Gaussian")
    outside = float(np.mean((pull < PULL_RANGE[0]) | (pull > PULL_RANGE[1])))
    axes.set(
        xlabel=f"{name} pull (residual / predicted σ)",
        ylabel="density",
        title=title(f"pull of {name} ({outside:.2%} outside the axis)", run_name),
    )
    legend_above_data(axes)
    return figure


def sigma_figure(
    sigma: np.ndarray, residual: np.ndarray, name: str, unit: str, run_name: str | None = None
) -> Figure:
    """Distribution of the predicted σ of one target, the observed width marked."""
    figure, axes = new_axes()
    step_histogram(
        axes,
        sigma,
        (0.0, central_range(sigma)[1]),
        label=f"predicted σ: mean {with_unit(float(np.mean(sigma)), unit)}",
    )
    observed = robust_width(residual)
    axes.axvline(
        observed,
        color="black",
        linestyle="--",
        label=f"observed residual {WIDTH_LABEL} {with_unit(observed, unit)}",
    )
    axes.set(
        xlabel=axis_label(f"predicted σ of {name}", unit),
        ylabel="examples",
        title=title(f"predicted uncertainty of {name}", run_name),
    )
    legend_above_data(axes)
    return figure


def d2_figure(
    y_true: np.ndarray, mean: np.ndarray, cov: np.ndarray, run_name: str | None = None
) -> Figure:
    """Density of d² = rᵀ C⁻¹ r against the χ²(k) pdf."""
    d2 = mahalanobis_squared(y_true, mean, cov)
    calibration = covariance_calibration(y_true, mean, cov)
    k = calibration["k"]
    upper = float(stats.chi2.ppf(0.999, k))
    figure, axes = new_axes()
    step_histogram(
        axes,
        d2,
        (0.0, upper),
        label=f"{MODEL_LABEL}: mean {calibration['d2_mean']:.2f}, "
        f"below χ² 68%/95% quantiles {calibration['d2_fraction_below_chi2_68']:.3f}"
        f"/{calibration['d2_fraction_below_chi2_95']:.3f}",
        density=True,
    )
    grid = np.linspace(0.0, upper, 400)[1:]  # the χ²(1) pdf diverges at 0
    axes.plot(
        grid, stats.chi2.pdf(grid, k), linestyle="--", label=f"χ²({k}): mean {k}, 0.683/0.950"
    )
    axes.set(
        xlabel="d² = rᵀ C⁻¹ r (squared Mahalanobis distance)",
        ylabel="density",
        title=title(f"covariance calibration of {k} targets", run_name),
    )
    legend_above_data(axes)
    return figure


def _checked_baseline(
    baseline: Mapping[str, np.ndarray] | None, names: Sequence[str], n: int
) -> dict[str, np.ndarray]:
    if baseline is None:
        return {}
    checked = {}
    for name, values in baseline.items():
        if name not in names:
            raise EvaluationError(
                f"baseline has target {name!r}, which is not one of {list(names)}"
            )
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (n,):
            raise EvaluationError(f"baseline[{name!r}] must have shape ({n},), got {values.shape}")
        checked[name] = values
    return checked
