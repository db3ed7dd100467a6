"""A float CNN for smart-pixel clusters, the resolution reference of ``pixel_mdn``.

Default architecture (input (13, 21, T))::

    Conv2D(16, 3x3, same) -> GELU
    Conv2D(16, 3x3, same) -> GELU
    AveragePooling2D(2)                 (after ``pool_after`` convolutions)
    Conv2D(32, 3x3, same) -> GELU
    Flatten
    Dense(64)  -> GELU
    Dense(64)  -> GELU
    Dense(14)                           the Gaussian's parameters (see smartml.losses)

The last layer is the same as ``pixel_mdn``'s, so the loss (the Gaussian NLL), the
targets and every metric are the same: its widths and pulls compare directly.

>>> from smartml.models.pixel_cnn.builder import PixelCNN
>>> from smartml.models.pixel_cnn.schema import PixelCNNConfig
>>> from smartml.outputs.gaussian_mdn import GaussianMDN
>>> from smartml.tasks.base import InputSpec
>>> model = PixelCNN.build(PixelCNNConfig(), {"pixels": InputSpec("pixels", (13, 21, 2))},
...                        GaussianMDN(["x", "y", "cot_alpha", "cot_beta"], ["", "", "", ""]))
>>> model.output_shape, model.count_params()
((None, 14), 135278)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smartml.backend import keras
from smartml.errors import ConfigError
from smartml.models.contract import model_builder
from smartml.models.image_input import single_image
from smartml.models.pixel_cnn.schema import PixelCNNConfig

if TYPE_CHECKING:
    from smartml.outputs.base import OutputKind
    from smartml.tasks.base import InputSpec


@model_builder
class PixelCNN:
    """Builder of the float reference CNN (registered as ``pixel_cnn``)."""

    exportable = False

    @staticmethod
    def export_refusal(config: PixelCNNConfig) -> str | None:
        """Never exportable: why."""
        return "pixel_cnn is a float reference network, not quantized; export pixel_mdn"

    @staticmethod
    def build(
        config: PixelCNNConfig, inputs: dict[str, InputSpec], output: OutputKind
    ) -> keras.Model:
        """Args:
            config: the ``model`` section.
            inputs: one image input, (13, 21, T).
            output: its ``n_outputs`` is the last layer's size.

        Returns:
            an uncompiled functional ``keras.Model``.
        """
        image = single_image(inputs, "pixel_cnn")
        if config.pool_after > len(config.conv_filters):
            raise ConfigError(
                f"model.pool_after: {config.pool_after} is more than the "
                f"{len(config.conv_filters)} convolutions of model.conv_filters"
            )
        tensor = keras.Input(shape=image.shape, name=image.name)
        x = tensor
        for index, filters in enumerate(config.conv_filters):
            x = keras.layers.Conv2D(
                filters,
                config.kernel_size,
                padding="same",
                activation=config.activation,
                name=f"conv_{index}",
            )(x)
            if index + 1 == config.pool_after:
                x = keras.layers.AveragePooling2D(2, name="pool")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        for index, units in enumerate(config.hidden_units):
            x = keras.layers.Dense(units, activation=config.activation, name=f"dense_{index}")(x)
        outputs = keras.layers.Dense(output.n_outputs, name="gaussian_params")(x)
        return keras.Model(tensor, outputs, name="pixel_cnn")
