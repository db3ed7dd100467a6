"""A new task and a new model plug in through the registries, without touching the trainer."""

import json

import numpy as np
import pytest

from smartml.backend import keras, tf
from smartml.config import StrictModel
from smartml.config.base import ModelSection
from smartml.config.loader import validate_config
from smartml.outputs.point_regression import PointRegression
from smartml.registry import MODELS, TASKS
from smartml.tasks.base import Examples, InputSpec, Task
from smartml.training.trainer import train


class LineDataConfig(StrictModel):
    n_points: int = 512
    slope: float = 3.0


class LineTask(Task):
    """y = slope * x + noise, judged as a point regression."""

    @property
    def inputs(self):
        return {"x": InputSpec("x", (1,))}

    @property
    def output(self):
        return PointRegression(["y"], [""])

    def prepare(self, fit: bool) -> None:
        rng = np.random.default_rng(0)
        self.x = rng.uniform(-1, 1, (self.config.data.n_points, 1)).astype(np.float32)
        noise = rng.normal(0, 0.01, self.x.shape)
        self.y = (self.config.data.slope * self.x + noise).astype(np.float32)

    def datasets(self):
        data = tf.data.Dataset.from_tensor_slices(({"x": self.x}, self.y)).batch(32)
        return data, data

    def examples(self, split, max_n=None):
        return Examples({"x": self.x}, self.y).head(max_n)


class LinearConfig(ModelSection):
    name: str = "linear"


class Linear:
    exportable = False

    @staticmethod
    def export_refusal(config):
        return "a float Dense layer"

    @staticmethod
    def build(config, inputs, output):
        (spec,) = inputs.values()
        tensor = keras.Input(spec.shape, name=spec.name)
        return keras.Model(tensor, keras.layers.Dense(output.n_outputs)(tensor))


@pytest.fixture
def line_components():
    TASKS.register("line", implementation=f"{__name__}:LineTask")(LineDataConfig)
    MODELS.register("linear", implementation=f"{__name__}:Linear")(LinearConfig)
    yield
    TASKS.unregister("line")
    MODELS.unregister("linear")


def test_registered_task_and_model_train_through_the_generic_trainer(tmp_path, line_components):
    config = validate_config(
        {
            "name": "line",
            "task": {"name": "line"},
            "data": {"slope": -2.0},
            "model": {"name": "linear"},
            "training": {"epochs": 40, "learning_rate": 0.05, "verbose": 0},
            "output": {"dir": str(tmp_path / "run")},
        }
    )
    run_dir = train(config)
    metrics = json.loads(run_dir.metrics.read_text())
    assert metrics["y"]["rms"] < 0.05
    assert run_dir.is_complete()


def test_the_task_schema_validates_the_data_section(line_components):
    from smartml.errors import ConfigError

    with pytest.raises(ConfigError, match=r"data.slop: unknown key 'slop'; did you mean 'slope'\?"):
        validate_config(
            {
                "name": "l",
                "task": {"name": "line"},
                "data": {"slop": 1},
                "model": {"name": "linear"},
            }
        )
