"""One worker of a search: ask the study for a trial, train it, report its values;
until the study holds the trials wanted."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from smartml.errors import SmartmlError, first_line
from smartml.tune.study import (
    FAIL_REASON,
    MAX_FAILURES_IN_A_ROW,
    WORKER_ATTR,
    TuneError,
    WorkerIdentity,
    best_so_far,
    count_results,
    count_under_way,
    fail_dead_trials,
    format_values,
    is_surplus,
    pruning_sign,
    suggest,
)

if TYPE_CHECKING:
    from smartml.backend import keras
    from smartml.config import RunConfig
    from smartml.tune.objectives import ResolvedObjective
    from smartml.tune.references import ReferenceRun

RUN_DIR_ATTR = "run_dir"


@dataclass(frozen=True)
class Search:
    """What every worker of one search shares.

    Attributes:
        raw: the parsed run configuration (with its ``tune`` section).
        config: the validated run configuration.
        objectives: the resolved objectives.
        tune_dir: ``<run dir>/tune``.
        trials: finished trials wanted in the study.
        references: runs drawn beside the Pareto front (checked, not yet measured).
    """

    raw: dict
    config: RunConfig
    objectives: list[ResolvedObjective]
    tune_dir: Path
    trials: int
    references: tuple[ReferenceRun, ...] = ()

    def trial_dir(self, number: int) -> Path:
        return self.tune_dir / f"trial-{number}"


def run_worker(study: optuna.Study, search: Search, label: str = "") -> None:
    """Run trials until the study holds ``search.trials`` finished ones (counting
    those of every worker), printing one line per trial this worker finishes.

    Raises:
        TuneError: :data:`MAX_FAILURES_IN_A_ROW` trials of this worker failed.
    """
    failures: list[str] = []
    while True:
        for number in fail_dead_trials(study):
            print(f"trial {number}: its process died; marked failed", flush=True)
        if count_results(study) + count_under_way(study) >= search.trials:
            return
        trial = study.ask()
        trial.set_user_attr(WORKER_ATTR, vars(WorkerIdentity.this_process()))
        if is_surplus(study, trial.number, search.trials):
            trial.set_user_attr(FAIL_REASON, "surplus")
            study.tell(trial, state=TrialState.FAIL)
            return
        outcome, failed = _run_trial(study, trial, search)
        print(f"{label}{outcome}; {best_so_far(study, search.objectives)}", flush=True)
        failures = [*failures, outcome] if failed else []
        if len(failures) >= MAX_FAILURES_IN_A_ROW:
            raise TuneError(f"{len(failures)} trials in a row failed; the last: {failures[-1]}")


def _run_trial(study: optuna.Study, trial: optuna.Trial, search: Search) -> tuple[str, bool]:
    """Train and judge one trial, tell the study; returns its progress line and
    whether it failed."""
    run_dir = search.trial_dir(trial.number)
    trial.set_user_attr(RUN_DIR_ATTR, str(run_dir))
    try:
        values, pruned_at = train_trial(trial, search, run_dir)
    except SmartmlError as err:
        study.tell(trial, state=TrialState.FAIL)
        return f"trial {trial.number} failed: {first_line(err)}", True
    except BaseException:  # ^C or a bug: the trial is not a result
        study.tell(trial, state=TrialState.FAIL)
        raise
    if pruned_at is not None:
        study.tell(trial, state=TrialState.PRUNED)
        return f"trial {trial.number} pruned after epoch {pruned_at + 1}", False
    if not all(math.isfinite(value) for value in values):
        study.tell(trial, state=TrialState.FAIL)
        return f"trial {trial.number} failed: {format_values(search.objectives, values)}", True
    study.tell(trial, values)
    return f"trial {trial.number}: {format_values(search.objectives, values)}", False


def train_trial(
    trial: optuna.Trial, search: Search, run_dir: Path
) -> tuple[list[float], int | None]:
    """Train the trial's configuration in ``run_dir`` and read its objectives on the
    validation split.

    Returns:
        (the objective values, the epoch after which the pruner stopped it or None).
    """
    from smartml.backend import keras
    from smartml.registry import TASKS
    from smartml.training.trainer import train
    from smartml.tune.objectives import validation_metrics
    from smartml.tune.space import trial_config

    values = suggest(trial, search.config)
    name = f"{search.config.name}.trial-{trial.number}"
    config = trial_config(search.raw, values, str(run_dir), name)
    config.training.verbose = 0  # the search prints one line per trial
    callbacks = []
    tune = search.config.tune
    if tune is not None and tune.pruner != "none":
        callbacks.append(_pruning_callback(trial, config, search.objectives[0]))
    keras.backend.clear_session()  # trials in one process must not pile up graphs
    trained = train(config, extra_callbacks=callbacks)
    task = TASKS.get(config.task.name)(config, trained)
    metrics = validation_metrics(trained, task)
    pruned_at = callbacks[0].pruned_at if callbacks else None
    return [objective.value(metrics) for objective in search.objectives], pruned_at


def _pruning_callback(
    trial: optuna.Trial, config: RunConfig, objective: ResolvedObjective
) -> keras.callbacks.Callback:
    from smartml.backend import keras
    from smartml.registry import TASKS
    from smartml.runs.directory import RunDirectory

    metric = TASKS.get(config.task.name)(config, RunDirectory(config.run_dir())).validation_metric()

    class PruningCallback(keras.callbacks.Callback):
        """Report the validation metric after every epoch; stop the training when the
        pruner says so (the run still completes, with fewer epochs)."""

        def __init__(self) -> None:
            super().__init__()
            self.pruned_at: int | None = None

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            value = (logs or {}).get(metric.key)
            if value is None or not math.isfinite(float(value)):
                return
            trial.report(pruning_sign(objective, metric.better) * float(value), epoch)
            if trial.should_prune():
                self.pruned_at = epoch
                self.model.stop_training = True

    return PruningCallback()
