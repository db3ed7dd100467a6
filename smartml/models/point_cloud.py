"""Builder pieces shared by the point-cloud models (deepsets, pointnet, dgcnn).

The quantized classifier (:func:`quantized_point_network`) is exportable: hls4ml has
no Masking layer, no kNN and no rank-2 ``Dot``, so the mask enters as data instead.
It is appended to every point as one more feature, and the per-point layers have
**no bias**. A padded point (all features 0, mask 0) then stays exactly 0 through
every per-point layer (``relu(W·0) = 0``), while a real point's mask feature acts as
its bias. Max pooling of non-negative features ignores the zeros of padding (a real
point's value is never below it), average pooling adds nothing for them (it divides
by N, a constant the head learns)::

    points (N, F), mask (N,) -> Reshape (N, 1) -> Concatenate (N, F + 1)
    [QDense(h, no bias) -> QActivation(quantized_relu)] per point       (N, h)
    GlobalMaxPooling1D | GlobalAveragePooling1D [-> QActivation(quantized_relu)]  (h,)
    [Concatenate with each rank-1 input (momentum, ...), one at a time]
    [QDense(h) -> QActivation(quantized_relu)] ...
    QDense(n_outputs)

Without a mask input the per-point layers have biases and padding is not masked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, NamedTuple

from qkeras import QActivation, QDense, quantized_relu

from smartml.backend import keras
from smartml.errors import ConfigError
from smartml.models.quantizers import quantized_bits_of
from smartml.models.regularizers import activity_regularizer, kernel_regularizer

if TYPE_CHECKING:
    from smartml.models.point_cloud_schema import PointCloudSection, QuantizedPointCloudSection
    from smartml.outputs.base import OutputKind
    from smartml.tasks.base import InputSpec


class PointCloudInputs(NamedTuple):
    """The task's inputs sorted for a point-cloud model."""

    points: InputSpec
    mask: InputSpec | None
    globals: list[InputSpec]


def point_cloud_inputs(
    model_name: str, config: PointCloudSection, inputs: dict[str, InputSpec]
) -> PointCloudInputs:
    """Find and check the point input (N, F), the mask (N,) and the rank-1 globals.

    Args:
        model_name: the registered model, for error messages.
        config: the ``model`` section naming the point and mask inputs.
        inputs: the task's inputs.

    Returns:
        the inputs, sorted.

    Raises:
        ConfigError: one line naming the key or input at fault.

    >>> from smartml.tasks.base import InputSpec
    >>> from smartml.models.point_cloud_schema import PointCloudSection
    >>> point_cloud_inputs("pointnet", PointCloudSection(name="pointnet"),
    ...                    {"points": InputSpec("points", (8, 3))})
    Traceback (most recent call last):
    ...
    smartml.errors.ConfigError: model.mask_input: the task has no input 'mask'; its inputs: points
    """

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
                f"model {model_name}: input {spec.name!r} has shape {spec.shape}; inputs besides "
                "the points and the mask must be rank-1 (they join after pooling)"
            )
    return PointCloudInputs(points, mask, others)


def model_inputs(inputs: dict[str, InputSpec]) -> dict[str, keras.KerasTensor]:
    """One ``keras.Input`` per declared input, by name (in the task's order)."""
    return {spec.name: keras.Input(spec.shape, name=spec.name) for spec in inputs.values()}


def join_globals(x, tensors: dict, globals_specs: list[InputSpec]):
    """Concatenate the pooled features with each rank-1 global input, one at a time
    (hls4ml concatenates two tensors at a time)."""
    for spec in globals_specs:
        x = keras.layers.Concatenate(name=f"with_{spec.name}")([x, tensors[spec.name]])
    return x


Pooling = Literal["max", "average", "max_average"]


def quantized_point_network(
    config: QuantizedPointCloudSection,
    inputs: dict[str, InputSpec],
    output: OutputKind,
    pooling: Pooling,
    model_name: str,
    transform: Callable | None = None,
) -> keras.Model:
    """The exportable masked point network of the module docstring.

    Args:
        config: a quantized point-cloud ``model`` section.
        inputs: the task's inputs (points, optional mask, rank-1 globals).
        output: the task's output kind (its size is the last layer's).
        pooling: the global pooling over points: max, average, or both side by side
            (``max_average``: the average also counts the points).
        model_name: the registered model (the Keras model's name, error messages).
        transform: ``transform(points, mask or None)``: a tensor of the points' shape
            that replaces them (PointNet's T-Net); None: the points as given.

    Returns:
        an uncompiled functional model taking the named inputs.
    """
    specs = point_cloud_inputs(model_name, config, inputs)
    tensors = model_inputs(inputs)

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

    x = tensors[specs.points.name]
    if transform is not None:
        x = transform(x, tensors[specs.mask.name] if specs.mask else None)
    if specs.mask is not None:
        n_points = specs.points.shape[0]
        mask = keras.layers.Reshape((n_points, 1), name="mask_column")(tensors[specs.mask.name])
        x = keras.layers.Concatenate(name="points_and_mask")([x, mask])
    for index, units in enumerate(config.point_units):
        x = dense(units, f"point_{index}", use_bias=specs.mask is None)(x)
        x = relu(f"point_{index}_relu")(x)
    if pooling == "max_average":
        maximum = keras.layers.GlobalMaxPooling1D(name="max_pool")(x)
        average = relu("pool_quantizer")(keras.layers.GlobalAveragePooling1D(name="pool")(x))
        x = keras.layers.Concatenate(name="max_and_average")([maximum, average])
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling1D(name="pool")(x)
    else:
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
        # back on the activation grid: firmware reproduces a quantized mean exactly,
        # a float32 mean over N points (N not a power of two) it cannot
        x = relu("pool_quantizer")(x)
    x = join_globals(x, tensors, specs.globals)
    for index, units in enumerate(config.head_units):
        x = dense(units, f"head_{index}")(x)
        x = relu(f"head_{index}_relu")(x)
    outputs = dense(output.n_outputs, "output")(x)
    return keras.Model(list(tensors.values()), outputs, name=model_name)
