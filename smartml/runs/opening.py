"""Opening a complete run with its task: what evaluation, export, comparisons and
notebooks start from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smartml.backend import keras
    from smartml.runs.directory import RunDirectory
    from smartml.tasks.base import Task


def open_task(path: str | Path, prepare: bool = True) -> tuple[RunDirectory, Task]:
    """The complete run at ``path`` and its task, bound to the run's configuration.

    Args:
        prepare: also make the data available and read the task's run files
            (normalisations, baselines) back, as evaluation and export need, once the
            input files are checked to be the run's
            (:meth:`~smartml.runs.directory.RunDirectory.refuse_changed_inputs`);
            without, the task only answers declarations (summary metrics, inputs,
            output kind).
    """
    from smartml.config import load_config
    from smartml.registry import TASKS
    from smartml.runs.directory import RunDirectory

    run_dir = RunDirectory(path).require_complete()
    config = load_config(run_dir.config)
    task = TASKS.get(config.task.name)(config, run_dir)
    if prepare:
        run_dir.refuse_changed_inputs()
        task.prepare(fit=False)
    return run_dir, task


def open_verified_run(path: str | Path) -> tuple[RunDirectory, Task, keras.Model]:
    """The complete run at ``path``, its prepared task and its model, verified (see
    :func:`load_verified_model`) before the task's data are touched. A run evaluated
    by other software than the one running now gets one warning line
    (:func:`smartml.runs.provenance.describe_version_change`)."""
    run_dir, task = open_task(path, prepare=False)
    warn_if_other_software(run_dir)
    model = load_verified_model(run_dir, task)
    task.prepare(fit=False)
    return run_dir, task, model


def warn_if_other_software(run_dir: RunDirectory) -> str | None:
    """Log, and return, the one-line warning when the software that evaluated the run
    (metrics.json ``provenance``) differs from the one running now; None otherwise or
    when the run recorded none."""
    import logging

    from smartml.runs.provenance import describe_version_change

    metrics = run_dir.read_json(run_dir.metrics) if run_dir.metrics.is_file() else {}
    message = describe_version_change(metrics.get("provenance"), str(run_dir.path))
    if message is not None:
        logging.getLogger("smartml.runs").warning(message)
    return message


def load_verified_model(run_dir: RunDirectory, task: Task) -> keras.Model:
    """The run's model.h5, checked to be the model the run trained.

    Each check is a one-line error: the configuration's fingerprint and the file's
    sha256 must be those COMPLETE.json recorded (runs completed before they were
    recorded skip these two), the input files evaluation reads must be those run.json
    recorded (:meth:`~smartml.runs.directory.RunDirectory.refuse_changed_inputs`;
    a run recorded before gets a warning), and the model must have the architecture
    the run's configuration builds (input names and shapes, output size, parameter
    count, layer names).

    Args:
        run_dir: a complete run; task: its task, bound to the run's configuration.

    Raises:
        RunDirectoryError: the model or an input file was replaced, or the model does
            not fit the configuration.
    """
    from smartml.config.fingerprint import fingerprint
    from smartml.errors import RunDirectoryError
    from smartml.files import file_sha256
    from smartml.models.binding import build_model

    completion = run_dir.completion()
    recorded_fingerprint = completion.get("fingerprint")
    # The file as stored, not as validated today: a key smartml added since, with its
    # default, is not an edit of the run's configuration.
    stored = run_dir.read_json(run_dir.config)
    if recorded_fingerprint is not None and fingerprint(stored) != recorded_fingerprint:
        raise RunDirectoryError(
            f"{run_dir.config}: changed since the run completed (its fingerprint differs "
            f"from the one in {run_dir.marker.name}); restore the run's own configuration"
        )
    recorded = completion.get("model_sha256")
    if recorded is not None and file_sha256(run_dir.model, RunDirectoryError) != recorded:
        raise RunDirectoryError(
            f"{run_dir.model}: changed since the run completed (its sha256 differs from "
            f"the one in {run_dir.marker.name}); restore the run's own model or train "
            "it again with --overwrite"
        )
    run_dir.refuse_changed_inputs()
    # Built first: building imports the builder, and with it the custom layers the saved
    # model needs (a plugin's are not imported before).
    configured = build_model(task.config, task)
    model = run_dir.load_model()
    difference = architecture_difference(model, configured)
    if difference:
        raise RunDirectoryError(
            f"{run_dir.model}: does not match the run's configuration "
            f"({run_dir.config.name}): {difference}"
        )
    return model


def architecture_difference(saved: keras.Model, configured: keras.Model) -> str | None:
    """The first way ``saved`` differs from ``configured`` (inputs, output size,
    parameter count, layer names), as ``what: saved ..., configured ...``; None when
    they agree."""
    from smartml.models.binding import input_shapes

    aspects = {
        "inputs": input_shapes,
        "outputs": lambda model: int(model.output.shape[-1]),
        "parameters": lambda model: int(model.count_params()),
        "layers": lambda model: [layer.name for layer in model.layers],
    }
    for aspect, measure in aspects.items():
        mine, theirs = measure(saved), measure(configured)
        if mine != theirs:
            return f"{aspect}: model.h5 has {mine}, the configuration builds {theirs}"
    return None
