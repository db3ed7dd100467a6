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

>>> from smartml.models.pixel_mdn import PixelMDN, PixelMDNConfig
>>> model = PixelMDN.build(PixelMDNConfig(), input_shape=(13, 21, 2), n_outputs=14)
>>> model.count_params()
2029
"""

from typing import Literal

from pydantic import Field
from qkeras import QActivation, QConv2D, QDense, QSeparableConv2D, quantized_bits, quantized_tanh

from smartml.backend import keras
from smartml.config.base import ModelSection, StrictModel
from smartml.registry import MODELS


class FixedPoint(StrictModel):
    """A QKeras ``quantized_bits`` fixed-point format: ``bits`` in all, ``integer`` of
    them above the binary point (sign excluded when ``signed``)."""

    bits: int = Field(ge=1, le=32)
    integer: int = Field(0, ge=0, le=31)
    signed: bool = True

    def quantizer(self) -> quantized_bits:
        return quantized_bits(
            self.bits,
            self.integer,
            keep_negative=self.signed,
            alpha=1,
            use_stochastic_rounding=False,
        )


class Regularization(StrictModel):
    """Penalties added to the loss (the smart-pixels L1/L2 baseline uses
    ``kernel_l1 = kernel_l2 = activity_l2 = 0.01``). Kernel penalties apply to every
    weight tensor of the quantized layers (depthwise, pointwise, kernel), activity
    penalties to their outputs."""

    kernel_l1: float = Field(0.0, ge=0, allow_inf_nan=False)
    kernel_l2: float = Field(0.0, ge=0, allow_inf_nan=False)
    activity_l2: float = Field(0.0, ge=0, allow_inf_nan=False)

    def kernel(self):
        if self.kernel_l1 == self.kernel_l2 == 0:
            return None
        return keras.regularizers.L1L2(l1=self.kernel_l1, l2=self.kernel_l2)

    def activity(self):
        return keras.regularizers.L2(self.activity_l2) if self.activity_l2 else None


@MODELS.register("pixel_mdn", implementation="smartml.models.pixel_mdn:PixelMDN")
class PixelMDNConfig(ModelSection):
    name: Literal["pixel_mdn"] = "pixel_mdn"
    filters: int = Field(5, ge=1, description="channels of both convolutions")
    kernel_size: int = Field(3, ge=1, description="separable convolution kernel (square)")
    pool_size: int = Field(3, ge=1)
    hidden_units: list[int] = Field(default_factory=lambda: [16, 16], description="QDense widths")
    conv_weights: FixedPoint = FixedPoint(bits=4, integer=0)
    conv_activation_bits: int = Field(4, ge=2, le=16, description="quantized_tanh bits")
    pool_output: FixedPoint = FixedPoint(bits=8, integer=0)
    dense_weights: FixedPoint = FixedPoint(bits=8, integer=0)
    dense_activation_bits: int = Field(8, ge=2, le=16, description="quantized_tanh bits")
    input_quantizer: FixedPoint | None = Field(
        None,
        description="the sensor ADC: quantizes the normalised charge before the first layer, "
        "in training and in firmware alike; null for none",
    )
    regularization: Regularization = Regularization()


class PixelMDN:
    """Builder of the smart-pixel MDN (registered as ``pixel_mdn``)."""

    @staticmethod
    def build(config: PixelMDNConfig, input_shape: tuple, n_outputs: int) -> keras.Model:
        """Args:
            config: the ``model`` section.
            input_shape: (13, 21, T).
            n_outputs: size of the last layer (14 for the 4-target Gaussian).

        Returns:
            an uncompiled functional ``keras.Model``.
        """
        conv_q = config.conv_weights.quantizer
        dense_q = config.dense_weights.quantizer

        def conv_tanh():
            return quantized_tanh(config.conv_activation_bits)

        def dense_tanh():
            return quantized_tanh(config.dense_activation_bits)

        penalties = config.regularization

        def regularized() -> dict:
            return {
                "kernel_regularizer": penalties.kernel(),
                "activity_regularizer": penalties.activity(),
            }

        inputs = keras.Input(shape=input_shape, name="pixels")
        x = inputs
        if config.input_quantizer is not None:
            x = QActivation(config.input_quantizer.quantizer(), name="input_quantizer")(x)
        x = QSeparableConv2D(
            config.filters,
            config.kernel_size,
            depthwise_quantizer=conv_q(),
            pointwise_quantizer=conv_q(),
            bias_quantizer=conv_q(),
            depthwise_regularizer=penalties.kernel(),
            pointwise_regularizer=penalties.kernel(),
            activity_regularizer=penalties.activity(),
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
        x = QActivation(config.pool_output.quantizer(), name="pool_quantizer")(x)
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
        return keras.Model(inputs, outputs, name="pixel_mdn")
