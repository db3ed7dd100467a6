"""The ``model`` section of ``pointnet`` (no TensorFlow here)."""

from typing import Literal

from pydantic import Field

from smartml.config.strict import LayerWidth
from smartml.models.point_cloud_schema import QuantizedPointCloudSection
from smartml.registry import MODELS


@MODELS.register("pointnet", implementation="smartml.models.pointnet.builder:PointNet")
class PointNetConfig(QuantizedPointCloudSection):
    """PointNet without its T-Net (which has no firmware form): per-point quantized
    MLP ("1x1 convolutions"), masked global max pooling, the global inputs, a quantized
    head. Exportable.

    Example: ``{"name": "pointnet", "point_units": [32, 64, 128], "head_units": [64, 32]}``.
    """

    name: Literal["pointnet"] = "pointnet"
    point_units: list[LayerWidth] = Field(
        default_factory=lambda: [32, 64, 128], min_length=1, description="per-point QDense widths"
    )
    head_units: list[LayerWidth] = Field(
        default_factory=lambda: [64, 32], description="QDense widths after pooling"
    )
