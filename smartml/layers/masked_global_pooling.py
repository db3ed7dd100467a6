"""Global pooling over the real points of a padded point cloud."""

from __future__ import annotations

from collections.abc import Sequence

from smartml.backend import keras, tf

POOLING_MODES = ("max", "average")


@keras.utils.register_keras_serializable(package="smartml")
class MaskedGlobalPooling(keras.layers.Layer):
    """Max and/or mean of each feature over the real points (mask 1), concatenated in
    the order of ``modes``; padding never enters. An event without real points gives 0.

    Args:
        modes: any of ``"max"``, ``"average"``, in output order.

    Input shape:
        ``[features (B, N, C), mask (B, N)]``.

    Output shape:
        (B, C · len(modes)).

    >>> pool = MaskedGlobalPooling(["max", "average"])
    >>> x = tf.constant([[[-1.0], [-3.0], [100.0]]])
    >>> pool([x, tf.constant([[1.0, 1.0, 0.0]])]).numpy().tolist()
    [[-1.0, -2.0]]
    """

    def __init__(self, modes: Sequence[str] = POOLING_MODES, **kwargs) -> None:
        super().__init__(**kwargs)
        unknown = [mode for mode in modes if mode not in POOLING_MODES]
        if not modes or unknown:
            raise ValueError(
                f"MaskedGlobalPooling {self.name!r}: modes must be among {POOLING_MODES}, "
                f"got {list(modes)}"
            )
        self.modes = list(modes)

    def call(self, inputs):
        features, mask = inputs
        real = (mask > 0)[..., None]
        count = tf.reduce_sum(tf.cast(real, features.dtype), axis=1)  # (B, 1)
        pooled = []
        for mode in self.modes:
            if mode == "max":
                largest = tf.reduce_max(tf.where(real, features, features.dtype.min), axis=1)
                pooled.append(tf.where(count > 0, largest, tf.zeros_like(largest)))
            else:
                total = tf.reduce_sum(tf.where(real, features, tf.zeros_like(features)), axis=1)
                pooled.append(total / tf.maximum(count, 1.0))
        return pooled[0] if len(pooled) == 1 else tf.concat(pooled, axis=-1)

    def compute_output_shape(self, input_shape):
        features_shape, _ = input_shape
        return tf.TensorShape([features_shape[0], features_shape[2] * len(self.modes)])

    def get_config(self) -> dict:
        return {**super().get_config(), "modes": self.modes}
