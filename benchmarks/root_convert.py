"""Throughput and memory of ``python -m smartml.convert`` on a ROOT file larger than a
memory budget.

Writes an uncompressed ROOT file of DeepMEM-like events (8 flat float32 branches and
jagged ``Jet_PT``/``Jet_Eta``, 0-3 jets) of ``--file-factor`` × ``--memory-budget-mb``
bytes, in chunks (the writer's memory stays small too), then converts it in a fresh
process with ``--step`` entries per chunk and prints one JSON object: file size,
entries, events/s of the conversion and the peak resident memory (VmHWM) of the
converting process, and of the same conversion of a 1,000-event file (the libraries'
own memory: Python, numpy, awkward, uproot, HDF5). The budget bounds what the big
file adds (peak − baseline): ``within_budget`` says whether it held; the file is
larger than the budget, so a converter that loaded it whole could not pass.

    python benchmarks/root_convert.py [--memory-budget-mb 128] [--file-factor 1.25]
        [--format h5|parquet] [--step 100000] [--keep DIR]

The default run (a 160 MB file) takes well under a minute on 2 cores.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# Uncompressed bytes per event: 8 float32 + 2 int32 counters + 2 float32 per jet
# (1.2 jets on average).
BYTES_PER_EVENT = 8 * 4 + 2 * 4 + 2 * 4 * 1.2
FEATURES = (
    "prefixes: [[lep1_, lep2_], [MET]]\n"
    "suffixes: [[PT, Eta, Phi], ['', Phi]]\n"
    "branches: ['Jet_PT[0]', 'Jet_Eta[0]']\n"
    "missing_object: fill\n"
    "fill_value: -10\n"
)

# Runs in the child: convert, then report VmHWM and the wall time.
CHILD = """
import json, sys, time
import smartml.convert
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
started = time.perf_counter()
status = smartml.convert.main(sys.argv[1:])
seconds = time.perf_counter() - started
print(json.dumps({"status": status, "seconds": seconds, "peak_rss_mb": peak()}))
"""


def write_events(path: Path, n: int, chunk: int = 500_000) -> None:
    """``n`` random events written ``chunk`` at a time, uncompressed."""
    import awkward as ak
    import uproot

    rng = np.random.default_rng(0)
    with uproot.recreate(path, compression=None) as file:
        tree = None
        for start in range(0, n, chunk):
            size = min(chunk, n - start)
            branches = {
                f"{name}_{var}": rng.normal(size=size).astype(np.float32)
                for name in ("lep1", "lep2")
                for var in ("PT", "Eta", "Phi")
            }
            branches["MET"] = rng.exponential(20.0, size).astype(np.float32)
            branches["METPhi"] = rng.uniform(-np.pi, np.pi, size).astype(np.float32)
            counts = rng.choice(4, size=size, p=[0.3, 0.3, 0.25, 0.15])
            for var in ("PT", "Eta"):
                values = rng.normal(size=int(counts.sum())).astype(np.float32)
                branches[f"Jet_{var}"] = ak.unflatten(values, counts)
            if tree is None:
                types = {
                    key: "var * float32" if key.startswith("Jet_") else np.float32
                    for key in branches
                }
                tree = file.mktree("events", types)
            tree.extend(branches)


def convert(source: Path, features: Path, output: Path, step: int) -> dict:
    """Run :data:`CHILD` (the conversion) in a fresh process; its JSON report."""
    args = [str(source), "--features", str(features), "--output", str(output)]
    args += ["--overwrite", "--step", str(step)]
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"conversion of {source} failed: {done.stderr.strip()}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-budget-mb", type=float, default=128.0)
    parser.add_argument("--file-factor", type=float, default=1.25)
    parser.add_argument("--format", choices=["h5", "parquet"], default="h5")
    parser.add_argument("--step", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        source, output = folder / "events.root", folder / f"events.{args.format}"
        small, small_output = folder / "small.root", folder / f"small.{args.format}"
        n = int(args.file_factor * args.memory_budget_mb * 2**20 / BYTES_PER_EVENT)
        write_events(source, n)
        write_events(small, 1000)
        features = folder / "features.yaml"
        features.write_text(FEATURES)
        baseline = convert(small, features, small_output, args.step)
        run = convert(source, features, output, args.step)
        working = run["peak_rss_mb"] - baseline["peak_rss_mb"]
        report = {
            "memory_budget_mb": args.memory_budget_mb,
            "file_mb": round(source.stat().st_size / 2**20, 1),
            "output_mb": round(output.stat().st_size / 2**20, 1),
            "format": args.format,
            "entries": n,
            "step": args.step,
            "seconds": round(run["seconds"], 2),
            "events_per_second": round(n / run["seconds"]),
            "peak_rss_mb": round(run["peak_rss_mb"], 1),
            "baseline_rss_mb": round(baseline["peak_rss_mb"], 1),
            "growth_rss_mb": round(working, 1),
            "within_budget": working < args.memory_budget_mb
            and source.stat().st_size > args.memory_budget_mb * 2**20,
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
