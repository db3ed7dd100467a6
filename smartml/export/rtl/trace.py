"""A QKeras model traced layer by layer into da4ml's combinational logic.

Each layer's rule is its handler's ``trace`` (:mod:`smartml.hardware.handlers`), fed
the layer's precisions from :func:`~smartml.export.qkeras_precision.layer_precisions`,
so the RTL uses the fixed-point types of the hls4ml export (inputs, weights and every
quantizer; sums are exact in both).

da4ml keeps a value as an integer (its "unscaled" value) times a power-of-two scale;
shifts change the scale only. A non-power-of-two mean scales by ``2^-P`` (``P`` ≈ 40,
:func:`~smartml.hardware.rtl.arithmetic.mean`) and the weights' shifts multiply into it,
so after a pixel MDN's average pooling the unscaled values reach ``2^40`` and beyond.
da4ml 0.6 mishandles that twice: its decimals round (fixed by
:func:`~smartml.hardware.rtl.arithmetic.exact_decimals`), and it gives a constant a step
of at most ``2^31`` (``_const_f`` searches exponents in ``[-32, 32]``), while its
Verilog multiplexer assumes each input's step is no finer than the output's: a
saturation to ``-1.0`` at scale ``2^-40`` came out as ``0``. :func:`exact_constants`
gives constants their true step; :func:`check_alignment` refuses what would still be
misplaced.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from da4ml.trace import (  # type: ignore[import-untyped]
    FixedVariableArray,
    HWConfig,
    comb_trace,
)
from da4ml.types import Op, QInterval, minimal_kif  # type: ignore[import-untyped]

from smartml.backend import keras
from smartml.errors import ExportError
from smartml.export.qkeras_precision import layer_precisions, output_precision
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.graph import inbound_layers, input_layers, output_layer
from smartml.hardware.registry import LayerHandler, handler_for
from smartml.hardware.rtl.arithmetic import DECIMAL_DIGITS, exact_decimals, kif

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
        ExportError: a layer without an RTL rule, or one its rule refuses; da4ml
            logic that would not be exact (an internal error, see the module).
    """
    precisions = {p.name: p for p in layer_precisions(model, input_types)}
    handlers = {layer.name: _rtl_handler(layer) for layer in model.layers}
    values = {
        layer.name: _input_array(layer, input_types[layer.name]) for layer in input_layers(model)
    }
    for layer in model.layers:
        if layer.name not in values:
            incoming = [values[name] for name in inbound_layers(layer)]
            with _exact(f"layer {layer.name!r}"):
                handler = handlers[layer.name]
                values[layer.name] = handler.trace(layer, incoming, precisions[layer.name])
    inputs = [values[layer.name].ravel() for layer in input_layers(model)]
    output = values[output_layer(model)].ravel()
    with _exact("the model's logic"):
        logic = comb_trace(np.concatenate(inputs), output, keep_dead_inputs=True)
    logic = exact_constants(logic)
    check_alignment(logic)
    return TracedModel(logic, output_precision(model, list(precisions.values())))


#: da4ml's opcodes: a constant, and ``msb(key) ? in0 : in1`` (negative: ``in1`` negated).
_CONSTANT, _MUX = 5, 6


def exact_constants(logic):
    """``logic`` with each constant given its own step: ``v = m·2^e``, ``m`` odd.

    da4ml's tracer writes a constant ``v`` as ``v/2^e`` on the step ``2^e``, ``e ≤ 31``:
    ``-2^40`` is ``-512`` on ``2^31``. The Python evaluator reads the value and is
    right, but the Verilog multiplexer aligns its inputs only by padding below: a
    constant on a step finer than the output's is read on the output's step (``-512``
    on ``2^33`` is ``-2^42``).

    >>> op = Op(-1, -1, _CONSTANT, -512, QInterval(-2.0**40, -2.0**40, 2.0**31), 1.0, 0.0)
    >>> _exact_constant(op)[3:5]
    (-1, QInterval(min=-1099511627776.0, max=-1099511627776.0, step=1099511627776.0))
    """
    return logic._replace(ops=[_exact_constant(op) for op in logic.ops])


def _exact_constant(op: Op) -> Op:
    value = op.qint.min
    if op.opcode != _CONSTANT or value == 0:
        return op
    numerator, denominator = Fraction(value).as_integer_ratio()
    if denominator > 1:  # a power of two: value = numerator · 2^-d, numerator odd
        exponent, odd = 1 - denominator.bit_length(), numerator
    else:
        exponent = (numerator & -numerator).bit_length() - 1  # trailing zeros
        odd = numerator >> exponent
    qint = QInterval(value, value, 2.0**exponent)
    return Op(op.id0, op.id1, op.opcode, odd, qint, op.latency, op.cost)


def check_alignment(logic) -> None:
    """Refuse a multiplexer whose Verilog would drop an input's low bits.

    da4ml's ``mux`` pads an input below when its step is coarser than the output's and
    silently does nothing when it is finer, which its tracer never intends.

    Raises:
        ExportError: such a multiplexer (an internal error: the design would be wrong).
    """
    fractional = [int(minimal_kif(op.qint)[2]) for op in logic.ops]
    widths = [int(sum(minimal_kif(op.qint))) for op in logic.ops]
    for index, op in enumerate(logic.ops):
        if abs(op.opcode) != _MUX:
            continue
        shift = (op.data >> 32) & 0xFFFFFFFF
        shift = shift - (1 << 32) if shift >= 1 << 31 else shift
        out = fractional[index]
        misplaced = (widths[op.id0] and out < fractional[op.id0]) or (
            widths[op.id1] and out - fractional[op.id1] + shift < 0
        )
        if misplaced:
            raise ExportError(
                f"internal: da4ml's Verilog would misplace an input of multiplexer {index} "
                f"({op}); the RTL would differ from QKeras"
            )


@contextmanager
def _exact(what: str) -> Iterator[None]:
    """da4ml's decimals exact (see :func:`exact_decimals`); a rounding is an error."""
    try:
        with exact_decimals():
            yield
    except decimal.Inexact as error:
        raise ExportError(
            f"internal: {what}: da4ml's decimal arithmetic is inexact beyond "
            f"{DECIMAL_DIGITS} digits; the RTL would differ from QKeras"
        ) from error


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
