"""Load, override, validate and save run configurations.

Validation happens in two steps so that a new task or model brings its own schema
without touching this file: the envelope (``schema_version``, ``name``, ``task``,
``training``, ``output``) first, then ``data`` against the schema of the task named
in ``task.name`` and ``model`` against the schema of the model named in
``model.name``. The schemas come from the registries
(:mod:`smartml.config.registered`), so validation imports no TensorFlow. Any failure
raises :class:`~smartml.errors.ConfigError` with one line naming the file, the key
path as written (:mod:`smartml.config.messages`) and what was expected.
"""

import copy
import json
from pathlib import Path
from typing import Any, TypeVar

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
from smartml.config.messages import describe, unknown_key_message
from smartml.config.registered import fill_registries
from smartml.errors import ConfigError
from smartml.files import write_json_atomic
from smartml.registry import Registry

# "$schema" points an editor at the JSON Schema (python -m smartml.config schema); ignored.
EDITOR_SCHEMA_KEY = "$schema"
_SECTIONS = (
    "schema_version",
    "name",
    "task",
    "data",
    "model",
    "training",
    "output",
    "export",
    EDITOR_SCHEMA_KEY,
)
Schema = TypeVar("Schema", bound=StrictModel)


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
    """Validate an already parsed configuration.

    Args:
        raw: the parsed JSON object.
        source: names the configuration in error messages (its file).

    Returns:
        the validated configuration; a ``"$schema"`` key is accepted and dropped.
    """
    tasks, models = fill_registries()
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a JSON object at the top level")
    for key in raw:
        if key not in _SECTIONS:
            raise ConfigError(f"{source}: {key}: {unknown_key_message(key, _SECTIONS)}")
    for key in ("name", "task", "data", "model"):
        if key not in raw:
            raise ConfigError(f"{source}: {key}: required section is missing")
    version = raw.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ConfigError(
            f"{source}: schema_version: {version!r} is not supported; expected {SCHEMA_VERSION}"
        )
    task = _validate(TaskSection, raw["task"], source, "task")
    data_schema = _lookup(tasks, task.name, source, "task.name")
    model_raw = raw["model"]
    if not isinstance(model_raw, dict) or "name" not in model_raw:
        raise ConfigError(f"{source}: model.name: required; known: {', '.join(models.names())}")
    model_schema = _lookup(models, model_raw["name"], source, "model.name")
    sections = {
        "schema_version": SCHEMA_VERSION,
        "name": raw["name"],
        "task": task,
        "data": _validate(data_schema, raw["data"], source, "data"),
        "model": _validate(model_schema, model_raw, source, "model"),
        "training": _validate(TrainingConfig, raw.get("training", {}), source, "training"),
        "output": _validate(OutputConfig, raw.get("output", {}), source, "output"),
        "export": _validate(ExportConfig, raw.get("export", {}), source, "export"),
    }
    try:
        return RunConfig.model_validate(sections)
    except ValidationError as err:
        raise ConfigError(describe(err, RunConfig, source, "")) from None


def save_config(config: RunConfig, path: str | Path) -> None:
    """Write the resolved configuration as JSON; :func:`load_config` reads it back."""
    write_json_atomic(path, config.model_dump(mode="json"), ConfigError)


def _lookup(registry: Registry, name: Any, source: str, key: str) -> type:
    """The schema registered as ``name``; an unknown name is reported at ``key``."""
    try:
        return registry.schema(name)
    except ConfigError as err:
        raise ConfigError(f"{source}: {key}: {err}") from None


def _validate(schema: type[Schema], value: Any, source: str, prefix: str) -> Schema:
    try:
        return schema.model_validate(value)
    except ValidationError as err:
        raise ConfigError(describe(err, schema, source, prefix)) from None
