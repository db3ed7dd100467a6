"""The one image input of the smart-pixel networks (``pixel_mdn``, ``pixel_profile_mdn``,
``pixel_cnn``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smartml.errors import ConfigError

if TYPE_CHECKING:
    from smartml.tasks.base import InputSpec


def single_image(inputs: dict[str, InputSpec], model_name: str) -> InputSpec:
    """The task's only input, a (rows, columns, slices) image.

    Raises:
        ConfigError: other inputs; one line naming the model and the shapes given.

    >>> from smartml.tasks.base import InputSpec
    >>> single_image({"pixels": InputSpec("pixels", (13, 21, 2))}, "pixel_mdn").shape
    (13, 21, 2)
    """
    if len(inputs) != 1 or len(next(iter(inputs.values())).shape) != 3:
        shapes = {name: spec.shape for name, spec in inputs.items()}
        raise ConfigError(
            f"model {model_name}: takes one (rows, columns, slices) image, got {shapes}"
        )
    return next(iter(inputs.values()))
