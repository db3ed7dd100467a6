"""Side-by-side comparison of finished runs, through their declared summary metrics.

Each run is its metrics.json; what is compared is a list of
:class:`~smartml.evaluation.summary.SummaryMetric` (the task's declaration), so
runs of any output kind compare alike. When a run recorded its hardware cost
(``hardware`` block: quantized sparsity per layer, BOPs) the table and the plot
show it too.

>>> from smartml.evaluation.summary import SummaryMetric
>>> summary = [SummaryMetric("x.robust_width", "x width", "µm"),
...            SummaryMetric("roc.auc", "AUC", better="higher")]
>>> runs = {"a": {"x": {"robust_width": 2.0}, "roc": {"auc": 0.9}},
...         "b": {"x": {"robust_width": 3.0}}}
>>> print(comparison_table(runs, summary))
| run | x width [µm] ↓ | AUC ↑ |
| --- | --- | --- |
| a | 2 | 0.9 |
| b | 3 | – |
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from smartml.evaluation.figures import new_axes
from smartml.evaluation.summary import SummaryMetric

MISSING = "–"
ARROWS = {"lower": "↓", "higher": "↑"}
BAR_SPAN = 0.8  # of the unit spacing between groups of bars


def comparison_table(runs: dict[str, dict], summary: Sequence[SummaryMetric]) -> str:
    """Markdown table: one row per run, one column per summary metric.

    Args:
        runs: ``{run label: metrics.json as a dict}``, in the order of the rows.
        summary: the metrics to show; the header gives each one's unit and an arrow
            for the better direction (↓ lower, ↑ higher).

    Returns:
        the table; a missing value is "–". When any run has a ``hardware`` block,
        the columns ``sparsity`` (total, then per layer) and ``BOPs`` follow.
    """
    header = ["run"] + [f"{metric.header} {ARROWS[metric.better]}" for metric in summary]
    with_hardware = any(metrics.get("hardware") for metrics in runs.values())
    if with_hardware:
        header += ["sparsity", "BOPs"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for label, metrics in runs.items():
        cells = [label] + [_number(metric.value(metrics)) for metric in summary]
        if with_hardware:
            hardware = metrics.get("hardware")
            cells += [_sparsity_cell(hardware), _number(hardware and hardware["bops"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def relative_values(runs: dict[str, dict], summary: Sequence[SummaryMetric]) -> np.ndarray:
    """Each run's summary metrics divided by the first run's.

    Returns:
        (runs, metrics) array; NaN where a value is missing or the first run's is 0.

    >>> from smartml.evaluation.summary import SummaryMetric
    >>> relative_values({"a": {"w": 2.0}, "b": {"w": 3.0}}, [SummaryMetric("w", "w")])
    array([[1. ],
           [1.5]])
    """
    values = np.array(
        [[_or_nan(metric.value(metrics)) for metric in summary] for metrics in runs.values()],
        dtype=np.float64,
    ).reshape(len(runs), len(summary))
    first = values[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(first != 0, values / np.where(first != 0, first, 1.0), np.nan)


def plot_comparison(runs: dict[str, dict], summary: Sequence[SummaryMetric]) -> Figure:
    """Each summary metric relative to the first run, and the per-layer sparsity.

    Args:
        runs: ``{run label: metrics.json as a dict}``.
        summary: the metrics to show.

    Returns:
        a Figure: one bar per run and metric (value / first run's value, so 1 for
        the first run); when a run has a ``hardware`` block, a second panel with
        each layer's quantized sparsity (runs without it are left out there).
    """
    with_hardware = any(metrics.get("hardware") for metrics in runs.values())
    figure, axes = new_axes(2 if with_hardware else 1, size=(11.0 if with_hardware else 6.4, 4.5))
    metric_axes, sparsity_axes = (axes[0], axes[1]) if with_hardware else (axes, None)
    _relative_bars(metric_axes, runs, summary)
    if sparsity_axes is not None:
        _sparsity_bars(sparsity_axes, runs)
    return figure


def run_labels(run_dirs: Sequence[Path]) -> list[str]:
    """A unique, short label per run directory: its name, or as many parent folders
    as it takes to tell apart directories of the same name.

    >>> run_labels([Path("a/x"), Path("b/x"), Path("a/y")])
    ['a/x', 'b/x', 'y']
    """
    parts = [Path(path).resolve().parts for path in run_dirs]
    labels = []
    for own in parts:
        depth = 1
        while depth < len(own) and any(
            other != own and other[-depth:] == own[-depth:] for other in parts
        ):
            depth += 1
        labels.append("/".join(own[-depth:]))
    return labels


def _relative_bars(axes: Axes, runs: dict[str, dict], summary: Sequence[SummaryMetric]) -> None:
    names = list(runs)
    width = BAR_SPAN / len(names)
    ratios = relative_values(runs, summary)
    for index, name in enumerate(names):
        # The same run has the same colour in both panels.
        axes.bar(
            _positions(len(summary), index, len(names)),
            ratios[index],
            width,
            label=name,
            color=f"C{index}",
        )
    axes.axhline(1.0, color="grey", linewidth=0.8)
    labels = [f"{metric.label} {ARROWS[metric.better]}" for metric in summary]
    axes.set_xticks(np.arange(len(summary)), labels, rotation=20, ha="right")
    axes.set_ylabel(f"value / value of {names[0]}")
    axes.set_title("summary metrics relative to the first run")
    axes.legend(fontsize="small")


def _sparsity_bars(axes: Axes, runs: dict[str, dict]) -> None:
    names = list(runs)
    for index, name in enumerate(names):
        hardware = runs[name].get("hardware")
        if not hardware:
            continue
        layers = list(hardware["layers"])
        values = [hardware["layers"][layer]["sparsity"] for layer in layers]
        axes.bar(
            _positions(len(layers), index, len(names)),
            values,
            BAR_SPAN / len(names),
            label=name,
            color=f"C{index}",
        )
        axes.set_xticks(np.arange(len(layers)), layers, rotation=30, ha="right")
    axes.set_ylabel("quantized sparsity")
    axes.set_ylim(0, 1)
    axes.set_title("fraction of zero weights per layer")
    axes.legend(fontsize="small")


def _positions(n_groups: int, index: int, n_runs: int) -> np.ndarray:
    offset = (index - (n_runs - 1) / 2) * BAR_SPAN / n_runs
    return np.arange(n_groups) + offset


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else value


def _number(value) -> str:
    return MISSING if value is None else f"{value:.4g}"


def _sparsity_cell(hardware: dict | None) -> str:
    if not hardware:
        return MISSING
    layers = " / ".join(f"{layer['sparsity']:.3f}" for layer in hardware["layers"].values())
    return f"{hardware['sparsity']:.3f} ({layers})"
