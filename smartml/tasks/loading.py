"""Opening a complete run with its task: what evaluation, export, comparisons and
notebooks start from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smartml.tasks.base import Task
    from smartml.training.run_directory import RunDirectory


def open_task(path: str | Path, prepare: bool = True) -> tuple[RunDirectory, Task]:
    """The complete run at ``path`` and its task, bound to the run's configuration.

    Args:
        prepare: also make the data available and read the task's run files
            (normalisations, baselines) back, as evaluation and export need; without,
            the task only answers declarations (summary metrics, inputs, output kind).
    """
    from smartml.config import load_config
    from smartml.registry import TASKS
    from smartml.training.run_directory import RunDirectory

    run_dir = RunDirectory(path).require_complete()
    config = load_config(run_dir.config)
    task = TASKS.get(config.task.name)(config, run_dir)
    if prepare:
        task.prepare(fit=False)
    return run_dir, task
