"""Figures of the analysis functions (matplotlib ``Figure`` objects: they show in a
notebook and save with ``figure.savefig``; no pyplot state)."""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from smartml.analysis.weights import TensorWeights


def _grid(n: int, width: float = 3.6, height: float = 2.8, columns: int = 4):
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    figure = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for unused in axes[n:]:
        unused.set_visible(False)
    return figure, axes[:n]


def weight_histograms(tensors: list[TensorWeights]) -> Figure:
    """Per tensor: histogram of the float weights and, on the same bins, of the
    quantized weights (what quantization did)."""
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
    """Per tensor: how often each quantized value is used (zero highlighted)."""
    figure, axes = _grid(len(tensors))
    for ax, tensor in zip(axes, tensors, strict=True):
        colors = ["C3" if level == 0 else "C0" for level in tensor.levels]
        step = np.min(np.diff(tensor.levels)) if len(tensor.levels) > 1 else 1.0
        ax.bar(tensor.levels, tensor.counts, width=0.8 * step, color=colors)
        ax.set_title(f"{tensor.layer} {tensor.role}: {len(tensor.levels)} levels", fontsize="small")
        ax.set_xlabel("quantized value")
    return figure


def zero_fractions_vs_targets(table: pd.DataFrame) -> Figure:
    """Quantized zero fraction per layer, with the MDMM target where there is one."""
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


def constraint_histories(histories: dict[str, pd.DataFrame]) -> Figure:
    """Each constraint's value (left axis) and multiplier λ (right axis) per epoch."""
    figure, axes = _grid(max(len(histories), 1), columns=3)
    if not histories:
        axes[0].text(0.5, 0.5, "no MDMM constraints in this run", ha="center", va="center")
        axes[0].set_axis_off()
        return figure
    for ax, (name, frame) in zip(axes, histories.items(), strict=True):
        ax.plot(frame["epoch"], frame["value"], color="C0")
        ax.set_ylabel("value", color="C0")
        twin = ax.twinx()
        twin.plot(frame["epoch"], frame["lambda"], color="C1")
        twin.set_ylabel("lambda", color="C1")
        ax.set_title(name, fontsize="small")
        ax.set_xlabel("epoch")
    return figure


def history_lines(frame: pd.DataFrame, ylabel: str, x: str = "epoch") -> Figure:
    """Every column of ``frame`` except ``x`` against ``x`` (e.g. sparsity per layer)."""
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
    """Resolution (robust width) of each target against ``variable``, one line per run."""
    figure, axes = _grid(len(targets), columns=len(targets))
    for ax, target in zip(axes, targets, strict=True):
        for name, frame in binned.items():
            centres = 0.5 * (frame["low"] + frame["high"])
            ax.plot(centres, frame[f"{target} width"], marker="o", label=name)
        ax.set_xlabel(f"true {variable}")
        ax.set_ylabel(f"{target} width")
    axes[0].legend(fontsize="x-small")
    return figure


def grouped_bars(table: pd.DataFrame, ylabel: str) -> Figure:
    """One group of bars per column of ``table``, one bar per row (run)."""
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
