"""How often the per-momentum-bin criterion against the ring fit fails by chance.

Issue 21 asks that, in every 1 GeV/c bin and at the ring fit's 90% and 95% overall π
efficiency points, a model's μ mis-ID be not worse than the ring fit's by more than
2σ (binomial errors of both added). This script asks how often a scorer *exactly as
good as the ring fit* (the same per-bin mis-ID) fails that test, from a RICH run's
``metrics.json`` (the per-bin muon counts and the ring fit's mis-ID at both points):
both mis-ID fractions are drawn binomially in every bin, the excess is computed as
:func:`smartml.tasks.rich_pid.pid_efficiency.versus_baseline` computes it, and the bins
beyond 2σ are counted. Prints one JSON object: per point and for both together, the
expected number of failing bins and the probability that none fails.

    python benchmarks/pid_per_bin_chance.py RUN_DIR [--trials 20000] [--seed 1]
"""

import argparse
import json
from pathlib import Path

import numpy as np

POINTS = ("baseline_efficiency_90", "baseline_efficiency_95")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a rich_pid run directory (metrics.json)")
    parser.add_argument("--trials", type=int, default=20_000, help="pseudo-experiments")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def bins_worse(
    muons: np.ndarray, mis_id: np.ndarray, trials: int, rng: np.random.Generator
) -> np.ndarray:
    """Per pseudo-experiment, the bins where one of two scorers of equal mis-ID is
    more than 2σ worse than the other (the criterion's test, both fractions drawn)."""
    shape = (trials, len(muons))
    net = rng.binomial(muons, mis_id, size=shape) / muons
    ring = rng.binomial(muons, mis_id, size=shape) / muons
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt((net * (1 - net) + ring * (1 - ring)) / muons)
        excess = np.where(net == ring, 0.0, (net - ring) / sigma)
    # no binomial spread (both fractions 0 or 1) but different: counted as worse
    return ((excess > 2.0) | (~np.isfinite(excess) & (net > ring))).sum(axis=1)


def main() -> None:
    args = parse_args()
    metrics = json.loads((args.run / "metrics.json").read_text())
    rng = np.random.default_rng(args.seed)
    result, total = {}, np.zeros(args.trials, dtype=np.int64)
    for point in POINTS:
        per_bin = metrics["pid"]["operating_points"][point]["versus_baseline"]["per_bin"]
        muons = np.asarray(per_bin["background_events"], dtype=np.int64)
        mis_id = np.asarray(per_bin["muon mis-ID ring fit"], dtype=np.float64)
        worse = bins_worse(muons, mis_id, args.trials, rng)
        total += worse
        result[point] = {
            "bins": len(muons),
            "expected_bins_worse": float(worse.mean()),
            "probability_none_worse": float((worse == 0).mean()),
        }
    result["both_points"] = {
        "expected_bins_worse": float(total.mean()),
        "probability_none_worse": float((total == 0).mean()),
    }
    print(json.dumps({"run": str(args.run), "trials": args.trials, **result}, indent=1))


if __name__ == "__main__":
    main()
