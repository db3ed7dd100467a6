"""A run's identity: a fingerprint of its resolved configuration.

Two attempts at one run (an interrupted training and the command that resumes it)
must train the same thing. What may change between them without changing what is
trained is left out of the fingerprint (:data:`VOLATILE_KEYS`): how much Keras
prints, the device, where the run directory is, whether plots are drawn, and the
whole ``export`` section (it only sets defaults of ``python -m smartml.export``).
Everything else (data, model, training) is in. Imports no TensorFlow.

>>> old = {"name": "a", "training": {"epochs": 3, "verbose": 2}, "data": {"slices": [0, 19]}}
>>> new = {"name": "a", "training": {"epochs": 3, "verbose": 0}, "data": {"slices": [5, 19]}}
>>> differing_keys(old, new)
['data.slices']
>>> describe_differences(old, new)
'data.slices: [0, 19] -> [5, 19]'
>>> fingerprint(old) == fingerprint({**old, "output": {"dir": "elsewhere"}})
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from smartml.config.base import RunConfig

VOLATILE_KEYS = ("training.verbose", "training.device", "output.dir", "output.plots", "export")
_ABSENT = object()


def fingerprint(config: RunConfig | Mapping[str, Any]) -> str:
    """The sha256 (hex) of the canonical JSON of ``config`` without :data:`VOLATILE_KEYS`.

    Args:
        config: a validated configuration, or its JSON form (a run's config.json).

    Returns:
        64 hexadecimal digits; equal for configurations that train the same run.
    """
    canonical = json.dumps(_flat(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def differing_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The dotted keys whose values differ between two configurations (JSON form),
    :data:`VOLATILE_KEYS` left out; a key present in one only counts as differing.

    Returns:
        the keys, sorted (a list value is compared whole: ``data.time_slices``).
    """
    flat_old, flat_new = _flat(old), _flat(new)
    return sorted(
        key
        for key in flat_old.keys() | flat_new.keys()
        if flat_old.get(key, _ABSENT) != flat_new.get(key, _ABSENT)
    )


def describe_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """``key: old -> new`` for every differing key, joined by ``, `` (one line)."""
    flat_old, flat_new = _flat(old), _flat(new)
    return ", ".join(
        f"{key}: {_shown(flat_old.get(key, _ABSENT))} -> {_shown(flat_new.get(key, _ABSENT))}"
        for key in differing_keys(old, new)
    )


def _shown(value: Any) -> str:
    return "(absent)" if value is _ABSENT else json.dumps(value)


def _flat(config: RunConfig | Mapping[str, Any]) -> dict[str, Any]:
    """Dotted key -> leaf value (lists are leaves), volatile keys removed."""
    tree = config.model_dump(mode="json") if isinstance(config, RunConfig) else config
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if prefix in VOLATILE_KEYS:
            return
        if isinstance(node, Mapping) and node:
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        else:
            flat[prefix] = node

    walk(tree, "")
    return flat
