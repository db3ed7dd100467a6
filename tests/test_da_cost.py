"""The distributed-arithmetic LUT predictor: its digit counts, its agreement with
da4ml on kernels it was not fitted to, and its tf form (value and gradient)."""

import numpy as np
import pytest
from qkeras import QActivation, QConv2D, QDense, QSeparableConv2D, quantized_bits, quantized_relu

from smartml.backend import keras, tf
from smartml.hardware import cost as hc
from smartml.hardware import da_cost
from smartml.hardware.resource_estimate import csd_digits


def q(bits, integer=0):
    return quantized_bits(bits, integer, alpha=1)


def da4ml_cost(kernel: np.ndarray, kif: tuple[int, int, int], bias=None) -> float:
    """da4ml's cost of ``x·kernel (+ bias)`` as hls4ml's DA pass solves it."""
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    k, i, f = (np.full(kernel.shape[0], v) for v in kif)
    options = {"hard_dc": 2, "search_all_decompose_dc": True}
    inputs = FixedVariableArray.from_kif(k, i, f, HWConfig(1, -1, -1), solver_options=options)
    outputs = inputs @ kernel
    return float(comb_trace(inputs, outputs if bias is None else outputs + bias).cost)


def test_csd_digits_agree_with_the_analytic_models_count():
    codes = np.arange(-300, 301)
    assert da_cost.csd_digits(codes).tolist() == [csd_digits(c) for c in codes]


def test_integer_codes_drop_the_common_power_of_two():
    assert da_cost.integer_codes(np.array([[0.75, -0.25], [0.0, 0.5]])).tolist() == [
        [3, -1],
        [0, 2],
    ]
    assert da_cost.integer_codes(np.zeros((2, 2))).tolist() == [[0, 0], [0, 0]]
    with pytest.raises(ValueError, match="not quantized"):
        da_cost.integer_codes(np.array([0.1]))


def test_a_zero_kernel_costs_nothing_and_the_scale_of_the_weights_does_not_matter():
    assert da_cost.da_luts(np.zeros((8, 4)), 8) == 0.0
    kernel = np.random.default_rng(0).integers(-7, 8, size=(8, 4)) / 8
    assert da_cost.da_luts(kernel, 8) == pytest.approx(da_cost.da_luts(kernel * 4, 8))


def test_depthwise_kernels_are_one_block_per_channel():
    kernel = np.random.default_rng(1).integers(-3, 4, size=(3, 3, 2, 1)) / 4
    blocks = da_cost.kernel_blocks(kernel, "depthwise")
    assert blocks.shape == (2, 9, 1)
    assert np.array_equal(blocks[1, :, 0], kernel[:, :, 1, 0].ravel())
    expected = sum(da_cost.da_luts(kernel[:, :, c, :].reshape(9, 1), 6) for c in range(2))
    assert da_cost.da_luts(kernel, 6, role="depthwise") == pytest.approx(expected)


@pytest.mark.parametrize(
    ("shape", "bits", "zeros", "kif"),
    [((16, 16), 8, 0.0, (1, 3, 4)), ((24, 12), 6, 0.5, (0, 2, 6)), ((32, 8), 4, 0.2, (1, 5, 10))],
)
def test_prediction_is_within_25_percent_of_da4ml_on_unseen_kernels(shape, bits, zeros, kif):
    # seeds and shapes other than the fitting corpus' (benchmarks/cost_model.py)
    rng = np.random.default_rng(123)
    top = 2 ** (bits - 1) - 1
    codes = np.clip(np.rint(rng.normal(0, top / 2.5, size=shape)), -top, top)
    codes[rng.random(shape) < zeros] = 0
    kernel = codes / 2 ** (bits - 1)
    bias = rng.integers(-100, 100, size=shape[1]) / 128
    actual = da4ml_cost(kernel, kif, bias)
    assert da_cost.da_luts(kernel, sum(kif), bias) == pytest.approx(actual, rel=0.25)


def small_model() -> keras.Model:
    """ADC(8) -> QConv2D(4 bits) -> relu -> QSeparableConv2D -> Flatten -> QDense(8 bits)."""
    inputs = keras.Input((6, 6, 2))
    x = QActivation(q(8, 3), name="adc")(inputs)
    x = QConv2D(3, 3, kernel_quantizer=q(4), bias_quantizer=q(4), name="conv")(x)
    x = QActivation(quantized_relu(5), name="relu")(x)
    x = QSeparableConv2D(
        4, 3, depthwise_quantizer=q(3), pointwise_quantizer=q(5), bias_quantizer=q(5), name="sep"
    )(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = QDense(3, kernel_quantizer=q(8), bias_quantizer=q(8), name="dense")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    for variable in model.weights:
        variable.assign(rng.uniform(-0.4, 0.4, size=variable.shape).astype("float32"))
    return model


def test_report_has_the_luts_of_every_layer_with_its_input_width():
    model = small_model()
    report = hc.hardware_report(model)
    conv = model.get_layer("conv")
    kernel = np.asarray(conv.kernel_quantizer_internal(conv.kernel))
    bias = np.asarray(conv.bias_quantizer_internal(conv.bias))
    assert report["layers"]["conv"]["luts"] == round(da_cost.da_luts(kernel, 8, bias))
    assert report["luts"] == pytest.approx(sum(e["luts"] for e in report["layers"].values()), abs=2)
    assert report["luts"] == round(hc.luts(model))


@pytest.mark.parametrize("temperature", [1e-6, 0.5, 2.0])
def test_tf_value_is_the_numpy_prediction_at_any_temperature(temperature):
    model = small_model()
    groups = hc.mac_groups(model)
    assert float(hc.luts_tf(groups, temperature)) == pytest.approx(hc.luts(groups), rel=1e-5)
    for group in groups:  # kernel by kernel too (depthwise blocks, biases)
        assert float(hc.luts_tf([group], temperature)) == pytest.approx(
            hc.group_luts(group), rel=1e-5
        )


def test_tf_gradient_shrinks_the_weights():
    model = small_model()
    groups = hc.mac_groups(model)
    with tf.GradientTape() as tape:
        value = hc.luts_tf(groups)
    variables = [g.weights.variable for g in groups]
    for variable, gradient in zip(variables, tape.gradient(value, variables), strict=True):
        weights, gradient = variable.numpy(), np.asarray(gradient)
        # descending the LUTs moves every weight towards zero
        assert np.mean(np.sign(gradient) == np.sign(weights)) > 0.95, variable.name
    dense = model.get_layer("dense").kernel
    before = hc.luts(groups)
    with tf.GradientTape() as tape:
        value = hc.luts_tf(groups)
    step = tape.gradient(value, dense)
    dense.assign_sub(0.05 * tf.sign(step))
    assert hc.luts(groups) < before


def test_unquantized_kernels_are_costed_at_their_weight_bits():
    inputs = keras.Input((4,))
    outputs = QDense(3, name="plain")(QActivation(q(6), name="adc")(inputs))
    model = keras.Model(inputs, outputs)
    model.get_layer("plain").kernel.assign(np.full((4, 3), 1e-3, dtype="float32") * np.pi)
    (group,) = hc.mac_groups(model, default_bits=8)
    kernel = da_cost.fixed_point(group.weights.variable.numpy(), 8)
    assert hc.group_luts(group) == pytest.approx(da_cost.da_luts(kernel, 6))
    assert float(hc.luts_tf([group])) == pytest.approx(hc.group_luts(group), rel=1e-5)
