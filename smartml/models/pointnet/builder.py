"""A quantized PointNet: the exportable RICH classifier.

PointNet (Qi et al., CVPR 2017) applies one MLP to every point ("1x1 convolutions",
here a QDense on (N, F)), takes the global max over points and classifies that with
an MLP. This is the network of :mod:`smartml.models.point_cloud` with max pooling:
the padding mask is a feature of every point and the per-point layers have no bias,
so a padded point stays exactly 0 and never wins the max over the non-negative
quantized ReLU outputs of the real points. The input and feature T-Nets (a learned
per-event matrix multiply) have no hls4ml firmware form and are left out.

>>> from smartml.models.pointnet.schema import PointNetConfig
>>> from smartml.outputs.logits import Logits
>>> from smartml.tasks.base import InputSpec
>>> inputs = {"points": InputSpec("points", (16, 3)), "mask": InputSpec("mask", (16,)),
...           "momentum": InputSpec("momentum", (1,))}
>>> model = PointNet.build(PointNetConfig(), inputs, Logits(["muon", "pion"]))
>>> [layer.units for layer in model.layers if layer.name.startswith(("point_", "head_"))
...  and hasattr(layer, "units")]
[32, 64, 128, 64, 32]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smartml.models.point_cloud import quantized_point_network
from smartml.models.pointnet.schema import PointNetConfig

if TYPE_CHECKING:
    from smartml.backend import keras
    from smartml.outputs.base import OutputKind
    from smartml.tasks.base import InputSpec


class PointNet:
    """Builder of ``pointnet``."""

    exportable = True

    @staticmethod
    def build(
        config: PointNetConfig, inputs: dict[str, InputSpec], output: OutputKind
    ) -> keras.Model:
        """Args:
            config: the ``model`` section.
            inputs: the task's inputs: the point input (N, F), the mask (N,) if
                configured, any number of rank-1 inputs (momentum, ring radius).
            output: the task's output kind.

        Returns:
            an uncompiled functional model taking a dict of the named inputs.
        """
        return quantized_point_network(config, inputs, output, "max", "pointnet")
