"""A model bound to a task: the configured builder called with the task's declared
inputs and output kind, and the checks that a model (built or saved) takes exactly
those inputs and gives that output size.

Training builds its model here, and opening a saved run checks it here
(:mod:`smartml.runs.opening`); neither knows a builder or a task beyond these
declarations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smartml.errors import ConfigError
from smartml.hardware.cost import hardware_report
from smartml.hardware.graph import input_layers
from smartml.models.contract import builder_of
from smartml.models.exportability import is_exportable

if TYPE_CHECKING:
    from smartml.backend import keras
    from smartml.config import RunConfig
    from smartml.tasks.base import Task


def build_model(config: RunConfig, task: Task) -> keras.Model:
    """The configured model for ``task``, checked against the task's declarations:
    one ``keras.Input`` per declared input (same name and shape) and an output of the
    output kind's size."""
    builder = builder_of(config.model.name)
    model = builder.build(config.model, task.inputs, task.output)
    check_model_matches_task(model, task, f"model {config.model.name!r}")
    if is_exportable(config.model):
        hardware_report(model)  # an unsupported layer fails now, not after training
    return model


def check_model_matches_task(model: keras.Model, task: Task, what: str) -> None:
    """Raise a one-line error when ``model`` does not take the task's inputs or does
    not give its output size."""
    declared = {name: tuple(spec.shape) for name, spec in task.inputs.items()}
    actual = input_shapes(model)
    if declared != actual:
        raise ConfigError(f"{what}: takes inputs {actual}, the task declares {declared}")
    n_outputs = int(model.output.shape[-1])
    if n_outputs != task.output.n_outputs:
        raise ConfigError(
            f"{what}: gives {n_outputs} outputs, {type(task.output).__name__} needs "
            f"{task.output.n_outputs}"
        )


def input_shapes(model: keras.Model) -> dict[str, tuple]:
    """Input layer name -> shape of one example (without the batch axis)."""
    return {layer.name: tuple(layer.input.shape[1:]) for layer in input_layers(model)}
