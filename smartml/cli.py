"""What every command-line entry point shares: logging and turning errors into one line."""

import argparse
import logging
import sys
from collections.abc import Callable

from smartml.config.loader import OptionValue
from smartml.errors import SmartmlError


def run_cli(main: Callable[[], int | None], prog: str) -> int:
    """Call ``main``; print a :class:`SmartmlError` as ``prog: error: <message>`` and
    return 2 instead of showing a traceback; ^C returns 130."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    try:
        return main() or 0
    except SmartmlError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def given_options(args: argparse.Namespace, keys: dict[str, str]) -> dict[str, OptionValue]:
    """Dotted configuration keys (``keys``: option -> key) of the options given, each
    with its option, so that a bad value is reported as ``--epochs -1: ...``.

    >>> given_options(argparse.Namespace(epochs=3, seed=None), {"epochs": "training.epochs",
    ...                                                       "seed": "training.seed"})
    {'training.epochs': OptionValue(option='--epochs', value=3)}
    """
    return {
        key: OptionValue(f"--{option.replace('_', '-')}", getattr(args, option))
        for option, key in keys.items()
        if getattr(args, option) is not None
    }
