"""The one place where configuration code reaches the task and model packages.

Task and model schemas register themselves (:mod:`smartml.registry`) when their
modules are imported. The packages ``smartml.tasks`` and ``smartml.models`` import
exactly those schema modules in their ``__init__`` and no TensorFlow, so importing
them here fills the registries cheaply. Nothing else under :mod:`smartml.config`
imports those packages (a test walks the source to check it), so the dependency runs
one way at import time: tasks and models import :mod:`smartml.config`, never the
reverse, and there is no import cycle.
"""

from smartml.registry import MODELS, TASKS, Registry


def fill_registries() -> tuple[Registry, Registry]:
    """Register every task and model schema (idempotent: modules are imported once).

    Returns:
        the task and model registries, filled.

    >>> tasks, models = fill_registries()
    >>> "smart_pixels" in tasks.names() and "pixel_mdn" in models.names()
    True
    """
    import smartml.models
    import smartml.tasks  # noqa: F401

    return TASKS, MODELS
