"""The float counterpart of QKeras' ``quantized_tanh``: its values before rounding."""

from __future__ import annotations

from smartml.backend import keras, tf


@keras.utils.register_keras_serializable(package="smartml")
class HardTanh(keras.layers.Layer):
    """``clip(x, -1, 1)``: QKeras' (hard) ``quantized_tanh`` without the rounding to
    its bits, so a float network built with it has the quantized network's shape of
    activation and can start its quantization-aware training
    (``training.initial_weights``).

    Input shape: any. Output shape: the input's.

    >>> HardTanh()(tf.constant([-2.0, -0.25, 0.5, 3.0])).numpy().tolist()
    [-1.0, -0.25, 0.5, 1.0]
    """

    def call(self, inputs):
        return tf.clip_by_value(inputs, -1.0, 1.0)

    def compute_output_shape(self, input_shape):
        return input_shape
