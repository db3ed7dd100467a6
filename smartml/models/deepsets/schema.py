"""The ``model`` section of ``deepsets`` (no TensorFlow here)."""

from typing import Literal

from smartml.models.point_cloud_schema import QuantizedPointCloudSection
from smartml.registry import MODELS


@MODELS.register("deepsets", implementation="smartml.models.deepsets.builder:DeepSets")
class DeepSetsConfig(QuantizedPointCloudSection):
    """Per-point quantized MLP, masked global pooling, quantized head.

    Example: ``{"name": "deepsets", "point_units": [32, 32], "head_units": [32]}``.
    """

    name: Literal["deepsets"] = "deepsets"
    pooling: Literal["max", "average", "max_average"] = "max"
