"""Three small tasks with the shapes of the coming ones, for the conformance suite.

- ``toy_rings``: masked multi-input point classification (RICH-like): Cherenkov rings
  of hits, padded to 16 points with a mask, plus the track momentum -> muon/pion logit;
- ``toy_weights``: tabular point regression (DeepMEM-like): 6 kinematic features ->
  log10 of a smooth "matrix-element weight";
- ``toy_signal``: tabular binary classification: 4 features -> signal/background logit.

Each simulates its examples from a seed, fits a feature standardisation on its
training split and saves it as a declared run file, and streams batches through
tf.data with a known number of batches (so a killed run resumes mid-epoch).
:func:`register` adds them to ``TASKS`` and :func:`unregister` removes them;
``SMARTML_PLUGINS=conformance_plugin`` (which registers them on import) makes every
smartml command and notebook kernel find them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from smartml.backend import tf
from smartml.config import StrictModel
from smartml.files import read_json_object, write_json_atomic
from smartml.outputs.logits import Logits
from smartml.outputs.point_regression import PointRegression
from smartml.registry import TASKS
from smartml.tasks.base import SPLITS, Examples, InputSpec, Task

SCALING = "feature_scaling.json"
N_POINTS = 16
MUON_MASS, PION_MASS = 0.10566, 0.13957  # GeV/c²
NEON_INDEX_MINUS_ONE = 62.8e-6
FOCAL_LENGTH_MM = 17_000.0


class ToyDataConfig(StrictModel):
    n_examples: int = 3000
    seed: int = 0


class ArrayTask(Task):
    """A task whose examples are simulated in memory: ``simulate(n, rng)`` gives
    (inputs, targets, aux); the split is 80/10/10 by position."""

    run_files = (SCALING,)
    scaled_inputs: tuple[str, ...] = ()

    def simulate(self, n: int, rng: np.random.Generator):
        raise NotImplementedError

    def prepare(self, fit: bool) -> None:
        data = self.config.data
        inputs, targets, aux = self.simulate(data.n_examples, np.random.default_rng(data.seed))
        n = len(targets)
        bounds = {"train": (0, int(0.8 * n)), "validation": (int(0.8 * n), int(0.9 * n))}
        bounds["test"] = (int(0.9 * n), n)
        self._split = {
            split: (
                {name: array[low:high] for name, array in inputs.items()},
                targets[low:high],
                aux.iloc[low:high].reset_index(drop=True),
            )
            for split, (low, high) in bounds.items()
        }
        if fit:
            train_inputs = self._split["train"][0]
            scaling = {
                name: {
                    "mean": float(train_inputs[name].mean()),
                    "std": float(train_inputs[name].std()),
                }
                for name in self.scaled_inputs
            }
            write_json_atomic(self.run_file(SCALING), scaling)
        self.scaling = read_json_object(self.run_file(SCALING), "feature scaling")

    def _scaled(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        scaled = dict(inputs)
        for name, moments in self.scaling.items():
            scaled[name] = ((inputs[name] - moments["mean"]) / moments["std"]).astype(np.float32)
        return scaled

    def examples(self, split: str, max_n: int | None = None) -> Examples:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}")
        inputs, targets, aux = self._split[split]
        return Examples(self._scaled(inputs), targets, aux).head(max_n)

    def datasets(self):
        batch_size = self.config.training.batch_size

        def dataset(split: str, shuffle: bool):
            examples = self.examples(split)
            data = tf.data.Dataset.from_tensor_slices(
                (examples.inputs, self.output.training_targets(examples.targets))
            )
            if shuffle:
                data = data.shuffle(len(examples), seed=self.config.training.seed)
            return data.batch(batch_size)

        return dataset("train", True), dataset("validation", False)


class RingDataConfig(ToyDataConfig):
    momentum_min: float = 15.0
    momentum_max: float = 35.0
    radius_resolution_mm: float = 3.0


class RingTask(ArrayTask):
    """Muon (0) or pion (1) from the hits of its Cherenkov ring and the momentum."""

    scaled_inputs = ("momentum",)

    @property
    def inputs(self):
        return {
            "points": InputSpec("points", (N_POINTS, 3), description="hit x, y / 100 mm, t / ns"),
            "mask": InputSpec("mask", (N_POINTS,), description="1 for a hit, 0 for padding"),
            "momentum": InputSpec("momentum", (1,), description="standardised momentum"),
        }

    @property
    def output(self):
        return Logits(["muon", "pion"], bin_variables={"momentum": "GeV/c"})

    def simulate(self, n, rng):
        data = self.config.data
        label = rng.integers(0, 2, n)
        momentum = rng.uniform(data.momentum_min, data.momentum_max, n)
        mass = np.where(label == 1, PION_MASS, MUON_MASS)
        beta = momentum / np.sqrt(momentum**2 + mass**2)
        cos_theta = np.minimum(1.0, 1.0 / ((1 + NEON_INDEX_MINUS_ONE) * beta))
        radius = FOCAL_LENGTH_MM * np.tan(np.arccos(cos_theta))
        n_hits = np.clip(rng.poisson(12 * (radius / 190.0) ** 2), 3, N_POINTS)
        centre = rng.normal(0, 50, (n, 2))
        points = np.zeros((n, N_POINTS, 3), np.float32)
        mask = np.zeros((n, N_POINTS), np.float32)
        for i in range(n):
            k = n_hits[i]
            phi = rng.uniform(0, 2 * np.pi, k)
            r = radius[i] + rng.normal(0, data.radius_resolution_mm, k)
            points[i, :k, 0] = (centre[i, 0] + r * np.cos(phi)) / 100
            points[i, :k, 1] = (centre[i, 1] + r * np.sin(phi)) / 100
            points[i, :k, 2] = rng.normal(0, 0.1, k)
            mask[i, :k] = 1
        inputs = {"points": points, "mask": mask, "momentum": momentum[:, None].astype(np.float32)}
        return inputs, label, pd.DataFrame({"momentum": momentum})


class WeightTask(ArrayTask):
    """log10 of a smooth positive function of six features (a matrix-element weight)."""

    scaled_inputs = ("features",)

    @property
    def inputs(self):
        return {"features": InputSpec("features", (6,), description="kinematics")}

    @property
    def output(self):
        return PointRegression(["log10_weight"], [""], bin_variables={"true_weight": ""})

    def simulate(self, n, rng):
        features = rng.normal(0, 1, (n, 6)).astype(np.float32)
        log_weight = (
            0.5 * features[:, 0] - 0.3 * features[:, 1] ** 2 + 0.2 * features[:, 2] * features[:, 3]
        )
        target = (log_weight + rng.normal(0, 0.05, n))[:, None]
        return {"features": features}, target, pd.DataFrame({"true_weight": 10**log_weight})


class SignalTask(ArrayTask):
    """Signal (1) against background (0) from four features."""

    scaled_inputs = ("features",)

    @property
    def inputs(self):
        return {"features": InputSpec("features", (4,), description="event features")}

    @property
    def output(self):
        return Logits(["background", "signal"])

    def simulate(self, n, rng):
        label = rng.integers(0, 2, n)
        shift = np.array([1.0, -0.5, 0.5, 0.0])
        features = (rng.normal(0, 1, (n, 4)) + label[:, None] * shift).astype(np.float32)
        return {"features": features}, label, pd.DataFrame(index=range(n))


TOY_TASKS = {
    "toy_rings": (RingDataConfig, "RingTask"),
    "toy_weights": (ToyDataConfig, "WeightTask"),
    "toy_signal": (ToyDataConfig, "SignalTask"),
}


def register() -> None:
    """Register the toy tasks (each with a data schema class of its own)."""
    for name, (schema, task) in TOY_TASKS.items():
        data_schema = type(f"{task}Data", (schema,), {})
        TASKS.register(name, implementation=f"conformance_tasks:{task}")(data_schema)


def unregister() -> None:
    for name in TOY_TASKS:
        TASKS.unregister(name)
