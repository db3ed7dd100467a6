"""The da4ml trace of each layer handler against QKeras, and the rounding and mean it
rests on. The traced logic runs in da4ml's Python evaluator (no Verilog here): its C++
interpreter (``CombLogic.predict``) is wrong once a value is wider than 32 bits, as a
non-power-of-two mean's is, while the Verilog and the Python evaluator are exact."""

import numpy as np
import pytest
from da4ml.trace import FixedVariableArray, HWConfig, comb_trace
from qkeras import (
    QActivation,
    QConv1D,
    QConv2D,
    QDense,
    QSeparableConv2D,
    quantized_bits,
    quantized_relu,
    quantized_tanh,
)

from smartml.backend import keras
from smartml.errors import ExportError
from smartml.export.rtl.trace import check_alignment, exact_constants, trace_model
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.rtl.arithmetic import exact_decimals, kif, mean, quantize_to

SOURCE = FixedType(16, 6)  # every 16-bit pattern, 10 fractional bits
TARGETS = [
    FixedType(8, 3),
    FixedType(6, 2, signed=False),
    FixedType(4, 1, True, "RND_CONV", "SAT_SYM"),
    FixedType(12, 6, True, "RND_CONV", "WRAP"),
    FixedType(8, 4, True, "TRN", "SAT"),
]


def evaluate(logic, arrays: list[np.ndarray]) -> np.ndarray:
    """``logic`` on each example of ``arrays`` (flattened side by side)."""
    flat = np.concatenate([a.reshape(len(a), -1) for a in arrays], axis=1)
    return np.array([logic(row) for row in flat])


def traced(source: FixedType, shape: tuple = (1,)) -> FixedVariableArray:
    k, i, f = (np.full(shape, part) for part in kif(source))
    return FixedVariableArray.from_kif(k, i, f, hwconf=HWConfig(1, -1, -1))


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.hls())
def test_quantize_to_matches_qkeras_rounding_on_every_16_bit_input(target):
    x = traced(SOURCE)
    logic = comb_trace(x, quantize_to(x, target))
    values = np.arange(-(2**15), 2**15) * SOURCE.lsb
    np.testing.assert_array_equal(evaluate(logic, [values])[:, 0], target.quantize(values))


def test_half_up_rounding_alone_differs_on_ties():
    """Why the emulation is needed: da4ml's own rounding sends every tie up."""
    x = traced(SOURCE)
    k, i, f = kif(TARGETS[0])
    logic = comb_trace(x, x.quantize(k, i, f, "SAT", "RND"))
    values = np.arange(-(2**15), 2**15) * SOURCE.lsb
    differ = evaluate(logic, [values])[:, 0] != TARGETS[0].quantize(values)
    ties = values / TARGETS[0].lsb % 1 == 0.5
    assert differ.any() and ties[differ].all()


@pytest.mark.parametrize("count", [3, 9, 12, 16])
@pytest.mark.parametrize("signed", [False, True])
def test_mean_then_quantizer_rounds_as_the_exact_mean(count, signed):
    """Every sum of ``count`` values on a 2^-5 grid: ties of the quantizer included."""
    source = FixedType(8, 3, signed=signed)
    total_type = FixedType.covering(count * source.max_abs, source.fractional, signed=signed)
    x = traced(total_type)
    after = FixedType(8, 3, signed=signed)
    logic = comb_trace(x, quantize_to(mean(x, count), after))
    sums = np.arange(count * source.min, count * source.max + source.lsb, source.lsb)
    np.testing.assert_array_equal(evaluate(logic, [sums])[:, 0], after.quantize(sums / count))


def q(bits: int, integer: int = 0) -> quantized_bits:
    return quantized_bits(bits, integer, alpha=1)


def kernel_options(bits: int = 6) -> dict:
    return {"kernel_quantizer": q(bits), "bias_quantizer": q(bits)}


def dense(shape):
    inputs = keras.Input(shape, name="x")
    return inputs, QDense(5, **kernel_options(), name="layer")(inputs)


def conv1d(shape=(9, 3)):
    inputs = keras.Input(shape, name="x")
    x = QConv1D(4, 3, strides=2, padding="same", **kernel_options(), name="layer")(inputs)
    return inputs, x


def conv2d(padding):
    inputs = keras.Input((5, 6, 2), name="x")
    return inputs, QConv2D(3, (3, 2), padding=padding, **kernel_options(), name="layer")(inputs)


def separable():
    inputs = keras.Input((5, 6, 2), name="x")
    x = QSeparableConv2D(
        3,
        3,
        depth_multiplier=2,
        depthwise_quantizer=q(4),
        pointwise_quantizer=q(4),
        bias_quantizer=q(4),
        name="layer",
    )(inputs)
    return inputs, x


def activation(quantizer):
    inputs = keras.Input((7,), name="x")
    return inputs, QActivation(quantizer, name="layer")(inputs)


def pooling(layer, shape, after=None):
    inputs = keras.Input(shape, name="x")
    x = layer(inputs)
    return inputs, QActivation(after, name="after")(x) if after else x


def two_inputs(merge, second_shape=(6,)):
    a = keras.Input((6,), name="a")
    b = keras.Input(second_shape, name="b")
    return [a, b], merge([a, b])


CASES = {
    "QDense": lambda: dense((6,)),
    "QDense per point": lambda: dense((7, 3)),
    "QConv1D same stride 2": conv1d,
    "QConv2D valid": lambda: conv2d("valid"),
    "QConv2D same": lambda: conv2d("same"),
    "QSeparableConv2D": separable,
    "quantized_bits": lambda: activation(q(6, 2)),
    "quantized_relu": lambda: activation(quantized_relu(6, 2)),
    "quantized_tanh": lambda: activation(quantized_tanh(4)),
    "MaxPooling2D": lambda: pooling(keras.layers.MaxPooling2D(2), (4, 6, 2)),
    "AveragePooling2D 2x2": lambda: pooling(keras.layers.AveragePooling2D(2), (4, 6, 2)),
    "AveragePooling2D 3x3": lambda: pooling(
        keras.layers.AveragePooling2D(3), (6, 6, 2), after=q(8, 2)
    ),
    "GlobalMaxPooling1D": lambda: pooling(keras.layers.GlobalMaxPooling1D(), (7, 3)),
    "GlobalAveragePooling1D 8": lambda: pooling(keras.layers.GlobalAveragePooling1D(), (8, 3)),
    "GlobalAveragePooling1D 12": lambda: pooling(
        keras.layers.GlobalAveragePooling1D(), (12, 3), after=quantized_relu(8, 3)
    ),
    "Flatten": lambda: pooling(keras.layers.Flatten(), (3, 2, 2)),
    "Reshape": lambda: pooling(keras.layers.Reshape((4, 3)), (12,)),
    "Concatenate": lambda: two_inputs(keras.layers.Concatenate(), (2,)),
    "Add": lambda: two_inputs(keras.layers.Add()),
    "Multiply": lambda: two_inputs(keras.layers.Multiply()),
}


@pytest.mark.parametrize("case", CASES)
def test_each_handler_traces_what_qkeras_computes(case):
    keras.utils.set_random_seed(3)
    inputs, outputs = CASES[case]()
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    fixed = FixedType(8, 3)
    arrays = [fixed.quantize(rng.normal(0, 2, (300, *tensor.shape[1:]))) for tensor in model.inputs]
    traced_model = trace_model(model, {tensor.name.split(":")[0]: fixed for tensor in model.inputs})
    reference = model.predict([a.astype("float32") for a in arrays], verbose=0)
    firmware = evaluate(traced_model.logic, arrays)
    np.testing.assert_array_equal(firmware, reference.reshape(len(firmware), -1))


def test_a_dilated_convolution_is_refused_in_one_line_naming_it():
    inputs = keras.Input((9, 2), name="x")
    outputs = QConv1D(2, 2, dilation_rate=2, **kernel_options(), name="dilated")(inputs)
    with pytest.raises(ExportError, match=r"^layer 'dilated': dilation_rate \(2,\) has no RTL"):
        trace_model(keras.Model(inputs, outputs), {"x": FixedType(8, 3)})


def at_scale(shift: int, fixed: FixedType) -> tuple[FixedVariableArray, FixedVariableArray]:
    """A da4ml input of ``fixed``'s values times ``2^shift`` and the same values at
    da4ml's scale ``2^-shift`` (no logic): what a non-power-of-two mean leaves
    downstream (its constant ``2^-P``, ``P`` ≈ 40, times the weights' shifts)."""
    scale = 2.0**shift
    low, high, step = (np.array([v * scale]) for v in (fixed.min, fixed.max, fixed.lsb))
    raw = FixedVariableArray.from_lhs(low, high, step, HWConfig(1, -1, -1))
    return raw, raw * 2.0**-shift


def test_a_bias_added_at_scale_2_to_the_minus_44_is_exact():
    """da4ml 0.6 keeps scales as decimals; Python's default 28 digits round ``2^-44``,
    so the bias ``-59/128``, ``-7552`` unscaled steps of ``2^30``, came out as
    ``-7551.99…`` and was truncated to ``-7551``: one LSB ``2^-14`` (the pixel MDN's
    ``dense_0`` after average pooling 3x3)."""
    source = FixedType(18, 4)  # dense_0's exact accumulator: 7 + 7 fractional bits
    values = np.arange(-(2**17), 2**17, 97) * source.lsb
    with exact_decimals():
        raw, x = at_scale(44, source)
        logic = comb_trace(raw, x - 0.4609375)
    np.testing.assert_array_equal(evaluate(logic, [values * 2.0**44])[:, 0], values - 0.4609375)
    # what the workaround is for: da4ml 0.6 in the default decimal context
    raw, x = at_scale(44, source)
    unexact = comb_trace(raw, x - 0.4609375)
    assert evaluate(unexact, [values[:1] * 2.0**44])[0, 0] != values[0] - 0.4609375


def test_a_saturation_at_scale_2_to_the_minus_40_gets_its_constants_on_their_step():
    """da4ml 0.6 gives the constant ``-1.0`` (``-2^40`` unscaled) the step ``2^31``,
    finer than the multiplexer's output: its Verilog would give ``0`` for ``-1.0``
    (simulated in test_export_rtl). :func:`exact_constants` gives it ``2^40``."""
    target = FixedType(8, 1)
    with exact_decimals():
        raw, x = at_scale(40, FixedType(18, 4))
        logic = comb_trace(raw, quantize_to(x, target))
    with pytest.raises(ExportError, match=r"^internal: da4ml's Verilog would misplace"):
        check_alignment(logic)
    fixed = exact_constants(logic)
    check_alignment(fixed)
    values = np.arange(-(2**17), 2**17, 61) * FixedType(18, 4).lsb
    np.testing.assert_array_equal(
        evaluate(fixed, [values * 2.0**40])[:, 0], target.quantize(values)
    )
