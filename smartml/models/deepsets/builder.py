"""A quantized DeepSets network: an exportable point-cloud model (RICH rings of hits).

The network of :mod:`smartml.models.point_cloud` with max or average pooling.

>>> from smartml.models.deepsets.schema import DeepSetsConfig
>>> from smartml.outputs.logits import Logits
>>> from smartml.tasks.base import InputSpec
>>> inputs = {"points": InputSpec("points", (16, 3)), "mask": InputSpec("mask", (16,)),
...           "momentum": InputSpec("momentum", (1,))}
>>> model = DeepSets.build(DeepSetsConfig(point_units=[8], head_units=[4]), inputs,
...                        Logits(["muon", "pion"]))
>>> [tuple(t.shape) for t in model.inputs], tuple(model.output.shape)
([(None, 16, 3), (None, 16), (None, 1)], (None, 1))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smartml.models.contract import model_builder
from smartml.models.deepsets.schema import DeepSetsConfig
from smartml.models.point_cloud import quantized_point_network

if TYPE_CHECKING:
    from smartml.backend import keras
    from smartml.outputs.base import OutputKind
    from smartml.tasks.base import InputSpec


@model_builder
class DeepSets:
    """Builder of ``deepsets``."""

    exportable = True

    @staticmethod
    def export_refusal(config: DeepSetsConfig) -> str | None:
        """None: every configuration is exportable."""
        return None

    @staticmethod
    def build(
        config: DeepSetsConfig, inputs: dict[str, InputSpec], output: OutputKind
    ) -> keras.Model:
        """Args:
            config: the ``model`` section.
            inputs: the task's inputs: the point input (N, F), the mask (N,) if
                configured, any number of rank-1 inputs.
            output: the task's output kind.

        Returns:
            an uncompiled functional model taking a dict of the named inputs.
        """
        return quantized_point_network(config, inputs, output, config.pooling, "deepsets")
