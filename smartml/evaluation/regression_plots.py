"""Figures of a Gaussian regression and of a training history.

:func:`gaussian_figures` draws, for each target (file-safe name ``<t>``),

- ``residual_<t>``: residual histogram (baseline overlaid when given), with the
  robust width (half the central 68.27% interval) of each in the legend;
- ``pull_<t>``: pull histogram against the unit Gaussian;
- ``profile_<t>``: bias and robust width of the residual in bins of the true value;
- ``sigma_<t>``: distribution of the predicted σ, with the observed robust width
  of the residuals marked;

and ``mahalanobis_d2``, the d² = rᵀ C⁻¹ r histogram against the χ²(k) pdf.
:func:`history_figures` draws the loss curves (and the learning rate) of a Keras
``CSVLogger`` file. Conventions are those of :mod:`smartml.evaluation.gaussian`;
:func:`smartml.evaluation.figures.save_figures` writes the figures as PNG files.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from smartml.evaluation.checks import EvaluationError, check_names
from smartml.evaluation.figures import (
    axis_label,
    central_range,
    filename_safe,
    legend_above_data,
    new_axes,
    save_figures,
    step_histogram,
    title,
    with_unit,
)
from smartml.evaluation.gaussian import (
    check_predictions,
    covariance_calibration,
    mahalanobis_squared,
)
from smartml.evaluation.point_regression import (
    MODEL_LABEL,
    profile_or_none,
    residual_histogram_figure,
    resolution_figure,
    robust_width,
)

PULL_RANGE = (-5.0, 5.0)
LEARNING_RATE_COLUMNS = ("lr", "learning_rate")
# The column the best checkpoint follows: a constrained (MDMM) run logs the
# validation loss of its feasible epochs (infinite otherwise) beside val_loss.
BEST_EPOCH_COLUMNS = ("val_loss_feasible", "val_loss")


def gaussian_figures(
    y_true: np.ndarray,
    mean: np.ndarray,
    cov: np.ndarray,
    names: Sequence[str],
    units: Sequence[str],
    baseline: Mapping[str, np.ndarray] | None = None,
    baseline_label: str = "baseline",
    run_name: str | None = None,
) -> dict[str, Figure]:
    """The residual, pull, profile, σ and d² figures of a Gaussian regression.

    Args:
        y_true: (n, k) true values, physical units.
        mean: (n, k) predicted means.
        cov: (n, k, k) predicted covariances.
        names: the k target names, e.g. ``TARGETS``.
        units: the k units, e.g. ``TARGET_UNITS`` ("" for dimensionless).
        baseline: optional map from a target name to (n,) baseline predictions of
            that target on the same examples (e.g. the charge centroid for the
            positions); NaN entries (no prediction) are skipped.
        baseline_label: legend label of the baseline.
        run_name: shown in the titles.

    Returns:
        ``{name: Figure}``: four per target, then ``mahalanobis_d2``.

    Raises:
        EvaluationError: invalid predictions (see ``check_predictions``), names or
            baseline, named in the message.
    """
    y_true, mean, cov = check_predictions(y_true, mean, cov)
    check_names(names, units, y_true.shape[1])
    baseline = _checked_baseline(baseline, names, y_true.shape[0])
    stems = filename_safe(names)
    sigmas = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    figures = {}
    for i, (name, unit, stem) in enumerate(zip(names, units, stems, strict=True)):
        residual = mean[:, i] - y_true[:, i]
        residuals = {MODEL_LABEL: residual}
        if name in baseline:
            residuals[baseline_label] = baseline[name] - y_true[:, i]
        figures[f"residual_{stem}"] = residual_histogram_figure(residuals, name, unit, run_name)
        figures[f"pull_{stem}"] = pull_figure(residual / sigmas[:, i], name, run_name)
        profiles = {
            label: profile_or_none(y_true[:, i], values) for label, values in residuals.items()
        }
        figures[f"profile_{stem}"] = resolution_figure(
            {label: p for label, p in profiles.items() if p is not None},
            name,
            unit,
            f"true {name}",
            unit,
            run_name,
        )
        figures[f"sigma_{stem}"] = sigma_figure(sigmas[:, i], residual, name, unit, run_name)
    figures["mahalanobis_d2"] = d2_figure(y_true, mean, cov, run_name)
    return figures


def pull_figure(pull: np.ndarray, name: str, run_name: str | None = None) -> Figure:
    """Density of the pulls of one target against the unit Gaussian."""
    figure, axes = new_axes()
    step_histogram(
        axes,
        pull,
        PULL_RANGE,
        label=f"{MODEL_LABEL}: mean {np.mean(pull):.3f}, width68 {robust_width(pull):.3f}, "
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
        label=f"observed residual width68 {with_unit(observed, unit)}",
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


def history_figures(history_csv: Path, run_name: str | None = None) -> dict[str, Figure]:
    """The training history written by a Keras ``CSVLogger``.

    Args:
        history_csv: CSV with a header ``epoch,loss,val_loss,...``; ``val_loss``
            and the learning rate (column ``lr`` or ``learning_rate``) are
            optional, ``loss`` is required.
        run_name: shown in the titles.

    Returns:
        ``{"loss": Figure}`` (the best epoch marked: lowest ``val_loss_feasible``
        when the run logged it, else lowest ``val_loss``), plus
        ``"learning_rate"`` when the file has a learning-rate column.

    Raises:
        EvaluationError: the file is missing, unreadable, empty or has no ``loss``
            column; the message names the file.
    """
    history = _read_history(Path(history_csv))
    epochs = history["epoch"] if "epoch" in history else pd.Series(np.arange(len(history)))
    figures = {"loss": loss_figure(epochs, history, run_name)}
    lr_column = next((c for c in LEARNING_RATE_COLUMNS if c in history), None)
    if lr_column is not None:
        figures["learning_rate"] = learning_rate_figure(epochs, history[lr_column], run_name)
    return figures


def plot_history(history_csv: Path, out_dir: Path, run_name: str | None = None) -> list[Path]:
    """Write :func:`history_figures` as ``loss.png`` (and ``learning_rate.png``).

    Returns:
        the written paths.
    """
    return save_figures(history_figures(history_csv, run_name), out_dir)


def loss_figure(epochs: pd.Series, history: pd.DataFrame, run_name: str | None = None) -> Figure:
    """Training and validation loss per epoch, the best epoch marked."""
    figure, axes = new_axes()
    axes.plot(epochs, history["loss"], marker=".", label="training loss")
    if "val_loss" in history:
        axes.plot(epochs, history["val_loss"], marker=".", label="validation loss")
    best = best_epoch(history)
    if best is not None:
        column, row = best
        axes.axvline(
            epochs.iloc[row],
            color="black",
            linestyle=":",
            label=f"best epoch {epochs.iloc[row]:g} (lowest {column})",
        )
    axes.set(xlabel="epoch", ylabel="loss", title=title("loss per epoch", run_name))
    axes.legend()
    return figure


def best_epoch(history: pd.DataFrame) -> tuple[str, int] | None:
    """The column the best checkpoint follows and the row of its lowest finite value.

    >>> best_epoch(pd.DataFrame({"val_loss": [3.0, 1.0, 2.0],
    ...                          "val_loss_feasible": [3.0, np.inf, 2.0]}))
    ('val_loss_feasible', 2)
    """
    for column in BEST_EPOCH_COLUMNS:
        if column in history:
            values = history[column].to_numpy(dtype=np.float64)
            finite = np.isfinite(values)
            if finite.any():
                return column, int(np.flatnonzero(finite)[np.argmin(values[finite])])
    return None


def learning_rate_figure(
    epochs: pd.Series, learning_rate: pd.Series, run_name: str | None = None
) -> Figure:
    """The learning rate per epoch (log axis when positive)."""
    figure, axes = new_axes()
    axes.plot(epochs, learning_rate, marker=".")
    # Schedules multiply the rate: a log axis shows them as straight lines.
    if (learning_rate > 0).all():
        axes.set_yscale("log")
    axes.set(
        xlabel="epoch", ylabel="learning rate", title=title("learning rate per epoch", run_name)
    )
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


def _read_history(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise EvaluationError(f"{path}: training history file not found")
    try:
        history = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        reason = " ".join(str(error).split())
        raise EvaluationError(f"{path}: cannot read as a CSV file ({reason})") from None
    if "loss" not in history.columns:
        raise EvaluationError(
            f"{path}: no 'loss' column (columns: {list(history.columns)}); "
            "expected a Keras CSVLogger file with columns epoch,loss,val_loss,..."
        )
    if history.empty:
        raise EvaluationError(f"{path}: the training history has no epochs")
    return history.apply(pd.to_numeric, errors="coerce")
