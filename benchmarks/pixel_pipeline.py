"""Throughput and memory of the smart-pixel input pipeline.

Writes a temporary ``parts`` dataset of random, realistically sparse clusters
(~15-30 charged pixels of 273 per slice, cumulative in time), then, in a fresh
process per configuration (so peak memory is the pipeline's own), iterates
:func:`smartml.data.pipeline.make_dataset` for 2 and 20 time slices and prints
one JSON object: clusters/s of the raw reader (one thread) and of the pipeline
(unshuffled, as for validation; shuffled, first epoch, which fills the shuffle
buffer, and a later one) and the peak RSS before and after the pipeline ran.

    python benchmarks/pixel_pipeline.py [--clusters 100000] [--keep DIR]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_SLICES, PIXELS_PER_SLICE = 20, 273


def random_pixels(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 5460) float32: ~30 hits per cluster near a centre, arriving over time."""
    hits = 30
    centre = rng.integers(20, PIXELS_PER_SLICE - 20, (n, 1))
    pixel = np.clip(centre + rng.integers(-45, 46, (n, hits)), 0, PIXELS_PER_SLICE - 1)
    charge = rng.exponential(1500.0, (n, hits)).astype(np.float32) + 400.0
    arrival = np.minimum(rng.exponential(4.0, (n, hits)).astype(int), N_SLICES - 1)
    cluster = np.repeat(np.arange(n), hits)
    pixels = np.empty((n, N_SLICES, PIXELS_PER_SLICE), np.float32)
    for t in range(N_SLICES):
        arrived = (arrival <= t).ravel()
        index = cluster[arrived] * PIXELS_PER_SLICE + pixel.ravel()[arrived]
        counts = np.bincount(index, charge.ravel()[arrived], n * PIXELS_PER_SLICE)
        pixels[:, t] = counts.reshape(n, PIXELS_PER_SLICE)
    return pixels.reshape(n, -1)


def write_dataset(directory: Path, clusters: int, rows_per_file: int, rows_per_group: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    names = [str(i) for i in range(N_SLICES * PIXELS_PER_SLICE)]
    targets = ["x-midplane", "y-midplane", "cotAlpha", "cotBeta"]
    for number, start in enumerate(range(0, clusters, rows_per_file)):
        n = min(rows_per_file, clusters - start)
        columns = list(random_pixels(n, rng).T) + list(rng.normal(size=(4, n)).astype(np.float32))
        table = pa.Table.from_arrays([pa.array(c) for c in columns], names=names + targets)
        pq.write_table(table, directory / f"part.{number}.parquet", row_group_size=rows_per_group)


def peak_rss_mb() -> int:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited
    from the parent that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return -1


def measure(directory: Path, slices: list[int], batch_size: int, shuffle_buffer: int) -> dict:
    """Run in a fresh process: reader and pipeline throughput, peak RSS."""
    from smartml.data.pipeline import make_dataset
    from smartml.tasks.smart_pixels.layout import TARGETS
    from smartml.tasks.smart_pixels.normalization import PixelNormalization
    from smartml.tasks.smart_pixels.parquet_reader import PixelParquetSource
    from smartml.tasks.smart_pixels.schema import PixelDataConfig

    config = PixelDataConfig(source="parquet", path=str(directory), time_slices=slices)
    source = PixelParquetSource(config, directory)
    chunks = source.chunks
    start = time.perf_counter()
    for chunk in chunks[:4]:
        source.read_chunk(chunk)
    reader_rate = sum(c.n_rows for c in chunks[:4]) / (time.perf_counter() - start)
    normalization = PixelNormalization.fit_batches(source.iter_chunks(chunks[:2]), TARGETS)
    rss_before_mb = peak_rss_mb()

    rates = []
    for shuffle, epochs in ((False, 1), (True, 2)):
        dataset = make_dataset(
            source, chunks, normalization.transform, batch_size, shuffle, 1, shuffle_buffer
        )
        for _ in range(epochs):
            start, n = time.perf_counter(), 0
            for _inputs, y in dataset:
                n += int(y.shape[0])
            rates.append(n / (time.perf_counter() - start))
    return {
        "time_slices": len(slices),
        "clusters": n,
        "reader_clusters_per_s": round(reader_rate),
        "pipeline_clusters_per_s_unshuffled": round(rates[0]),
        "pipeline_clusters_per_s_shuffled_epoch1": round(rates[1]),
        "pipeline_clusters_per_s_shuffled_epoch2": round(rates[2]),
        "peak_rss_mb_before_pipeline": rss_before_mb,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=100_000)
    parser.add_argument("--rows-per-file", type=int, default=20_000)
    parser.add_argument("--rows-per-group", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--shuffle-buffer", type=int, default=65536)
    parser.add_argument("--keep", type=Path, help="write (or reuse) the dataset here")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--slices", type=int, nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:  # child process
        result = measure(args.measure, args.slices, args.batch_size, args.shuffle_buffer)
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory() as temporary:
        directory = args.keep or Path(temporary)
        directory.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        if not any(directory.glob("part.*.parquet")):
            write_dataset(directory, args.clusters, args.rows_per_file, args.rows_per_group)
        results = {"write_s": round(time.perf_counter() - start, 1), "runs": []}
        for slices in ([0, 19], list(range(N_SLICES))):
            command = [sys.executable, __file__, "--measure", str(directory), "--slices"]
            command += [str(s) for s in slices]
            command += ["--batch-size", str(args.batch_size)]
            command += ["--shuffle-buffer", str(args.shuffle_buffer)]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            results["runs"].append(json.loads(output.strip().splitlines()[-1]))
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
