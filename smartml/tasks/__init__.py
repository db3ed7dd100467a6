"""Detector tasks, registered by name in :data:`smartml.registry.TASKS`.

A task owns what is specific to one detector problem: where its data come from, how
they are normalised, its loss, and how a trained model is judged (metrics, plots,
baselines). The trainer sees only the :class:`~smartml.tasks.base.Task` interface.

Importing this package imports the tasks' schemas only (no TensorFlow), which fills
the registry; a task's implementation is imported when the registry first asks for it.
"""

from smartml.config import smart_pixels as _smart_pixels_schema  # noqa: F401  (registers it)
