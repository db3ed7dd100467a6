"""One way to compute a quantity in bins of a variable, for every per-bin result.

Three steps, each usable alone:

1. edges: :func:`explicit_edges` (given values), :func:`equal_population_edges`
   (quantiles of the variable: every bin holds about the same number of examples,
   hence the same statistical precision) or :func:`equal_width_edges` (equal widths
   between two quantiles, so that a few extreme values do not stretch the axis);
2. :func:`assign_bins`: the bin of every example; ``UNDERFLOW`` below the first
   edge, ``overflow_index(edges)`` above the last (the last edge belongs to the last
   bin, as in ``numpy.histogram``);
3. :func:`per_bin`: apply functions to the examples of each bin; a pandas DataFrame
   indexed by bin number with ``low``, ``high``, ``centre``, ``count`` and one column
   per function. Under- and overflow are dropped, or reported as rows of their own.

>>> variable = np.array([0.5, 1.5, 1.7, 2.5, 9.0])
>>> residual = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
>>> frame = per_bin(variable, explicit_edges([0, 1, 2, 3]),
...                 {"mean": lambda rows: residual[rows].mean()}, overflow="report")
>>> frame[["low", "high", "count", "mean"]]
     low  high  count  mean
bin
-1  -inf   0.0      0   NaN
0    0.0   1.0      1   1.0
1    1.0   2.0      2   3.0
2    2.0   3.0      1   8.0
3    3.0   inf      1  16.0
"""

from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
import pandas as pd

from smartml.metrics.checks import EvaluationError, finite_vector

UNDERFLOW = -1
BIN_INDEX = "bin"
BIN_COLUMNS = ("low", "high", "centre", "count")

# A per-bin function receives the integer indices of the examples in the bin.
BinFunction = Callable[[np.ndarray], float]


def explicit_edges(edges) -> np.ndarray:
    """Validate bin edges given by the user.

    Args:
        edges: at least two finite, strictly increasing values.

    Returns:
        the edges as a float64 array.

    >>> explicit_edges([0, 1, 5])
    array([0., 1., 5.])
    """
    edges = finite_vector("edges", edges)
    if edges.size < 2 or not np.all(np.diff(edges) > 0):
        raise EvaluationError(
            f"edges must be at least two strictly increasing values, got {edges.tolist()}"
        )
    return edges


def equal_population_edges(values, bins: int, name: str = "values") -> np.ndarray:
    """Edges at the quantiles of ``values``: bins of (about) equal population.

    Repeated quantiles (a variable with few distinct values) are merged, so fewer
    than ``bins`` bins may come back.

    Args:
        values: (n,) finite values of the variable.
        bins: the number of bins wanted.
        name: what ``values`` are, for error messages.

    Returns:
        the edges, from the minimum to the maximum of ``values``.

    >>> equal_population_edges(np.arange(101.0), 4)
    array([  0.,  25.,  50.,  75., 100.])
    """
    values = finite_vector(name, values)
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, _bin_count(bins) + 1)))
    if edges.size < 2:
        raise EvaluationError(f"{name} are all {edges[0]:g}; cannot bin a constant variable")
    return edges


def equal_width_edges(
    values, bins: int, quantile_range: tuple[float, float] = (0.0, 1.0), name: str = "values"
) -> np.ndarray:
    """Equal-width edges between two quantiles of ``values``.

    Args:
        values: (n,) finite values of the variable.
        bins: the number of bins.
        quantile_range: (low, high) quantiles of ``values`` spanned by the edges.
        name: what ``values`` are, for error messages.

    Returns:
        ``bins + 1`` edges.

    >>> equal_width_edges(np.arange(11.0), 2)
    array([ 0.,  5., 10.])
    """
    values = finite_vector(name, values)
    bins = _bin_count(bins)
    low_q, high_q = quantile_range
    if not 0.0 <= low_q < high_q <= 1.0:
        raise EvaluationError(
            f"quantile_range must satisfy 0 <= low < high <= 1, got {quantile_range}"
        )
    low, high = np.quantile(values, [low_q, high_q])
    if not high > low:
        raise EvaluationError(
            f"{name} has no spread between its {quantile_range} quantiles (all near {low:g}); "
            "cannot bin it"
        )
    return np.linspace(low, high, bins + 1)


def overflow_index(edges: np.ndarray) -> int:
    """The bin number :func:`assign_bins` gives to values above the last edge."""
    return len(edges) - 1


def assign_bins(values, edges: np.ndarray) -> np.ndarray:
    """The bin of every value.

    Args:
        values: (n,) finite values of the variable.
        edges: increasing bin edges (from one of the ``*_edges`` functions).

    Returns:
        (n,) integers: ``b`` for ``edges[b] <= v < edges[b + 1]`` (the last bin
        includes its upper edge), :data:`UNDERFLOW` below the first edge,
        ``overflow_index(edges)`` above the last.

    >>> assign_bins([-1.0, 0.0, 1.0, 2.0, 3.0], np.array([0.0, 1.0, 2.0]))
    array([-1,  0,  1,  1,  2])
    """
    values = finite_vector("values", values)
    n_bins = len(edges) - 1
    bins = np.searchsorted(edges, values, side="right") - 1
    bins[values == edges[-1]] = n_bins - 1
    bins[bins >= n_bins] = n_bins  # above the last edge (searchsorted gives n_bins)
    return bins


def per_bin(
    variable,
    edges: np.ndarray,
    functions: Mapping[str, BinFunction],
    min_count: int = 0,
    overflow: Literal["drop", "report"] = "drop",
) -> pd.DataFrame:
    """Apply ``functions`` to the examples of every bin of ``variable``.

    Args:
        variable: (n,) finite values that are binned.
        edges: the bin edges.
        functions: ``{column: f}``; ``f(rows)`` gets the integer indices (into
            ``variable`` and whatever arrays the caller aligned with it) of the
            examples of one bin and returns a number.
        min_count: bins with fewer examples are left out (a statistic of a handful
            of examples is noise); 0 keeps even empty bins, where the functions are
            not called and the columns are NaN.
        overflow: ``"drop"`` ignores values outside the edges; ``"report"`` adds the
            rows :data:`UNDERFLOW` (low = -inf) and ``overflow_index(edges)``
            (high = +inf), whose centre is NaN.

    Returns:
        DataFrame indexed by bin number (``bin``) with ``low``, ``high``, ``centre``,
        ``count`` and one column per function, in the order given.
    """
    if overflow not in ("drop", "report"):
        raise EvaluationError(f"overflow must be 'drop' or 'report', got {overflow!r}")
    clash = set(functions) & set(BIN_COLUMNS)
    if clash:
        raise EvaluationError(f"functions must not be named {sorted(clash)}: bin columns")
    bins = assign_bins(variable, edges)
    rows = [
        _bin_row(b, edges, np.flatnonzero(bins == b), functions, min_count)
        for b in _bin_numbers(edges, overflow)
    ]
    frame = pd.DataFrame(
        [row for row in rows if row is not None], columns=[BIN_INDEX, *BIN_COLUMNS, *functions]
    )
    return frame.set_index(BIN_INDEX)


def _bin_numbers(edges: np.ndarray, overflow: str) -> range:
    n_bins = len(edges) - 1
    return range(UNDERFLOW, n_bins + 1) if overflow == "report" else range(n_bins)


def _bin_row(
    b: int,
    edges: np.ndarray,
    rows: np.ndarray,
    functions: Mapping[str, BinFunction],
    min_count: int,
) -> dict | None:
    if rows.size < min_count:
        return None
    bounded = np.concatenate([[-np.inf], edges, [np.inf]])
    low, high = float(bounded[b + 1]), float(bounded[b + 2])
    centre = (low + high) / 2.0 if np.isfinite(low) and np.isfinite(high) else np.nan
    row = {BIN_INDEX: b, "low": low, "high": high, "centre": centre, "count": int(rows.size)}
    for name, function in functions.items():
        row[name] = float(function(rows)) if rows.size else np.nan
    return row


def _bin_count(bins) -> int:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise EvaluationError(f"bins must be a positive integer, got {bins!r}")
    return int(bins)
