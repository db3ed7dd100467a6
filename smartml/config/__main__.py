"""``smartml config``: run configurations.

- ``schema [--output FILE]``: the JSON Schema of run configurations;
- ``validate CONFIG [--set KEY=VALUE ...]``: check a configuration, one line;
- ``show CONFIG [--set KEY=VALUE ...]``: print the resolved configuration (defaults
  filled in, overrides applied) as JSON, as a run would record it.
"""

import argparse
import json
import sys

from smartml.cli import CommandLineParser, add_set_option, exit_with, run_cli, set_overrides

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
    for name, text in (
        ("validate", "check a run configuration; one line saying it is valid, or what is wrong"),
        ("show", "print the resolved configuration (defaults and overrides applied) as JSON"),
    ):
        command = commands.add_parser(name, subcommand=True, help=text, description=text)
        command.add_argument("config", help="run configuration (JSON)")
        add_set_option(command)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status (2 with a one-line error)."""
    args = parse_args(argv)

    def run() -> None:
        if args.command == "schema":
            from smartml.config.json_schema import write_json_schema

            text = write_json_schema(args.output)
            if args.output is None:
                sys.stdout.write(text)
            return
        from smartml.config import load_config
        from smartml.config.fingerprint import fingerprint

        config = load_config(args.config, set_overrides(args.set))
        if args.command == "show":
            print(json.dumps(config.model_dump(mode="json"), indent=2))
        else:
            print(
                f"{args.config}: valid (task {config.task.name}, model {config.model.name}, "
                f"run directory {config.run_dir()}, fingerprint {fingerprint(config)[:12]})"
            )

    return run_cli(run, "smartml.config", args.verbose)


if __name__ == "__main__":
    exit_with(main(), "smartml.config")
