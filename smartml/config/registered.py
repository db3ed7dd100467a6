"""The one place where configuration code reaches the task and model packages.

Task and model schemas register themselves (:mod:`smartml.registry`) when their
modules are imported. :func:`fill_registries` finds them by scanning the folders of
``smartml.tasks`` and ``smartml.models`` (each subpackage's ``schema`` module, which
imports no TensorFlow), by name: configuration code has no import of those packages
(a test walks the source to check it), so the dependency runs one way, from tasks and
models to :mod:`smartml.config`, and a new task or model needs no edit here or in an
``__init__``.

Tasks and models that live outside smartml (a physicist's own package) are plugins
(:func:`smartml.registry.load_plugins`): an entry point of the group
``smartml.plugins`` or a module named in ``SMARTML_PLUGINS``, imported here.
"""

from smartml.registry import MODELS, TASKS, Registry, import_package_modules, load_plugins

SCHEMA_PACKAGES = ("smartml.tasks", "smartml.models")


def fill_registries() -> tuple[Registry, Registry]:
    """Register every task and model schema, smartml's and the plugins' (idempotent:
    modules are imported once).

    Returns:
        the task and model registries, filled.

    >>> tasks, models = fill_registries()
    >>> "smart_pixels" in tasks.names() and "pixel_mdn" in models.names()
    True
    """
    for package in SCHEMA_PACKAGES:
        import_package_modules(package, "schema")
    load_plugins()
    return TASKS, MODELS
