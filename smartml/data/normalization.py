"""Normalisation of smart-pixel inputs and targets, fitted on the training split only.

The transforms (s, µ_k, σ_k fitted once, saved in the run directory, reused by
evaluation and export):

- **inputs**: x' = x / s, where the charge scale s is the standard deviation of all
  training pixel values, zeros included (fitted on up to ~100k training clusters).
  A pure scale, no shift, so a pixel without charge stays exactly 0: the images stay
  sparse and the firmware can skip empty pixels.
- **targets**: y'_k = (y_k - µ_k) / σ_k for each target k, with µ_k and σ_k the mean
  and (population) standard deviation of the training targets.
- **predictions** back to physical units: y_k = µ_k + σ_k y'_k; a covariance
  predicted in normalised units, C', becomes C = D C' D with D = diag(σ), i.e.
  C_ij = σ_i σ_j C'_ij.

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

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smartml.errors import DataError, RunDirectoryError

FORMAT_VERSION = 1
KEYS = ("version", "charge_scale", "target_names", "target_mean", "target_std")


@dataclass(eq=False)  # arrays do not compare with ==
class PixelNormalization:
    """Input scale and per-target mean/std; see the module docstring for the transforms.

    Attributes:
        charge_scale: s, in electrons.
        target_names: names of the targets, in the order of the last axis of y.
        target_mean: µ, float64 (k,), physical units.
        target_std: σ, float64 (k,), physical units, all > 0.
    """

    charge_scale: float
    target_names: tuple[str, ...]
    target_mean: np.ndarray
    target_std: np.ndarray

    def __post_init__(self) -> None:
        self.charge_scale = float(self.charge_scale)
        self.target_names = tuple(self.target_names)
        self.target_mean = np.asarray(self.target_mean, np.float64).reshape(-1)
        self.target_std = np.asarray(self.target_std, np.float64).reshape(-1)
        n_targets = len(self.target_names)
        if self.target_mean.shape != (n_targets,) or self.target_std.shape != (n_targets,):
            raise ValueError(
                f"target_mean {self.target_mean.shape} and target_std "
                f"{self.target_std.shape} must have one value per target ({n_targets})"
            )

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
            targets.append(np.asarray(y, np.float64).reshape(len(x), -1))
        if not targets or sum(len(y) for y in targets) == 0:
            raise DataError("cannot fit the normalisation: there are no training clusters")
        y = np.concatenate(targets)
        return cls(
            _charge_scale(n_values, total, total_squares),
            tuple(target_names),
            *_target_moments(y, target_names),
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
        return ((np.asarray(y, np.float64) - self.target_mean) / self.target_std).astype(np.float32)

    def inverse_targets(self, y_norm: np.ndarray) -> np.ndarray:
        """µ + σ y' per target, float64 in physical units; y_norm has shape (..., k)."""
        return self.target_mean + self.target_std * np.asarray(y_norm, np.float64)

    def inverse_covariance(self, cov_norm: np.ndarray) -> np.ndarray:
        """D C' D with D = diag(σ): (..., k, k) normalised -> physical, float64."""
        cov_norm = np.asarray(cov_norm, np.float64)
        k = len(self.target_names)
        if cov_norm.shape[-2:] != (k, k):
            raise ValueError(f"expected covariances of shape (..., {k}, {k}), got {cov_norm.shape}")
        return cov_norm * np.multiply.outer(self.target_std, self.target_std)

    # -- storage ---------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "version": FORMAT_VERSION,
            "charge_scale": self.charge_scale,
            "target_names": list(self.target_names),
            "target_mean": self.target_mean.tolist(),
            "target_std": self.target_std.tolist(),
        }

    def save(self, path: Path) -> None:
        """Write JSON atomically (a crash never leaves a half-written file)."""
        path = Path(path)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> "PixelNormalization":
        """Read a file written by :meth:`save`.

        Raises:
            RunDirectoryError: one line naming the file and the key at fault.
        """
        path = Path(path)
        try:
            content = json.loads(path.read_text())
        except FileNotFoundError:
            raise RunDirectoryError(f"{path}: normalisation file not found") from None
        except (OSError, UnicodeDecodeError) as error:
            raise RunDirectoryError(f"{path}: cannot read the normalisation ({error})") from None
        except json.JSONDecodeError as error:
            raise RunDirectoryError(f"{path}: not valid JSON ({error})") from None
        return cls(**_parse(path, content))


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


def _target_moments(y: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    if y.shape[1] != len(names):
        raise ValueError(f"{y.shape[1]} target columns but {len(names)} target names")
    bad = ~np.isfinite(y).all(axis=0)
    if bad.any():
        raise DataError(
            f"cannot fit the normalisation: target '{names[int(np.argmax(bad))]}' has NaN or inf"
        )
    mean, std = y.mean(axis=0), y.std(axis=0)
    # A target that does not vary cannot be standardised (and cannot be learnt).
    flat = std <= 1e-12 * np.maximum(np.abs(mean), 1.0)
    if flat.any():
        index = int(np.argmax(flat))
        raise DataError(
            f"cannot fit the normalisation: target '{names[index]}' is constant ({mean[index]:g}) "
            f"in the {len(y)} training clusters"
        )
    return mean, std


def _parse(path: Path, content: object) -> dict:
    """Validate the JSON content key by key; return the constructor's arguments."""
    if not isinstance(content, dict):
        raise RunDirectoryError(f"{path}: expected a JSON object with keys {', '.join(KEYS)}")
    for key in KEYS:
        if key not in content:
            raise RunDirectoryError(f"{path}: missing key '{key}'")
    unknown = sorted(set(content) - set(KEYS))
    if unknown:
        raise RunDirectoryError(f"{path}: unexpected key '{unknown[0]}'")
    if content["version"] != FORMAT_VERSION:
        raise RunDirectoryError(
            f"{path}: key 'version' is {content['version']!r}, expected {FORMAT_VERSION}"
        )
    names = content["target_names"]
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise RunDirectoryError(f"{path}: key 'target_names' must be a non-empty list of names")
    scale = _numbers(path, content, "charge_scale", None, positive=True)
    mean = _numbers(path, content, "target_mean", len(names), positive=False)
    std = _numbers(path, content, "target_std", len(names), positive=True)
    return {"charge_scale": scale, "target_names": names, "target_mean": mean, "target_std": std}


def _numbers(path: Path, content: dict, key: str, length: int | None, positive: bool):
    """A finite number (length None) or a list of ``length`` of them; > 0 if positive."""
    value = content[key]
    values = [value] if length is None else value
    what = "a number" if length is None else f"a list of {length} numbers"
    condition = "finite and > 0" if positive else "finite"
    valid = (
        isinstance(values, list)
        and (length is None or len(values) == length)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        and all(math.isfinite(v) and (v > 0 or not positive) for v in values)
    )
    if not valid:
        raise RunDirectoryError(f"{path}: key '{key}' must be {what}, {condition}; got {value!r}")
    return value
