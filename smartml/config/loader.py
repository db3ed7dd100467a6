"""Load, override, validate and save run configurations.

Validation happens in two steps so that a new task or model brings its own schema
without touching this file: the envelope (``schema_version``, ``name``, ``task``,
``training``, ``output``) first, then ``data`` against the schema of the task named
in ``task.name`` and ``model`` against the schema of the model named in
``model.name``. Any failure raises :class:`~smartml.errors.ConfigError` with one line
naming the file, the dotted key path and what was expected.
"""

import copy
import difflib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from smartml.config.base import (
    SCHEMA_VERSION,
    OutputConfig,
    RunConfig,
    StrictModel,
    TaskSection,
    TrainingConfig,
)
from smartml.config.export import ExportConfig
from smartml.errors import ConfigError

if TYPE_CHECKING:
    from smartml.registry import Registry

Schema = TypeVar("Schema", bound=StrictModel)

_SECTIONS = ("schema_version", "name", "task", "data", "model", "training", "output", "export")


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read the JSON run configuration at ``path``, apply ``overrides``, validate it.

    Args:
        path: the JSON file.
        overrides: dotted key -> value (e.g. ``{"training.epochs": 3}``), applied
            before validation so that a bad command-line value is reported like a
            bad file value.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read ({err.strerror})") from None
    if not text.strip():
        raise ConfigError(f"{path}: file is empty; expected a JSON object")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}:{err.lineno}:{err.colno}: invalid JSON ({err.msg})") from None
    return validate_config(apply_overrides(raw, overrides or {}), source=str(path))


def apply_overrides(raw: Any, overrides: dict[str, Any]) -> Any:
    """Return a copy of ``raw`` with each dotted key set to its value.

    >>> apply_overrides({"training": {"epochs": 5}}, {"training.epochs": 2, "output.dir": "x"})
    {'training': {'epochs': 2}, 'output': {'dir': 'x'}}
    """
    raw = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node
        if isinstance(node, dict):
            node[leaf] = value
    return raw


def validate_config(raw: Any, source: str = "<config>") -> RunConfig:
    """Validate an already parsed configuration (``source`` names it in errors)."""
    from smartml.registry import MODELS, TASKS

    _import_registered_components()
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a JSON object at the top level")
    for key in raw:
        if key not in _SECTIONS:
            raise ConfigError(f"{source}: {key}: {_unknown_key_message(key, _SECTIONS)}")
    for key in ("name", "task", "data", "model"):
        if key not in raw:
            raise ConfigError(f"{source}: {key}: required section is missing")
    version = raw.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ConfigError(
            f"{source}: schema_version: {version!r} is not supported; expected {SCHEMA_VERSION}"
        )
    task = _validate(TaskSection, raw["task"], source, "task")
    _lookup(TASKS, task.name, source, "task.name")
    model_raw = raw["model"]
    if not isinstance(model_raw, dict) or "name" not in model_raw:
        raise ConfigError(f"{source}: model.name: required; known: {', '.join(MODELS.names())}")
    _lookup(MODELS, model_raw["name"], source, "model.name")
    sections = {
        "schema_version": SCHEMA_VERSION,
        "name": raw["name"],
        "task": task,
        "data": _validate(TASKS.schema(task.name), raw["data"], source, "data"),
        "model": _validate(MODELS.schema(model_raw["name"]), model_raw, source, "model"),
        "training": _validate(TrainingConfig, raw.get("training", {}), source, "training"),
        "output": _validate(OutputConfig, raw.get("output", {}), source, "output"),
        "export": _validate(ExportConfig, raw.get("export", {}), source, "export"),
    }
    try:
        return RunConfig.model_validate(sections)
    except ValidationError as err:
        raise ConfigError(_describe(err, source, "")) from None


def save_config(config: RunConfig, path: str | Path) -> None:
    """Write the resolved configuration as JSON; :func:`load_config` reads it back."""
    Path(path).write_text(json.dumps(config.model_dump(mode="json"), indent=2) + "\n")


def _import_registered_components() -> None:
    # Importing the packages fills the registries (their modules use the decorators).
    import smartml.models
    import smartml.tasks  # noqa: F401


def _lookup(registry: "Registry", name: Any, source: str, key: str) -> type:
    try:
        return registry.schema(name)
    except ConfigError as err:
        raise ConfigError(f"{source}: {key}: {err}") from None


def _validate(schema: type[Schema], value: Any, source: str, prefix: str) -> Schema:
    try:
        return schema.model_validate(value)
    except ValidationError as err:
        raise ConfigError(_describe(err, source, prefix)) from None


def _describe(err: ValidationError, source: str, prefix: str) -> str:
    """One line for the first schema violation: file, dotted key, what was expected."""
    first = err.errors()[0]
    location = [prefix] if prefix else []
    location += [f"[{part}]" if isinstance(part, int) else str(part) for part in first["loc"]]
    key = ".".join(location).replace(".[", "[") or "(top level)"
    if first["type"] == "extra_forbidden":
        known = _known_keys(err, first["loc"])
        message = _unknown_key_message(str(first["loc"][-1]), known)
    elif first["type"] == "missing":
        message = "required key is missing"
    else:
        message = f"{first['msg']} (got {first['input']!r})"
    more = len(err.errors()) - 1
    suffix = f" (and {more} more problem{'s' * (more > 1)})" if more else ""
    return f"{source}: {key}: {message}{suffix}"


def _known_keys(err: ValidationError, loc: tuple[int | str, ...]) -> list[str]:
    schema = _schema_at(err.title, loc[:-1])
    return list(schema.model_fields) if schema is not None else []


def _schema_at(title: str, loc: tuple[int | str, ...]) -> type[StrictModel] | None:
    """The pydantic class at ``loc`` below the class named ``title``."""
    schema = _ALL_SCHEMAS().get(title)
    for part in loc:
        if schema is None or isinstance(part, int):
            continue
        field = schema.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        schema = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, StrictModel)
            else None
        )
    return schema


def _ALL_SCHEMAS() -> dict[str, type[StrictModel]]:
    found: dict[str, type[StrictModel]] = {}
    pending: list[type] = [StrictModel]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def _unknown_key_message(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of: {', '.join(known)}"
    return f"unknown key {key!r}{hint}"
