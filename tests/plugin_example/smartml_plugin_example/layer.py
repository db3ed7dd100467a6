"""``PowerOfTwoScale``: ``y = x·2^shift``, exact in floating and fixed point."""

from __future__ import annotations

from smartml.backend import keras


@keras.utils.register_keras_serializable(package="smartml_plugin_example")
class PowerOfTwoScale(keras.layers.Layer):
    """Multiplies its input by ``2^shift`` (a shift of the binary point in firmware).

    Args:
        shift: the power of two, negative to divide.
    """

    def __init__(self, shift: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shift = int(shift)

    def call(self, inputs):
        return inputs * (2.0**self.shift)

    def get_config(self) -> dict:
        return {**super().get_config(), "shift": self.shift}
