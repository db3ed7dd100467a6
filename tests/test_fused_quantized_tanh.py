"""FusedQuantizedTanh: QKeras' quantized_tanh values and gradients, bit for bit."""

import json

import h5py
import numpy as np
import pytest
from qkeras import QActivation, quantized_tanh
from qkeras.utils import load_qmodel

from smartml.backend import keras, tf
from smartml.layers.fused_quantized_tanh import FusedQuantizedTanh


def inputs() -> tf.Tensor:
    """Random values plus every clip and rounding boundary of 4 and 8 bits."""
    random = np.random.default_rng(0).normal(0.0, 1.5, 20_000)
    steps = np.concatenate([np.arange(-129, 130) / 128.0, np.arange(-9, 10) / 8.0])
    edges = np.concatenate([steps, steps + 1 / 256.0, steps - 1 / 256.0, [-1.0, 1.0, 0.0]])
    return tf.constant(np.concatenate([random, edges]).astype(np.float32))


def value_and_gradient(quantizer, x: tf.Tensor) -> tuple[np.ndarray, np.ndarray]:
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = quantizer(x)
    upstream = 2.0 + tf.cos(3.0 * x)  # an incoming gradient that differs per value
    return y.numpy(), tape.gradient(y, x, output_gradients=upstream).numpy()


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("symmetric", [False, True])
def test_values_and_gradients_equal_qkeras(bits, symmetric):
    x = inputs()
    fused = value_and_gradient(FusedQuantizedTanh(bits, symmetric=symmetric), x)
    qkeras = value_and_gradient(quantized_tanh(bits, symmetric=symmetric), x)
    np.testing.assert_array_equal(fused[0], qkeras[0])
    np.testing.assert_array_equal(fused[1], qkeras[1])
    assert 0 < np.count_nonzero(fused[1] == 0) < len(fused[1])  # clipped and passing values


def test_settings_it_does_not_fuse_fall_back_to_qkeras():
    x = inputs()
    for settings in ({"use_real_tanh": True}, {"use_stochastic_rounding": True}):
        tf.random.set_seed(1)
        fused = FusedQuantizedTanh(4, **settings)(x).numpy()
        tf.random.set_seed(1)
        np.testing.assert_array_equal(fused, quantized_tanh(4, **settings)(x).numpy())


def test_a_saved_model_holds_a_plain_quantized_tanh(tmp_path):
    image = keras.Input((6,))
    model = keras.Model(image, QActivation(FusedQuantizedTanh(4), name="tanh")(image))
    model.save(tmp_path / "model.h5")
    with h5py.File(tmp_path / "model.h5") as saved:
        config = json.loads(saved.attrs["model_config"])
    activation = config["config"]["layers"][1]["config"]["activation"]
    assert activation["class_name"] == "quantized_tanh"
    loaded = load_qmodel(str(tmp_path / "model.h5"))
    assert type(loaded.get_layer("tanh").activation) is quantized_tanh
    x = np.linspace(-2, 2, 60, dtype=np.float32).reshape(10, 6)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("bits", [4, 8])
def test_hard_tanh_is_quantized_tanh_before_rounding(bits):
    from smartml.layers.hard_tanh import HardTanh

    x = tf.constant(np.linspace(-3, 3, 601, dtype=np.float32))
    lsb = 2.0 ** (1 - bits)
    gap = np.abs(HardTanh()(x).numpy() - quantized_tanh(bits)(x).numpy())
    assert gap.max() <= lsb  # rounding (half an LSB) and the top code 1 - LSB
