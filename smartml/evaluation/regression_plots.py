"""PNG plots of a Gaussian regression and of a training history.

:func:`plot_regression` draws, for each target,

- ``residual_<target>.png``: residual histogram (baseline overlaid when given),
  with the robust width (half the central 68.27% interval) of each in the legend;
- ``pull_<target>.png``: pull histogram against the unit Gaussian;
- ``profile_<target>.png``: mean residual ± robust width in bins of the true value;
- ``sigma_<target>.png``: distribution of the predicted σ, with the observed
  robust width of the residuals marked;

and ``mahalanobis_d2.png``, the d² = rᵀ C⁻¹ r histogram against the χ²(k) pdf.
Target names are made filename-safe (characters other than letters, digits, ``.``,
``_`` and ``-`` become ``_``). Conventions are those of
:mod:`smartml.evaluation.regression_metrics`.

:func:`plot_history` draws the loss curves (and the learning rate) of a Keras
``CSVLogger`` file.

The figures are drawn on the Agg canvas directly, without pyplot: nothing is shown,
no figure is left registered with pyplot, and the backend of an interactive session
(a notebook) that imports this module is left alone.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from smartml.evaluation.regression_metrics import (
    check_names,
    check_predictions,
    covariance_calibration,
    mahalanobis_squared,
    residual_profile,
    robust_width,
)

HISTOGRAM_BINS = 100
# Histogram ranges span the central 99% of the values, so that a few outliers do not
# squeeze the core of the distribution into a couple of bins.
RANGE_QUANTILES = (0.005, 0.995)
PULL_RANGE = (-5.0, 5.0)
DPI = 120
# Factor on the y range of histograms, to leave room for a legend above the data.
LEGEND_HEADROOM = 1.35
MODEL_LABEL = "model"
LEARNING_RATE_COLUMNS = ("lr", "learning_rate")
_PROFILE_KEYS = ("centres", "mean", "robust_width")


def plot_regression(
    y_true: np.ndarray,
    mean: np.ndarray,
    cov: np.ndarray,
    names: Sequence[str],
    units: Sequence[str],
    out_dir: Path,
    baseline: Mapping[str, np.ndarray] | None = None,
    baseline_label: str = "baseline",
) -> list[Path]:
    """Write the residual, pull, profile, σ and d² plots of a Gaussian regression.

    Args:
        y_true: (n, k) true values, physical units.
        mean: (n, k) predicted means.
        cov: (n, k, k) predicted covariances.
        names: the k target names, e.g. ``TARGETS``.
        units: the k units, e.g. ``TARGET_UNITS`` ("" for dimensionless).
        out_dir: directory for the PNG files, created if needed.
        baseline: optional map from a target name to (n,) baseline predictions of
            that target on the same clusters (e.g. the charge centroid for the
            positions); NaN entries (no prediction) are skipped.
        baseline_label: legend label of the baseline.

    Returns:
        Paths of the written files: four per target, then ``mahalanobis_d2.png``.

    Raises:
        ValueError: invalid predictions (see ``check_predictions``), names or
            baseline, named in the message.
    """
    y_true, mean, cov = check_predictions(y_true, mean, cov)
    check_names(names, units, y_true.shape[1])
    baseline = _checked_baseline(baseline, names, y_true.shape[0])
    file_stems = _filename_safe_names(names)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    sigmas = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    written = []
    for i, (name, unit, stem) in enumerate(zip(names, units, file_stems, strict=True)):
        target = _Target(name, unit, baseline_label)
        written += _plot_target(
            target, y_true[:, i], mean[:, i], sigmas[:, i], baseline.get(name), out_dir, stem
        )
    written.append(_save(_d2_figure(y_true, mean, cov), out_dir / "mahalanobis_d2.png"))
    return written


def plot_history(history_csv: Path, out_dir: Path) -> list[Path]:
    """Plot the training history written by a Keras ``CSVLogger``.

    Args:
        history_csv: CSV with a header ``epoch,loss,val_loss,...``; ``val_loss``
            and the learning rate (column ``lr`` or ``learning_rate``) are
            optional, ``loss`` is required.
        out_dir: directory for the PNG files, created if needed.

    Returns:
        ``[out_dir / "loss.png"]``, plus ``out_dir / "learning_rate.png"`` when
        the file has a learning-rate column.

    Raises:
        ValueError: the file is missing, unreadable, empty or has no ``loss``
            column; the message names the file.
    """
    history_csv = Path(history_csv)
    history = _read_history(history_csv)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    epochs = history["epoch"] if "epoch" in history else pd.Series(np.arange(len(history)))

    written = [_save(_loss_figure(epochs, history, history_csv.name), out_dir / "loss.png")]
    lr_column = next((c for c in LEARNING_RATE_COLUMNS if c in history), None)
    if lr_column is not None:
        figure = _learning_rate_figure(epochs, history[lr_column], lr_column, history_csv.name)
        written.append(_save(figure, out_dir / "learning_rate.png"))
    return written


@dataclass(frozen=True)
class _Target:
    """Labels shared by the plots of one target."""

    name: str
    unit: str
    baseline_label: str

    def axis_label(self, quantity: str) -> str:
        return f"{quantity} [{self.unit}]" if self.unit else quantity

    def value(self, number: float) -> str:
        return f"{number:.3g} {self.unit}".rstrip()


def _plot_target(
    target: _Target,
    truth: np.ndarray,
    mean: np.ndarray,
    sigma: np.ndarray,
    baseline: np.ndarray | None,
    out_dir: Path,
    stem: str,
) -> list[Path]:
    """The four plots of one target; returns their paths."""
    residual = mean - truth
    baseline_residual = None if baseline is None else baseline - truth
    figures = {
        "residual": _residual_figure(residual, baseline_residual, target),
        "pull": _pull_figure(residual / sigma, target),
        "profile": _profile_figure(truth, residual, baseline_residual, target),
        "sigma": _sigma_figure(sigma, residual, target),
    }
    return [_save(figure, out_dir / f"{kind}_{stem}.png") for kind, figure in figures.items()]


def _loss_figure(epochs: pd.Series, history: pd.DataFrame, title: str) -> Figure:
    figure, axes = _new_axes()
    axes.plot(epochs, history["loss"], marker=".", label="loss (training)")
    if "val_loss" in history:
        axes.plot(epochs, history["val_loss"], marker=".", label="val_loss (validation)")
    axes.set(xlabel="epoch", ylabel="loss", title=title)
    axes.legend()
    return figure


def _learning_rate_figure(
    epochs: pd.Series, learning_rate: pd.Series, column: str, title: str
) -> Figure:
    figure, axes = _new_axes()
    axes.plot(epochs, learning_rate, marker=".")
    # Schedules multiply the rate: a log axis shows them as straight lines.
    if (learning_rate > 0).all():
        axes.set_yscale("log")
    axes.set(xlabel="epoch", ylabel=f"learning rate ({column})", title=title)
    return figure


def _residual_figure(
    residual: np.ndarray, baseline_residual: np.ndarray | None, target: _Target
) -> Figure:
    figure, axes = _new_axes()
    samples = [(MODEL_LABEL, residual)]
    if baseline_residual is not None:
        samples.append((target.baseline_label, baseline_residual[np.isfinite(baseline_residual)]))
    samples = [(label, values) for label, values in samples if values.size]
    value_range = _central_range(np.concatenate([values for _, values in samples]))
    for label, values in samples:
        axes.hist(
            values,
            bins=HISTOGRAM_BINS,
            range=value_range,
            histtype="step",
            linewidth=1.5,
            label=f"{label}: width68 {target.value(robust_width(values))}, "
            f"bias {target.value(float(np.mean(values)))}",
        )
    axes.set(
        xlabel=target.axis_label(f"{target.name} residual (prediction − truth)"),
        ylabel="clusters",
        title=target.name,
    )
    _legend_above_data(axes)
    return figure


def _pull_figure(pull: np.ndarray, target: _Target) -> Figure:
    figure, axes = _new_axes()
    axes.hist(
        pull,
        bins=HISTOGRAM_BINS,
        range=PULL_RANGE,
        density=True,
        histtype="step",
        linewidth=1.5,
        label=f"{MODEL_LABEL}: mean {np.mean(pull):.3f}, width68 {robust_width(pull):.3f}, "
        f"std {np.std(pull):.3f}",
    )
    grid = np.linspace(*PULL_RANGE, 400)
    axes.plot(grid, stats.norm.pdf(grid), linestyle="--", label="unit Gaussian")
    outside = float(np.mean((pull < PULL_RANGE[0]) | (pull > PULL_RANGE[1])))
    axes.set(
        xlabel=f"{target.name} pull (residual / predicted σ)",
        ylabel="density",
        title=f"{target.name} ({outside:.2%} outside the axis)",
    )
    _legend_above_data(axes)
    return figure


def _profile_figure(
    truth: np.ndarray,
    residual: np.ndarray,
    baseline_residual: np.ndarray | None,
    target: _Target,
) -> Figure:
    figure, axes = _new_axes()
    axes.axhline(0.0, color="grey", linewidth=0.8)
    model_profile = _profile_or_none(truth, residual)
    if model_profile is not None:
        centres, means, widths = (np.asarray(model_profile[key]) for key in _PROFILE_KEYS)
        axes.plot(centres, means, marker="o", label=f"{MODEL_LABEL}: mean residual")
        axes.fill_between(
            centres, means - widths, means + widths, alpha=0.3, label=f"{MODEL_LABEL}: ± width68"
        )
    if baseline_residual is not None:
        has_value = np.isfinite(baseline_residual)
        baseline_profile = _profile_or_none(truth[has_value], baseline_residual[has_value])
        if baseline_profile is not None:
            centres, means, widths = (np.asarray(baseline_profile[key]) for key in _PROFILE_KEYS)
            axes.errorbar(
                centres,
                means,
                yerr=widths,
                marker="s",
                linestyle="none",
                capsize=2,
                label=f"{target.baseline_label}: mean ± width68",
            )
    axes.set(
        xlabel=target.axis_label(f"true {target.name}"),
        ylabel=target.axis_label(f"{target.name} residual"),
        title=target.name,
    )
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small")
    else:
        axes.text(0.5, 0.5, "too few clusters per bin", ha="center", transform=axes.transAxes)
    return figure


def _profile_or_none(truth: np.ndarray, residual: np.ndarray) -> dict | None:
    """The residual profile, or None where there is nothing to bin."""
    if truth.size == 0 or np.ptp(truth) == 0:
        return None
    try:
        profile = residual_profile(truth, residual)
    except ValueError:  # truth concentrated on one value between its 1% and 99% quantiles
        return None
    return profile if profile["centres"] else None


def _sigma_figure(sigma: np.ndarray, residual: np.ndarray, target: _Target) -> Figure:
    figure, axes = _new_axes()
    axes.hist(
        sigma,
        bins=HISTOGRAM_BINS,
        range=(0.0, _central_range(sigma)[1]),
        histtype="step",
        linewidth=1.5,
        label=f"predicted σ: mean {target.value(float(np.mean(sigma)))}",
    )
    observed = robust_width(residual)
    axes.axvline(
        observed,
        color="black",
        linestyle="--",
        label=f"observed residual width68 {target.value(observed)}",
    )
    axes.set(xlabel=target.axis_label(f"predicted σ of {target.name}"), ylabel="clusters")
    axes.set_title(target.name)
    _legend_above_data(axes)
    return figure


def _d2_figure(y_true: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> Figure:
    d2 = mahalanobis_squared(y_true, mean, cov)
    calibration = covariance_calibration(y_true, mean, cov)
    k = calibration["k"]
    upper = float(stats.chi2.ppf(0.999, k))
    figure, axes = _new_axes()
    axes.hist(
        d2,
        bins=HISTOGRAM_BINS,
        range=(0.0, upper),
        density=True,
        histtype="step",
        linewidth=1.5,
        label=f"{MODEL_LABEL}: mean {calibration['d2_mean']:.2f}, "
        f"below χ² 68%/95% quantiles {calibration['d2_fraction_below_chi2_68']:.3f}"
        f"/{calibration['d2_fraction_below_chi2_95']:.3f}",
    )
    grid = np.linspace(0.0, upper, 400)[1:]  # the χ²(1) pdf diverges at 0
    axes.plot(
        grid, stats.chi2.pdf(grid, k), linestyle="--", label=f"χ²({k}): mean {k}, 0.683/0.950"
    )
    axes.set(
        xlabel="d² = rᵀ C⁻¹ r (squared Mahalanobis distance)",
        ylabel="density",
        title=f"covariance calibration, {k} targets",
    )
    _legend_above_data(axes)
    return figure


def _checked_baseline(
    baseline: Mapping[str, np.ndarray] | None, names: Sequence[str], n: int
) -> dict[str, np.ndarray]:
    if baseline is None:
        return {}
    checked = {}
    for name, values in baseline.items():
        if name not in names:
            raise ValueError(f"baseline has target {name!r}, which is not one of {list(names)}")
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (n,):
            raise ValueError(f"baseline[{name!r}] must have shape ({n},), got {values.shape}")
        checked[name] = values
    return checked


def _filename_safe_names(names: Sequence[str]) -> list[str]:
    stems = [re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "target" for name in names]
    if len(set(stems)) != len(stems):
        raise ValueError(
            f"names {list(names)} give clashing file names {stems}; rename the targets"
        )
    return stems


def _central_range(values: np.ndarray) -> tuple[float, float]:
    low, high = np.quantile(values, RANGE_QUANTILES)
    if high <= low:  # a (nearly) constant sample: give it a visible width
        pad = max(abs(low), 1.0) * 0.01
        low, high = low - pad, high + pad
    return float(low), float(high)


def _read_history(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ValueError(f"{path}: training history file not found")
    try:
        history = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        reason = " ".join(str(error).split())
        raise ValueError(f"{path}: cannot read as a CSV file ({reason})") from None
    if "loss" not in history.columns:
        raise ValueError(
            f"{path}: no 'loss' column (columns: {list(history.columns)}); "
            "expected a Keras CSVLogger file with columns epoch,loss,val_loss,..."
        )
    if history.empty:
        raise ValueError(f"{path}: the training history has no epochs")
    return history.apply(pd.to_numeric, errors="coerce")


def _legend_above_data(axes: Axes) -> None:
    """Legend in the top margin, so that it never hides the peak of a histogram."""
    axes.set_ylim(top=axes.get_ylim()[1] * LEGEND_HEADROOM)
    axes.legend(loc="upper right", fontsize="small")


def _new_axes() -> tuple[Figure, Axes]:
    figure = Figure(figsize=(6.4, 4.8), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.subplots()


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI)
    return path
