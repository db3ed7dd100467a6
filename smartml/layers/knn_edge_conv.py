"""EdgeConv over a dynamic k-nearest-neighbour graph of the real points of a padded
point cloud (Wang et al., "Dynamic Graph CNN for Learning on Point Clouds", 2019).

For every point ``x_i`` its ``k`` nearest real points ``x_j`` (Euclidean distance in
the layer's input features, or in their first ``distance_features``; the point itself,
at distance 0, is one of them) give edge features ``[x_i, x_j − x_i]``; a shared MLP
maps each edge and the largest value over the neighbours is the point's output.

Padding (mask 0) is excluded everywhere: its features are replaced by 0 before
anything is computed (so its contents never matter), it is never a neighbour of any
point, and its own output is 0. An event with fewer than ``k`` real points takes all
of them as the neighbourhood: the remaining slots of the top-k (padding) are masked
out of the max, not filled with repeated points. An event without real points gives 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from smartml.backend import keras, tf


def nearest_neighbours(features: tf.Tensor, real: tf.Tensor, k: int) -> tuple[tf.Tensor, tf.Tensor]:
    """The ``k`` nearest real points of every point.

    Args:
        features: (B, N, F) coordinates in which distances are measured.
        real: (B, N) bool, True for a real point, False for padding.
        k: neighbours per point (≤ N).

    Returns:
        ``(indices, valid)``: (B, N, k) int32 point indices ordered by distance, and
        (B, N, k) bool, False for the slots beyond an event's real points (they hold
        a padding index and must be ignored).

    >>> points = tf.constant([[[0.0], [1.0], [3.0], [0.4]]])
    >>> indices, valid = nearest_neighbours(points, tf.constant([[True, True, True, False]]), 2)
    >>> indices.numpy().tolist(), bool(valid.numpy().all())
    ([[[0, 1], [1, 0], [2, 1], [0, 1]]], True)
    """
    squared = tf.reduce_sum(tf.square(features), axis=-1)
    dots = tf.matmul(features, features, transpose_b=True)
    distances = squared[:, :, None] - 2.0 * dots + squared[:, None, :]
    distances = tf.where(real[:, None, :], distances, tf.constant(float("inf"), features.dtype))
    _, indices = tf.math.top_k(-distances, k=k, sorted=True)
    return indices, tf.gather(real, indices, batch_dims=1)


@keras.utils.register_keras_serializable(package="smartml")
class KNNEdgeConv(keras.layers.Layer):
    """EdgeConv block with a dynamic kNN graph of the real points (float, not exportable:
    hls4ml has no kNN).

    Args:
        units: widths of the shared edge MLP (Dense layers, each followed by
            ``activation``).
        k: neighbours per point, the point itself included.
        distance_features: measure distances in the first this many input features
            (e.g. 2: x, y of the hits); None: in all of them (feature space).
        activation: Keras activation of every edge layer.

    Input shape:
        ``[points (B, N, F), mask (B, N)]``, mask 1 for a real point, 0 for padding.

    Output shape:
        (B, N, units[-1]); rows of padded points are 0.

    >>> layer = KNNEdgeConv([4], k=2)
    >>> points = tf.constant([[[0.0, 0.0], [1.0, 0.0], [9.0, 9.0]]])
    >>> out = layer([points, tf.constant([[1.0, 1.0, 0.0]])])
    >>> out.shape, float(tf.reduce_sum(tf.abs(out[0, 2])))
    (TensorShape([1, 3, 4]), 0.0)
    """

    def __init__(
        self,
        units: Sequence[int],
        k: int = 8,
        distance_features: int | None = None,
        activation: str = "relu",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if not units or k < 1 or (distance_features is not None and distance_features < 1):
            raise ValueError(
                f"KNNEdgeConv {self.name!r}: needs units, k ≥ 1 and distance_features ≥ 1 "
                f"(got {units}, {k}, {distance_features})"
            )
        self.units = list(units)
        self.k = k
        self.distance_features = distance_features
        self.activation = activation
        self.edge_layers = [
            keras.layers.Dense(width, activation=activation, name=f"edge_dense_{index}")
            for index, width in enumerate(self.units)
        ]

    def build(self, input_shape) -> None:
        points_shape, _ = input_shape
        n_points, n_features = int(points_shape[1]), int(points_shape[2])
        if self.k > n_points:
            raise ValueError(f"KNNEdgeConv {self.name!r}: k = {self.k} > {n_points} points")
        if self.distance_features is not None and self.distance_features > n_features:
            raise ValueError(
                f"KNNEdgeConv {self.name!r}: distance_features = {self.distance_features} > "
                f"{n_features} input features"
            )
        width = 2 * n_features
        for layer in self.edge_layers:
            with tf.name_scope(layer.name):  # unique weight names: HDF5 saving needs them
                layer.build((None, n_points, self.k, width))
            width = layer.units
        super().build(input_shape)

    def call(self, inputs):
        points, mask = inputs
        real = mask > 0
        # padding's contents never enter: not in distances, features or gradients
        points = tf.where(real[..., None], points, tf.zeros_like(points))
        space = points if self.distance_features is None else points[..., : self.distance_features]
        indices, valid = nearest_neighbours(space, real, self.k)
        neighbours = tf.gather(points, indices, batch_dims=1)  # (B, N, k, F)
        centres = tf.broadcast_to(points[:, :, None, :], tf.shape(neighbours))
        edges = tf.concat([centres, neighbours - centres], axis=-1)
        for layer in self.edge_layers:
            edges = layer(edges)
        edges = tf.where(valid[..., None], edges, edges.dtype.min)
        pooled = tf.reduce_max(edges, axis=2)
        return tf.where(real[..., None], pooled, tf.zeros_like(pooled))

    def compute_output_shape(self, input_shape):
        points_shape, _ = input_shape
        return tf.TensorShape([points_shape[0], points_shape[1], self.units[-1]])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "k": self.k,
            "distance_features": self.distance_features,
            "activation": self.activation,
        }
