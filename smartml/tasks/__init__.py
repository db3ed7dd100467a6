"""Detector tasks, registered by name in :data:`smartml.registry.TASKS`.

A task owns what is specific to one detector problem: where its data come from, how
they are normalised, its loss, and how a trained model is judged (metrics, plots,
baselines). Each task is a package ``smartml/tasks/<task>/``; only its ``schema``
module is imported here (it registers the task without importing TensorFlow), the
task class is imported on first use. The trainer sees only the
:class:`~smartml.tasks.base.Task` interface.
"""

from smartml.tasks.mem_regression import schema as mem_regression_schema  # noqa: F401
from smartml.tasks.ntuple_classifier import schema as ntuple_classifier_schema  # noqa: F401
from smartml.tasks.rich_pid import schema as rich_pid_schema  # noqa: F401  (registers "rich_pid")
from smartml.tasks.smart_pixels import schema  # noqa: F401  (registers "smart_pixels")
