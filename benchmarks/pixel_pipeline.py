"""Throughput and memory of the smart-pixel input pipeline, beside the reference loader's figures.

Writes (once, or reuses with ``--keep``) the issue's comparison dataset: 12 parquet
files x 2000 clusters in the public layout (``recon3D_d*.parquet`` pixels and
``labels_d*.parquet`` labels, one row group per file), simulated by smartml's
PixelAV-like simulator; ``--nan-fraction`` spoils that fraction of the rows with NaN
pixels as the public files have. Then, in a fresh process per setting (so peak
memory is the pipeline's own), it does what ``python -m smartml.train`` does before
and during training, without the model:

- ``setup_s``: open the files (footers), split, fit the normalisation, decode the
  training split into the memory cache (``SmartPixelsTask.datasets``);
- ``first_epoch_s``: from nothing (set-up included) to the end of the first shuffled
  epoch of the training pipeline at batch 4000, as the reference's set-up (its
  statistics and TFRecord rewrite) + its first epoch;
- ``steady_clusters_per_s``: the median of epochs 2-8;
- ``peak_rss_mb``.

The reference figures (smart-pixels-ml's OptimizedDataGenerator_v3 on the TFRecords
it writes first, measured on this machine type; see issue 14) are printed beside
ours: 105k clusters/s steady state, 6.0 s of set-up for these files.

    python benchmarks/pixel_pipeline.py [--keep DIR] [--nan-fraction 0.03] [--no-cache]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_FILES, CLUSTERS_PER_FILE, BATCH_SIZE, EPOCHS = 12, 2000, 4000, 8
REFERENCE = {"steady_clusters_per_s": 105_000, "setup_s": 6.0}


def write_dataset(directory: Path, nan_fraction: float) -> None:
    """The comparison files, in the public recon3d layout, from the simulator."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from smartml.tasks.smart_pixels.layout import N_PIXEL_COLUMNS
    from smartml.tasks.smart_pixels.schema import SimulationConfig
    from smartml.tasks.smart_pixels.simulator import write_dataset as simulate

    simulated = directory / "simulated"
    config = SimulationConfig(
        n_clusters=N_FILES * CLUSTERS_PER_FILE,
        clusters_per_file=CLUSTERS_PER_FILE,
        rows_per_group=CLUSTERS_PER_FILE,
    )
    simulate(config, simulated)
    pixel_names = [str(i) for i in range(N_PIXEL_COLUMNS)]
    rng = np.random.default_rng(0)
    for directory_name in ("recon", "labels"):
        (directory / directory_name).mkdir(exist_ok=True)
    for i, part in enumerate(sorted(simulated.glob("part.*.parquet"))):
        table = pq.read_table(part)
        pixels = table.select(pixel_names)
        if nan_fraction:
            values = np.array(pixels.to_pandas().to_numpy(), np.float32)  # writeable
            rows = rng.choice(len(values), round(nan_fraction * len(values)), replace=False)
            values[rows, :] = np.nan
            arrays = [pa.array(column) for column in values.T.astype(np.float32)]
            pixels = pa.Table.from_arrays(arrays, names=pixel_names)
        pq.write_table(pixels, directory / "recon" / f"recon3D_d{17301 + i}.parquet")
        labels = table.drop_columns(pixel_names)
        pq.write_table(labels, directory / "labels" / f"labels_d{17301 + i}.parquet")


def peak_rss_mb() -> int:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited
    from the parent that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return -1


def open_source(directory: Path, slices: list[int], memory_cache_mb: int = 2048):
    """The reader of the comparison files, as ``smartml.train`` opens it."""
    from smartml.tasks.smart_pixels.parquet_reader import PixelParquetSource
    from smartml.tasks.smart_pixels.schema import PixelDataConfig

    config = PixelDataConfig(
        source="parquet",
        layout="recon3d",
        path=str(directory / "recon"),
        labels_path=str(directory / "labels"),
        time_slices=slices,
        memory_cache_mb=memory_cache_mb,
    )
    return PixelParquetSource(config, directory / "recon", directory / "labels")


def measure(directory: Path, slices: list[int], memory_cache_mb: int) -> dict:
    """Run in a fresh process: set-up, first epoch and steady state of the pipeline."""
    import smartml  # noqa: F401  (the TensorFlow settings, before TensorFlow)
    from smartml.backend import tf  # noqa: F401  (imported before the clock starts)
    from smartml.data.pipeline import make_dataset
    from smartml.tasks.smart_pixels.layout import TARGETS
    from smartml.tasks.smart_pixels.normalization import PixelNormalization
    from smartml.tasks.smart_pixels.task import FIT_CLUSTERS

    started = time.perf_counter()
    source = open_source(directory, slices, memory_cache_mb)
    train = source.split(seed=0)["train"]
    fit = source.iter_chunks(train, max_rows=FIT_CLUSTERS, with_final_slice=True)
    normalization = PixelNormalization.fit_batches(fit, TARGETS)
    in_memory = source.decode_ahead(train)
    setup = time.perf_counter() - started
    dataset = make_dataset(source, train, normalization.transform, BATCH_SIZE, True, 0)
    seconds, clusters = [], 0
    for _ in range(EPOCHS):
        epoch_started, clusters = time.perf_counter(), 0
        for _inputs, targets in dataset:
            clusters += int(targets.shape[0])
        seconds.append(time.perf_counter() - epoch_started)
    steady = clusters / float(np.median(seconds[1:]))
    dropped = source.non_finite_dropped(train)
    return {
        "time_slices": len(slices),
        "memory_cache_mb": memory_cache_mb,
        "training_clusters": clusters,
        "non_finite_dropped": None if dropped is None else sum(dropped.values()),
        "training_split_in_memory": in_memory,
        "memory_cache_used_mb": round(source.memory_cache.used_bytes / 2**20, 1),
        "setup_s": round(setup, 2),
        "first_epoch_s": round(setup + seconds[0], 2),
        "steady_clusters_per_s": round(steady),
        "peak_rss_mb": peak_rss_mb(),
    }


def compared(result: dict) -> dict:
    """Our figures beside the reference's (2 slices: the reference's setting)."""
    if result["time_slices"] != 2:
        return result
    reference_first = (
        REFERENCE["setup_s"] + result["training_clusters"] / REFERENCE["steady_clusters_per_s"]
    )
    return {
        **result,
        "reference_steady_clusters_per_s": REFERENCE["steady_clusters_per_s"],
        "steady_ratio_to_reference": round(
            result["steady_clusters_per_s"] / REFERENCE["steady_clusters_per_s"], 2
        ),
        "reference_first_epoch_s": round(reference_first, 2),
        "first_epoch_ratio_to_reference": round(reference_first / result["first_epoch_s"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write (or reuse) the dataset here")
    parser.add_argument("--nan-fraction", type=float, default=0.0)
    parser.add_argument(
        "--no-cache", action="store_true", help="also measure with data.memory_cache_mb 0"
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--slices", type=int, nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--memory-cache-mb", type=int, default=2048, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:  # child process
        print(json.dumps(measure(args.measure, args.slices, args.memory_cache_mb)))
        return

    with tempfile.TemporaryDirectory() as temporary:
        directory = args.keep or Path(temporary)
        directory.mkdir(parents=True, exist_ok=True)
        if not any(directory.glob("recon/recon3D_*.parquet")):
            write_dataset(directory, args.nan_fraction)
        runs = []
        for cache_mb in (2048, 0) if args.no_cache else (2048,):
            for slices in ([0, 19], list(range(20))):
                command = [sys.executable, __file__, "--measure", str(directory)]
                command += ["--memory-cache-mb", str(cache_mb), "--slices"]
                command += [str(s) for s in slices]
                output = subprocess.run(command, check=True, capture_output=True, text=True)
                runs.append(compared(json.loads(output.stdout.strip().splitlines()[-1])))
        print(
            json.dumps(
                {"files": N_FILES, "clusters_per_file": CLUSTERS_PER_FILE, "runs": runs}, indent=2
            )
        )


if __name__ == "__main__":
    main()
