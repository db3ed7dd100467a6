"""A run's identity: a fingerprint of its resolved configuration.

Two attempts at one run (an interrupted training and the command that resumes it)
must train the same thing. What may change between them without changing what is
trained is left out of the fingerprint (:data:`VOLATILE_KEYS`): how much Keras
prints, the device, the distribution strategy (the global batch is the same on any
number of replicas), the memory kept for decoded examples (``data.memory_cache_mb``),
where the run directory is, whether plots are drawn, the
whole ``export`` section (it only sets defaults of ``python -m smartml.export``) and
the ``tune`` section (a search space: what each trial trains is in its own config).
Everything else (data, model, training) is in. Imports no TensorFlow.

>>> old = {"name": "a", "training": {"epochs": 3, "verbose": 2}, "data": {"slices": [0, 19]}}
>>> new = {"name": "a", "training": {"epochs": 3, "verbose": 0}, "data": {"slices": [5, 19]}}
>>> differing_keys(old, new)
['data.slices']
>>> describe_differences(old, new)
'data.slices: [0, 19] -> [5, 19]'
>>> fingerprint(old) == fingerprint({**old, "tune": {"trials": 4}})
True
>>> fingerprint(old) == fingerprint({**old, "training": {"epochs": 3, "verbose": 0}})
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from smartml.config.base import RunConfig

VOLATILE_KEYS = (
    "training.verbose",
    "training.device",
    "training.distribution",  # the global batch is the same on any number of replicas
    "data.memory_cache_mb",  # where decoded examples are kept, not which
    "output.dir",
    "output.plots",
    "output.plot_style",
    "output.plot_formats",
    "export",
    "tune",
)
_ABSENT = object()


def fingerprint(config: RunConfig | Mapping[str, Any]) -> str:
    """The sha256 (hex) of the canonical JSON (sorted keys, no spaces) of ``config``
    without :data:`VOLATILE_KEYS`.

    Args:
        config: a validated configuration, or its JSON form (a run's config.json).

    Returns:
        64 hexadecimal digits; equal for configurations that train the same run.
    """
    canonical = json.dumps(_identity(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def differing_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The dotted keys whose values differ between two configurations (JSON form),
    :data:`VOLATILE_KEYS` left out; a key present in one only counts as differing.

    Returns:
        the keys, sorted (a list value is compared whole: ``data.time_slices``).
    """
    flat_old, flat_new = _flat(_identity(old)), _flat(_identity(new))
    return sorted(
        key
        for key in flat_old.keys() | flat_new.keys()
        if flat_old.get(key, _ABSENT) != flat_new.get(key, _ABSENT)
    )


def describe_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """``key: old -> new`` for every differing key, joined by ``, `` (one line)."""
    flat_old, flat_new = _flat(_identity(old)), _flat(_identity(new))
    return ", ".join(
        f"{key}: {_shown(flat_old.get(key, _ABSENT))} -> {_shown(flat_new.get(key, _ABSENT))}"
        for key in differing_keys(old, new)
    )


def _shown(value: Any) -> str:
    return "(absent)" if value is _ABSENT else json.dumps(value)


def _identity(config: RunConfig | Mapping[str, Any], prefix: str = "") -> Any:
    """The JSON form of ``config`` without the volatile keys (a nested copy)."""
    tree = config.model_dump(mode="json") if isinstance(config, RunConfig) else config
    return {
        key: _identity(value, dotted) if isinstance(value, Mapping) else value
        for key, value in tree.items()
        if (dotted := f"{prefix}.{key}" if prefix else str(key)) not in VOLATILE_KEYS
    }


def _flat(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted key -> leaf value of a nested JSON object (lists and empty objects are
    leaves)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(_flat(value, dotted))
        else:
            flat[dotted] = value
    return flat
