"""Look at a tabular classifier's input features before training: each feature's
distribution per class and in the train and test splits, and the correlations
between features per class.

Inputs, for ``k`` features and ``C`` classes: ``train`` (n_train, k) and ``test``
(n_test, k) feature values, ``train_labels`` and ``test_labels`` their integer
classes 0 … C−1, ``feature_names`` the k names, ``class_names`` the C names (e.g.
``["background", "signal"]``).

Histograms of one feature share their bins: equal widths over the central 99% of
the feature's values in both splits (a few outliers do not squeeze the core).
Each is normalised to unit area *over all its events*: events outside the axis
count in the normalisation, so a curve that lies lower has events outside.

Correlations are ``numpy.corrcoef`` of each class's events (train and test); a
feature that is constant within a class (e.g. the jet p_T of a process without
jets, filled with one value) has no correlation: NaN in the matrix, None in the
numbers, blank in the figure.

>>> features = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 5.0], [4.0, 5.0]])
>>> matrices = correlations(features, np.array([0, 0, 1, 1]), ["b", "s"], ["x", "y"])
>>> np.round(matrices["b"]["matrix"], 6).tolist(), matrices["s"]["matrix"]
([[1.0, -1.0], [-1.0, 1.0]], [[1.0, None], [None, None]])
"""

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from smartml.metrics.checks import EvaluationError, require_finite
from smartml.metrics.classification import check_labels
from smartml.metrics.figures import (
    axis_label,
    central_range,
    filename_safe,
    legend_above_data,
    new_axes,
    title,
)

FEATURE_BINS = 50
SPLITS = ("train", "test")
# Same colour per class in both panels; the test split dashed.
SPLIT_STYLES = {"train": "-", "test": "--"}


def check_features(name: str, features, feature_names: Sequence[str]) -> np.ndarray:
    """``features`` as a finite (n, k) float64 array, k = len(feature_names).

    >>> check_features("train", [[1.0, 2.0]], ["a"])
    Traceback (most recent call last):
    ...
    smartml.metrics.checks.EvaluationError: train must have shape (n, 1) ... got (1, 2)
    """
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != len(feature_names) or array.shape[0] == 0:
        raise EvaluationError(
            f"{name} must have shape (n, {len(feature_names)}) for the features "
            f"{list(feature_names)}, got {array.shape}"
        )
    require_finite(name, array)
    return array


def common_edges(values: np.ndarray, bins: int = FEATURE_BINS) -> np.ndarray:
    """Equal-width edges over the central 99% of ``values`` (the feature in every
    sample that is drawn).

    >>> common_edges(np.arange(201.0), bins=2).tolist()
    [1.0, 100.0, 199.0]
    """
    low, high = central_range(values)
    return np.linspace(low, high, bins + 1)


def normalised_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Histogram of ``values`` on ``edges`` divided by (all events × bin width).

    >>> normalised_counts(np.array([0.5, 1.5, 1.6, 9.0]), np.array([0.0, 1.0, 2.0])).tolist()
    [0.25, 0.5]
    """
    counts, _ = np.histogram(values, bins=edges)
    return counts / (values.size * np.diff(edges))


def feature_figure(
    train: np.ndarray,
    train_labels: np.ndarray,
    test: np.ndarray,
    test_labels: np.ndarray,
    name: str,
    class_names: Sequence[str],
    unit: str = "",
    run_name: str | None = None,
) -> Figure:
    """One feature, two panels on common bins: the classes compared (both splits
    together), and train (solid) against test (dashed) per class.

    Args:
        train, test: (n,) values of the feature in each split.
        train_labels, test_labels: their classes.
        name, unit: the feature; class_names: the C class names.
        run_name: shown in the title.
    """
    edges = common_edges(np.concatenate([train, test]))
    figure, (by_class, by_split) = new_axes(2, size=(11.0, 4.4))
    values = np.concatenate([train, test])
    labels = np.concatenate([train_labels, test_labels])
    samples = {"train": (train, train_labels), "test": (test, test_labels)}
    for c, class_name in enumerate(class_names):
        colour = f"C{c}"
        _draw(by_class, values[labels == c], edges, class_name, colour, "-")
        for split, (split_values, split_labels) in samples.items():
            label = f"{class_name} {split}"
            _draw(
                by_split, split_values[split_labels == c], edges, label, colour, SPLIT_STYLES[split]
            )
    for axes, what in ((by_class, "per class"), (by_split, "train and test")):
        axes.set(xlabel=axis_label(name, unit), ylabel="normalised events")
        axes.set_title(title(f"{name} {what}", run_name), fontsize="medium")
        legend_above_data(axes)
    return figure


def _draw(axes: Axes, values: np.ndarray, edges: np.ndarray, label: str, colour: str, style: str):
    """A normalised step histogram; a class absent from a split is left out."""
    if values.size:
        axes.stairs(
            normalised_counts(values, edges),
            edges,
            label=label,
            color=colour,
            linestyle=style,
            linewidth=1.5,
        )


def correlations(
    features: np.ndarray, labels: np.ndarray, class_names: Sequence[str], feature_names
) -> dict:
    """Pearson correlation matrix of the features of each class (``numpy.corrcoef``).

    Args:
        features: (n, k) values; labels: (n,) their classes.
        class_names, feature_names: the names.

    Returns:
        ``{class name: {"features": names, "events": n_c, "matrix": k × k lists}}``,
        None where a feature is constant in that class.

    Raises:
        EvaluationError: a class with fewer than two events.
    """
    result = {}
    for c, class_name in enumerate(class_names):
        matrix = class_correlation(features[labels == c], class_name)
        result[class_name] = {
            "features": list(feature_names),
            "events": int(np.sum(labels == c)),
            "matrix": [[None if np.isnan(r) else float(r) for r in row] for row in matrix],
        }
    return result


def class_correlation(features: np.ndarray, class_name: str) -> np.ndarray:
    """``numpy.corrcoef`` of one class's (n, k) features; NaN rows and columns for
    constant features (numpy would divide by zero)."""
    if len(features) < 2:
        raise EvaluationError(
            f"class {class_name!r} has {len(features)} events; correlations need at least 2"
        )
    varying = np.ptp(features, axis=0) > 0
    k = features.shape[1]
    matrix = np.full((k, k), np.nan)
    if varying.sum() == 1:
        matrix[varying, varying] = 1.0
    elif varying.any():
        matrix[np.ix_(varying, varying)] = np.corrcoef(features[:, varying], rowvar=False)
    return matrix


def correlation_figure(
    matrix, feature_names: Sequence[str], class_name: str, run_name: str | None = None
) -> Figure:
    """The correlation matrix of one class, values written in; NaN (a constant
    feature) left blank."""
    values = np.array(matrix, dtype=np.float64)
    k = len(feature_names)
    size = 0.55 * k + 3.0
    figure, axes = new_axes(size=(size + 1.2, size))
    image = axes.imshow(np.ma.masked_invalid(values), vmin=-1.0, vmax=1.0, cmap="RdBu_r")
    figure.colorbar(image, ax=axes, label="correlation coefficient")
    if k <= 20:  # beyond, the numbers would not be readable
        for (row, column), value in np.ndenumerate(values):
            if np.isfinite(value):
                axes.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize="x-small")
    ticks = np.arange(k)
    axes.set_xticks(ticks, feature_names, rotation=90)
    axes.set_yticks(ticks, feature_names)
    axes.set(
        xlabel="feature", ylabel="feature", title=title(f"correlations: {class_name}", run_name)
    )
    return figure


def feature_validation(
    train,
    train_labels,
    test,
    test_labels,
    feature_names: Sequence[str],
    class_names: Sequence[str],
    units: dict[str, str] | None = None,
    run_name: str | None = None,
) -> tuple[dict, dict[str, Figure]]:
    """The feature plots and correlation matrices of a tabular classifier's inputs.

    Args:
        train, test: (n_train, k) and (n_test, k) features; train_labels,
            test_labels: their classes (see the module docstring).
        feature_names, class_names: the names; units: unit of each feature name.
        run_name: shown in the titles.

    Returns:
        ``(numbers, figures)``: numbers ``{"correlation": correlations(...)}`` of both
        splits together; figures ``{"feature_<name>": ..., "correlation_<class>": ...}``.
    """
    names = list(feature_names)
    train = check_features("train", train, names)
    test = check_features("test", test, names)
    train_labels = _aligned_labels("train_labels", train_labels, class_names, train)
    test_labels = _aligned_labels("test_labels", test_labels, class_names, test)
    units = units or {}
    figures = {}
    for index, (name, stem) in enumerate(
        zip(names, filename_safe(names, "feature names"), strict=True)
    ):
        figures[f"feature_{stem}"] = feature_figure(
            train[:, index],
            train_labels,
            test[:, index],
            test_labels,
            name,
            class_names,
            units.get(name, ""),
            run_name,
        )
    both = np.concatenate([train, test])
    labels = np.concatenate([train_labels, test_labels])
    numbers = {"correlation": correlations(both, labels, class_names, names)}
    stems = filename_safe(class_names, "class names")
    for class_name, stem in zip(class_names, stems, strict=True):
        figures[f"correlation_{stem}"] = correlation_figure(
            numbers["correlation"][class_name]["matrix"], names, class_name, run_name
        )
    return numbers, figures


def _aligned_labels(name: str, labels, class_names: Sequence[str], features: np.ndarray):
    labels = check_labels(labels, class_names)
    if labels.size != len(features):
        raise EvaluationError(
            f"{name} has {labels.size} entries for {len(features)} events; they must align"
        )
    return labels
