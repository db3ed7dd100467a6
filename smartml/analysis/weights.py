"""Float and quantized weights of every quantized layer, and where the zeros are."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from smartml.training import hardware_cost as hc


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
        return float(np.mean(self.quantized_values == 0))


def tensor_weights(model, include_bias: bool = True) -> list[TensorWeights]:
    """Every weight tensor of the model's quantized layers, in layer order."""
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


def sparsity_targets(config: dict, layer_names: list[str]) -> dict[str, float]:
    """Target sparsity per layer from the run's ``training.mdmm`` sparsity
    constraints (a constraint over several layers gives each its group target).

    >>> cfg = {"training": {"mdmm": {"constraints": [
    ...     {"type": "sparsity", "layers": "all", "target": 0.5},
    ...     {"type": "sparsity", "layers": ["d1"], "target": 0.8}]}}}
    >>> sparsity_targets(cfg, ["d0", "d1"])
    {'d0': 0.5, 'd1': 0.8}
    """
    mdmm = (config.get("training") or {}).get("mdmm") or {}
    targets = {}
    for constraint in mdmm.get("constraints", []):
        if constraint.get("type") != "sparsity":
            continue
        layers = constraint.get("layers", "all")
        if layers == "all":
            layers = layer_names
        elif isinstance(layers, str):
            layers = [layers]
        for layer in layers:
            targets[layer] = float(constraint["target"])
    return targets


def zero_fractions(tensors: list[TensorWeights], targets: dict[str, float]) -> pd.DataFrame:
    """Per layer: kernel weights (biases excluded, as the constraints count them),
    quantized zeros, their fraction and the MDMM target (NaN without one)."""
    rows = {}
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
