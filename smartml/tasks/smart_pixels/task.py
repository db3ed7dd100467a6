"""Smart pixels: track position and angles, with a full covariance, from one cluster.

Data: parquet clusters (:mod:`~smartml.tasks.smart_pixels.parquet_reader`), by default
written by the built-in simulator (:mod:`~smartml.tasks.smart_pixels.simulator`) and
cached. Targets (:data:`~smartml.tasks.smart_pixels.layout.TARGETS`) are standardised
and the pixel charge scaled (:mod:`~smartml.tasks.smart_pixels.normalization`), both
fitted on the training split. The output is a 4-D Gaussian
(:class:`~smartml.outputs.gaussian_mdn.GaussianMDN`). Evaluation reports resolutions
and pulls in physical units beside a charge-centroid baseline fitted on the training
split and evaluated on the same test clusters, and residual profiles against truth.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from smartml.backend import tf
from smartml.console import timed_step
from smartml.data.chunks import Chunk, describe_split, take_rows
from smartml.files import read_json_object, write_json_atomic
from smartml.metrics.gaussian import residual_profile
from smartml.metrics.point_regression import residual_statistics
from smartml.outputs.gaussian_mdn import GaussianMDN, GaussianPrediction
from smartml.tasks.base import Examples, InputSpec, Task
from smartml.tasks.smart_pixels.centroid_baseline import CentroidBaseline
from smartml.tasks.smart_pixels.layout import TARGET_LABELS, TARGET_UNITS, TARGETS
from smartml.tasks.smart_pixels.normalization import PixelNormalization
from smartml.tasks.smart_pixels.parquet_reader import PixelParquetSource
from smartml.tasks.smart_pixels.schema import N_COLUMNS, N_ROWS, PixelDataConfig
from smartml.tasks.smart_pixels.simulator import ensure_simulated

log = logging.getLogger("smartml.smart_pixels")

# Clusters of the training split that fit the normalisation and the baseline: enough
# for per-mille statistical precision on the scales.
FIT_CLUSTERS = 100_000
NORMALIZATION = "normalization.json"
BASELINE = "baseline.json"
MAX_FILES_LOGGED = 5  # files named in a log line about dropped clusters
BASELINE_COLUMNS = {"x-midplane": "centroid_x", "y-midplane": "centroid_y"}


class SmartPixelsTask(Task[PixelDataConfig]):
    """Cluster images ``pixels (13, 21, T)`` -> Gaussian over (x, y, cot α, cot β)."""

    data_config = PixelDataConfig

    run_files = (NORMALIZATION, BASELINE)

    @property
    def inputs(self) -> dict[str, InputSpec]:
        shape = (N_ROWS, N_COLUMNS, len(self.data.time_slices))
        description = "pixel charge / its training-split standard deviation, per time slice"
        return {"pixels": InputSpec("pixels", shape, description=description)}

    @property
    def output(self) -> GaussianMDN:
        return GaussianMDN(
            TARGETS,
            TARGET_UNITS,
            TARGET_LABELS,
            baselines=BASELINE_COLUMNS,
            baseline_label="charge centroid",
        )

    def prepare(self, fit: bool) -> None:
        data = self.data
        if data.source == "simulation":
            # One cache per user, whatever the working directory (data.path overrides).
            path, labels_path = ensure_simulated(data.simulation, data.path), None
        else:
            path = Path(str(data.path))  # the schema requires a path for parquet
            labels_path = Path(data.labels_path) if data.labels_path else None
        self.source = PixelParquetSource(data, path, labels_path)
        self.splits = self.source.split(seed=data.split.seed)
        log.info("data %s: %s", path, describe_split(self.splits, "cluster"))
        if fit:
            self._fit_transforms()
        else:
            self.normalization = PixelNormalization.load(self.run_file(NORMALIZATION))
            self.baseline = CentroidBaseline.from_dict(
                read_json_object(self.run_file(BASELINE), "centroid baseline")
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
        fit_chunks = take_rows(self.splits["train"], FIT_CLUSTERS)
        self.normalization.non_finite_dropped = self.source.non_finite_dropped(fit_chunks)
        self._log_dropped("the normalisation fit", fit_chunks)
        self.normalization.save(self.run_file(NORMALIZATION))
        sensor = self.data.simulation.sensor
        self.baseline = CentroidBaseline.fit(
            np.concatenate(final_slices),
            np.concatenate(positions),
            sensor.pitch_x_um,
            sensor.pitch_y_um,
        )
        write_json_atomic(self.run_file(BASELINE), self.baseline.to_dict())

    def datasets(self) -> tuple[tf.data.Dataset, tf.data.Dataset]:
        """The streamed training and validation splits. Both are first decoded into
        the memory cache when they fit, so that every epoch reads from memory, the
        pipeline knows its number of batches (mid-epoch resume), and no decoding
        happens in tf.data's threads (whose freed buffers the allocator keeps: +1 GB
        after one validation pass of 30k 20-slice clusters, measured)."""
        train = self.splits["train"]
        with timed_step(log, "decoding the training and validation splits into memory"):
            in_memory = self.source.decode_ahead(train + self.splits["validation"])
        cache = self.source.memory_cache
        log.info(
            "memory cache: %.0f MB of data.memory_cache_mb %d%s",
            cache.used_bytes / 2**20,
            self.data.memory_cache_mb,
            "" if in_memory else "; full: the clusters beyond it are decoded every epoch",
        )
        self._log_dropped("the training split", train)
        return self.streamed_datasets(
            lambda split: self.source, self.splits.__getitem__, self.normalization.transform
        )

    def examples(self, split: str, max_n: int | None = None) -> Examples:
        pixels, truth, final_slice = self.source.read_chunks(
            self.splits[split], max_rows=max_n, with_final_slice=True
        )
        centroid = self.baseline.predict(final_slice)
        columns = BASELINE_COLUMNS.values()
        aux = pd.DataFrame({column: centroid[:, axis] for axis, column in enumerate(columns)})
        inputs = {"pixels": self.normalization.transform_inputs(pixels, out=pixels)}
        return Examples(inputs, truth, aux)

    def decode(self, raw: np.ndarray) -> GaussianPrediction:
        return self.output.decode(raw, self.normalization)

    def task_metrics(self, examples: Examples, prediction: GaussianPrediction) -> dict:
        """Residual profiles against each target's truth, and the centroid baseline."""
        truth = examples.targets
        metrics: dict = {}
        for axis, name in enumerate(TARGETS):
            residual = prediction.mean[:, axis] - truth[:, axis]
            metrics[name] = {"profile_vs_truth": residual_profile(truth[:, axis], residual)}
        baseline = self.output.baseline_predictions(examples.aux)
        metrics["centroid_baseline"] = _baseline_metrics(truth, baseline)
        if self.data.non_finite == "drop":
            self._log_dropped("the test split", self.splits["test"])
            metrics["non_finite_dropped"] = self._dropped_per_split()
        return metrics

    def _dropped_per_split(self) -> dict:
        """Non-finite clusters dropped per split and file, for the splits read whole in
        this process (all three after training; the test split when re-evaluating)."""
        record = {}
        for split, chunks in self.splits.items():
            per_file = self.source.non_finite_dropped(chunks)
            if per_file is not None:
                record[split] = {"clusters": sum(per_file.values()), "per_file": per_file}
        return record

    def _log_dropped(self, what: str, chunks: list[Chunk]) -> None:
        """One log line: the non-finite clusters dropped from ``chunks``, by file."""
        per_file = self.source.non_finite_dropped(chunks)
        if not per_file:
            return
        files = sorted(per_file.items(), key=lambda item: -item[1])
        shown = [f"{name}: {n}" for name, n in files[:MAX_FILES_LOGGED]]
        if len(files) > MAX_FILES_LOGGED:
            shown.append(f"... {len(files) - MAX_FILES_LOGGED} more files")
        log.warning(
            "dropped %d of the %d clusters of %s: NaN/inf pixels or labels (%s)",
            sum(per_file.values()),
            sum(chunk.n_rows for chunk in chunks),
            what,
            ", ".join(shown),
        )


def _baseline_metrics(truth: np.ndarray, baseline: dict[str, np.ndarray]) -> dict:
    """Resolution of the baseline, per target it predicts, on the clusters it can measure."""
    result = {}
    for name, prediction in baseline.items():
        residual = prediction - truth[:, TARGETS.index(name)]
        usable = np.isfinite(residual)
        residual = residual[usable]
        result[name] = {
            **residual_statistics(residual),
            "n": int(usable.sum()),
            "n_without_charge": int((~usable).sum()),
        }
    return result
