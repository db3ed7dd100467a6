"""A QKeras model traced layer by layer into da4ml's combinational logic.

Each layer's rule is its handler's ``trace`` (:mod:`smartml.hardware.handlers`), fed
the layer's precisions from :func:`~smartml.export.qkeras_precision.layer_precisions`,
so the RTL uses the fixed-point types of the hls4ml export (inputs, weights and every
quantizer; sums are exact in both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from da4ml.trace import (  # type: ignore[import-untyped]
    FixedVariableArray,
    HWConfig,
    comb_trace,
)

from smartml.backend import keras
from smartml.export.qkeras_precision import layer_precisions, output_precision
from smartml.export.rtl.arithmetic import kif
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.graph import inbound_layers, input_layers, output_layer
from smartml.hardware.registry import LayerHandler, handler_for

#: da4ml's cost model: adders one bit per LUT, no carry-chain term, no latency cutoff.
HARDWARE = HWConfig(1, -1, -1)


@dataclass(frozen=True)
class TracedModel:
    """The model as da4ml logic.

    Attributes:
        logic: da4ml's ``CombLogic`` (all inputs flattened and concatenated in the
            model's input order, row-major; the flattened output).
        output_type: the firmware type of the model's output (its step is the LSB of
            the comparison).
    """

    logic: Any
    output_type: FixedType


def trace_model(model: keras.Model, input_types: dict[str, FixedType]) -> TracedModel:
    """Trace ``model`` with one firmware type per input.

    Args:
        model: a functional QKeras model with one output.
        input_types: the firmware type of each model input, by input layer name.

    Returns:
        the traced logic and the output type.

    Raises:
        UnsupportedLayerError: a layer without an export rule.
        ExportError: a layer without an RTL rule, or one its rule refuses.
    """
    precisions = {p.name: p for p in layer_precisions(model, input_types)}
    handlers = {layer.name: _rtl_handler(layer) for layer in model.layers}
    values = {
        layer.name: _input_array(layer, input_types[layer.name]) for layer in input_layers(model)
    }
    for layer in model.layers:
        if layer.name not in values:
            incoming = [values[name] for name in inbound_layers(layer)]
            values[layer.name] = handlers[layer.name].trace(layer, incoming, precisions[layer.name])
    inputs = [values[layer.name].ravel() for layer in input_layers(model)]
    output = values[output_layer(model)].ravel()
    logic = comb_trace(np.concatenate(inputs), output, keep_dead_inputs=True)
    return TracedModel(logic, output_precision(model, list(precisions.values())))


def _rtl_handler(layer) -> LayerHandler:
    handler = handler_for(layer, "export")
    if type(handler).trace is LayerHandler.trace:
        # before any tracing: the registry's own refusal, one line naming the layer
        handler.trace(layer, [], None)
    return handler


def _input_array(layer, fixed: FixedType) -> FixedVariableArray:
    """One model input as da4ml variables of its firmware type."""
    shape = tuple(int(n) for n in layer.output.shape[1:])
    k, i, f = (np.full(shape, part) for part in kif(fixed))
    return FixedVariableArray.from_kif(k, i, f, hwconf=HARDWARE)
