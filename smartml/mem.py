"""``python -m smartml.mem INPUT.root --output WEIGHTS.root``: Matrix-Element-Method
weights of dimuon events under the LO Drell–Yan hypothesis.

Integrates each event of the input tree with vegas
(:mod:`smartml.collider.matrix_element_method`) in chunks of ``--chunk`` events, each
a Dask task: on a LocalCluster of ``--workers`` processes (1: in this process), or on
the workers of a running scheduler (``--scheduler tcp://host:port``, e.g. one started
with dask-jobqueue on Slurm or HTCondor). Chunks are saved as they finish: a killed
run resumes when the same command is run again. An event whose integration fails is
recorded in branch ``status`` and counted; the run goes on. Writes tree ``momemta``
(branches ``weight_DY``, ``weight_DY_err``, ``status``, one entry per input entry) to
``--output``, a ``.root`` file checked before any integration.
"""

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smartml.cli import CommandLineParser, exit_with, run_cli

if TYPE_CHECKING:  # the command imports the integrator (uproot, vegas) only to run
    from smartml.collider.mem_integration import IntegrationReport

# option -> MemSettings key (resolutions are nested under "resolutions")
SETTING_OPTIONS = {
    "neval": "neval",
    "nitn_adapt": "nitn_adapt",
    "nitn": "nitn",
    "seed": "seed",
    "pt_resolution": "resolutions.pt_relative",
    "pt_resolution_per_gev": "resolutions.pt_relative_per_gev",
    "eta_resolution": "resolutions.eta",
    "phi_resolution": "resolutions.phi",
}


def _with_default(option: str, text: str) -> str:
    """``text`` ending with :class:`MemSettings`' default of ``option``'s setting."""
    from smartml.collider.mem_settings import MemSettings

    value: Any = MemSettings().model_dump()
    for part in SETTING_OPTIONS[option].split("."):
        value = value[part]
    return f"{text} (default: {value})"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = CommandLineParser(
        noise="Dask, vegas and uproot",
        prog="python -m smartml.mem",
        description="Matrix-Element-Method weights (LO Drell-Yan, vegas) of the events of a "
        "ROOT tree, written to tree 'momemta' (weight_DY, weight_DY_err, status: 0 ok, "
        "1 invalid input, 2 integrator error, 3 zero or negative weight, 4 not finite).",
    )
    parser.add_argument(
        "input", help="ROOT file (or root://, https:// URL) with the muons (lep1_PT, lep1_Eta, ...)"
    )
    parser.add_argument("--tree", default="events", help="input tree (default: events)")
    parser.add_argument(
        "--branch",
        action="append",
        default=[],
        metavar="NAME=BRANCH",
        help="read NAME (lep1_PT, lep1_Eta, lep1_Phi, lep2_...) from the file's BRANCH, "
        "e.g. lep1_PT=pt1 or lep1_PT=Muon_PT[0]; repeat for each",
    )
    parser.add_argument(
        "--aliases",
        metavar="FILE",
        help="YAML/JSON mapping NAME: BRANCH, or NAME: {pt_from|eta_from|phi_from: "
        "[px, py(, pz)]} to compute pT, η, φ from momentum components; --branch overrides",
    )
    parser.add_argument("--output", required=True, help=".root file to write the weights to")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument(
        "--workers",
        type=int,
        help="worker processes of a local Dask cluster (default 1: in this process)",
    )
    parser.add_argument(
        "--scheduler", help="address of a running Dask scheduler (tcp://host:port) to use"
    )
    parser.add_argument("--chunk", type=int, default=100, help="events per saved chunk")
    parser.add_argument("--max-events", type=int, help="only the first N entries")
    parser.add_argument(
        "--neval", type=int, help=_with_default("neval", "integrand points per vegas iteration")
    )
    parser.add_argument(
        "--nitn-adapt",
        type=int,
        help=_with_default("nitn_adapt", "vegas iterations adapting the grid"),
    )
    parser.add_argument(
        "--nitn", type=int, help=_with_default("nitn", "vegas iterations on the frozen grid")
    )
    parser.add_argument("--seed", type=int, help=_with_default("seed", "seed of the integrations"))
    parser.add_argument(
        "--pt-resolution",
        type=float,
        help=_with_default("pt_resolution", "a of σ(pT)/pT = a ⊕ b·pT"),
    )
    parser.add_argument(
        "--pt-resolution-per-gev",
        type=float,
        help=_with_default("pt_resolution_per_gev", "b of σ(pT)/pT = a ⊕ b·pT [1/GeV]"),
    )
    parser.add_argument(
        "--eta-resolution",
        type=float,
        help=_with_default("eta_resolution", "σ(η) of the transfer function"),
    )
    parser.add_argument(
        "--phi-resolution",
        type=float,
        help=_with_default("phi_resolution", "σ(φ) [rad] of the transfer function"),
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace):
    """The :class:`MemSettings` of the options given (defaults for the others).

    Raises:
        ConfigError: one line naming the option and what it takes.

    >>> args = parse_args(["in.root", "--output", "w.root", "--neval", "500",
    ...                    "--pt-resolution", "0.03"])
    >>> settings = settings_from(args)
    >>> settings.neval, settings.resolutions.pt_relative, settings.nitn
    (500, 0.03, 5)
    """
    from pydantic import ValidationError

    from smartml.collider.mem_settings import MemSettings
    from smartml.errors import ConfigError

    values: dict = {}
    for option, key in SETTING_OPTIONS.items():
        value = getattr(args, option)
        if value is not None:
            *sections, name = key.split(".")
            target = values
            for section in sections:
                target = target.setdefault(section, {})
            target[name] = value
    try:
        return MemSettings.model_validate(values)
    except ValidationError as err:
        first = err.errors()[0]
        option = next(o for o, k in SETTING_OPTIONS.items() if k.split(".")[-1] == first["loc"][-1])
        given = getattr(args, option)
        raise ConfigError(f"--{option.replace('_', '-')} {given}: {first['msg'].lower()}") from None


def aliases_from(args: argparse.Namespace) -> dict:
    """The aliases of ``--aliases`` then ``--branch`` (which overrides), refusing a name
    the MEM does not read.

    Raises:
        ConfigError: one line naming the option and the name.

    >>> args = parse_args(["in.root", "--output", "w.root", "--branch", "lep1_PT=pt1"])
    >>> aliases_from(args)
    {'lep1_PT': 'pt1'}
    """
    from smartml.collider.matrix_element_method import MUON_BRANCHES
    from smartml.errors import ConfigError
    from smartml.ntuples.aliases import load_aliases_file, parse_aliases

    sources: list[tuple[str, Mapping[str, Any]]] = []
    if args.aliases is not None:
        sources.append((f"--aliases {args.aliases}", load_aliases_file(args.aliases)))
    sources.append(("--branch", parse_aliases(args.branch, "--branch")))
    aliases: dict = {}
    for option, given in sources:
        for name in given:
            if name not in MUON_BRANCHES:
                raise ConfigError(
                    f"{option}: {name!r} is not read by the MEM; "
                    f"expected one of {', '.join(MUON_BRANCHES)}"
                )
        aliases.update(given)
    return aliases


def check_counts(args: argparse.Namespace) -> None:
    """Refuse ``--workers``, ``--chunk`` and ``--max-events`` below 1, and ``--workers``
    with ``--scheduler`` (one line).

    >>> check_counts(parse_args(["in.root", "--output", "w.root", "--workers", "2",
    ...                          "--scheduler", "tcp://h:8786"]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    smartml.errors.ConfigError: --workers 2: the workers are those of --scheduler tcp://h:8786; ...
    """
    from smartml.errors import ConfigError

    for option in ("workers", "chunk", "max_events"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise ConfigError(f"--{option.replace('_', '-')} {value}: expected an integer ≥ 1")
    if args.workers is not None and args.scheduler is not None:
        raise ConfigError(
            f"--workers {args.workers}: the workers are those of --scheduler "
            f"{args.scheduler}; give one of the two"
        )


def summary_line(output: Path, report: "IntegrationReport") -> str:
    """What :func:`main` prints at the end: events, failures (counted by status, the
    first reasons), time and where the chunks ran.

    Args:
        output: the file written; report: :func:`integrate_file`'s.

    >>> from smartml.collider.mem_integration import (EventFailure, EventStatus,
    ...                                               IntegrationReport)
    >>> report = IntegrationReport(4, 4, {EventStatus.OK: 3, EventStatus.INVALID_INPUT: 1},
    ...     (EventFailure(2, EventStatus.INVALID_INPUT, "lep1_PT = nan"),), 2.0, 3.8, 2,
    ...     "a LocalCluster of 2 worker processes")
    >>> print(summary_line(Path("w.root"), report))  # doctest: +NORMALIZE_WHITESPACE
    w.root: tree momemta, 4 events, 1 failed (1 invalid input; entry 2: invalid input
    (lep1_PT = nan)); 4 integrated in 2.0 s (0.500 s/event; 0.950 s/event per worker;
    2 workers ran chunks on a LocalCluster of 2 worker processes)
    """
    from smartml.collider.mem_integration import IN_PROCESS

    failed = ""
    if report.n_failed:
        counts = ", ".join(
            f"{count} {status.description}"
            for status, count in sorted(report.status_counts.items())
            if status != 0
        )
        first = "; ".join(str(failure) for failure in report.failures[:3])
        more = "; ..." if report.n_failed > min(3, len(report.failures)) else ""
        failed = f", {report.n_failed} failed ({counts}; {first}{more})"
    return (
        f"{output}: tree momemta, {report.n_events} events{failed}; "
        f"{report.n_integrated} integrated in {report.seconds:.1f} s "
        f"({report.seconds_per_event:.3f} s/event; "
        f"{report.worker_seconds_per_event:.3f} s/event per worker; "
        f"{report.workers} worker{'s' if report.workers != 1 else ''} ran chunks "
        f"{'in' if report.engine == IN_PROCESS else 'on'} {report.engine})"
    )


def main(argv: list[str] | None = None) -> int:
    """Integrate the file; ends by printing the events, failures and seconds/event.

    Returns:
        the exit status (2 with a one-line error, 3 for a bug; see :mod:`smartml.cli`).
    """
    args = parse_args(argv)

    def run() -> None:
        from smartml.collider.mem_engine import check_scheduler_address
        from smartml.collider.mem_integration import integrate_file
        from smartml.locations import as_location

        check_counts(args)
        settings = settings_from(args)
        aliases = aliases_from(args)
        if args.scheduler is not None:
            check_scheduler_address(args.scheduler, "--scheduler")
        output = Path(args.output)
        report = integrate_file(
            as_location(args.input),
            args.tree,
            output,
            settings,
            workers=args.workers or 1,
            chunk=args.chunk,
            max_events=args.max_events,
            progress=not args.no_progress,
            scheduler=args.scheduler,
            overwrite=args.overwrite,
            aliases=aliases,
            aliases_key="aliases",
        )
        print(summary_line(output, report))

    return run_cli(run, "smartml.mem", args.verbose)


if __name__ == "__main__":
    exit_with(main(), "smartml.mem")
