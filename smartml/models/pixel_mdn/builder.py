"""The quantized Mixture Density Network of the smart-pixels design.

Default architecture (input (13, 21, T), T time slices)::

    [QActivation(input quantizer)]            optional: the sensor's ADC
    QSeparableConv2D(5, 3x3, 4-bit)  -> QActivation(quantized_tanh(4))
    QConv2D(5, 1x1, 4-bit)           -> QActivation(quantized_tanh(4))
    AveragePooling2D(3)              -> QActivation(quantized_bits(8))
    Flatten
    QDense(16, 8-bit)                -> QActivation(quantized_tanh(8))
    QDense(16, 8-bit)                -> QActivation(quantized_tanh(8))
    QDense(14, 8-bit)                   the Gaussian's parameters (see smartml.losses)

For T = 2 it has 2029 parameters (33, 30, 1456, 272, 238). Every weight and bias
quantizer is ``quantized_bits(bits, integer, alpha=1)``: fixed point with the stated
number of bits and integer bits, no per-channel scale, so the firmware can use the
values exactly as trained.

``quantized: false`` builds its float twin: the same layers, weights and names without
quantizers (``HardTanh``, ``clip(x, -1, 1)``, for each ``quantized_tanh``; no pool
quantizer). It measures what quantizing costs, and its trained weights start the
quantized network's training (float pretraining, then quantization-aware training
from ``training.initial_weights``).

>>> from smartml.models.pixel_mdn.builder import PixelMDN
>>> from smartml.models.pixel_mdn.schema import PixelMDNConfig
>>> from smartml.outputs.gaussian_mdn import GaussianMDN
>>> from smartml.tasks.base import InputSpec
>>> model = PixelMDN.build(PixelMDNConfig(), {"pixels": InputSpec("pixels", (13, 21, 2))},
...                        GaussianMDN(["x", "y", "cot_alpha", "cot_beta"], ["", "", "", ""]))
>>> model.count_params()
2029
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qkeras import QActivation, QConv2D, QDense, QSeparableConv2D

from smartml.backend import keras
from smartml.config.common import FixedPoint
from smartml.models.contract import model_builder
from smartml.models.image_input import single_image
from smartml.models.pixel_mdn.schema import PixelMDNConfig
from smartml.models.quantizers import FLOAT_TWIN_REFUSAL, hard_tanh, quantized_bits_of
from smartml.models.regularizers import activity_regularizer, kernel_regularizer

if TYPE_CHECKING:
    from smartml.outputs.base import OutputKind
    from smartml.tasks.base import InputSpec


@model_builder
class PixelMDN:
    """Builder of the smart-pixel MDN (registered as ``pixel_mdn``)."""

    exportable = True

    @staticmethod
    def export_refusal(config: PixelMDNConfig) -> str | None:
        """Why this configuration has no bit-exact firmware form; None when it has.

        >>> PixelMDN.export_refusal(PixelMDNConfig()) is None
        True
        >>> PixelMDN.export_refusal(PixelMDNConfig(quantized=False))
        'it is the float twin (quantized: false): train the quantized model from its weights'
        """
        if not config.quantized:
            return FLOAT_TWIN_REFUSAL
        return None

    @staticmethod
    def build(
        config: PixelMDNConfig, inputs: dict[str, InputSpec], output: OutputKind
    ) -> keras.Model:
        """Args:
            config: the ``model`` section.
            inputs: one image input, (13, 21, T).
            output: its ``n_outputs`` is the last layer's size (14 for the 4-target
                Gaussian).

        Returns:
            an uncompiled functional ``keras.Model``.
        """
        image = single_image(inputs, "pixel_mdn")
        layers = _Layers(config)
        tensor = keras.Input(shape=image.shape, name=image.name)
        x = tensor
        if config.input_quantizer is not None:  # the sensor's ADC: data, float or not
            x = QActivation(quantized_bits_of(config.input_quantizer), name="input_quantizer")(x)
        x = layers.separable_conv()(x)
        x = layers.tanh(config.conv_activation_bits, "separable_conv_tanh")(x)
        x = layers.pointwise_conv()(x)
        x = layers.tanh(config.conv_activation_bits, "pointwise_conv_tanh")(x)
        x = keras.layers.AveragePooling2D(config.pool_size, name="pool")(x)
        if config.quantized:
            x = QActivation(quantized_bits_of(config.pool_output), name="pool_quantizer")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        for index, units in enumerate(config.hidden_units):
            x = layers.dense(units, f"dense_{index}")(x)
            x = layers.tanh(config.dense_activation_bits, f"dense_{index}_tanh")(x)
        outputs = layers.dense(output.n_outputs, "gaussian_params")(x)
        return keras.Model(tensor, outputs, name="pixel_mdn")


class _Layers:
    """The layers of one configuration, quantized or (``quantized: false``) their float
    twins: the same weights under the same names, so either starts the other."""

    def __init__(self, config: PixelMDNConfig) -> None:
        self.config = config
        self.penalties = config.regularization

    def _quantizers(self, fixed: FixedPoint, *arguments: str) -> dict:
        if not self.config.quantized:
            return {}
        return {argument: quantized_bits_of(fixed) for argument in arguments}

    def separable_conv(self) -> keras.layers.Layer:
        config, penalties = self.config, self.penalties
        options = {
            "depthwise_regularizer": kernel_regularizer(penalties),
            "pointwise_regularizer": kernel_regularizer(penalties),
            "activity_regularizer": activity_regularizer(penalties),
            "name": "separable_conv",
            **self._quantizers(
                config.conv_weights, "depthwise_quantizer", "pointwise_quantizer", "bias_quantizer"
            ),
        }
        layer = QSeparableConv2D if config.quantized else keras.layers.SeparableConv2D
        return layer(config.filters, config.kernel_size, **options)

    def pointwise_conv(self) -> keras.layers.Layer:
        config = self.config
        options = {
            **self._regularized("pointwise_conv"),
            **self._quantizers(config.conv_weights, "kernel_quantizer", "bias_quantizer"),
        }
        layer = QConv2D if config.quantized else keras.layers.Conv2D
        return layer(config.filters, 1, **options)

    def dense(self, units: int, name: str) -> keras.layers.Layer:
        options = {
            **self._regularized(name),
            **self._quantizers(self.config.dense_weights, "kernel_quantizer", "bias_quantizer"),
        }
        layer = QDense if self.config.quantized else keras.layers.Dense
        return layer(units, **options)

    def tanh(self, bits: int, name: str) -> keras.layers.Layer:
        return hard_tanh(bits, self.config.quantized, name)

    def _regularized(self, name: str) -> dict:
        return {
            "kernel_regularizer": kernel_regularizer(self.penalties),
            "activity_regularizer": activity_regularizer(self.penalties),
            "name": name,
        }
