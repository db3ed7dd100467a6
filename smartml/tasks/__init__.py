"""Detector tasks, registered by name in :data:`smartml.registry.TASKS`.

A task owns what is specific to one detector problem: where its data come from, how
they are normalised, its loss, and how a trained model is judged (metrics, plots,
baselines). The trainer sees only the :class:`~smartml.tasks.base.Task` interface.
"""

from smartml.tasks import smart_pixels  # noqa: F401  (registers "smart_pixels")
