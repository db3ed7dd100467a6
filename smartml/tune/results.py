"""The outcome of a search: the best trial, or the Pareto front as a table
(``tune/pareto.csv``, ``tune/pareto.json``) and a plot (``tune/pareto.png``); every
listed trial with its run directory and config.json, ready for ``smartml.export``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from optuna.trial import TrialState

from smartml.files import write_json_atomic
from smartml.tune.study import TuneError
from smartml.tune.worker import RUN_DIR_ATTR

if TYPE_CHECKING:
    import optuna
    from matplotlib.figure import Figure

    from smartml.tune.objectives import ResolvedObjective


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


def report(study: optuna.Study, objectives: list[ResolvedObjective], tune_dir: Path) -> str:
    """Write the search's results under ``tune_dir`` and return them as text: the best
    trial (best.json) with one objective, the Pareto front (pareto.csv, pareto.json,
    pareto.png) with several."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise TuneError(f"study {study.study_name!r}: no trial completed")
    counts = {
        state.name.lower(): len(study.get_trials(deepcopy=False, states=(state,)))
        for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    }
    header = f"study {study.study_name!r}: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    if len(objectives) == 1:
        best = trials_table([study.best_trial], objectives)
        write_json_atomic(tune_dir / "best.json", best.to_dict(orient="records")[0])
        return f"{header}\nbest trial:\n{best.to_string(index=False)}"
    front = trials_table(study.best_trials, objectives)
    front.to_csv(tune_dir / "pareto.csv", index=False)
    write_json_atomic(tune_dir / "pareto.json", front.to_dict(orient="records"))
    figure = pareto_figure(trials_table(complete, objectives), front, objectives, study.study_name)
    figure.savefig(tune_dir / "pareto.png", dpi=120)
    lines = [header, "Pareto front:", front.to_string(index=False)]
    lines.append(f"written: {tune_dir / 'pareto.csv'}, pareto.json, pareto.png")
    return "\n".join(lines)


def pareto_figure(
    trials: pd.DataFrame, front: pd.DataFrame, objectives: list[ResolvedObjective], title: str
) -> Figure:
    """The first two objectives of every complete trial, the Pareto front marked and
    joined in order of the first objective."""
    from matplotlib.figure import Figure

    x, y = objectives[0].metric, objectives[1].metric
    figure = Figure(figsize=(6, 4.5), layout="constrained")
    axes = figure.add_subplot()
    axes.scatter(trials[x], trials[y], color="0.6", label="trials")
    ordered = front.sort_values(x)
    axes.plot(ordered[x], ordered[y], "o-", color="C3", label="Pareto front")
    for _, row in ordered.iterrows():
        axes.annotate(str(int(row["trial"])), (row[x], row[y]), fontsize=8, xytext=(3, 3),
                      textcoords="offset points")  # fmt: skip
    axes.set_xlabel(f"{x} ({objectives[0].direction})")
    axes.set_ylabel(f"{y} ({objectives[1].direction})")
    more = f" (objectives 3+ not shown: {len(objectives) - 2})" if len(objectives) > 2 else ""
    axes.set_title(f"{title}{more}")
    axes.legend()
    if np.all(trials[[x, y]].to_numpy() > 0) and trials[y].max() > 20 * trials[y].min():
        axes.set_yscale("log")  # BOPs and the like span decades
    return figure
