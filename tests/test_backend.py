"""The Keras 2 switch: set in one place, before TensorFlow, and QKeras layers build."""

import subprocess
import sys

import numpy as np


def run_python(code: str) -> subprocess.CompletedProcess:
    env_free = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env_free, timeout=300
    )


def test_importing_smartml_selects_keras_2_and_qkeras_builds():
    result = run_python(
        "import smartml.backend as b, qkeras, tf_keras\n"
        "assert b.tf.keras.layers.Dense is tf_keras.layers.Dense\n"
        "x = b.keras.Input((4,))\n"
        "y = qkeras.QDense(3, kernel_quantizer=qkeras.quantized_bits(4, 0, alpha=1))(x)\n"
        "print(b.keras.__version__, b.keras.Model(x, y).count_params())\n"
    )
    assert result.returncode == 0, result.stderr
    version, params = result.stdout.split()
    assert version.startswith("2.") and params == "15"


def test_tensorflow_imported_first_is_reported_clearly():
    result = run_python("import tensorflow as tf; tf.keras.layers; import smartml.backend")
    assert result.returncode != 0
    assert (
        "import smartml (or set TF_USE_LEGACY_KERAS=1) before importing tensorflow" in result.stderr
    )


def test_quantized_layer_weights_are_quantized():
    from qkeras import QDense, quantized_bits

    from smartml.backend import keras

    layer = QDense(2, kernel_quantizer=quantized_bits(4, 0, alpha=1))
    keras.Sequential([keras.Input((3,)), layer])
    kernel = layer.kernel_quantizer_internal(layer.kernel).numpy()
    np.testing.assert_array_equal(kernel * 8, np.round(kernel * 8))  # 4 bits, 3 fractional
