"""Per-layer hls4ml precisions that make the firmware compute exactly what QKeras does.

hls4ml's defaults (``fixed<16,6>`` everywhere, truncation and wrap-around) disagree
with QKeras on almost every output of a quantized model. Here every type is derived
from the model itself, layer by layer along the functional graph (a merge layer
from the types of all its inputs), by each layer's handler
(:mod:`smartml.hardware.handlers`):

* weights and biases take the type of their ``quantized_bits`` quantizer;
* the output of a ``QActivation`` takes its quantizer's type with QKeras' rounding
  (``tf.round``: to nearest, ties to even → ``RND_CONV``) and clipping (``SAT``);
  ``quantized_tanh`` (QKeras' default "hard" tanh) is ``clip(x, −1, 1)`` rounded to
  ``bits − 1`` fractional bits, i.e. hls4ml's ``hard_tanh`` into
  ``fixed<bits,1,RND_CONV,SAT>``; ``quantized_relu(bits, integer)`` is hls4ml's
  ``relu`` into ``ufixed<bits,integer,RND_CONV,SAT>``;
* accumulators and results of the compute layers are *exact*: the grid of their
  values is the product of the input and weight grids (fractional bits add), and
  their range is bounded from the actual quantized weights,
  ``max_j Σ_i |w_ij|·max|x| + |b_j|``, so nothing is rounded or saturated before the
  next quantizer does it the way QKeras does; likewise ``Multiply`` (grids multiply)
  and ``Concatenate`` (one type holding both inputs);
* average pooling (``AveragePooling2D``, ``GlobalAveragePooling1D``) divides by the
  window size ``N``, which no finite binary fraction represents: its result has
  ``POOL_FRACTIONAL_BITS`` (24) fractional bits. A mean of values on a grid never lies
  closer than ``1/(N·2^(f+1))`` to a rounding tie of a following quantizer with ``f``
  fractional bits (unless exactly on it, which the exact sum then reproduces), so the
  cut cannot change a rounding while ``f + 1 + log2 N < 24`` (e.g. 8-bit quantizers
  and windows up to 32x32). A quantizer must therefore follow an average, unless the
  window is a power of two (then the mean is exact in float32 and in the result type).

Supported layers: :func:`~smartml.hardware.registry.supported_layers`; anything else
is an :class:`~smartml.errors.UnsupportedLayerError` naming the layer. A model input
without an input quantizer gets the type the caller chooses.
"""

from __future__ import annotations

from smartml.backend import keras
from smartml.errors import ExportError
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.graph import inbound_layers, output_layer
from smartml.hardware.precision import LayerPrecision
from smartml.hardware.registry import handler_for


def layer_precisions(
    model: keras.Model, input_types: FixedType | dict[str, FixedType]
) -> list[LayerPrecision]:
    """Precisions of every layer of ``model`` (functional, topologically ordered).

    Args:
        model: the QKeras model as it will be converted.
        input_types: type of each model input in firmware, by input layer name; one
            type for every input.

    Returns:
        one :class:`LayerPrecision` per layer, in model order (see
        :func:`output_precision` for the output's).

    Raises:
        UnsupportedLayerError: a layer without an export rule.
        ExportError: a layer or quantizer that cannot be exported exactly.
    """
    # An unsupported layer is reported before any other problem of the model.
    handlers = [handler_for(layer, "export") for layer in model.layers]
    types: dict[str, FixedType] = {}
    precisions = []
    for layer, handler in zip(model.layers, handlers, strict=True):
        incoming = [types[name] for name in inbound_layers(layer)]
        if not incoming:
            incoming = [_input_type(input_types, layer.name)]
        precision, types[layer.name] = handler.precision(layer, incoming)
        handler.check_consumers(layer, _consumers(model, layer.name))
        precisions.append(precision)
    return precisions


def _consumers(model: keras.Model, name: str) -> list:
    return [layer for layer in model.layers if name in inbound_layers(layer)]


def output_precision(model: keras.Model, precisions: list[LayerPrecision]) -> FixedType:
    """The type of the model's (single) output."""
    name = output_layer(model)
    return next(p.types["result"] for p in precisions if p.name == name)


def hls_layer_config(precisions: list[LayerPrecision]) -> dict:
    """The ``LayerName`` block of an hls4ml configuration."""
    config = {}
    for precision in precisions:
        config.update(precision.hls)
    return config


def _input_type(input_types: FixedType | dict[str, FixedType], name: str) -> FixedType:
    if isinstance(input_types, FixedType):
        return input_types
    if name not in input_types:
        raise ExportError(
            f"model input {name!r} has no firmware type; given: {', '.join(input_types)}"
        )
    return input_types[name]
