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
from smartml.layers.fused_quantized_tanh import FusedQuantizedTanh
from smartml.models.contract import model_builder
from smartml.models.image_input import single_image
from smartml.models.pixel_mdn.schema import PixelMDNConfig
from smartml.models.quantizers import quantized_bits_of
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
        """None: every configuration is exportable."""
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
        n_outputs = output.n_outputs

        def conv_q():
            return quantized_bits_of(config.conv_weights)

        def dense_q():
            return quantized_bits_of(config.dense_weights)

        # QKeras' quantized_tanh, computed with fewer operations (same values and
        # gradients; saved as a plain quantized_tanh)
        def conv_tanh():
            return FusedQuantizedTanh(config.conv_activation_bits)

        def dense_tanh():
            return FusedQuantizedTanh(config.dense_activation_bits)

        penalties = config.regularization

        def regularized() -> dict:
            return {
                "kernel_regularizer": kernel_regularizer(penalties),
                "activity_regularizer": activity_regularizer(penalties),
            }

        tensor = keras.Input(shape=image.shape, name=image.name)
        x = tensor
        if config.input_quantizer is not None:
            x = QActivation(quantized_bits_of(config.input_quantizer), name="input_quantizer")(x)
        x = QSeparableConv2D(
            config.filters,
            config.kernel_size,
            depthwise_quantizer=conv_q(),
            pointwise_quantizer=conv_q(),
            bias_quantizer=conv_q(),
            depthwise_regularizer=kernel_regularizer(penalties),
            pointwise_regularizer=kernel_regularizer(penalties),
            activity_regularizer=activity_regularizer(penalties),
            name="separable_conv",
        )(x)
        x = QActivation(conv_tanh(), name="separable_conv_tanh")(x)
        x = QConv2D(
            config.filters,
            1,
            kernel_quantizer=conv_q(),
            bias_quantizer=conv_q(),
            name="pointwise_conv",
            **regularized(),
        )(x)
        x = QActivation(conv_tanh(), name="pointwise_conv_tanh")(x)
        x = keras.layers.AveragePooling2D(config.pool_size, name="pool")(x)
        x = QActivation(quantized_bits_of(config.pool_output), name="pool_quantizer")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        for index, units in enumerate(config.hidden_units):
            x = QDense(
                units,
                kernel_quantizer=dense_q(),
                bias_quantizer=dense_q(),
                name=f"dense_{index}",
                **regularized(),
            )(x)
            x = QActivation(dense_tanh(), name=f"dense_{index}_tanh")(x)
        outputs = QDense(
            n_outputs,
            kernel_quantizer=dense_q(),
            bias_quantizer=dense_q(),
            name="gaussian_params",
            **regularized(),
        )(x)
        return keras.Model(tensor, outputs, name="pixel_mdn")
