"""``python -m smartml.tune CONFIG --trials N [--storage URL] [--study NAME] [--workers K]
[--reference RUN_DIR ...]``: a hyperparameter search over the ``tune`` section of a run
configuration.

Every trial is a run directory ``<run dir>/tune/trial-<n>/``; the study lives in
``<run dir>/tune/study.log`` (an Optuna journal file) unless ``--storage`` names an
RDB URL (``postgresql://...``, ``sqlite:///...``). Rerunning the same command resumes
the study; workers started elsewhere with the same ``--storage`` and ``--study`` join it.
"""

import argparse
import subprocess
import sys

from smartml.cli import CommandLineParser, add_set_option, exit_with, run_cli, set_overrides
from smartml.config.tune import MAX_TRIALS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = CommandLineParser(
        prog="python -m smartml.tune",
        description="Search hyperparameters with Optuna: each trial is a run directory "
        "under <run dir>/tune/; objectives are measured on the validation split.",
    )
    parser.add_argument("config", help="run configuration (JSON) with a 'tune' section")
    parser.add_argument(
        "--trials", type=int, help="finished trials wanted in the study (override tune.trials)"
    )
    parser.add_argument(
        "--storage",
        help="RDB URL (postgresql://user@host/db, sqlite:///file.db) or journal file path; "
        "default <run dir>/tune/study.log",
    )
    parser.add_argument("--study", help="study name (default: the run name)")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes on this machine (default 1)"
    )
    parser.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="RUN_DIR",
        help="a complete run (same task and data) drawn beside the Pareto front; "
        "repeatable, added to tune.reference_runs",
    )
    add_set_option(parser)
    # set by --workers for the processes it starts: their number, no results printed
    parser.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.trials is not None and not 1 <= args.trials <= MAX_TRIALS:
        parser.error(f"--trials {args.trials}: expected 1 to {MAX_TRIALS}")
    if args.workers < 1:
        parser.error(f"--workers {args.workers}: expected at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the search; ends by printing the best trial or the Pareto front.

    Returns:
        the exit status (2 with a one-line error, 3 for a bug; see :mod:`smartml.cli`).
    """
    args = parse_args(argv)

    def run() -> None:
        import optuna

        from smartml.tune.results import report
        from smartml.tune.search import prepare_search, start_study
        from smartml.tune.worker import run_worker

        if not args.verbose:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
        search = prepare_search(args.config, args.trials, args.reference, set_overrides(args.set))
        study = start_study(search, args.storage, args.study, args.worker_index or 0)
        if args.worker_index is not None:
            run_worker(study, search, f"[worker {args.worker_index}] ")
            return
        if args.workers == 1:
            run_worker(study, search)
        else:
            run_workers(args, argv if argv is not None else sys.argv[1:])
        print(report(study, search.objectives, search.tune_dir, search.references))

    return run_cli(run, "smartml.tune", args.verbose)


def run_workers(args: argparse.Namespace, argv: list[str]) -> None:
    """Start ``args.workers`` processes of this command on the same study and wait
    for them all.

    Raises:
        TuneError: a worker ended with an error (its own line is printed above).
    """
    from smartml.tune.study import TuneError

    passed = _without_option(argv, "--workers")
    command = [sys.executable, "-m", "smartml.tune", *passed]
    workers = [
        subprocess.Popen([*command, "--worker-index", str(index)])
        for index in range(1, args.workers + 1)
    ]
    try:
        statuses = [worker.wait() for worker in workers]
    finally:
        for worker in workers:  # ^C reaches them too; do not leave them behind
            if worker.poll() is None:
                worker.terminate()
                worker.wait()
    failed = [f"worker {i} (status {s})" for i, s in enumerate(statuses, 1) if s != 0]
    if failed:
        raise TuneError(f"{', '.join(failed)} ended with an error; rerun to resume the study")


def _without_option(argv: list[str], option: str) -> list[str]:
    """``argv`` without ``option`` and its value (``--workers 2`` or ``--workers=2``).

    >>> _without_option(["c.json", "--workers", "2", "--trials=3"], "--workers")
    ['c.json', '--trials=3']
    """
    kept, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == option:
            skip = True
        elif not item.startswith(f"{option}="):
            kept.append(item)
    return kept


if __name__ == "__main__":
    exit_with(main(), "smartml.tune")
