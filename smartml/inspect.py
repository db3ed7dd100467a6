"""``python -m smartml.inspect FILE [--json]``: what a ROOT, HDF5 or parquet file holds.

ROOT: its trees and RNTuples, their entries and branches or fields (type; jagged or
not); the file may be a URL (``root://`` with the ``xrootd`` extra, ``http(s)://``). HDF5: datasets
(shape, dtype, attributes). Parquet: columns (type), rows and row groups. For every
numeric column: min, max, mean, std (over finite values) and the NaN count (and the
infinite count); a jagged branch: over all its objects, with the objects per event.
Files are read ``--step`` rows at a time, so a file larger than memory can be
inspected. ``--json`` prints everything (the attributes too) as one JSON object.
"""

import argparse
import json
from pathlib import Path
from typing import Any

from smartml.cli import CommandLineParser, exit_with, run_cli
from smartml.errors import ConfigError, DataError
from smartml.locations import Location, as_location, is_remote, location_suffix

SUFFIXES = {
    ".root": "root",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".parquet": "parquet",
    ".pq": "parquet",
}
HEADER = ("column", "type", "min", "max", "mean", "std", "nan")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = CommandLineParser(
        noise="uproot, h5py and pyarrow",
        prog="python -m smartml.inspect",
        description="Show the trees, datasets or columns of a .root, .h5 or .parquet file "
        "with statistics of each numeric column.",
    )
    parser.add_argument(
        "file", help="a .root, .h5/.hdf5 or .parquet file, or a root:// / http(s):// .root URL"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--step", type=int, default=100_000, help="rows read at a time")
    return parser.parse_args(argv)


def summarise(path: Location, step: int = 100_000) -> dict[str, Any]:
    """The summary of ``path`` (see :mod:`smartml.ntuples.file_summary`).

    Raises:
        ConfigError: an unknown suffix, a URL of a file that is not ROOT, or a bad
            ``step``; DataError: the file is missing or unreadable.
    """
    from smartml.ntuples import file_summary

    kind = SUFFIXES.get(location_suffix(path))
    if kind is None:
        raise ConfigError(f"{path}: expected a file ending in {', '.join(SUFFIXES)}")
    if step < 1:
        raise ConfigError(f"--step {step}: must be greater than 0")
    if is_remote(path):
        if kind != "root":
            raise ConfigError(f"{path}: only ROOT files are read from a URL; download it first")
        return file_summary.root_summary(path, step)
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    describe = {
        "root": file_summary.root_summary,
        "hdf5": file_summary.hdf5_summary,
        "parquet": file_summary.parquet_summary,
    }[kind]
    return describe(path, step)


def _number(value: float | None) -> str:
    """A statistic for the table: an integer in full (an event number), else 6 digits."""
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def _row(name: str, kind: str, statistics: dict[str, Any] | None) -> tuple[str, ...]:
    if statistics is None:
        return (name, kind, "-", "-", "-", "-", "-")
    nan = str(statistics["nan"]) + (f" (+{statistics['inf']} inf)" if statistics["inf"] else "")
    values = (statistics[key] for key in ("min", "max", "mean", "std"))
    return (name, kind, *(_number(value) for value in values), nan)


def _table(rows: list[tuple[str, ...]]) -> str:
    """Rows under :data:`HEADER`, columns aligned."""
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    return "\n".join(
        "  "
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [HEADER, *rows]
    )


def render(summary: dict[str, Any]) -> str:
    """The summary as text: one table per tree, or one for the file.

    >>> print(render({"file": "a.parquet", "format": "parquet", "rows": 2, "row_groups": 1,
    ...               "columns": [{"name": "x", "dtype": "float", "statistics": {
    ...                   "count": 2, "nan": 0, "inf": 0, "min": 1.0, "max": 2.0,
    ...                   "mean": 1.5, "std": 0.5}}]}))
    a.parquet (parquet): 2 rows in 1 row groups, 1 columns
      column  type   min  max  mean  std  nan
      x       float  1    2    1.5   0.5  0
    """
    lines = []
    if summary["format"] == "root":
        lines.append(f"{summary['file']} (root): {len(summary['trees'])} trees")
        for tree in summary["trees"]:
            rntuple = tree.get("kind") == "RNTuple"
            lines.append(
                f"{'RNTuple' if rntuple else 'tree'} {tree['name']!r}: {tree['entries']} "
                f"entries, {len(tree['branches'])} {'fields' if rntuple else 'branches'}"
            )
            rows = []
            for branch in tree["branches"]:
                rows.append(_row(branch["name"], branch["type"], branch["statistics"]))
                if branch["objects_per_event"] is not None:
                    rows.append(_row("  objects/event", "count", branch["objects_per_event"]))
            lines.append(_table(rows))
    elif summary["format"] == "hdf5":
        lines.append(f"{summary['file']} (hdf5): {len(summary['datasets'])} datasets")
        lines.append(
            _table(
                [
                    _row(d["name"], f"{d['dtype']} {tuple(d['shape'])}", d["statistics"])
                    for d in summary["datasets"]
                ]
            )
        )
    else:
        lines.append(
            f"{summary['file']} (parquet): {summary['rows']} rows in "
            f"{summary['row_groups']} row groups, {len(summary['columns'])} columns"
        )
        lines.append(
            _table([_row(c["name"], c["dtype"], c["statistics"]) for c in summary["columns"]])
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the file's summary (text, or JSON with ``--json``).

    Returns:
        the exit status (2 with a one-line error, 3 for a bug; see :mod:`smartml.cli`).
    """
    args = parse_args(argv)

    def run() -> None:
        summary = summarise(as_location(args.file), args.step)
        print(json.dumps(summary, indent=2, allow_nan=False) if args.json else render(summary))

    return run_cli(run, "smartml.inspect", args.verbose)


if __name__ == "__main__":
    exit_with(main(), "smartml.inspect")
