"""Peak memory and wall time of exporting one complete run (``smartml.export --hls``).

Run it as a fresh process per measurement: the peak resident set size (``VmHWM`` of
``/proc/self/status``, Linux) covers everything this process did, from importing
TensorFlow to writing report.json. The peak is also split in two phases: loading the
model and the test set (the task's ``examples``), and the export proper
(:func:`smartml.export.exporter.export_model`: input types, QKeras and C simulation,
report), by resetting the peak (``/proc/self/clear_refs``) when the export proper
starts. Prints one JSON object: the resident set after the imports, at the start of
the export proper, the peaks (MB), the export's wall time and its own step timings,
the number of test inputs verified, the bit-identical fraction and the verification
chunk size of the smartml imported (``PYTHONPATH`` chooses which one: measure a
change against the code before it).

    python benchmarks/export_memory.py runs/pixel_20t [--output DIR]
        [--verify-clusters N] [--backend Vitis]
"""

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import smartml
from smartml.backend import keras  # noqa: F401  (TensorFlow's share of the baseline)
from smartml.export import exporter
from smartml.export.__main__ import main as export_main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a complete run directory")
    parser.add_argument(
        "--output", type=Path, default=None, help="projects go here (default: a new temp dir)"
    )
    parser.add_argument("--verify-clusters", type=int, default=None, help="default: all")
    parser.add_argument("--backend", default=None, help="default: the run's export.backend")
    return parser.parse_args()


def status_megabytes(key: str) -> float:
    """A ``kB`` entry of ``/proc/self/status`` (``VmHWM``: peak RSS, ``VmRSS``: now), in MB.

    >>> status_megabytes("VmRSS") > 0
    True
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == key:
            return int(value.split()[0]) / 1024
    raise KeyError(f"/proc/self/status: no {key}")


def reset_peak() -> None:
    """Start ``VmHWM`` afresh from the current resident set (Linux 4.0+)."""
    Path("/proc/self/clear_refs").write_text("5")


def measure_export_proper(phases: dict) -> None:
    """Record the resident set and the peak so far when the export proper starts
    (the model and test set are loaded then), and reset the peak for it."""
    export_model = exporter.export_model

    def measured(*args, **kwargs):
        phases["rss_at_export_start_mb"] = round(status_megabytes("VmRSS"), 1)
        phases["peak_rss_loading_mb"] = round(status_megabytes("VmHWM"), 1)
        reset_peak()
        return export_model(*args, **kwargs)

    exporter.export_model = measured  # export_run calls it through the module


def export_arguments(args: argparse.Namespace, output: Path) -> list[str]:
    arguments = [str(args.run_dir), "--hls", "--output", str(output), "--json"]
    if args.verify_clusters is not None:
        arguments += ["--verify-clusters", str(args.verify_clusters)]
    if args.backend is not None:
        arguments += ["--backend", args.backend]
    return arguments


def main() -> int:
    args = parse_args()
    output = args.output or Path(tempfile.mkdtemp(prefix="smartml-export-memory-"))
    rss_after_imports = status_megabytes("VmRSS")
    phases: dict = {}
    measure_export_proper(phases)
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # stdout: this benchmark's JSON only
        code = export_main(export_arguments(args, output))
    wall = time.perf_counter() - started
    if code == 2:
        return code  # the export's one-line error is on stderr already
    run_name = json.loads((args.run_dir / "config.json").read_text())["name"]
    report = json.loads((output / run_name / "report.json").read_text())
    verification = report["verification"]
    peak_export = round(status_megabytes("VmHWM"), 1)
    result = {
        "run_dir": str(args.run_dir),
        "smartml": str(Path(smartml.__file__).parents[1]),
        "verify_chunk": getattr(exporter, "VERIFY_CHUNK", None),  # None: before chunking
        "rss_after_imports_mb": round(rss_after_imports, 1),
        **phases,
        "peak_rss_export_mb": peak_export,
        "peak_rss_mb": max(phases["peak_rss_loading_mb"], peak_export),
        "wall_seconds": round(wall, 1),
        "timing_seconds": report["timing_seconds"],
        "clusters": verification["clusters"],
        "bit_identical_fraction": verification["bit_identical_fraction"],
        "passed": verification["passed"],
    }
    print(json.dumps(result, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main())
