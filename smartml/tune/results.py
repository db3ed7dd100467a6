"""The outcome of a search: the best trial, or the Pareto front as a table
(``tune/pareto.csv``, ``tune/pareto.json``) and a plot (``tune/pareto.png``, its points
in ``tune/pareto_plot.json``), with the reference runs' objectives beside them
(``tune/references.csv``, ``tune/references.json``); every listed run with its run
directory and config.json, ready for ``smartml.export``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from optuna.trial import TrialState

from smartml.files import write_json_atomic
from smartml.tune.references import references_table
from smartml.tune.study import TuneError
from smartml.tune.worker import RUN_DIR_ATTR

if TYPE_CHECKING:
    import optuna
    from matplotlib.figure import Figure

    from smartml.tune.objectives import ResolvedObjective
    from smartml.tune.references import ReferenceRun

# markers of the reference runs, in order (C0..C2 colours; the front is C3)
REFERENCE_MARKERS = ("s", "D", "^", "v", "P", "X")


def trials_table(
    trials: list[optuna.trial.FrozenTrial], objectives: list[ResolvedObjective]
) -> pd.DataFrame:
    """One row per trial: its number, objective values, parameters, run directory and
    config path."""
    rows = []
    for trial in sorted(trials, key=lambda trial: trial.number):
        run_dir = trial.user_attrs.get(RUN_DIR_ATTR, "")
        row: dict[str, object] = {"trial": trial.number}
        row.update(
            {o.metric: value for o, value in zip(objectives, trial.values or [], strict=False)}
        )
        row.update(trial.params)
        row.update(run_dir=run_dir, config=str(Path(run_dir) / "config.json"))
        rows.append(row)
    return pd.DataFrame(rows)


def report(
    study: optuna.Study,
    objectives: list[ResolvedObjective],
    tune_dir: Path,
    references: tuple[ReferenceRun, ...] | list[ReferenceRun] = (),
) -> str:
    """Write the search's results under ``tune_dir`` and return them as text: the best
    trial (best.json) with one objective, the Pareto front (pareto.csv, pareto.json,
    pareto.png and the plotted points, pareto_plot.json) with several; the reference
    runs' objectives, measured as a trial's, in references.csv and references.json and
    on the plot."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise TuneError(f"study {study.study_name!r}: no trial completed")
    counts = {
        state.name.lower(): len(study.get_trials(deepcopy=False, states=(state,)))
        for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    }
    header = f"study {study.study_name!r}: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    reference_rows = references_table(list(references), objectives)
    reference_lines = []
    if references:
        reference_rows.to_csv(tune_dir / "references.csv", index=False)
        write_json_atomic(tune_dir / "references.json", reference_rows.to_dict(orient="records"))
        reference_lines = ["reference runs:", reference_rows.to_string(index=False)]
    if len(objectives) == 1:
        best = trials_table([study.best_trial], objectives)
        write_json_atomic(tune_dir / "best.json", best.to_dict(orient="records")[0])
        lines = [header, "best trial:", best.to_string(index=False), *reference_lines]
        return "\n".join(lines)
    front = trials_table(study.best_trials, objectives)
    front.to_csv(tune_dir / "pareto.csv", index=False)
    write_json_atomic(tune_dir / "pareto.json", front.to_dict(orient="records"))
    plot = pareto_plot_data(trials_table(complete, objectives), front, reference_rows, objectives)
    write_json_atomic(tune_dir / "pareto_plot.json", plot)
    pareto_figure(plot, study.study_name).savefig(tune_dir / "pareto.png", dpi=120)
    lines = [header, "Pareto front:", front.to_string(index=False), *reference_lines]
    written = "pareto.json, pareto.png, pareto_plot.json"
    lines.append(
        f"written: {tune_dir / 'pareto.csv'}, {written}"
        + (", references.csv, references.json" if references else "")
    )
    return "\n".join(lines)


def pareto_plot_data(
    trials: pd.DataFrame,
    front: pd.DataFrame,
    references: pd.DataFrame,
    objectives: list[ResolvedObjective],
) -> dict[str, Any]:
    """What :func:`pareto_figure` draws (written as ``pareto_plot.json``): the first
    two objectives of every complete trial, of the Pareto front's trials in order of
    the first, and of each reference run, with the axes' metrics, directions and the
    y scale (log where the values are positive and span more than a factor 20)."""
    x, y = objectives[0].metric, objectives[1].metric

    def points(table: pd.DataFrame, key: str) -> list[dict[str, Any]]:
        return [
            {key: row[key] if key == "run" else int(row[key]), "x": float(row[x]),
             "y": float(row[y])}
            for _, row in table.iterrows()
        ]  # fmt: skip

    plot: dict[str, Any] = {
        "x": {"metric": x, "direction": objectives[0].direction},
        "y": {"metric": y, "direction": objectives[1].direction},
        "objectives_not_shown": [o.metric for o in objectives[2:]],
        "trials": points(trials, "trial"),
        "front": points(front.sort_values(x), "trial"),
        "references": points(references, "run"),
    }
    ys = [p["y"] for p in plot["trials"] + plot["references"]]
    plot["y"]["scale"] = "log" if min(ys) > 0 and max(ys) > 20 * min(ys) else "linear"
    return plot


def pareto_figure(plot: dict[str, Any], title: str) -> Figure:
    """The points of :func:`pareto_plot_data`: every complete trial in grey, the
    Pareto front marked and joined, each reference run a labelled marker of its own."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4.5), layout="constrained")
    axes = figure.add_subplot()
    trials, front = plot["trials"], plot["front"]
    axes.scatter([p["x"] for p in trials], [p["y"] for p in trials], color="0.6", label="trials")
    axes.plot([p["x"] for p in front], [p["y"] for p in front], "o-", color="C3",
              label="Pareto front")  # fmt: skip
    for point in front:
        axes.annotate(str(point["trial"]), (point["x"], point["y"]), fontsize=8, xytext=(3, 3),
                      textcoords="offset points")  # fmt: skip
    for index, point in enumerate(plot["references"]):
        marker = REFERENCE_MARKERS[index % len(REFERENCE_MARKERS)]
        axes.plot(point["x"], point["y"], marker, color=f"C{index % 3}", markersize=8,
                  linestyle="none", label=point["run"])  # fmt: skip
        axes.annotate(point["run"], (point["x"], point["y"]), fontsize=8, xytext=(4, -10),
                      textcoords="offset points")  # fmt: skip
    axes.set_xlabel(f"{plot['x']['metric']} ({plot['x']['direction']})")
    axes.set_ylabel(f"{plot['y']['metric']} ({plot['y']['direction']})")
    hidden = plot["objectives_not_shown"]
    axes.set_title(f"{title} (objectives 3+ not shown: {len(hidden)})" if hidden else title)
    axes.legend(fontsize=8)
    axes.set_yscale(plot["y"]["scale"])  # BOPs and the like span decades
    return figure
