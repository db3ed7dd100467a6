"""What every command-line entry point shares: its argument parser, its log lines and
one error path.

The contract (docs, user guide, "Command line"): a smartml error is one line
``<prog>: error: <message>`` on stderr and exit status 2, and so is a bad command
line; an unexpected exception is one line saying it is a bug, naming the log file
that holds its traceback, and exit status 3; 1 is kept for a failed firmware
verification; ^C is 130.
"""

import argparse
import json
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from smartml import console
from smartml.errors import ConfigError, OutputError, SmartmlError, first_line

UMBRELLA = "smartml"
MODULE_PROG = "python -m smartml."
invoked_through_umbrella = False
"""Set by ``smartml <command>`` (:mod:`smartml.__main__`): usage lines then read
``smartml train`` instead of ``python -m smartml.train``."""

EXIT_ERROR = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that ends each option with its default, unless the option has none (None,
    False) or its help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            default in (None, False, argparse.SUPPRESS)
            or "default" in text
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


class CommandLineParser(argparse.ArgumentParser):
    """``argparse`` with a one-line error (no usage block) and ``--verbose``.

    Args:
        subcommand: this parser is a sub-command's (``add_parser(..., subcommand=True)``):
            its ``--verbose`` keeps what the main parser read.
        noise: whose log lines ``--verbose`` shows (the libraries the command loads).
        args, kwargs: those of ``argparse.ArgumentParser``.

    >>> parser = CommandLineParser(prog="python -m smartml.tool")
    >>> parser.command
    'smartml.tool'
    >>> parser.parse_args(["--verbose"]).verbose, parser.parse_args([]).verbose
    (True, False)
    """

    def __init__(
        self,
        *args: Any,
        subcommand: bool = False,
        noise: str = "TensorFlow, CUDA and hls4ml",
        **kwargs: Any,
    ) -> None:
        prog = kwargs.get("prog")
        if invoked_through_umbrella and prog is not None and prog.startswith(MODULE_PROG):
            kwargs["prog"] = f"{UMBRELLA} {prog.removeprefix(MODULE_PROG)}"
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)
        if not subcommand:
            self.add_argument("--version", action="version", version=version_line())
        self.add_argument(
            "--verbose",
            action="store_true",
            # a sub-command's default would overwrite the main parser's value
            default=argparse.SUPPRESS if subcommand else False,
            help=f"also show the log lines of {noise}",
        )

    @property
    def command(self) -> str:
        """The command in error lines: ``smartml.train`` for ``python -m smartml.train``
        and ``smartml train`` (and for their sub-commands)."""
        words = self.prog.removeprefix("python -m ").split()
        if words[0] == UMBRELLA and len(words) > 1:
            return f"{UMBRELLA}.{words[1]}"
        return words[0]

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.command}: error: {message}\n")


def version_line() -> str:
    """What ``--version`` prints: smartml's version and the Python running it."""
    from smartml import __version__

    return f"{UMBRELLA} {__version__} (Python {sys.version.split()[0]})"


@dataclass(frozen=True)
class OptionValue:
    """An override given on the command line: a bad value is reported under its
    option (``--epochs -1: ...``), not under the key of a file that does not hold it.

    >>> OptionValue("--threshold", 2.0).label()
    '--threshold 2'
    """

    option: str
    value: Any
    typed: str | None = field(default=None, repr=False)  # as typed, when not the value alone

    def label(self) -> str:
        """The option as typed: ``--epochs -1``, ``--set training.epochs=-1``."""
        if self.typed is not None:
            return f"{self.option} {self.typed}"
        value = f"{self.value:g}" if isinstance(self.value, float) else self.value
        return f"{self.option} {value}"


SET_OPTION_HELP = (
    "set a configuration key, e.g. training.epochs=3 or model.hidden_units=[32,32] "
    "(the value is read as JSON, else as text); repeatable"
)


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE``, repeatable (:func:`set_overrides` reads it)."""
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help=SET_OPTION_HELP
    )


def set_overrides(pairs: Sequence[str]) -> dict[str, OptionValue]:
    """Dotted key -> value of ``--set KEY=VALUE`` options; a value is JSON when it
    parses as JSON (numbers, booleans, null, lists, objects), text otherwise.

    >>> {key: value.value for key, value in set_overrides(
    ...     ["training.epochs=3", "output.plot_style=CMS", "model.hidden_units=[8, 8]"]).items()}
    {'training.epochs': 3, 'output.plot_style': 'CMS', 'model.hidden_units': [8, 8]}
    >>> set_overrides(["training.epochs"])
    Traceback (most recent call last):
    ...
    smartml.errors.ConfigError: --set training.epochs: expected KEY=VALUE, e.g. training.epochs=3
    """
    overrides = {}
    for pair in pairs:
        key, equals, text = pair.partition("=")
        if not equals or not key.strip() or any(not part for part in key.strip().split(".")):
            raise ConfigError(f"--set {pair}: expected KEY=VALUE, e.g. training.epochs=3")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        overrides[key.strip()] = OptionValue("--set", value, f"{key.strip()}={text}")
    return overrides


def run_cli(main: Callable[[], int | None], prog: str, verbose: bool = False) -> int:
    """Call ``main`` behind the one error path and return the exit status.

    Args:
        main: the command's work; returns its exit status (None for 0).
        prog: the command as error lines name it, e.g. ``smartml.train``.
        verbose: show third-party log lines (``--verbose``).

    Returns:
        ``main``'s status; 2 after a :class:`SmartmlError` (printed as one line); 3
        after any other exception (one line, traceback written to a log file); 130
        after ^C.
    """
    console.configure_logging(verbose)
    try:
        return main() or 0
    except SmartmlError as err:
        print(f"{prog}: error: {first_line(err)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # the bug path: whatever it is, one line and a log
        log = console.write_traceback(prog, err)
        where = f"traceback in {log}" if log else "the traceback could not be written"
        print(
            f"{prog}: internal error (a bug in smartml, please report it): "
            f"{type(err).__name__}: {first_line(err)}; {where}",
            file=sys.stderr,
        )
        return EXIT_BUG


def exit_with(status: int, prog: str = UMBRELLA) -> NoReturn:
    """Leave the process with ``status``, the command's. A ^C that lands while Python
    and its libraries shut down (TensorFlow's and Dask's threads can take seconds),
    after the work is finished and saved, says so in one line and keeps ``status``
    instead of ending with 130 and no word."""

    def finished(signum: int, frame: Any) -> None:
        sys.stderr.write(f"{prog}: interrupted while exiting; the command had finished\n")
        sys.stderr.flush()
        os._exit(status)

    signal.signal(signal.SIGINT, finished)
    sys.exit(status)


def require_writable_directory(path: str | Path, option: str) -> Path:
    """Check, before any work, that results can be written to the directory ``path``
    (which need not exist yet: its nearest existing folder is checked; nothing is
    created).

    Args:
        path: the directory; option: the option or configuration key that chose it,
            named in the error.

    Returns:
        ``path`` as a Path.

    Raises:
        OutputError: ``path`` (or a folder above it) is a file, or it cannot be
            written.
    """
    directory = Path(path)
    existing = next(folder for folder in [directory, *directory.parents] if folder.exists())
    if not existing.is_dir():
        where = "" if existing == directory else f"{existing} "
        raise OutputError(f"{option} {directory}: {where}is a file; expected a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise OutputError(
            f"{option} {directory}: cannot write in {existing} ({reason}); choose another directory"
        ) from None
    return directory


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
