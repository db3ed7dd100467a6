"""A multilayer perceptron: the network of tabular tasks (ntuple features -> class
scores or regressed values), float or quantized.

Architecture, for rank-1 inputs ``f_1 (F_1,), ..., f_m (F_m,)`` of total width ``F``::

    [Concatenate]                         when there are several inputs: x0, (F,)
    Dense(h_1) -> activation [-> Dropout]
    ...
    Dense(h_n) -> activation [-> Dropout]
    [Dense(F) + x0 -> activation]         residual block (DeepMEM), when configured
    Dense(n_outputs)                      linear: logits, values, Gaussian parameters

Quantized (a ``quantization`` block), every ``Dense`` is a ``QDense`` with
``quantized_bits`` weights and biases and every activation a
``QActivation(quantized_relu)``; the residual sum is an ``Add`` of the QDense output
and the inputs, which firmware computes exactly. That network (without dropout) is
exportable to bit-exact firmware.

DeepMEM's regressor (14 inputs) is ``hidden_units=[200] * 4, residual=True``:

>>> from smartml.models.mlp.schema import MLPConfig
>>> from smartml.outputs.point_regression import PointRegression
>>> from smartml.tasks.base import InputSpec
>>> deepmem = MLPConfig(hidden_units=[200] * 4, residual=True)
>>> model = MLP.build(deepmem, {"features": InputSpec("features", (14,))},
...                   PointRegression(["w"], [""]))
>>> model.count_params()  # 15·200 + 3·201·200 + 201·14 + 15·1
126429
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qkeras import QActivation, QDense, quantized_relu

from smartml.backend import keras
from smartml.errors import ConfigError
from smartml.models.contract import model_builder
from smartml.models.mlp.schema import MLPConfig
from smartml.models.quantizers import quantized_bits_of
from smartml.models.regularizers import activity_regularizer, kernel_regularizer

if TYPE_CHECKING:
    from smartml.outputs.base import OutputKind
    from smartml.tasks.base import InputSpec


@model_builder
class MLP:
    """Builder of ``mlp``. Exportable when quantized and without dropout
    (:meth:`export_refusal` says why not otherwise)."""

    exportable = True

    @staticmethod
    def export_refusal(config: MLPConfig) -> str | None:
        """Why this configuration has no bit-exact firmware form; None when it has.

        >>> MLP.export_refusal(MLPConfig(quantization={})) is None
        True
        >>> MLP.export_refusal(MLPConfig())
        'its layers are float (no quantization block): add "quantization": {} to the model'
        """
        if config.quantization is None:
            return (
                'its layers are float (no quantization block): add "quantization": {} to the model'
            )
        if config.dropout:
            return f"dropout {config.dropout:g} adds Dropout layers firmware has no rule for: set 0"
        return None

    @staticmethod
    def build(config: MLPConfig, inputs: dict[str, InputSpec], output: OutputKind) -> keras.Model:
        """Args:
            config: the ``model`` section.
            inputs: the task's inputs, each of rank 1.
            output: the task's output kind (its size is the last layer's).

        Returns:
            an uncompiled functional model taking a dict of the named inputs.

        Raises:
            ConfigError: an input that is not rank 1.
        """
        for spec in inputs.values():
            if len(spec.shape) != 1:
                raise ConfigError(
                    f"model mlp: input {spec.name!r} has shape {spec.shape}; "
                    "it takes rank-1 (tabular) inputs"
                )
        tensors = [keras.Input(spec.shape, name=spec.name) for spec in inputs.values()]
        features = (
            tensors[0] if len(tensors) == 1 else keras.layers.Concatenate(name="features")(tensors)
        )
        layers = _Layers(config)
        x = features
        for index, units in enumerate(config.hidden_units):
            x = layers.activation(f"dense_{index}")(layers.dense(units, f"dense_{index}")(x))
            if config.dropout:
                x = keras.layers.Dropout(config.dropout, name=f"dense_{index}_dropout")(x)
        if config.residual:
            back = layers.dense(int(features.shape[-1]), "residual_dense")(x)
            x = keras.layers.Add(name="residual_add")([back, features])
            x = layers.activation("residual")(x)
        outputs = layers.dense(output.n_outputs, "output")(x)
        return keras.Model(tensors, outputs, name="mlp")


class _Layers:
    """The dense layers and activations of one configuration, float or quantized."""

    def __init__(self, config: MLPConfig) -> None:
        self.config = config

    def dense(self, units: int, name: str) -> keras.layers.Layer:
        """A linear (Q)Dense layer with the configured regularization."""
        penalties = self.config.regularization
        options = {
            "kernel_regularizer": kernel_regularizer(penalties),
            "activity_regularizer": activity_regularizer(penalties),
            "name": name,
        }
        quantization = self.config.quantization
        if quantization is None:
            return keras.layers.Dense(units, **options)
        return QDense(
            units,
            kernel_quantizer=quantized_bits_of(quantization.weights),
            bias_quantizer=quantized_bits_of(quantization.weights),
            **options,
        )

    def activation(self, after: str) -> keras.layers.Layer:
        """The activation following the layer ``after``: ``<after>_<activation>``."""
        quantization = self.config.quantization
        if quantization is None:
            name = self.config.activation
            return keras.layers.Activation(name, name=f"{after}_{name}")
        relu = quantized_relu(quantization.activation.bits, quantization.activation.integer)
        return QActivation(relu, name=f"{after}_relu")
