"""Quantized sparsity, MACs and BOPs of QKeras models, checked against hand computations."""

import math

import numpy as np
import pytest
from qkeras import (
    QActivation,
    QConv2D,
    QDense,
    QDepthwiseConv2D,
    QSeparableConv2D,
    quantized_bits,
    quantized_relu,
)

from smartml.backend import keras, tf
from smartml.hardware import cost as hc


def q(bits, integer=0, **kwargs):
    return quantized_bits(bits, integer, alpha=1, **kwargs)


def numpy_zeros(weights: np.ndarray, bits: int, integer: int = 0) -> int:
    """Independent count of zeros of signed quantized_bits(bits, integer, alpha=1):
    round to the LSB 2^(integer − bits + 1) (half to even, as tf.round)."""
    lsb = 2.0 ** (integer - bits + 1)
    return int(np.count_nonzero(np.round(weights / lsb) == 0))


def small_cnn() -> keras.Model:
    """ADC(6 bits) -> QConv2D(3, 3x3, 4 bits) -> relu(5) -> QSeparableConv2D(4, 3x3,
    depthwise 3 bits, pointwise 5 bits) -> Flatten -> QDense(2, 8 bits) on a 6x6x2 image."""
    inputs = keras.Input((6, 6, 2))
    x = QActivation(q(6), name="adc")(inputs)
    x = QConv2D(3, 3, kernel_quantizer=q(4), bias_quantizer=q(4), name="conv")(x)
    x = QActivation(quantized_relu(5), name="relu")(x)
    x = QSeparableConv2D(
        4,
        3,
        depthwise_quantizer=q(3),
        pointwise_quantizer=q(5),
        bias_quantizer=q(5),
        name="sep",
    )(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = QDense(2, kernel_quantizer=q(8), bias_quantizer=q(8), name="dense")(x)
    return keras.Model(inputs, outputs)


def fill(model: keras.Model, seed: int = 0) -> None:
    """Weights uniform in ±0.3 so that every quantizer maps a good share to zero."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.uniform(-0.3, 0.3, size=variable.shape).astype("float32"))


def test_weight_tensors_cover_every_kernel_and_quantizer():
    model = small_cnn()
    sep = model.get_layer("sep")
    tensors = hc.weight_tensors(sep)
    assert [(t.role, t.bits) for t in tensors] == [("depthwise", 3), ("pointwise", 5)]
    assert tensors[0].variable is sep.depthwise_kernel
    assert tensors[1].variable is sep.pointwise_kernel
    with_bias = hc.weight_tensors(model.get_layer("conv"), include_bias=True)
    assert [(t.role, t.bits) for t in with_bias] == [("kernel", 4), ("bias", 4)]
    depthwise = QDepthwiseConv2D(3, depthwise_quantizer=q(4), name="dw")
    depthwise(keras.Input((5, 5, 2)))
    assert [t.role for t in hc.weight_tensors(depthwise)] == ["depthwise"]
    with pytest.raises(TypeError, match="flatten: Flatten is not a quantized compute layer"):
        hc.weight_tensors(model.get_layer("flatten"))


def test_quantized_sparsity_matches_numpy_rounding():
    model = small_cnn()
    fill(model)
    expected_zeros, expected_total = 0, 0
    bits = {"conv": [4], "sep": [3, 5], "dense": [8]}
    for layer in hc.quantized_layers(model):
        for tensor, nbits in zip(hc.weight_tensors(layer), bits[layer.name], strict=True):
            weights = tensor.variable.numpy()
            zeros = numpy_zeros(weights, nbits)
            assert hc.quantized_zeros(tensor) == zeros
            expected_zeros += zeros
            expected_total += weights.size
    tensors = [t for layer in hc.quantized_layers(model) for t in hc.weight_tensors(layer)]
    assert 0.05 < expected_zeros / expected_total < 0.9  # the check is not vacuous
    assert hc.quantized_sparsity(tensors) == pytest.approx(expected_zeros / expected_total)
    assert float(hc.quantized_sparsity_tf(tensors)) == pytest.approx(
        expected_zeros / expected_total
    )


def test_sparsity_counts_quantized_not_float_zeros():
    layer = QDense(4, kernel_quantizer=q(4))
    layer(keras.Input((5,)))
    # Small but non-zero floats are all quantized to zero (LSB 1/8, threshold 1/16).
    layer.kernel.assign(np.full((5, 4), 0.05, "float32"))
    tensors = hc.weight_tensors(layer)
    assert np.count_nonzero(layer.kernel.numpy()) == 20
    assert hc.quantized_sparsity(tensors) == 1.0


def test_zero_threshold_is_half_an_lsb():
    assert hc.zero_threshold(q(4)) == 0.0625
    assert hc.zero_threshold(q(8)) == 2.0**-8
    assert hc.zero_threshold(quantized_bits(4, 0, keep_negative=False, alpha=1)) == 2.0**-5
    assert hc.zero_threshold(quantized_bits(4, 0, alpha="auto")) == 0.0
    assert hc.zero_threshold(None) == 0.0


def test_surrogate_gradient_pushes_weights_towards_zero():
    layer = QDense(3, kernel_quantizer=q(4))
    layer(keras.Input((4,)))
    fill_values = np.linspace(-0.4, 0.4, 12).reshape(4, 3).astype("float32")
    layer.kernel.assign(fill_values)
    tensors = hc.weight_tensors(layer)
    with tf.GradientTape() as tape:
        sparsity = hc.quantized_sparsity_tf(tensors)
    gradient = tape.gradient(sparsity, layer.kernel).numpy()
    assert float(sparsity) == pytest.approx(hc.quantized_sparsity(tensors))
    # More sparsity wants every |w| smaller: the gradient has the sign of -w.
    assert np.all(gradient * fill_values < 0)


def test_bops_match_hand_computation():
    model = small_cnn()
    fill(model, seed=1)
    # Output positions: conv 4x4, separable 2x2, dense 1.
    conv_k = model.get_layer("conv").kernel.numpy()  # (3, 3, 2, 3)
    depthwise = model.get_layer("sep").depthwise_kernel.numpy()  # (3, 3, 3, 1)
    pointwise = model.get_layer("sep").pointwise_kernel.numpy()  # (1, 1, 3, 4)
    dense_k = model.get_layer("dense").kernel.numpy()  # (16, 2)

    def term(macs, fan_in, b_a, b_w, zeros, size):
        f_p = zeros / size
        return macs * ((1 - f_p) * b_a * b_w + b_a + b_w + math.log2(fan_in))

    expected = [
        # conv: input from the 6-bit ADC; 16 positions x 54 weights; fan-in 3·3·2
        ("conv", "kernel", 16 * 54, 18, 6, 4, numpy_zeros(conv_k, 4), 54),
        # depthwise: input from relu(5); 4 positions x 27 weights; fan-in 3·3
        ("sep", "depthwise", 4 * 27, 9, 5, 3, numpy_zeros(depthwise, 3), 27),
        # pointwise: unquantized depthwise output (16 bits); fan-in 3
        ("sep", "pointwise", 4 * 12, 3, 16, 5, numpy_zeros(pointwise, 5), 12),
        # dense: Flatten passes the unquantized separable output (16 bits); fan-in 16
        ("dense", "kernel", 32, 16, 16, 8, numpy_zeros(dense_k, 8), 32),
    ]
    groups = hc.mac_groups(model)
    assert [
        (g.layer, g.role, g.macs, g.fan_in, g.activation_bits, g.weight_bits) for g in groups
    ] == [row[:6] for row in expected]
    total = sum(term(*row[2:]) for row in expected)
    assert hc.bops(model) == pytest.approx(total)
    assert float(hc.bops_tf(groups)) == pytest.approx(total, rel=1e-6)
    fixed = sum(macs * (b_a + b_w + math.log2(n)) for _, _, macs, n, b_a, b_w, _, _ in expected)
    assert hc.minimum_bops(model) == pytest.approx(fixed)
    report = hc.hardware_report(model)
    assert report["bops"] == pytest.approx(total)
    assert report["macs"] == 16 * 54 + 4 * 27 + 4 * 12 + 32
    assert set(report["layers"]) == {"conv", "sep", "dense"}


def test_activation_bits_follow_the_graph_not_the_layer_order():
    # Two branches; the layer list order differs from the data flow into "late".
    inputs = keras.Input((4,))
    a = QActivation(q(3), name="three_bits")(inputs)
    b = QDense(5, kernel_quantizer=q(4), activation=quantized_relu(7), name="early")(inputs)
    late = QDense(2, kernel_quantizer=q(4), name="late")(a)
    other = QDense(2, kernel_quantizer=q(4), name="other")(b)
    model = keras.Model(inputs, keras.layers.Add()([late, other]))
    bits = {g.layer: g.activation_bits for g in hc.mac_groups(model, default_bits=12)}
    assert bits == {"early": 12, "late": 3, "other": 7}
