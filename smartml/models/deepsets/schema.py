"""The ``model`` section of ``deepsets`` (no TensorFlow here)."""

from typing import Literal

from pydantic import Field

from smartml.config.base import ModelSection
from smartml.config.common import FixedPoint, Regularization
from smartml.config.strict import LayerWidth
from smartml.models.quantized_mlp.schema import ReluQuantizer
from smartml.registry import MODELS


@MODELS.register("deepsets", implementation="smartml.models.deepsets.builder:DeepSets")
class DeepSetsConfig(ModelSection):
    """Per-point quantized MLP, masked global pooling, quantized head.

    Example: ``{"name": "deepsets", "point_units": [32, 32], "head_units": [32]}``.
    """

    name: Literal["deepsets"] = "deepsets"
    points_input: str = Field("points", description="the (N, F) point input")
    mask_input: str | None = Field(
        "mask", description="the (N,) padding mask input (1 = real point, 0 = padding); null: none"
    )
    point_units: list[LayerWidth] = Field(
        default_factory=lambda: [32, 32], min_length=1, description="per-point QDense widths"
    )
    pooling: Literal["max", "average"] = "max"
    head_units: list[LayerWidth] = Field(
        default_factory=lambda: [32], description="QDense widths after pooling"
    )
    weights: FixedPoint = Field(
        FixedPoint(bits=8, integer=0), description="quantized_bits of weights and biases"
    )
    activation: ReluQuantizer = Field(
        ReluQuantizer(bits=8, integer=3), description="quantized_relu after each hidden layer"
    )
    regularization: Regularization = Regularization()
