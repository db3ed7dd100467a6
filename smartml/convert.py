"""``python -m smartml.convert INPUT.root... --features FEATURES.yaml --output OUT.h5``:
ROOT trees to HDF5 or parquet, one column per feature.

The conversion itself is :func:`smartml.ntuples.conversion.convert`.
"""

import argparse
import time
from pathlib import Path

from smartml.cli import CommandLineParser, exit_with, run_cli
from smartml.locations import as_location
from smartml.ntuples.conversion import DEFAULT_STEP, convert


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = CommandLineParser(
        noise="uproot and the other libraries it reads with",
        prog="python -m smartml.convert",
        description="Convert ROOT trees (chained over the input files) to HDF5 or parquet, "
        "one column per feature of a features file.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT.root",
        help="ROOT files or root:// / http(s):// URLs, chained",
    )
    parser.add_argument(
        "--tree", help="the TTree or RNTuple in each file (default: the file's only one)"
    )
    parser.add_argument("--features", required=True, metavar="FEATURES.(yaml|json)")
    parser.add_argument("--output", required=True, metavar="OUT.(h5|parquet)")
    parser.add_argument(
        "--step", type=int, default=DEFAULT_STEP, help=f"entries per chunk ({DEFAULT_STEP})"
    )
    parser.add_argument(
        "--compression",
        help="HDF5: gzip (default), lzf, none; parquet: zstd (default), snappy, gzip, lz4, "
        "brotli, none",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Convert; ends by printing what was written.

    Returns:
        the exit status (2 with a one-line error, 3 for a bug; see :mod:`smartml.cli`).
    """
    args = parse_args(argv)

    def run() -> None:
        started = time.perf_counter()
        output = Path(args.output)
        written = convert(
            [as_location(path) for path in args.inputs],
            args.tree,
            Path(args.features),
            output,
            step=args.step,
            compression=args.compression,
            overwrite=args.overwrite,
        )
        seconds = time.perf_counter() - started
        rows = written.entries_read - written.dropped_rows
        print(
            f"{output}: {rows} rows x {len(written.source_branches)} features from "
            f"{written.entries_read} entries of tree {written.tree!r} "
            f"({written.dropped_rows} dropped for a missing object; "
            f"{written.entries_read / max(seconds, 1e-9):.0f} events/s)"
        )

    return run_cli(run, "smartml.convert", args.verbose)


if __name__ == "__main__":
    exit_with(main(), "smartml.convert")
