"""Registries: the one place where tasks, models and MDMM constraints are looked up by name.

An entry is registered where its *schema* is defined, in a module that imports no
TensorFlow, with the dotted path of its *implementation* (``"package.module:Name"``).
Validating a configuration therefore needs only the schemas; the implementation
(a task class, a model builder, a constraint) is imported the first time
:meth:`Registry.get` asks for it.

>>> widgets = Registry("widget")
>>> @widgets.register("round", implementation="fractions:Fraction")
... class RoundSchema:
...     pass
>>> widgets.schema("round").__name__
'RoundSchema'
>>> widgets.get("round")(3, 6)
Fraction(1, 2)
>>> widgets.get("square")
Traceback (most recent call last):
...
smartml.errors.ConfigError: unknown widget 'square'; known: round

Extension points are open: smartml's own task and model packages are *discovered*
(:func:`import_package_modules` scans their folders, as hls4ml finds its converters),
and a package outside smartml registers its schemas, layer handlers and quantizer
rules when :func:`load_plugins` imports it, named by an entry point of the group
``smartml.plugins`` or in the environment variable ``SMARTML_PLUGINS``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from smartml.errors import ConfigError

S = TypeVar("S", bound=type)
V = TypeVar("V")

PLUGIN_GROUP = "smartml.plugins"
PLUGINS_VARIABLE = "SMARTML_PLUGINS"


def resolve(dotted: str) -> Any:
    """The object named ``"package.module:Name"``, its module imported.

    Raises:
        ImportError: the module cannot be imported or has no such name (one line).

    >>> resolve("fractions:Fraction").__name__
    'Fraction'
    >>> resolve("fractions:Fractal")
    Traceback (most recent call last):
    ...
    ImportError: fractions:Fractal: module fractions has no 'Fractal'
    """
    module_name, colon, attribute = dotted.partition(":")
    if not (module_name and colon and attribute):
        raise ImportError(f"{dotted!r}: expected 'package.module:Name'")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ImportError(f"{dotted}: module {module_name} has no {attribute!r}") from None


def import_package_modules(package: str, inner: str | None = None) -> list[str]:
    """Import the modules found in ``package``'s folder: a new module or subpackage
    there needs no edit of an ``__init__``.

    Args:
        package: dotted name of the package to scan.
        inner: None: import each module (not subpackages) whose name does not start
            with ``_``; a name: import the module ``inner`` of each subpackage that
            has one (``"schema"``: ``smartml.tasks.<task>.schema``).

    Returns:
        the imported modules' names, sorted.

    >>> import_package_modules("smartml.models", "schema")[:2]
    ['smartml.models.deepsets.schema', 'smartml.models.dgcnn.schema']
    """
    root = importlib.import_module(package)
    names = []
    for module in pkgutil.iter_modules(root.__path__):
        if inner is None and not module.ispkg and not module.name.startswith("_"):
            names.append(f"{package}.{module.name}")
        elif inner is not None and module.ispkg:
            name = f"{package}.{module.name}.{inner}"
            if importlib.util.find_spec(name) is not None:
                names.append(name)
    for name in sorted(names):
        importlib.import_module(name)
    return sorted(names)


def load_plugins() -> list[str]:
    """Import every plugin: the entry points of the group ``smartml.plugins`` (each a
    module, ``name = "package.module"`` in the plugin's ``pyproject.toml``), then the
    comma-separated modules of ``SMARTML_PLUGINS``. Each registers what it adds as
    smartml's own modules do; keep such a module free of TensorFlow imports.

    Returns:
        the imported plugins' module names.

    Raises:
        ConfigError: a plugin that fails to import, one line naming it and where it
            was declared.
    """
    loaded = []
    for entry_point in entry_points(group=PLUGIN_GROUP):
        distribution = entry_point.dist.name if entry_point.dist else "unknown distribution"
        where = f"entry point {entry_point.name!r} of {distribution}, group {PLUGIN_GROUP}"
        _import_plugin(entry_point.module, where)
        loaded.append(entry_point.module)
    variable = os.environ.get(PLUGINS_VARIABLE, "")
    for module in filter(None, (name.strip() for name in variable.split(","))):
        _import_plugin(module, PLUGINS_VARIABLE)
        loaded.append(module)
    return loaded


def _import_plugin(module: str, where: str) -> None:
    try:
        importlib.import_module(module)
    except Exception as err:  # any failure of a plugin's import is the plugin's
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(f"{where}: cannot import {module!r} ({reason})") from None


@dataclass
class Entry:
    """One registered name: its schema class and where its implementation lives."""

    name: str
    schema: type
    implementation: str
    _loaded: Any = field(default=None, repr=False)

    def load(self) -> Any:
        """Import and return the implementation (once)."""
        if self._loaded is None:
            self._loaded = resolve(self.implementation)
        return self._loaded


class Registry:
    """Name -> (schema, lazily imported implementation), filled by :meth:`register`.

    Args:
        kind: what the entries are ("task", "model"), used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, *, implementation: str) -> Callable[[S], S]:
        """Decorator for the schema class of ``name``; ``implementation`` is
        ``"module:attribute"`` of the class or builder that does the work."""

        def decorator(schema: S) -> S:
            known = self._entries.get(name)
            # The same module imported twice (pytest's doctest collection does that)
            # registers the same implementation again: fine. Two implementations: not.
            if known is not None and known.implementation != implementation:
                raise ValueError(
                    f"{self.kind} {name!r} is registered twice "
                    f"({known.implementation} and {implementation})"
                )
            self._entries[name] = Entry(name, schema, implementation)
            return schema

        return decorator

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests that register temporary entries clean up with it)."""
        self._entries.pop(name, None)

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            known = ", ".join(self.names()) or "(none)"
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def schema(self, name: str) -> type:
        """The configuration schema of ``name`` (no implementation is imported)."""
        return self.entry(name).schema

    def get(self, name: str) -> Any:
        """The implementation of ``name``, imported on first use."""
        return self.entry(name).load()

    def names(self) -> list[str]:
        return sorted(self._entries)


class ClassMap(Generic[V]):
    """Values keyed by exact class, registered by the class or by its name
    ``"module:Class"``. A name is resolved (its module imported) at the first lookup,
    so a module can register a rule for a TensorFlow layer without importing
    TensorFlow (a plugin must not).

    Args:
        kind: what the values are ("handler"), for error messages.

    >>> rules = ClassMap[str]("rule")
    >>> rules.add("fractions:Fraction", "exact", owner="mine")
    >>> from fractions import Fraction
    >>> rules.get(Fraction), rules.get(float)
    ('exact', None)
    >>> rules.add(Fraction, "rounded", owner="theirs")
    Traceback (most recent call last):
    ...
    ValueError: two rules for Fraction: mine and theirs
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._resolved: dict[type, tuple[V, str]] = {}
        self._pending: list[tuple[str, V, str]] = []

    def add(self, key: type | str, value: V, owner: str) -> None:
        """Register ``value`` for the class ``key`` (a class or ``"module:Class"``);
        ``owner`` names the registrant in errors."""
        if isinstance(key, str):
            self._pending.append((key, value, owner))
            return
        self._resolve()  # so that a class registered twice fails here, at once
        self._store(key, value, owner)

    def get(self, cls: type) -> V | None:
        """The value registered for exactly ``cls`` (not a base class: a subclass may
        compute something else), or None."""
        self._resolve()
        found = self._resolved.get(cls)
        return None if found is None else found[0]

    def items(self) -> list[tuple[type, V]]:
        """(class, value) of every registration, names resolved."""
        self._resolve()
        return [(cls, value) for cls, (value, _) in self._resolved.items()]

    def _resolve(self) -> None:
        while self._pending:
            name, value, owner = self._pending.pop(0)
            try:
                cls = resolve(name)
            except ImportError as err:
                raise ConfigError(f"{self.kind} {owner}, registered for {name!r}: {err}") from None
            if not isinstance(cls, type):
                raise ConfigError(f"{self.kind} {owner}, registered for {name!r}: not a class")
            self._store(cls, value, owner)

    def _store(self, cls: type, value: V, owner: str) -> None:
        known = self._resolved.get(cls)
        # The same module imported twice (pytest's doctest collection does that)
        # registers the same owner again: fine. Two owners: not.
        if known is not None and known[1] != owner:
            raise ValueError(f"two {self.kind}s for {cls.__name__}: {known[1]} and {owner}")
        self._resolved[cls] = (value, owner)


TASKS = Registry("task")
MODELS = Registry("model")
MDMM_CONSTRAINTS = Registry("MDMM constraint")
