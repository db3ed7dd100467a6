"""What a search may optimise, measured on the validation split only.

Allowed objective metrics (the test split stays untouched by the search):

- the task's primary validation metric by its Keras key (``val_loss``, ``val_auc``...),
  at the epoch whose weights were kept (metrics.json's ``validation`` block);
- any of the task's summary metrics whose ``better`` is ``lower`` or ``higher``
  (``y-midplane.robust_width``, ``roc.auc``...), recomputed on the validation split
  with the kept model (written to the trial's ``validation_metrics.json``); metrics best
  at a target value (a bias, a pull width) are not objectives;
- for exportable models, the hardware cost of the kept model: ``hardware.bops``,
  ``hardware.sparsity``, ``hardware.macs`` and ``hardware.luts`` (the LUTs of its
  kernels in distributed arithmetic, predicted by :mod:`smartml.hardware.da_cost`
  without synthesis) and ``hardware.unrolled_luts`` (the same with a copy of each
  kernel per output position, as the RTL export builds it); the same on every split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from smartml.errors import ConfigError
from smartml.files import write_json_atomic

if TYPE_CHECKING:
    from smartml.config import RunConfig
    from smartml.config.tune import Objective
    from smartml.runs.directory import RunDirectory
    from smartml.tasks.base import Task

VALIDATION_METRICS = "validation_metrics.json"
HARDWARE_METRICS = {
    "hardware.bops": "lower",
    "hardware.sparsity": "higher",
    "hardware.macs": "lower",
    "hardware.luts": "lower",
    "hardware.unrolled_luts": "lower",
}
DIRECTIONS = {"lower": "minimize", "higher": "maximize"}
Direction = Literal["minimize", "maximize"]


@dataclass(frozen=True)
class ResolvedObjective:
    """An objective with its direction and where its value comes from.

    Attributes:
        metric: its name (see the module's list).
        direction: ``minimize`` or ``maximize``.
        source: ``validation`` (the kept epoch's validation metric), ``summary``
            (recomputed on the validation split) or ``hardware``.
    """

    metric: str
    direction: Direction
    source: Literal["validation", "summary", "hardware"]

    def value(self, validation_metrics: dict) -> float:
        """This objective's number in a trial's ``validation_metrics.json``."""
        entry: object = validation_metrics
        for part in self.metric.split(".") if self.source != "validation" else [self.metric]:
            entry = entry.get(part) if isinstance(entry, dict) else None
        if isinstance(entry, bool) or not isinstance(entry, int | float):
            raise ConfigError(f"objective {self.metric}: the trial gave no number ({entry!r})")
        return float(entry)


def allowed_metrics(config: RunConfig, task: Task) -> dict[str, tuple[str, str]]:
    """Objective metric -> (its better direction, its source) for ``task``."""
    from smartml.models.exportability import is_exportable

    validation = task.validation_metric()
    allowed: dict[str, tuple[str, str]] = {validation.key: (validation.better, "validation")}
    for metric in task.summary_metrics():
        if metric.better in DIRECTIONS:
            allowed[metric.key] = (metric.better, "summary")
    if is_exportable(config.model):
        allowed.update({key: (better, "hardware") for key, better in HARDWARE_METRICS.items()})
    return allowed


def resolve_objectives(
    objectives: list[Objective], config: RunConfig, task: Task, source: str
) -> list[ResolvedObjective]:
    """Check each objective's metric against :func:`allowed_metrics` and give it its
    direction.

    Raises:
        ConfigError: one line naming the unknown metric and the allowed ones.
    """
    allowed = allowed_metrics(config, task)
    resolved = []
    for index, objective in enumerate(objectives):
        if objective.metric not in allowed:
            raise ConfigError(
                f"{source}: tune.objectives[{index}].metric: {objective.metric!r} is not a "
                f"validation-split metric of task {config.task.name!r}; allowed: "
                f"{', '.join(allowed)}"
            )
        better, kind = allowed[objective.metric]
        direction = objective.direction or DIRECTIONS[better]
        resolved.append(ResolvedObjective(objective.metric, direction, kind))  # type: ignore[arg-type]
    return resolved


def validation_metrics(run_dir: RunDirectory, task: Task, cache: bool = True) -> dict:
    """The kept model of a complete trial judged on the validation split (the task's
    metrics, its hardware cost, the kept epoch's validation metric), written once to
    the trial's ``validation_metrics.json`` and read back afterwards.

    Args:
        run_dir: the trial's complete run directory (or a reference run's).
        task: its task, not yet prepared.
        cache: read and write ``validation_metrics.json``; False for a run that is
            not the search's own (a reference run: judged anew, nothing written).
    """
    from smartml.hardware.cost import hardware_report
    from smartml.models.exportability import is_exportable

    path = run_dir.path / VALIDATION_METRICS
    if cache and path.is_file():
        return json.loads(path.read_text())
    task.prepare(fit=False)
    model = run_dir.load_model()
    examples = task.examples("validation")
    if len(examples) == 0:
        raise ConfigError(f"{run_dir.path}: the validation split is empty; nothing to optimise")
    metrics = task.split_metrics(examples, task.predict(model, examples))
    metrics["validation_examples"] = len(examples)
    if is_exportable(task.config.model):
        metrics["hardware"] = hardware_report(model)
    kept = run_dir.read_json(run_dir.metrics).get("validation") or {}
    metrics[task.validation_metric().key] = kept.get("value")
    if cache:
        write_json_atomic(path, metrics)
    return metrics
