"""The MDN loss against scipy's multivariate normal, its extremes, and serialisation."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from smartml.backend import keras, tf
from smartml.losses import MultivariateGaussianNLL, gaussian_from_outputs, n_mdn_outputs


def random_outputs(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return rng.normal(0.0, 1.0, size=(n, n_mdn_outputs(k)))


def scipy_nll(y: np.ndarray, outputs: np.ndarray, k: int, min_sigma: float) -> np.ndarray:
    """Independent: build L by hand from the documented order, Σ = L Lᵀ, scipy logpdf."""
    values = []
    lower = [(row, col) for row in range(k) for col in range(row)]
    for target, out in zip(y, outputs, strict=True):
        cholesky = np.zeros((k, k))
        for i in range(k):
            cholesky[i, i] = np.log1p(np.exp(out[2 * i + 1])) + min_sigma
        for index, (row, col) in enumerate(lower):
            cholesky[row, col] = out[2 * k + index]
        mean = out[0 : 2 * k : 2]
        values.append(-multivariate_normal(mean, cholesky @ cholesky.T).logpdf(target))
    return np.array(values)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_matches_scipy_logpdf(k):
    rng = np.random.default_rng(k)
    outputs = random_outputs(rng, 64, k)
    y = rng.normal(0.0, 1.5, size=(64, k))
    loss = MultivariateGaussianNLL(n_targets=k, min_sigma=1e-3)
    per_sample = loss.call(tf.constant(y, tf.float32), tf.constant(outputs, tf.float32)).numpy()
    expected = scipy_nll(y.astype(np.float32), outputs.astype(np.float32), k, 1e-3)
    np.testing.assert_allclose(per_sample, expected, rtol=1e-5)
    np.testing.assert_allclose(float(loss(y, outputs)), expected.mean(), rtol=1e-5)


def test_output_order_of_the_four_targets():
    """[x, L11, y, L22, cotα, L33, cotβ, L44, L21, L31, L32, L41, L42, L43]."""
    outputs = np.zeros((1, 14))
    outputs[0, [0, 2, 4, 6]] = [10, 20, 30, 40]
    outputs[0, 8:] = [21, 31, 32, 41, 42, 43]
    mean, covariance = gaussian_from_outputs(outputs, 4, 0.0)
    assert mean.tolist() == [[10, 20, 30, 40]]
    cholesky = np.linalg.cholesky(covariance[0])
    # L is recovered exactly: Cholesky is unique with a positive diagonal.
    np.testing.assert_allclose(
        cholesky[[1, 2, 2, 3, 3, 3], [0, 0, 1, 0, 1, 2]], [21, 31, 32, 41, 42, 43], rtol=1e-6
    )
    np.testing.assert_allclose(np.diag(cholesky), np.log(2.0), rtol=1e-6)


@pytest.mark.parametrize("extreme", [3e38, -3e38, 1e10, -1e10, 80.0, -80.0, 0.0])
def test_finite_loss_and_gradient_for_any_finite_output(extreme):
    outputs = tf.Variable(np.full((3, 14), extreme, np.float32))
    y = tf.constant(np.array([[0.0, 1.0, -1.0, 2.0]] * 3, np.float32))
    loss = MultivariateGaussianNLL()
    with tf.GradientTape() as tape:
        value = loss(y, outputs)
    gradient = tape.gradient(value, outputs)
    assert np.isfinite(value.numpy())
    assert np.all(np.isfinite(gradient.numpy()))


def test_gradient_does_not_vanish_far_from_the_truth():
    """A probability->clip->log loss is flat here; the log-space loss keeps pulling."""
    outputs = tf.Variable(np.zeros((1, 14), np.float32))
    y = tf.constant([[50.0, 0.0, 0.0, 0.0]])
    with tf.GradientTape() as tape:
        value = MultivariateGaussianNLL()(y, outputs)
    assert tape.gradient(value, outputs).numpy()[0, 0] < -10


def test_serialises_with_a_model(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(5)(inputs))
    model.compile(loss=MultivariateGaussianNLL(n_targets=2, min_sigma=0.01))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.loss, MultivariateGaussianNLL)
    assert loaded.loss.get_config()["min_sigma"] == 0.01
    assert loaded.loss.n_targets == 2


def test_bad_output_width_is_named():
    with pytest.raises(ValueError, match=r"outputs: expected shape \(n, 14\)"):
        gaussian_from_outputs(np.zeros((2, 13)))


def expected_nll_numpy(teacher: np.ndarray, student: np.ndarray, k: int) -> np.ndarray:
    """E over y ~ N(μt, Σt) of the student's NLL, with numpy's linear algebra."""
    mean_t, cov_t = gaussian_from_outputs(teacher, k)
    mean_s, cov_s = gaussian_from_outputs(student, k)
    inverse = np.linalg.inv(cov_s)
    delta = mean_t - mean_s
    mahalanobis = np.einsum("ni,nij,nj->n", delta, inverse, delta)
    trace = np.einsum("nij,nji->n", inverse, cov_t)
    log_det = np.linalg.slogdet(cov_s)[1]
    return 0.5 * (mahalanobis + trace + log_det + k * np.log(2 * np.pi))


def test_distillation_loss_is_the_expected_nll_under_the_teacher():
    k = 4
    rng = np.random.default_rng(7)
    teacher = rng.normal(scale=0.7, size=(64, n_mdn_outputs(k)))
    student = rng.normal(scale=0.7, size=(64, n_mdn_outputs(k)))
    loss = MultivariateGaussianNLL(n_targets=k)
    ours = loss.expected_under(teacher.astype("float32"), student.astype("float32")).numpy()
    np.testing.assert_allclose(ours, expected_nll_numpy(teacher, student, k), rtol=2e-5)
    # Monte Carlo: the average NLL of targets drawn from the teacher's Gaussian
    mean_t, cov_t = gaussian_from_outputs(teacher[:1], k)
    draws = rng.multivariate_normal(mean_t[0], cov_t[0], size=200_000)
    sampled = loss.call(draws, np.repeat(student[:1], len(draws), axis=0)).numpy()
    standard_error = sampled.std() / np.sqrt(len(sampled))
    assert abs(sampled.mean() - ours[0]) < 4 * standard_error


def test_distillation_loss_is_smallest_where_the_student_is_the_teacher():
    k = 4
    rng = np.random.default_rng(8)
    teacher = tf.constant(rng.normal(scale=0.5, size=(16, n_mdn_outputs(k))), tf.float32)
    student = tf.Variable(teacher)
    loss = MultivariateGaussianNLL(n_targets=k)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(loss.expected_under(teacher, student))
    assert float(tf.reduce_max(tf.abs(tape.gradient(value, student)))) < 1e-4
    nudged = loss.expected_under(teacher, student + 0.05 * rng.normal(size=student.shape))
    assert bool(tf.reduce_all(nudged > loss.expected_under(teacher, student)))
