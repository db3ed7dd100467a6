"""The ``model`` section of ``dgcnn`` (no TensorFlow here)."""

from typing import Literal

from pydantic import Field

from smartml.config.strict import LayerWidth
from smartml.models.point_cloud_schema import PointCloudSection
from smartml.registry import MODELS

MAX_NEIGHBOURS = 256
PoolingMode = Literal["max", "average"]


def _max_and_average() -> list[PoolingMode]:
    return ["max", "average"]


@MODELS.register("dgcnn", implementation="smartml.models.dgcnn.builder:DGCNN")
class DGCNNConfig(PointCloudSection):
    """EdgeConv blocks on dynamic kNN graphs, masked max‖mean pooling, a dense head
    (float; not exportable: hls4ml has no kNN).

    Example: ``{"name": "dgcnn", "k": 8, "edge_blocks": [[32, 32], [64, 64]]}``.
    """

    name: Literal["dgcnn"] = "dgcnn"
    mask_input: str = Field(  # required here: never null
        "mask", description="the (N,) padding mask input (1 = real point, 0 = padding)"
    )
    k: int = Field(8, ge=1, le=MAX_NEIGHBOURS, description="neighbours per point, itself included")
    edge_blocks: list[list[LayerWidth]] = Field(
        default_factory=lambda: [[32, 32], [64, 64]],
        min_length=1,
        description="one EdgeConv block per entry: the widths of its shared edge MLP",
    )
    first_knn_features: int | None = Field(
        2,
        ge=1,
        le=4096,
        description="the first block finds neighbours in the first this many point features "
        "(2: x, y; 3: x, y, Δt); null: all; later blocks in their input features (dynamic)",
    )
    pooling: list[PoolingMode] = Field(
        default_factory=_max_and_average,
        min_length=1,
        max_length=2,
        description="masked global pooling of the concatenated block outputs",
    )
    head_units: list[LayerWidth] = Field(
        default_factory=lambda: [64, 32], description="dense widths after pooling"
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after each head layer")
