"""A quantized DeepSets network: the exportable point-cloud model (RICH rings of hits).

hls4ml has no Masking layer, no kNN and no rank-2 ``Dot``, so the mask enters as data
instead: it is appended to every point as one more feature, and the per-point layers
have **no bias**. A padded point (all features 0, mask 0) then stays exactly 0
through every per-point layer (``relu(W·0) = 0``), while a real point's mask feature
acts as its bias. Max pooling of non-negative features ignores the zeros of padding,
average pooling adds nothing for them (it divides by N, a constant the head learns)::

    points (N, F), mask (N,) -> Reshape (N, 1) -> Concatenate (N, F + 1)
    [QDense(h, no bias) -> QActivation(quantized_relu)] per point       (N, h)
    GlobalMaxPooling1D | GlobalAveragePooling1D -> QActivation(quantized_relu)   (h,)
    [Concatenate with each other, rank-1 input (momentum, ...), one at a time]
    [QDense(h) -> QActivation(quantized_relu)] ...
    QDense(n_outputs)

Without a mask input the per-point layers have biases and padding is not masked.

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

from qkeras import QActivation, QDense, quantized_relu

from smartml.backend import keras
from smartml.errors import ConfigError
from smartml.models.deepsets.schema import DeepSetsConfig
from smartml.models.quantizers import quantized_bits_of
from smartml.models.regularizers import activity_regularizer, kernel_regularizer

if TYPE_CHECKING:
    from smartml.outputs.base import OutputKind
    from smartml.tasks.base import InputSpec


class DeepSets:
    """Builder of ``deepsets``."""

    exportable = True

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
        points_spec, mask_spec, globals_specs = _sorted_inputs(config, inputs)
        tensors = {spec.name: keras.Input(spec.shape, name=spec.name) for spec in inputs.values()}

        def dense(units: int, name: str, use_bias: bool = True):
            return QDense(
                units,
                use_bias=use_bias,
                kernel_quantizer=quantized_bits_of(config.weights),
                bias_quantizer=quantized_bits_of(config.weights) if use_bias else None,
                kernel_regularizer=kernel_regularizer(config.regularization),
                activity_regularizer=activity_regularizer(config.regularization),
                name=name,
            )

        def relu(name: str):
            return QActivation(
                quantized_relu(config.activation.bits, config.activation.integer), name=name
            )

        x = tensors[points_spec.name]
        if mask_spec is not None:
            n_points = points_spec.shape[0]
            mask = keras.layers.Reshape((n_points, 1), name="mask_column")(tensors[mask_spec.name])
            x = keras.layers.Concatenate(name="points_and_mask")([x, mask])
        for index, units in enumerate(config.point_units):
            x = dense(units, f"point_{index}", use_bias=mask_spec is None)(x)
            x = relu(f"point_{index}_relu")(x)
        if config.pooling == "max":
            x = keras.layers.GlobalMaxPooling1D(name="pool")(x)
        else:
            x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
            # back on the activation grid: firmware reproduces a quantized mean exactly,
            # a float32 mean over N points (N not a power of two) it cannot
            x = relu("pool_quantizer")(x)
        for spec in globals_specs:  # hls4ml concatenates two tensors at a time
            x = keras.layers.Concatenate(name=f"with_{spec.name}")([x, tensors[spec.name]])
        for index, units in enumerate(config.head_units):
            x = dense(units, f"head_{index}")(x)
            x = relu(f"head_{index}_relu")(x)
        outputs = dense(output.n_outputs, "output")(x)
        ordered = [tensors[spec.name] for spec in inputs.values()]
        return keras.Model(ordered, outputs, name="deepsets")


def _sorted_inputs(
    config: DeepSetsConfig, inputs: dict[str, InputSpec]
) -> tuple[InputSpec, InputSpec | None, list[InputSpec]]:
    """(point input, mask input or None, rank-1 global inputs), checked."""

    def named(key: str, name: str) -> InputSpec:
        if name not in inputs:
            raise ConfigError(
                f"model.{key}: the task has no input {name!r}; its inputs: {', '.join(inputs)}"
            )
        return inputs[name]

    points = named("points_input", config.points_input)
    if len(points.shape) != 2:
        raise ConfigError(
            f"model.points_input: {points.name!r} has shape {points.shape}; expected (N, F)"
        )
    mask = named("mask_input", config.mask_input) if config.mask_input else None
    if mask is not None and tuple(mask.shape) != (points.shape[0],):
        raise ConfigError(
            f"model.mask_input: {mask.name!r} has shape {mask.shape}; expected ({points.shape[0]},)"
        )
    used = {points.name, mask.name if mask else None}
    others = [spec for spec in inputs.values() if spec.name not in used]
    for spec in others:
        if len(spec.shape) != 1:
            raise ConfigError(
                f"model deepsets: input {spec.name!r} has shape {spec.shape}; inputs besides "
                "the points and the mask must be rank-1 (they join after pooling)"
            )
    return points, mask, others
