"""Several runs side by side: what differs in their configurations, resolution and
pulls, per-layer sparsity and BOPs, and resolution as a function of the track angles.

Everything but the angle dependence is read from what the runs stored (config.json,
metrics.json); the angle dependence predicts the test split with each run's model
(:func:`predict_test_split`, limited by ``max_clusters``).
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from smartml.analysis.run_contents import RunContents
from smartml.errors import SmartmlError
from smartml.evaluation.run_comparison import comparison_table, plot_comparison
from smartml.metrics import binning
from smartml.metrics.point_regression import robust_width


def metrics_table(runs: list[RunContents]) -> pd.DataFrame:
    """The task's summary metrics, total sparsity and BOPs, one row per run.

    Args:
        runs: from :func:`~smartml.analysis.run_contents.open_runs` (of one task).

    Returns:
        indexed by run name; one column per summary metric (its header: label and
        unit, e.g. ``x-midplane width [µm]``), then ``sparsity`` and ``BOPs`` (see
        :attr:`RunContents.hardware`; None for a model without quantized layers).
    """
    summary = _one_task_summary(runs)
    rows = []
    for run in runs:
        row: dict[str, Any] = {"run": run.name}
        row.update({metric.header: metric.value(run.metrics) for metric in summary})
        hardware = run.hardware or {}
        row["sparsity"] = hardware.get("sparsity")
        row["BOPs"] = hardware.get("bops")
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def summary_markdown(runs: list[RunContents]) -> str:
    """The table of ``python -m smartml.evaluate RUN_A RUN_B`` (Markdown), with the
    sparsity and BOPs of runs that did not record them computed from their models.

    Args:
        runs: the runs to compare, of one task.

    Returns:
        :func:`smartml.evaluation.run_comparison.comparison_table` of their metrics.
    """
    metrics = {run.name: {**run.metrics, "hardware": run.hardware} for run in runs}
    return comparison_table(metrics, _one_task_summary(runs))


def summary_figure(runs: list[RunContents]) -> Figure:
    """Each summary metric relative to the first run, and the sparsity per layer
    (:func:`smartml.evaluation.run_comparison.plot_comparison`)."""
    metrics = {run.name: {**run.metrics, "hardware": run.hardware} for run in runs}
    return plot_comparison(metrics, _one_task_summary(runs))


def _one_task_summary(runs: list[RunContents]) -> list:
    tasks = {run.config.get("task", {}).get("name") for run in runs}
    if len(tasks) > 1:
        listing = ", ".join(
            f"{run.name} ({run.config.get('task', {}).get('name')})" for run in runs
        )
        raise SmartmlError(f"runs of different tasks cannot be compared: {listing}")
    return runs[0].summary


def hardware_table(runs: list[RunContents]) -> pd.DataFrame:
    """Total hardware cost per run.

    Args:
        runs: the runs to compare.

    Returns:
        indexed by run name: ``sparsity`` (quantized, all kernels), ``MACs``, ``BOPs``,
        ``minimum BOPs`` (every weight pruned) and ``BOPs / first`` (relative to the
        first run); NaN for runs without quantized layers.
    """
    rows = {}
    for run in runs:
        hardware = run.hardware or {}
        rows[run.name] = {
            "sparsity": hardware.get("sparsity", np.nan),
            "MACs": hardware.get("macs", np.nan),
            "BOPs": hardware.get("bops", np.nan),
            "minimum BOPs": hardware.get("minimum_bops", np.nan),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table["BOPs / first"] = table["BOPs"] / table["BOPs"].iloc[0]
    return table


def layer_sparsity_table(runs: list[RunContents]) -> pd.DataFrame:
    """Quantized sparsity per layer.

    Args:
        runs: the runs to compare.

    Returns:
        rows: runs, columns: layers (NaN where a run lacks the layer); empty when no
        run has quantized layers.
    """
    rows = {}
    for run in runs:
        layers = (run.hardware or {}).get("layers", {})
        rows[run.name] = {name: entry["sparsity"] for name, entry in layers.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def flatten(config: dict, prefix: str = "") -> dict:
    """Dotted keys of a nested configuration.

    Args:
        config: e.g. a config.json as a dict.
        prefix: prepended to every key.

    Returns:
        ``{"a.b": value}``; lists become their text, so that they compare as values.

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
    """What differs between the runs' configurations.

    Args:
        runs: the runs to compare.
        ignore: dotted keys not to list (they always differ).

    Returns:
        rows: the dotted keys (see :func:`flatten`) whose values differ, columns: the
        runs; a key absent from a run (e.g. ``training.mdmm`` set in one, null in the
        other) shows as None.
    """
    flat = {run.name: flatten(run.config) for run in runs}
    keys = sorted({key for values in flat.values() for key in values} - set(ignore))
    differing = [k for k in keys if len({repr(values.get(k)) for values in flat.values()}) > 1]
    return pd.DataFrame(
        {name: [values.get(k) for k in differing] for name, values in flat.items()},
        index=differing,
        dtype=object,  # keep None for absent keys (not NaN), and ints as ints
    )


def stored_profiles(runs: list[RunContents], target: str) -> dict[str, pd.DataFrame]:
    """Resolution of ``target`` in bins of its own true value, from metrics.json
    (``profile_vs_truth``, written by the evaluation: no model needed).

    Args:
        runs: the runs to compare.
        target: e.g. ``cotBeta`` (resolution of cotβ against the true cotβ).

    Returns:
        ``{run name: DataFrame(centre, count, mean, robust_width)}`` (mean and width of
        prediction − truth per bin), for the runs that stored a profile.
    """
    result = {}
    for run in runs:
        profile = (run.metrics.get(target) or {}).get("profile_vs_truth")
        if profile:
            result[run.name] = pd.DataFrame(
                {
                    "centre": profile["centres"],
                    "count": profile["counts"],
                    "mean": profile["mean"],
                    "robust_width": profile["robust_width"],
                }
            )
    return result


@dataclass
class Predictions:
    """A run's predictions on (part of) its test split, in physical units.

    Attributes:
        targets: target names, the order of the last axis.
        truth, mean: (n, k); ``covariance``: (n, k, k).
    """

    targets: list[str]
    truth: np.ndarray
    mean: np.ndarray
    covariance: np.ndarray

    @property
    def sigma(self) -> np.ndarray:
        """(n, k) predicted standard deviations."""
        return np.sqrt(np.diagonal(self.covariance, axis1=1, axis2=2))


def gaussian_targets(run: RunContents) -> list[str]:
    """The targets of a Gaussian regression run (resolution and pulls against a
    variable apply), none for other output kinds."""
    from smartml.outputs.gaussian_mdn import GaussianMDN

    output = run.task.output
    return list(output.targets) if isinstance(output, GaussianMDN) else []


def predict_test_split(run: RunContents, max_clusters: int | None = 20000) -> Predictions:
    """Predict the first ``max_clusters`` examples of the run's test split.

    The run's own configuration, run files and data are used (simulated data are
    simulated again if their cache is gone); the result is cached on ``run``.

    Args:
        run: a complete run of a Gaussian regression task.
        max_clusters: at most this many test examples (all when None).

    Returns:
        truth, predicted mean and covariance in physical units.

    Raises:
        SmartmlError: the run's task is not a Gaussian regression (one line); data
            errors of the task.
    """
    key = ("predictions", max_clusters)
    if key not in run._cache:
        from smartml.outputs.gaussian_mdn import GaussianMDN
        from smartml.runs.opening import open_task

        _, task = open_task(run.path)
        if not isinstance(task.output, GaussianMDN):
            raise SmartmlError(
                f"{run.path}: task {run.config['task']['name']!r} predicts "
                f"{type(task.output).__name__}, not a Gaussian; resolutions and pulls against "
                "a variable need a Gaussian regression"
            )
        examples = task.examples("test", max_clusters)
        prediction = task.predict(run.model, examples)
        run._cache[key] = Predictions(
            list(task.output.targets), examples.targets, prediction.mean, prediction.covariance
        )
    return run._cache[key]


def resolution_vs(
    run: RunContents, variable: str, bins: int = 8, max_clusters: int | None = 20000
) -> pd.DataFrame:
    """Resolution of every target in bins of the true ``variable``, from the run's
    model on its test split (:func:`predict_test_split`).

    Args:
        run: a complete run.
        variable: a target name, e.g. ``cotBeta``.
        bins: number of bins (equal numbers of clusters).
        max_clusters: test clusters to predict.

    Returns:
        :func:`binned_resolution` of the predictions.
    """
    predictions = predict_test_split(run, max_clusters)
    return binned_resolution(
        predictions.truth,
        predictions.mean,
        predictions.sigma,
        predictions.targets,
        variable,
        bins,
    )


def binned_resolution(truth, mean, sigma, targets, variable: str, bins: int) -> pd.DataFrame:
    """Resolution and pull spread of every target in bins of the true ``variable``.

    Bin edges are quantiles of the truth, so every bin holds the same number of
    clusters (and its width the same statistical precision).

    Args:
        truth, mean, sigma: (n, k) arrays in physical units.
        targets: the k target names.
        variable: the target whose true value is binned.
        bins: number of bins.

    Returns:
        one row per bin: ``low``, ``high``, ``n`` and per target ``<target> width``
        (robust width of prediction − truth) and ``<target> pull std``.
    """
    values = truth[:, targets.index(variable)]
    residual = mean - truth
    pull = residual / sigma
    functions = {}
    for k, target in enumerate(targets):
        functions[f"{target} width"] = lambda rows, k=k: robust_width(residual[rows, k])
        functions[f"{target} pull std"] = lambda rows, k=k: float(np.std(pull[rows, k]))
    edges = binning.equal_population_edges(values, bins, variable)
    table = binning.per_bin(values, edges, functions, min_count=1)
    table = table.rename(columns={"count": "n"}).drop(columns="centre").reset_index(drop=True)
    return table
