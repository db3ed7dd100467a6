"""The few numbers that summarise a run: what comparisons, notebooks and searches read.

A task declares its summary metrics as a list of :class:`SummaryMetric`, each a
dotted path into its metrics.json with a label, a unit and which values are better:
``lower``, ``higher``, or closer to a target value: ``zero`` (a bias), ``one`` (a
pull width).

>>> width = SummaryMetric("x.robust_width", "x width", "µm")
>>> width.value({"x": {"robust_width": 6.07}}), width.value({"y": {}})
(6.07, None)
>>> width.header
'x width [µm]'
"""

from dataclasses import dataclass
from typing import Literal

from smartml.evaluation.checks import EvaluationError

Better = Literal["lower", "higher", "zero", "one"]
# Where "zero"/"one" metrics are best; "lower"/"higher" have no target.
TARGET_VALUES = {"zero": 0.0, "one": 1.0}


@dataclass(frozen=True)
class SummaryMetric:
    """One number of a run's metrics.json, as a comparison shows it.

    Attributes:
        key: dotted path into metrics.json, e.g. ``"x.robust_width"`` or ``"roc.auc"``.
        label: shown in tables, e.g. ``"x width"``.
        unit: e.g. ``"µm"``; "" for dimensionless numbers.
        better: ``"lower"``, ``"higher"``, ``"zero"`` or ``"one"`` (closest to).
    """

    key: str  # dotted path into metrics.json, e.g. "x.robust_width" or "roc.auc"
    label: str  # "x width" ; shown in tables
    unit: str = ""  # "µm"
    better: Better = "lower"

    def __post_init__(self) -> None:
        if not self.key or any(not part for part in self.key.split(".")):
            raise EvaluationError(f"summary metric key {self.key!r} must be a dotted path a.b.c")
        if self.better not in ("lower", "higher", *TARGET_VALUES):
            raise EvaluationError(
                f"summary metric {self.key!r}: better must be one of 'lower', 'higher', "
                f"'zero', 'one'; got {self.better!r}"
            )

    def value(self, metrics: dict) -> float | None:
        """The number at :attr:`key` in ``metrics``.

        Args:
            metrics: a run's metrics.json as a dict.

        Returns:
            the number as a float; None when the path is missing (or holds null).

        Raises:
            EvaluationError: the path holds something other than a number.
        """
        entry = metrics
        for part in self.key.split("."):
            if not isinstance(entry, dict) or part not in entry:
                return None
            entry = entry[part]
        if entry is None:
            return None
        if isinstance(entry, bool) or not isinstance(entry, int | float):
            raise EvaluationError(
                f"metrics.json key {self.key!r} holds {type(entry).__name__} {entry!r}; "
                "expected a number"
            )
        return float(entry)

    @property
    def header(self) -> str:
        """The label with its unit, as a table column or an axis label."""
        return f"{self.label} [{self.unit}]" if self.unit else self.label
