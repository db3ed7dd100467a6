"""Smart pixels: track position and angles, with a full covariance, from one cluster.

Data: parquet clusters (:mod:`smartml.data.pixel_parquet`), by default written by the
built-in simulator (:mod:`smartml.data.pixel_simulator`) and cached. Targets
(:data:`~smartml.data.pixel_layout.TARGETS`) are standardised, pixel charge scaled
(:mod:`smartml.data.normalization`), both fitted on the training split. The model
outputs a 4-D Gaussian (:mod:`smartml.losses.gaussian_nll`). Evaluation reports
resolutions and pulls in physical units beside a charge-centroid baseline fitted on
the training split and evaluated on the same test clusters.
"""

import json
import logging
from pathlib import Path

import numpy as np

from smartml.backend import keras, tf
from smartml.config.smart_pixels import PixelDataConfig
from smartml.data.normalization import PixelNormalization
from smartml.data.pixel_layout import TARGET_UNITS, TARGETS
from smartml.data.pixel_parquet import PixelParquetSource
from smartml.data.pixel_pipeline import make_dataset
from smartml.data.pixel_simulator import ensure_simulated
from smartml.errors import ConfigError
from smartml.evaluation.centroid_baseline import CentroidBaseline
from smartml.evaluation.regression_metrics import residual_profile, robust_width, target_metrics
from smartml.evaluation.regression_plots import plot_regression
from smartml.losses import MultivariateGaussianNLL, gaussian_from_outputs, n_mdn_outputs
from smartml.tasks.base import Task

log = logging.getLogger("smartml.smart_pixels")

DEFAULT_SIMULATION_ROOT = Path("data/simulated")
# Clusters of the training split that fit the normalisation and the baseline: enough
# for per-mille statistical precision on the scales.
FIT_CLUSTERS = 100_000
PREDICT_BATCH = 8192


class SmartPixelsTask(Task):
    @property
    def data(self) -> PixelDataConfig:
        """The ``data`` section (validated against this task's schema by the loader)."""
        data = self.config.data
        if not isinstance(data, PixelDataConfig):
            raise ConfigError(f"data: expected the smart_pixels schema, got {type(data).__name__}")
        return data

    def prepare(self, fit: bool) -> None:
        data = self.data
        if data.source == "simulation":
            root = Path(data.path) if data.path else DEFAULT_SIMULATION_ROOT
            path, labels_path = ensure_simulated(data.simulation, root), None
        else:
            path = Path(data.path or "")  # the schema requires a path for parquet
            labels_path = Path(data.labels_path) if data.labels_path else None
        self.source = PixelParquetSource(data, path, labels_path)
        self.splits = self.source.split(seed=data.split.seed)
        log.info(
            "data %s: %s row groups (train/validation/test)",
            path,
            "/".join(str(len(self.splits[name])) for name in ("train", "validation", "test")),
        )
        if fit:
            self._fit_transforms()
        else:
            self.normalization = PixelNormalization.load(self.run_dir.normalization)
            self.baseline = CentroidBaseline.from_dict(
                self.run_dir.read_json(self.run_dir.baseline)
            )

    def _fit_transforms(self) -> None:
        """Normalisation and centroid baseline from the first training clusters,
        streamed one row group at a time (20 time slices of 100k clusters would not
        fit comfortably in memory at once)."""
        final_slices, positions = [], []

        def batches():
            for x, y, final_slice in self.source.iter_chunks(
                self.splits["train"], max_rows=FIT_CLUSTERS, with_final_slice=True
            ):
                final_slices.append(final_slice)
                positions.append(y[:, :2])
                yield x, y

        self.normalization = PixelNormalization.fit_batches(batches(), TARGETS)
        self.normalization.save(self.run_dir.normalization)
        sensor = self.data.simulation.sensor
        self.baseline = CentroidBaseline.fit(
            np.concatenate(final_slices),
            np.concatenate(positions),
            sensor.pitch_x_um,
            sensor.pitch_y_um,
        )
        self.run_dir.baseline.write_text(json.dumps(self.baseline.to_dict(), indent=2) + "\n")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (13, 21, len(self.data.time_slices))

    @property
    def n_outputs(self) -> int:
        return n_mdn_outputs(len(TARGETS))

    def loss(self) -> keras.losses.Loss:
        return MultivariateGaussianNLL(n_targets=len(TARGETS))

    def datasets(self) -> tuple[tf.data.Dataset, tf.data.Dataset]:
        training = self.config.training

        def dataset(split: str, shuffle: bool) -> tf.data.Dataset:
            chunks = self.splits[split]
            dataset = make_dataset(
                self.source,
                chunks,
                self.normalization,
                batch_size=training.batch_size,
                shuffle=shuffle,
                seed=training.seed,
                shuffle_buffer=training.shuffle_buffer,
            )
            if self.data.contained_only:
                return dataset  # rows per chunk are known only after reading
            # Row counts come from the parquet metadata. Stating the number of batches
            # lets Keras resume an interrupted run in the middle of an epoch.
            rows = sum(chunk.n_rows for chunk in chunks)
            batches = -(-rows // training.batch_size)
            return dataset.apply(tf.data.experimental.assert_cardinality(batches))

        return dataset("train", True), dataset("validation", False)

    def predict(self, model: keras.Model, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean (n, 4) and covariance (n, 4, 4) in physical units for raw pixels."""
        outputs = model.predict(
            self.normalization.transform_inputs(pixels), batch_size=PREDICT_BATCH, verbose=0
        )
        return self._gaussian(outputs)

    def _gaussian(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, covariance = gaussian_from_outputs(outputs, len(TARGETS), self.loss().min_sigma)
        return (
            self.normalization.inverse_targets(mean),
            self.normalization.inverse_covariance(covariance),
        )

    def test_set(self, max_examples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        pixels, truth = self.source.read_chunks(self.splits["test"], max_rows=max_examples)
        return self.normalization.transform_inputs(pixels), truth

    def metrics_from_outputs(self, outputs: np.ndarray, truth: np.ndarray) -> dict:
        mean, covariance = self._gaussian(np.asarray(outputs, dtype=np.float32))
        return target_metrics(truth, mean, covariance, TARGETS, TARGET_UNITS)

    def evaluate(self, model: keras.Model) -> dict:
        pixels, truth, final_slice = self.source.read_chunks(
            self.splits["test"], with_final_slice=True
        )
        mean, covariance = self.predict(model, pixels)
        metrics = target_metrics(truth, mean, covariance, TARGETS, TARGET_UNITS)
        for axis, name in enumerate(TARGETS):
            metrics[name]["profile_vs_truth"] = residual_profile(
                truth[:, axis], mean[:, axis] - truth[:, axis]
            )
        baseline_positions = self.baseline.predict(final_slice)
        baseline = {name: baseline_positions[:, axis] for axis, name in enumerate(TARGETS[:2])}
        metrics["centroid_baseline"] = _baseline_metrics(truth, baseline)
        metrics["test_clusters"] = len(truth)
        if self.config.output.plots:
            plot_regression(
                truth, mean, covariance, TARGETS, TARGET_UNITS, self.run_dir.plots, baseline
            )
        return metrics


def _baseline_metrics(truth: np.ndarray, baseline: dict[str, np.ndarray]) -> dict:
    """Resolution of the baseline, per target it predicts, on the clusters it can measure."""
    result = {}
    for axis, (name, prediction) in enumerate(baseline.items()):
        residual = prediction - truth[:, axis]
        usable = np.isfinite(residual)
        residual = residual[usable]
        result[name] = {
            "bias": float(residual.mean()),
            "rms": float(np.sqrt(np.mean(residual**2))),
            "std": float(residual.std()),
            "robust_width": robust_width(residual),
            "n": int(usable.sum()),
            "n_without_charge": int((~usable).sum()),
        }
    return result
