"""The interface every task implements; the trainer knows nothing else about tasks."""

from abc import ABC, abstractmethod

import numpy as np

from smartml.backend import keras, tf
from smartml.config import RunConfig
from smartml.training.run_directory import RunDirectory


class Task(ABC):
    """One detector problem, bound to a run configuration and its run directory.

    Subclasses are registered through the schema of their ``data`` section:
    ``@TASKS.register("name", implementation="module:Class")``.
    """

    def __init__(self, config: RunConfig, run_dir: RunDirectory) -> None:
        self.config = config
        self.run_dir = run_dir

    @abstractmethod
    def prepare(self, fit: bool) -> None:
        """Make the data available and split it. With ``fit`` fit the normalisation
        (and baselines) on the training split and save them in the run directory;
        without, load them from there (evaluation, export, a resumed run)."""

    @property
    @abstractmethod
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one model input, without the batch axis."""

    @property
    @abstractmethod
    def n_outputs(self) -> int:
        """Size of the model's output vector."""

    @abstractmethod
    def loss(self) -> keras.losses.Loss:
        """The training loss (serialisable)."""

    @abstractmethod
    def datasets(self) -> tuple[tf.data.Dataset, tf.data.Dataset]:
        """Training and validation datasets of (inputs, targets) batches."""

    @abstractmethod
    def evaluate(self, model: keras.Model) -> dict:
        """Judge ``model`` on the test split: write plots under ``run_dir.plots`` and
        return the metrics (JSON-serialisable) that go into metrics.json."""

    @abstractmethod
    def test_set(self, max_examples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The test split as the model sees it: (model inputs, truth), at most
        ``max_examples`` of them (all when None). Export runs it through firmware."""

    @abstractmethod
    def metrics_from_outputs(self, outputs: np.ndarray, truth: np.ndarray) -> dict:
        """Task metrics (JSON-serialisable) of raw model ``outputs`` on the examples of
        ``truth``; export compares those of firmware and of the Keras model."""
