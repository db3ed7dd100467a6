"""Load, override, validate and save run configurations.

Validation happens in two steps so that a new task or model brings its own schema
without touching this file: the envelope (``schema_version``, ``name``, ``task``,
``training``, ``output``) first, then ``data`` against the schema of the task named
in ``task.name`` and ``model`` against the schema of the model named in
``model.name``. The schemas come from the registries
(:mod:`smartml.config.registered`), so validation imports no TensorFlow. Any failure
raises :class:`~smartml.errors.ConfigError` with one line naming the file, the key
path as written (:mod:`smartml.config.messages`) and what was expected; a value that
came from a command-line option (:class:`~smartml.cli.OptionValue`) is reported under that option.
Sections are validated strictly in pydantic's JSON mode
(:func:`smartml.config.strict.validate_json_section`): no coercion.
"""

import copy
import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from smartml.cli import OptionValue
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
from smartml.config.strict import validate_json_section
from smartml.config.tune import TuneConfig
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
    "tune",
    EDITOR_SCHEMA_KEY,
)
Schema = TypeVar("Schema", bound=StrictModel)


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read the JSON run configuration at ``path``, apply ``overrides``, validate it.

    Args:
        path: the JSON file.
        overrides: dotted key -> value (e.g. ``{"training.epochs": 3}``), applied
            before validation. A bad plain value is reported like a bad file value
            (``<path>: training.epochs: ...``), a bad :class:`OptionValue` under its
            option (``--epochs -1: ...``).

    Returns:
        the validated configuration.
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
    overrides = overrides or {}
    options = {
        key: value.label() for key, value in overrides.items() if isinstance(value, OptionValue)
    }
    return validate_config(apply_overrides(raw, overrides), source=str(path), options=options)


def apply_overrides(raw: Any, overrides: dict[str, Any]) -> Any:
    """Return a copy of ``raw`` with each dotted key set to its value (the value of
    an :class:`OptionValue`).

    >>> apply_overrides({"training": {"epochs": 5}}, {"training.epochs": 2, "output.dir": "x"})
    {'training': {'epochs': 2}, 'output': {'dir': 'x'}}
    """
    raw = copy.deepcopy(raw)
    for dotted, given in overrides.items():
        value = given.value if isinstance(given, OptionValue) else given
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node
        if isinstance(node, dict):
            node[leaf] = value
    return raw


def validate_config(
    raw: Any, source: str = "<config>", options: dict[str, str] | None = None
) -> RunConfig:
    """Validate an already parsed configuration.

    Args:
        raw: the parsed JSON object.
        source: names the configuration in error messages (its file).
        options: dotted key -> the command-line option that set it, as typed
            (``{"training.epochs": "--epochs -1"}``); errors there name the option.

    Returns:
        the validated configuration; a ``"$schema"`` key is accepted and dropped.
    """
    tasks, models = fill_registries()
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a JSON object at the top level")
    for key in raw:
        if key not in _SECTIONS:
            given = next((o for k, o in (options or {}).items() if k.split(".")[0] == key), None)
            where = given if given is not None else f"{source}: {key}"
            raise ConfigError(f"{where}: {unknown_key_message(key, _SECTIONS)}")
    for key in ("name", "task", "data", "model"):
        if key not in raw:
            raise ConfigError(f"{source}: {key}: required section is missing")
    version = raw.get("schema_version", SCHEMA_VERSION)
    if type(version) is not int or version != SCHEMA_VERSION:  # true == 1 in Python
        raise ConfigError(
            f"{source}: schema_version: {version!r} is not supported; expected {SCHEMA_VERSION}"
        )
    options = options or {}
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
        "data": _validate(data_schema, raw["data"], source, "data", options),
        "model": _validate(model_schema, model_raw, source, "model", options),
        "training": _validate(TrainingConfig, raw.get("training", {}), source, "training", options),
        "output": _validate(OutputConfig, raw.get("output", {}), source, "output", options),
        "export": _validate(ExportConfig, raw.get("export", {}), source, "export", options),
    }
    if raw.get("tune") is not None:
        sections["tune"] = _validate(TuneConfig, raw["tune"], source, "tune", options)
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


def _validate(
    schema: type[Schema],
    value: Any,
    source: str,
    prefix: str,
    options: dict[str, str] | None = None,
) -> Schema:
    """``value`` validated as the section ``prefix``; errors in one line."""
    try:
        return validate_json_section(schema, value)
    except ValidationError as err:
        raise ConfigError(describe(err, schema, source, prefix, options)) from None
    except TypeError as err:  # only a caller passing Python objects gets here
        raise ConfigError(f"{source}: {prefix}: not JSON data ({err})") from None
