"""Everything checked before the first trial: the configuration and its ``tune``
section, the search space against the schema, the objectives against the task; then
the study on its storage."""

import json
from pathlib import Path

import optuna

from smartml.config import load_config
from smartml.config.loader import apply_overrides
from smartml.errors import ConfigError
from smartml.tune.objectives import resolve_objectives
from smartml.tune.space import check_space
from smartml.tune.study import open_storage, open_study
from smartml.tune.worker import Search

# Worker i of a study that already holds n trials samples with seed + i·SEED_STRIDE + n:
# workers started together must not draw the same first trials.
SEED_STRIDE = 1000


def prepare_search(
    config_path: str,
    trials: int | None = None,
    references: list[str] | tuple[str, ...] = (),
    overrides: dict | None = None,
) -> Search:
    """Load and check the search of the run configuration at ``config_path``.

    Args:
        config_path: a run configuration with a ``tune`` section.
        trials: finished trials wanted (default ``tune.trials``).
        references: run directories to draw beside the Pareto front besides
            ``tune.reference_runs`` (``--reference``, relative to the working directory).
        overrides: dotted key -> value (``--set``), applied to the file before the
            search reads it, so every trial starts from them.

    Raises:
        ConfigError: no ``tune`` section, a parameter key or value the schema
            refuses, an objective that is not a validation-split metric of the task,
            or a reference run that is missing, incomplete or on other data.
    """
    from smartml.registry import TASKS
    from smartml.runs.directory import RunDirectory
    from smartml.tune.references import check_reference, resolve_references

    config = load_config(config_path, overrides)
    if config.tune is None:
        raise ConfigError(f"{config_path}: tune: required section is missing for a search")
    raw = apply_overrides(json.loads(Path(config_path).read_text()), overrides or {})
    check_space(raw, config.tune, config_path)
    task = TASKS.get(config.task.name)(config, RunDirectory(config.run_dir()))
    objectives = resolve_objectives(config.tune.objectives, config, task, config_path)
    runs = resolve_references(config, config_path, references)
    for reference in runs:
        check_reference(reference, config, objectives)
    tune_dir = Path(config.run_dir()) / "tune"
    return Search(raw, config, objectives, tune_dir, trials or config.tune.trials, tuple(runs))


def start_study(
    search: Search, storage_url: str | None, name: str | None, worker_index: int = 0
) -> optuna.Study:
    """Create or load the search's study, with this worker's sampler.

    Args:
        search: from :func:`prepare_search`.
        storage_url: ``--storage`` (None: the journal file in the tune directory).
        name: ``--study`` (None: the run name).
        worker_index: 0 for a lone process, 1..K for the workers of ``--workers K``.
    """
    assert search.config.tune is not None
    storage = open_storage(storage_url, search.tune_dir)
    study = open_study(
        storage, name or search.config.name, search.objectives, search.config.tune.pruner
    )
    seed = search.config.tune.sampler_seed + worker_index * SEED_STRIDE + len(study.trials)
    study.sampler = optuna.samplers.TPESampler(seed=seed)
    search.tune_dir.mkdir(parents=True, exist_ok=True)
    return study
