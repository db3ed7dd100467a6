"""Particle identification of several runs on the same test events, per bin.

Reads what evaluation stored (metrics.json: the ``pid`` block of the network and the
baseline's block, per bin of the binning variable at the baseline's own signal
efficiency, see :mod:`smartml.tasks.rich_pid.pid_efficiency`), so that runs of different
models (PointNet, DGCNN) and their common baseline are compared at equal signal
efficiency in every bin.
"""

import pandas as pd
from matplotlib.figure import Figure

from smartml.analysis.run_contents import RunContents
from smartml.errors import SmartmlError
from smartml.tasks.rich_pid.pid_efficiency import (
    BASELINE_EFFICIENCY,
    PID_BLOCK,
    PidDefinition,
    misid_figure,
    versus_baseline,
)


def per_bin_frames(
    run: RunContents, definition: PidDefinition, point: str = BASELINE_EFFICIENCY
) -> dict[str, pd.DataFrame]:
    """The run's network and baseline per bin at operating point ``point``."""
    frames = {}
    for scorer, block in (("net", run.metrics), ("baseline", run.metrics)):
        if scorer == "baseline":
            block = block.get(definition.baseline_block, {})
        try:
            table = block[PID_BLOCK]["operating_points"][point]["per_momentum_bin"]
        except (KeyError, TypeError):
            raise SmartmlError(
                f"{run.path / 'metrics.json'}: no per-bin PID of the {scorer} at {point}; "
                "evaluate the run with python -m smartml.evaluate"
            ) from None
        frames[scorer] = pd.DataFrame(table)
    return frames


def misid_at_baseline_efficiency(
    runs: list[RunContents],
    definition: PidDefinition | None = None,
    point: str = BASELINE_EFFICIENCY,
) -> tuple[pd.DataFrame, Figure]:
    """Background mis-ID per bin of every run and of the baseline, each run at the
    baseline's signal efficiency in that bin.

    Args:
        runs: complete runs evaluated on the same test events (same data settings):
            their baselines must agree bin by bin.
        definition: names of classes and variable (default pion against muon).
        point: the baseline's operating point: ``baseline_efficiency`` (its own
            threshold) or ``baseline_efficiency_90`` / ``_95`` (the threshold giving it
            90% / 95% signal efficiency overall); each run's column beside it is
            followed by its excess over the baseline in σ (see
            :func:`~smartml.tasks.rich_pid.pid_efficiency.versus_baseline`).

    Returns:
        the table (one row per bin: its edges, the baseline's signal efficiency, the
        mis-ID of each run and of the baseline) and its figure (log y).

    Raises:
        SmartmlError: a run lacks the per-bin block, or the runs' baselines differ
            (they were not evaluated on the same events).
    """
    definition = definition or PidDefinition()
    signal, background = definition.signal, definition.background
    frames = {run.name: per_bin_frames(run, definition, point) for run in runs}
    reference_name, reference = next(iter(frames.items()))
    baseline = reference["baseline"]
    for name, frame in frames.items():
        if not frame["baseline"].equals(baseline):
            raise SmartmlError(
                f"runs {reference_name} and {name}: their baselines differ per bin; compare "
                "runs evaluated on the same test events"
            )
    table = baseline[["low", "high"]].copy()
    table[f"{signal} efficiency"] = baseline[f"{signal} efficiency"]
    for name, frame in frames.items():
        table[f"{background} mis-ID {name}"] = frame["net"][f"{background} efficiency"]
        versus = versus_baseline(frame["net"], baseline, definition)
        table[f"{name} excess σ"] = versus["excess_sigma"]
    table[f"{background} mis-ID {definition.baseline_label}"] = baseline[f"{background} efficiency"]
    series = {name: frame["net"] for name, frame in frames.items()}
    series[definition.baseline_label] = baseline
    condition = f"at the {definition.baseline_label} {signal} efficiency per bin"
    efficiency = definition.baseline_point_keys.get(point)
    if efficiency is not None:
        condition += f" ({100 * efficiency:g}% overall)"
    figure = misid_figure(series, definition, condition)
    return table, figure
