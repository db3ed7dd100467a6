"""Throughput of the RICH input pipeline on simulated data.

Prepares the ``rich_pid`` task of a configuration (simulating its dataset into the
cache on first use) in a temporary run directory and prints one JSON object: events/s
of the reader alone (one chunk after another: HDF5 slices, cuts, points) and of the
training pipeline (balanced, standardised, shuffled batches as ``model.fit`` gets
them) over one epoch, with the peak RSS.

    python benchmarks/rich_pipeline.py [--config configs/rich_pointnet.json] [--events N]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def peak_rss_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "rich_pointnet.json"))
    parser.add_argument("--events", type=int, help="override data.simulation.n_events")
    args = parser.parse_args()

    from smartml.config import load_config
    from smartml.registry import TASKS
    from smartml.runs.directory import RunDirectory

    overrides = {} if args.events is None else {"data.simulation.n_events": args.events}
    with tempfile.TemporaryDirectory() as run:
        config = load_config(args.config, {**overrides, "output.dir": run})
        task = TASKS.get(config.task.name)(config, RunDirectory(run))
        started = time.perf_counter()
        task.prepare(fit=True)
        prepare_seconds = time.perf_counter() - started

        source, chunks = task.source, task.splits["train"]
        started = time.perf_counter()
        read = sum(len(source.read_chunk(chunk).labels) for chunk in chunks)
        reader_seconds = time.perf_counter() - started

        train, _ = task.datasets()
        started = time.perf_counter()
        batches = [int(targets.shape[0]) for _, targets in train]
        pipeline_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "config": args.config,
                "prepare_seconds (simulation if not cached, balance, fits)": round(
                    prepare_seconds, 2
                ),
                "reader_events_per_s (train split, before balancing)": round(read / reader_seconds),
                "pipeline_events_per_s (balanced training batches)": round(
                    sum(batches) / pipeline_seconds
                ),
                "training_events_per_epoch": sum(batches),
                "peak_rss_mb": peak_rss_mb(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
