"""Side-by-side comparison of finished runs, from their metrics.json.

For each run: per target the robust width (half the central 68.27% interval) and
RMS of the residuals and the pull standard deviation; the quantized sparsity of
each layer and the total BOPs when the run recorded them (``hardware`` block).

>>> runs = {"a": {"x": {"robust_width": 2.0, "rms": 2.5, "pull_std": 1.0}},
...         "b": {"x": {"robust_width": 3.0, "rms": 3.5, "pull_std": 0.9}}}
>>> print(comparison_table(runs, ["x"]))
| run | x width | x RMS | x pull std | sparsity | BOPs |
| --- | --- | --- | --- | --- | --- |
| a | 2 | 2.5 | 1 | – | – |
| b | 3 | 3.5 | 0.9 | – | – |
"""

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MISSING = "–"


def comparison_table(runs: dict[str, dict], targets: list[str]) -> str:
    """Markdown table: one row per run (``runs`` maps a name to its metrics.json)."""
    header = ["run"]
    for target in targets:
        header += [f"{target} width", f"{target} RMS", f"{target} pull std"]
    header += ["sparsity", "BOPs"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, metrics in runs.items():
        cells = [name]
        for target in targets:
            entry = metrics.get(target, {})
            cells += [_number(entry.get(key)) for key in ("robust_width", "rms", "pull_std")]
        hardware = metrics.get("hardware")
        cells += [_sparsity_cell(hardware), _number(hardware and hardware["bops"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_comparison(runs: dict[str, dict], targets: list[str], path: Path) -> Path:
    """Two panels: each target's robust width relative to the first run, and each
    layer's quantized sparsity (runs without a hardware block are left out there)."""
    figure = Figure(figsize=(11, 4.5))
    FigureCanvasAgg(figure)
    widths, sparsity = figure.subplots(1, 2)
    names = list(runs)
    offsets = (np.arange(len(names)) - (len(names) - 1) / 2) * 0.8 / len(names)
    first = runs[names[0]]
    for index, (offset, name) in enumerate(zip(offsets, names, strict=True)):
        color = f"C{index}"  # the same run has the same colour in both panels
        ratios = [
            runs[name][target]["robust_width"] / first[target]["robust_width"] for target in targets
        ]
        widths.bar(
            np.arange(len(targets)) + offset, ratios, 0.8 / len(names), label=name, color=color
        )
        hardware = runs[name].get("hardware")
        if hardware:
            layers = list(hardware["layers"])
            values = [hardware["layers"][layer]["sparsity"] for layer in layers]
            positions = np.arange(len(layers)) + offset
            sparsity.bar(positions, values, 0.8 / len(names), label=name, color=color)
            sparsity.set_xticks(np.arange(len(layers)), layers, rotation=30, ha="right")
    widths.axhline(1.0, color="grey", linewidth=0.8)
    widths.set_xticks(np.arange(len(targets)), targets)
    widths.set_ylabel(f"robust width / {names[0]}")
    widths.legend(fontsize="small")
    sparsity.set_ylabel("quantized sparsity")
    sparsity.set_ylim(0, 1)
    if sparsity.has_data():
        sparsity.legend(fontsize="small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path


def _number(value) -> str:
    return MISSING if value is None else f"{value:.4g}"


def _sparsity_cell(hardware: dict | None) -> str:
    if not hardware:
        return MISSING
    layers = " / ".join(f"{layer['sparsity']:.3f}" for layer in hardware["layers"].values())
    return f"{hardware['sparsity']:.3f} ({layers})"
