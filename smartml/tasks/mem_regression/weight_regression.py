"""Evaluation of a network that replaces a per-event integral (the Matrix-Element-Method
weight of DeepMEM): predicted weights against the integrator's.

Inputs, for ``n`` events: ``w_true`` (n,) the integrator's weights and ``w_pred``
(n,) the network's, both positive (the network regresses −log10 w, so its weights
are); ``inputs`` the network's input features by name (a dict of (n,) arrays or a
pandas DataFrame). Conventions, as in :mod:`smartml.metrics.point_regression`:

- ratio = w_pred / w_true; relative error = (w_pred − w_true) / w_true = ratio − 1;
- the quantiles of |relative error| are at 68.27% (±1σ of a Gaussian) and 95%; the
  MAPE is the mean of |relative error|; all are fractions (0.05 is 5%);
- the speed-up is the integrator's seconds per event over the network's (batch
  inference, on the same events).

>>> w_true = np.array([1e-10, 2e-10, 4e-10, 8e-10])
>>> metrics = weight_metrics(w_true, w_true * np.array([1.1, 0.9, 1.0, 1.2]))
>>> round(metrics["relative_error_median"], 6), round(metrics["mape"], 6)
(0.05, 0.1)
>>> speed_up(integrator_s_per_event=2.0, dnn_s_per_event=1.25e-5)
160000.0
"""

import time
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from smartml.metrics import binning
from smartml.metrics.checks import EvaluationError, finite_vector, same_shape
from smartml.metrics.figures import (
    axis_label,
    central_range,
    filename_safe,
    legend_above_data,
    new_axes,
    step_histogram,
    title,
)
from smartml.metrics.point_regression import (
    MIN_BIN_COUNT,
    ONE_SIGMA_COVERAGE,
    ONE_SIGMA_HIGH_QUANTILE,
    ONE_SIGMA_LOW_QUANTILE,
    PROFILE_BINS,
    ratio_histogram,
)

WIDE_QUANTILE = 0.95
PROFILE_COLUMNS = ("median", "low68", "high68")
# Quantiles of the input spanned by the profile bins: a few extreme events do not
# stretch the axis.
PROFILE_RANGE = (0.01, 0.99)
DNN_LABEL = "DNN"
INTEGRATOR_LABEL = "integrator"


def check_weights(w_true, w_pred) -> tuple[np.ndarray, np.ndarray]:
    """``(w_true, w_pred)`` as finite, positive (n,) float64 arrays.

    Raises:
        EvaluationError: a wrong shape, a NaN/inf, or a weight ≤ 0 (counted, with the
            first index), naming the argument.

    >>> check_weights([1.0, 0.0], [1.0, 1.0])
    Traceback (most recent call last):
    ...
    smartml.metrics.checks.EvaluationError: w_true has 1 weights <= 0 (first at index 1); ...
    """
    w_true = finite_vector("w_true", w_true)
    w_pred = same_shape("w_pred", w_pred, "w_true", w_true)
    for name, weights in (("w_true", w_true), ("w_pred", w_pred)):
        bad = np.flatnonzero(weights <= 0)
        if bad.size:
            raise EvaluationError(
                f"{name} has {bad.size} weights <= 0 (first at index {bad[0]}); "
                "weights must be positive (drop such events before evaluating)"
            )
    return w_true, w_pred


def weight_metrics(w_true, w_pred) -> dict:
    """Accuracy of the predicted weights.

    Args:
        w_true, w_pred: (n,) positive weights (see the module docstring).

    Returns:
        JSON-safe ``{"events", "ratio_median", "relative_error_median",
        "abs_relative_error_median", "abs_relative_error_q68", "abs_relative_error_q95", "mape",
        "log10_residual_mean", "log10_residual_std"}``; the log10 residual is
        log10 w_pred − log10 w_true (the network's regression target's error, sign
        flipped).
    """
    w_true, w_pred = check_weights(w_true, w_pred)
    relative = relative_weight_errors(w_true, w_pred)
    absolute = np.abs(relative)
    log_residual = np.log10(w_pred) - np.log10(w_true)
    return {
        "events": int(w_true.size),
        "ratio_median": float(np.median(w_pred / w_true)),
        "relative_error_median": float(np.median(relative)),
        "abs_relative_error_median": float(np.median(absolute)),
        "abs_relative_error_q68": float(np.quantile(absolute, ONE_SIGMA_COVERAGE)),
        "abs_relative_error_q95": float(np.quantile(absolute, WIDE_QUANTILE)),
        "mape": float(np.mean(absolute)),
        "log10_residual_mean": float(np.mean(log_residual)),
        "log10_residual_std": float(np.std(log_residual)),
    }


def relative_weight_errors(w_true: np.ndarray, w_pred: np.ndarray) -> np.ndarray:
    """(w_pred − w_true) / w_true of checked weights (:func:`check_weights`).

    >>> relative_weight_errors(np.array([2.0, 4.0]), np.array([3.0, 3.0]))
    array([ 0.5 , -0.25])
    """
    return (w_pred - w_true) / w_true


def speed_up(integrator_s_per_event: float, dnn_s_per_event: float) -> float:
    """How many times faster the network is than the integrator, per event.

    Args:
        integrator_s_per_event: the integrator's wall seconds per event.
        dnn_s_per_event: the network's wall seconds per event (batch inference).

    Raises:
        EvaluationError: a time that is not a positive finite number, named.
    """
    for name, seconds in (
        ("integrator_s_per_event", integrator_s_per_event),
        ("dnn_s_per_event", dnn_s_per_event),
    ):
        if not (np.isfinite(seconds) and seconds > 0):
            raise EvaluationError(f"{name} must be a positive number of seconds, got {seconds!r}")
    return float(integrator_s_per_event / dnn_s_per_event)


def seconds_per_event(
    predict: Callable[[np.ndarray], object], inputs: np.ndarray, repeats: int = 3
) -> float:
    """Wall seconds per event of ``predict(inputs)`` (one batch call), the best of
    ``repeats`` calls after one warm-up call (graph tracing is not inference).

    Args:
        predict: e.g. ``lambda x: model.predict(x, batch_size=8192, verbose=0)``.
        inputs: the events, first axis; not empty.
        repeats: timed calls, at least 1.

    >>> seconds_per_event(lambda x: x.sum(axis=1), np.ones((1000, 4))) > 0
    True
    """
    if len(inputs) == 0 or repeats < 1:
        raise EvaluationError(
            f"seconds_per_event needs events and repeats >= 1, got {len(inputs)} and {repeats}"
        )
    predict(inputs)
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        predict(inputs)
        best = min(best, time.perf_counter() - started)
    return float(best / len(inputs))


def relative_error_profile(variable, relative_error, bins: int = PROFILE_BINS) -> pd.DataFrame:
    """Median and central 68.27% band of the relative error in equal-width bins of
    ``variable`` between its 1% and 99% quantiles; bins with fewer than
    :data:`~smartml.metrics.point_regression.MIN_BIN_COUNT` events are left out.

    Args:
        variable: (n,) one input feature; relative_error: (n,) aligned with it.
        bins: the number of bins.

    Returns:
        :func:`smartml.metrics.binning.per_bin` frame with the columns
        ``median``, ``low68``, ``high68``.
    """
    variable = finite_vector("variable", variable)
    relative_error = same_shape("relative_error", relative_error, "variable", variable)
    edges = binning.equal_width_edges(variable, bins, PROFILE_RANGE, name="variable")
    quantiles = {
        "median": 0.5,
        "low68": ONE_SIGMA_LOW_QUANTILE,
        "high68": ONE_SIGMA_HIGH_QUANTILE,
    }

    def quantile(q: float):
        return lambda rows: np.quantile(relative_error[rows], q)

    functions = {key: quantile(q) for key, q in quantiles.items()}
    return binning.per_bin(variable, edges, functions, min_count=MIN_BIN_COUNT)


def ratio_figure(w_true, w_pred, run_name: str | None = None) -> Figure:
    """Histogram of w_pred / w_true (:func:`~smartml.metrics.point_regression.ratio_histogram`),
    its median in the legend."""
    w_true, w_pred = check_weights(w_true, w_pred)
    histogram = ratio_histogram(w_true, w_pred)
    median = float(np.median(w_pred / w_true))
    figure, axes = new_axes()
    axes.stairs(
        histogram["counts"], histogram["edges"], linewidth=1.5, label=f"median {median:.4g}"
    )
    axes.axvline(1.0, color="grey", linestyle="--", linewidth=0.8)
    outside = histogram["underflow"] + histogram["overflow"]
    axes.set(
        xlabel=f"weight ratio {DNN_LABEL} / {INTEGRATOR_LABEL}",
        ylabel="events",
        title=title(f"MEM weight ratio ({outside} events outside the axis)", run_name),
    )
    legend_above_data(axes)
    return figure


def relative_error_figure(w_true, w_pred, run_name: str | None = None) -> Figure:
    """Histogram of the relative error, with its median, |·| 68% and 95% quantiles
    and the MAPE in the legend."""
    metrics = weight_metrics(w_true, w_pred)
    w_true, w_pred = check_weights(w_true, w_pred)
    relative = relative_weight_errors(w_true, w_pred)
    figure, axes = new_axes()
    step_histogram(
        axes,
        relative,
        central_range(relative),
        label=f"median {metrics['relative_error_median']:.3g}, "
        f"|·| 68% {metrics['abs_relative_error_q68']:.3g}, "
        f"95% {metrics['abs_relative_error_q95']:.3g}, MAPE {metrics['mape']:.3g}",
    )
    axes.axvline(0.0, color="grey", linestyle="--", linewidth=0.8)
    axes.set(
        xlabel=f"relative error of w ({DNN_LABEL} − {INTEGRATOR_LABEL}) / {INTEGRATOR_LABEL}",
        ylabel="events",
        title=title("relative error of the MEM weight", run_name),
    )
    legend_above_data(axes)
    return figure


def log_weight_figure(w_true, w_pred, run_name: str | None = None) -> Figure:
    """−log10 w of the integrator and of the network overlaid, on common bins."""
    w_true, w_pred = check_weights(w_true, w_pred)
    targets = {INTEGRATOR_LABEL: -np.log10(w_true), DNN_LABEL: -np.log10(w_pred)}
    value_range = central_range(np.concatenate(list(targets.values())))
    figure, axes = new_axes()
    for label, values in targets.items():
        step_histogram(axes, values, value_range, label=label)
    axes.set(
        xlabel=axis_label("−log10 w"),
        ylabel="events",
        title=title("MEM weight: integrator and DNN", run_name),
    )
    legend_above_data(axes)
    return figure


def relative_error_vs_input_figure(
    variable, relative_error, name: str, unit: str = "", run_name: str | None = None
) -> Figure:
    """The median relative error in bins of one input, with its central 68% band
    (:func:`relative_error_profile`)."""
    profile = relative_error_profile(variable, relative_error)
    figure, axes = new_axes()
    if len(profile):
        axes.fill_between(
            profile["centre"], profile["low68"], profile["high68"], alpha=0.3, label="central 68%"
        )
        axes.plot(profile["centre"], profile["median"], marker="o", label="median")
        axes.legend(fontsize="small")
    else:
        axes.text(0.5, 0.5, "too few events per bin", ha="center", transform=axes.transAxes)
    axes.axhline(0.0, color="grey", linestyle="--", linewidth=0.8)
    axes.set(
        xlabel=axis_label(name, unit),
        ylabel="relative error of w",
        title=title(f"relative error of the MEM weight against {name}", run_name),
    )
    return figure


def weight_regression_figures(
    w_true,
    w_pred,
    inputs: Mapping[str, np.ndarray] | pd.DataFrame | None = None,
    units: Mapping[str, str] | None = None,
    run_name: str | None = None,
) -> dict[str, Figure]:
    """Every figure of the weight regression.

    Args:
        w_true, w_pred: (n,) positive weights.
        inputs: input features by name, each (n,) aligned with the weights; one
            relative-error profile figure each.
        units: unit of each input name (missing: none).
        run_name: shown in the titles.

    Returns:
        ``{"weight_ratio", "weight_relative_error", "weight_log10",
        "weight_relative_error_vs_<input>"...: Figure}``.
    """
    w_true, w_pred = check_weights(w_true, w_pred)
    figures = {
        "weight_ratio": ratio_figure(w_true, w_pred, run_name),
        "weight_relative_error": relative_error_figure(w_true, w_pred, run_name),
        "weight_log10": log_weight_figure(w_true, w_pred, run_name),
    }
    if inputs is None:
        return figures
    relative = relative_weight_errors(w_true, w_pred)
    names = list(inputs.keys())
    units = units or {}
    for name, stem in zip(names, filename_safe(names, "input names"), strict=True):
        values = same_shape(f"inputs[{name!r}]", inputs[name], "w_true", w_true)
        figures[f"weight_relative_error_vs_{stem}"] = relative_error_vs_input_figure(
            values, relative, name, units.get(name, ""), run_name
        )
    return figures
