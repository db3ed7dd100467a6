"""Standardisation of regression targets, fitted on the training split only.

- **targets**: y'_k = (y_k - µ_k) / σ_k for each target k, with µ_k and σ_k the mean
  and (population) standard deviation of the training targets;
- **predictions** back to physical units: y_k = µ_k + σ_k y'_k; a covariance
  predicted in standardised units, C', becomes C = D C' D with D = diag(σ), i.e.
  C_ij = σ_i σ_j C'_ij.

Stored as ``{"target_names": [...], "target_mean": [...], "target_std": [...]}``
(:meth:`TargetScaling.to_dict`), inside a task's normalisation file.

>>> scaling = TargetScaling.fit(np.array([[1.0], [3.0]]), ["cotBeta"])
>>> scaling.transform([[1.0], [3.0]]).ravel().tolist(), scaling.inverse([[0.5]]).tolist()
([-1.0, 1.0], [[2.5]])
>>> TargetScaling.from_dict(scaling.to_dict(), "normalization.json").target_std.tolist()
[1.0]
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from smartml.errors import DataError, RunDirectoryError, SmartmlError

KEYS = ("target_names", "target_mean", "target_std")


@dataclass(eq=False)  # arrays do not compare with ==
class TargetScaling:
    """Per-target mean and standard deviation; see the module docstring.

    Attributes:
        target_names: names of the targets, in the order of the last axis of y.
        target_mean: µ, float64 (k,), physical units.
        target_std: σ, float64 (k,), physical units, all > 0.
    """

    target_names: tuple[str, ...]
    target_mean: np.ndarray
    target_std: np.ndarray

    def __post_init__(self) -> None:
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
    def fit(cls, y: np.ndarray, target_names: Sequence[str]) -> "TargetScaling":
        """Fit on training targets y (n, k)."""
        return cls.fit_batches([y], target_names)

    @classmethod
    def fit_batches(
        cls, batches: Iterable[np.ndarray], target_names: Sequence[str]
    ) -> "TargetScaling":
        """Fit on a stream of target batches (each (n_i, k)).

        Only the targets are held (k float64 per example), so e.g. a stream of
        chunks of a large training split is read one chunk at a time.

        Raises:
            DataError: no examples, a NaN/inf target or a constant target (its σ
                would be 0), each naming the target.
            ValueError: the number of target columns differs from the names.
        """
        # Empty batches (a chunk emptied by a cut) are skipped: (0, -1) has no shape.
        targets = [np.asarray(y, np.float64).reshape(len(y), -1) for y in batches if len(y)]
        if sum(len(y) for y in targets) == 0:
            raise DataError("cannot fit the normalisation: there are no training examples")
        y = np.concatenate(targets)
        return cls(tuple(target_names), *_moments(y, list(target_names)))

    # -- transforms ------------------------------------------------------------------

    def transform(self, y: np.ndarray) -> np.ndarray:
        """(y - µ) / σ per target, as float32; y has shape (..., k)."""
        return ((np.asarray(y, np.float64) - self.target_mean) / self.target_std).astype(np.float32)

    def inverse(self, y_norm: np.ndarray) -> np.ndarray:
        """µ + σ y' per target, float64 in physical units; y_norm has shape (..., k)."""
        return self.target_mean + self.target_std * np.asarray(y_norm, np.float64)

    def inverse_covariance(self, cov_norm: np.ndarray) -> np.ndarray:
        """D C' D with D = diag(σ): (..., k, k) standardised -> physical, float64."""
        cov_norm = np.asarray(cov_norm, np.float64)
        k = len(self.target_names)
        if cov_norm.shape[-2:] != (k, k):
            raise ValueError(f"expected covariances of shape (..., {k}, {k}), got {cov_norm.shape}")
        return cov_norm * np.multiply.outer(self.target_std, self.target_std)

    # -- storage ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, list]:
        return {
            "target_names": list(self.target_names),
            "target_mean": self.target_mean.tolist(),
            "target_std": self.target_std.tolist(),
        }

    @classmethod
    def from_dict(
        cls,
        content: dict[str, Any],
        where: str,
        error: type[SmartmlError] = RunDirectoryError,
    ) -> "TargetScaling":
        """The scaling of :meth:`to_dict`'s keys in ``content`` (other keys ignored).

        Args:
            content: e.g. a normalisation file's JSON object.
            where: names the file in messages.
            error: the class raised.

        Raises:
            error: one line naming ``where`` and the key that is missing or invalid.
        """
        for key in KEYS:
            if key not in content:
                raise error(f"{where}: missing key '{key}'")
        names = content["target_names"]
        if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
            raise error(f"{where}: key 'target_names' must be a non-empty list of names")
        mean = finite_numbers(content, "target_mean", len(names), False, where, error)
        std = finite_numbers(content, "target_std", len(names), True, where, error)
        return cls(tuple(names), np.array(mean), np.array(std))


def _moments(y: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if y.shape[1] != len(names):
        raise ValueError(f"{y.shape[1]} target columns but {len(names)} target names")
    bad = ~np.isfinite(y).all(axis=0)
    if bad.any():
        raise DataError(
            f"cannot fit the normalisation: target '{names[np.argmax(bad)]}' has NaN or inf"
        )
    mean, std = y.mean(axis=0), y.std(axis=0)
    # A target that does not vary cannot be standardised (and cannot be learnt).
    flat = std <= 1e-12 * np.maximum(np.abs(mean), 1.0)
    if flat.any():
        index = int(np.argmax(flat))
        raise DataError(
            f"cannot fit the normalisation: target '{names[index]}' is constant ({mean[index]:g}) "
            f"in the {len(y)} training examples"
        )
    return mean, std


def finite_numbers(
    content: dict[str, Any],
    key: str,
    length: int | None,
    positive: bool,
    where: str,
    error: type[SmartmlError] = RunDirectoryError,
) -> Any:
    """``content[key]`` checked: a finite number (``length`` None) or a list of
    ``length`` of them, all > 0 if ``positive``; else one-line ``error``.

    >>> finite_numbers({"scale": 2.5}, "scale", None, True, "f.json")
    2.5
    >>> finite_numbers({"s": "x"}, "s", None, False, "f")
    Traceback (most recent call last):
    ...
    smartml.errors.RunDirectoryError: f: key 's' must be a number, finite; got 'x'
    """
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
        raise error(f"{where}: key '{key}' must be {what}, {condition}; got {value!r}")
    return value
