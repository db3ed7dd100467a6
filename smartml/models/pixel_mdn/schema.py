"""Schema of the ``model`` section of ``pixel_mdn`` (no TensorFlow here).

The network itself is built by :class:`smartml.models.pixel_mdn.builder.PixelMDN`.

>>> PixelMDNConfig(hidden_units=[8]).dense_weights.bits
8
"""

from typing import Literal

from pydantic import Field

from smartml.config.base import ModelSection
from smartml.config.common import FixedPoint, Regularization
from smartml.config.strict import LayerWidth
from smartml.registry import MODELS


@MODELS.register("pixel_mdn", implementation="smartml.models.pixel_mdn.builder:PixelMDN")
class PixelMDNConfig(ModelSection):
    name: Literal["pixel_mdn"] = "pixel_mdn"
    filters: LayerWidth = Field(5, description="channels of both convolutions")
    # Both act on the 13x21 cluster image: more than its 13 rows cannot fit.
    kernel_size: int = Field(3, ge=1, le=13, description="separable convolution kernel (square)")
    pool_size: int = Field(3, ge=1, le=13, description="average pooling (square)")
    hidden_units: list[LayerWidth] = Field(
        default_factory=lambda: [16, 16], description="QDense widths"
    )
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
    quantized: bool = Field(
        True,
        description="false: the same network in float (no quantizers; clip(x, -1, 1) for each "
        "quantized_tanh): the quantization-free twin, to measure what quantizing costs and to "
        "start quantization-aware training from (training.initial_weights); not exportable",
    )
    regularization: Regularization = Regularization()
