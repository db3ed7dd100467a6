"""Resolution vs sparsity of the pixel MDN trained with MDMM, printed as JSON.

For each target (50/75/90%) and each start — from random weights and pruning a
trained dense run — it trains two kinds of runs:

- every quantized layer at the target, by magnitude (``configs/pixel_2t_mdmm{,75,90}.json``,
  ``configs/pixel_2t_mdmm_pruned{,75,90}.json``; with 50%, also
  ``pixel_2t_mdmm_pruned_sep25.json``: separable_conv at 25%);
- the target over all the quantized weights together, by saliency
  (``configs/pixel_2t_mdmm_global.json``, ``configs/pixel_2t_mdmm_pruned_global.json``;
  75% and 90% are the same configs with the target overridden).

It reports the quantized sparsity reached per layer, whether every constraint meets
its target (within ``feasibility_tolerance`` beyond half a weight), and the test
resolution (robust width of x, y, cotα, cotβ from the run's metrics.json) against a
dense model (``configs/pixel_2t.json``) given the same total epochs: E for a start
from random, 2E (E dense + E pruning) for a pruned start. Usage::

    python benchmarks/mdmm_sparsity.py [--clusters 60000] [--epochs 16] [--runs-dir DIR]
        [--targets 0.5 ...] [--runs NAME ...]

Without ``--clusters``/``--epochs`` the configs' own sizes are used (300k clusters,
32 epochs: ~50 min on two cores); the runs go under ``--runs-dir`` (default
``runs/mdmm_sparsity``) and are retrained on every call (the two dense ones are
reused with ``--keep-dense`` when complete).
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
# (start, target: of every layer, or of all weights for the _global configs, config name)
RUNS: list[tuple[str, float, str]] = [
    ("random", 0.5, "pixel_2t_mdmm"),
    ("pruned", 0.5, "pixel_2t_mdmm_pruned"),
    ("pruned", 0.5, "pixel_2t_mdmm_pruned_sep25"),
    ("random", 0.75, "pixel_2t_mdmm75"),
    ("pruned", 0.75, "pixel_2t_mdmm_pruned75"),
    ("random", 0.9, "pixel_2t_mdmm90"),
    ("pruned", 0.9, "pixel_2t_mdmm_pruned90"),
    ("random", 0.5, "pixel_2t_mdmm_global"),
    ("pruned", 0.5, "pixel_2t_mdmm_pruned_global"),
    ("random", 0.75, "pixel_2t_mdmm_global"),
    ("pruned", 0.75, "pixel_2t_mdmm_pruned_global"),
    ("random", 0.9, "pixel_2t_mdmm_global"),
    ("pruned", 0.9, "pixel_2t_mdmm_pruned_global"),
]
# The global configs' one constraint, at another target than the file's 50%.
GLOBAL_CONSTRAINT = {"type": "sparsity", "name": "all_layers", "layers": "all"}
RESOLUTION_KEYS = {
    "x": "x-midplane",
    "y": "y-midplane",
    "cot_alpha": "cotAlpha",
    "cot_beta": "cotBeta",
}


def run_name(target: float, config_name: str) -> str:
    """Run directory (and report) name: the config's, with the target when overridden."""
    if config_name.endswith("_global") and target != 0.5:
        return f"{config_name}{round(100 * target)}"
    return config_name


def target_overrides(target: float, config_name: str) -> dict[str, Any]:
    """Overrides that set a global config's constraint to ``target`` (none at 50%)."""
    if run_name(target, config_name) == config_name:
        return {}
    return {"training.mdmm.constraints": [{**GLOBAL_CONSTRAINT, "target": target}]}


def is_kept_dense_run(run_dir: Path, clusters: int | None, epochs: int) -> bool:
    """Whether ``run_dir`` is a complete dense run of this call's size (``--keep-dense``)."""
    if not (run_dir / "COMPLETE.json").is_file():
        return False
    stored = load_config(run_dir / "config.json")
    wanted = clusters or load_config(CONFIGS / "pixel_2t.json").data.simulation.n_clusters
    return stored.training.epochs == epochs and stored.data.simulation.n_clusters == wanted


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
    """Per-layer quantized sparsity of the saved model and whether each sparsity
    constraint meets its target (over the weights of the layers it covers) within the
    run's feasibility tolerance beyond half a weight."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    mdmm = json.loads((run_dir / "config.json").read_text())["training"]["mdmm"]
    layers = metrics["hardware"]["layers"]
    reached, met = {}, {}
    for constraint in mdmm["constraints"]:
        covered = constraint["layers"]
        if isinstance(covered, str):
            covered = list(layers) if covered == "all" else [covered]
        weights = sum(layers[name]["weights"] for name in covered)
        zeros = sum(layers[name]["sparsity"] * layers[name]["weights"] for name in covered)
        reached[constraint["name"]] = zeros / weights
        miss = abs(zeros / weights - constraint["target"])
        met[constraint["name"]] = miss <= mdmm["feasibility_tolerance"] + 0.5 / weights
    return {
        "targets": {c["name"]: c["target"] for c in mdmm["constraints"]},
        "reached": reached,
        "sparsity": {name: layer["sparsity"] for name, layer in layers.items()},
        "constraint_feasible": met,
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
    parser.add_argument(
        "--runs", nargs="+", help="only these runs (names as in the report, e.g. pixel_2t_mdmm75)"
    )
    parser.add_argument(
        "--keep-dense",
        action="store_true",
        help="reuse complete dense runs of --runs-dir that have this call's --clusters and "
        "--epochs instead of training them again",
    )
    args = parser.parse_args()
    size: dict[str, Any] = {}
    if args.clusters is not None:
        size["data.simulation.n_clusters"] = args.clusters
    epochs = args.epochs or load_config(CONFIGS / "pixel_2t.json").training.epochs
    size["training.epochs"] = epochs
    dense, dense_twice = args.runs_dir / "dense", args.runs_dir / "dense_2x"
    for run_dir, dense_epochs in ((dense, epochs), (dense_twice, 2 * epochs)):
        if not (args.keep_dense and is_kept_dense_run(run_dir, args.clusters, dense_epochs)):
            trained_run("pixel_2t.json", run_dir, {**size, "training.epochs": dense_epochs})
    baselines = {"random": resolution(dense), "pruned": resolution(dense_twice)}
    runs = []
    for start, target, config_name in RUNS:
        name = run_name(target, config_name)
        if target not in args.targets or (args.runs and name not in args.runs):
            continue
        extra = {"training.initial_weights": str(dense)} if start == "pruned" else {}
        overrides = {**size, **extra, **target_overrides(target, config_name)}
        run = trained_run(f"{config_name}.json", args.runs_dir / name, overrides)
        widths = resolution(run)
        runs.append(
            {
                "name": name,
                "start": start,
                "config": f"configs/{config_name}.json",
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
