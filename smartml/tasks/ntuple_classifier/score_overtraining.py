"""Overtraining check of a classifier: the score distributions of the training and
the test events, overlaid per true class, with the Kolmogorov–Smirnov test of each
class's two samples (``scipy.stats.ks_2samp``, two-sided).

A network that learnt the training events by heart scores them more confidently
than unseen ones: the train and test distributions of a class then differ and the
KS p-value is small. With no overtraining it is uniform in (0, 1), so one small
p-value among many classes or runs is expected now and then.

Inputs as in :mod:`smartml.metrics.classification`, for each split: integer
labels (n,) and scores (n, C) or (n,); the score shown is the ``positive`` class's.

>>> train_labels, test_labels = np.array([0, 0, 1, 1]), np.array([0, 1])
>>> result = ks_per_class(train_labels, np.array([0.1, 0.2, 0.8, 0.9]), test_labels,
...                       np.array([0.15, 0.85]), ["background", "signal"], "signal")
>>> result["signal"]["ks_statistic"], result["signal"]["ks_p_value"]
(0.5, 1.0)
"""

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from smartml.metrics.checks import EvaluationError
from smartml.metrics.classification import SCORE_BINS, positive_index, positive_scores
from smartml.metrics.figures import legend_above_data, new_axes, title

SPLIT_STYLES = {"train": "-", "test": "--"}


def ks_per_class(
    train_labels,
    train_scores,
    test_labels,
    test_scores,
    class_names: Sequence[str],
    positive: str | int,
) -> dict:
    """Kolmogorov–Smirnov comparison of the train and test scores of each class.

    Args:
        train_labels, train_scores, test_labels, test_scores: see the module docstring.
        class_names: the C names; positive: the class whose score is compared.

    Returns:
        JSON-safe ``{class name: {"train_events", "test_events", "ks_statistic",
        "ks_p_value"}}``.

    Raises:
        EvaluationError: a class without events in one of the splits.
    """
    train = _split_scores(train_labels, train_scores, class_names, positive)
    test = _split_scores(test_labels, test_scores, class_names, positive)
    result = {}
    for class_name in class_names:
        for split, samples in (("train", train), ("test", test)):
            if samples[class_name].size == 0:
                raise EvaluationError(
                    f"class {class_name!r} has no {split} events; the overtraining check "
                    "compares both splits of every class"
                )
        test_result = stats.ks_2samp(train[class_name], test[class_name])
        result[class_name] = {
            "train_events": int(train[class_name].size),
            "test_events": int(test[class_name].size),
            "ks_statistic": float(test_result.statistic),
            "ks_p_value": float(test_result.pvalue),
        }
    return result


def overtraining_check(
    train_labels,
    train_scores,
    test_labels,
    test_scores,
    class_names: Sequence[str],
    positive: str | int,
    run_name: str | None = None,
) -> tuple[dict, Figure]:
    """The overtraining figure and its numbers.

    Args:
        train_labels: as :func:`ks_per_class`, and so are the other arguments but the last.
        run_name: shown in the title.

    Returns:
        ``(numbers, figure)``: numbers of :func:`ks_per_class`; one axes with each
        class's train (solid) and test (dashed) score densities on common bins, the
        KS p-value in the class's test legend entry.
    """
    numbers = ks_per_class(
        train_labels, train_scores, test_labels, test_scores, class_names, positive
    )
    train = _split_scores(train_labels, train_scores, class_names, positive)
    test = _split_scores(test_labels, test_scores, class_names, positive)
    everything = np.concatenate([*train.values(), *test.values()])
    inside_unit = everything.min() >= 0.0 and everything.max() <= 1.0
    low, high = (0.0, 1.0) if inside_unit else (float(everything.min()), float(everything.max()))
    edges = np.linspace(low, high, SCORE_BINS + 1)
    figure, axes = new_axes()
    for c, class_name in enumerate(class_names):
        p_value = numbers[class_name]["ks_p_value"]
        for split, samples in (("train", train), ("test", test)):
            counts, _ = np.histogram(samples[class_name], bins=edges, density=True)
            label = f"{class_name} {split}"
            if split == "test":
                label += f" (KS p = {p_value:.3g})"
            axes.stairs(
                counts,
                edges,
                label=label,
                color=f"C{c}",
                linestyle=SPLIT_STYLES[split],
                linewidth=1.5,
            )
    positive_name = class_names[positive_index(class_names, positive)]
    axes.set(
        xlabel=f"{positive_name} score",
        ylabel="density",
        title=title("overtraining check: train and test scores", run_name),
    )
    legend_above_data(axes)
    return numbers, figure


def _split_scores(labels, scores, class_names, positive) -> dict[str, np.ndarray]:
    """The positive class's score of each class's events in one split."""
    labels, score, _ = positive_scores(labels, scores, class_names, positive)
    return {name: score[labels == c] for c, name in enumerate(class_names)}
