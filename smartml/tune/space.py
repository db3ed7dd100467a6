"""The search space: trial configurations from the run configuration and a trial's
values, and the check that every value the space can give is one the schema takes.
"""

import copy
from typing import Any

from smartml.config import RunConfig
from smartml.config.loader import validate_config
from smartml.config.tune import CategoricalParameter, FloatParameter, IntParameter, TuneConfig
from smartml.errors import ConfigError

SpaceParameter = IntParameter | FloatParameter | CategoricalParameter


def set_dotted(raw: dict, key: str, value: Any) -> None:
    """Set ``key`` (dotted; a number indexes a list) in the parsed JSON ``raw``, in
    place; missing or null sections on the way are created as objects (the schema
    then says whether they may exist).

    Raises:
        ConfigError: the path runs through a value that is neither an object nor a
            list, or indexes a list out of range.

    >>> raw = {"model": {"hidden_units": [16, 16]}}
    >>> set_dotted(raw, "model.hidden_units.1", 8); set_dotted(raw, "training.seed", 3)
    >>> raw
    {'model': {'hidden_units': [16, 8]}, 'training': {'seed': 3}}
    """
    node: Any = raw
    *parents, leaf = key.split(".")
    for depth, part in enumerate([*parents, leaf]):
        where = ".".join(parents[:depth]) or "the configuration"
        is_leaf = depth == len(parents)
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"{key}: {where} is a list of {len(node)}; {part!r} is no index")
            index: Any = int(part)
        elif isinstance(node, dict):
            index = part
            if not is_leaf and node.get(part) is None:
                node[part] = {}
        else:
            raise ConfigError(f"{key}: {where} is {node!r}, not an object or a list")
        if is_leaf:
            node[index] = value
        else:
            node = node[index]


def trial_raw(raw: dict, values: dict[str, Any], run_dir: str, name: str) -> dict:
    """The parsed configuration of one trial: ``raw`` without its ``tune`` section,
    with ``values`` (dotted key -> value) set, the run directory and run name given.

    >>> trial_raw({"name": "a", "tune": {}, "training": {"epochs": 3}},
    ...           {"training.epochs": 1}, "runs/a/tune/trial-0", "a.trial-0")
    {'name': 'a.trial-0', 'training': {'epochs': 1}, 'output': {'dir': 'runs/a/tune/trial-0'}}
    """
    trial = copy.deepcopy({key: value for key, value in raw.items() if key != "tune"})
    for key, value in values.items():
        set_dotted(trial, key, value)
    trial["name"] = name
    set_dotted(trial, "output.dir", run_dir)
    return trial


def extreme_values(parameter: SpaceParameter) -> list[Any]:
    """The values that bound what ``parameter`` can give: its choices, or its ends
    (an integer range's last reachable value, ``low + k·step``).

    >>> extreme_values(IntParameter(key="a.b", type="int", low=2, high=9, step=3))
    [2, 8]
    """
    if isinstance(parameter, CategoricalParameter):
        return list(parameter.choices)
    if isinstance(parameter, IntParameter):
        last = parameter.low + (parameter.high - parameter.low) // parameter.step * parameter.step
        return [parameter.low, last]
    return [parameter.low, parameter.high]


def check_space(raw: dict, tune: TuneConfig, source: str) -> None:
    """Validate the configuration with each end (or choice) of each parameter set,
    the others as in the file: a misspelt key or a value the schema refuses fails
    here, in one line, before any trial.

    Raises:
        ConfigError: ``<source>: tune parameter <key> = <value>: <what the schema says>``.
    """
    for parameter in tune.parameters:
        for value in extreme_values(parameter):
            where = f"{source}: tune parameter {parameter.key} = {value!r}"
            try:
                validate_config(trial_raw(raw, {parameter.key: value}, "x", "x"), where)
            except ConfigError as err:
                message = str(err)
                raise ConfigError(
                    message if message.startswith(where) else f"{where}: {message}"
                ) from None


def trial_config(raw: dict, values: dict[str, Any], run_dir: str, name: str) -> RunConfig:
    """The validated :func:`trial_raw` configuration."""
    return validate_config(trial_raw(raw, values, run_dir, name), f"trial {name}")
