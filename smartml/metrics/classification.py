"""Performance of a classifier: ROC and AUC, operating points, efficiency per bin.

Inputs, for ``n`` examples and ``C`` classes:

- ``labels``: (n,) integer true classes, 0 … C−1;
- ``scores``: (n, C) class probabilities (or any scores, e.g. logits; larger means
  more like that class), or (n,) scores of the second class of a binary classifier;
- ``class_names``: the C names, e.g. ``["pion", "muon"]``;
- ``positive``: the class treated as signal (name or index), the others as
  background (one-vs-rest). Its score is the selection variable.

Vocabulary: an *operating point* selects the examples whose positive score is at
least a *threshold*; the *signal efficiency* is the fraction of positive examples
selected, the *background efficiency* (mis-ID) that of the others, given also per
other class. A threshold found for a target signal efficiency is found on the sample
given, so quote it with the efficiency it reaches there. Efficiency intervals are
Clopper–Pearson (exact binomial, ``scipy.stats.beta``), by default at 68.27%.

>>> labels = np.array([0, 0, 1, 1])
>>> scores = np.array([0.1, 0.6, 0.4, 0.9])
>>> point = operating_point(labels, scores, ["pion", "muon"], "muon", signal_efficiency=0.5)
>>> point["threshold"], point["signal_efficiency"], point["background_efficiency"]
(0.9, 0.5, 0.0)
>>> roc(labels, scores, ["pion", "muon"], "muon")["auc"]
0.75
"""

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats
from sklearn import metrics as sk_metrics

from smartml.metrics import binning
from smartml.metrics.checks import EvaluationError, require_finite
from smartml.metrics.figures import (
    axis_label,
    filename_safe,
    legend_above_data,
    new_axes,
    step_histogram,
    title,
)

ONE_SIGMA_CONFIDENCE = float(stats.norm.cdf(1.0) - stats.norm.cdf(-1.0))  # 0.6827
DEFAULT_SIGNAL_EFFICIENCIES = (0.9,)
SCORE_BINS = 50


def check_classifier_outputs(labels, scores, class_names: Sequence[str]):
    """Validate labels, scores and class names.

    Args:
        labels, scores, class_names: see the module docstring.

    Returns:
        ``(labels, scores)`` as an int64 and a float64 array.

    Raises:
        EvaluationError: one line naming the argument at fault.

    >>> check_classifier_outputs([0, 1], [[0.8, 0.2], [0.3, 0.7]], ["a", "b"])[0]
    array([0, 1])
    """
    labels = check_labels(labels, class_names)
    names = list(class_names)
    scores = np.asarray(scores, dtype=np.float64)
    expected = [(len(labels), len(names))] + ([(len(labels),)] if len(names) == 2 else [])
    if scores.shape not in expected:
        raise EvaluationError(
            f"scores must have shape {' or '.join(map(str, expected))}, got {scores.shape}"
        )
    require_finite("scores", scores)
    return labels, scores


def check_labels(labels, class_names: Sequence[str]) -> np.ndarray:
    """Validate class names and integer labels.

    Returns:
        the labels as an int64 array.

    >>> check_labels([0, 2], ["a", "b"])
    Traceback (most recent call last):
    ...
    smartml.metrics.checks.EvaluationError: labels must be class indices 0 … 1, got 2 (index 1)
    """
    names = list(class_names)
    if (
        len(names) < 2
        or len(set(names)) != len(names)
        or not all(isinstance(c, str) for c in names)
    ):
        raise EvaluationError(f"class_names must be 2 or more unique strings, got {class_names!r}")
    raw = np.asarray(labels)
    if raw.ndim != 1 or raw.size == 0 or not np.issubdtype(raw.dtype, np.integer):
        raise EvaluationError(
            f"labels must be a non-empty 1-D integer array, got shape {raw.shape} of {raw.dtype}"
        )
    labels = raw.astype(np.int64)
    outside = (labels < 0) | (labels >= len(names))
    if outside.any():
        raise EvaluationError(
            f"labels must be class indices 0 … {len(names) - 1}, got {labels[outside][0]} "
            f"(index {int(np.argmax(outside))})"
        )
    return labels


def positive_index(class_names: Sequence[str], positive: str | int) -> int:
    """The index of the positive class, given by name or index.

    >>> positive_index(["pion", "muon"], "muon"), positive_index(["pion", "muon"], 0)
    (1, 0)
    """
    names = list(class_names)
    if isinstance(positive, str):
        if positive not in names:
            raise EvaluationError(f"positive class {positive!r} is not one of {names}")
        return names.index(positive)
    if isinstance(positive, bool) or not isinstance(positive, int | np.integer):
        raise EvaluationError(f"positive must be a class name or index, got {positive!r}")
    if not 0 <= positive < len(names):
        raise EvaluationError(f"positive class index {positive} is not in 0 … {len(names) - 1}")
    return int(positive)


def positive_scores(labels, scores, class_names, positive) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated inputs reduced to one-vs-rest.

    Returns:
        ``(labels, score of the positive class (n,), positive index)``.

    Raises:
        EvaluationError: (n,) scores (which are the second class's) with the first
            class as positive.
    """
    labels, scores = check_classifier_outputs(labels, scores, class_names)
    index = positive_index(class_names, positive)
    if scores.ndim == 1:
        if index != 1:
            raise EvaluationError(
                f"(n,) scores are those of {class_names[1]!r}; pass (n, 2) scores to make "
                f"{class_names[index]!r} the positive class"
            )
        return labels, scores, index
    return labels, scores[:, index], index


def roc(labels, scores, class_names: Sequence[str], positive: str | int) -> dict:
    """ROC curve (``sklearn.metrics.roc_curve``) and its area.

    Returns:
        JSON-safe ``{"background_efficiency", "signal_efficiency", "thresholds"}``
        (lists, the curve; the first threshold is +inf, as sklearn gives it, written
        as None) and ``"auc"`` (``sklearn.metrics.roc_auc_score``).

    Raises:
        EvaluationError: the sample lacks signal or background.
    """
    labels, score, index = positive_scores(labels, scores, class_names, positive)
    is_signal = _both_present(labels == index, class_names[index])
    fpr, tpr, thresholds = sk_metrics.roc_curve(is_signal, score)
    return {
        "background_efficiency": fpr.tolist(),
        "signal_efficiency": tpr.tolist(),
        "thresholds": [float(t) if np.isfinite(t) else None for t in thresholds],
        "auc": float(sk_metrics.roc_auc_score(is_signal, score)),
    }


def threshold_for_efficiency(signal_scores: np.ndarray, efficiency: float) -> float:
    """The highest threshold that selects at least ``efficiency`` of the signal.

    Args:
        signal_scores: (n,) positive scores of the signal examples.
        efficiency: target fraction in (0, 1].

    Returns:
        the threshold (selection: score >= threshold).

    >>> threshold_for_efficiency(np.array([0.1, 0.2, 0.3, 0.4]), 0.6)
    0.2
    """
    if not 0.0 < efficiency <= 1.0:
        raise EvaluationError(f"signal_efficiency must be in (0, 1], got {efficiency!r}")
    ordered = np.sort(signal_scores)[::-1]
    # The k highest scores make a fraction k/n >= efficiency: keep the k-th highest.
    k = max(1, math.ceil(efficiency * ordered.size - 1e-9))
    return float(ordered[k - 1])


def operating_point(
    labels,
    scores,
    class_names: Sequence[str],
    positive: str | int,
    *,
    threshold: float | None = None,
    signal_efficiency: float | None = None,
) -> dict:
    """Efficiencies of the selection ``positive score >= threshold``.

    Give exactly one of ``threshold`` and ``signal_efficiency`` (the threshold is
    then :func:`threshold_for_efficiency` on this sample).

    Returns:
        JSON-safe ``{"threshold", "signal_efficiency", "background_efficiency",
        "n_signal", "n_background", "misid": {other class: selected fraction}}``,
        plus ``"target_signal_efficiency"`` when one was given.
    """
    labels, score, index = positive_scores(labels, scores, class_names, positive)
    is_signal = _both_present(labels == index, class_names[index])
    if signal_efficiency is not None and threshold is None:
        cut = threshold_for_efficiency(score[is_signal], signal_efficiency)
    elif threshold is not None and signal_efficiency is None:
        cut = float(threshold)
    else:
        raise EvaluationError("give exactly one of threshold and signal_efficiency")
    selected = score >= cut
    point = {
        "threshold": cut,
        "signal_efficiency": float(np.mean(selected[is_signal])),
        "background_efficiency": float(np.mean(selected[~is_signal])),
        "n_signal": int(is_signal.sum()),
        "n_background": int((~is_signal).sum()),
        "misid": {
            name: float(np.mean(selected[labels == c]))
            for c, name in enumerate(class_names)
            if c != index and np.any(labels == c)
        },
    }
    if signal_efficiency is not None:
        point["target_signal_efficiency"] = float(signal_efficiency)
    return point


def predicted_classes(scores, class_names, positive=None, threshold: float | None = None):
    """The class each example is assigned.

    Without an operating point: the class of highest score ((n,) scores: the second
    class when the score is at least 0.5). With ``positive`` and ``threshold``: the
    positive class where its score is at least ``threshold``, else the highest
    scoring other class.

    Returns:
        (n,) class indices.

    >>> predicted_classes(np.array([[0.6, 0.4], [0.2, 0.8]]), ["a", "b"], "b", 0.3)
    array([1, 1])
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        cut = 0.5 if threshold is None else threshold
        if positive is not None and positive_index(class_names, positive) != 1:
            raise EvaluationError(f"(n,) scores are those of {class_names[1]!r}")
        return (scores >= cut).astype(np.int64)
    if threshold is None:
        return np.argmax(scores, axis=1)
    index = positive_index(class_names, positive)
    others = scores.copy()
    others[:, index] = -np.inf
    return np.where(scores[:, index] >= threshold, index, np.argmax(others, axis=1))


def confusion_matrix(labels, predicted, class_names: Sequence[str]) -> np.ndarray:
    """Counts of (true class, predicted class) pairs (``sklearn.metrics.confusion_matrix``).

    Returns:
        (C, C) integers: row = true class, column = predicted class.

    >>> confusion_matrix([0, 1, 1], [0, 0, 1], ["a", "b"]).tolist()
    [[1, 0], [1, 1]]
    """
    return sk_metrics.confusion_matrix(labels, predicted, labels=np.arange(len(class_names)))


def clopper_pearson(passed, total, confidence: float = ONE_SIGMA_CONFIDENCE):
    """Exact (Clopper–Pearson) binomial interval of an efficiency passed / total.

    Args:
        passed, total: counts (arrays or numbers), 0 <= passed <= total.
        confidence: central probability of the interval.

    Returns:
        ``(low, high)`` arrays; low = 0 when nothing passed, high = 1 when all did,
        NaN where total is 0.

    >>> low, high = clopper_pearson(0, 10, 0.95)
    >>> float(low), round(float(high), 4)
    (0.0, 0.3085)
    """
    passed = np.asarray(passed, dtype=np.float64)
    total = np.asarray(total, dtype=np.float64)
    if np.any(passed < 0) or np.any(passed > total):
        raise EvaluationError("clopper_pearson needs 0 <= passed <= total")
    tail = (1.0 - confidence) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(passed > 0, stats.beta.ppf(tail, passed, total - passed + 1), 0.0)
        high = np.where(passed < total, stats.beta.ppf(1 - tail, passed + 1, total - passed), 1.0)
    empty = total == 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def efficiency_per_bin(
    variable,
    labels,
    selected,
    class_names: Sequence[str],
    edges: np.ndarray,
    confidence: float = ONE_SIGMA_CONFIDENCE,
) -> pd.DataFrame:
    """Selected fraction of every true class in bins of a variable (e.g. momentum).

    Args:
        variable: (n,) values binned (outside the edges: not used).
        labels: (n,) true classes.
        selected: (n,) booleans, e.g. ``score >= threshold`` of an operating point.
        class_names: the class names.
        edges: bin edges (:mod:`smartml.metrics.binning`).
        confidence: of the Clopper–Pearson intervals.

    Returns:
        :func:`~smartml.metrics.binning.per_bin` frame with, per class c,
        ``c total``, ``c selected``, ``c efficiency``, ``c low``, ``c high``
        (the efficiency is NaN where the class has no example in the bin).
    """
    labels = check_labels(labels, class_names)
    selected = np.asarray(selected, dtype=bool)
    if selected.shape != labels.shape:
        raise EvaluationError(f"selected must have shape {labels.shape}, got {selected.shape}")
    functions = {}
    for c, name in enumerate(class_names):
        functions[f"{name} total"] = lambda rows, c=c: np.sum(labels[rows] == c)
        functions[f"{name} selected"] = lambda rows, c=c: np.sum(
            selected[rows] & (labels[rows] == c)
        )
    frame = binning.per_bin(variable, edges, functions)
    for name in class_names:
        passed, total = frame[f"{name} selected"], frame[f"{name} total"]
        with np.errstate(invalid="ignore", divide="ignore"):
            frame[f"{name} efficiency"] = passed / total
        frame[f"{name} low"], frame[f"{name} high"] = clopper_pearson(passed, total, confidence)
    return frame


def operating_points_per_bin(
    variable, labels, scores, class_names, positive, edges: np.ndarray, signal_efficiency: float
) -> pd.DataFrame:
    """The threshold reaching ``signal_efficiency`` in each bin, and its mis-ID there.

    Returns:
        per_bin frame with ``threshold``, ``signal_efficiency`` and
        ``background_efficiency`` (bins without signal or background: left out).
    """
    labels, score, index = positive_scores(labels, scores, class_names, positive)
    is_signal = (labels == index).astype(np.int64)
    names = _binary_names(class_names, index)

    def statistic(key: str):
        def in_bin(rows: np.ndarray) -> float:
            if is_signal[rows].min() == is_signal[rows].max():
                return np.nan  # no signal or no background in this bin
            return operating_point(
                is_signal[rows], score[rows], names, 1, signal_efficiency=signal_efficiency
            )[key]

        return in_bin

    keys = ("threshold", "signal_efficiency", "background_efficiency")
    frame = binning.per_bin(variable, edges, {key: statistic(key) for key in keys}, min_count=1)
    return frame.dropna(subset=["threshold"])


def classification_metrics(
    labels,
    scores,
    class_names: Sequence[str],
    positive: str | int,
    signal_efficiencies: Sequence[float] = DEFAULT_SIGNAL_EFFICIENCIES,
    thresholds: Sequence[float] = (),
) -> dict:
    """What a classifier's metrics.json holds.

    Returns:
        JSON-safe dict: ``positive_class``, ``n``, ``roc: {"auc"}``,
        ``operating_points`` (``efficiency_<percent>`` for each target signal
        efficiency, ``threshold_<value>`` for each threshold; "." written "p"),
        ``confusion_matrix: {"classes", "counts"}`` of the highest-score class
        (the positive one where its score is at least 0.5 for (n,) scores) and
        ``accuracy`` of that assignment.
    """
    labels, scores = check_classifier_outputs(labels, scores, class_names)
    index = positive_index(class_names, positive)
    points = {}
    for efficiency in signal_efficiencies:
        points[point_key("efficiency", 100 * efficiency)] = operating_point(
            labels, scores, class_names, index, signal_efficiency=efficiency
        )
    for threshold in thresholds:
        points[point_key("threshold", threshold)] = operating_point(
            labels, scores, class_names, index, threshold=threshold
        )
    predicted = predicted_classes(scores, class_names)
    return {
        "positive_class": class_names[index],
        "n": int(labels.size),
        "roc": {"auc": roc(labels, scores, class_names, index)["auc"]},
        "operating_points": points,
        "confusion_matrix": {
            "classes": list(class_names),
            "counts": confusion_matrix(labels, predicted, class_names).tolist(),
        },
        "accuracy": float(sk_metrics.accuracy_score(labels, predicted)),
    }


def roc_figure(
    labels,
    scores,
    class_names,
    positive,
    points: Mapping[str, dict] | None = None,
    run_name: str | None = None,
) -> Figure:
    """Signal efficiency against background efficiency, operating points marked.

    Args:
        labels, scores, class_names, positive: see the module docstring.
        points: ``{label: operating_point(...)}`` to mark.
        run_name: shown in the title.
    """
    curve = roc(labels, scores, class_names, positive)
    name = class_names[positive_index(class_names, positive)]
    figure, axes = new_axes()
    axes.plot(
        curve["background_efficiency"], curve["signal_efficiency"], label=f"AUC {curve['auc']:.4f}"
    )
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8, label="random")
    for label, point in (points or {}).items():
        axes.plot(
            point["background_efficiency"],
            point["signal_efficiency"],
            marker="o",
            linestyle="none",
            label=f"{label}: threshold {point['threshold']:.3g}",
        )
    axes.set(
        xlabel="background efficiency (mis-ID rate)",
        ylabel=f"{name} efficiency",
        title=title(f"ROC curve, {name} against the rest", run_name),
    )
    axes.legend(loc="lower right", fontsize="small")
    return figure


def score_figure(labels, scores, class_names, positive, run_name: str | None = None) -> Figure:
    """Density of the positive class's score for the examples of each true class."""
    labels, score, index = positive_scores(labels, scores, class_names, positive)
    inside_unit = score.min() >= 0.0 and score.max() <= 1.0
    value_range = (0.0, 1.0) if inside_unit else (float(score.min()), float(score.max()))
    figure, axes = new_axes()
    for c, name in enumerate(class_names):
        if np.any(labels == c):
            step_histogram(
                axes,
                score[labels == c],
                value_range,
                label=f"true {name}",
                density=True,
                bins=SCORE_BINS,
            )
    axes.set(
        xlabel=f"{class_names[index]} score",
        ylabel="density",
        title=title(f"{class_names[index]} score per true class", run_name),
    )
    axes.set_yscale("log")
    axes.legend(loc="upper center", fontsize="small")
    return figure


def efficiency_figure(
    frame: pd.DataFrame,
    class_names: Sequence[str],
    variable: str,
    variable_unit: str = "",
    selection: str = "selected",
    run_name: str | None = None,
) -> Figure:
    """Efficiency of each true class against a variable, Clopper–Pearson error bars.

    Args:
        frame: :func:`efficiency_per_bin`.
        class_names: the classes drawn (each one's columns must be in ``frame``).
        variable, variable_unit: the binned variable, in words.
        selection: what the efficiency is of, for the axis label.
        run_name: shown in the title.
    """
    figure, axes = new_axes()
    centre = frame["centre"].to_numpy(dtype=np.float64)
    half_width = (frame["high"] - frame["low"]).to_numpy(dtype=np.float64) / 2.0
    for name in class_names:
        efficiency, low, high = (
            frame[f"{name} {column}"].to_numpy(dtype=np.float64)
            for column in ("efficiency", "low", "high")
        )
        axes.errorbar(
            centre,
            efficiency,
            xerr=half_width,
            yerr=[efficiency - low, high - efficiency],
            marker="o",
            linestyle="none",
            capsize=2,
            label=f"true {name}",
        )
    axes.set(
        xlabel=axis_label(variable, variable_unit),
        ylabel=f"fraction {selection}",
        ylim=(0.0, 1.05),
        title=title(f"efficiency against {variable}", run_name),
    )
    legend_above_data(axes)
    return figure


def confusion_figure(counts: np.ndarray, class_names, run_name: str | None = None) -> Figure:
    """Confusion matrix, each row (true class) normalised to 1, counts written in."""
    counts = np.asarray(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        fractions = counts / counts.sum(axis=1, keepdims=True)
    figure, axes = new_axes(size=(1.6 * len(class_names) + 2.5, 1.4 * len(class_names) + 1.5))
    image = axes.imshow(fractions, vmin=0.0, vmax=1.0, cmap="Blues")
    figure.colorbar(image, ax=axes, label="fraction of the true class")
    for (row, column), count in np.ndenumerate(counts):
        colour = "white" if fractions[row, column] > 0.5 else "black"
        axes.text(
            column,
            row,
            f"{fractions[row, column]:.3f}\n({count})",
            ha="center",
            va="center",
            color=colour,
            fontsize="small",
        )
    ticks = np.arange(len(class_names))
    axes.set_xticks(ticks, class_names)
    axes.set_yticks(ticks, class_names)
    axes.set(
        xlabel="predicted class", ylabel="true class", title=title("confusion matrix", run_name)
    )
    return figure


def classification_figures(
    labels,
    scores,
    class_names: Sequence[str],
    positive: str | int,
    signal_efficiency: float = DEFAULT_SIGNAL_EFFICIENCIES[0],
    variables: Mapping[str, tuple[np.ndarray, np.ndarray, str]] | None = None,
    run_name: str | None = None,
) -> dict[str, Figure]:
    """Every figure of a classifier, at the operating point of ``signal_efficiency``.

    Args:
        labels, scores, class_names, positive: see the module docstring.
        signal_efficiency: the operating point marked on the ROC curve and used for
            the efficiency figures.
        variables: ``{name: ((n,) values, edges, unit)}``, one efficiency figure each.
        run_name: shown in the titles.

    Returns:
        ``{"roc", "scores", "confusion_matrix", "efficiency_vs_<v>": Figure}``.
    """
    labels, scores = check_classifier_outputs(labels, scores, class_names)
    point = operating_point(
        labels, scores, class_names, positive, signal_efficiency=signal_efficiency
    )
    label = f"{100 * signal_efficiency:g}% {class_names[positive_index(class_names, positive)]}"
    predicted = predicted_classes(scores, class_names)
    figures = {
        "roc": roc_figure(labels, scores, class_names, positive, {label: point}, run_name),
        "scores": score_figure(labels, scores, class_names, positive, run_name),
        "confusion_matrix": confusion_figure(
            confusion_matrix(labels, predicted, class_names), class_names, run_name
        ),
    }
    _, score, _ = positive_scores(labels, scores, class_names, positive)
    selected = score >= point["threshold"]
    for name, (values, edges, unit) in (variables or {}).items():
        frame = efficiency_per_bin(values, labels, selected, class_names, edges)
        key = f"efficiency_vs_{filename_safe([name], 'variables')[0]}"
        figures[key] = efficiency_figure(
            frame, class_names, name, unit, f"selected at {label} efficiency", run_name
        )
    return figures


def _both_present(is_signal: np.ndarray, name: str) -> np.ndarray:
    if is_signal.all() or not is_signal.any():
        which = "background" if is_signal.all() else f"signal ({name})"
        raise EvaluationError(f"labels have no {which} examples; need both signal and background")
    return is_signal


def _binary_names(class_names: Sequence[str], index: int) -> list[str]:
    return [f"not {class_names[index]}", class_names[index]]


def point_key(kind: str, value: float) -> str:
    """``efficiency_90``, ``threshold_0p5``: usable in a dotted metrics path.

    >>> point_key("efficiency", 99.5)
    'efficiency_99p5'
    """
    return f"{kind}_{value:g}".replace(".", "p").replace("-", "m")
