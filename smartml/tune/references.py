"""Reference runs drawn beside a search's Pareto front: complete runs trained outside
the search (an L1/L2 baseline, an MDMM run...), from ``tune.reference_runs`` (paths
relative to the configuration file) and ``--reference RUN_DIR`` (relative to the
working directory).

Each is checked when the search starts, before any trial: a complete run of the
search's task on the same data (the same ``data`` section, keys the search varies
aside), so that its validation split is the trials'; its model must give every
objective (an exportable one for ``hardware.*``). Its objectives are then measured as
a trial's are, by :func:`smartml.tune.objectives.validation_metrics` on its kept
model (nothing is written into the reference run).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from smartml.errors import ConfigError, SmartmlError, first_line

if TYPE_CHECKING:
    import pandas as pd

    from smartml.config import RunConfig
    from smartml.tune.objectives import ResolvedObjective

COMPARED_SECTIONS = ("task", "data")


@dataclass(frozen=True)
class ReferenceRun:
    """A run to draw beside the Pareto front.

    Attributes:
        label: its name on the plot and in the tables (the directory's name).
        path: its run directory.
        source: where it was asked for, for messages (``x.json: tune.reference_runs[0]``,
            ``--reference``).
    """

    label: str
    path: Path
    source: str


def resolve_references(
    config: RunConfig, config_path: str, extra: list[str] | tuple[str, ...] = ()
) -> list[ReferenceRun]:
    """The reference runs of ``config.tune`` (relative to ``config_path``'s folder)
    followed by ``extra`` (``--reference``, relative to the working directory); a run
    named twice is kept once.

    >>> from types import SimpleNamespace
    >>> from smartml.config.tune import TuneConfig
    >>> tune = TuneConfig.model_validate({"objectives": [{"metric": "val_loss"}],
    ...     "parameters": [{"key": "model.filters", "type": "int", "low": 2, "high": 8}],
    ...     "reference_runs": ["../runs/pixel_2t_l1l2", "../runs/pixel_2t_mdmm"]})
    >>> runs = resolve_references(SimpleNamespace(tune=tune), "configs/x.json", ["r/a", "r/a"])
    >>> [(run.label, str(run.path), run.source) for run in runs]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('pixel_2t_l1l2', 'runs/pixel_2t_l1l2', 'configs/x.json: tune.reference_runs[0]'),
     ('pixel_2t_mdmm', 'runs/pixel_2t_mdmm', 'configs/x.json: tune.reference_runs[1]'),
     ('a', 'r/a', '--reference')]
    """
    assert config.tune is not None
    folder = Path(config_path).parent
    asked = [
        (Path(os.path.normpath(folder / path)), f"{config_path}: tune.reference_runs[{index}]")
        for index, path in enumerate(config.tune.reference_runs)
    ] + [(Path(path), "--reference") for path in extra]
    seen: set[Path] = set()
    unique = []
    for path, source in asked:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append((path, source))
    names = [path.resolve().name for path, _ in unique]
    return [
        ReferenceRun(name if names.count(name) == 1 else str(path), path, source)
        for (path, source), name in zip(unique, names, strict=True)
    ]


def check_reference(
    reference: ReferenceRun, config: RunConfig, objectives: list[ResolvedObjective]
) -> None:
    """Refuse, in one line naming where it was asked for, a reference run that is
    missing or incomplete, of another task, on other data, or whose model cannot give
    every objective.

    Raises:
        ConfigError: ``<source>: <path>: <reason>``.
    """
    from smartml.config.fingerprint import differing_keys
    from smartml.runs.opening import open_task
    from smartml.tune.objectives import allowed_metrics

    where = f"{reference.source}: {reference.path}"
    try:
        _, task = open_task(reference.path, prepare=False)
    except SmartmlError as err:
        reason = first_line(err)
        prefix = f"{reference.path}: "
        raise ConfigError(
            f"{reference.source}: {reason if reason.startswith(prefix) else f'{where}: {reason}'}"
        ) from None
    assert config.tune is not None
    tuned = tuple(parameter.key for parameter in config.tune.parameters)
    ours = {key: config.model_dump(mode="json")[key] for key in COMPARED_SECTIONS}
    theirs = {key: task.config.model_dump(mode="json")[key] for key in COMPARED_SECTIONS}
    differing = [
        key
        for key in differing_keys(ours, theirs)
        if not any(key == t or key.startswith(f"{t}.") for t in tuned)
    ]
    if differing:
        flat_ours, flat_theirs = dict(_flat_items(ours)), dict(_flat_items(theirs))
        shown = ", ".join(
            f"{key}: {_shown(flat_ours, key)} -> {_shown(flat_theirs, key)}" for key in differing
        )
        raise ConfigError(
            f"{where}: not trained on the search's task and data ({shown}: the search's -> "
            "the run's); its validation split would not be the trials'"
        )
    missing = [o.metric for o in objectives if o.metric not in allowed_metrics(task.config, task)]
    if missing:
        raise ConfigError(f"{where}: its model gives no {', '.join(missing)}")


def reference_values(reference: ReferenceRun, objectives: list[ResolvedObjective]) -> list[float]:
    """The reference run's objectives, measured as a trial's: its kept model on its
    validation split (:func:`~smartml.tune.objectives.validation_metrics`, not cached)."""
    from smartml.backend import keras
    from smartml.runs.opening import open_task
    from smartml.tune.objectives import validation_metrics

    keras.backend.clear_session()
    run_dir, task = open_task(reference.path, prepare=False)
    metrics = validation_metrics(run_dir, task, cache=False)
    try:
        return [objective.value(metrics) for objective in objectives]
    except ConfigError as err:
        raise ConfigError(f"reference run {reference.path}: {err}") from None


def references_table(
    references: list[ReferenceRun], objectives: list[ResolvedObjective]
) -> pd.DataFrame:
    """One row per reference run: its label (``run``), objective values, run
    directory and config path (the columns of the Pareto table, ``run`` for ``trial``)."""
    import pandas as pd

    rows = []
    for reference in references:
        values = reference_values(reference, objectives)
        row: dict[str, object] = {"run": reference.label}
        row.update({o.metric: value for o, value in zip(objectives, values, strict=True)})
        row.update(run_dir=str(reference.path), config=str(reference.path / "config.json"))
        rows.append(row)
    columns = ["run", *(o.metric for o in objectives), "run_dir", "config"]
    return pd.DataFrame(rows, columns=columns)


def _shown(flat: dict[str, object], key: str) -> str:
    return json.dumps(flat[key]) if key in flat else "(absent)"


def _flat_items(tree: dict, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted key, leaf) pairs of a nested JSON object, as
    :func:`~smartml.config.fingerprint.differing_keys` names them."""
    items: list[tuple[str, object]] = []
    for key, value in tree.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            items.extend(_flat_items(value, dotted))
        else:
            items.append((dotted, value))
    return items
