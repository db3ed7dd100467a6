"""Registries: the one place where tasks and models are looked up by name.

A new task or model plugs in by decorating its class or builder; the trainer only
ever asks a registry.

>>> widgets = Registry("widget")
>>> @widgets.register("round")
... def make_round():
...     return "o"
>>> widgets.get("round")()
'o'
>>> widgets.get("square")
Traceback (most recent call last):
...
smartml.errors.ConfigError: unknown widget 'square'; known: round
"""

from collections.abc import Callable
from typing import Generic, TypeVar

from smartml.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object mapping filled by the :meth:`register` decorator."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "(none)"
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)


TASKS: Registry = Registry("task")
MODELS: Registry = Registry("model")
