"""What hls4ml's distributed-arithmetic pass computed, per Keras layer, for report.json.

With ``strategy: distributed_arithmetic`` hls4ml 1.3 (its pass
``backends/vivado/passes/distributed_arithmetic.py``) solves every dense and
convolution kernel with da4ml as an adder graph of the constant weights, records the
graph's cost in LUTs as the node's ``da_kernel_cost``, and writes the graph as C++
whose lines end in ``// <adder depth>`` (da4ml's ``print_latency``). This module
reads both back; nothing is re-solved.

The cost is that of one kernel instance: a convolution (or a dense layer on points)
computed position by position reuses one instance ``n_partitions`` times, so its LUTs
are ``da_kernel_cost`` × the instances built (output positions ÷ ``n_partitions``).
Activations, pooling, casts and the depthwise half of a separable convolution (which
hls4ml keeps on the Latency strategy) are outside these figures.

hls4ml hands da4ml a node's weight data as it finds it. For a QDense on ``(N, F)``
inputs (which hls4ml rebuilds as a pointwise Conv1D) that is the float shadow kernel,
not its quantized values, and the adder graph then computes with the wrong constants
(a DeepSets model: 29% of the outputs bit-identical). :func:`with_quantized_weights`
gives hls4ml a copy whose variables already hold the quantized values; QKeras'
fixed-scale quantizers map those to themselves, and the export's comparison with the
original model checks that they did.
"""

from __future__ import annotations

import math
import re

import numpy as np

from smartml.backend import keras
from smartml.hardware.cost import quantized_layers, weight_tensors

SOURCE = (
    "hls4ml 1.3 distributed_arithmetic pass: da4ml adder-graph cost of the dense and "
    "convolution kernels (LUTs), per kernel instance × instances; activations, pooling "
    "and depthwise convolutions not included"
)
_DEPTH_COMMENT = re.compile(r"//\s*([0-9]+(?:\.[0-9]+)?)\s*$", re.MULTILINE)
# hls4ml splits a Keras separable convolution into these two nodes.
_SPLIT_SUFFIXES = ("_depthwise", "_pointwise")


def kernel_costs(hls_model, layer_names: set[str]) -> dict[str, dict]:
    """DA figures of each Keras layer whose kernel hls4ml solved with da4ml.

    Args:
        hls_model: a converted hls4ml ``ModelGraph`` (its optimizers have run).
        layer_names: the Keras model's layer names.

    Returns:
        by Keras layer name: ``luts`` (da4ml cost × instances), ``kernel_luts`` (one
        instance), ``instances`` and ``adder_depth`` (adders on the longest path).
    """
    costs: dict[str, dict] = {}
    for node in hls_model.get_layers():
        cost = node.attributes.get("da_kernel_cost")
        if cost is None:
            continue
        instances = _instances(node)
        costs[_keras_name(node.name, layer_names)] = {
            "luts": round(cost * instances),
            "kernel_luts": round(cost),
            "instances": instances,
            "adder_depth": adder_depth(node.attributes["da_codegen"].code),
        }
    return costs


def adder_depth(code: str) -> int:
    """The largest ``// depth`` comment of da4ml's generated C++ (0 without adders).

    >>> adder_depth("v0 = inp[0]; // 0.0\\nv1 = v0 + v0; // 1.0\\nv2 = v1 - v0; // 2.0")
    2
    """
    return int(max((float(depth) for depth in _DEPTH_COMMENT.findall(code)), default=0.0))


def totals(costs: dict[str, dict]) -> dict:
    """The model's DA figures: summed LUTs, and the adder depth of the layers in a row
    (an upper bound on the longest path: layers follow one another)."""
    return {
        "luts": sum(row["luts"] for row in costs.values()),
        "adder_depth": sum(row["adder_depth"] for row in costs.values()),
        "layers": len(costs),
        "source": SOURCE,
    }


def _instances(node) -> int:
    """Kernel instances hls4ml builds: 1 for a dense layer, output positions ÷
    ``n_partitions`` for a convolution."""
    partitions = node.get_attr("n_partitions")
    if partitions is None:
        return 1
    positions = math.prod(node.get_output_variable().shape[:-1])
    return max(1, positions // int(partitions))


def _keras_name(node_name: str, layer_names: set[str]) -> str:
    """The Keras layer an hls4ml node comes from.

    >>> _keras_name("sep_pointwise", {"sep"}), _keras_name("my_pointwise", {"my_pointwise"})
    ('sep', 'my_pointwise')
    """
    for suffix in _SPLIT_SUFFIXES:
        if node_name.endswith(suffix) and node_name[: -len(suffix)] in layer_names:
            return node_name[: -len(suffix)]
    return node_name


def with_quantized_weights(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose kernels and biases hold their quantized values.

    Args:
        model: a QKeras model (every layer known to the handler registry).

    Returns:
        a new model of the same layers and quantizers; ``model`` is unchanged.
    """
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for layer in quantized_layers(copy):
        for tensor in weight_tensors(layer, include_bias=True):
            tensor.variable.assign(np.asarray(tensor.quantized()))
    return copy
