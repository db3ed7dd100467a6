"""Speed and size of the built-in RICH simulator, on one CPU core.

Run from the repository root::

    python benchmarks/rich_simulator.py            # defaults below

Prints one JSON object:

- ``simulation_events_per_s``: :func:`simulate_events` alone, ring fit included (best
  of ``--repeats`` runs of ``--events`` events of the default mixture; the
  requirement is >= 20,000);
- ``ring_fit_events_per_s``: :func:`fit_circles` alone on the in-time hits of those
  events;
- ``write_events_per_s``: :func:`write_dataset` of ``--write-events`` events with the
  default file layout, HDF5 writing included;
- ``bytes_per_event`` and ``hits_per_event``: on disk.

The process is pinned to one core and every thread pool is set to one thread, so the
numbers are those of a single core.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smartml.tasks.rich_pid.ring_fit import fit_circles  # noqa: E402
from smartml.tasks.rich_pid.simulation_config import RichSimulationConfig  # noqa: E402
from smartml.tasks.rich_pid.simulator import (  # noqa: E402
    event_files,
    in_time_hits,
    simulate_events,
    write_dataset,
)


def best_seconds(function, repeats: int) -> float:
    """Shortest of ``repeats`` calls (the machine may be shared)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def mixture_labels(config: RichSimulationConfig, n: int) -> np.ndarray:
    fractions = [config.mixture.muon, config.mixture.pion, config.mixture.positron]
    return np.repeat([0, 1, 2], np.round(np.array(fractions) * n).astype(int))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write-events", type=int, default=100_000)
    args = parser.parse_args()

    config = RichSimulationConfig()
    labels = mixture_labels(config, args.events)
    rng = np.random.default_rng(0)
    simulate_events(config, labels[:1000], rng)  # warm-up: imports, allocator
    simulation = best_seconds(lambda: simulate_events(config, labels, rng), args.repeats)
    sample = simulate_events(config, labels, rng)
    x, y, mask = in_time_hits(config, sample.events, sample.hits, sample.hit_mapping)
    fit = best_seconds(lambda: fit_circles(x, y, mask), args.repeats)
    report = {
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "simulation_events": len(labels),
        "simulation_events_per_s": round(len(labels) / simulation),
        "ring_fit_events_per_s": round(len(labels) / fit),
    }
    write_config = config.model_copy(update={"n_events": args.write_events})
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        directory = write_dataset(write_config, Path(scratch) / "dataset")
        seconds = time.perf_counter() - start
        files = event_files(directory)
        size = sum(path.stat().st_size for path in files)
        hits = 0
        for path in files:
            with h5py.File(path, "r") as handle:
                hits += len(handle["Hits"])
    report.update(
        {
            "write_events": args.write_events,
            "write_events_per_s": round(args.write_events / seconds),
            "bytes_per_event": round(size / args.write_events),
            "hits_per_event": round(hits / args.write_events, 2),
        }
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
