"""Side-by-side comparison of finished runs, through their declared summary metrics.

Each run is its metrics.json; what is compared is a list of
:class:`~smartml.metrics.summary.SummaryMetric` (the task's declaration), so
runs of any output kind compare alike. When a run recorded its hardware cost
(``hardware`` block: quantized sparsity per layer, BOPs) the table and the plot
show it too.

>>> from smartml.metrics.summary import SummaryMetric
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
from matplotlib.ticker import LogLocator, NullFormatter

from smartml.errors import SmartmlError
from smartml.metrics.figures import axis_label, new_axes, new_figure, save_figures
from smartml.metrics.summary import MISSING, TARGET_VALUES, SummaryMetric, format_number

ARROWS = {"lower": "↓", "higher": "↑", "zero": "→0", "one": "→1"}
BAR_SPAN = 0.8  # of the unit spacing between groups of bars


def comparison_table(runs: dict[str, dict], summary: Sequence[SummaryMetric]) -> str:
    """Markdown table: one row per run, one column per summary metric.

    Args:
        runs: ``{run label: metrics.json as a dict}``, in the order of the rows.
        summary: the metrics to show; the header gives each one's unit and what is
            better (↓ lower, ↑ higher, →0 closer to 0, →1 closer to 1).

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
        cells = [label] + [format_number(metric.value(metrics)) for metric in summary]
        if with_hardware:
            hardware = metrics.get("hardware")
            cells += [_sparsity_cell(hardware), format_number(hardware and hardware["bops"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def relative_values(runs: dict[str, dict], summary: Sequence[SummaryMetric]) -> np.ndarray:
    r"""Each run's summary metrics relative to the first run's.

    A ``lower``/``higher`` metric is divided by the first run's value; a metric
    best at a target value (``zero``, ``one``) compares distances from it,
    \|v − target\| / \|first − target\|, so that below 1 is better as for ``lower``.

    Returns:
        (runs, metrics) array; NaN where a value is missing or the first run's
        (distance) is 0.

    >>> from smartml.metrics.summary import SummaryMetric
    >>> summary = [SummaryMetric("w", "w"), SummaryMetric("p", "p", better="one")]
    >>> relative_values({"a": {"w": 2.0, "p": 1.2}, "b": {"w": 3.0, "p": 0.9}}, summary)
    array([[1. , 1. ],
           [1.5, 0.5]])
    """
    values = np.array(
        [[_or_nan(metric.value(metrics)) for metric in summary] for metrics in runs.values()],
        dtype=np.float64,
    ).reshape(len(runs), len(summary))
    for column, metric in enumerate(summary):
        if metric.better in TARGET_VALUES:
            values[:, column] = np.abs(values[:, column] - TARGET_VALUES[metric.better])
    first = values[0]
    usable = np.isfinite(first) & (first != 0)
    return np.where(usable, values / np.where(usable, first, 1.0), np.nan)


def plot_comparison(runs: dict[str, dict], summary: Sequence[SummaryMetric]) -> Figure:
    """Each summary metric relative to the first run (:func:`relative_values`), and
    the per-layer sparsity.

    Args:
        runs: ``{run label: metrics.json as a dict}``.
        summary: the metrics to show.

    Returns:
        a Figure: one bar per run and metric (1 for the first run); when a run
        has a ``hardware`` block, a second panel with each layer's quantized
        sparsity (runs without it are left out there).
    """
    with_hardware = any(metrics.get("hardware") for metrics in runs.values())
    figure, axes = new_axes(2 if with_hardware else 1, size=(11.0 if with_hardware else 6.4, 4.5))
    metric_axes, sparsity_axes = (axes[0], axes[1]) if with_hardware else (axes, None)
    _relative_bars(metric_axes, runs, summary)
    if sparsity_axes is not None:
        _sparsity_bars(sparsity_axes, runs)
    return figure


COSTS = (("bops", "BOPs"), ("luts", "LUTs (distributed arithmetic, predicted)"))
# Reference (float) runs are lines, told apart by their style.
REFERENCE_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))


def plot_against_cost(runs: dict[str, dict], summary: Sequence[SummaryMetric]) -> Figure:
    """The summary metrics where lower is better (widths, RMS, mis-identification)
    against each run's hardware cost: the resolution-versus-size picture.

    Args:
        runs: ``{run label: metrics.json as a dict}``.
        summary: the task's summary metrics; those where lower is better are drawn.

    Returns:
        a Figure with one row per metric and one column per cost (BOPs, LUTs of the
        ``hardware`` block). A run without a ``hardware`` block (a float reference)
        is a horizontal line at its value, each reference in its own line style.

    >>> from smartml.metrics.summary import SummaryMetric
    >>> runs = {"small": {"x": {"robust_width": 6.1}, "hardware": {"bops": 8e5, "luts": 3e4}},
    ...         "float": {"x": {"robust_width": 4.0}}}
    >>> width = SummaryMetric("x.robust_width", "x width", "µm", "lower")
    >>> figure = plot_against_cost(runs, [width])
    >>> [line.get_label() for line in figure.axes[0].get_lines()]
    ['small', 'float (float)']
    >>> list(figure.axes[0].get_lines()[1].get_ydata())
    [4.0, 4.0]
    """
    drawn = [metric for metric in summary if metric.better == "lower"]
    figure = new_figure((5.0 * len(COSTS), 3.2 * len(drawn)))
    grid = figure.subplots(len(drawn), len(COSTS), squeeze=False)
    for row, metric in enumerate(drawn):
        for column, (key, label) in enumerate(COSTS):
            axes_ = grid[row, column]
            references = 0
            for name, metrics in runs.items():
                value = metric.value(metrics)
                hardware = metrics.get("hardware")
                if value is None:
                    continue
                if hardware:
                    if hardware.get(key) is not None:  # runs of older versions lack luts
                        axes_.plot([hardware[key]], [value], "o", label=name)
                else:
                    style = REFERENCE_STYLES[references % len(REFERENCE_STYLES)]
                    axes_.axhline(value, linestyle=style, color="0.3", label=f"{name} (float)")
                    references += 1
            # (the reference lines' x data are axes fractions, not costs)
            costs = [
                value
                for line in axes_.get_lines()
                if line.get_linestyle() == "None"
                for value in line.get_xdata()
                if value > 0
            ]
            # A log axis within one decade shows only crowded minor labels.
            if costs and max(costs) >= 10 * min(costs):
                axes_.set_xscale("log")
                # labels at 1, 2 and 5 of each decade; the other minor ticks unlabelled
                axes_.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                axes_.xaxis.set_minor_formatter(NullFormatter())
            else:
                axes_.locator_params(axis="x", nbins=4)  # six-digit labels
            axes_.set_xlabel(label)
            axes_.set_ylabel(axis_label(metric.label, metric.unit))
    grid[0, 0].legend(fontsize="small")
    return figure


def compare_runs(run_dirs: Sequence[Path], output: Path, summary: Sequence[SummaryMetric]) -> None:
    """Compare complete runs of one task through its summary metrics.

    Prints the table and writes ``comparison.md`` and ``comparison.png`` to
    ``output``, and ``comparison_cost.png`` (:func:`plot_against_cost`) when a run
    recorded its hardware cost. Runs are labelled by :func:`run_labels`. That the runs are of one
    task is the caller's to check (it knows their tasks).

    Args:
        run_dirs: two or more complete run directories.
        output: directory for the table and the plot, created if needed.
        summary: the task's declared summary metrics.

    Raises:
        SmartmlError: one line: an incomplete run, an unreadable metrics.json, a
            run without one of the summary metrics, a run given twice.
    """
    from smartml.runs.directory import RunDirectory

    labels = run_labels(run_dirs)
    if len(set(labels)) != len(labels):
        raise SmartmlError(f"a run directory is given twice: {[str(p) for p in run_dirs]}")
    runs = {
        label: RunDirectory.read_json(RunDirectory(path).require_complete().metrics)
        for label, path in zip(labels, run_dirs, strict=True)
    }
    for label, metrics in runs.items():
        missing = [metric.key for metric in summary if metric.value(metrics) is None]
        if missing:
            raise SmartmlError(
                f"{label}: metrics.json lacks {', '.join(missing)}; compare runs of one task"
            )
    table = comparison_table(runs, summary)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "comparison.md").write_text(table + "\n")
    figures = {"comparison": plot_comparison(runs, summary)}
    if any(metrics.get("hardware") for metrics in runs.values()):
        figures["comparison_cost"] = plot_against_cost(runs, summary)
    save_figures(figures, output)
    print(table)


def shared_summary_metrics(run_dirs: Sequence[Path]) -> list[SummaryMetric]:
    """The summary metrics of the one task all ``run_dirs`` ran.

    Raises:
        SmartmlError: one line listing the runs and their tasks when they differ.
    """
    from smartml.runs.opening import open_task

    tasks = [open_task(path, prepare=False) for path in run_dirs]
    names = {task.config.task.name for _, task in tasks}
    if len(names) > 1:
        listing = ", ".join(f"{run_dir.path} ({task.config.task.name})" for run_dir, task in tasks)
        raise SmartmlError(f"runs of different tasks cannot be compared: {listing}")
    return list(tasks[0][1].summary_metrics())


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
    axes.set_ylabel(f"relative to {names[0]} (distance from target for →0, →1)")
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


def _sparsity_cell(hardware: dict | None) -> str:
    if not hardware:
        return MISSING
    layers = " / ".join(f"{layer['sparsity']:.3f}" for layer in hardware["layers"].values())
    return f"{hardware['sparsity']:.3f} ({layers})"
