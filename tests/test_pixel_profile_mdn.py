"""The profile MDN: row and column charge means into quantized Dense layers, per-layer
weight formats, its float twin, saved and reloaded."""

import numpy as np
import pytest
from pixel_files import TARGET_UNITS, TARGETS
from pydantic import ValidationError
from qkeras import QDense

from smartml.hardware import cost
from smartml.models.pixel_profile_mdn.builder import PixelProfileMDN
from smartml.models.pixel_profile_mdn.schema import PixelProfileMDNConfig
from smartml.models.saved import load_model
from smartml.outputs.gaussian_mdn import GaussianMDN
from smartml.tasks.base import InputSpec


def build(input_shape=(13, 21, 2), **settings):
    image = {"pixels": InputSpec("pixels", input_shape)}
    return PixelProfileMDN.build(
        PixelProfileMDNConfig(**settings), image, GaussianMDN(TARGETS, TARGET_UNITS)
    )


def clusters(n=16, shape=(13, 21, 2), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    charge = rng.exponential(1.0, (n, *shape)) * (rng.random((n, *shape)) < 0.2)
    return charge.astype(np.float32)


def profiles_of(model, x):
    from smartml.backend import keras

    return keras.Model(model.input, model.get_layer("profiles").output)(x).numpy()


def test_profiles_are_the_column_then_row_means_of_each_slice():
    x = clusters()
    expected = np.concatenate(
        [x.mean(axis=1).reshape(len(x), -1), x.mean(axis=2).reshape(len(x), -1)], axis=1
    )
    np.testing.assert_allclose(profiles_of(build(quantized=False), x), expected, rtol=1e-6)
    quantized = profiles_of(build(), x)  # ufixed<12,3>: 9 fractional bits
    np.testing.assert_array_equal(quantized * 512, np.round(quantized * 512))
    np.testing.assert_allclose(quantized, expected, atol=0.5 / 512 + 1e-7)


def test_parameters_and_twenty_slices():
    model = build()
    counts = [layer.count_params() for layer in model.layers if layer.count_params()]
    assert counts == [68 * 48 + 48, 48 * 48 + 48, 48 * 14 + 14]
    assert model.output_shape == (None, 14)
    assert build(input_shape=(13, 21, 20)).get_layer("profiles").output_shape == (None, 680)


def test_each_dense_layer_takes_its_own_weight_format():
    formats = [{"bits": 4}, {"bits": 6}, {"bits": 8, "integer": 1}]
    model = build(hidden_units=[16, 16], dense_weights=formats)
    steps = {}
    for layer in model.layers:
        if isinstance(layer, QDense):
            quantizer = layer.kernel_quantizer_internal
            steps[layer.name] = (quantizer.bits, quantizer.integer)
    assert steps == {"dense_0": (4, 0), "dense_1": (6, 0), "gaussian_params": (8, 1)}
    bits = {group.layer: group.weight_bits for group in cost.mac_groups(model)}
    assert bits == {"dense_0": 4, "dense_1": 6, "gaussian_params": 8}
    dense = model.get_layer("dense_0")
    kernel = dense.kernel_quantizer_internal(dense.kernel).numpy()
    np.testing.assert_array_equal(kernel * 8, np.round(kernel * 8))  # 3 fractional bits


def test_a_weight_format_list_of_the_wrong_length_names_the_key():
    with pytest.raises(ValidationError, match=r"dense_weights: 2 formats for 3 QDense layers"):
        PixelProfileMDNConfig(hidden_units=[8, 8], dense_weights=[{"bits": 4}, {"bits": 4}])


@pytest.mark.parametrize(
    "settings",
    [{"hidden_units": []}, {"hidden_units": [0]}, {"dense_activation_bits": 1}, {"profil": {}}],
)
def test_bad_settings_are_rejected(settings):
    with pytest.raises(ValidationError):
        PixelProfileMDNConfig(**settings)


def test_float_twin_has_the_same_weights_and_starts_the_quantized_network():
    twin, quantized = build(quantized=False), build()
    assert [w.name for w in twin.weights] == [w.name for w in quantized.weights]
    assert not any(isinstance(layer, QDense) for layer in twin.layers)
    rng = np.random.default_rng(1)
    weights = [rng.normal(0, 0.1, w.shape).astype(np.float32) for w in twin.get_weights()]
    twin.set_weights(weights)
    wide = build(
        profile_output={"bits": 24, "integer": 3, "signed": False},
        dense_weights={"bits": 16, "integer": 0},
        dense_activation_bits=16,
    )
    wide.set_weights(weights)
    x = clusters()
    np.testing.assert_allclose(wide(x).numpy(), twin(x).numpy(), atol=2e-3)
    assert PixelProfileMDN.export_refusal(PixelProfileMDNConfig(quantized=False)) is not None


def test_default_costs_fewer_bops_than_the_seed_model():
    from pixel_files import pixel_model

    profile, seed = cost.bops(build()), cost.bops(pixel_model())
    assert 0.2e6 < profile < 0.8e6 and profile < seed
    # the averages multiply nothing: only the three Dense layers have MACs
    assert [group.layer for group in cost.mac_groups(build())] == [
        "dense_0",
        "dense_1",
        "gaussian_params",
    ]


def test_saved_model_loads_and_predicts_identically(tmp_path):
    model = build(dense_weights=[{"bits": 4}, {"bits": 6}, {"bits": 8}])
    x = clusters(8)
    model.save(tmp_path / "model.h5")
    loaded = load_model(tmp_path / "model.h5")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
