"""Feature validation plots of a tabular classifier (plotted data against numpy) and
the overtraining check (KS p-values against scipy)."""

import numpy as np
import pytest
from scipy import stats

from smartml.metrics.checks import EvaluationError
from smartml.tasks.ntuple_classifier.feature_validation import (
    common_edges,
    feature_validation,
)
from smartml.tasks.ntuple_classifier.score_overtraining import ks_per_class, overtraining_check

CLASSES = ["background", "signal"]
FEATURES = ["lep1_PT", "lep1_Eta", "nJet"]


def sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Signal at higher p_T, η correlated with p_T in the signal only; nJet always 0
    for the signal (a constant feature within a class)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    pt = rng.exponential(30.0, n) + 40.0 * labels
    eta = rng.normal(0, 1, n) + labels * 0.02 * pt
    jets = np.where(labels == 1, 0.0, rng.integers(0, 4, n).astype(float))
    return np.column_stack([pt, eta, jets]), labels


@pytest.fixture(scope="module")
def splits():
    train, train_labels = sample(3000, 1)
    test, test_labels = sample(1000, 2)
    return train, train_labels, test, test_labels


def test_feature_histograms_are_normalised_on_common_bins(splits):
    train, train_labels, test, test_labels = splits
    _, figures = feature_validation(
        train, train_labels, test, test_labels, FEATURES, CLASSES, {"lep1_PT": "GeV"}, "cls"
    )
    assert set(figures) == {
        "feature_lep1_PT",
        "feature_lep1_Eta",
        "feature_nJet",
        "correlation_background",
        "correlation_signal",
    }
    by_class, by_split = figures["feature_lep1_PT"].axes[:2]
    assert by_class.get_xlabel() == "lep1_PT [GeV]" and by_class.get_title().endswith("— cls")
    pt = np.concatenate([train[:, 0], test[:, 0]])
    labels = np.concatenate([train_labels, test_labels])
    edges = common_edges(pt)
    np.testing.assert_allclose(edges[[0, -1]], np.quantile(pt, [0.005, 0.995]))
    for patch, c in zip(by_class.patches, (0, 1), strict=True):
        heights, patch_edges, _ = patch.get_data()
        np.testing.assert_allclose(patch_edges, edges)
        values = pt[labels == c]
        expected = np.histogram(values, bins=edges)[0] / (values.size * np.diff(edges))
        np.testing.assert_allclose(heights, expected)
        assert patch.get_label() == CLASSES[c]
    split_labels = [patch.get_label() for patch in by_split.patches]
    assert split_labels == ["background train", "background test", "signal train", "signal test"]
    heights, _, _ = by_split.patches[3].get_data()
    values = test[test_labels == 1, 0]
    expected = np.histogram(values, bins=edges, density=False)[0] / (values.size * np.diff(edges))
    np.testing.assert_allclose(heights, expected)
    assert by_split.patches[3].get_linestyle() != by_split.patches[2].get_linestyle()


def test_correlations_per_class_match_numpy(splits):
    train, train_labels, test, test_labels = splits
    numbers, figures = feature_validation(train, train_labels, test, test_labels, FEATURES, CLASSES)
    both = np.concatenate([train, test])
    labels = np.concatenate([train_labels, test_labels])
    background = numbers["correlation"]["background"]
    np.testing.assert_allclose(
        background["matrix"], np.corrcoef(both[labels == 0], rowvar=False), atol=1e-12
    )
    assert background["events"] == int(np.sum(labels == 0))
    signal = numbers["correlation"]["signal"]["matrix"]
    expected = np.corrcoef(both[labels == 1][:, :2], rowvar=False)
    np.testing.assert_allclose(np.array(signal)[:2, :2].astype(float), expected, atol=1e-12)
    assert signal[2] == [None, None, None] and [row[2] for row in signal] == [None] * 3
    assert signal[0][1] > 0.3  # η follows p_T in the signal, as generated
    image = figures["correlation_signal"].axes[0].images[0]
    shown = image.get_array()
    np.testing.assert_allclose(shown[:2, :2], expected, atol=1e-12)
    assert shown.mask[2].all()  # the constant nJet is blank
    assert [t.get_text() for t in figures["correlation_signal"].axes[0].get_xticklabels()] == (
        FEATURES
    )


def test_bad_feature_inputs_are_named(splits):
    train, train_labels, test, test_labels = splits
    with pytest.raises(EvaluationError, match=r"^test must have shape \(n, 3\)"):
        feature_validation(train, train_labels, test[:, :2], test_labels, FEATURES, CLASSES)
    with pytest.raises(EvaluationError, match=r"^train_labels has 10 entries for 3000 events"):
        feature_validation(train, train_labels[:10], test, test_labels, FEATURES, CLASSES)
    bad = train.copy()
    bad[5, 1] = np.nan
    with pytest.raises(EvaluationError, match=r"^train contains 1 NaN or inf"):
        feature_validation(bad, train_labels, test, test_labels, FEATURES, CLASSES)


# -- overtraining -----------------------------------------------------------------------


def scores(n: int, seed: int, sharpen: float = 1.0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    logit = (2 * labels - 1) * rng.exponential(1.5 * sharpen, n) + rng.normal(0, 1, n)
    return labels, 1 / (1 + np.exp(-logit))


def test_ks_p_values_match_scipy_and_flag_overtraining():
    train_labels, train_scores = scores(2000, 1, sharpen=2.0)  # overconfident on train
    test_labels, test_scores = scores(1000, 2)
    result = ks_per_class(train_labels, train_scores, test_labels, test_scores, CLASSES, "signal")
    for c, name in enumerate(CLASSES):
        expected = stats.ks_2samp(train_scores[train_labels == c], test_scores[test_labels == c])
        assert result[name]["ks_p_value"] == expected.pvalue
        assert result[name]["ks_statistic"] == expected.statistic
        assert result[name]["train_events"] == np.sum(train_labels == c)
        assert result[name]["ks_p_value"] < 1e-6
    same_labels, same_scores = scores(1000, 3)  # the same distribution as seed 4
    unbiased = ks_per_class(*scores(2000, 4), same_labels, same_scores, CLASSES, "signal")
    assert min(unbiased[name]["ks_p_value"] for name in CLASSES) > 1e-3


def test_overtraining_figure_shows_both_splits_with_p_values():
    train_labels, train_scores = scores(2000, 1)
    test_labels, test_scores = scores(1000, 2)
    two_column = np.column_stack([1 - test_scores, test_scores])
    numbers, figure = overtraining_check(
        train_labels, train_scores, test_labels, two_column, CLASSES, "signal", "cls"
    )
    axes = figure.axes[0]
    assert axes.get_title().endswith("— cls") and axes.get_xlabel() == "signal score"
    labels = [patch.get_label() for patch in axes.patches]
    p_signal = numbers["signal"]["ks_p_value"]
    p_background = numbers["background"]["ks_p_value"]
    assert labels[:2] == ["background train", f"background test (KS p = {p_background:.3g})"]
    assert labels[3] == f"signal test (KS p = {p_signal:.3g})"
    heights, edges, _ = axes.patches[3].get_data()
    assert edges[0] == 0.0 and edges[-1] == 1.0
    expected, _ = np.histogram(test_scores[test_labels == 1], bins=edges, density=True)
    np.testing.assert_allclose(heights, expected)


def test_a_class_missing_from_a_split_is_named():
    train_labels, train_scores = scores(100, 1)
    with pytest.raises(EvaluationError, match=r"^class 'signal' has no test events"):
        ks_per_class(
            train_labels, train_scores, np.zeros(5, int), np.full(5, 0.2), CLASSES, "signal"
        )
