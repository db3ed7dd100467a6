"""Throughput and final loss of pixel_2t trained on one device, on two logical CPU
devices (mirrored), by one localhost worker and by two (multi_worker).

Each training is a fresh ``python -m smartml.train`` of ``configs/pixel_2t.json``
shortened (``--clusters`` simulated clusters, ``--epochs``, same seed and global
batch), so the four differ only in ``training.distribution``. Prints one JSON object
with, per setting: training samples per second over the whole fit (the epochs' steps
× the global batch / ``fit_seconds`` of metrics.json; validation included) and the
last epoch's ``loss`` and ``val_loss``. Two logical devices or workers on one machine
share its cores: this measures the overhead of synchronous replicas, not a speed-up.

    python benchmarks/distributed_training.py [--clusters 20000] [--epochs 2]
        [--batch-size 1024] [--workdir /tmp/smartml-distributed]
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import smartml
from smartml.training.distribution import local_tf_configs

REPO = Path(smartml.__file__).parents[1]
SETTINGS = {
    "one_device": ({"kind": "default"}, 1),
    "mirrored_2_cpus": ({"kind": "mirrored", "devices": ["cpu:0", "cpu:1"]}, 1),
    "one_worker": ({"kind": "multi_worker"}, 1),
    "two_workers": ({"kind": "multi_worker"}, 2),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=20000, help="simulated clusters")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1024, help="the global batch")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a new temp dir")
    return parser.parse_args()


def write_config(args: argparse.Namespace, name: str, distribution: dict) -> Path:
    config = json.loads((REPO / "configs" / "pixel_2t.json").read_text())
    config["name"] = name
    config["data"]["path"] = str(args.workdir / "simulated")
    # small row groups: every split has chunks for every worker (sharding by chunk)
    config["data"]["simulation"].update(
        n_clusters=args.clusters,
        clusters_per_file=max(1, args.clusters // 4),
        rows_per_group=max(1, args.clusters // 80),
    )
    config["training"].update(
        epochs=args.epochs, batch_size=args.batch_size, verbose=0, distribution=distribution
    )
    config["output"] = {"dir": str(args.workdir / name), "plots": False}
    path = args.workdir / f"{name}.json"
    path.write_text(json.dumps(config))
    return path


def run_workers(config: Path, n_workers: int) -> None:
    """Train ``config`` with ``n_workers`` processes (TF_CONFIG on localhost for
    multi_worker settings), or one plain process for the others."""
    kind = json.loads(config.read_text())["training"]["distribution"]["kind"]
    tf_configs = local_tf_configs(n_workers) if kind == "multi_worker" else [None]
    processes = []
    for tf_config in tf_configs:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        if tf_config is not None:
            env["TF_CONFIG"] = json.dumps(tf_config)
        command = [sys.executable, "-m", "smartml.train", str(config), "--overwrite"]
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL))
    codes = [process.wait() for process in processes]
    if any(codes):
        raise SystemExit(f"{config}: training failed (exit statuses {codes})")


def measure(run: Path, batch_size: int) -> dict:
    metrics = json.loads((run / "metrics.json").read_text())
    with (run / "history.csv").open() as handle:
        last = list(csv.DictReader(handle))[-1]
    training = metrics["training"]
    resolved = json.loads((run / "config.json").read_text())
    n_train = train_examples(resolved["data"], batch_size)
    samples = training["epochs_run"] * n_train
    return {
        "replicas": training["replicas"],
        "samples_per_second": round(samples / training["fit_seconds"], 1),
        "fit_seconds": training["fit_seconds"],
        "loss": round(float(last["loss"]), 4),
        "val_loss": round(float(last["val_loss"]), 4),
    }


def train_examples(data: dict, batch_size: int) -> int:
    """Examples of one epoch: whole global batches over the training split."""
    n_train = int(data["simulation"]["n_clusters"] * data["split"]["train"])
    return -(-n_train // batch_size) * batch_size


def main() -> None:
    args = parse_args()
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="smartml-distributed-"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, (distribution, n_workers) in SETTINGS.items():
        config = write_config(args, name, distribution)
        run_workers(config, n_workers)
        results[name] = measure(args.workdir / name, args.batch_size)
    summary = {
        "task": "pixel_2t",
        "clusters": args.clusters,
        "epochs": args.epochs,
        "global_batch": args.batch_size,
        "cores": os.cpu_count(),
        "settings": results,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
