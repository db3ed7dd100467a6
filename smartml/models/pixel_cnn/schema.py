"""The ``model`` section of ``pixel_cnn`` (no TensorFlow here).

>>> PixelCNNConfig().conv_filters, PixelCNNConfig().hidden_units
([16, 16, 32], [64, 64])
"""

from typing import Literal

from pydantic import Field

from smartml.config.base import ModelSection
from smartml.config.strict import LayerWidth
from smartml.registry import MODELS


@MODELS.register("pixel_cnn", implementation="smartml.models.pixel_cnn.builder:PixelCNN")
class PixelCNNConfig(ModelSection):
    """A float CNN on the (13, 21, T) cluster image with the same Gaussian output and
    loss as ``pixel_mdn``: the reference for how well a cluster can be resolved at all
    (float, not exportable).

    Example: ``{"name": "pixel_cnn", "conv_filters": [32, 32, 64], "hidden_units":
    [128, 128]}`` (the default doubled).
    """

    name: Literal["pixel_cnn"] = "pixel_cnn"
    conv_filters: list[LayerWidth] = Field(
        default_factory=lambda: [16, 16, 32],
        min_length=1,
        description="one 'same'-padded convolution per entry, its number of filters",
    )
    kernel_size: int = Field(3, ge=1, le=13, description="convolution kernel (square)")
    pool_after: int = Field(
        2,
        ge=0,
        description="2x2 average pooling after this many convolutions (0: none)",
    )
    hidden_units: list[LayerWidth] = Field(
        default_factory=lambda: [64, 64], description="Dense widths after the flatten"
    )
    activation: Literal["relu", "gelu", "swish", "tanh"] = Field(
        "gelu", description="of every convolution and hidden Dense layer"
    )
