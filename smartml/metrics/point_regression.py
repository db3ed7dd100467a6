"""Resolution of a point regression: one predicted value per target and example.

Inputs, in physical units: ``y_true`` and ``y_pred``, both (n, k). Conventions,
shared by :mod:`smartml.metrics.gaussian`:

- residual = prediction − truth (a positive bias means the model overshoots);
- the *robust width* of a sample is half the width of its central 68.27% interval,
  (q84.135 − q15.865) / 2: σ for a Gaussian and, unlike the RMS, hardly moved by a
  few badly mis-measured examples;
- relative error = (prediction − truth) / truth and ratio = prediction / truth, on
  the examples whose truth is not zero;
- standard deviations use ``ddof=0``, so ``rms² = bias² + std²`` exactly.

>>> y_true = np.array([[1.0], [2.0], [4.0], [8.0]])
>>> y_pred = y_true * np.array([[1.5], [0.5], [1.5], [0.5]])
>>> metrics = point_metrics(y_true, y_pred, names=["w"], units=[""])
>>> metrics["w"]["bias"], metrics["w"]["relative_error_mean"]
(-0.625, 0.0)

Figures (each a :class:`~matplotlib.figure.Figure`; :func:`point_regression_figures`
makes them all): residual histogram, ratio histogram, prediction against truth,
resolution against a variable.
"""

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from scipy import stats

from smartml.metrics import binning
from smartml.metrics.checks import (
    EvaluationError,
    check_names,
    finite_vector,
    require_finite,
    same_shape,
)
from smartml.metrics.figures import (
    HISTOGRAM_BINS,
    axis_label,
    central_range,
    filename_safe,
    legend_above_data,
    new_axes,
    step_histogram,
    title,
    with_unit,
)

# Central 68.27% interval of a unit Gaussian: the ±1σ quantiles.
ONE_SIGMA_LOW_QUANTILE = float(stats.norm.cdf(-1.0))  # 0.15866
ONE_SIGMA_HIGH_QUANTILE = float(stats.norm.cdf(1.0))  # 0.84134
ONE_SIGMA_COVERAGE = ONE_SIGMA_HIGH_QUANTILE - ONE_SIGMA_LOW_QUANTILE  # 0.68269
RESOLUTION_COLUMNS = ("bias", "rms", "std", "robust_width")
MIN_BIN_COUNT = 10
DEFAULT_BINS = 10
PROFILE_BINS = 20
MODEL_LABEL = "model"
# The robust width in legends and on axes, in words.
WIDTH_LABEL = "68% width"


def robust_width(values: np.ndarray) -> float:
    """Half the width of the central 68.27% interval of ``values``.

    Args:
        values: 1-D sample, finite, not empty.

    Returns:
        (q84.135 − q15.865) / 2: σ for a Gaussian sample.

    >>> robust_width(np.array([-1.0, 0.0, 1.0]))
    0.6826894921370859
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise EvaluationError("values is empty; robust_width needs at least one value")
    low, high = np.quantile(values, [ONE_SIGMA_LOW_QUANTILE, ONE_SIGMA_HIGH_QUANTILE])
    return float((high - low) / 2.0)


def residual_statistics(residual: np.ndarray) -> dict:
    """Bias, RMS, standard deviation, robust width and mean absolute value.

    Args:
        residual: (n,) prediction − truth, not empty.

    Returns:
        JSON-safe ``{"bias", "rms", "std", "robust_width", "mae"}``.

    >>> residual_statistics(np.array([1.0, 3.0]))["rms"]
    2.23606797749979
    """
    return {
        "bias": float(np.mean(residual)),
        "rms": float(np.sqrt(np.mean(residual**2))),
        "std": float(np.std(residual)),
        "robust_width": robust_width(residual),
        "mae": float(np.mean(np.abs(residual))),
    }


def relative_errors(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """(prediction − truth) / truth of the examples whose truth is not zero.

    >>> relative_errors(np.array([0.0, 2.0]), np.array([1.0, 3.0]))
    array([0.5])
    """
    nonzero = truth != 0
    return (prediction[nonzero] - truth[nonzero]) / truth[nonzero]


def check_point_predictions(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, y_pred)`` as finite (n, k) float64 arrays of the same shape.

    Raises:
        EvaluationError: a wrong shape or a NaN/inf value, naming the argument.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape[0] == 0 or y_true.shape[1] == 0:
        raise EvaluationError(f"y_true must have shape (n, k) with n, k >= 1, got {y_true.shape}")
    require_finite("y_true", y_true)
    return y_true, same_shape("y_pred", y_pred, "y_true", y_true)


def point_metrics(y_true, y_pred, names: Sequence[str], units: Sequence[str]) -> dict:
    """Resolution of every target.

    Args:
        y_true, y_pred: (n, k) truth and prediction, physical units.
        names: the k target names.
        units: the k units ("" for dimensionless).

    Returns:
        JSON-safe ``{name: {...}}`` with, per target, :func:`residual_statistics`,
        ``unit``, ``n``, ``relative_error_mean`` and ``relative_error_robust_width``
        (None when every truth is 0) and ``n_nonzero_truth``.
    """
    y_true, y_pred = check_point_predictions(y_true, y_pred)
    check_names(names, units, y_true.shape[1])
    return {
        name: _one_target(y_true[:, i], y_pred[:, i], unit)
        for i, (name, unit) in enumerate(zip(names, units, strict=True))
    }


def _one_target(truth: np.ndarray, prediction: np.ndarray, unit: str) -> dict:
    relative = relative_errors(truth, prediction)
    return {
        **residual_statistics(prediction - truth),
        "unit": unit,
        "n": int(truth.size),
        "relative_error_mean": float(np.mean(relative)) if relative.size else None,
        "relative_error_robust_width": robust_width(relative) if relative.size else None,
        "n_nonzero_truth": int(relative.size),
    }


def ratio_histogram(truth, prediction, bins: int = HISTOGRAM_BINS, value_range=None) -> dict:
    """Histogram of prediction / truth, on the examples whose truth is not zero.

    Args:
        truth, prediction: (n,) values of one target.
        bins: number of equal-width bins.
        value_range: (low, high) of the histogram; by default the central 99% of
            the ratios.

    Returns:
        JSON-safe ``{"edges", "counts", "underflow", "overflow"}`` (``bins + 1``
        edges; examples below and above the range are counted, not binned).

    >>> ratio_histogram([1.0, 2.0, 0.0], [1.0, 3.0, 5.0], bins=2, value_range=(0.5, 1.5))
    {'edges': [0.5, 1.0, 1.5], 'counts': [0, 2], 'underflow': 0, 'overflow': 0}
    """
    truth = finite_vector("truth", truth)
    prediction = same_shape("prediction", prediction, "truth", truth)
    nonzero = truth != 0
    if not nonzero.any():
        raise EvaluationError("truth is 0 for every example; prediction / truth is undefined")
    ratio = prediction[nonzero] / truth[nonzero]
    low, high = central_range(ratio) if value_range is None else value_range
    counts, edges = np.histogram(ratio, bins=bins, range=(low, high))
    return {
        "edges": edges.tolist(),
        "counts": counts.tolist(),
        "underflow": int(np.sum(ratio < low)),
        "overflow": int(np.sum(ratio > high)),
    }


def binned_residuals(
    variable,
    residual,
    edges: np.ndarray | None = None,
    min_count: int = MIN_BIN_COUNT,
    bins: int = DEFAULT_BINS,
) -> pd.DataFrame:
    """Bias, RMS, standard deviation and robust width of the residual per bin.

    Args:
        variable: (n,) the binned variable (the truth, or e.g. an angle).
        residual: (n,) prediction − truth.
        edges: bin edges (:mod:`smartml.metrics.binning`); values outside are
            not used. By default ``bins`` bins of equal population.
        min_count: bins with fewer examples are left out.
        bins: the number of bins when ``edges`` is not given.

    Returns:
        :func:`smartml.metrics.binning.per_bin` frame with the columns
        ``bias``, ``rms``, ``std``, ``robust_width``.
    """
    variable = finite_vector("variable", variable)
    residual = same_shape("residual", residual, "variable", variable)
    if edges is None:
        edges = binning.equal_population_edges(variable, bins, name="variable")

    def statistic(key: str):
        return lambda rows: residual_statistics(residual[rows])[key]

    functions = {key: statistic(key) for key in RESOLUTION_COLUMNS}
    return binning.per_bin(variable, edges, functions, min_count=min_count)


def residual_histogram_figure(
    residuals: Mapping[str, np.ndarray], name: str, unit: str = "", run_name: str | None = None
) -> Figure:
    """Step histograms of the residual of one target, for one or more predictors.

    Args:
        residuals: ``{label: (n,) residuals}`` (e.g. the model and a baseline);
            NaN entries (no prediction) are skipped.
        name, unit: the target.
        run_name: shown in the title.

    Returns:
        one axes; each label's robust width and bias in its legend entry.
    """
    samples = {label: r[np.isfinite(r)] for label, r in residuals.items()}
    samples = {label: r for label, r in samples.items() if r.size}
    figure, axes = new_axes()
    value_range = central_range(np.concatenate(list(samples.values())))
    for label, values in samples.items():
        step_histogram(
            axes,
            values,
            value_range,
            label=f"{label}: {WIDTH_LABEL} {with_unit(robust_width(values), unit)}, "
            f"bias {with_unit(float(np.mean(values)), unit)}",
        )
    axes.set(
        xlabel=axis_label(f"{name} residual (prediction − truth)", unit),
        ylabel="examples",
        title=title(f"residual of {name}", run_name),
    )
    legend_above_data(axes)
    return figure


def ratio_histogram_figure(truth, prediction, name: str, run_name: str | None = None) -> Figure:
    """Histogram of prediction / truth of one target (:func:`ratio_histogram`)."""
    histogram = ratio_histogram(truth, prediction)
    figure, axes = new_axes()
    outside = histogram["underflow"] + histogram["overflow"]
    axes.stairs(histogram["counts"], histogram["edges"], linewidth=1.5, label=MODEL_LABEL)
    axes.axvline(1.0, color="grey", linestyle="--", linewidth=0.8)
    axes.set(
        xlabel=f"{name} prediction / truth",
        ylabel="examples",
        title=title(f"ratio of predicted to true {name} ({outside} outside the axis)", run_name),
    )
    return figure


def prediction_vs_truth_figure(
    truth, prediction, name: str, unit: str = "", run_name: str | None = None
) -> Figure:
    """2-D histogram of prediction against truth (log colour scale), with y = x."""
    truth = finite_vector("truth", truth)
    prediction = same_shape("prediction", prediction, "truth", truth)
    low, high = central_range(np.concatenate([truth, prediction]))
    counts, x_edges, y_edges = np.histogram2d(
        truth, prediction, bins=HISTOGRAM_BINS // 2, range=[(low, high), (low, high)]
    )
    figure, axes = new_axes()
    mesh = axes.pcolormesh(
        x_edges, y_edges, np.ma.masked_equal(counts.T, 0), norm=LogNorm(), cmap="viridis"
    )
    figure.colorbar(mesh, ax=axes, label="examples")
    axes.plot([low, high], [low, high], color="red", linewidth=0.8, label="prediction = truth")
    axes.set(
        xlabel=axis_label(f"true {name}", unit),
        ylabel=axis_label(f"predicted {name}", unit),
        title=title(f"predicted against true {name}", run_name),
    )
    axes.legend(loc="upper left", fontsize="small")
    return figure


def resolution_figure(
    profiles: Mapping[str, pd.DataFrame],
    name: str,
    unit: str,
    variable: str,
    variable_unit: str = "",
    run_name: str | None = None,
) -> Figure:
    """Bias (left) and robust width (right) of one target in bins of a variable.

    Args:
        profiles: ``{label: binned_residuals(...)}``, one line per label.
        name, unit: the target.
        variable, variable_unit: the binned variable, in words.
        run_name: shown in the title.

    Returns:
        two axes; the x of each line is the bin centre.
    """
    figure, (bias_axes, width_axes) = new_axes(2, size=(11.0, 4.5))
    bias_axes.axhline(0.0, color="grey", linewidth=0.8)
    for label, frame in profiles.items():
        for axes, column in ((bias_axes, "bias"), (width_axes, "robust_width")):
            axes.plot(frame["centre"], frame[column], marker="o", label=label)
    bias_axes.set(ylabel=axis_label(f"{name} bias", unit))
    width_axes.set(ylabel=axis_label(f"{name} {WIDTH_LABEL}", unit))
    for axes in (bias_axes, width_axes):
        axes.set_xlabel(axis_label(variable, variable_unit))
        _legend_or_message(axes)
    figure.suptitle(title(f"resolution of {name} against {variable}", run_name))
    return figure


def point_regression_figures(
    y_true,
    y_pred,
    names: Sequence[str],
    units: Sequence[str],
    variables: Mapping[str, tuple[np.ndarray, str]] | None = None,
    run_name: str | None = None,
    labels: Sequence[str] | None = None,
) -> dict[str, Figure]:
    """Every figure of a point regression.

    Args:
        y_true, y_pred: (n, k) truth and prediction.
        names, units: of the k targets (names make the file names).
        variables: ``{variable name: ((n,) values, unit)}`` for the resolution
            figures; by default each target against its own true value.
        run_name: shown in the titles.
        labels: the k targets in titles and on axes (default: ``names``).

    Returns:
        ``{"residual_<t>", "ratio_<t>", "prediction_vs_truth_<t>",
        "resolution_<t>_vs_<v>": Figure}`` for each target t (file-safe name).
    """
    y_true, y_pred = check_point_predictions(y_true, y_pred)
    check_names(names, units, y_true.shape[1])
    labels = display_labels(names, labels)
    stems = filename_safe(names)
    figures = {}
    for i, (name, unit, stem) in enumerate(zip(labels, units, stems, strict=True)):
        truth, prediction = y_true[:, i], y_pred[:, i]
        figures[f"residual_{stem}"] = residual_histogram_figure(
            {MODEL_LABEL: prediction - truth}, name, unit, run_name
        )
        if np.any(truth != 0):
            figures[f"ratio_{stem}"] = ratio_histogram_figure(truth, prediction, name, run_name)
        figures[f"prediction_vs_truth_{stem}"] = prediction_vs_truth_figure(
            truth, prediction, name, unit, run_name
        )
        own = {f"true {name}": (truth, unit)}
        for variable, (values, variable_unit) in (variables or own).items():
            profile = profile_or_none(values, prediction - truth)
            profiles = {} if profile is None else {MODEL_LABEL: profile}
            key = f"resolution_{stem}_vs_{filename_safe([variable], 'variables')[0]}"
            figures[key] = resolution_figure(
                profiles, name, unit, variable, variable_unit, run_name
            )
    return figures


def display_labels(names: Sequence[str], labels: Sequence[str] | None) -> list[str]:
    """The targets' names in figures: ``labels``, or the names themselves.

    Raises:
        EvaluationError: not one label per name.

    >>> display_labels(["x-midplane"], ["x"]), display_labels(["w"], None)
    (['x'], ['w'])
    """
    if labels is None:
        return list(names)
    if len(labels) != len(names):
        raise EvaluationError(
            f"labels {list(labels)} must name the {len(names)} targets {list(names)}"
        )
    return list(labels)


def profile_or_none(variable: np.ndarray, residual: np.ndarray) -> pd.DataFrame | None:
    """:func:`binned_residuals` in equal-width bins between the 1% and 99% quantiles
    of ``variable``; None where there is nothing to bin."""
    finite = np.isfinite(variable) & np.isfinite(residual)
    variable, residual = variable[finite], residual[finite]
    if variable.size == 0 or np.ptp(variable) == 0:
        return None
    try:
        edges = binning.equal_width_edges(variable, PROFILE_BINS, (0.01, 0.99))
    except EvaluationError:  # the variable sits on one value between its 1% and 99% quantiles
        return None
    frame = binned_residuals(variable, residual, edges)
    return frame if len(frame) else None


def _legend_or_message(axes: Axes) -> None:
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small")
    else:
        axes.text(0.5, 0.5, "too few examples per bin", ha="center", transform=axes.transAxes)
