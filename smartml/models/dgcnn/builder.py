"""A Dynamic Graph CNN (Wang et al. 2019) for RICH rings of hits: float, not exportable.

Every EdgeConv block (:class:`~smartml.layers.knn_edge_conv.KNNEdgeConv`) links each
point to its ``k`` nearest real points and maps the edges ``[x_i, x_j − x_i]`` with a
shared MLP, max over neighbours. The first block measures distances in the hit
coordinates (``first_knn_features``: x, y or x, y, Δt), later ones in the features of
the previous block, so the graph is recomputed (dynamic). As in DGCNN, the outputs of
all blocks are concatenated per point before the global pooling::

    points (N, F), mask (N,)
    KNNEdgeConv(block 1) -> KNNEdgeConv(block 2) -> ...        (N, C_b) each
    Concatenate over blocks (N, ΣC_b) -> MaskedGlobalPooling(max ‖ average)
    [Concatenate with each rank-1 input (momentum, ...)]
    [Dense(h, relu) -> Dropout] ... -> Dense(n_outputs)

Padding never enters a neighbourhood or a pooling and its contents do not matter;
events with fewer than ``k`` real points use all of them (see the layer).

>>> from smartml.models.dgcnn.schema import DGCNNConfig
>>> from smartml.outputs.logits import Logits
>>> from smartml.tasks.base import InputSpec
>>> inputs = {"points": InputSpec("points", (16, 3)), "mask": InputSpec("mask", (16,)),
...           "momentum": InputSpec("momentum", (1,))}
>>> model = DGCNN.build(DGCNNConfig(k=4, edge_blocks=[[8], [8]], head_units=[8]), inputs,
...                     Logits(["muon", "pion"]))
>>> tuple(model.get_layer("pool").output.shape)
(None, 32)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smartml.backend import keras
from smartml.errors import ConfigError
from smartml.layers.knn_edge_conv import KNNEdgeConv
from smartml.layers.masked_global_pooling import MaskedGlobalPooling
from smartml.models.contract import model_builder
from smartml.models.dgcnn.schema import DGCNNConfig
from smartml.models.point_cloud import join_globals, model_inputs, point_cloud_inputs

if TYPE_CHECKING:
    from smartml.outputs.base import OutputKind
    from smartml.tasks.base import InputSpec


@model_builder
class DGCNN:
    """Builder of ``dgcnn``."""

    exportable = False

    @staticmethod
    def export_refusal(config: DGCNNConfig) -> str | None:
        """Never exportable: why."""
        return "hls4ml has no k-nearest-neighbour layer, and its EdgeConv blocks need one"

    @staticmethod
    def build(config: DGCNNConfig, inputs: dict[str, InputSpec], output: OutputKind) -> keras.Model:
        """Args:
            config: the ``model`` section.
            inputs: the task's inputs: the point input (N, F), the mask (N,), any
                number of rank-1 inputs.
            output: the task's output kind.

        Returns:
            an uncompiled functional model taking a dict of the named inputs.
        """
        specs = point_cloud_inputs("dgcnn", config, inputs)
        n_points, n_features = specs.points.shape
        if config.k > n_points:
            raise ConfigError(
                f"model.k: {config.k} neighbours, more than the {n_points} points of input "
                f"{specs.points.name!r}"
            )
        if config.first_knn_features is not None and config.first_knn_features > n_features:
            raise ConfigError(
                f"model.first_knn_features: {config.first_knn_features}, more than the "
                f"{n_features} features of input {specs.points.name!r}"
            )
        tensors = model_inputs(inputs)
        mask = tensors[config.mask_input]
        x = tensors[specs.points.name]
        blocks = []
        for index, edge_units in enumerate(config.edge_blocks):
            distance_features = config.first_knn_features if index == 0 else None
            x = KNNEdgeConv(edge_units, config.k, distance_features, name=f"edge_conv_{index}")(
                [x, mask]
            )
            blocks.append(x)
        if len(blocks) > 1:
            x = keras.layers.Concatenate(name="blocks")(blocks)
        x = MaskedGlobalPooling(config.pooling, name="pool")([x, mask])
        x = join_globals(x, tensors, specs.globals)
        for index, units in enumerate(config.head_units):
            x = keras.layers.Dense(units, activation="relu", name=f"head_{index}")(x)
            if config.dropout:
                x = keras.layers.Dropout(config.dropout, name=f"head_{index}_dropout")(x)
        outputs = keras.layers.Dense(output.n_outputs, name="output")(x)
        return keras.Model(list(tensors.values()), outputs, name="dgcnn")
