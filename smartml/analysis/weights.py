"""Float and quantized weights of every quantized layer, the quantized levels in use,
and where the zeros are against the MDMM constraints of the run.

The weights and their quantizers come from :mod:`smartml.hardware.cost`
(:func:`~smartml.hardware.cost.weight_tensors`), the constraints are rebuilt
with :func:`smartml.training.mdmm.constraints_from_config`, so what is shown here is
what the training counted.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from smartml.hardware import cost as hc


@dataclass
class TensorWeights:
    """One weight tensor of a quantized layer.

    Attributes:
        layer, role: e.g. ``("separable_conv", "depthwise")``.
        float_values: the trained (shadow) weights, flattened.
        quantized_values: after the layer's quantizer: what the firmware stores.
        levels, counts: the distinct quantized values in use and how often.
    """

    layer: str
    role: str
    float_values: np.ndarray
    quantized_values: np.ndarray
    levels: np.ndarray
    counts: np.ndarray

    @property
    def zero_fraction(self) -> float:
        """Fraction of the quantized values that are exactly 0."""
        return float(np.mean(self.quantized_values == 0))


def tensor_weights(model, include_bias: bool = True) -> list[TensorWeights]:
    """Every weight tensor of the model's quantized layers, in layer order.

    Args:
        model: a Keras model with QKeras layers (e.g. ``RunContents.model``).
        include_bias: also the biases (as role ``bias``).

    Returns:
        one :class:`TensorWeights` per kernel (depthwise, pointwise, kernel) and bias.
    """
    tensors = []
    for layer in hc.quantized_layers(model):
        for tensor in hc.weight_tensors(layer, include_bias=include_bias):
            quantized = np.asarray(tensor.quantized(), dtype=np.float64).ravel()
            levels, counts = np.unique(quantized, return_counts=True)
            tensors.append(
                TensorWeights(
                    tensor.layer,
                    tensor.role,
                    np.asarray(tensor.variable, dtype=np.float64).ravel(),
                    quantized,
                    levels,
                    counts,
                )
            )
    return tensors


def levels_table(tensors: list[TensorWeights]) -> pd.DataFrame:
    """The quantized values in use: one row per (layer, role, value).

    Args:
        tensors: from :func:`tensor_weights`.

    Returns:
        columns ``layer``, ``role``, ``value``, ``count`` and ``fraction`` (of the
        tensor's entries).

    >>> t = TensorWeights("d", "kernel", np.zeros(3), np.array([0.0, 0.5, 0.0]),
    ...                   np.array([0.0, 0.5]), np.array([2, 1]))
    >>> levels_table([t])[["value", "count"]].values.tolist()
    [[0.0, 2.0], [0.5, 1.0]]
    """
    rows = [
        {
            "layer": t.layer,
            "role": t.role,
            "value": float(level),
            "count": int(count),
            "fraction": count / t.quantized_values.size,
        }
        for t in tensors
        for level, count in zip(t.levels, t.counts, strict=True)
    ]
    return pd.DataFrame(rows, columns=["layer", "role", "value", "count", "fraction"])


def levels_by_layer(tensors: list[TensorWeights], include_bias: bool = False) -> pd.DataFrame:
    """How often each quantized value occurs in each layer.

    Args:
        tensors: from :func:`tensor_weights`.
        include_bias: count the biases too (default: kernels only).

    Returns:
        index: every value in use somewhere, ascending; columns: layers; entries:
        counts (0 where a layer does not use the value).

    >>> t = TensorWeights("d", "kernel", np.zeros(3), np.array([0.0, 0.5, 0.0]),
    ...                   np.array([0.0, 0.5]), np.array([2, 1]))
    >>> levels_by_layer([t])["d"].to_dict()
    {0.0: 2, 0.5: 1}
    """
    table = levels_table([t for t in tensors if include_bias or t.role != "bias"])
    layers = list(dict.fromkeys(table["layer"]))
    pivot = table.pivot_table(index="value", columns="layer", values="count", aggfunc="sum")
    return pivot.reindex(columns=layers).fillna(0).astype(int)


def layer_costs(hardware: dict) -> pd.DataFrame:
    """The per-layer hardware cost of a run, with a total row.

    Args:
        hardware: ``RunContents.hardware`` (the ``hardware_report`` of the model).

    Returns:
        one row per quantized layer and ``total``: ``weights`` (kernel entries),
        ``sparsity`` (quantized zeros), ``macs``, ``nonzero_macs`` and ``bops``.

    >>> costs = layer_costs({"layers": {"d": {"weights": 4, "sparsity": 0.5, "macs": 4,
    ...     "nonzero_macs": 2, "bops": 100.0}}, "sparsity": 0.5, "macs": 4, "bops": 100.0})
    >>> costs.loc["total"].tolist()
    [4.0, 0.5, 4.0, 2.0, 100.0]
    """
    columns = ["weights", "sparsity", "macs", "nonzero_macs", "bops"]
    table = pd.DataFrame.from_dict(hardware["layers"], orient="index").reindex(columns=columns)
    table.loc["total"] = [
        table["weights"].sum(),
        hardware["sparsity"],
        hardware["macs"],
        table["nonzero_macs"].sum(),
        hardware["bops"],
    ]
    return table.astype({"weights": int, "macs": int, "nonzero_macs": int})


def sparsity_targets(config: dict, layer_names: list[str]) -> dict[str, float]:
    """Target sparsity per layer from the run's ``training.mdmm`` sparsity constraints.

    Args:
        config: the run's config.json as a dict.
        layer_names: the quantized layers (what ``"all"`` means).

    Returns:
        ``{layer: target}``; a constraint over several layers gives each the group's
        target (the constraint bounds their combined zero fraction).

    >>> cfg = {"training": {"mdmm": {"constraints": [
    ...     {"type": "sparsity", "layers": "all", "target": 0.5},
    ...     {"type": "sparsity", "layers": ["d1"], "target": 0.8}]}}}
    >>> sparsity_targets(cfg, ["d0", "d1"])
    {'d0': 0.5, 'd1': 0.8}
    """
    targets = {}
    for constraint in _mdmm_constraints(config):
        if constraint.get("type") != "sparsity":
            continue
        for layer in _covered_layers(constraint.get("layers", "all"), layer_names):
            targets[layer] = float(constraint["target"])
    return targets


def zero_fractions(tensors: list[TensorWeights], targets: dict[str, float]) -> pd.DataFrame:
    """Quantized zeros per layer against the MDMM targets.

    Args:
        tensors: from :func:`tensor_weights`.
        targets: from :func:`sparsity_targets`.

    Returns:
        one row per layer: ``layer``, ``weights`` (kernel entries; biases excluded,
        as the constraints count them by default), ``zeros`` (quantized to exactly
        0), ``zero_fraction`` and ``target`` (NaN without one).
    """
    rows: dict[str, dict[str, Any]] = {}
    for tensor in tensors:
        if tensor.role == "bias":
            continue
        row = rows.setdefault(tensor.layer, {"layer": tensor.layer, "weights": 0, "zeros": 0})
        row["weights"] += tensor.quantized_values.size
        row["zeros"] += int(np.count_nonzero(tensor.quantized_values == 0))
    table = pd.DataFrame(list(rows.values()), columns=["layer", "weights", "zeros"])
    table["zero_fraction"] = table["zeros"] / table["weights"]
    table["target"] = [targets.get(layer, np.nan) for layer in table["layer"]]
    return table


def constraint_table(model, config: dict) -> pd.DataFrame:
    """Every MDMM constraint of the run evaluated on the trained weights.

    Args:
        model: the run's trained model.
        config: its config.json as a dict.

    Returns:
        one row per constraint: ``constraint`` (its log name), ``type``, ``layers``,
        ``bound`` (sparsity target, BOPs or norm budget), ``value`` (on the saved
        weights), ``violation`` (how far it misses, as the training measures it) and
        ``met`` (violation within ``training.mdmm.feasibility_tolerance``); empty for a
        run without MDMM.
    """
    from smartml.training.mdmm import constraints_from_config

    columns = ["constraint", "type", "layers", "bound", "value", "violation", "met"]
    specs = _mdmm_constraints(config)
    if not specs:
        return pd.DataFrame(columns=columns)
    tolerance = float(config["training"]["mdmm"].get("feasibility_tolerance", 0.02))
    rows = []
    for spec, constraint in zip(specs, constraints_from_config(specs), strict=True):
        constraint.bind(model)
        value = float(constraint.evaluate()[0])
        violation = constraint.violation(value)
        bound = next(
            (spec[key] for key in ("target", "max_bops", "max_luts", "max_value") if key in spec),
            None,
        )
        rows.append(
            {
                "constraint": constraint.name,
                "type": spec["type"],
                "layers": _layers_text(spec.get("layers", "all")),
                "bound": bound,
                "value": value,
                "violation": violation,
                "met": violation <= tolerance,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _mdmm_constraints(config: dict) -> list[dict]:
    mdmm = (config.get("training") or {}).get("mdmm") or {}
    return [dict(c) for c in mdmm.get("constraints", [])]


def _covered_layers(layers, layer_names: list[str]) -> list[str]:
    if layers == "all":
        return list(layer_names)
    return [layers] if isinstance(layers, str) else list(layers)


def _layers_text(layers) -> str:
    return layers if isinstance(layers, str) else ", ".join(layers)
