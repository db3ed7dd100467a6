"""smartml.analysis.pid_comparison: runs and their common baseline per momentum bin."""

from pathlib import Path

import numpy as np
import pytest

from smartml.analysis.pid_comparison import misid_at_baseline_efficiency
from smartml.analysis.run_contents import RunContents
from smartml.errors import SmartmlError
from smartml.tasks.rich_pid.pid_efficiency import fixed_width_edges, pid_metrics


def sample(seed: int, n: int = 4000):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    momentum = rng.uniform(15, 45, n)
    baseline = rng.normal(2.0 * labels - 1.0, 1.0)  # the same for every run below
    return labels, momentum, baseline, rng


def run(name: str, separation: float, baseline_seed: int = 0) -> RunContents:
    labels, momentum, baseline, rng = sample(baseline_seed)
    scores = 1 / (1 + np.exp(-rng.normal(separation * (2 * labels - 1), 1.0)))
    metrics = pid_metrics(labels, scores, baseline, momentum, fixed_width_edges(15, 45, 5.0))
    return RunContents(Path(name), name, {}, metrics, None)


def test_each_run_and_the_baseline_per_bin_at_the_baseline_efficiency():
    runs = [run("pointnet", 2.0), run("dgcnn", 0.5)]
    table, figure = misid_at_baseline_efficiency(runs)
    assert table["low"].tolist() == [15, 20, 25, 30, 35, 40]
    for contents in runs:
        stored = contents.metrics["pid"]["operating_points"]["baseline_efficiency"]
        assert table[f"muon mis-ID {contents.name}"].tolist() == pytest.approx(
            stored["per_momentum_bin"]["muon efficiency"]
        )
    # the better separated network has fewer muons called pions in every bin
    assert (table["muon mis-ID pointnet"] < table["muon mis-ID dgcnn"]).all()
    axes = figure.axes[0]
    assert axes.get_yscale() == "log"
    assert axes.get_title() == "muon mis-ID at the ring fit pion efficiency per bin"
    assert {text.get_text() for text in axes.get_legend().get_texts()} >= {
        "pointnet",
        "dgcnn",
        "ring fit",
    }


def test_runs_on_other_events_are_refused():
    with pytest.raises(SmartmlError, match="baselines differ"):
        misid_at_baseline_efficiency([run("a", 1.0), run("b", 1.0, baseline_seed=1)])


def test_a_run_without_the_per_bin_block_is_named():
    bare = RunContents(Path("runs/x"), "x", {}, {"roc": {}}, None)
    with pytest.raises(SmartmlError, match=r"metrics\.json: no per-bin PID of the net"):
        misid_at_baseline_efficiency([bare])


@pytest.mark.parametrize("percent", [90, 95])
def test_at_the_baselines_overall_operating_points_with_the_excess_in_sigma(percent):
    runs = [run("pointnet", 2.0), run("dgcnn", 0.5)]
    table, figure = misid_at_baseline_efficiency(runs, point=f"baseline_efficiency_{percent}")
    stored = runs[1].metrics["pid"]["operating_points"][f"baseline_efficiency_{percent}"]
    assert table["muon mis-ID dgcnn"].tolist() == pytest.approx(
        stored["per_momentum_bin"]["muon efficiency"]
    )
    assert table["dgcnn excess σ"].tolist() == pytest.approx(
        stored["versus_baseline"]["per_bin"]["excess_sigma"]
    )
    # the weak network is worse than the baseline by many σ, the strong one below it
    assert (table["dgcnn excess σ"] > 2).all() and (table["pointnet excess σ"] < 0).all()
    assert figure.axes[0].get_title().endswith(f"per bin ({percent}% overall)")
