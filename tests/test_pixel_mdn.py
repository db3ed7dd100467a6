"""The smart-pixel MDN: the published architecture, configurable, saved and reloaded."""

import numpy as np
import pytest
from pixel_files import pixel_model
from qkeras import QActivation, QConv2D, QDense, QSeparableConv2D

from smartml.models.pixel_mdn.schema import PixelMDNConfig
from smartml.models.saved import load_model


def build(input_shape=(13, 21, 2), **settings):
    return pixel_model(input_shape, **settings)


def test_two_time_slices_has_2029_parameters_in_the_published_layers():
    model = build()
    counts = [layer.count_params() for layer in model.layers if layer.count_params()]
    assert counts == [33, 30, 1456, 272, 238]
    assert model.count_params() == 2029
    kinds = [type(layer) for layer in model.layers if layer.count_params()]
    assert kinds == [QSeparableConv2D, QConv2D, QDense, QDense, QDense]
    assert model.output_shape == (None, 14)


def test_twenty_time_slices_widen_only_the_first_layer():
    model = build(input_shape=(13, 21, 20))
    # depthwise 3x3x20 + pointwise 20x5 + 5 biases
    assert model.layers[1].count_params() == 9 * 20 + 20 * 5 + 5


def test_configuration_changes_the_model():
    assert build(filters=8).count_params() != build().count_params()
    assert build(hidden_units=[32]).layers[-1].input_shape == (None, 32)
    pooled = build(pool_size=2).get_layer("flatten").output_shape
    assert pooled == (None, 5 * 5 * 9)


def test_input_quantizer_is_the_first_layer_and_quantizes():
    model = build(input_quantizer={"bits": 4, "integer": 2, "signed": False})
    first = model.layers[1]
    assert isinstance(first, QActivation) and first.name == "input_quantizer"
    values = first(np.array([[0.1, 0.3, 1.26, 9.0]], np.float32)).numpy()
    np.testing.assert_allclose(values, [[0.0, 0.25, 1.25, 3.75]])  # LSB 0.25, saturates


def test_weights_are_quantized_to_the_configured_bits():
    model = build()
    dense = model.get_layer("dense_0")
    kernel = dense.kernel_quantizer_internal(dense.kernel).numpy()
    np.testing.assert_array_equal(kernel * 128, np.round(kernel * 128))  # 8 bits, 7 fractional


def test_saved_model_loads_and_predicts_identically(tmp_path):
    model = build()
    x = np.random.default_rng(0).random((8, 13, 21, 2)).astype(np.float32)
    model.save(tmp_path / "model.h5")
    loaded = load_model(tmp_path / "model.h5")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize(
    "settings",
    [{"filters": 0}, {"conv_weights": {"bits": 0}}, {"pool_size": -1}, {"quantized": "no"}],
)
def test_bad_settings_are_rejected(settings):
    with pytest.raises(ValueError):
        PixelMDNConfig(**settings)


def test_no_regularization_by_default():
    assert build().losses == []


def test_l1l2_baseline_regularizes_every_weight_tensor_and_activity():
    model = build(regularization={"kernel_l1": 0.01, "kernel_l2": 0.01, "activity_l2": 0.01})
    separable = model.get_layer("separable_conv")
    penalty = pytest.approx({"l1": 0.01, "l2": 0.01})
    assert separable.depthwise_regularizer.get_config() == penalty
    assert separable.pointwise_regularizer.get_config() == penalty
    for name in ("pointwise_conv", "dense_0", "dense_1", "gaussian_params"):
        layer = model.get_layer(name)
        assert layer.kernel_regularizer.get_config() == penalty, name
        assert layer.activity_regularizer.get_config()["l2"] == pytest.approx(0.01), name
    x = np.random.default_rng(1).random((4, 13, 21, 2)).astype(np.float32)
    model(x)
    # 6 weight penalties (depthwise, pointwise, 4 kernels) and 5 activity penalties
    assert len(model.losses) == 11
    dense = model.get_layer("dense_0").kernel.numpy()
    expected = 0.01 * np.abs(dense).sum() + 0.01 * np.square(dense).sum()
    penalties = [float(loss) for loss in model.get_layer("dense_0").losses]
    assert any(value == pytest.approx(expected, rel=1e-5) for value in penalties), penalties


def test_float_twin_has_the_same_weights_without_quantizers():
    quantized, twin = build(), build(quantized=False)
    assert [(w.name, w.shape) for w in twin.weights] == [
        (w.name, w.shape) for w in quantized.weights
    ]
    kinds = [type(layer).__name__ for layer in twin.layers if layer.count_params()]
    assert kinds == ["SeparableConv2D", "Conv2D", "Dense", "Dense", "Dense"]
    assert not any(isinstance(layer, QActivation) for layer in twin.layers)
    assert "pool_quantizer" not in [layer.name for layer in twin.layers]


def test_float_twin_is_the_quantized_network_before_rounding():
    # 16-bit everything: the quantized network's rounding is below 2^-7 of the twin's
    # values, and its hard tanh is the twin's clip(x, -1, 1)
    fine = {"bits": 16, "integer": 0}
    settings = {
        "conv_weights": fine,
        "dense_weights": fine,
        "pool_output": fine,
        "conv_activation_bits": 16,
        "dense_activation_bits": 16,
    }
    quantized, twin = build(**settings), build(quantized=False, **settings)
    weights = [np.round(w * 2**15) / 2**15 for w in twin.get_weights()]  # representable
    twin.set_weights(weights)
    quantized.set_weights(weights)
    x = np.random.default_rng(2).random((16, 13, 21, 2)).astype(np.float32) * 4
    expected = twin.predict(x, verbose=0)
    np.testing.assert_allclose(quantized.predict(x, verbose=0), expected, atol=2e-3)


def test_float_twin_starts_the_quantized_network(tmp_path):
    from smartml.training.trainer import load_initial_weights

    twin = build(quantized=False)
    twin.save(tmp_path / "twin.h5")
    quantized = build()
    load_initial_weights(quantized, str(tmp_path / "twin.h5"))
    for mine, theirs in zip(quantized.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_float_twin_is_refused_by_the_exporter_with_the_reason():
    from smartml.models.exportability import export_refusal

    assert export_refusal(PixelMDNConfig()) is None
    assert "float twin (quantized: false)" in export_refusal(PixelMDNConfig(quantized=False))


def test_float_twin_saves_and_loads(tmp_path):
    twin = build(quantized=False)
    x = np.random.default_rng(3).random((4, 13, 21, 2)).astype(np.float32)
    twin.save(tmp_path / "twin.h5")
    loaded = load_model(tmp_path / "twin.h5")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), twin.predict(x, verbose=0))
