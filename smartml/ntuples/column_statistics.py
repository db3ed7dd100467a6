"""Summary statistics of a column streamed chunk by chunk (min, max, mean, std and the
counts of NaN and infinite values) in constant memory.

The mean and the variance are merged chunk by chunk with Chan et al.'s pairwise
update, which stays accurate where summing x and x² would cancel. The minimum and
maximum of integer (or boolean) values are kept as exact Python integers: float64
would round an int64 event number above 2^53.

>>> statistics = RunningStatistics()
>>> statistics.update(np.array([1.0, 2.0, np.nan]))
>>> statistics.update(np.array([3.0, 4.0, np.inf]))
>>> statistics.summary()
{'count': 4, 'nan': 1, 'inf': 1, 'min': 1.0, 'max': 4.0, 'mean': 2.5, 'std': 1.118033988749895}
"""

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class RunningStatistics:
    """Statistics of the values seen so far; min/max/mean/std over the finite ones.

    Attributes:
        count: finite values; nan, inf: NaN and ±infinite values.
    """

    count: int = 0
    nan: int = 0
    inf: int = 0
    minimum: float | int = np.inf
    maximum: float | int = -np.inf
    mean: float = 0.0
    _squares: float = 0.0  # sum of squared deviations from the mean (M2)

    def update(self, values: np.ndarray) -> None:
        """Add a chunk of values (any shape, any numeric dtype)."""
        raw = np.asarray(values).ravel()
        if raw.dtype.kind in "biu" and raw.size:
            # Exact extremes first: the float64 copy below rounds integers above 2^53.
            self.minimum = min(self.minimum, int(raw.min()))
            self.maximum = max(self.maximum, int(raw.max()))
        values = raw.astype(np.float64)
        finite = np.isfinite(values)
        self.nan += int(np.isnan(values).sum())
        self.inf += int(np.isinf(values).sum())
        values = values[finite]
        if values.size == 0:
            return
        n, mean = values.size, float(values.mean())
        squares = float(np.sum((values - mean) ** 2))
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self._squares += squares + delta**2 * self.count * n / total
        self.count = total
        if raw.dtype.kind not in "biu":
            self.minimum = min(self.minimum, float(values.min()))
            self.maximum = max(self.maximum, float(values.max()))

    @property
    def std(self) -> float:
        """The population standard deviation (numpy's ``std``, ddof=0)."""
        return float(np.sqrt(self._squares / self.count)) if self.count else float("nan")

    def summary(self) -> dict[str, Any]:
        """count, nan, inf, min, max, mean, std (None where no finite value was seen)."""
        seen = self.count > 0
        return {
            "count": self.count,
            "nan": self.nan,
            "inf": self.inf,
            "min": self.minimum if seen else None,
            "max": self.maximum if seen else None,
            "mean": self.mean if seen else None,
            "std": self.std if seen else None,
        }
