"""smartml.data.scaling: target standardisation, its inverses and its stored form."""

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from smartml.data.scaling import TargetScaling
from smartml.errors import ConfigError, DataError, RunDirectoryError

NAMES = ("weight", "log_pt")


def targets(n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 2)) * [3.0, 0.2] + [10.0, -1.0]).astype(np.float32)


@pytest.fixture(scope="module")
def fitted() -> tuple[TargetScaling, np.ndarray]:
    y = targets()
    return TargetScaling.fit(y, NAMES), y


def test_fit_and_transform_match_scikit_learn(fitted):
    scaling, y = fitted
    reference = StandardScaler().fit(y.astype(np.float64))
    np.testing.assert_allclose(scaling.target_mean, reference.mean_, rtol=1e-12)
    np.testing.assert_allclose(scaling.target_std, reference.scale_, rtol=1e-12)
    np.testing.assert_allclose(scaling.transform(y), reference.transform(y), rtol=1e-5, atol=1e-6)
    assert scaling.transform(y).dtype == np.float32 and scaling.target_names == NAMES


def test_streamed_fit_equals_fit_on_everything(fitted):
    scaling, y = fitted
    streamed = TargetScaling.fit_batches(iter([y[:50], y[50:51], y[51:]]), NAMES)
    np.testing.assert_allclose(streamed.target_mean, scaling.target_mean, rtol=1e-12)
    np.testing.assert_allclose(streamed.target_std, scaling.target_std, rtol=1e-12)


def test_inverse_undoes_the_transform(fitted):
    scaling, y = fitted
    np.testing.assert_allclose(scaling.inverse(scaling.transform(y)), y, rtol=1e-6, atol=1e-5)


def test_inverse_covariance_is_d_c_d(fitted):
    scaling, _ = fitted
    a = np.random.default_rng(3).normal(size=(6, 2, 2))
    cov_norm = a @ a.transpose(0, 2, 1) + np.eye(2)
    d = np.diag(scaling.target_std)
    expected = np.einsum("ij,njk,kl->nil", d, cov_norm, d)
    np.testing.assert_allclose(scaling.inverse_covariance(cov_norm), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="2, 2"):
        scaling.inverse_covariance(np.eye(3))


def test_dict_round_trip_is_exact(fitted):
    scaling, _ = fitted
    content = scaling.to_dict()
    assert list(content) == ["target_names", "target_mean", "target_std"]
    loaded = TargetScaling.from_dict({**content, "other": 1}, "run/normalization.json")
    assert loaded.target_names == scaling.target_names
    np.testing.assert_array_equal(loaded.target_mean, scaling.target_mean)
    np.testing.assert_array_equal(loaded.target_std, scaling.target_std)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"target_std": KeyError}, "missing key 'target_std'"),
        ({"target_names": []}, "key 'target_names' must be a non-empty list"),
        ({"target_names": [1, 2]}, "key 'target_names'"),
        ({"target_mean": [1.0]}, "key 'target_mean' must be a list of 2 numbers"),
        ({"target_mean": [1.0, float("nan")]}, "key 'target_mean'"),
        (
            {"target_std": [1.0, 0.0]},
            "key 'target_std' must be a list of 2 numbers, finite and > 0",
        ),
        ({"target_std": [1.0, "2"]}, "key 'target_std'"),
        ({"target_std": [True, 1.0]}, "key 'target_std'"),
    ],
)
def test_bad_stored_scalings_name_the_file_and_key(fitted, changes, expected):
    content = fitted[0].to_dict()
    for key, value in changes.items():
        if value is KeyError:
            del content[key]
        else:
            content[key] = value
    with pytest.raises(RunDirectoryError) as caught:
        TargetScaling.from_dict(content, "run/normalization.json")
    message = str(caught.value)
    assert message.startswith("run/normalization.json: ") and expected in message
    assert "\n" not in message


def test_the_error_class_can_be_chosen(fitted):
    with pytest.raises(ConfigError, match="missing key 'target_names'"):
        TargetScaling.from_dict({}, "config.json", ConfigError)


def test_nan_target_is_named():
    y = targets()
    y[5, 1] = np.nan
    with pytest.raises(DataError, match="target 'log_pt' has NaN or inf"):
        TargetScaling.fit(y, NAMES)


def test_constant_target_is_named():
    y = targets()
    y[:, 0] = 4.5
    with pytest.raises(DataError, match="target 'weight' is constant"):
        TargetScaling.fit(y, NAMES)


def test_no_examples_is_an_error():
    with pytest.raises(DataError, match="no training examples"):
        TargetScaling.fit_batches([], NAMES)
    with pytest.raises(DataError, match="no training examples"):
        TargetScaling.fit(np.zeros((0, 2)), NAMES)


def test_names_must_match_the_columns():
    with pytest.raises(ValueError, match="2 target columns but 3"):
        TargetScaling.fit(targets(), ("a", "b", "c"))
    with pytest.raises(ValueError, match="one value per target"):
        TargetScaling(NAMES, [0.0], [1.0])
