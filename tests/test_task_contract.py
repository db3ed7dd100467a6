"""The task contract's checks: examples, model against task, output kinds' auxiliary
columns, plugin modules; each failure is one line naming what is wrong."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from smartml.backend import keras
from smartml.errors import ConfigError, DataError
from smartml.models.binding import check_model_matches_task
from smartml.outputs.gaussian_mdn import GaussianMDN
from smartml.outputs.logits import Logits
from smartml.outputs.point_regression import PointRegression
from smartml.tasks.base import Examples, InputSpec


class DeclaredOnly:
    """What check_model_matches_task reads of a task."""

    def __init__(self):
        self.inputs = {
            "points": InputSpec("points", (4, 3)),
            "momentum": InputSpec("momentum", (1,)),
        }
        self.output = Logits(["muon", "pion"])


def two_input_model(n_outputs=1, point_shape=(4, 3)):
    points = keras.Input(point_shape, name="points")
    momentum = keras.Input((1,), name="momentum")
    merged = keras.layers.Concatenate()([keras.layers.Flatten()(points), momentum])
    return keras.Model([points, momentum], keras.layers.Dense(n_outputs)(merged))


def test_examples_of_different_lengths_are_refused():
    with pytest.raises(DataError, match=r"examples of different lengths: \{'x': 3, 'targets': 2\}"):
        Examples({"x": np.zeros((3, 1))}, np.zeros(2))
    examples = Examples({"x": np.arange(5.0)[:, None]}, np.arange(5), pd.DataFrame({"p": range(5)}))
    head = examples.head(2)
    assert len(head) == 2 and head.aux["p"].tolist() == [0, 1]
    assert examples.head(None) is examples


def test_a_model_must_take_the_declared_inputs_and_give_the_output_size():
    check_model_matches_task(two_input_model(), DeclaredOnly(), "model m")
    with pytest.raises(ConfigError, match=r"^model m: takes inputs .*'points': \(5, 3\).*declares"):
        check_model_matches_task(two_input_model(point_shape=(5, 3)), DeclaredOnly(), "model m")
    with pytest.raises(ConfigError, match=r"^model m: gives 2 outputs, Logits needs 1$"):
        check_model_matches_task(two_input_model(n_outputs=2), DeclaredOnly(), "model m")


def test_missing_auxiliary_columns_are_named():
    kind = PointRegression(["w"], [""], bin_variables={"momentum": "GeV/c"})
    with pytest.raises(DataError, match=r"lack the auxiliary columns \['momentum'\]"):
        kind.metrics(np.zeros((3, 1)), np.zeros((3, 1)), pd.DataFrame({"other": [1, 2, 3]}))
    gaussian = GaussianMDN(["x"], ["µm"], baselines={"x": "centroid_x"})
    with pytest.raises(DataError, match=r"lack the baseline columns \['centroid_x'\]"):
        gaussian.baseline_predictions(pd.DataFrame({"x": [1.0]}))


def test_output_kinds_refuse_inconsistent_declarations():
    with pytest.raises(ValueError, match="2 targets need as many units and labels"):
        PointRegression(["a", "b"], [""])
    with pytest.raises(ValueError, match=r"positive class 'kaon' is not among \['muon', 'pion'\]"):
        Logits(["muon", "pion"], positive="kaon")


def test_an_unimportable_plugin_is_one_line_naming_the_variable(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(
        '{"name": "x", "task": {"name": "smart_pixels"}, "data": {}, '
        '"model": {"name": "pixel_mdn"}}'
    )
    result = subprocess.run(
        [sys.executable, "-m", "smartml.train", str(config)],
        env={**os.environ, "SMARTML_PLUGINS": "no_such_plugin_module"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(
        "smartml.train: error: SMARTML_PLUGINS: cannot import 'no_such_plugin_module'"
    )
