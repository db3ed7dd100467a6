"""Particle identification by a network beside a baseline, per bin of a variable.

A binary selection (RICH: pion = signal against muon = background) made by two
scorers on the same events: the network and a baseline (the ring-fit likelihood
ratio). Larger scores are more signal-like; a selection is ``score >= threshold``.
Per bin of the variable (momentum, 1 GeV/c bins: :func:`fixed_width_edges`) it gives
the *signal efficiency* (pions called pions) and the *background mis-ID* (muons
called pions: the fraction of true muons selected), with Clopper–Pearson intervals
(:func:`~smartml.metrics.classification.clopper_pearson`), at three operating
points of each scorer:

- ``global_threshold`` (a): one threshold for all events, the scorer's own
  (:class:`PidDefinition`: 0.5 on a probability, 0 on a log-likelihood ratio);
- ``efficiency_90`` (b): the one threshold that selects the target signal efficiency
  (default 90%) of all signal events;
- ``baseline_efficiency`` (c): in each bin, the highest threshold that selects as
  many signal events as the baseline selects there at its global threshold, so that
  the mis-ID of network and baseline are compared at equal signal efficiency (equal
  to within one event; ties of scores can add more);
- ``baseline_efficiency_90``, ``baseline_efficiency_95`` (d): as (c), with the
  baseline at the one threshold that gives it 90% (95%) signal efficiency overall
  (``PidDefinition.baseline_target_efficiencies``). The network's block of each adds
  ``versus_baseline`` (:func:`versus_baseline`): per bin, its mis-ID minus the
  baseline's in binomial standard deviations of both added.

Plus the ROC area overall and per range of the variable (e.g. 15–25, 25–35,
35–45 GeV/c), the confusion matrix at the global threshold, the figures (both scorers
on the same axes) and the table of predictions (written by the evaluation).

Events of other classes (e.g. positrons in a three-class run) are counted
(``n_other``) and otherwise left out. The network's scores are ``(n,)`` signal scores
or ``(n, C)`` class probabilities (its signal column is used); the baseline's are
``(n,)``.

In metrics.json, :func:`pid_metrics` writes the network's block as ``pid`` and the
baseline's as ``<baseline_block>.pid``, so that :func:`pid_summary_metrics` read from
both give the summary table its baseline column
(:func:`~smartml.metrics.summary.summary_table`).

>>> fixed_width_edges(15.0, 18.0)
array([15., 16., 17., 18.])
"""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from smartml.metrics import binning
from smartml.metrics.checks import EvaluationError, finite_vector, require_finite
from smartml.metrics.classification import (
    ONE_SIGMA_CONFIDENCE,
    clopper_pearson,
    confusion_figure,
    confusion_matrix,
    efficiency_per_bin,
    point_key,
    positive_scores,
    roc,
    threshold_for_efficiency,
)
from smartml.metrics.figures import axis_label, new_axes, title
from smartml.metrics.summary import SummaryMetric
from smartml.outputs.base import json_table

PID_BLOCK = "pid"
GLOBAL_THRESHOLD = "global_threshold"
BASELINE_EFFICIENCY = "baseline_efficiency"
DEFAULT_RANGES = ((15.0, 25.0), (25.0, 35.0), (35.0, 45.0))
SCORERS = ("net", "baseline")


@dataclass(frozen=True)
class PidDefinition:
    """What is identified against what, at which operating points, with which names.

    Attributes:
        class_names: the classes of the labels, in label order.
        signal, background: the class selected and the class it is told from.
        variable, unit: the binned variable, for keys and axis labels.
        net_label, baseline_label: the scorers' names in figures and summaries.
        baseline_block: the metrics.json block of the baseline (must contain
            "baseline", which is how the summary table finds it).
        net_threshold, baseline_threshold: the global operating points (a).
        target_efficiency: the signal efficiency of operating point (b).
        baseline_target_efficiencies: overall signal efficiencies of the baseline's
            operating points (d).
        ranges: ``(low, high)`` ranges of the variable with their own ROC area.
        confidence: of the Clopper–Pearson intervals.
    """

    class_names: tuple[str, ...] = ("muon", "pion")
    signal: str = "pion"
    background: str = "muon"
    variable: str = "momentum"
    unit: str = "GeV/c"
    net_label: str = "net"
    baseline_label: str = "ring fit"
    baseline_block: str = "ring_fit_baseline"
    net_threshold: float = 0.5
    baseline_threshold: float = 0.0
    target_efficiency: float = 0.9
    baseline_target_efficiencies: tuple[float, ...] = (0.9, 0.95)
    ranges: tuple[tuple[float, float], ...] = DEFAULT_RANGES
    confidence: float = ONE_SIGMA_CONFIDENCE

    def __post_init__(self) -> None:
        names = list(self.class_names)
        for role, name in (("signal", self.signal), ("background", self.background)):
            if name not in names:
                raise EvaluationError(f"PID {role} class {name!r} is not one of {names}")
        if self.signal == self.background:
            raise EvaluationError(f"PID signal and background are both {self.signal!r}")
        if "baseline" not in self.baseline_block:
            raise EvaluationError(
                f"baseline_block {self.baseline_block!r} must contain 'baseline' "
                "(the summary table finds baseline blocks by that word)"
            )
        for name, value in (
            ("target_efficiency", self.target_efficiency),
            *(("baseline_target_efficiencies", e) for e in self.baseline_target_efficiencies),
        ):
            if not 0.0 < value <= 1.0:
                raise EvaluationError(f"{name} must be in (0, 1], got {value!r}")
        if not all(math.isfinite(low) and low < high for low, high in self.ranges):
            raise EvaluationError(f"ranges must be (low, high) with low < high, got {self.ranges}")

    @property
    def efficiency_key(self) -> str:
        """The key of operating point (b), e.g. ``efficiency_90``."""
        return point_key("efficiency", 100 * self.target_efficiency)

    @property
    def baseline_point_keys(self) -> dict[str, float]:
        """The keys of operating points (d) and the baseline's overall efficiency of each,
        e.g. ``{"baseline_efficiency_90": 0.9}``."""
        return {
            point_key(BASELINE_EFFICIENCY, 100 * e): e for e in self.baseline_target_efficiencies
        }

    @property
    def per_bin_key(self) -> str:
        """The key of an operating point's per-bin table, e.g. ``per_momentum_bin``."""
        return f"per_{self.variable}_bin"

    def label(self, scorer: str) -> str:
        """The display name of ``"net"`` or ``"baseline"``; any other scorer (a run's
        name in a comparison) is its own name."""
        return {"net": self.net_label, "baseline": self.baseline_label}.get(scorer, scorer)


@dataclass(frozen=True)
class PidSample:
    """The signal and background events, with both scorers' scores.

    Attributes:
        is_signal: (m,) True for signal, False for background events.
        scores: ``{"net": (m,), "baseline": (m,)}`` signal scores.
        variable: (m,) the binned variable.
        n_other: events of other classes, left out.
    """

    is_signal: np.ndarray
    scores: dict[str, np.ndarray]
    variable: np.ndarray
    n_other: int

    @classmethod
    def from_scores(
        cls, labels, net_scores, baseline_scores, variable, definition: PidDefinition
    ) -> "PidSample":
        """Validate the inputs (see the module docstring) and keep signal and background.

        Raises:
            EvaluationError: one line naming the argument at fault (shape, NaN or inf,
                labels outside the classes, no signal or no background event).
        """
        require_finite("net_scores", np.asarray(net_scores, dtype=np.float64))
        labels, net, _ = positive_scores(
            labels, net_scores, list(definition.class_names), definition.signal
        )
        baseline = finite_vector("baseline_scores", baseline_scores, size=labels.size)
        values = finite_vector(definition.variable, variable, size=labels.size)
        signal = definition.class_names.index(definition.signal)
        background = definition.class_names.index(definition.background)
        kept = (labels == signal) | (labels == background)
        is_signal = labels[kept] == signal
        if is_signal.all() or not is_signal.any():
            missing = definition.background if is_signal.all() else definition.signal
            raise EvaluationError(f"labels have no {missing} events; PID needs both classes")
        scores = {"net": net[kept], "baseline": baseline[kept]}
        return cls(is_signal, scores, values[kept], int((~kept).sum()))

    @property
    def binary_labels(self) -> np.ndarray:
        """1 for signal, 0 for background."""
        return self.is_signal.astype(np.int64)


@dataclass(frozen=True)
class OperatingPoint:
    """One selection of one scorer: which events, and its efficiencies per bin.

    Attributes:
        selected: (m,) events selected.
        threshold: the threshold, or None when set per bin (see ``frame``).
        frame: :func:`~smartml.metrics.classification.efficiency_per_bin` of the
            selection, with class names ``[background, signal]``; per-bin operating
            points add a ``threshold`` column.
    """

    selected: np.ndarray
    threshold: float | None
    frame: pd.DataFrame

    def summary(self, sample: PidSample, definition: PidDefinition) -> dict:
        """JSON-safe efficiencies with intervals and the per-bin table.

        Per-bin operating points are summed over the bins with signal events; the
        others over all events.
        """
        counts = self._counts(sample, definition)
        return {
            "threshold": self.threshold,
            **_efficiency("signal", *counts["signal"], definition.confidence),
            **_efficiency("background", *counts["background"], definition.confidence),
            definition.per_bin_key: json_table(self.frame),
        }

    def _counts(self, sample: PidSample, definition: PidDefinition) -> dict[str, tuple[int, int]]:
        """``{"signal" | "background": (selected, total)}``."""
        if self.threshold is None:
            rows = self.frame[f"{definition.signal} total"] > 0  # bins with an operating point
            return {
                role: (
                    int(self.frame.loc[rows, f"{name} selected"].sum()),
                    int(self.frame.loc[rows, f"{name} total"].sum()),
                )
                for role, name in (
                    ("signal", definition.signal),
                    ("background", definition.background),
                )
            }
        return {
            role: (int(np.sum(self.selected & is_class)), int(np.sum(is_class)))
            for role, is_class in (("signal", sample.is_signal), ("background", ~sample.is_signal))
        }


def fixed_width_edges(low: float, high: float, width: float = 1.0) -> np.ndarray:
    """Bin edges from ``low`` to ``high`` in steps of ``width`` (the last bin ends at
    ``high``, narrower if the range is not a whole number of widths).

    >>> fixed_width_edges(15.0, 17.5)
    array([15. , 16. , 17. , 17.5])
    """
    if not (math.isfinite(low) and math.isfinite(high) and low < high and width > 0):
        raise EvaluationError(
            f"edges need finite low < high and width > 0, got {low}, {high}, {width}"
        )
    steps = np.arange(low, high, width)
    return binning.explicit_edges(np.append(steps[high - steps > 1e-9 * width], high))


def operating_points(
    sample: PidSample, edges: np.ndarray, definition: PidDefinition
) -> dict[str, dict[str, OperatingPoint]]:
    """Operating points (a) to (d) of both scorers.

    Returns:
        ``{scorer: {"global_threshold", "efficiency_<pct>", "baseline_efficiency",
        "baseline_efficiency_<pct>"...: OperatingPoint}}`` for scorer ``"net"`` and
        ``"baseline"``.
    """
    edges = binning.explicit_edges(edges)
    thresholds = {"net": definition.net_threshold, "baseline": definition.baseline_threshold}
    baseline = sample.scores["baseline"]
    reference = baseline >= definition.baseline_threshold
    references = {
        key: baseline >= threshold_for_efficiency(baseline[sample.is_signal], efficiency)
        for key, efficiency in definition.baseline_point_keys.items()
    }
    points = {}
    for scorer in SCORERS:
        scores = sample.scores[scorer]
        target = threshold_for_efficiency(scores[sample.is_signal], definition.target_efficiency)
        points[scorer] = {
            GLOBAL_THRESHOLD: _at_threshold(sample, scores, thresholds[scorer], edges, definition),
            definition.efficiency_key: _at_threshold(sample, scores, target, edges, definition),
            BASELINE_EFFICIENCY: _at_reference_efficiency(
                sample, scores, reference, edges, definition
            ),
        }
        for key, selected in references.items():
            points[scorer][key] = _at_reference_efficiency(
                sample, scores, selected, edges, definition
            )
    return points


def versus_baseline(
    net: pd.DataFrame, baseline: pd.DataFrame, definition: PidDefinition
) -> pd.DataFrame:
    """Per bin, the network's background mis-ID against the baseline's at the same
    signal efficiency (two frames of one operating point (c) or (d)).

    ``excess_sigma`` = (net − baseline) / sqrt(σ_net² + σ_baseline²), with the binomial
    σ = sqrt(p(1 − p)/n) of each (n the bin's background events; 0 when p is 0 or 1);
    ``verdict``: ``below`` (the network's mis-ID is lower), ``within 2σ`` (higher by at
    most 2σ), ``worse`` (higher by more), or ``no signal`` where the bin has no
    operating point or no background event. Where both fractions are 0 or 1 and
    differ (no spread), the excess is NaN and the verdict ``below`` or ``worse``.

    >>> frame = lambda p: pd.DataFrame({"low": [15.0], "high": [16.0], "centre": [15.5],
    ...     "muon total": [400.0], "muon efficiency": [p]})
    >>> table = versus_baseline(frame(0.05), frame(0.02), PidDefinition())
    >>> round(float(table["excess_sigma"].iloc[0]), 2), table["verdict"].iloc[0]
    (2.32, 'worse')
    """
    name = definition.background
    total = np.nan_to_num(net[f"{name} total"].to_numpy(dtype=np.float64))
    table = net[["low", "high"]].copy()
    table["background_events"] = total.astype(np.int64)
    p_net = net[f"{name} efficiency"].to_numpy(dtype=np.float64)
    p_base = baseline[f"{name} efficiency"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.sqrt((p_net * (1 - p_net) + p_base * (1 - p_base)) / total)
        excess = np.where(p_net == p_base, 0.0, (p_net - p_base) / sigma)
    # Both fractions 0 or 1 but different: no binomial spread, no finite excess (NaN),
    # yet the difference stands (its verdict below or worse).
    excess[~np.isfinite(excess)] = np.nan
    table[f"{name} mis-ID {definition.net_label}"] = p_net
    table[f"{name} mis-ID {definition.baseline_label}"] = p_base
    table["excess_sigma"] = excess
    within = (excess <= 2.0) | (p_net == p_base)
    verdict = np.where(p_net < p_base, "below", np.where(within, "within 2σ", "worse"))
    table["verdict"] = np.where(np.isnan(p_net) | np.isnan(p_base), "no signal", verdict)
    return table


def _versus_summary(table: pd.DataFrame) -> dict:
    """The ``versus_baseline`` block: counts of bins by verdict, the largest excess and
    the bins worse by more than 2σ, and the table."""
    verdicts = table["verdict"].value_counts()
    worse = table[table["verdict"] == "worse"]
    finite = table["excess_sigma"][np.isfinite(table["excess_sigma"])]
    return {
        "bins_below": int(verdicts.get("below", 0)),
        "bins_within_2_sigma": int(verdicts.get("within 2σ", 0)),
        "bins_worse": int(verdicts.get("worse", 0)),
        "max_excess_sigma": float(finite.max()) if len(finite) else None,
        "worse_bins": [
            [float(lo), float(hi)] for lo, hi in zip(worse["low"], worse["high"], strict=True)
        ],
        "per_bin": json_table(table),
    }


def pid_metrics(
    labels,
    net_scores,
    baseline_scores,
    variable,
    edges,
    definition: PidDefinition | None = None,
) -> dict:
    """What the PID evaluation adds to metrics.json.

    Args:
        labels: (n,) true classes, indices into ``definition.class_names``.
        net_scores: (n,) signal scores or (n, C) class probabilities of the network.
        baseline_scores: (n,) signal scores of the baseline.
        variable: (n,) the binned variable (momentum, GeV/c).
        edges: bin edges (:func:`fixed_width_edges`).
        definition: classes, operating points and names; default: RICH π against μ.

    Returns:
        ``{"pid": block, <baseline_block>: {"pid": block}}``; a block holds
        ``n_signal``, ``n_background``, ``n_other``, ``roc`` (``auc``,
        ``per_range``), ``operating_points`` (see the module docstring; each with
        threshold, signal and background efficiency and interval, counts and
        ``per_<variable>_bin`` table) and ``confusion_matrix`` at the global threshold.
    """
    definition = definition or PidDefinition()
    sample = PidSample.from_scores(labels, net_scores, baseline_scores, variable, definition)
    points = operating_points(sample, edges, definition)
    blocks = {
        scorer: _scorer_block(sample, scorer, points[scorer], definition) for scorer in SCORERS
    }
    for key in definition.baseline_point_keys:
        table = versus_baseline(points["net"][key].frame, points["baseline"][key].frame, definition)
        blocks["net"]["operating_points"][key]["versus_baseline"] = _versus_summary(table)
    return {PID_BLOCK: blocks["net"], definition.baseline_block: {PID_BLOCK: blocks["baseline"]}}


def pid_summary_metrics(definition: PidDefinition | None = None) -> list[SummaryMetric]:
    """The summary metrics of :func:`pid_metrics`: AUC, mis-ID at the target signal
    efficiency, and mis-ID and signal efficiency at the baseline's signal efficiency.

    >>> [metric.label for metric in pid_summary_metrics()][1]
    'muon mis-ID at 90% pion eff'
    """
    definition = definition or PidDefinition()
    signal, background = definition.signal, definition.background
    points = f"{PID_BLOCK}.operating_points"
    at_baseline = f"{points}.{BASELINE_EFFICIENCY}"
    percent = f"{100 * definition.target_efficiency:g}%"
    return [
        SummaryMetric(f"{PID_BLOCK}.roc.auc", f"{signal}/{background} AUC", "", "higher"),
        SummaryMetric(
            f"{points}.{definition.efficiency_key}.background_efficiency",
            f"{background} mis-ID at {percent} {signal} eff",
        ),
        SummaryMetric(
            f"{at_baseline}.background_efficiency",
            f"{background} mis-ID at {definition.baseline_label} {signal} eff",
        ),
        SummaryMetric(
            f"{at_baseline}.signal_efficiency",
            f"{signal} eff at {definition.baseline_label} operating point",
            better="higher",
        ),
    ]


def pid_figures(
    labels,
    net_scores,
    baseline_scores,
    variable,
    edges,
    definition: PidDefinition | None = None,
    run_name: str | None = None,
) -> dict[str, Figure]:
    """Network and baseline on the same axes.

    Args:
        labels, net_scores, baseline_scores, variable, edges, definition: as
            :func:`pid_metrics`.
        run_name: shown in the titles.

    Returns:
        ``{name: Figure}`` with names (``<v>`` the variable):
        ``pid_misid_vs_<v>`` (mis-ID at the baseline's signal efficiency per bin, log
        y), ``pid_misid_vs_<v>_<efficiency key>`` (at the target efficiency),
        ``pid_misid_vs_<v>_baseline_efficiency_<pct>`` (operating points (d)),
        ``pid_efficiency_vs_<v>`` (signal efficiency at (a) and (b)), ``pid_roc``,
        ``pid_roc_per_range``, ``pid_confusion_matrix`` and
        ``<baseline_block>_confusion_matrix`` (at the global thresholds).
    """
    definition = definition or PidDefinition()
    sample = PidSample.from_scores(labels, net_scores, baseline_scores, variable, definition)
    points = operating_points(sample, edges, definition)
    v = definition.variable
    at_baseline = {s: points[s][BASELINE_EFFICIENCY].frame for s in SCORERS}
    at_target = {s: points[s][definition.efficiency_key].frame for s in SCORERS}
    percent = f"{100 * definition.target_efficiency:g}%"
    names = [definition.background, definition.signal]
    figures = {
        f"pid_misid_vs_{v}": misid_figure(
            at_baseline,
            definition,
            f"at the {definition.baseline_label} {definition.signal} efficiency per bin",
            run_name,
        ),
        f"pid_misid_vs_{v}_{definition.efficiency_key}": misid_figure(
            at_target, definition, f"at {percent} {definition.signal} efficiency", run_name
        ),
        **{
            f"pid_misid_vs_{v}_{key}": misid_figure(
                {s: points[s][key].frame for s in SCORERS},
                definition,
                f"at the {definition.baseline_label}'s {100 * efficiency:g}% point, per bin",
                run_name,
            )
            for key, efficiency in definition.baseline_point_keys.items()
        },
        f"pid_efficiency_vs_{v}": efficiency_vs_variable_figure(points, definition, run_name),
        "pid_roc": roc_comparison_figure(sample, definition, run_name),
        "pid_roc_per_range": roc_per_range_figure(sample, definition, run_name),
    }
    for scorer, key in (("net", "pid"), ("baseline", definition.baseline_block)):
        counts = confusion_matrix(
            sample.binary_labels, points[scorer][GLOBAL_THRESHOLD].selected, names
        )
        figures[f"{key}_confusion_matrix"] = confusion_figure(
            counts, names, title(definition.label(scorer), run_name)
        )
    return figures


def misid_figure(
    frames: dict[str, pd.DataFrame],
    definition: PidDefinition,
    condition: str,
    run_name: str | None = None,
) -> Figure:
    """Background mis-ID against the variable, one series per scorer, log y.

    Bins where nothing was selected show the Clopper–Pearson upper limit (marker v).

    Args:
        frames: ``{scorer: OperatingPoint.frame}``.
        definition: names.
        condition: the operating point in words, for the title.
        run_name: shown in the title.
    """
    figure, axes = new_axes()
    background = definition.background
    for scorer, frame in frames.items():
        centre, half_width, misid, low, high = _bin_series(frame, background)
        seen = misid > 0
        bars = axes.errorbar(
            centre[seen],
            misid[seen],
            xerr=half_width[seen],
            yerr=[misid[seen] - low[seen], high[seen] - misid[seen]],
            marker="o",
            linestyle="none",
            capsize=2,
            label=definition.label(scorer),
        )
        none = misid == 0
        if none.any():
            colour = bars.lines[0].get_color()
            axes.plot(
                centre[none],
                high[none],
                marker="v",
                linestyle="none",
                color=colour,
                label=f"{definition.label(scorer)}: none selected (upper limit)",
            )
    axes.set_yscale("log")
    axes.set(
        xlabel=axis_label(definition.variable, definition.unit),
        ylabel=f"{background} mis-ID (fraction of {background}s called {definition.signal}s)",
        title=title(f"{background} mis-ID {condition}", run_name),
    )
    axes.legend(loc="best", fontsize="small")
    return figure


def efficiency_vs_variable_figure(
    points: dict[str, dict[str, OperatingPoint]],
    definition: PidDefinition,
    run_name: str | None = None,
) -> Figure:
    """Signal efficiency against the variable: each scorer at its global threshold
    (a) and at the target signal efficiency (b)."""
    figure, axes = new_axes()
    percent = f"{100 * definition.target_efficiency:g}% overall"
    for scorer in SCORERS:
        for key, condition in (
            (GLOBAL_THRESHOLD, f"threshold {points[scorer][GLOBAL_THRESHOLD].threshold:g}"),
            (definition.efficiency_key, percent),
        ):
            centre, half_width, efficiency, low, high = _bin_series(
                points[scorer][key].frame, definition.signal
            )
            axes.errorbar(
                centre,
                efficiency,
                xerr=half_width,
                yerr=[efficiency - low, high - efficiency],
                marker="o" if scorer == "net" else "s",
                linestyle="none",
                capsize=2,
                label=f"{definition.label(scorer)}, {condition}",
            )
    axes.set(
        xlabel=axis_label(definition.variable, definition.unit),
        ylabel=f"{definition.signal} efficiency",
        ylim=(0.0, 1.05),
        title=title(f"{definition.signal} efficiency", run_name),
    )
    axes.legend(loc="lower left", fontsize="small")
    return figure


def roc_comparison_figure(
    sample: PidSample, definition: PidDefinition, run_name: str | None = None
) -> Figure:
    """Background mis-ID (log) against signal efficiency, both scorers, all events."""
    figure, axes = new_axes()
    _draw_rocs(axes, sample, np.ones(sample.is_signal.shape, dtype=bool), definition)
    axes.set_title(title(f"{definition.signal} against {definition.background}", run_name))
    return figure


def roc_per_range_figure(
    sample: PidSample, definition: PidDefinition, run_name: str | None = None
) -> Figure:
    """One ROC panel (as :func:`roc_comparison_figure`) per range of the variable."""
    n = len(definition.ranges)
    figure, axes = new_axes(n, size=(4.2 * n, 4.2))
    for panel, (low, high) in zip(np.atleast_1d(axes), definition.ranges, strict=True):
        _draw_rocs(panel, sample, _in_range(sample.variable, low, high), definition)
        panel.set_title(f"{low:g}–{high:g} {definition.unit}".rstrip(), fontsize="medium")
    figure.suptitle(title(f"{definition.signal} against {definition.background}", run_name))
    return figure


def predictions_table(
    ids: pd.DataFrame,
    labels,
    net_scores,
    baseline_scores,
    variable,
    definition: PidDefinition | None = None,
) -> pd.DataFrame:
    """One row per event: identifiers, the variable, the label and both scores.

    Args:
        ids: (n rows) identifying columns, e.g. ``run_id, burst_id, event_id``.
        labels, net_scores, baseline_scores, variable, definition: as
            :func:`pid_metrics` (all events, other classes included).

    Returns:
        ``ids`` columns, then ``<variable>``, ``label``, ``class``, ``net_score``
        (the network's signal score) and ``baseline_score``.
    """
    definition = definition or PidDefinition()
    require_finite("net_scores", np.asarray(net_scores, dtype=np.float64))
    labels, net, _ = positive_scores(
        labels, net_scores, list(definition.class_names), definition.signal
    )
    if len(ids) != labels.size:
        raise EvaluationError(f"ids has {len(ids)} rows, expected one per event ({labels.size})")
    table = ids.reset_index(drop=True).copy()
    table[definition.variable] = finite_vector(definition.variable, variable, size=labels.size)
    table["label"] = labels
    table["class"] = np.asarray(definition.class_names, dtype=object)[labels]
    table["net_score"] = net
    table["baseline_score"] = finite_vector("baseline_scores", baseline_scores, size=labels.size)
    return table


# -- helpers -------------------------------------------------------------------------


def _at_threshold(
    sample: PidSample, scores: np.ndarray, threshold: float, edges, definition: PidDefinition
) -> OperatingPoint:
    selected = scores >= threshold
    return OperatingPoint(selected, float(threshold), _frame(sample, selected, edges, definition))


def _at_reference_efficiency(
    sample: PidSample,
    scores: np.ndarray,
    reference: np.ndarray,
    edges: np.ndarray,
    definition: PidDefinition,
) -> OperatingPoint:
    """Per bin, the highest threshold selecting as many signal events as ``reference``.

    Bins without signal have no threshold (NaN, background columns NaN); bins where
    the reference selects no signal have none either and select nothing.
    """
    bins = binning.assign_bins(sample.variable, edges)
    selected = np.zeros(scores.shape, dtype=bool)
    thresholds = np.full(len(edges) - 1, np.nan)
    for b in range(len(edges) - 1):
        in_bin = bins == b
        signal = in_bin & sample.is_signal
        n_selected = int(np.sum(reference[signal]))
        if n_selected == 0:
            continue
        thresholds[b] = threshold_for_efficiency(scores[signal], n_selected / signal.sum())
        selected |= in_bin & (scores >= thresholds[b])
    frame = _frame(sample, selected, edges, definition)
    frame["threshold"] = thresholds[frame.index.to_numpy()]
    no_signal = frame[f"{definition.signal} total"] == 0
    columns = [f"{definition.background} {c}" for c in ("efficiency", "low", "high")]
    frame.loc[no_signal, columns] = np.nan
    return OperatingPoint(selected, None, frame)


def _frame(
    sample: PidSample, selected: np.ndarray, edges: np.ndarray, definition: PidDefinition
) -> pd.DataFrame:
    return efficiency_per_bin(
        sample.variable,
        sample.binary_labels,
        selected,
        [definition.background, definition.signal],
        edges,
        definition.confidence,
    )


def _efficiency(role: str, passed: int, total: int, confidence: float) -> dict:
    low, high = clopper_pearson(passed, total, confidence)
    value = float(passed / total) if total else None
    interval = [float(low), float(high)] if total else None
    return {
        f"{role}_efficiency": value,
        f"{role}_interval": interval,
        f"n_{role}": int(total),
        f"n_{role}_selected": int(passed),
    }


def _scorer_block(
    sample: PidSample, scorer: str, points: dict[str, OperatingPoint], definition: PidDefinition
) -> dict:
    summaries = {key: point.summary(sample, definition) for key, point in points.items()}
    summaries[definition.efficiency_key]["target_signal_efficiency"] = definition.target_efficiency
    names = [definition.background, definition.signal]
    counts = confusion_matrix(sample.binary_labels, points[GLOBAL_THRESHOLD].selected, names)
    return {
        "scorer": definition.label(scorer),
        "signal": definition.signal,
        "background": definition.background,
        "n_signal": int(sample.is_signal.sum()),
        "n_background": int((~sample.is_signal).sum()),
        "n_other": sample.n_other,
        "roc": _roc_block(sample, sample.scores[scorer], definition),
        "operating_points": summaries,
        "confusion_matrix": {"classes": names, "counts": counts.tolist()},
    }


def _roc_block(sample: PidSample, scores: np.ndarray, definition: PidDefinition) -> dict:
    per_range = {}
    for low, high in definition.ranges:
        rows = _in_range(sample.variable, low, high)
        labels = sample.binary_labels[rows]
        both = labels.size and labels.min() != labels.max()
        per_range[f"{low:g}_{high:g}".replace(".", "p")] = {
            "low": low,
            "high": high,
            "n_signal": int(labels.sum()),
            "n_background": int(labels.size - labels.sum()),
            "auc": _auc(labels, scores[rows]) if both else None,
        }
    return {"auc": _auc(sample.binary_labels, scores), "per_range": per_range}


def _auc(binary_labels: np.ndarray, scores: np.ndarray) -> float:
    return roc(binary_labels, scores, ["background", "signal"], 1)["auc"]


def _in_range(values: np.ndarray, low: float, high: float) -> np.ndarray:
    return (values >= low) & (values < high)


def _draw_rocs(axes, sample: PidSample, rows: np.ndarray, definition: PidDefinition) -> None:
    labels = sample.binary_labels[rows]
    for scorer in SCORERS:
        if labels.size == 0 or labels.min() == labels.max():
            continue  # no ROC without both classes
        curve = roc(labels, sample.scores[scorer][rows], ["background", "signal"], 1)
        efficiency = np.asarray(curve["signal_efficiency"])
        misid = np.asarray(curve["background_efficiency"])
        shown = misid > 0  # a log axis has no zero
        axes.plot(
            efficiency[shown],
            misid[shown],
            label=f"{definition.label(scorer)} (AUC {curve['auc']:.4f})",
        )
    axes.set_yscale("log")
    axes.set(
        xlabel=f"{definition.signal} efficiency",
        ylabel=f"{definition.background} mis-ID",
        xlim=(0.0, 1.0),
    )
    if axes.lines:
        axes.legend(loc="upper left", fontsize="small")


def _bin_series(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, ...]:
    """centre, half width, efficiency, low, high of class ``name`` per bin."""
    columns = [f"{name} {column}" for column in ("efficiency", "low", "high")]
    centre = frame["centre"].to_numpy(dtype=np.float64)
    half_width = (frame["high"] - frame["low"]).to_numpy(dtype=np.float64) / 2.0
    return (centre, half_width, *(frame[c].to_numpy(dtype=np.float64) for c in columns))
