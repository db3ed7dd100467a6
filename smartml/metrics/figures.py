"""What every evaluation figure shares: a new figure, titles, axis labels, saving.

Figures are drawn on the Agg canvas directly, without pyplot: nothing is shown, no
figure is left registered with pyplot, and the backend of an interactive session (a
notebook) is left alone. A plot function returns its Figure (a notebook displays
it); :func:`save_figures` writes a ``{name: Figure}`` dict as PNG (and PDF, SVG)
files. Drawn inside :func:`plot_style`, figures take an experiment's style (mplhep:
CMS, ATLAS, LHCb2, ALICE); the default is matplotlib's.

>>> figure, axes = new_axes()
>>> _ = axes.set_title(title("residual of x", run_name="pixel_2t"))
>>> figure.axes[0].get_title()
'residual of x — pixel_2t'
"""

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from smartml.metrics.checks import EvaluationError

DPI = 120
FIGURE_SIZE = (6.4, 4.8)
HISTOGRAM_BINS = 100
# Histogram ranges span the central 99% of the values, so that a few outliers do not
# squeeze the core of the distribution into a couple of bins.
RANGE_QUANTILES = (0.005, 0.995)
# Factor on the y range of histograms, to leave room for a legend above the data.
LEGEND_HEADROOM = 1.35
PLOT_STYLES = ("default", "CMS", "ATLAS", "LHCb2", "ALICE")
PLOT_FORMATS = ("png", "pdf", "svg")
_SAFE_NAME = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*")


@contextmanager
def plot_style(name: str = "default") -> Iterator[None]:
    """Draw the figures made inside in the style ``name`` (:data:`PLOT_STYLES`):
    ``default`` is matplotlib's, the others mplhep's experiment styles.

    >>> import matplotlib
    >>> with plot_style("CMS"):
    ...     print(matplotlib.rcParams["xaxis.labellocation"])
    right
    >>> print(matplotlib.rcParams["xaxis.labellocation"])
    center

    Raises:
        EvaluationError: an unknown style.
    """
    if name not in PLOT_STYLES:
        raise EvaluationError(f"plot style {name!r}: expected one of {', '.join(PLOT_STYLES)}")
    if name == "default":
        yield
        return
    import matplotlib.style
    import mplhep  # type: ignore[import-untyped]

    with matplotlib.style.context(getattr(mplhep.style, name)):
        yield


def new_figure(size: tuple[float, float] = FIGURE_SIZE) -> Figure:
    """A new, empty Agg figure (constrained layout), not registered with pyplot."""
    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def new_axes(n_columns: int = 1, size: tuple[float, float] = FIGURE_SIZE) -> tuple[Figure, Any]:
    """A new Agg figure with one row of ``n_columns`` axes.

    Returns:
        ``(figure, axes)``; ``axes`` is an array when ``n_columns > 1``.
    """
    figure = new_figure(size)
    return figure, figure.subplots(1, n_columns)


def title(quantity: str, run_name: str | None = None) -> str:
    """A figure title: the quantity in words, then the run when given.

    >>> title("pull of y"), title("pull of y", "mdmm")
    ('pull of y', 'pull of y — mdmm')
    """
    return f"{quantity} — {run_name}" if run_name else quantity


def axis_label(quantity: str, unit: str = "") -> str:
    """``quantity [unit]``, or the quantity alone when it has no unit.

    >>> axis_label("x residual", "µm"), axis_label("pull")
    ('x residual [µm]', 'pull')
    """
    return f"{quantity} [{unit}]" if unit else quantity


def with_unit(number: float, unit: str = "") -> str:
    """A number to three digits with its unit.

    >>> with_unit(6.0712, "µm")
    '6.07 µm'
    """
    return f"{number:.3g} {unit}".rstrip()


def filename_safe(names, what: str = "names") -> list[str]:
    """Names made safe for file names (other characters become ``_``).

    Raises:
        EvaluationError: two names give the same file name.

    >>> filename_safe(["x-midplane", "cot β / x"])
    ['x-midplane', 'cot_x']
    """
    stems = [re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "target" for name in names]
    if len(set(stems)) != len(stems):
        raise EvaluationError(f"{what} {list(names)} give clashing file names {stems}; rename them")
    return stems


def central_range(values: np.ndarray) -> tuple[float, float]:
    """The central 99% of ``values``, widened when the sample is (nearly) constant."""
    low, high = np.quantile(values, RANGE_QUANTILES)
    if high <= low:
        pad = max(abs(low), 1.0) * 0.01
        low, high = low - pad, high + pad
    return float(low), float(high)


def legend_above_data(axes: Axes) -> None:
    """Legend in the top margin, so that it never hides the peak of a histogram."""
    axes.set_ylim(top=axes.get_ylim()[1] * LEGEND_HEADROOM)
    axes.legend(loc="upper right", fontsize="small")


def save_figures(
    figures: Mapping[str, Figure], directory: Path, formats: Sequence[str] = ("png",)
) -> list[Path]:
    """Write each figure as ``<directory>/<name>.<format>`` for each of ``formats``
    (:data:`PLOT_FORMATS`).

    Args:
        figures: ``{name: Figure}``; names are file stems (letters, digits, ``.``,
            ``_``, ``-``), optionally in one folder (``inputs/pt``).
        directory: created if needed.
        formats: file formats, e.g. ``("png", "pdf")``.

    Returns:
        the written paths, figure by figure in the order of ``figures``, each in the
        order of ``formats``.

    Raises:
        EvaluationError: a name that is not a plain file stem (nothing is written).
    """
    unknown = [kind for kind in formats if kind not in PLOT_FORMATS]
    if unknown or not formats:
        raise EvaluationError(
            f"plot formats {list(formats)}: expected one or more of {', '.join(PLOT_FORMATS)}"
        )
    bad = [name for name in figures if not _SAFE_NAME.fullmatch(name)]
    if bad:
        raise EvaluationError(
            f"figure names {bad} are not file stems; use letters, digits, '.', '_', '-' "
            "(and one '/' for a folder)"
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, figure in figures.items():
        for kind in formats:
            path = directory / f"{name}.{kind}"
            path.parent.mkdir(exist_ok=True)
            figure.savefig(path, dpi=DPI)
            written.append(path)
    return written


def step_histogram(
    axes: Axes,
    values: np.ndarray,
    value_range: tuple[float, float],
    label: str,
    density: bool = False,
    bins: int = HISTOGRAM_BINS,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``np.histogram(values)`` as a step line with its statistical errors
    (√n per bin, scaled like the counts when ``density``); returns ``(counts, edges)``.

    >>> figure, axes = new_axes()
    >>> counts, edges = step_histogram(axes, np.array([0.1, 0.2, 0.7]), (0, 1), "x", bins=2)
    >>> counts.tolist(), axes.containers[0].lines[2][0].get_segments()[0].tolist()
    ([2.0, 1.0], [[0.25, 0.5857864376269049], [0.25, 3.414213562373095]])
    """
    raw, edges = np.histogram(values, bins=bins, range=value_range)
    raw = raw.astype(np.float64)
    scale = 1.0 / (raw.sum() * np.diff(edges)) if density and raw.sum() > 0 else 1.0
    counts, errors = raw * scale, np.sqrt(raw) * scale
    line = axes.stairs(counts, edges, linewidth=1.5, label=label)
    centres = 0.5 * (edges[:-1] + edges[1:])
    axes.errorbar(centres, counts, yerr=errors, fmt="none", ecolor=line.get_edgecolor(), lw=1)
    return counts, edges
