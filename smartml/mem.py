"""``python -m smartml.mem INPUT.root --output WEIGHTS.root``: Matrix-Element-Method
weights of dimuon events under the LO Drell–Yan hypothesis.

Integrates each event of the input tree with vegas
(:mod:`smartml.collider.matrix_element_method`), in parallel over ``--workers``
processes and in chunks of ``--chunk`` events saved as they finish: a killed run
resumes when the same command is run again. Writes tree ``momemta`` (branches
``weight_DY``, ``weight_DY_err``, one entry per input entry) to ``--output``.
"""

import argparse
import sys
from pathlib import Path

from smartml.cli import CommandLineParser, require_writable_directory, run_cli

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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = CommandLineParser(
        prog="python -m smartml.mem",
        description="Matrix-Element-Method weights (LO Drell-Yan, vegas) of the events of a "
        "ROOT tree, written to tree 'momemta' (weight_DY, weight_DY_err).",
    )
    parser.add_argument("input", help="ROOT file with the muons (lep1_PT, lep1_Eta, ...)")
    parser.add_argument("--tree", default="events", help="input tree (default: events)")
    parser.add_argument("--output", required=True, help="ROOT file to write the weights to")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--chunk", type=int, default=100, help="events per saved chunk")
    parser.add_argument("--max-events", type=int, help="only the first N entries")
    parser.add_argument("--neval", type=int, help="integrand points per vegas iteration")
    parser.add_argument("--nitn-adapt", type=int, help="vegas iterations adapting the grid")
    parser.add_argument("--nitn", type=int, help="vegas iterations on the frozen grid")
    parser.add_argument("--seed", type=int, help="seed of the integrations")
    parser.add_argument("--pt-resolution", type=float, help="a of σ(pT)/pT = a ⊕ b·pT")
    parser.add_argument(
        "--pt-resolution-per-gev", type=float, help="b of σ(pT)/pT = a ⊕ b·pT [1/GeV]"
    )
    parser.add_argument("--eta-resolution", type=float, help="σ(η) of the transfer function")
    parser.add_argument("--phi-resolution", type=float, help="σ(φ) [rad] of the transfer function")
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


def check_counts(args: argparse.Namespace) -> None:
    """Refuse ``--workers``, ``--chunk`` and ``--max-events`` below 1 (one line)."""
    from smartml.errors import ConfigError

    for option in ("workers", "chunk", "max_events"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise ConfigError(f"--{option.replace('_', '-')} {value}: expected an integer ≥ 1")


def main(argv: list[str] | None = None) -> int:
    """Integrate the file; ends by printing the events, failures and seconds/event.

    Returns:
        the exit status (2 with a one-line error, 3 for a bug; see :mod:`smartml.cli`).
    """
    args = parse_args(argv)

    def run() -> None:
        from smartml.collider.mem_integration import integrate_file

        check_counts(args)
        settings = settings_from(args)
        output = Path(args.output)
        require_writable_directory(output.parent, "--output")
        report = integrate_file(
            Path(args.input),
            args.tree,
            output,
            settings,
            workers=args.workers,
            chunk=args.chunk,
            max_events=args.max_events,
            progress=not args.no_progress,
        )
        failed = ""
        if report.n_failed:
            shown = ", ".join(str(entry) for entry in report.failed_entries)
            more = ", ..." if report.n_failed > len(report.failed_entries) else ""
            failed = f" ({report.n_failed} with a zero or non-finite weight: entries {shown}{more})"
        print(
            f"{output}: tree momemta, {report.n_events} events{failed}; "
            f"{report.n_integrated} integrated in {report.seconds:.1f} s "
            f"({report.seconds_per_event:.3f} s/event with {args.workers} worker(s))"
        )

    return run_cli(run, "smartml.mem", args.verbose)


if __name__ == "__main__":
    sys.exit(main())
