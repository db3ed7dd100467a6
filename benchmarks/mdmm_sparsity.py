"""Resolution vs sparsity of the pixel MDN trained with MDMM, printed as JSON.

For each target (50/75/90% of every quantized layer) and each start — from random
weights (``configs/pixel_2t_mdmm{,75,90}.json``) and pruning a trained dense run
(``configs/pixel_2t_mdmm_pruned{,75,90}.json``; with 50%, also
``pixel_2t_mdmm_pruned_sep25.json``: separable_conv at 25%) — it trains the run and
reports the quantized sparsity reached per layer, whether every layer meets its
config's target (within ``feasibility_tolerance`` beyond half a weight), and the test
resolution (robust width of x, y, cotα, cotβ from the run's metrics.json) against a
dense model (``configs/pixel_2t.json``) given the same total epochs: E for a start
from random, 2E (E dense + E pruning) for a pruned start. Usage::

    python benchmarks/mdmm_sparsity.py [--clusters 60000] [--epochs 16] [--runs-dir DIR]

Without ``--clusters``/``--epochs`` the configs' own sizes are used (300k clusters,
32 epochs: hours on two cores); the runs go under ``--runs-dir`` (default
``runs/mdmm_sparsity``) and are retrained on every call.
"""

import argparse
import json
from pathlib import Path
from typing import Any

import smartml  # noqa: F401  (Keras 2 switch before TensorFlow)
from smartml.backend import keras
from smartml.config.loader import load_config
from smartml.training.trainer import train

CONFIGS = Path(__file__).parents[1] / "configs"
TARGETS = (0.5, 0.75, 0.9)
# (start, target of most layers, config name without .json)
RUNS = [
    ("random", 0.5, "pixel_2t_mdmm"),
    ("pruned", 0.5, "pixel_2t_mdmm_pruned"),
    ("pruned", 0.5, "pixel_2t_mdmm_pruned_sep25"),
    ("random", 0.75, "pixel_2t_mdmm75"),
    ("pruned", 0.75, "pixel_2t_mdmm_pruned75"),
    ("random", 0.9, "pixel_2t_mdmm90"),
    ("pruned", 0.9, "pixel_2t_mdmm_pruned90"),
]
RESOLUTION_KEYS = {
    "x": "x-midplane",
    "y": "y-midplane",
    "cot_alpha": "cotAlpha",
    "cot_beta": "cotBeta",
}


def trained_run(config_name: str, run_dir: Path, overrides: dict[str, Any]) -> Path:
    """Train ``configs/<config_name>`` with ``overrides`` into ``run_dir``."""
    keras.backend.clear_session()
    config = load_config(
        CONFIGS / config_name,
        {**overrides, "output.dir": str(run_dir), "output.plots": False, "training.verbose": 0},
    )
    train(config, overwrite=True)
    return run_dir


def resolution(run_dir: Path) -> dict[str, float]:
    """Robust width of each target on the test set."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {name: metrics[key]["robust_width"] for name, key in RESOLUTION_KEYS.items()}


def sparsity_report(run_dir: Path) -> dict[str, Any]:
    """Per-layer quantized sparsity of the saved model and whether each layer meets
    its constraint's target within the run's feasibility tolerance beyond half a
    weight (constraints of one layer each, as in the pixel configs)."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    mdmm = json.loads((run_dir / "config.json").read_text())["training"]["mdmm"]
    targets = {c["layers"]: c["target"] for c in mdmm["constraints"]}
    layers = metrics["hardware"]["layers"]
    met = {
        name: abs(layers[name]["sparsity"] - target)
        <= mdmm["feasibility_tolerance"] + 0.5 / layers[name]["weights"]
        for name, target in targets.items()
    }
    return {
        "targets": targets,
        "sparsity": {name: layer["sparsity"] for name, layer in layers.items()},
        "layer_feasible": met,
        "feasible": all(met.values()),
    }


def relative_change(mine: dict[str, float], dense: dict[str, float]) -> dict[str, float]:
    """(width / dense width − 1) per target: +0.1 is 10% worse than dense."""
    return {name: round(mine[name] / dense[name] - 1.0, 4) for name in mine}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, help="data.simulation.n_clusters")
    parser.add_argument("--epochs", type=int, help="training.epochs of every run (E)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/mdmm_sparsity"))
    parser.add_argument("--targets", type=float, nargs="+", default=list(TARGETS), choices=TARGETS)
    args = parser.parse_args()
    size: dict[str, Any] = {}
    if args.clusters is not None:
        size["data.simulation.n_clusters"] = args.clusters
    epochs = args.epochs or load_config(CONFIGS / "pixel_2t.json").training.epochs
    size["training.epochs"] = epochs
    dense = args.runs_dir / "dense"
    trained_run("pixel_2t.json", dense, size)
    dense_twice = trained_run(
        "pixel_2t.json", args.runs_dir / "dense_2x", {**size, "training.epochs": 2 * epochs}
    )
    baselines = {"random": resolution(dense), "pruned": resolution(dense_twice)}
    runs = []
    for start, target, name in RUNS:
        if target not in args.targets:
            continue
        extra = {"training.initial_weights": str(dense)} if start == "pruned" else {}
        run = trained_run(f"{name}.json", args.runs_dir / name, {**size, **extra})
        widths = resolution(run)
        runs.append(
            {
                "start": start,
                "config": f"configs/{name}.json",
                "total_epochs": epochs * (2 if start == "pruned" else 1),
                **sparsity_report(run),
                "resolution": widths,
                "dense_resolution": baselines[start],
                "relative_to_dense": relative_change(widths, baselines[start]),
            }
        )
    result = {
        "clusters": args.clusters or "config",
        "epochs": epochs,
        "dense": {
            f"{epochs}_epochs": baselines["random"],
            f"{2 * epochs}_epochs": baselines["pruned"],
        },
        "runs": runs,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
