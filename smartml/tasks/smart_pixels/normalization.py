"""Normalisation of smart-pixel inputs and targets, fitted on the training split only.

The transforms (s, µ_k, σ_k fitted once, saved in the run directory, reused by
evaluation and export):

- **inputs**: x' = x / s, where the charge scale s is the standard deviation of all
  training pixel values, zeros included (fitted on up to ~100k training clusters).
  A pure scale, no shift, so a pixel without charge stays exactly 0: the images stay
  sparse and the firmware can skip empty pixels.
- **targets**: standardised per target, y'_k = (y_k - µ_k) / σ_k, and predictions
  and covariances transformed back (:class:`~smartml.data.scaling.TargetScaling`).

Saved as JSON: ``{"version": 1, "charge_scale": s, "target_names": [...],
"target_mean": [...], "target_std": [...]}``.

>>> import numpy as np
>>> x = np.array([0.0, 0.0, 3.0, 3.0], np.float32)  # values 0 and 3: std 1.5
>>> y = np.array([[1.0], [3.0], [1.0], [3.0]])  # mean 2, std 1
>>> norm = PixelNormalization.fit(x, y, ["cotBeta"])
>>> norm.charge_scale, norm.transform_inputs(x).tolist()
(1.5, [0.0, 0.0, 2.0, 2.0])
>>> norm.transform_targets(y).ravel().tolist(), norm.inverse_targets([[0.5]]).tolist()
([-1.0, 1.0, -1.0, 1.0], [[2.5]])
"""

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from smartml.data.scaling import KEYS as SCALING_KEYS
from smartml.data.scaling import TargetScaling, finite_numbers
from smartml.data.source import Inputs
from smartml.errors import DataError, RunDirectoryError
from smartml.files import read_json_object, write_json_atomic

FORMAT_VERSION = 1
KEYS = ("version", "charge_scale", *SCALING_KEYS)
# Optional: {"clusters": n, "per_file": {file name: n}} of the non-finite clusters the
# fit's reading dropped (data.non_finite "drop"); absent in files of older runs.
DROPPED_KEY = "non_finite_dropped"
INPUT_NAME = "pixels"  # the model's Input name, the key of the pipeline's inputs


class PixelNormalization:
    """Input scale and per-target mean/std; see the module docstring for the transforms.

    Args:
        charge_scale: s, in electrons.
        target_names: names of the targets, in the order of the last axis of y.
        target_mean: µ, (k,) in physical units.
        target_std: σ, (k,) in physical units, all > 0.
        non_finite_dropped: non-finite clusters dropped from what the fit read, by
            file name (recorded, not used by the transforms); None: not counted.

    Attributes:
        charge_scale: s as a float.
        targets: the :class:`~smartml.data.scaling.TargetScaling`.
    """

    def __init__(
        self,
        charge_scale: float,
        target_names: Sequence[str],
        target_mean: np.ndarray,
        target_std: np.ndarray,
        non_finite_dropped: dict[str, int] | None = None,
    ) -> None:
        self.charge_scale = float(charge_scale)
        self.targets = TargetScaling(tuple(target_names), target_mean, target_std)
        self.non_finite_dropped = non_finite_dropped

    target_names = property(lambda self: self.targets.target_names)
    target_mean = property(lambda self: self.targets.target_mean)
    target_std = property(lambda self: self.targets.target_std)

    # -- fitting ---------------------------------------------------------------------

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, target_names: Sequence[str]) -> "PixelNormalization":
        """Fit on training inputs x (any shape, electrons) and targets y (n, k)."""
        return cls.fit_batches([(x, y)], target_names)

    @classmethod
    def fit_batches(
        cls, batches: Iterable[Sequence[np.ndarray]], target_names: Sequence[str]
    ) -> "PixelNormalization":
        """Fit on a stream of ``(x, y, ...)`` batches, holding one batch at a time.

        For example ``fit_batches(source.iter_chunks(train, max_rows=100_000), TARGETS)``
        fits on the first 100k training clusters without loading them together.

        Raises:
            DataError: no clusters, non-finite values, all pixels zero, or a
                constant target (its σ would be 0).
        """
        n_values, total, total_squares, targets = 0, 0.0, 0.0, []
        for x, y, *_ in batches:
            x = np.asarray(x, np.float32)
            n_values += x.size
            total += float(np.sum(x, dtype=np.float64))
            total_squares += float(np.sum(np.square(x), dtype=np.float64))
            if len(y):  # a chunk may be emptied by the contained_only cut
                targets.append(np.asarray(y, np.float64).reshape(len(x), -1))
        if sum(len(y) for y in targets) == 0:
            raise DataError("cannot fit the normalisation: there are no training clusters")
        charge_scale = _charge_scale(n_values, total, total_squares)
        scaling = TargetScaling.fit_batches(targets, target_names)
        return cls(
            charge_scale,
            scaling.target_names,
            scaling.target_mean,
            scaling.target_std,
        )

    # -- transforms ------------------------------------------------------------------

    def transform_inputs(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """x / s as float32 (zeros stay zero).

        Args:
            x: charges in electrons, any shape.
            out: float32 array to write the result to; may be ``x`` itself, which
                saves a copy of a large chunk.
        """
        return np.divide(np.asarray(x, np.float32), np.float32(self.charge_scale), out=out)

    def transform_targets(self, y: np.ndarray) -> np.ndarray:
        """(y - µ) / σ per target, as float32; y has shape (..., k)."""
        return self.targets.transform(y)

    def transform(self, inputs: Inputs, targets: np.ndarray) -> tuple[Inputs, np.ndarray]:
        """The pipeline's transform (:func:`smartml.data.pipeline.make_dataset`): the
        ``"pixels"`` input scaled in place, the targets standardised."""
        pixels = inputs[INPUT_NAME]
        return {INPUT_NAME: self.transform_inputs(pixels, out=pixels)}, self.transform_targets(
            targets
        )

    def inverse_targets(self, y_norm: np.ndarray) -> np.ndarray:
        """µ + σ y' per target, float64 in physical units; y_norm has shape (..., k)."""
        return self.targets.inverse(y_norm)

    def inverse_covariance(self, cov_norm: np.ndarray) -> np.ndarray:
        """D C' D with D = diag(σ): (..., k, k) normalised -> physical, float64."""
        return self.targets.inverse_covariance(cov_norm)

    # -- storage ---------------------------------------------------------------------

    def to_dict(self) -> dict:
        content = {
            "version": FORMAT_VERSION,
            "charge_scale": self.charge_scale,
            **self.targets.to_dict(),
        }
        if self.non_finite_dropped is not None:
            per_file = dict(self.non_finite_dropped)
            content[DROPPED_KEY] = {"clusters": sum(per_file.values()), "per_file": per_file}
        return content

    def save(self, path: Path) -> None:
        """Write JSON atomically (a crash never leaves a half-written file)."""
        write_json_atomic(path, self.to_dict(), RunDirectoryError)

    @classmethod
    def load(cls, path: Path) -> "PixelNormalization":
        """Read a file written by :meth:`save`.

        Raises:
            RunDirectoryError: one line naming the file and the key at fault.
        """
        content = read_json_object(path, "normalisation file", RunDirectoryError)
        return cls.from_dict(content, str(path))

    @classmethod
    def from_dict(cls, content: dict, where: str) -> "PixelNormalization":
        """Validate :meth:`to_dict`'s content key by key (``where`` names the file)."""
        for key in KEYS:
            if key not in content:
                raise RunDirectoryError(f"{where}: missing key '{key}'")
        unknown = sorted(set(content) - {*KEYS, DROPPED_KEY})
        if unknown:
            raise RunDirectoryError(f"{where}: unexpected key '{unknown[0]}'")
        if content["version"] != FORMAT_VERSION:
            raise RunDirectoryError(
                f"{where}: key 'version' is {content['version']!r}, expected {FORMAT_VERSION}"
            )
        scale = finite_numbers(content, "charge_scale", None, True, where)
        targets = TargetScaling.from_dict(content, where)
        dropped = _dropped_per_file(content.get(DROPPED_KEY), where)
        return cls(scale, targets.target_names, targets.target_mean, targets.target_std, dropped)


def _dropped_per_file(record: object, where: str) -> dict[str, int] | None:
    """The per-file counts of a ``non_finite_dropped`` record (None when absent)."""
    if record is None:
        return None
    per_file = record.get("per_file") if isinstance(record, dict) else None
    if not isinstance(per_file, dict) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in per_file.values()
    ):
        raise RunDirectoryError(
            f"{where}: key '{DROPPED_KEY}' must hold 'per_file': file name -> count >= 0"
        )
    return {str(name): n for name, n in per_file.items()}


def _charge_scale(n_values: int, total: float, total_squares: float) -> float:
    mean = total / n_values
    # float64 sums of float32 squares: E[x²] - E[x]² is safe here, as the mean of
    # sparse charges is well below their spread.
    scale = math.sqrt(max(total_squares / n_values - mean * mean, 0.0))
    if not math.isfinite(scale):
        raise DataError("cannot fit the normalisation: the training pixels contain NaN or inf")
    if scale == 0:
        raise DataError(
            "cannot fit the normalisation: all training pixels have the same charge (std 0)"
        )
    return scale
