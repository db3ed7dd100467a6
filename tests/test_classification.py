"""Classifier evaluation against scikit-learn, scipy and direct counting."""

import json

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as sk_metrics

from smartml.metrics import binning
from smartml.metrics.classification import (
    classification_figures,
    classification_metrics,
    clopper_pearson,
    confusion_matrix,
    efficiency_per_bin,
    operating_point,
    operating_points_per_bin,
    predicted_classes,
    roc,
)

CLASSES = ["pion", "muon", "electron"]


def three_classes(n: int = 3000, seed: int = 0):
    """Labels, softmax probabilities that separate the classes imperfectly, and a
    momentum on which the separation improves."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    momentum = rng.uniform(1.0, 10.0, size=n)
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), labels] += 0.3 * momentum
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probabilities, momentum


def test_roc_and_auc_are_sklearns_one_vs_rest():
    labels, probabilities, _ = three_classes()
    curve = roc(labels, probabilities, CLASSES, "muon")
    fpr, tpr, _ = sk_metrics.roc_curve(labels == 1, probabilities[:, 1])
    np.testing.assert_allclose(curve["background_efficiency"], fpr)
    np.testing.assert_allclose(curve["signal_efficiency"], tpr)
    assert curve["thresholds"][0] is None
    assert curve["auc"] == pytest.approx(sk_metrics.roc_auc_score(labels == 1, probabilities[:, 1]))
    assert json.loads(json.dumps(curve)) == curve


def test_operating_point_for_a_target_efficiency_reaches_it_on_the_sample():
    labels, probabilities, _ = three_classes()
    point = operating_point(labels, probabilities, CLASSES, 1, signal_efficiency=0.9)
    muon_scores = probabilities[labels == 1, 1]
    selected = probabilities[:, 1] >= point["threshold"]
    assert point["signal_efficiency"] == pytest.approx(np.mean(selected[labels == 1]))
    assert 0.9 <= point["signal_efficiency"] < 0.9 + 1.5 / muon_scores.size
    # The highest such threshold: one step higher loses the target.
    assert np.mean(muon_scores > point["threshold"]) < 0.9
    assert point["background_efficiency"] == pytest.approx(np.mean(selected[labels != 1]))
    assert point["misid"] == {
        "pion": pytest.approx(np.mean(selected[labels == 0])),
        "electron": pytest.approx(np.mean(selected[labels == 2])),
    }
    assert point["target_signal_efficiency"] == 0.9
    assert point["n_signal"] == np.sum(labels == 1)


def test_operating_point_by_threshold_lies_on_the_sklearn_roc_curve():
    labels, probabilities, _ = three_classes()
    fpr, tpr, thresholds = sk_metrics.roc_curve(labels == 0, probabilities[:, 0])
    threshold = thresholds[len(thresholds) // 2]
    point = operating_point(labels, probabilities, CLASSES, "pion", threshold=threshold)
    assert point["signal_efficiency"] == pytest.approx(tpr[len(thresholds) // 2])
    assert point["background_efficiency"] == pytest.approx(fpr[len(thresholds) // 2])


def test_binary_scores_of_one_column_equal_two_column_probabilities():
    labels, probabilities, _ = three_classes()
    binary = (labels == 1).astype(int)
    p_muon = probabilities[:, 1]
    two_columns = np.stack([1 - p_muon, p_muon], axis=1)
    names = ["other", "muon"]
    assert roc(binary, p_muon, names, "muon")["auc"] == roc(binary, two_columns, names, 1)["auc"]
    one = operating_point(binary, p_muon, names, "muon", signal_efficiency=0.8)
    two = operating_point(binary, two_columns, names, "muon", signal_efficiency=0.8)
    assert one == two
    with pytest.raises(ValueError, match=r"\(n,\) scores are those of 'muon'"):
        roc(binary, p_muon, names, "other")


def test_confusion_matrix_counts_pairs_at_an_operating_point():
    labels, probabilities, _ = three_classes()
    argmax = predicted_classes(probabilities, CLASSES)
    np.testing.assert_array_equal(argmax, probabilities.argmax(axis=1))
    at_point = predicted_classes(probabilities, CLASSES, "muon", threshold=0.2)
    assert np.all(at_point[probabilities[:, 1] >= 0.2] == 1)
    rest = probabilities[:, [0, 2]].argmax(axis=1)
    np.testing.assert_array_equal(
        at_point[probabilities[:, 1] < 0.2], np.array([0, 2])[rest][probabilities[:, 1] < 0.2]
    )
    matrix = confusion_matrix(labels, at_point, CLASSES)
    for true in range(3):
        for predicted in range(3):
            assert matrix[true, predicted] == np.sum((labels == true) & (at_point == predicted))


def test_clopper_pearson_matches_scipy_binomtest():
    for passed, total in [(0, 10), (3, 10), (10, 10), (47, 200), (1, 1)]:
        low, high = clopper_pearson(passed, total, confidence=0.9)
        expected = stats.binomtest(passed, total).proportion_ci(0.9, method="exact")
        assert float(low) == pytest.approx(expected.low, abs=1e-12)
        assert float(high) == pytest.approx(expected.high, abs=1e-12)
    low, high = clopper_pearson(np.array([0, 2]), np.array([0, 4]))
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert low[1] < 0.5 < high[1]


def test_efficiency_per_bin_counts_each_class_with_exact_intervals():
    labels, probabilities, momentum = three_classes()
    selected = probabilities[:, 1] >= 0.5
    edges = binning.explicit_edges([1.0, 4.0, 7.0, 10.0])
    frame = efficiency_per_bin(momentum, labels, selected, CLASSES, edges)
    assert frame.index.tolist() == [0, 1, 2]
    for b in range(3):
        in_bin = (momentum >= edges[b]) & (momentum <= edges[b + 1])
        for c, name in enumerate(CLASSES):
            total = np.sum(in_bin & (labels == c))
            passed = np.sum(in_bin & (labels == c) & selected)
            assert frame.loc[b, f"{name} total"] == total
            assert frame.loc[b, f"{name} efficiency"] == pytest.approx(passed / total)
            ci = stats.binomtest(int(passed), int(total)).proportion_ci(0.6826894921370859)
            assert frame.loc[b, f"{name} low"] == pytest.approx(ci.low)
            assert frame.loc[b, f"{name} high"] == pytest.approx(ci.high)
    # The separation improves with momentum.
    assert frame["muon efficiency"].is_monotonic_increasing
    assert frame["pion efficiency"].is_monotonic_decreasing


def test_operating_points_per_bin_reach_the_target_in_each_bin():
    labels, probabilities, momentum = three_classes()
    edges = binning.equal_population_edges(momentum, 3)
    frame = operating_points_per_bin(momentum, labels, probabilities, CLASSES, "muon", edges, 0.8)
    assert len(frame) == 3
    for b, row in frame.iterrows():
        in_bin = (momentum >= edges[b]) & (momentum <= edges[b + 1])
        expected = operating_point(
            labels[in_bin], probabilities[in_bin], CLASSES, 1, signal_efficiency=0.8
        )
        assert row["threshold"] == expected["threshold"]
        assert row["background_efficiency"] == pytest.approx(expected["background_efficiency"])
    assert frame["threshold"].is_monotonic_increasing


def test_metrics_are_json_and_readable_by_dotted_paths():
    labels, probabilities, _ = three_classes()
    result = classification_metrics(labels, probabilities, CLASSES, "muon", (0.9, 0.995), (0.5,))
    assert json.loads(json.dumps(result)) == result
    assert set(result["operating_points"]) == {"efficiency_90", "efficiency_99p5", "threshold_0p5"}
    assert result["accuracy"] == pytest.approx(np.mean(probabilities.argmax(axis=1) == labels))
    assert (
        result["confusion_matrix"]["counts"]
        == sk_metrics.confusion_matrix(labels, probabilities.argmax(axis=1)).tolist()
    )
    assert result["roc"]["auc"] == roc(labels, probabilities, CLASSES, 1)["auc"]


def test_figures_show_the_computed_curves_and_counts():
    labels, probabilities, momentum = three_classes()
    edges = binning.explicit_edges([1.0, 5.5, 10.0])
    figures = classification_figures(
        labels,
        probabilities,
        CLASSES,
        "muon",
        variables={"track momentum": (momentum, edges, "GeV")},
        run_name="pointnet",
    )
    assert set(figures) == {"roc", "scores", "confusion_matrix", "efficiency_vs_track_momentum"}

    roc_axes = figures["roc"].axes[0]
    curve = roc(labels, probabilities, CLASSES, "muon")
    roc_line = roc_axes.get_lines()[0]
    np.testing.assert_allclose(roc_line.get_xdata(), curve["background_efficiency"])
    assert roc_line.get_label() == f"AUC {curve['auc']:.4f}"
    assert roc_axes.get_ylabel() == "muon efficiency"
    assert roc_axes.get_title() == "ROC curve, muon against the rest — pointnet"
    point = operating_point(labels, probabilities, CLASSES, "muon", signal_efficiency=0.9)
    marker = roc_axes.get_lines()[2]
    assert marker.get_xdata()[0] == point["background_efficiency"]

    score_axes = figures["scores"].axes[0]
    patches = {p.get_label(): p.get_data() for p in score_axes.patches}
    pion = patches["true pion"]
    np.testing.assert_allclose(
        pion.values, np.histogram(probabilities[labels == 0, 1], bins=pion.edges, density=True)[0]
    )

    image = figures["confusion_matrix"].axes[0].get_images()[0].get_array()
    counts = sk_metrics.confusion_matrix(labels, probabilities.argmax(axis=1))
    np.testing.assert_allclose(image, counts / counts.sum(axis=1, keepdims=True))

    efficiency_axes = figures["efficiency_vs_track_momentum"].axes[0]
    assert efficiency_axes.get_xlabel() == "track momentum [GeV]"
    frame = efficiency_per_bin(
        momentum, labels, probabilities[:, 1] >= point["threshold"], CLASSES, edges
    )
    muon_points = efficiency_axes.containers[1]  # errorbar containers, in class order
    assert muon_points.get_label() == "true muon"
    np.testing.assert_allclose(muon_points.lines[0].get_ydata(), frame["muon efficiency"])


@pytest.mark.parametrize(
    ("labels", "scores", "names", "match"),
    [
        (
            [0, 1, 2],
            np.ones((3, 2)),
            ["a", "b"],
            r"labels must be class indices 0 … 1, got 2 \(index 2\)",
        ),
        ([0.0, 1.0], np.ones((2, 2)), ["a", "b"], "labels must be a non-empty 1-D integer array"),
        ([0, 1], np.ones((2, 3)), ["a", "b"], r"scores must have shape \(2, 2\) or \(2,\)"),
        ([0, 1], np.ones(2), ["a", "b", "c"], r"scores must have shape \(2, 3\), got \(2,\)"),
        ([0, 1], [0.5, np.nan], ["a", "b"], "scores contains 1 NaN"),
        ([0, 1], np.ones(2), ["a", "a"], "class_names must be 2 or more unique strings"),
        ([1, 1], np.ones(2), ["a", "b"], "labels have no background examples"),
    ],
)
def test_bad_inputs_raise_one_line(labels, scores, names, match):
    with pytest.raises(ValueError, match=match) as error:
        roc(np.asarray(labels), scores, names, 1)
    assert "\n" not in str(error.value)


def test_operating_point_needs_one_criterion():
    labels, probabilities, _ = three_classes(n=100)
    with pytest.raises(ValueError, match="exactly one of threshold and signal_efficiency"):
        operating_point(labels, probabilities, CLASSES, 1)
    with pytest.raises(ValueError, match=r"signal_efficiency must be in \(0, 1\]"):
        operating_point(labels, probabilities, CLASSES, 1, signal_efficiency=1.5)
    with pytest.raises(ValueError, match="positive class 'kaon' is not one of"):
        operating_point(labels, probabilities, CLASSES, "kaon", threshold=0.5)
