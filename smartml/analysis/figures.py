"""Figures of the analysis functions (matplotlib ``Figure`` objects: they show in a
notebook and save with ``figure.savefig``; no pyplot state)."""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from smartml.analysis.weights import TensorWeights


def _message(text: str) -> Figure:
    figure = Figure(figsize=(6, 1.5))
    ax = figure.subplots()
    ax.text(0.5, 0.5, text, ha="center", va="center")
    ax.set_axis_off()
    return figure


def _grid(n: int, width: float = 3.6, height: float = 2.8, columns: int = 4):
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    figure = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for unused in axes[n:]:
        unused.set_visible(False)
    return figure, axes[:n]


def weight_histograms(tensors: list[TensorWeights]) -> Figure:
    """What quantization did to each weight tensor.

    Args:
        tensors: from :func:`smartml.analysis.weights.tensor_weights`.

    Returns:
        one panel per tensor: histogram of the float weights and, on the same bins,
        of the quantized weights.
    """
    if not tensors:
        return _message("no quantized layers in this model")
    figure, axes = _grid(len(tensors))
    for ax, tensor in zip(axes, tensors, strict=True):
        bins = np.linspace(
            min(tensor.float_values.min(), tensor.levels.min()) - 1e-6,
            max(tensor.float_values.max(), tensor.levels.max()) + 1e-6,
            41,
        )
        ax.hist(tensor.float_values, bins=bins, alpha=0.6, label="float")
        ax.hist(tensor.quantized_values, bins=bins, histtype="step", color="k", label="quantized")
        ax.set_title(f"{tensor.layer} {tensor.role}", fontsize="small")
        ax.set_xlabel("weight")
    axes[0].legend(fontsize="x-small")
    return figure


def quantized_levels(tensors: list[TensorWeights]) -> Figure:
    """The quantized values each weight tensor uses.

    Args:
        tensors: from :func:`smartml.analysis.weights.tensor_weights`.

    Returns:
        one panel per tensor: count of each value in use (zero in red); the title
        gives the number of distinct values.
    """
    if not tensors:
        return _message("no quantized layers in this model")
    figure, axes = _grid(len(tensors))
    for ax, tensor in zip(axes, tensors, strict=True):
        colors = ["C3" if level == 0 else "C0" for level in tensor.levels]
        step = np.min(np.diff(tensor.levels)) if len(tensor.levels) > 1 else 1.0
        ax.bar(tensor.levels, tensor.counts, width=0.8 * step, color=colors)
        ax.set_title(f"{tensor.layer} {tensor.role}: {len(tensor.levels)} levels", fontsize="small")
        ax.set_xlabel("quantized value")
    return figure


def zero_fractions_vs_targets(table: pd.DataFrame) -> Figure:
    """Quantized zero fraction per layer against the MDMM targets.

    Args:
        table: :func:`smartml.analysis.weights.zero_fractions`.

    Returns:
        a bar per layer, a red tick at its target where it has one.
    """
    figure = Figure(figsize=(7, 3.5), layout="constrained")
    ax = figure.subplots()
    positions = np.arange(len(table))
    ax.bar(positions, table["zero_fraction"], color="C0", label="quantized zeros")
    has_target = table["target"].notna()
    ax.scatter(
        positions[has_target],
        table["target"][has_target],
        color="C3",
        marker="_",
        s=600,
        linewidths=3,
        label="MDMM target",
        zorder=3,
    )
    ax.set_xticks(positions, table["layer"], rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("fraction of weights = 0")
    ax.legend(fontsize="small")
    return figure


def constraint_histories(
    histories: dict[str, pd.DataFrame], bounds: dict[str, float] | None = None
) -> Figure:
    """Each MDMM constraint's value and multiplier λ per epoch.

    Args:
        histories: :func:`smartml.analysis.histories.constraint_histories`.
        bounds: ``{constraint: target or budget}`` drawn as a dashed line, e.g. from
            ``weights.constraint_table(...)`` columns ``constraint`` and ``bound``.

    Returns:
        one panel per constraint: value (left axis), λ (right axis); a note when the
        run had no constraints.
    """
    bounds = bounds or {}
    if not histories:
        return _message("no MDMM constraints in this run")
    figure, axes = _grid(len(histories), columns=3)
    for ax, (name, frame) in zip(axes, histories.items(), strict=True):
        ax.plot(frame["epoch"], frame["value"], color="C0")
        if name in bounds:
            ax.axhline(bounds[name], color="C0", linestyle="--", linewidth=0.8)
        ax.set_ylabel("value", color="C0")
        twin = ax.twinx()
        twin.plot(frame["epoch"], frame["lambda"], color="C1")
        twin.set_ylabel("lambda", color="C1")
        ax.set_title(name, fontsize="small")
        ax.set_xlabel("epoch")
    return figure


def history_lines(frame: pd.DataFrame, ylabel: str, x: str = "epoch") -> Figure:
    """Every column of ``frame`` except ``x`` against ``x``.

    Args:
        frame: e.g. :func:`smartml.analysis.histories.layer_sparsity_history`.
        ylabel: label of the y axis.
        x: the column on the x axis.

    Returns:
        one line per other column.
    """
    figure = Figure(figsize=(7, 3.5), layout="constrained")
    ax = figure.subplots()
    for column in frame.columns:
        if column != x:
            ax.plot(frame[x], frame[column], label=column)
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="x-small")
    return figure


def resolution_vs(binned: dict[str, pd.DataFrame], variable: str, targets: list[str]) -> Figure:
    """Resolution and pull spread of each target against the true ``variable``.

    Args:
        binned: ``{run name: comparison.resolution_vs(run, variable)}``.
        variable: the binned target, for the axis label.
        targets: one column of panels per target.

    Returns:
        top row: robust width of prediction − truth; bottom row: pull std (1 for
        honest uncertainties); one line per run.
    """
    figure = Figure(figsize=(3.6 * len(targets), 5.6), layout="constrained")
    axes = figure.subplots(2, len(targets), sharex="col", squeeze=False)
    for column, target in enumerate(targets):
        width_ax, pull_ax = axes[0, column], axes[1, column]
        for name, frame in binned.items():
            centres = 0.5 * (frame["low"] + frame["high"])
            width_ax.plot(centres, frame[f"{target} width"], marker="o", label=name)
            pull_ax.plot(centres, frame[f"{target} pull std"], marker="o", label=name)
        pull_ax.axhline(1.0, color="grey", linewidth=0.8)
        width_ax.set_ylabel(f"{target} width")
        pull_ax.set_ylabel(f"{target} pull std")
        pull_ax.set_xlabel(f"true {variable}")
    axes[0, 0].legend(fontsize="x-small")
    return figure


def stored_profiles(profiles: dict[str, dict[str, pd.DataFrame]]) -> Figure:
    """Resolution of each target against its own true value, one line per run.

    Args:
        profiles: ``{target: comparison.stored_profiles(runs, target)}``.

    Returns:
        one panel per target with stored profiles.
    """
    shown = {target: by_run for target, by_run in profiles.items() if by_run}
    if not shown:
        return _message("no run stored profile_vs_truth in its metrics.json")
    figure, axes = _grid(len(shown), columns=len(shown))
    for ax, (target, by_run) in zip(axes, shown.items(), strict=True):
        for name, frame in by_run.items():
            ax.plot(frame["centre"], frame["robust_width"], marker=".", label=name)
        ax.set_xlabel(f"true {target}")
        ax.set_ylabel(f"{target} width")
    axes[0].legend(fontsize="x-small")
    return figure


def bops_bars(table: pd.DataFrame) -> Figure:
    """BOPs per run, with the least any pruning of the architecture reaches.

    Args:
        table: ``comparison.hardware_table(runs)``.

    Returns:
        one bar per run; a black tick at its minimum BOPs.
    """
    figure = Figure(figsize=(max(4.0, 1.2 * len(table) + 2), 3.5), layout="constrained")
    ax = figure.subplots()
    positions = np.arange(len(table))
    ax.bar(positions, table["BOPs"].to_numpy(dtype=float), color="C0", label="BOPs")
    ax.scatter(
        positions,
        table["minimum BOPs"].to_numpy(dtype=float),
        color="k",
        marker="_",
        s=600,
        label="every weight pruned",
        zorder=3,
    )
    ax.set_xticks(positions, [str(name) for name in table.index], rotation=20, ha="right")
    ax.set_ylabel("bit operations per inference")
    ax.legend(fontsize="x-small")
    return figure


def grouped_bars(table: pd.DataFrame, ylabel: str) -> Figure:
    """Bars of a table of runs.

    Args:
        table: rows: runs, columns: groups (e.g. layers or targets); numbers.
        ylabel: label of the y axis.

    Returns:
        one group of bars per column, one bar per row.
    """
    figure = Figure(figsize=(8, 3.5), layout="constrained")
    ax = figure.subplots()
    width = 0.8 / max(len(table), 1)
    for index, (name, row) in enumerate(table.iterrows()):
        ax.bar(
            np.arange(len(table.columns)) + index * width,
            row.to_numpy(dtype=float),
            width,
            label=str(name),
        )
    ax.set_xticks(
        np.arange(len(table.columns)) + 0.4 - width / 2, table.columns, rotation=30, ha="right"
    )
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="x-small")
    return figure
