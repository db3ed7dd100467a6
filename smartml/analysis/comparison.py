"""Several runs side by side: metrics, what differs in their configurations, and
resolution as a function of the track angles."""

import numpy as np
import pandas as pd

from smartml.analysis.run_contents import RunContents
from smartml.evaluation.regression_metrics import robust_width


def metrics_table(runs: list[RunContents]) -> pd.DataFrame:
    """One row per run: per target robust width, RMS, pull std; total sparsity, BOPs."""
    rows = []
    for run in runs:
        row = {"run": run.name}
        for target in run.targets:
            entry = run.metrics[target]
            row[f"{target} width"] = entry.get("robust_width")
            row[f"{target} RMS"] = entry.get("rms")
            row[f"{target} pull std"] = entry.get("pull_std")
        hardware = run.metrics.get("hardware") or {}
        row["sparsity"] = hardware.get("sparsity")
        row["BOPs"] = hardware.get("bops")
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def layer_sparsity_table(runs: list[RunContents]) -> pd.DataFrame:
    """Quantized sparsity per layer (columns) and run (rows), from metrics.json."""
    rows = {}
    for run in runs:
        layers = (run.metrics.get("hardware") or {}).get("layers", {})
        rows[run.name] = {name: entry["sparsity"] for name, entry in layers.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def flatten(config: dict, prefix: str = "") -> dict:
    """Dotted keys of a nested configuration.

    >>> flatten({"a": {"b": 1, "c": [1, 2]}, "d": None})
    {'a.b': 1, 'a.c': '[1, 2]', 'd': None}
    """
    flat = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = str(value) if isinstance(value, list) else value
    return flat


def config_differences(runs: list[RunContents], ignore=("name", "output.dir")) -> pd.DataFrame:
    """The configuration keys whose values differ between the runs (rows: keys,
    columns: runs); keys absent from a run show as None."""
    flat = {run.name: flatten(run.config) for run in runs}
    keys = sorted({key for values in flat.values() for key in values} - set(ignore))
    differing = [k for k in keys if len({repr(values.get(k)) for values in flat.values()}) > 1]
    return pd.DataFrame(
        {name: [values.get(k) for k in differing] for name, values in flat.items()}, index=differing
    )


def resolution_vs(
    run: RunContents, variable: str, bins: int = 8, max_clusters: int | None = 20000
) -> pd.DataFrame:
    """Resolution of every target in bins of the true ``variable`` (e.g. ``cotBeta``),
    from the run's model on its test split.

    Returns:
        one row per bin: ``low``, ``high``, ``n`` and per target ``<target> width``
        (robust width of prediction − truth) and ``<target> pull std``.
    """
    truth, mean, sigma, targets = _test_predictions(run, max_clusters)
    return binned_resolution(truth, mean, sigma, targets, variable, bins)


def binned_resolution(truth, mean, sigma, targets, variable: str, bins: int) -> pd.DataFrame:
    """:func:`resolution_vs` on given arrays (n, k) of truth, mean and σ.

    Bin edges are quantiles of the truth, so bins hold equal numbers of clusters.
    """
    column = targets.index(variable)
    edges = np.unique(np.quantile(truth[:, column], np.linspace(0, 1, bins + 1)))
    index = np.clip(np.searchsorted(edges, truth[:, column], side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        inside = index == b
        row = {"low": edges[b], "high": edges[b + 1], "n": int(inside.sum())}
        for k, target in enumerate(targets):
            residual = mean[inside, k] - truth[inside, k]
            row[f"{target} width"] = robust_width(residual) if inside.any() else np.nan
            pulls = residual / sigma[inside, k]
            row[f"{target} pull std"] = float(np.std(pulls)) if inside.any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _test_predictions(run: RunContents, max_clusters: int | None):
    from smartml.config import load_config
    from smartml.registry import TASKS
    from smartml.training.run_directory import RunDirectory

    run_dir = RunDirectory(run.path)
    config = load_config(run_dir.config)
    task = TASKS.get(config.task.name)(config, run_dir)
    task.prepare(fit=False)
    pixels, truth = task.source.read_chunks(task.splits["test"], max_rows=max_clusters)
    mean, covariance = task.predict(run.model, pixels)
    sigma = np.sqrt(np.diagonal(covariance, axis1=1, axis2=2))
    return truth, mean, sigma, list(task.normalization.target_names)
