"""Hardware cost of a quantized model: quantized sparsity, MACs and bit operations (BOPs).

Everything is measured on the **quantized** weights, the values the firmware stores,
not on the float shadow weights the optimizer updates: a weight counts as zero when
its quantizer maps it to exactly 0.

Weight tensors
    Every kernel of the layers whose handler (:mod:`smartml.hardware.handlers`)
    declares kernels (``QDense``, ``QConv1D``, ``QConv2D``, ``QDepthwiseConv2D``,
    ``QSeparableConv2D``: its depthwise *and* pointwise kernels), each with its own
    quantizer (``kernel_quantizer_internal``, ``depthwise_quantizer_internal``,
    ``pointwise_quantizer_internal``); biases (``bias_quantizer_internal``) only where
    ``include_bias=True``. A layer no handler knows is an
    :class:`~smartml.errors.UnsupportedLayerError`, never silently left out.

MACs
    One multiply-accumulate group per kernel. With ``P`` the output positions of the
    layer (product of the output's spatial dimensions; 1 for a dense layer on a vector)
    and ``K`` the kernel, every kernel entry is used once per position::

        MACs = P · size(K)          nonzero MACs = P · nnz(q(K))

    This holds for dense (``P·n·m``), convolutions (``H·W·kh·kw·C_in·C_out``), depthwise
    (``H·W·kh·kw·C_in·d``) and the pointwise part of a separable convolution. Edge
    positions of ``padding="same"`` are counted as full (an upper bound).

BOPs (Baskin et al. 2021, "UNIQ", ACM Trans. Comput. Syst.; as used by Hawks et al. 2021, "Ps and
Qs: Quantization-aware pruning for efficient low latency neural network inference",
Front. Artif. Intell. 4:676564)
    For a dense layer with ``n`` inputs, ``m`` outputs, pruned fraction ``f_p``,
    weight bits ``b_w`` and input (activation) bits ``b_a``::

        BOPs ≈ m·n · [(1 − f_p)·b_a·b_w + b_a + b_w + log2(n)]

    applied here to every MAC group with ``m·n → MACs = P·size(K)`` and the fan-in
    ``n`` of one output (``size(K)/C_out``; ``kh·kw`` for a depthwise kernel)::

        BOPs = Σ_groups MACs · [(1 − f_p)·b_a·b_w + b_a + b_w + log2(fan_in)]

    The first term is the multiplications that survive pruning, the rest the
    accumulation, which the formula keeps even for pruned weights; so a model whose
    weights are all zero still costs ``Σ MACs · (b_a + b_w + log2 fan_in)``
    (:func:`minimum_bops`).

    ``b_w`` is the kernel quantizer's ``bits`` (``default_bits`` when unquantized).
    ``b_a`` is the ``bits`` of the quantizer that produced the layer's input, found by
    following the functional graph (not the layer order) through layers that do not
    change values (Flatten, Reshape, Dropout, max pooling, padding, cropping): a
    ``QActivation`` or a quantized layer's quantized activation; a ``Concatenate`` the
    widest of its inputs, a ``Multiply`` the sum; anything else (a model input, an
    unquantized layer, average pooling) gives ``default_bits``. The
    pointwise part of a separable convolution sees the unquantized depthwise output,
    so its ``b_a`` is ``default_bits`` too.

LUTs
    The LUTs of each kernel (with its bias) in distributed arithmetic, predicted by
    :mod:`~smartml.hardware.da_cost` (fitted to da4ml, the solver of hls4ml's
    ``distributed_arithmetic`` strategy) with ``b_a`` as the kernel's input width:
    :func:`luts`, :func:`group_luts`, ``luts`` in :func:`hardware_report`, and
    :func:`luts_tf` for MDMM (exact value, gradient of the same formula on smooth
    counts, see :func:`_smooth_luts`). hls4ml's ``io_parallel`` layers build a kernel
    once however many output positions they have; the RTL export
    (:mod:`smartml.export.rtl`) unrolls every position into its own copy, so its LUTs
    are ``P`` times the kernel's (``unrolled`` in :func:`luts`, ``unrolled_luts`` in
    :func:`hardware_report`).

Differentiable surrogate of sparsity
    The fraction of zeros is piecewise constant in the weights; the MDMM constraints
    use it for their value and take their gradient from a smooth surrogate::

        s̃ = mean_i σ((t − |w_i|) / τ),   τ = temperature · stop_gradient(mean_i |w_i|)

    with ``t`` half the quantizer's LSB times its scale (the largest magnitude that
    rounds to 0; ``t = 2^(integer − bits + keep_negative) / 2`` for ``quantized_bits``
    with fixed ``alpha``; 0 for quantizers without a fixed step). ``τ`` scales with the
    weights so that the gradient reaches weights far above ``t`` (a τ of a fraction of
    an LSB would leave all but a few weights with a vanishing gradient) and pushes the
    smallest weights hardest. :func:`sparsity_surrogate_tf` returns the exact value
    with the surrogate's gradient: ``s + s̃ − stop_gradient(s̃)``.

>>> import smartml  # noqa: F401
>>> from qkeras import QActivation, QDense, quantized_bits
>>> from smartml.backend import keras
>>> inputs = keras.Input((4,))
>>> x = QActivation(quantized_bits(6, 0, alpha=1), name="adc")(inputs)
>>> outputs = QDense(2, kernel_quantizer=quantized_bits(4, 0, alpha=1), name="d")(x)
>>> model = keras.Model(inputs, outputs)
>>> [(g.layer, g.role, g.macs, g.fan_in, g.weight_bits, g.activation_bits)
...  for g in mac_groups(model)]
[('d', 'kernel', 8, 4, 4, 6)]
>>> minimum_bops(model)  # 8 · (6 + 4 + log2 4)
96.0
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from smartml.backend import keras, tf
from smartml.hardware import da_cost
from smartml.hardware.graph import inbound_layers
from smartml.hardware.registry import handler_for

DEFAULT_BITS = 16


@dataclass(frozen=True)
class WeightTensor:
    """One weight tensor of a quantized layer and the quantizer applied to it.

    Attributes:
        layer: the layer's name.
        role: ``kernel``, ``depthwise``, ``pointwise`` or ``bias``.
        variable: the float shadow weights (``tf.Variable``).
        quantizer: the QKeras quantizer, None when the tensor is not quantized.
    """

    layer: str
    role: str
    variable: tf.Variable
    quantizer: Callable[[tf.Variable], tf.Tensor] | None

    @property
    def size(self) -> int:
        return int(np.prod(self.variable.shape))

    @property
    def bits(self) -> int | None:
        """The quantizer's bit width; None when unquantized or it has no ``bits``."""
        bits = getattr(self.quantizer, "bits", None)
        return int(bits) if bits is not None else None

    def quantized(self) -> tf.Tensor:
        """The quantized values (straight-through gradient, as QKeras applies them)."""
        if self.quantizer is None:
            return tf.convert_to_tensor(self.variable)
        return self.quantizer(self.variable)

    def zero_threshold(self) -> float:
        """Largest magnitude the quantizer maps to 0: half an LSB times its scale for
        ``quantized_bits`` with a fixed ``alpha`` (None or a number); 0 otherwise."""
        return zero_threshold(self.quantizer)


def zero_threshold(quantizer) -> float:
    """Half the LSB of a fixed-scale ``quantized_bits`` quantizer (0 for any other).

    ``LSB = 2^(integer − bits + keep_negative)``.

    >>> from qkeras import quantized_bits
    >>> zero_threshold(quantized_bits(4, 0, alpha=1)), zero_threshold(quantized_bits(6, 2))
    (0.0625, 0.0625)
    """
    if quantizer is None or not hasattr(quantizer, "integer") or not hasattr(quantizer, "bits"):
        return 0.0
    alpha = getattr(quantizer, "alpha", None)
    if isinstance(alpha, str):  # "auto", "auto_po2": the scale depends on the weights
        return 0.0
    keep_negative = int(bool(getattr(quantizer, "keep_negative", True)))
    lsb = 2.0 ** (int(quantizer.integer) - int(quantizer.bits) + keep_negative)
    scale = 1.0 if alpha is None else float(alpha)
    return 0.5 * lsb * scale


def quantized_layers(model: keras.Model) -> list:
    """The model's layers with weights (kernels), in the model's layer list order.

    Raises:
        UnsupportedLayerError: a layer of the model has no handler (so its weights,
            if any, would be silently left out of sparsity, BOPs and MDMM's "all").
    """
    return [layer for layer in model.layers if handler_for(layer).weight_attributes]


def weight_tensors(layer, include_bias: bool = False) -> list[WeightTensor]:
    """Every kernel of a layer with weights (and its bias when ``include_bias``).

    Raises:
        UnsupportedLayerError: no handler knows the layer.
        TypeError: the layer has no kernels (a caller's mistake).
    """
    handler = handler_for(layer)
    attributes = list(handler.weight_attributes)
    if not attributes:
        raise TypeError(f"{layer.name}: {type(layer).__name__} is not a quantized compute layer")
    if include_bias and getattr(layer, "use_bias", False):
        attributes.append(handler.bias_attribute)
    return [
        WeightTensor(layer.name, role, getattr(layer, variable), getattr(layer, quantizer, None))
        for variable, quantizer, role in attributes
    ]


def quantized_zeros(tensor: WeightTensor) -> int:
    """Number of entries of ``tensor`` whose quantized value is exactly 0 (numpy)."""
    return int(np.count_nonzero(np.asarray(tensor.quantized()) == 0))


def quantized_sparsity(tensors: list[WeightTensor]) -> float:
    """Fraction of all entries of ``tensors`` quantized to exactly 0 (numpy, for reports).

    Input: weight tensors, e.g. ``weight_tensors(layer)`` of one or more layers.
    Output: ``Σ zeros / Σ sizes`` (entries weighted equally across tensors).
    """
    total = sum(t.size for t in tensors)
    if total == 0:
        return 0.0
    return sum(quantized_zeros(t) for t in tensors) / total


def quantized_sparsity_tf(tensors: list[WeightTensor], temperature: float = 0.5) -> tf.Tensor:
    """Exact quantized sparsity with the gradient of the smooth surrogate (see module).

    Args:
        tensors: weight tensors.
        temperature: ``τ / mean|w|`` of the sigmoid; larger reaches more weights.

    Output: scalar float32 tensor equal to :func:`quantized_sparsity`, differentiable
    with respect to the weights through ``s̃``.
    """
    zeros, surrogate, total = 0.0, 0.0, 0
    for tensor in tensors:
        zeros_t, surrogate_t = _zeros_and_surrogate(tensor, temperature)
        zeros += zeros_t
        surrogate += surrogate_t
        total += tensor.size
    zeros = zeros / total
    surrogate = surrogate / total
    return zeros + surrogate - tf.stop_gradient(surrogate)


def _zeros_and_surrogate(tensor: WeightTensor, temperature: float):
    """(exact count of quantized zeros, Σ σ((t − |w|)/τ)) of one tensor, both tf."""
    weights = tf.convert_to_tensor(tensor.variable)
    zeros = tf.reduce_sum(tf.cast(tf.equal(tensor.quantized(), 0.0), tf.float32))
    magnitude = tf.abs(weights)
    # τ follows the weights' scale (not the LSB) so every weight gets a usable gradient;
    # the small constant keeps τ > 0 once a tensor is entirely zero.
    tau = temperature * tf.stop_gradient(tf.reduce_mean(magnitude)) + 1e-8
    surrogate = tf.reduce_sum(tf.sigmoid((tensor.zero_threshold() - magnitude) / tau))
    return zeros, surrogate


@dataclass(frozen=True)
class MacGroup:
    """The multiply-accumulates of one kernel of one layer.

    Attributes:
        layer, role: as in :class:`WeightTensor`.
        weights: the kernel.
        macs: ``P · size(K)`` per inference.
        fan_in: inputs summed into one output (``n`` of the BOPs formula).
        weight_bits: ``b_w``.
        activation_bits: ``b_a``.
        bias: the layer's bias, added to the outputs of this kernel (the kernel or
            pointwise kernel of a layer with ``use_bias``); None otherwise.
        positions: ``P``, the output positions the kernel is applied at (points of a
            point cloud, pixels of a convolution; 1 for a dense layer).
    """

    layer: str
    role: str
    weights: WeightTensor
    macs: int
    fan_in: int
    weight_bits: int
    activation_bits: int
    bias: WeightTensor | None = None
    positions: int = 1

    def copies(self, unrolled: bool) -> int:
        """Instances of the kernel in the design: ``P`` unrolled, else 1."""
        return self.positions if unrolled else 1

    def fixed_bops(self) -> float:
        """BOPs that remain with every weight pruned: ``MACs·(b_a + b_w + log2 n)``."""
        return self.macs * (self.activation_bits + self.weight_bits + math.log2(self.fan_in))

    def bops(self, pruned_fraction) -> float:
        """``MACs·[(1 − f_p)·b_a·b_w + b_a + b_w + log2 n]`` (numbers or tf tensors)."""
        product = self.macs * self.activation_bits * self.weight_bits
        return (1.0 - pruned_fraction) * product + self.fixed_bops()


def mac_groups(model: keras.Model, default_bits: int = DEFAULT_BITS) -> list[MacGroup]:
    """One :class:`MacGroup` per kernel of every layer with weights of a built model.

    Args:
        model: a functional model (each layer used once).
        default_bits: ``b_a`` where the input is not quantized and ``b_w`` where a
            kernel is not quantized.

    Raises:
        UnsupportedLayerError: a layer of the model has no handler.
    """
    bits = activation_bits(model, default_bits)
    groups = []
    for layer in quantized_layers(model):
        handler = handler_for(layer)
        output_shape = tuple(layer.output.shape)
        positions = int(np.prod(output_shape[1:-1])) if len(output_shape) > 2 else 1
        input_bits = max((bits[name] for name in inbound_layers(layer)), default=default_bits)
        tensors = weight_tensors(layer, include_bias=True)
        bias = tensors.pop() if tensors[-1].role == "bias" else None
        for tensor in tensors:
            shape = tuple(tensor.variable.shape)
            groups.append(
                MacGroup(
                    layer=layer.name,
                    role=tensor.role,
                    weights=tensor,
                    macs=positions * int(np.prod(shape)),
                    fan_in=handler.mac_fan_in(tensor.role, shape),
                    weight_bits=tensor.bits or default_bits,
                    activation_bits=handler.mac_input_bits(tensor.role, input_bits, default_bits),
                    bias=bias if tensor.role in ("kernel", "pointwise") else None,
                    positions=positions,
                )
            )
    return groups


def activation_bits(model: keras.Model, default_bits: int = DEFAULT_BITS) -> dict[str, int]:
    """Bits of every layer's output along the functional graph (see module docstring):
    ``{layer name: bits}``, the model inputs ``default_bits``."""
    bits: dict[str, int] = {}
    for layer in model.layers:
        inputs = [bits[name] for name in inbound_layers(layer)]
        bits[layer.name] = handler_for(layer).output_bits(layer, inputs, default_bits)
    return bits


def quantizer_bits(quantizer, default_bits: int) -> int:
    """The ``bits`` of a quantizer; ``default_bits`` when it has none (or is None)."""
    bits = getattr(quantizer, "bits", None)
    return int(bits) if bits is not None else default_bits


def _groups(model_or_groups, default_bits: int) -> list[MacGroup]:
    if isinstance(model_or_groups, keras.Model):
        return mac_groups(model_or_groups, default_bits)
    return list(model_or_groups)


def bops(model_or_groups, default_bits: int = DEFAULT_BITS) -> float:
    """BOPs per inference with the current quantized weights (numpy, for reports).

    Input: a model, or the :class:`MacGroup` list of one.
    Output: ``Σ MACs·[(1 − f_p)·b_a·b_w + b_a + b_w + log2 n]``, ``f_p`` the fraction
    of the group's kernel quantized to 0.
    """
    return float(
        sum(g.bops(quantized_sparsity([g.weights])) for g in _groups(model_or_groups, default_bits))
    )


def bops_tf(groups: list[MacGroup], temperature: float = 0.5) -> tf.Tensor:
    """:func:`bops` as a tf scalar, with the gradient of the sparsity surrogate."""
    total = tf.constant(0.0)
    for group in groups:
        total += group.bops(quantized_sparsity_tf([group.weights], temperature))
    return total


def minimum_bops(model_or_groups, default_bits: int = DEFAULT_BITS) -> float:
    """BOPs with every weight pruned (``f_p = 1``): the formula's accumulation terms,
    the least any pruning of this architecture can reach."""
    return float(sum(g.fixed_bops() for g in _groups(model_or_groups, default_bits)))


def maximum_bops(model_or_groups, default_bits: int = DEFAULT_BITS) -> float:
    """BOPs with no weight pruned (``f_p = 0``)."""
    return float(sum(g.bops(0.0) for g in _groups(model_or_groups, default_bits)))


def group_luts(group: MacGroup) -> float:
    """Predicted LUTs of one kernel (and its bias) in distributed arithmetic, with
    ``b_a`` as its input width (:func:`smartml.hardware.da_cost.da_luts`, numpy)."""
    bias = None if group.bias is None else np.asarray(group.bias.quantized())
    return _kernel_luts(group, np.asarray(group.weights.quantized()), bias)


def _kernel_luts(group: MacGroup, kernel: np.ndarray, bias: np.ndarray | None) -> float:
    """:func:`smartml.hardware.da_cost.da_luts` of ``group``'s quantized kernel. A
    kernel without a fixed-step quantizer (none, or a learned scale) is put on a
    ``b_w``-bit grid first, as BOPs count it at ``b_w`` bits."""
    if group.weights.zero_threshold() == 0:
        kernel = da_cost.fixed_point(kernel, group.weight_bits)
    return da_cost.da_luts(kernel, group.activation_bits, bias, group.role)


def luts(model_or_groups, default_bits: int = DEFAULT_BITS, unrolled: bool = False) -> float:
    """Predicted distributed-arithmetic LUTs of every kernel (numpy, for reports); with
    ``unrolled``, of a copy of each kernel per output position (the RTL export)."""
    groups = _groups(model_or_groups, default_bits)
    return float(sum(group_luts(g) * g.copies(unrolled) for g in groups))


def luts_tf(groups: list[MacGroup], temperature: float = 0.5, unrolled: bool = False) -> tf.Tensor:
    """:func:`luts` as a tf scalar: the exact prediction (computed by numpy), with the
    gradient of the same formula on smooth counts (:func:`_smooth_luts`)."""
    total = tf.constant(0.0)
    for group in groups:
        total += _group_luts_tf(group, temperature) * float(group.copies(unrolled))
    return total


def _group_luts_tf(group: MacGroup, temperature: float) -> tf.Tensor:
    """:func:`group_luts` in tf, value exact, gradient from :func:`_smooth_luts`."""
    quantized = [group.weights.quantized()]
    if group.bias is not None:
        quantized.append(group.bias.quantized())

    def exact(kernel, bias=None):
        return np.float32(_kernel_luts(group, kernel, bias))

    value = tf.numpy_function(exact, quantized, tf.float32, stateful=False)
    smooth = _smooth_luts(group, temperature)
    return tf.reshape(value, ()) + smooth - tf.stop_gradient(smooth)


def _smooth_luts(group: MacGroup, temperature: float) -> tf.Tensor:
    """:func:`smartml.hardware.da_cost.predict` on smooth counts, for the gradient.

    A weight is non-zero with the sparsity surrogate's chance ``ñ = σ((|w| − t)/τ)``
    (:func:`_zeros_and_surrogate`) and has ``ñ·log2(1 + |w|/LSB)/3`` CSD digits beyond
    its first (a third of a CSD code's digits are non-zero); ``S`` sums ``ñ`` per output,
    ``P`` the extra digits (without merging repeated multiples). Both fall with |w|,
    steepest near the zero band, so the gradient prunes weights and shortens the rest.
    """
    tensor = group.weights
    weights = _blocks_tf(tf.convert_to_tensor(tensor.variable), group.role)
    magnitude = tf.abs(weights)
    # τ follows the weights' scale, as in the sparsity surrogate.
    tau = temperature * tf.stop_gradient(tf.reduce_mean(magnitude)) + 1e-8
    threshold = tensor.zero_threshold()
    lsb = 2.0 * threshold if threshold > 0 else 2.0 ** (1 - (tensor.bits or DEFAULT_BITS))
    nonzero = tf.sigmoid((magnitude - threshold) / tau)
    bias_terms = 0.0
    if group.bias is not None:
        bias_terms = tf.cast(tf.not_equal(group.bias.quantized(), 0.0), tf.float32)
    terms = tf.reduce_sum(nonzero, axis=1) + bias_terms
    sums = tf.reduce_sum(tf.nn.relu(terms - 1.0), axis=1)
    log2_size = tf.math.log(1.0 + magnitude / lsb) / math.log(2.0)
    products = tf.reduce_sum(nonzero * log2_size / 3.0, axis=[1, 2])
    return tf.reduce_sum(da_cost.predict(sums, products, float(group.activation_bits)))


def _blocks_tf(kernel: tf.Tensor, role: str) -> tf.Tensor:
    """:func:`smartml.hardware.da_cost.kernel_blocks` in tf: ``(blocks, n_in, n_out)``."""
    shape = kernel.shape
    if role == "depthwise":
        return tf.reshape(tf.transpose(kernel, [2, 0, 1, 3]), (shape[2], -1, shape[3]))
    return tf.reshape(kernel, (1, -1, shape[-1]))


def hardware_report(model: keras.Model, default_bits: int = DEFAULT_BITS) -> dict:
    """Per-layer quantized sparsity, MACs and BOPs, and their totals (plain numbers).

    Output: ``{"layers": {name: {"sparsity", "weights", "macs", "nonzero_macs",
    "bops", "luts", "unrolled_luts"}}, "sparsity", "macs", "bops", "minimum_bops",
    "luts", "unrolled_luts"}``; sparsity over kernels; ``luts`` the
    distributed-arithmetic LUTs predicted by :mod:`~smartml.hardware.da_cost` with
    ``b_a`` as each kernel's input width, one copy per kernel (hls4ml); ``unrolled_luts``
    with a copy per output position (the RTL export).
    """
    layers: dict[str, dict] = {}
    for group in mac_groups(model, default_bits):
        sparsity = quantized_sparsity([group.weights])
        entry = layers.setdefault(
            group.layer,
            {"zeros": 0, "weights": 0, "macs": 0, "nonzero_macs": 0, "bops": 0.0, "luts": 0.0},
        )
        kernel_luts = group_luts(group)
        entry["luts"] += kernel_luts
        entry["unrolled_luts"] = entry.get("unrolled_luts", 0.0) + kernel_luts * group.positions
        entry["zeros"] += quantized_zeros(group.weights)
        entry["weights"] += group.weights.size
        entry["macs"] += group.macs
        entry["nonzero_macs"] += round(group.macs * (1 - sparsity))
        entry["bops"] += group.bops(sparsity)
    total_luts = sum(e["luts"] for e in layers.values())
    total_unrolled = sum(e["unrolled_luts"] for e in layers.values())
    for entry in layers.values():
        entry["sparsity"] = entry.pop("zeros") / entry["weights"] if entry["weights"] else 0.0
        entry["luts"] = round(entry["luts"])
        entry["unrolled_luts"] = round(entry["unrolled_luts"])
    total_weights = sum(e["weights"] for e in layers.values())
    return {
        "layers": layers,
        "sparsity": (
            sum(e["sparsity"] * e["weights"] for e in layers.values()) / total_weights
            if total_weights
            else 0.0
        ),
        "macs": sum(e["macs"] for e in layers.values()),
        "bops": sum(e["bops"] for e in layers.values()),
        "minimum_bops": minimum_bops(model, default_bits),
        "luts": round(total_luts),
        "unrolled_luts": round(total_unrolled),
    }
