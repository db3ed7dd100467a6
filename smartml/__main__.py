"""``smartml <command> [options]``: one entry point for every command.

Each command is also ``python -m smartml.<command>``; both run the same ``main``.

>>> sorted(COMMANDS)
['config', 'convert', 'evaluate', 'export', 'inspect', 'mem', 'train', 'tune']
"""

from __future__ import annotations

import importlib
import sys

from smartml import cli

COMMANDS = {
    "train": ("smartml.train", "train a model from a run configuration"),
    "evaluate": ("smartml.evaluate", "evaluate a complete run, or compare several"),
    "export": ("smartml.export.__main__", "firmware: hls4ml project or RTL, verified"),
    "config": ("smartml.config.__main__", "run configurations: JSON Schema"),
    "tune": ("smartml.tune.__main__", "hyperparameter search"),
    "convert": ("smartml.convert", "ROOT trees to HDF5 or parquet"),
    "inspect": ("smartml.inspect", "what a ROOT, HDF5 or parquet file holds"),
    "mem": ("smartml.mem", "Matrix-Element-Method weights of ROOT events"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name.ljust(width)}  {text}" for name, (_, text) in COMMANDS.items())
    return (
        f"usage: {cli.UMBRELLA} <command> [options]   ({cli.UMBRELLA} <command> --help)\n\n"
        f"commands:\n{rows}\n\noptions:\n  -h, --help  show this message\n"
        "  --version   show the version"
    )


def main(argv: list[str] | None = None) -> int:
    """Dispatch to ``smartml.<command>``'s ``main``; returns its exit status (2 for an
    unknown command)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else cli.EXIT_ERROR
    if argv[0] == "--version":
        print(cli.version_line())
        return 0
    name, *rest = argv
    if name not in COMMANDS:
        known = ", ".join(COMMANDS)
        print(f"{cli.UMBRELLA}: error: unknown command {name!r}; known: {known}", file=sys.stderr)
        return cli.EXIT_ERROR
    cli.invoked_through_umbrella = True
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


def run() -> None:
    """The ``smartml`` console script: :func:`main`, then :func:`smartml.cli.exit_with`."""
    cli.exit_with(main())


if __name__ == "__main__":
    run()
