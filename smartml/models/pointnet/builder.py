"""A quantized PointNet: the exportable RICH classifier.

PointNet (Qi et al., CVPR 2017) applies one MLP to every point ("1x1 convolutions",
here a QDense on (N, F)), takes the global max over points and classifies that with
an MLP. This is the network of :mod:`smartml.models.point_cloud` with max pooling:
the padding mask is a feature of every point and the per-point layers have no bias,
so a padded point stays exactly 0 and never wins the max over the non-negative
quantized ReLU outputs of the real points. The input and feature T-Nets (a learned
per-event matrix multiply) have no hls4ml firmware form and are left out of
``pointnet``; ``pointnet_tnet`` (:class:`PointNetTNet`, not exportable) puts the input
T-Net (float) in front of the same network, for comparison.

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

import numpy as np

from smartml.backend import keras
from smartml.layers.masked_global_pooling import MaskedGlobalPooling
from smartml.models.contract import model_builder
from smartml.models.point_cloud import quantized_point_network
from smartml.models.pointnet.schema import PointNetConfig, PointNetTNetConfig

if TYPE_CHECKING:
    from smartml.outputs.base import OutputKind
    from smartml.tasks.base import InputSpec


@model_builder
class PointNet:
    """Builder of ``pointnet``."""

    exportable = True

    @staticmethod
    def export_refusal(config: PointNetConfig) -> str | None:
        """None: every configuration is exportable."""
        return None

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
        return quantized_point_network(config, inputs, output, config.pooling, "pointnet")


@model_builder
class PointNetTNet:
    """Builder of ``pointnet_tnet``: the input T-Net, then ``pointnet``'s network."""

    exportable = False

    @staticmethod
    def export_refusal(config: PointNetTNetConfig) -> str | None:
        """Never exportable: why."""
        return (
            "its T-Net multiplies each event's points by a matrix computed from them, which "
            "hls4ml cannot do (pointnet is the exportable form)"
        )

    @staticmethod
    def build(
        config: PointNetTNetConfig, inputs: dict[str, InputSpec], output: OutputKind
    ) -> keras.Model:
        """Args:
            config: the ``model`` section.
            inputs: as for ``pointnet``.
            output: the task's output kind.

        Returns:
            an uncompiled functional model taking a dict of the named inputs; at
            initialisation the T-Net's matrix is the identity.
        """

        def transform(points, mask):
            return input_transform(points, mask, config.tnet_point_units, config.tnet_head_units)

        return quantized_point_network(
            config, inputs, output, config.pooling, "pointnet_tnet", transform
        )


def input_transform(points, mask, point_units: list[int], head_units: list[int]):
    """PointNet's input T-Net (float): per-point ReLU MLP, max over the real points,
    ReLU MLP, an (F × F) matrix (identity at initialisation); the points times it.
    Padded points (rows of 0) stay 0.

    Args:
        points: (N, F) tensor; mask: (N,) tensor or None (every point real).
        point_units, head_units: Dense widths before and after the pooling.

    Returns:
        the transformed points, (N, F).
    """
    n_features = int(points.shape[-1])
    x = points
    for index, units in enumerate(point_units):
        x = keras.layers.Dense(units, activation="relu", name=f"tnet_point_{index}")(x)
    if mask is None:
        x = keras.layers.GlobalMaxPooling1D(name="tnet_pool")(x)
    else:
        x = MaskedGlobalPooling(["max"], name="tnet_pool")([x, mask])
    for index, units in enumerate(head_units):
        x = keras.layers.Dense(units, activation="relu", name=f"tnet_head_{index}")(x)
    identity = np.eye(n_features).ravel().tolist()
    matrix = keras.layers.Dense(
        n_features * n_features,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(identity),
        name="tnet_matrix",
    )(x)
    matrix = keras.layers.Reshape((n_features, n_features), name="tnet_matrix_square")(matrix)
    return keras.layers.Dot(axes=(2, 1), name="tnet_transform")([points, matrix])
