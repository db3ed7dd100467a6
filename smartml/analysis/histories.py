"""Per-epoch histories of a run (history.csv): MDMM constraints and their multipliers,
per-layer quantized sparsity, BOPs.

The columns are those the training logs: ``mdmm_<name>_value`` and
``mdmm_<name>_lambda`` per constraint (MDMM runs), ``sparsity_<layer>`` per quantized
layer and ``bops`` (every run with quantized layers, since these were logged).
"""

import numpy as np
import pandas as pd


def constraint_histories(history: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Value and multiplier λ of each MDMM constraint per epoch.

    Args:
        history: history.csv as read by :func:`~smartml.analysis.run_contents.open_run`.

    Returns:
        ``{constraint name: DataFrame(epoch, value, lambda)}`` from the
        ``mdmm_<name>_value`` / ``mdmm_<name>_lambda`` columns (λ NaN where it was not
        logged); empty for a run without MDMM.

    >>> h = pd.DataFrame({"epoch": [0, 1], "mdmm_d0_value": [0.3, 0.5],
    ...                   "mdmm_d0_lambda": [-1.0, -0.5]})
    >>> constraint_histories(h)["d0"]["lambda"].tolist()
    [-1.0, -0.5]
    """
    result = {}
    for column in history.columns:
        if column.startswith("mdmm_") and column.endswith("_value"):
            name = column[len("mdmm_") : -len("_value")]
            frame = pd.DataFrame({"epoch": history["epoch"], "value": history[column]})
            frame["lambda"] = history.get(f"mdmm_{name}_lambda", np.nan)
            result[name] = frame.reset_index(drop=True)
    return result


def layer_sparsity_history(history: pd.DataFrame) -> pd.DataFrame:
    """Quantized sparsity of each layer per epoch.

    Args:
        history: history.csv as a DataFrame.

    Returns:
        ``epoch`` and one column per layer (from ``sparsity_<layer>``); only
        ``epoch`` when the run did not log them.

    >>> h = pd.DataFrame({"epoch": [0], "loss": [1.0], "sparsity_d0": [0.25]})
    >>> layer_sparsity_history(h).columns.tolist()
    ['epoch', 'd0']
    """
    columns = [c for c in history.columns if c.startswith("sparsity_")]
    frame = history[["epoch", *columns]].copy()
    return frame.rename(columns={c: c[len("sparsity_") :] for c in columns})


def bops_history(history: pd.DataFrame) -> pd.Series | None:
    """Total BOPs per epoch.

    Args:
        history: history.csv as a DataFrame.

    Returns:
        a Series indexed by epoch, None when the run did not log ``bops``.
    """
    if "bops" not in history.columns:
        return None
    return pd.Series(history["bops"].to_numpy(), index=history["epoch"], name="bops")
