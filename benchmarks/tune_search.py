"""A two-objective search on pixel_2t (y resolution vs BOPs) by two workers on one
journal file: wall time, the Pareto front table and plot; optionally killed part way
and resumed by running the same command again. Usage::

    python benchmarks/tune_search.py [--trials 12] [--workers 2] [--epochs 3]
        [--clusters 20000] [--kill-after SECONDS] [--output runs/tune_benchmark]

It writes ``<output>/pixel_2t_tune.json`` (configs/pixel_2t.json with short trials and
a ``tune`` section), runs ``python -m smartml.tune`` on it, and prints one JSON line of
timings after the command's own output (progress lines, Pareto table). The study,
trial run directories and pareto.csv/json/png are under ``<output>/run/tune/``.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).parents[1]
SEARCH_SPACE = [
    {"key": "model.filters", "type": "int", "low": 2, "high": 8},
    {"key": "model.hidden_units.0", "type": "int", "low": 4, "high": 32, "step": 4},
    {"key": "model.dense_weights.bits", "type": "categorical", "choices": [4, 6, 8]},
    {"key": "model.dense_activation_bits", "type": "categorical", "choices": [4, 6, 8]},
    {"key": "training.learning_rate", "type": "float", "low": 1e-3, "high": 1e-2, "log": True},
]
OBJECTIVES = [{"metric": "y-midplane.robust_width"}, {"metric": "hardware.bops"}]


def write_config(output: Path, trials: int, epochs: int, clusters: int) -> Path:
    """configs/pixel_2t.json with short trials and the search section."""
    config = json.loads((REPO / "configs" / "pixel_2t.json").read_text())
    config["name"] = "pixel_2t_tune"
    config["data"]["simulation"]["n_clusters"] = clusters
    config["training"].update(epochs=epochs, verbose=0)
    config["output"] = {"dir": str(output / "run"), "plots": False}
    config["tune"] = {"parameters": SEARCH_SPACE, "objectives": OBJECTIVES, "trials": trials}
    path = output / "pixel_2t_tune.json"
    output.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2))
    return path


def run_search(command: list[str], kill_after: float | None) -> tuple[float, int | None]:
    """Run ``command``, killed with its workers after ``kill_after`` seconds if it
    has not ended; returns (wall seconds, exit status; None when killed)."""
    started = time.perf_counter()
    search = subprocess.Popen(command, start_new_session=True)
    try:
        status: int | None = search.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.killpg(search.pid, signal.SIGKILL)
        search.wait()
        status = None
    return time.perf_counter() - started, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per trial")
    parser.add_argument("--clusters", type=int, default=20_000, help="simulated clusters")
    parser.add_argument("--kill-after", type=float, help="kill the search after this many s")
    parser.add_argument("--output", default="runs/tune_benchmark")
    args = parser.parse_args()

    config = write_config(Path(args.output), args.trials, args.epochs, args.clusters)
    command = [sys.executable, "-m", "smartml.tune", str(config), "--workers", str(args.workers)]
    timings: dict[str, float] = {}
    if args.kill_after:
        first_s, first_status = run_search(command, args.kill_after)
        if first_status is not None:
            sys.exit(f"the search ended ({first_status}) before --kill-after; choose less")
        timings["killed_after_s"] = first_s
        print(f"--- killed after {first_s:.0f} s; resuming with the same command", flush=True)
    timings["wall_s"], status = run_search(command, None)
    print(json.dumps({"trials": args.trials, "workers": args.workers, **timings, "status": status}))
    sys.exit(status or 0)


if __name__ == "__main__":
    main()
