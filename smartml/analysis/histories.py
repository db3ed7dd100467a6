"""Per-epoch histories of a run (history.csv): MDMM constraints, sparsity, BOPs."""

import pandas as pd


def constraint_histories(history: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{constraint name: DataFrame(epoch, value, lambda)}`` from the
    ``mdmm_<name>_value`` / ``mdmm_<name>_lambda`` columns (empty without MDMM).

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
            frame["lambda"] = history.get(f"mdmm_{name}_lambda")
            result[name] = frame
    return result


def layer_sparsity_history(history: pd.DataFrame) -> pd.DataFrame:
    """Epoch and one column per layer (from ``sparsity_<layer>``)."""
    columns = [c for c in history.columns if c.startswith("sparsity_")]
    frame = history[["epoch", *columns]].copy()
    return frame.rename(columns={c: c[len("sparsity_") :] for c in columns})


def bops_history(history: pd.DataFrame) -> pd.Series | None:
    """Total BOPs per epoch, None when the run did not log them."""
    if "bops" not in history.columns:
        return None
    return pd.Series(history["bops"].to_numpy(), index=history["epoch"], name="bops")
