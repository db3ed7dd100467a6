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
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from smartml.errors import ConfigError

S = TypeVar("S", bound=type)


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
            module_name, _, attribute = self.implementation.partition(":")
            module = importlib.import_module(module_name)
            try:
                self._loaded = getattr(module, attribute)
            except AttributeError:
                raise ImportError(
                    f"{self.implementation}: registered implementation of {self.name!r} "
                    f"does not exist"
                ) from None
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


TASKS = Registry("task")
MODELS = Registry("model")
MDMM_CONSTRAINTS = Registry("MDMM constraint")
