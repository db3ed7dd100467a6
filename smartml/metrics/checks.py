"""Input checks shared by the evaluation modules, and the error they raise.

Every check raises :class:`EvaluationError` with one line naming the argument at
fault and what was expected. It is a :class:`~smartml.errors.SmartmlError` (the
command-line tools print it as one line) and a :class:`ValueError` (what a wrong
argument value is to Python callers).
"""

import numpy as np

from smartml.errors import SmartmlError


class EvaluationError(SmartmlError, ValueError):
    """Predictions, labels, bins or metrics that cannot be evaluated as given."""


def require_finite(name: str, array: np.ndarray) -> None:
    """Raise unless every value of ``array`` is finite.

    Args:
        name: the argument's name, for the message.
        array: any numeric array.

    >>> require_finite("x", np.array([1.0, np.nan]))
    Traceback (most recent call last):
    ...
    smartml.metrics.checks.EvaluationError: x contains 1 NaN or inf values ...
    """
    bad = ~np.isfinite(array)
    if bad.any():
        first = np.argwhere(bad)[0].tolist()
        raise EvaluationError(
            f"{name} contains {int(bad.sum())} NaN or inf values (first at index {first}); "
            "all values must be finite"
        )


def finite_vector(name: str, values, size: int | None = None) -> np.ndarray:
    """``values`` as a finite, non-empty 1-D float64 array.

    Args:
        name: the argument's name, for the message.
        values: array-like of numbers.
        size: the required length, or None for any.

    Returns:
        the float64 array.

    >>> finite_vector("truth", [1, 2]).dtype
    dtype('float64')
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise EvaluationError(f"{name} must be a non-empty 1-D array, got shape {array.shape}")
    if size is not None and array.size != size:
        raise EvaluationError(f"{name} must have shape ({size},), got {array.shape}")
    require_finite(name, array)
    return array


def same_shape(name: str, values, reference_name: str, reference: np.ndarray) -> np.ndarray:
    """``values`` as a finite float64 array of the shape of ``reference``.

    Args:
        name, reference_name: the arguments' names, for the message.
        values: array-like of numbers.
        reference: the array whose shape is required.

    Returns:
        the float64 array.
    """
    array = np.asarray(values, dtype=np.float64)
    if array.shape != reference.shape:
        raise EvaluationError(
            f"{name} must have the shape of {reference_name} {reference.shape}, got {array.shape}"
        )
    require_finite(name, array)
    return array


def check_names(names, units, n_targets: int, reserved: tuple[str, ...] = ()) -> None:
    """Check that ``names`` and ``units`` describe ``n_targets`` targets.

    Args:
        names: the target names, unique strings, none of them in ``reserved``.
        units: one unit string per target ("" for dimensionless).
        n_targets: the number of targets of the predictions.
        reserved: names that a metrics dict uses for something else.

    >>> check_names(["x"], ["µm"], 2)
    Traceback (most recent call last):
    ...
    smartml.metrics.checks.EvaluationError: names must be a list of 2 strings, got ['x']
    """
    for label, values in (("names", names), ("units", units)):
        if isinstance(values, str) or len(values) != n_targets:
            raise EvaluationError(f"{label} must be a list of {n_targets} strings, got {values!r}")
        if not all(isinstance(value, str) for value in values):
            raise EvaluationError(f"{label} must contain only strings, got {values!r}")
    if len(set(names)) != len(names):
        raise EvaluationError(f"names must be unique, got {list(names)!r}")
    clash = [name for name in names if name in reserved]
    if clash:
        raise EvaluationError(f"names must not contain {clash[0]!r} (reserved), got {names!r}")
