"""``python -m smartml.config schema [--output FILE]``: the JSON Schema of run configs."""

import argparse
import sys

from smartml.cli import CommandLineParser, run_cli

PROG = "python -m smartml.config"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = CommandLineParser(prog=PROG, description="Tools for run configurations.")
    commands = parser.add_subparsers(dest="command", required=True)
    schema = commands.add_parser(
        "schema",
        subcommand=True,
        help="write the JSON Schema (draft 2020-12) of run configurations",
        description="Write the JSON Schema of run configurations: every registered task "
        "and model. Point an editor at it to complete and check config files.",
    )
    schema.add_argument("--output", metavar="FILE", help="write here (default: standard output)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status (2 with a one-line error)."""
    args = parse_args(argv)

    def run() -> None:
        from smartml.config.json_schema import write_json_schema

        text = write_json_schema(args.output)
        if args.output is None:
            sys.stdout.write(text)

    return run_cli(run, "smartml.config", args.verbose)


if __name__ == "__main__":
    sys.exit(main())
