"""A quantized multilayer perceptron: the network of tabular tasks (ntuple features
-> a class score or a regressed value).

Architecture, for rank-1 inputs ``f_1 (F_1,), ..., f_m (F_m,)``::

    [Concatenate]                        when there are several inputs
    QDense(h_1) -> QActivation(quantized_relu)
    ...
    QDense(h_n) -> QActivation(quantized_relu)
    QDense(n_outputs)                    linear: logits, values, Gaussian parameters

Every layer is exportable to bit-exact firmware.

>>> from smartml.models.quantized_mlp.schema import QuantizedMLPConfig
>>> from smartml.outputs.point_regression import PointRegression
>>> from smartml.tasks.base import InputSpec
>>> model = QuantizedMLP.build(QuantizedMLPConfig(hidden_units=[8]),
...                            {"features": InputSpec("features", (5,))},
...                            PointRegression(["w"], [""]))
>>> model.count_params()  # (5 + 1)·8 + (8 + 1)·1
57
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qkeras import QActivation, QDense, quantized_relu

from smartml.backend import keras
from smartml.errors import ConfigError
from smartml.models.quantized_mlp.schema import QuantizedMLPConfig
from smartml.models.quantizers import quantized_bits_of
from smartml.models.regularizers import activity_regularizer, kernel_regularizer

if TYPE_CHECKING:
    from smartml.outputs.base import OutputKind
    from smartml.tasks.base import InputSpec


class QuantizedMLP:
    """Builder of ``quantized_mlp``."""

    exportable = True

    @staticmethod
    def build(
        config: QuantizedMLPConfig, inputs: dict[str, InputSpec], output: OutputKind
    ) -> keras.Model:
        """Args:
            config: the ``model`` section.
            inputs: the task's inputs, each of rank 1.
            output: the task's output kind (its size is the last layer's).

        Returns:
            an uncompiled functional model taking a dict of the named inputs.
        """
        for spec in inputs.values():
            if len(spec.shape) != 1:
                raise ConfigError(
                    f"model quantized_mlp: input {spec.name!r} has shape {spec.shape}; "
                    "it takes rank-1 (tabular) inputs"
                )
        tensors = [keras.Input(spec.shape, name=spec.name) for spec in inputs.values()]
        x = tensors[0] if len(tensors) == 1 else keras.layers.Concatenate(name="features")(tensors)

        def dense(units: int, name: str):
            return QDense(
                units,
                kernel_quantizer=quantized_bits_of(config.weights),
                bias_quantizer=quantized_bits_of(config.weights),
                kernel_regularizer=kernel_regularizer(config.regularization),
                activity_regularizer=activity_regularizer(config.regularization),
                name=name,
            )

        for index, units in enumerate(config.hidden_units):
            x = dense(units, f"dense_{index}")(x)
            relu = quantized_relu(config.activation.bits, config.activation.integer)
            x = QActivation(relu, name=f"dense_{index}_relu")(x)
        outputs = dense(output.n_outputs, "output")(x)
        return keras.Model(tensors, outputs, name="quantized_mlp")
