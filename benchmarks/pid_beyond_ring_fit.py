"""What a RICH network and the ring fit know together: the per-bin criterion's headroom.

Issue 21 asks a model to be, in every 1 GeV/c bin, not worse than the ring fit by more
than 2σ, and below it where the hits carry more. Whether any model can be *clearly*
below it depends on how much the hits hold beyond the ring fit's radius likelihood.
This script bounds that from a run's ``predictions.parquet``: a gradient-boosted
classifier on (the network's logit, the ring fit's score, the momentum), trained and
scored with k-fold cross-validation on the test events, combines what both scorers
know. Its μ mis-ID at 90% π efficiency and its per-bin comparison with the ring fit,
computed by smartml's own :func:`smartml.tasks.rich_pid.pid_efficiency.pid_metrics`,
are printed as JSON beside the network's and the ring fit's. If the combination is
hardly better than the network, no network on these inputs will be clearly better
either, and the per-bin criterion is decided by binomial fluctuations
(``benchmarks/pid_per_bin_chance.py`` says how often).

    python benchmarks/pid_beyond_ring_fit.py RUN_DIR [--folds 4] [--seed 0]
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from smartml.tasks.rich_pid.pid_efficiency import fixed_width_edges, pid_metrics

POINTS = ("efficiency_90", "baseline_efficiency_90", "baseline_efficiency_95")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a rich_pid run directory (predictions.parquet)")
    parser.add_argument("--folds", type=int, default=4, help="cross-validation folds")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def combined_scores(frame: pd.DataFrame, is_pion: np.ndarray, folds: int, seed: int):
    """Out-of-fold pion probabilities of a classifier on both scorers and the momentum."""
    net = np.clip(frame["net_score"].to_numpy(np.float64), 1e-7, 1 - 1e-7)
    features = np.column_stack(
        [np.log(net / (1 - net)), frame["baseline_score"], frame["momentum"]]
    )
    classifier = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=seed)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return cross_val_predict(classifier, features, is_pion, cv=splitter, method="predict_proba")[
        :, 1
    ]


def summary(metrics: dict) -> dict:
    """AUC, mis-ID at 90% π, and the verdict counts at the ring fit's 90%/95% points."""
    points = metrics["pid"]["operating_points"]
    result = {
        "auc": metrics["pid"]["roc"]["auc"],
        "muon_misid_at_90": points["efficiency_90"]["background_efficiency"],
    }
    for key in POINTS[1:]:
        versus = points[key]["versus_baseline"]
        result[key] = {
            name: versus[name]
            for name in ("bins_below", "bins_within_2_sigma", "bins_worse", "max_excess_sigma")
        }
    return result


def main() -> None:
    args = parse_args()
    frame = pd.read_parquet(args.run / "predictions.parquet")
    frame = frame[frame["class"].isin(["muon", "pion"])].reset_index(drop=True)
    labels = (frame["class"] == "pion").to_numpy(np.int64)  # muon 0, pion 1
    # the run's own 1 GeV/c bins, as its metrics.json has them
    data = json.loads((args.run / "config.json").read_text())["data"]
    edges = fixed_width_edges(data["momentum_min_gev"], data["momentum_max_gev"])
    baseline = frame["baseline_score"].to_numpy(np.float64)
    momentum = frame["momentum"].to_numpy(np.float64)
    scorers = {
        "network": frame["net_score"].to_numpy(np.float64),
        "ring_fit": baseline,
        "network_and_ring_fit": combined_scores(frame, labels, args.folds, args.seed),
    }
    result = {
        "run": str(args.run),
        "test_events": len(frame),
        "folds": args.folds,
        **{
            name: summary(pid_metrics(labels, scores, baseline, momentum, edges))
            for name, scores in scorers.items()
        },
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
