"""The task ``example_waves``: regress ``y`` from two features, simulated in memory."""

from __future__ import annotations

from smartml.backend import tf
from smartml.outputs.point_regression import PointRegression
from smartml.tasks.base import SPLITS, Examples, InputSpec, Task
from smartml_plugin_example.schema import WavesData
from smartml_plugin_example.simulator import simulate

TRAIN_FRACTION, VALIDATION_FRACTION = 0.8, 0.1


class WavesTask(Task):
    """``y = sin(π·x0)·x1 + noise``, judged as a point regression; the splits are
    80/10/10 of the simulated examples, by position."""

    @property
    def data(self) -> WavesData:
        """The ``data`` section, validated against this task's schema."""
        data = self.config.data
        if not isinstance(data, WavesData):
            raise TypeError(f"example_waves needs a WavesData, got {type(data).__name__}")
        return data

    @property
    def inputs(self) -> dict[str, InputSpec]:
        return {"features": InputSpec("features", (2,), description="x0, x1 in [-1, 1]")}

    @property
    def output(self) -> PointRegression:
        return PointRegression(["y"], [""])

    def prepare(self, fit: bool) -> None:
        # Nothing is fitted: the simulation is the same for every seed of the run.
        data = self.data
        features, targets = simulate(data.n_examples, data.noise, data.seed)
        n = len(targets)
        ends = {"train": int(TRAIN_FRACTION * n)}
        ends["validation"] = ends["train"] + int(VALIDATION_FRACTION * n)
        ends["test"] = n
        start = 0
        self._splits = {}
        for split in SPLITS:
            self._splits[split] = Examples(
                {"features": features[start : ends[split]]}, targets[start : ends[split]]
            )
            start = ends[split]

    def examples(self, split: str, max_n: int | None = None) -> Examples:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        return self._splits[split].head(max_n)

    def datasets(self) -> tuple[tf.data.Dataset, tf.data.Dataset]:
        batch_size = self.config.training.batch_size

        def batches(split: str) -> tf.data.Dataset:
            examples = self.examples(split)
            return tf.data.Dataset.from_tensor_slices(
                (examples.inputs, self.output.training_targets(examples.targets))
            ).batch(batch_size)

        return batches("train"), batches("validation")
