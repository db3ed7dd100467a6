"""``python -m smartml.train CONFIG``: train a model as a run configuration says.

Command-line values override the file; the resolved configuration is saved in the
run directory. Running the same command again after an interruption resumes the run;
a complete run, or an unfinished one of another configuration, is refused unless
``--overwrite`` is given.
"""

import argparse

from smartml.cli import (
    CommandLineParser,
    add_set_option,
    exit_with,
    given_options,
    run_cli,
    set_overrides,
)
from smartml.config.distribution import DISTRIBUTION_KINDS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = CommandLineParser(
        prog="python -m smartml.train",
        description="Train a quantized model from a JSON run configuration "
        "(data -> model -> fit -> evaluation) into a run directory.",
    )
    parser.add_argument("config", help="run configuration (JSON), e.g. configs/pixel_2t.json")
    parser.add_argument("--epochs", type=int, help="override training.epochs")
    parser.add_argument("--batch-size", type=int, help="override training.batch_size")
    parser.add_argument("--device", help="cpu or gpu:N (override training.device)")
    parser.add_argument(
        "--distribution",
        choices=DISTRIBUTION_KINDS,
        help="default (one device), mirrored (several local devices) or multi_worker "
        "(TF_CONFIG or Slurm) (override training.distribution.kind)",
    )
    parser.add_argument("--output", help="run directory (override output.dir; default runs/<name>)")
    parser.add_argument("--seed", type=int, help="override training.seed")
    parser.add_argument(
        "--initial-weights",
        metavar="RUN_DIR",
        help="start from a trained run's weights (override training.initial_weights)",
    )
    add_set_option(parser)
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a complete run in the run directory, or start an unfinished one anew "
        "(without it, a complete run is refused and an unfinished one resumed)",
    )
    return parser.parse_args(argv)


def overrides_from(args: argparse.Namespace) -> dict:
    """Dotted configuration keys for the options that were given, with the options
    (a bad value is reported under its option).

    >>> options = dict(epochs=3, batch_size=None, device=None, output="x", seed=None,
    ...                initial_weights="runs/pixel_2t", distribution="mirrored", set=[])
    >>> {key: value.label() for key, value in overrides_from(argparse.Namespace(**options)).items()}
    {'training.epochs': '--epochs 3', 'training.distribution.kind': '--distribution mirrored',
     'output.dir': '--output x', 'training.initial_weights': '--initial-weights runs/pixel_2t'}
    """
    keys = {
        "epochs": "training.epochs",
        "batch_size": "training.batch_size",
        "device": "training.device",
        "distribution": "training.distribution.kind",
        "output": "output.dir",
        "seed": "training.seed",
        "initial_weights": "training.initial_weights",
    }
    # the named options win over --set of the same key
    return {**set_overrides(args.set), **given_options(args, keys)}


def main(argv: list[str] | None = None) -> int:
    """Train; ends by printing the run's summary metrics and its directory.

    Returns:
        the exit status (2 with a one-line error, 3 for a bug; see :mod:`smartml.cli`).
    """
    args = parse_args(argv)

    def run() -> None:
        from smartml.config import load_config
        from smartml.evaluation.run import run_summary
        from smartml.training.trainer import train

        run_dir = train(load_config(args.config, overrides_from(args)), overwrite=args.overwrite)
        if run_dir.is_complete():
            print(run_summary(run_dir.path))
        else:  # a worker of a multi-worker run, done before its chief
            print(f"worker done; the chief completes {run_dir.path}")

    return run_cli(run, "smartml.train", args.verbose)


if __name__ == "__main__":
    exit_with(main(), "smartml.train")
