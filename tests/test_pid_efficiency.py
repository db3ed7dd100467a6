"""Pion efficiency and muon mis-ID per momentum bin, against direct counts, scipy and sklearn."""

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer
from scipy import stats
from sklearn import metrics as sk_metrics

from smartml.errors import OutputError
from smartml.evaluation.run import write_table
from smartml.metrics.checks import EvaluationError
from smartml.metrics.summary import summary_table
from smartml.tasks.rich_pid.pid_efficiency import (
    BASELINE_EFFICIENCY,
    GLOBAL_THRESHOLD,
    PidDefinition,
    fixed_width_edges,
    pid_figures,
    pid_metrics,
    pid_summary_metrics,
    predictions_table,
)

MUON, PION, POSITRON = 0, 1, 2
EDGES = fixed_width_edges(15.0, 45.0)
DEFINITION = PidDefinition()


def rich_like(n: int = 20_000, seed: int = 0, positrons: bool = False):
    """Labels, a net probability and a weaker baseline log-likelihood ratio whose
    separation falls with momentum (rings of π and μ converge)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3 if positrons else 2, n)
    momentum = rng.uniform(15.0, 45.0, n)
    sign = np.where(labels == PION, 1.0, -1.0)
    separation = 4.0 - 0.06 * momentum
    net = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.5 * separation * sign)))
    baseline = rng.normal(size=n) + separation * sign
    return labels, net, baseline, momentum


def column(metrics_block: dict, point: str, name: str) -> np.ndarray:
    table = metrics_block["operating_points"][point]["per_momentum_bin"]
    return np.array([np.nan if v is None else v for v in table[name]], dtype=float)


def brute_force_per_bin(momentum, labels, selected, cls):
    """Selected and total of class ``cls`` per 1 GeV/c bin, by plain loops."""
    passed, total = [], []
    for low in range(15, 45):
        high = low + 1
        in_bin = (momentum >= low) & ((momentum < high) | ((high == 45) & (momentum == 45)))
        total.append(np.sum(in_bin & (labels == cls)))
        passed.append(np.sum(in_bin & (labels == cls) & selected))
    return np.array(passed), np.array(total)


def test_fixed_width_edges_cover_the_range_in_steps():
    np.testing.assert_allclose(fixed_width_edges(15.0, 45.0), np.arange(15.0, 46.0))
    np.testing.assert_allclose(fixed_width_edges(0.0, 1.0, 0.3), [0.0, 0.3, 0.6, 0.9, 1.0])
    with pytest.raises(EvaluationError, match="finite low < high"):
        fixed_width_edges(45.0, 15.0)


@pytest.mark.parametrize("scorer", ["pid", "ring_fit_baseline"])
def test_global_threshold_efficiencies_per_bin_are_direct_counts(scorer):
    labels, net, baseline, momentum = rich_like()
    metrics = pid_metrics(labels, net, baseline, momentum, EDGES)
    block = metrics["pid"] if scorer == "pid" else metrics[scorer]["pid"]
    selected = net >= 0.5 if scorer == "pid" else baseline >= 0.0
    for cls, name in ((PION, "pion"), (MUON, "muon")):
        passed, total = brute_force_per_bin(momentum, labels, selected, cls)
        np.testing.assert_array_equal(column(block, GLOBAL_THRESHOLD, f"{name} total"), total)
        np.testing.assert_array_equal(column(block, GLOBAL_THRESHOLD, f"{name} selected"), passed)
        np.testing.assert_allclose(
            column(block, GLOBAL_THRESHOLD, f"{name} efficiency"), passed / total
        )
    point = block["operating_points"][GLOBAL_THRESHOLD]
    assert point["background_efficiency"] == pytest.approx(np.mean(selected[labels == MUON]))
    assert point["signal_efficiency"] == pytest.approx(np.mean(selected[labels == PION]))


def test_intervals_are_clopper_pearson_from_scipy_beta():
    labels, net, baseline, momentum = rich_like(5_000, seed=1)
    block = pid_metrics(labels, net, baseline, momentum, EDGES)["pid"]
    point = block["operating_points"][GLOBAL_THRESHOLD]
    tail = (1 - DEFINITION.confidence) / 2
    k, n = point["n_background_selected"], point["n_background"]
    expected_low = stats.beta.ppf(tail, k, n - k + 1) if k else 0.0
    assert point["background_interval"] == pytest.approx(
        [expected_low, stats.beta.ppf(1 - tail, k + 1, n - k)]
    )
    passed = column(block, GLOBAL_THRESHOLD, "pion selected")
    total = column(block, GLOBAL_THRESHOLD, "pion total")
    np.testing.assert_allclose(
        column(block, GLOBAL_THRESHOLD, "pion high"),
        np.where(passed < total, stats.beta.ppf(1 - tail, passed + 1, total - passed), 1.0),
    )


def test_target_efficiency_point_reaches_it_with_one_threshold():
    labels, net, baseline, momentum = rich_like()
    block = pid_metrics(labels, net, baseline, momentum, EDGES)["pid"]
    point = block["operating_points"]["efficiency_90"]
    n_pions = np.sum(labels == PION)
    assert 0.9 <= point["signal_efficiency"] < 0.9 + 1.5 / n_pions
    selected = net >= point["threshold"]
    assert point["background_efficiency"] == pytest.approx(np.mean(selected[labels == MUON]))
    assert point["target_signal_efficiency"] == 0.9


def test_baseline_efficiency_point_matches_the_baselines_pions_per_bin():
    labels, net, baseline, momentum = rich_like()
    metrics = pid_metrics(labels, net, baseline, momentum, EDGES)
    net_block, base_block = metrics["pid"], metrics["ring_fit_baseline"]["pid"]
    baseline_pions, total = brute_force_per_bin(momentum, labels, baseline >= 0.0, PION)
    net_pions = column(net_block, BASELINE_EFFICIENCY, "pion selected")
    # Equal within one event (continuous scores: exactly equal).
    assert np.abs(net_pions - baseline_pions).max() <= 1
    np.testing.assert_allclose(
        column(net_block, BASELINE_EFFICIENCY, "pion efficiency"),
        column(base_block, GLOBAL_THRESHOLD, "pion efficiency"),
        atol=1.0 / total.min(),
    )
    # The mis-ID is the muons above each bin's threshold, counted directly.
    thresholds = column(net_block, BASELINE_EFFICIENCY, "threshold")
    bins = np.clip(np.floor(momentum - 15).astype(int), 0, 29)
    muons_selected = [
        np.sum((bins == b) & (labels == MUON) & (net >= thresholds[b])) for b in range(30)
    ]
    np.testing.assert_array_equal(
        column(net_block, BASELINE_EFFICIENCY, "muon selected"), muons_selected
    )
    pooled = net_block["operating_points"][BASELINE_EFFICIENCY]
    assert pooled["n_background_selected"] == sum(muons_selected)
    assert pooled["background_efficiency"] == pytest.approx(
        sum(muons_selected) / np.sum(labels == MUON)
    )
    # A better scorer at equal pion efficiency has the lower mis-ID.
    assert (
        pooled["background_efficiency"]
        < (base_block["operating_points"][BASELINE_EFFICIENCY]["background_efficiency"])
    )


def test_bins_without_pions_have_no_operating_point_and_the_metrics_are_json():
    labels, net, baseline, momentum = rich_like(4_000, seed=2)
    labels[(momentum >= 20) & (momentum < 21)] = MUON
    metrics = pid_metrics(labels, net, baseline, momentum, EDGES)
    text = json.dumps(metrics, allow_nan=False)  # NaN would not be standard JSON
    table = json.loads(text)["pid"]["operating_points"][BASELINE_EFFICIENCY]["per_momentum_bin"]
    assert table["threshold"][5] is None and table["muon efficiency"][5] is None
    assert table["muon total"][5] > 0


def test_roc_areas_overall_and_per_range_are_sklearns():
    labels, net, baseline, momentum = rich_like()
    metrics = pid_metrics(labels, net, baseline, momentum, EDGES)
    for block, scores in ((metrics["pid"], net), (metrics["ring_fit_baseline"]["pid"], baseline)):
        assert block["roc"]["auc"] == pytest.approx(sk_metrics.roc_auc_score(labels, scores))
        for key, (low, high) in zip(("15_25", "25_35", "35_45"), DEFINITION.ranges, strict=True):
            rows = (momentum >= low) & (momentum < high)
            assert block["roc"]["per_range"][key]["auc"] == pytest.approx(
                sk_metrics.roc_auc_score(labels[rows], scores[rows])
            )


def test_confusion_matrix_counts_at_the_global_threshold():
    labels, net, baseline, momentum = rich_like(3_000, seed=3)
    block = pid_metrics(labels, net, baseline, momentum, EDGES)["ring_fit_baseline"]["pid"]
    called_pion = baseline >= 0.0
    expected = [
        [np.sum((labels == MUON) & ~called_pion), np.sum((labels == MUON) & called_pion)],
        [np.sum((labels == PION) & ~called_pion), np.sum((labels == PION) & called_pion)],
    ]
    assert block["confusion_matrix"] == {"classes": ["muon", "pion"], "counts": expected}


def test_positrons_are_left_out_and_class_probabilities_give_the_pion_column():
    labels, net, baseline, momentum = rich_like(6_000, seed=4, positrons=True)
    probabilities = np.stack([(1 - net) / 2, net, (1 - net) / 2], axis=1)
    three = PidDefinition(class_names=("muon", "pion", "positron"))
    metrics = pid_metrics(labels, probabilities, baseline, momentum, EDGES, three)
    kept = labels != POSITRON
    binary = pid_metrics(labels[kept], net[kept], baseline[kept], momentum[kept], EDGES)
    assert metrics["pid"]["n_other"] == np.sum(labels == POSITRON)
    metrics["pid"]["n_other"] = 0
    metrics["ring_fit_baseline"]["pid"]["n_other"] = 0
    assert metrics == binary


@pytest.mark.parametrize(
    ("argument", "bad", "message"),
    [
        ("net", np.nan, r"net_scores contains 1 NaN or inf values \(first at index \[7\]\)"),
        ("net", np.inf, r"net_scores contains 1 NaN or inf"),
        ("baseline", -np.inf, r"baseline_scores contains 1 NaN or inf values"),
        ("momentum", np.nan, r"momentum contains 1 NaN or inf values"),
    ],
)
def test_non_finite_scores_are_refused_in_one_line(argument, bad, message):
    labels, net, baseline, momentum = rich_like(100, seed=5)
    arrays = {"net": net, "baseline": baseline, "momentum": momentum}
    arrays[argument][7] = bad
    with pytest.raises(EvaluationError, match=message) as error:
        pid_metrics(labels, arrays["net"], arrays["baseline"], arrays["momentum"], EDGES)
    assert "\n" not in str(error.value)


def test_a_sample_without_muons_is_refused():
    labels, net, baseline, momentum = rich_like(100, seed=6)
    with pytest.raises(EvaluationError, match="labels have no muon events"):
        pid_metrics(np.ones_like(labels), net, baseline, momentum, EDGES)


def test_summary_table_shows_the_baseline_beside_the_net():
    labels, net, baseline, momentum = rich_like(5_000, seed=7)
    metrics = pid_metrics(labels, net, baseline, momentum, EDGES)
    summary = pid_summary_metrics()
    assert [metric.label for metric in summary] == [
        "pion/muon AUC",
        "muon mis-ID at 90% pion eff",
        "muon mis-ID at ring fit pion eff",
        "pion eff at ring fit operating point",
    ]
    rows = summary_table(metrics, summary, "pointnet").splitlines()
    assert rows[0].split()[-3:] == ["ring", "fit", "baseline"]
    base_misid = metrics["ring_fit_baseline"]["pid"]["operating_points"][BASELINE_EFFICIENCY]
    assert rows[3].endswith(f"{base_misid['background_efficiency']:.4g}")
    assert (
        summary[2].value(metrics)
        == (metrics["pid"]["operating_points"][BASELINE_EFFICIENCY]["background_efficiency"])
    )


def series(axes) -> dict[str, np.ndarray]:
    """The (x, y) points of every errorbar series, by label."""
    return {
        container.get_label(): container.lines[0].get_xydata()
        for container in axes.containers
        if isinstance(container, ErrorbarContainer)
    }


def test_misid_figure_plots_both_scorers_at_the_baseline_efficiency_on_log_axes():
    labels, net, baseline, momentum = rich_like()
    metrics = pid_metrics(labels, net, baseline, momentum, EDGES)
    figures = pid_figures(labels, net, baseline, momentum, EDGES, run_name="pointnet")
    axes = figures["pid_misid_vs_momentum"].axes[0]
    assert axes.get_yscale() == "log" and "pointnet" in axes.get_title()
    plotted = series(axes)
    assert set(plotted) == {"net", "ring fit"}
    for label, block in (
        ("net", metrics["pid"]),
        ("ring fit", metrics["ring_fit_baseline"]["pid"]),
    ):
        misid = column(block, BASELINE_EFFICIENCY, "muon efficiency")
        centres = np.arange(15.5, 45.0)
        seen = misid > 0
        np.testing.assert_allclose(plotted[label], np.stack([centres[seen], misid[seen]], axis=1))
        # Bins without a selected muon show the upper limit instead.
        limits = [line for line in axes.lines if line.get_label().startswith(f"{label}: none")]
        if (~seen).any():
            high = column(block, BASELINE_EFFICIENCY, "muon high")
            np.testing.assert_allclose(limits[0].get_ydata(), high[~seen])


def test_efficiency_and_roc_figures_hold_the_operating_points_and_curves():
    labels, net, baseline, momentum = rich_like(8_000, seed=8)
    metrics = pid_metrics(labels, net, baseline, momentum, EDGES)
    figures = pid_figures(labels, net, baseline, momentum, EDGES)
    assert set(figures) == {
        "pid_misid_vs_momentum",
        "pid_misid_vs_momentum_efficiency_90",
        "pid_misid_vs_momentum_baseline_efficiency_90",
        "pid_misid_vs_momentum_baseline_efficiency_95",
        "pid_efficiency_vs_momentum",
        "pid_roc",
        "pid_roc_per_range",
        "pid_confusion_matrix",
        "ring_fit_baseline_confusion_matrix",
    }
    plotted = series(figures["pid_efficiency_vs_momentum"].axes[0])
    expected = column(metrics["pid"], "efficiency_90", "pion efficiency")
    np.testing.assert_allclose(plotted["net, 90% overall"][:, 1], expected)
    np.testing.assert_allclose(
        plotted["ring fit, threshold 0"][:, 1],
        column(metrics["ring_fit_baseline"]["pid"], GLOBAL_THRESHOLD, "pion efficiency"),
    )
    roc_axes = figures["pid_roc"].axes[0]
    fpr, tpr, _ = sk_metrics.roc_curve(labels, baseline)
    line = next(line for line in roc_axes.lines if line.get_label().startswith("ring fit"))
    np.testing.assert_allclose(line.get_xydata(), np.stack([tpr[fpr > 0], fpr[fpr > 0]], axis=1))
    assert roc_axes.get_yscale() == "log"
    panels = figures["pid_roc_per_range"].axes
    assert [panel.get_title() for panel in panels] == [
        "15–25 GeV/c",
        "25–35 GeV/c",
        "35–45 GeV/c",
    ]
    image = figures["ring_fit_baseline_confusion_matrix"].axes[0].images[0]
    counts = np.array(metrics["ring_fit_baseline"]["pid"]["confusion_matrix"]["counts"])
    np.testing.assert_allclose(image.get_array(), counts / counts.sum(axis=1, keepdims=True))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predictions_file_round_trips(tmp_path, suffix):
    labels, net, baseline, momentum = rich_like(500, seed=9)
    ids = pd.DataFrame(
        {
            "run_id": np.full(500, 9001),
            "burst_id": np.arange(500) // 100,
            "event_id": np.arange(500),
        }
    )
    table = predictions_table(ids, labels, net, baseline, momentum)
    path = write_table(table, tmp_path / f"predictions{suffix}")
    read = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    assert list(read.columns) == [
        "run_id",
        "burst_id",
        "event_id",
        "momentum",
        "label",
        "class",
        "net_score",
        "baseline_score",
    ]
    np.testing.assert_array_equal(read["event_id"], np.arange(500))
    np.testing.assert_allclose(read["net_score"], net, rtol=1e-15)
    np.testing.assert_allclose(read["baseline_score"], baseline, rtol=1e-15)
    assert (read["class"] == np.where(labels == PION, "pion", "muon")).all()
    assert [p.name for p in tmp_path.iterdir()] == [f"predictions{suffix}"]  # no temporary left


def test_predictions_file_errors_are_one_line(tmp_path):
    labels, net, baseline, momentum = rich_like(10, seed=10)
    table = predictions_table(pd.DataFrame(index=range(10)), labels, net, baseline, momentum)
    with pytest.raises(EvaluationError, match=r"predictions.txt: predictions are written as"):
        write_table(table, tmp_path / "predictions.txt")
    with pytest.raises(OutputError, match="cannot write the predictions"):
        write_table(table, tmp_path / "missing" / "predictions.csv")
    with pytest.raises(EvaluationError, match=r"ids has 3 rows, expected one per event \(10\)"):
        predictions_table(pd.DataFrame(index=range(3)), labels, net, baseline, momentum)


@pytest.mark.parametrize("percent", [90, 95])
def test_at_the_baselines_overall_operating_point_each_bin_matches_its_efficiency(percent):
    """(d): the ring fit at the threshold giving it 90% (95%) of all pions; per bin the
    net keeps as many pions as the ring fit does there, and its mis-ID is compared
    with the ring fit's in binomial σ of both, recomputed here by hand."""
    labels, net, baseline, momentum = rich_like(30_000, seed=3)
    metrics = pid_metrics(labels, net, baseline, momentum, EDGES)
    key = f"baseline_efficiency_{percent}"
    pions = labels == PION
    cut = np.sort(baseline[pions])[::-1][int(np.ceil(percent / 100 * pions.sum())) - 1]
    ring_selected = baseline >= cut
    assert ring_selected[pions].mean() == pytest.approx(percent / 100, abs=1e-4)
    ring = metrics["ring_fit_baseline"]["pid"]
    passed, _ = brute_force_per_bin(momentum, labels, ring_selected, PION)
    np.testing.assert_array_equal(column(ring, key, "pion selected"), passed)
    net_block = metrics["pid"]
    np.testing.assert_array_equal(column(net_block, key, "pion selected"), passed)
    muon_total = column(net_block, key, "muon total")
    p_net, p_ring = column(net_block, key, "muon efficiency"), column(ring, key, "muon efficiency")
    sigma = np.sqrt((p_net * (1 - p_net) + p_ring * (1 - p_ring)) / muon_total)
    versus = net_block["operating_points"][key]["versus_baseline"]
    table = pd.DataFrame(versus["per_bin"])
    differ = p_net != p_ring  # equal (e.g. both 0): 0σ
    excess = np.zeros_like(p_net)
    excess[differ] = (p_net[differ] - p_ring[differ]) / sigma[differ]
    np.testing.assert_allclose(table["excess_sigma"], excess)
    below = int(np.sum(p_net < p_ring))
    worse = int(np.sum(excess > 2))
    assert versus["bins_below"] == below and versus["bins_worse"] == worse
    assert below + worse + versus["bins_within_2_sigma"] == len(EDGES) - 1
    assert below > 10  # the net is the better scorer in this sample (15 and 19 bins)


def test_versus_baseline_on_empty_and_certain_bins_is_json_safe():
    """A bin without muons has no verdict; one where both fractions are 0 or 1 but
    differ has no finite excess yet a verdict: the block stays strict JSON."""
    from smartml.tasks.rich_pid.pid_efficiency import versus_baseline

    def frame(efficiency):
        return pd.DataFrame(
            {
                "low": [15.0, 16.0, 17.0, 18.0],
                "high": [16.0, 17.0, 18.0, 19.0],
                "muon total": [0.0, 1.0, 1.0, 400.0],
                "muon efficiency": efficiency,
            }
        )

    table = versus_baseline(
        frame([np.nan, 1.0, 0.0, 0.05]), frame([np.nan, 0.0, 1.0, 0.02]), DEFINITION
    )
    assert table["verdict"].tolist() == ["no signal", "worse", "below", "worse"]
    assert np.isnan(table["excess_sigma"][:3]).all() and table["excess_sigma"][3] > 2
    assert table["background_events"].tolist() == [0, 1, 1, 400]


def test_a_small_sample_with_empty_bins_gives_strict_json():
    labels, net, baseline, momentum = rich_like(150, seed=5)
    metrics = pid_metrics(labels, net, baseline, momentum, EDGES)
    json.dumps(metrics, allow_nan=False)
