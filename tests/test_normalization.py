"""Normalisation: fitted values, transforms and their inverses, the JSON file."""

import json

import numpy as np
import pytest

from smartml.errors import DataError, RunDirectoryError
from smartml.tasks.smart_pixels.normalization import PixelNormalization

TARGETS = ("x-midplane", "y-midplane", "cotAlpha", "cotBeta")


def sparse_charges(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.exponential(2000.0, (n, 13, 21, 2)).astype(np.float32)
    x[rng.random(x.shape) < 0.9] = 0.0  # ~10% of pixels charged, as in real clusters
    return x


def targets(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = np.array([14.0, 3.6, 0.2, 1.5])
    return (rng.normal(size=(n, 4)) * scale + [1.0, -0.5, 0.01, 0.3]).astype(np.float32)


@pytest.fixture(scope="module")
def fitted() -> tuple[PixelNormalization, np.ndarray, np.ndarray]:
    x, y = sparse_charges(500, 1), targets(500, 2)
    return PixelNormalization.fit(x, y, TARGETS), x, y


def test_fit_matches_numpy(fitted):
    norm, x, y = fitted
    assert norm.charge_scale == pytest.approx(np.std(x.astype(np.float64)), rel=1e-9)
    np.testing.assert_allclose(norm.target_mean, y.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(norm.target_std, y.astype(np.float64).std(axis=0), rtol=1e-12)
    assert norm.target_names == TARGETS


def test_fit_on_batches_equals_fit_on_everything(fitted):
    norm, x, y = fitted
    batches = [(x[:100], y[:100]), (x[100:350], y[100:350], "ignored"), (x[350:], y[350:])]
    streamed = PixelNormalization.fit_batches(iter(batches), TARGETS)
    assert streamed.charge_scale == pytest.approx(norm.charge_scale, rel=1e-9)
    np.testing.assert_allclose(streamed.target_mean, norm.target_mean, rtol=1e-12)
    np.testing.assert_allclose(streamed.target_std, norm.target_std, rtol=1e-12)


def test_inputs_are_scaled_and_zero_stays_zero(fitted):
    norm, x, _ = fitted
    x_norm = norm.transform_inputs(x)
    assert x_norm.dtype == np.float32
    np.testing.assert_array_equal(x_norm == 0, x == 0)
    np.testing.assert_allclose(x_norm, x / norm.charge_scale, rtol=1e-6)
    assert np.std(x_norm.astype(np.float64)) == pytest.approx(1.0, rel=1e-5)


def test_inputs_can_be_scaled_in_place(fitted):
    norm, x, _ = fitted
    copy = x.copy()
    result = norm.transform_inputs(copy, out=copy)
    assert result is copy
    np.testing.assert_array_equal(copy, norm.transform_inputs(x))


def test_targets_are_standardised_and_inverted(fitted):
    norm, _, y = fitted
    y_norm = norm.transform_targets(y)
    assert y_norm.dtype == np.float32
    np.testing.assert_allclose(y_norm.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(y_norm.std(axis=0), 1.0, rtol=1e-5)
    np.testing.assert_allclose(norm.inverse_targets(y_norm), y, rtol=1e-6, atol=1e-6)


def test_inverse_covariance_is_d_c_d(fitted):
    norm, _, _ = fitted
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 4, 4))
    cov_norm = a @ a.transpose(0, 2, 1) + np.eye(4)  # positive definite
    d = np.diag(norm.target_std)
    expected = np.einsum("ij,njk,kl->nil", d, cov_norm, d)
    np.testing.assert_allclose(norm.inverse_covariance(cov_norm), expected, rtol=1e-12)


def test_inverse_covariance_matches_the_spread_of_inverted_samples(fitted):
    """Samples drawn with covariance C' in normalised units, mapped back with
    inverse_targets, have the covariance inverse_covariance(C') (independent check)."""
    norm, _, _ = fitted
    cov_norm = np.array([[1.0, 0.5, 0, 0], [0.5, 2.0, 0, 0.3], [0, 0, 0.5, 0], [0, 0.3, 0, 1]])
    samples = np.random.default_rng(1).multivariate_normal(np.zeros(4), cov_norm, 200_000)
    physical = np.cov(norm.inverse_targets(samples), rowvar=False)
    np.testing.assert_allclose(
        physical, norm.inverse_covariance(cov_norm), rtol=0.02, atol=0.02 * norm.target_std.max()
    )


def test_inverse_covariance_rejects_the_wrong_shape(fitted):
    with pytest.raises(ValueError, match="4, 4"):
        fitted[0].inverse_covariance(np.zeros((3, 3)))


# -- fitting on bad data ---------------------------------------------------------------


def test_constant_target_is_named():
    y = targets(50, 0)
    y[:, 2] = 0.25
    with pytest.raises(DataError, match="target 'cotAlpha' is constant"):
        PixelNormalization.fit(sparse_charges(50, 0), y, TARGETS)


def test_nan_target_is_named():
    y = targets(50, 0)
    y[7, 3] = np.nan
    with pytest.raises(DataError, match="target 'cotBeta' has NaN"):
        PixelNormalization.fit(sparse_charges(50, 0), y, TARGETS)


def test_nan_pixel_is_an_error():
    x = sparse_charges(50, 0)
    x[3, 4, 5, 1] = np.inf
    with pytest.raises(DataError, match="pixels contain NaN or inf"):
        PixelNormalization.fit(x, targets(50, 0), TARGETS)


def test_all_zero_pixels_are_an_error():
    with pytest.raises(DataError, match="std 0"):
        PixelNormalization.fit(np.zeros((50, 13, 21, 2)), targets(50, 0), TARGETS)


def test_no_clusters_is_an_error():
    with pytest.raises(DataError, match="no training clusters"):
        PixelNormalization.fit_batches([], TARGETS)


def test_names_must_match_the_targets():
    with pytest.raises(ValueError, match="4 target columns but 2"):
        PixelNormalization.fit(sparse_charges(5, 0), targets(5, 0), TARGETS[:2])


# -- the JSON file ---------------------------------------------------------------------


def test_save_and_load_round_trip_exactly(fitted, tmp_path):
    norm = fitted[0]
    path = tmp_path / "normalization.json"
    norm.save(path)
    loaded = PixelNormalization.load(path)
    assert loaded.charge_scale == norm.charge_scale
    assert loaded.target_names == norm.target_names
    np.testing.assert_array_equal(loaded.target_mean, norm.target_mean)
    np.testing.assert_array_equal(loaded.target_std, norm.target_std)
    assert json.loads(path.read_text())["version"] == 1
    assert not list(tmp_path.glob("*.tmp"))


def saved(tmp_path, fitted, **changes):
    content = fitted[0].to_dict()
    for key, value in changes.items():
        if value is KeyError:
            del content[key]
        else:
            content[key] = value
    path = tmp_path / "normalization.json"
    path.write_text(json.dumps(content))
    return path


def load_error(path) -> str:
    with pytest.raises(RunDirectoryError) as caught:
        PixelNormalization.load(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


def test_load_missing_file(tmp_path):
    assert "not found" in load_error(tmp_path / "normalization.json")


def test_load_non_json(tmp_path):
    path = tmp_path / "normalization.json"
    path.write_text("charge_scale = 3\n")
    assert "not valid JSON" in load_error(path)


def test_load_json_that_is_not_an_object(tmp_path):
    path = tmp_path / "normalization.json"
    path.write_text("[1, 2]")
    assert "expected a JSON object" in load_error(path)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"target_std": KeyError}, "missing key 'target_std'"),
        ({"charge_scale": KeyError}, "missing key 'charge_scale'"),
        ({"extra": 1}, "unexpected key 'extra'"),
        ({"version": 2}, "key 'version' is 2, expected 1"),
        ({"charge_scale": 0.0}, "key 'charge_scale'"),
        ({"charge_scale": "12"}, "key 'charge_scale'"),
        ({"charge_scale": True}, "key 'charge_scale'"),
        ({"target_std": [1.0, 0.0, 1.0, 1.0]}, "key 'target_std'"),
        ({"target_std": [1.0, 1.0, 1.0]}, "key 'target_std'"),
        ({"target_mean": [0.0, None, 0.0, 0.0]}, "key 'target_mean'"),
        ({"target_mean": 0.0}, "key 'target_mean'"),
        ({"target_names": []}, "key 'target_names'"),
        ({"target_names": "cotBeta"}, "key 'target_names'"),
    ],
)
def test_load_rejects_bad_content_naming_the_key(tmp_path, fitted, changes, expected):
    assert expected in load_error(saved(tmp_path, fitted, **changes))


def test_load_rejects_nan_written_as_a_json_literal(tmp_path, fitted):
    content = fitted[0].to_dict()
    text = json.dumps(content).replace(repr(content["charge_scale"]), "NaN")
    path = tmp_path / "normalization.json"
    path.write_text(text)
    assert "NaN" in text and "key 'charge_scale'" in load_error(path)


def test_chunks_emptied_by_a_cut_are_skipped_when_fitting():
    x, y = sparse_charges(60, 3), targets(60, 4)
    empty = (np.zeros((0, 13, 21, 2), np.float32), np.zeros((0, 4), np.float32))
    streamed = PixelNormalization.fit_batches([(x[:30], y[:30]), empty, (x[30:], y[30:])], TARGETS)
    whole = PixelNormalization.fit(x, y, TARGETS)
    assert streamed.charge_scale == pytest.approx(whole.charge_scale, rel=1e-12)
    np.testing.assert_allclose(streamed.target_std, whole.target_std, rtol=1e-12)
