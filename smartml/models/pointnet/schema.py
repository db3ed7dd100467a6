"""The ``model`` sections of ``pointnet`` and ``pointnet_tnet`` (no TensorFlow here)."""

from typing import Literal

from pydantic import Field

from smartml.config.strict import LayerWidth
from smartml.models.point_cloud_schema import QuantizedPointCloudSection
from smartml.registry import MODELS


class PointNetSection(QuantizedPointCloudSection):
    """Per-point quantized MLP ("1x1 convolutions"), masked global max pooling, the
    global inputs, a quantized head; sized for a CPU."""

    point_units: list[LayerWidth] = Field(
        default_factory=lambda: [32, 64, 128], min_length=1, description="per-point QDense widths"
    )
    head_units: list[LayerWidth] = Field(
        default_factory=lambda: [64, 32], description="QDense widths after pooling"
    )
    pooling: Literal["max", "max_average"] = Field(
        "max",
        description="global pooling over the points: max (PointNet), or max and average side "
        "by side (the average also counts the points)",
    )


@MODELS.register("pointnet", implementation="smartml.models.pointnet.builder:PointNet")
class PointNetConfig(PointNetSection):
    """PointNet without its T-Net (which has no firmware form). Exportable.

    Example: ``{"name": "pointnet", "point_units": [32, 64, 128], "head_units": [64, 32]}``.
    """

    name: Literal["pointnet"] = "pointnet"


@MODELS.register("pointnet_tnet", implementation="smartml.models.pointnet.builder:PointNetTNet")
class PointNetTNetConfig(PointNetSection):
    """PointNet with its input T-Net (float), for comparison: a learned per-event
    (F × F) matrix multiplies the points first. Not exportable.

    Example: ``{"name": "pointnet_tnet", "tnet_point_units": [32, 64]}``.
    """

    name: Literal["pointnet_tnet"] = "pointnet_tnet"
    tnet_point_units: list[LayerWidth] = Field(
        default_factory=lambda: [32, 64], min_length=1, description="T-Net per-point Dense widths"
    )
    tnet_head_units: list[LayerWidth] = Field(
        default_factory=lambda: [32], description="T-Net Dense widths after its max pooling"
    )
