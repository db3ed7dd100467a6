"""training.initial_weights: start a run from a trained model of the same architecture."""

import numpy as np
import pixel_files
import pytest

from smartml.errors import ConfigError, RunDirectoryError
from smartml.training.trainer import load_initial_weights


def pixel_model(seed: int, **config):
    from smartml.backend import keras

    keras.utils.set_random_seed(seed)
    return pixel_files.pixel_model(**config)


def test_weights_are_copied_from_a_model_file(tmp_path):
    trained, fresh = pixel_model(0), pixel_model(1)
    trained.save(tmp_path / "model.h5")
    load_initial_weights(fresh, str(tmp_path / "model.h5"))
    for mine, theirs in zip(fresh.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_bad_sources_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"training.initial_weights: .*nothing: no such"):
        load_initial_weights(pixel_model(0), str(tmp_path / "nothing"))
    (tmp_path / "run").mkdir()
    with pytest.raises(RunDirectoryError, match="run is incomplete"):
        load_initial_weights(pixel_model(0), str(tmp_path / "run"))
    pixel_model(0, hidden_units=[8]).save(tmp_path / "other.h5")
    with pytest.raises(ConfigError, match="architecture differs from the configured model"):
        load_initial_weights(pixel_model(1), str(tmp_path / "other.h5"))
