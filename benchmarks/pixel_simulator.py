"""Speed and size of the built-in smart-pixel simulator, on one CPU core.

Run from the repository root::

    python benchmarks/pixel_simulator.py                      # defaults below
    python benchmarks/pixel_simulator.py --compare-compression

Prints one JSON object:

- ``simulation_clusters_per_s``: :func:`simulate_clusters` alone (best of
  ``--repeats`` runs of ``--clusters`` clusters; the requirement is >= 10,000);
- ``write_clusters_per_s`` and ``write_seconds_per_100k``: :func:`write_dataset` of
  ``--write-clusters`` clusters with the default file layout, parquet included;
- ``bytes_per_cluster``: on disk;
- with ``--compare-compression``: write time and size of one file per codec.

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

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smartml.tasks.smart_pixels import simulator as pixel_simulator  # noqa: E402
from smartml.tasks.smart_pixels.schema import SimulationConfig  # noqa: E402
from smartml.tasks.smart_pixels.simulator import simulate_clusters, write_dataset  # noqa: E402

pa.set_cpu_count(1)
pa.set_io_thread_count(1)


def simulation_rate(config: SimulationConfig, n_clusters: int, repeats: int) -> float:
    """Best clusters/s of ``repeats`` calls (the machine may be shared)."""
    rng = np.random.default_rng(0)
    simulate_clusters(config, 1000, rng)  # warm-up: imports, allocator
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        simulate_clusters(config, n_clusters, rng)
        best = min(best, time.perf_counter() - start)
    return n_clusters / best


def write_rate(config: SimulationConfig, directory: Path) -> dict:
    start = time.perf_counter()
    write_dataset(config, directory / "dataset")
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in (directory / "dataset").glob("part.*.parquet"))
    return {
        "write_clusters": config.n_clusters,
        "write_clusters_per_s": round(config.n_clusters / seconds),
        "write_seconds_per_100k": round(seconds * 100_000 / config.n_clusters, 2),
        "bytes_per_cluster": round(size / config.n_clusters),
    }


def compare_compression(config: SimulationConfig, directory: Path, n_clusters: int) -> dict:
    """Write the same clusters with each codec: seconds per 10k clusters, bytes/cluster."""
    schema = pixel_simulator._schema()
    pixels, labels = simulate_clusters(config, n_clusters, np.random.default_rng(1))
    table = pixel_simulator._cluster_table(pixels, labels, schema)
    results = {}
    for codec, level in [("snappy", None), ("lz4", None), ("zstd", 1), ("zstd", 3)]:
        options = {**pixel_simulator.PARQUET_OPTIONS, "compression": codec}
        options.pop("compression_level")
        if level is not None:
            options["compression_level"] = level
        path = directory / f"{codec}{level or ''}.parquet"
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            with pq.ParquetWriter(path, schema, **options) as writer:
                writer.write_table(table, row_group_size=config.rows_per_group)
            best = min(best, time.perf_counter() - start)
        name = f"{codec}-{level}" if level else codec
        results[name] = {
            "write_seconds_per_10k": round(best * 10_000 / n_clusters, 3),
            "bytes_per_cluster": round(path.stat().st_size / n_clusters),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write-clusters", type=int, default=50_000)
    parser.add_argument("--compare-compression", action="store_true")
    args = parser.parse_args()

    config = SimulationConfig()
    report = {
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "simulation_clusters": args.clusters,
        "simulation_clusters_per_s": round(simulation_rate(config, args.clusters, args.repeats)),
    }
    write_config = config.model_copy(update={"n_clusters": args.write_clusters})
    with tempfile.TemporaryDirectory() as scratch:
        report.update(write_rate(write_config, Path(scratch)))
        if args.compare_compression:
            report["compression"] = compare_compression(config, Path(scratch), 10_000)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
