"""The ``data`` section of ``example_waves`` and the ``model`` section of
``example_qdense``, registered by name with their implementations (no TensorFlow)."""

from typing import Literal

from pydantic import Field

from smartml.config import StrictModel
from smartml.config.base import ModelSection
from smartml.config.strict import LayerWidth
from smartml.registry import MODELS, TASKS


@TASKS.register("example_waves", implementation="smartml_plugin_example.task:WavesTask")
class WavesData(StrictModel):
    """Simulated examples of ``y = sin(π·x0)·x1`` plus Gaussian noise."""

    n_examples: int = Field(2000, ge=100, description="examples simulated (80/10/10 split)")
    noise: float = Field(0.05, ge=0, description="standard deviation of the noise on y")
    seed: int = Field(0, description="seed of the simulation")


@MODELS.register("example_qdense", implementation="smartml_plugin_example.builder:TinyQDense")
class TinyQDenseConfig(ModelSection):
    """A quantized ADC, QDense, quantized_relu, a power-of-two scale, QDense."""

    name: Literal["example_qdense"] = "example_qdense"
    hidden_units: LayerWidth = Field(8, description="width of the hidden QDense layer")
    scale_shift: int = Field(-1, ge=-4, le=4, description="PowerOfTwoScale: y = x·2^shift")
