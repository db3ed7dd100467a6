"""The one place where configuration code reaches the task and model packages.

Task and model schemas register themselves (:mod:`smartml.registry`) when their
modules are imported. The packages ``smartml.tasks`` and ``smartml.models`` import
exactly those schema modules in their ``__init__`` and no TensorFlow, so importing
them here fills the registries cheaply. Nothing else under :mod:`smartml.config`
imports those packages (a test walks the source to check it), so the dependency runs
one way at import time: tasks and models import :mod:`smartml.config`, never the
reverse, and there is no import cycle.

Tasks and models that live outside smartml (a physicist's own package) are named in
the environment variable ``SMARTML_PLUGINS`` (comma-separated module names); each is
imported here and registers its schemas as smartml's own do. Keep such a module
free of TensorFlow imports, like smartml's schema modules.
"""

import importlib
import os

from smartml.errors import ConfigError
from smartml.registry import MODELS, TASKS, Registry

PLUGINS_VARIABLE = "SMARTML_PLUGINS"


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

    for module in filter(
        None, (name.strip() for name in os.environ.get(PLUGINS_VARIABLE, "").split(","))
    ):
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ConfigError(f"{PLUGINS_VARIABLE}: cannot import {module!r} ({err})") from None
    return TASKS, MODELS
