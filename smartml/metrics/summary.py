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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from smartml.metrics.checks import EvaluationError

Better = Literal["lower", "higher", "zero", "one"]
# Where "zero"/"one" metrics are best; "lower"/"higher" have no target.
TARGET_VALUES = {"zero": 0.0, "one": 1.0}
MISSING = "–"


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
        entry: Any = metrics  # a JSON value: a dict on the way, a number at the end
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


def format_number(value: float | None) -> str:
    """A metric in a table: four significant digits, :data:`MISSING` for None.

    >>> format_number(6.0712), format_number(31250.0), format_number(None)
    ('6.071', '3.125e+04', '–')
    """
    return MISSING if value is None else f"{value:.4g}"


def baseline_blocks(metrics: dict) -> list[str]:
    """The top-level blocks of metrics.json that hold a baseline's metrics in the
    run's own layout (smart pixels: ``centroid_baseline``), in file order.

    >>> baseline_blocks({"x": {}, "centroid_baseline": {"x": {}}, "n_baseline": 3})
    ['centroid_baseline']
    """
    return [key for key, value in metrics.items() if "baseline" in key and isinstance(value, dict)]


def summary_table(metrics: dict, summary: Sequence[SummaryMetric], run: str = "run") -> str:
    """A plain-text table for the terminal: one row per summary metric, the run's
    value, and beside it each baseline's (:func:`baseline_blocks`) where it has one.

    Args:
        metrics: the run's metrics.json; summary: the task's summary metrics.
        run: the heading of the run's column (its name).

    >>> summary = [SummaryMetric("x.robust_width", "x width", "µm"),
    ...            SummaryMetric("x.pull_std", "x pull std", better="one")]
    >>> metrics = {"x": {"robust_width": 6.0712, "pull_std": 0.99},
    ...            "centroid_baseline": {"x": {"robust_width": 8.04}}}
    >>> print(summary_table(metrics, summary, "pixel_2t"))
    metric        pixel_2t  centroid baseline
    x width [µm]     6.071               8.04
    x pull std        0.99                  –
    """
    blocks = baseline_blocks(metrics)
    header = ["metric", run] + [block.replace("_", " ") for block in blocks]
    rows = [
        [metric.header, format_number(metric.value(metrics))]
        + [format_number(metric.value(metrics[block])) for block in blocks]
        for metric in summary
    ]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = [
        "  ".join(
            [row[0].ljust(widths[0])]
            + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        ).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class ValidationMetric:
    """The number a hyperparameter search or a comparison of trainings optimises:
    a Keras log key of the validation split (``val_loss``, ``val_auc``) at the epoch
    whose weights were kept."""

    key: str = "val_loss"
    better: Literal["lower", "higher"] = "lower"
