"""Negative log-likelihood of a multivariate Gaussian with a learned full covariance.

The network's last layer emits, for ``k`` targets, ``k + k(k+1)/2`` numbers:

- first, interleaved, each target's mean and the raw diagonal entry of its row of the
  lower-triangular Cholesky factor ``L`` of the covariance:
  ``[μ1, d1, μ2, d2, …, μk, dk]``;
- then the strictly-lower entries of ``L`` row by row: ``L21, L31, L32, L41, L42, L43, …``.

For the four smart-pixel targets this is the 14-output order
``[x, L11, y, L22, cotα, L33, cotβ, L44, L21, L31, L32, L41, L42, L43]``.

The diagonal is made positive with ``L_ii = softplus(d_i) + min_sigma`` and the
covariance is ``Σ = L Lᵀ``. With ``z`` the solution of ``L z = y − μ`` (forward
substitution, closed form), the loss per sample is

    NLL = ½ ‖z‖² + Σ_i log L_ii + (k/2) log 2π,

computed entirely in log space: no probability is formed, so nothing is clipped
before a logarithm and the gradient never vanishes because of a floor. It is
evaluated in float64 so that it is finite, with finite gradients, for any finite
float32 network output (outputs are limited to ±1e4 normalised units first, far
beyond anything a quantized network reaches, and the per-sample value is capped at
1e30 before it returns to float32).

Example (one sample, identity covariance up to the softplus offset):

>>> import numpy as np
>>> loss = MultivariateGaussianNLL(n_targets=1, min_sigma=0.0)
>>> raw = np.log(np.e - 1.0)            # softplus(raw) == 1
>>> float(loss(np.array([[0.0]]), np.array([[0.0, raw]])))  # ½ log 2π
0.918938...
"""

import math

import numpy as np

from smartml.backend import keras, tf

_OUTPUT_LIMIT = 1e4
_LOSS_CAP = 1e30


def n_mdn_outputs(n_targets: int) -> int:
    """Number of network outputs for ``n_targets`` (14 for 4).

    >>> n_mdn_outputs(4)
    14
    """
    return n_targets + n_targets * (n_targets + 1) // 2


def _lower_indices(n_targets: int) -> list[tuple[int, int]]:
    """(row, col) of the strictly-lower entries in output order (row-major)."""
    return [(row, col) for row in range(n_targets) for col in range(row)]


def _cholesky_parts(outputs, k: int, min_sigma: float):
    """(mean, positive diagonal of L, {(row, col): strictly-lower entry}) of network
    outputs, in float64, limited to ±1e4 first."""
    outputs = tf.clip_by_value(tf.cast(outputs, tf.float64), -_OUTPUT_LIMIT, _OUTPUT_LIMIT)
    mean = outputs[:, 0 : 2 * k : 2]
    diagonal = tf.nn.softplus(outputs[:, 1 : 2 * k : 2]) + min_sigma
    entries = tf.unstack(outputs[:, 2 * k :], num=k * (k - 1) // 2, axis=1)
    return mean, diagonal, dict(zip(_lower_indices(k), entries, strict=True))


def _forward_substitution(diagonal, lower, right, k: int):
    """z with L z = right, row by row (L lower triangular; batch of k-vectors)."""
    solved: list = []
    for row in range(k):
        value = right[:, row]
        for col in range(row):
            value = value - lower[(row, col)] * solved[col]
        solved.append(value / diagonal[:, row])
    return tf.stack(solved, axis=1)


@keras.utils.register_keras_serializable(package="smartml")
class MultivariateGaussianNLL(keras.losses.Loss):
    """Mean negative log-likelihood of a k-variate Gaussian with Cholesky-parametrised covariance.

    Args:
        n_targets: number of regressed quantities ``k``.
        min_sigma: added to each softplus'd diagonal entry of ``L``; a floor on the
            resolution the network may claim (in the units of the normalised targets).

    Input shape:
        ``y_true``: (batch, k); ``y_pred``: (batch, k + k(k+1)/2) in the order above.

    Output shape:
        scalar, the batch average (Keras' default reduction).
    """

    def __init__(self, n_targets: int = 4, min_sigma: float = 1e-3, name="gaussian_nll", **kw):
        super().__init__(name=name, **kw)
        self.n_targets = int(n_targets)
        self.min_sigma = float(min_sigma)

    def call(self, y_true, y_pred):
        k = self.n_targets
        mean, diagonal, lower = _cholesky_parts(y_pred, k, self.min_sigma)
        z = _forward_substitution(diagonal, lower, tf.cast(y_true, tf.float64) - mean, k)
        nll = (
            0.5 * tf.reduce_sum(tf.square(z), axis=1)
            + tf.reduce_sum(tf.math.log(diagonal), axis=1)
            + 0.5 * k * math.log(2.0 * math.pi)
        )
        return tf.cast(tf.minimum(nll, _LOSS_CAP), tf.float32)

    def expected_under(self, teacher, y_pred):
        """The NLL averaged over targets drawn from the teacher's Gaussian, in closed
        form: the distillation loss of a student ``y_pred`` (per sample).

        ``E[NLL(y)] = NLL(μ_t) + ½ tr(Σ_s⁻¹ Σ_t)`` with ``tr(Σ_s⁻¹ Σ_t) = ‖L_s⁻¹ L_t‖²``.
        It is KL(teacher ‖ student) plus the teacher's entropy: smallest where the
        student's mean and covariance are the teacher's.

        Args:
            teacher: (batch, k + k(k+1)/2) outputs of the teacher network.
            y_pred: the student's outputs, same shape.

        >>> import numpy as np
        >>> loss = MultivariateGaussianNLL(n_targets=1, min_sigma=0.0)
        >>> raw = np.log(np.e - 1.0)            # σ = 1
        >>> teacher = np.array([[0.0, raw]])
        >>> float(loss.expected_under(teacher, teacher)[0])  # ½ log 2π + ½
        1.418938...
        """
        k = self.n_targets
        teacher_mean, teacher_diagonal, teacher_lower = _cholesky_parts(teacher, k, self.min_sigma)
        mean, diagonal, lower = _cholesky_parts(y_pred, k, self.min_sigma)
        z = _forward_substitution(diagonal, lower, teacher_mean - mean, k)
        trace = tf.zeros_like(z[:, 0])
        for col in range(k):  # column col of L_s⁻¹ L_t: solve L_s w = (L_t)[:, col]
            column = [
                teacher_diagonal[:, row]
                if row == col
                else (teacher_lower[(row, col)] if row > col else tf.zeros_like(trace))
                for row in range(k)
            ]
            w = _forward_substitution(diagonal, lower, tf.stack(column, axis=1), k)
            trace = trace + tf.reduce_sum(tf.square(w), axis=1)
        nll = (
            0.5 * tf.reduce_sum(tf.square(z), axis=1)
            + 0.5 * trace
            + tf.reduce_sum(tf.math.log(diagonal), axis=1)
            + 0.5 * k * math.log(2.0 * math.pi)
        )
        return tf.cast(tf.minimum(nll, _LOSS_CAP), tf.float32)

    def get_config(self):
        return {**super().get_config(), "n_targets": self.n_targets, "min_sigma": self.min_sigma}


def gaussian_from_outputs(
    outputs: np.ndarray, n_targets: int = 4, min_sigma: float = 1e-3
) -> tuple[np.ndarray, np.ndarray]:
    """Means and covariances from network outputs, with the loss's conventions (numpy).

    Args:
        outputs: (n, k + k(k+1)/2) raw network outputs.

    Returns:
        ``mean`` (n, k) and ``covariance`` (n, k, k) = L Lᵀ, float64.

    >>> mean, cov = gaussian_from_outputs(np.array([[1.0, 0.0, 2.0, 0.0, 0.5]]), 2, 0.0)
    >>> mean.tolist(), np.round(cov, 3).tolist()
    ([[1.0, 2.0]], [[[0.48, 0.347], [0.347, 0.73]]])
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim != 2 or outputs.shape[1] != n_mdn_outputs(n_targets):
        raise ValueError(
            f"outputs: expected shape (n, {n_mdn_outputs(n_targets)}), got {outputs.shape}"
        )
    k = n_targets
    mean = outputs[:, 0 : 2 * k : 2]
    cholesky = np.zeros((len(outputs), k, k))
    diagonal = np.logaddexp(0.0, outputs[:, 1 : 2 * k : 2]) + min_sigma
    cholesky[:, np.arange(k), np.arange(k)] = diagonal
    for index, (row, col) in enumerate(_lower_indices(k)):
        cholesky[:, row, col] = outputs[:, 2 * k + index]
    return mean, cholesky @ np.transpose(cholesky, (0, 2, 1))
