"""Schema of the ``model`` section of ``pixel_profile_mdn`` (no TensorFlow here).

The network itself is built by
:class:`smartml.models.pixel_profile_mdn.builder.PixelProfileMDN`.

>>> config = PixelProfileMDNConfig(dense_weights=[{"bits": 4}, {"bits": 8}], hidden_units=[8])
>>> [fixed.bits for fixed in config.weights_per_layer()]
[4, 8]
>>> PixelProfileMDNConfig(hidden_units=[8, 8]).weights_per_layer()[2].bits
8
"""

from typing import Literal

from pydantic import Field, model_validator

from smartml.config.base import ModelSection
from smartml.config.common import FixedPoint, Regularization
from smartml.config.strict import LayerWidth
from smartml.registry import MODELS


@MODELS.register(
    "pixel_profile_mdn", implementation="smartml.models.pixel_profile_mdn.builder:PixelProfileMDN"
)
class PixelProfileMDNConfig(ModelSection):
    """The cluster's charge profiles (the mean charge of each column and of each row,
    per time slice) into quantized Dense layers and the Gaussian head of ``pixel_mdn``.

    Averaging costs additions only, so the multiplications, and the BOPs, go to the
    Dense layers: for 2 time slices 68 profile values, where ``pixel_mdn``'s
    convolutions spend five sixths of its BOPs on 90 features.
    """

    name: Literal["pixel_profile_mdn"] = "pixel_profile_mdn"
    hidden_units: list[LayerWidth] = Field(
        default_factory=lambda: [48, 48], min_length=1, description="QDense widths"
    )
    profile_output: FixedPoint = Field(
        FixedPoint(bits=12, integer=3, signed=False),
        description="quantizer of the profile values (mean normalised charge of a row or "
        "column, non-negative)",
    )
    dense_weights: FixedPoint | list[FixedPoint] = Field(
        FixedPoint(bits=8, integer=0),
        description="weight and bias format of every QDense layer, or a list with one "
        "format per QDense layer (the hidden layers, then the output layer): per-layer "
        "bit widths. The first layer's weights multiply profile values up to 8, so one "
        "weight step moves its output by up to 8 LSB of the weight: 6 bits trained "
        "measurably worse than 8",
    )
    dense_activation_bits: int = Field(8, ge=2, le=16, description="quantized_tanh bits")
    input_quantizer: FixedPoint | None = Field(
        None,
        description="the sensor ADC: quantizes the normalised charge before the profiles, "
        "in training and in firmware alike; null for none",
    )
    quantized: bool = Field(
        True,
        description="false: the same network in float (no quantizers; clip(x, -1, 1) for each "
        "quantized_tanh), to measure what quantizing costs and to start quantization-aware "
        "training from (training.initial_weights); not exportable",
    )
    regularization: Regularization = Regularization()

    @model_validator(mode="after")
    def _one_format_per_layer(self) -> "PixelProfileMDNConfig":
        if isinstance(self.dense_weights, list):
            expected = len(self.hidden_units) + 1
            if len(self.dense_weights) != expected:
                raise ValueError(
                    f"dense_weights: {len(self.dense_weights)} formats for {expected} QDense "
                    f"layers (hidden_units {self.hidden_units}, then the output layer)"
                )
        return self

    def weights_per_layer(self) -> list[FixedPoint]:
        """The weight format of each QDense layer, hidden layers first."""
        if isinstance(self.dense_weights, list):
            return list(self.dense_weights)
        return [self.dense_weights] * (len(self.hidden_units) + 1)
