"""The ``model`` section of ``quantized_mlp`` (no TensorFlow here)."""

from typing import Literal

from pydantic import Field, field_validator

from smartml.config.base import ModelSection
from smartml.config.common import FixedPoint, Regularization
from smartml.config.strict import LayerWidth
from smartml.registry import MODELS


class ReluQuantizer(FixedPoint):
    """``quantized_relu(bits, integer)``: values in [0, 2^integer) on a grid of
    2^(integer - bits)."""

    # A bool, not Literal[False]: pydantic would take 0 for the literal False.
    signed: bool = Field(False, description="quantized_relu is unsigned: false")

    @field_validator("signed")
    @classmethod
    def _unsigned(cls, signed: bool) -> bool:
        if signed:
            raise ValueError("quantized_relu is unsigned: signed must be false")
        return signed


@MODELS.register(
    "quantized_mlp", implementation="smartml.models.quantized_mlp.builder:QuantizedMLP"
)
class QuantizedMLPConfig(ModelSection):
    """QDense layers with quantized ReLUs on the concatenated rank-1 inputs.

    Example: ``{"name": "quantized_mlp", "hidden_units": [32, 32]}``.
    """

    name: Literal["quantized_mlp"] = "quantized_mlp"
    hidden_units: list[LayerWidth] = Field(
        default_factory=lambda: [32, 32], description="QDense widths before the output layer"
    )
    weights: FixedPoint = Field(
        FixedPoint(bits=8, integer=0), description="quantized_bits of weights and biases"
    )
    activation: ReluQuantizer = Field(
        ReluQuantizer(bits=8, integer=3), description="quantized_relu after each hidden layer"
    )
    regularization: Regularization = Regularization()
