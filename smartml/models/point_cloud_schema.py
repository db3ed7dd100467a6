"""Schema pieces of the point-cloud models (deepsets, pointnet, dgcnn); no TensorFlow.

>>> QuantizedPointCloudSection(name="x").point_units
[32, 32]
"""

from pydantic import Field

from smartml.config.base import ModelSection
from smartml.config.common import FixedPoint, Regularization
from smartml.config.strict import LayerWidth
from smartml.models.mlp.schema import ReluQuantizer


class PointCloudSection(ModelSection):
    """Which of the task's inputs are the points and the padding mask; every other
    input is a rank-1 global (momentum, ...) joined after pooling."""

    points_input: str = Field("points", description="the (N, F) point input")
    mask_input: str | None = Field(
        "mask", description="the (N,) padding mask input (1 = real point, 0 = padding); null: none"
    )
    head_units: list[LayerWidth] = Field(
        default_factory=lambda: [32], description="dense widths after pooling"
    )


class QuantizedPointCloudSection(PointCloudSection):
    """A per-point quantized MLP, masked global pooling and a quantized head."""

    point_units: list[LayerWidth] = Field(
        default_factory=lambda: [32, 32], min_length=1, description="per-point QDense widths"
    )
    weights: FixedPoint = Field(
        FixedPoint(bits=8, integer=0), description="quantized_bits of weights and biases"
    )
    activation: ReluQuantizer = Field(
        ReluQuantizer(bits=8, integer=3), description="quantized_relu after each hidden layer"
    )
    regularization: Regularization = Regularization()
