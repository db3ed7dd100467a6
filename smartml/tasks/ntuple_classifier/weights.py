"""Per-event weights of the classifier's samples, and the weighted ROC area.

A sample's weight (:class:`~.schema.SampleWeight`) is ``scale`` × a branch's value,
normalised to σ × L / Σw when asked; Σw is summed over all the sample's entries in one
pass before training (every value checked finite: one line naming the file, branch
and entry otherwise). What that pass found is recorded (:class:`WeightSummary`, in
``feature_scaling.json`` and in the metrics under ``weights``).

**Negative weights** (NLO generators) follow ``data.negative_weights``, in training
and in the weighted metrics alike:

- ``keep`` (default): the signed weights. The only choice that leaves the sample's
  weighted distributions and its normalisation (Σw = σ × L) unbiased. Keras accepts a
  negative sample weight; the loss is then bounded below only while the net weight of
  each class is positive wherever the network can tell events apart, which holds for
  a physical NLO sample with enough events but not for one event alone: a network
  that memorises single events can push a negative event's loss term to −∞ (watch the
  validation loss; choose ``absolute`` if it diverges).
- ``absolute``: |w|; a bounded loss, shapes biased where negative weights gather.
- ``drop``: the events are removed (counted); biased like ``absolute`` and fewer events.
- ``error``: the run stops before training, naming the first negative entry.

sklearn's ``roc_auc_score`` refuses signed weights (its ROC is then not monotonic);
:func:`weighted_auc` is the same area written as the weighted probability that a
signal event scores above a background one, defined for signed weights too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from smartml.errors import DataError
from smartml.ntuples.root_reader import NtupleReader
from smartml.tasks.ntuple_classifier.schema import SampleWeight


@dataclass(frozen=True)
class WeightSummary:
    """What the weight pass over one sample found (recorded with the run).

    Attributes:
        entries: the sample's entries; weight_branch: the branch (None: a constant).
        sum_of_weights: Σ scale × branch over all entries (signed), before normalisation.
        normalization: the factor applied after (σ × L / Σw, or 1).
        cross_section_pb, luminosity_per_pb: the normalisation's inputs (or None).
        negative_entries: entries of negative weight; negative_sum: their Σ (after
            normalisation); policy: what was done with them.
        sum_after_policy: Σ of the final weights (the dropped count 0).
    """

    entries: int
    weight_branch: str | None
    sum_of_weights: float
    normalization: float
    cross_section_pb: float | None
    luminosity_per_pb: float | None
    negative_entries: int
    negative_sum: float
    policy: str
    sum_after_policy: float

    def to_dict(self) -> dict:
        return asdict(self)


def sample_weights(
    reader: NtupleReader, weight: float | SampleWeight, policy: str, key: str
) -> tuple[np.ndarray | None, float, WeightSummary]:
    """The weights of every entry of one sample, after normalisation and the policy.

    Args:
        reader: the sample's chain (its aliases apply to the weight branch).
        weight: a constant, or the branch/scale/normalisation.
        policy: ``keep``, ``drop``, ``absolute`` or ``error`` (negative weights).
        key: the config key of the weight (``data.samples[hzz].weight``), in messages.

    Returns:
        (per-entry weights, NaN for a dropped entry; None when every entry has the
        same weight), that constant weight, and the summary.

    Raises:
        DataError: a non-finite weight (file, branch, entry), a negative one under
            ``error``, or a normalisation by a non-positive Σw.
    """
    if not isinstance(weight, SampleWeight):
        total = float(weight) * reader.n_entries
        summary = _summary(reader, None, total, 1.0, None, policy, np.zeros(0))
        return None, float(weight), summary
    if weight.branch is None:
        values = np.full(reader.n_entries, weight.scale)
    else:
        values = weight.scale * reader.column(weight.branch, f"{key}.branch: ")
        _check_finite(reader, weight.branch, values)
    total = float(values.sum())
    factor = 1.0
    if weight.normalize == "sum_of_weights":
        if total <= 0:
            raise DataError(
                f"{key}: the weights of {reader.where()} sum to {total:g}; "
                "normalize 'sum_of_weights' needs a positive sum"
            )
        assert weight.cross_section_pb is not None and weight.luminosity_per_pb is not None
        factor = weight.cross_section_pb * weight.luminosity_per_pb / total
    values = values * factor
    negative = values < 0
    if negative.any() and policy == "error":
        file, entry = _file_entry(reader, int(np.flatnonzero(negative)[0]))
        raise DataError(
            f"{file}: tree {reader.tree_name!r}, branch {weight.branch!r}: entry {entry} has "
            f"a negative weight ({values[negative][0]:g}; {int(negative.sum())} such entries); "
            "data.negative_weights 'keep', 'absolute' or 'drop' chooses what to do"
        )
    final = _apply_policy(values, negative, policy)
    summary = _summary(reader, weight, total, factor, final, policy, values[negative])
    return final, 1.0, summary


def _summary(
    reader: NtupleReader,
    weight: SampleWeight | None,
    total: float,
    factor: float,
    final: np.ndarray | None,
    policy: str,
    negatives: np.ndarray,
) -> WeightSummary:
    """The record of one sample's weights (``final`` None: a constant on every entry)."""
    return WeightSummary(
        entries=reader.n_entries,
        weight_branch=weight.branch if weight else None,
        sum_of_weights=total,
        normalization=factor,
        cross_section_pb=weight.cross_section_pb if weight else None,
        luminosity_per_pb=weight.luminosity_per_pb if weight else None,
        negative_entries=len(negatives),
        negative_sum=float(negatives.sum()),
        policy=policy,
        sum_after_policy=total * factor if final is None else float(np.nansum(final)),
    )


def _apply_policy(values: np.ndarray, negative: np.ndarray, policy: str) -> np.ndarray:
    """The weights after the negative-weight policy (NaN marks a dropped entry)."""
    if policy == "absolute":
        return np.abs(values)
    if policy == "drop":
        return np.where(negative, np.nan, values)
    return values


def _check_finite(reader: NtupleReader, branch: str, values: np.ndarray) -> None:
    """Refuse a NaN or infinite weight (or an event lacking the weight's object)."""
    bad = ~np.isfinite(values)
    if bad.any():
        file, entry = _file_entry(reader, int(np.flatnonzero(bad)[0]))
        raise DataError(
            f"{file}: tree {reader.tree_name!r}, branch {branch!r}: the weight of entry "
            f"{entry} is {values[bad][0]} ({int(bad.sum())} such entries); weights must be finite"
        )


def _file_entry(reader: NtupleReader, entry: int) -> tuple[str, int]:
    """The file and its local entry of a global entry of the chain."""
    ends = np.cumsum(reader.entries_per_file)
    index = int(np.searchsorted(ends, entry, side="right"))
    return str(reader.files[index]), entry - int(ends[index] - reader.entries_per_file[index])


def weighted_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> float:
    """The ROC area with (possibly signed) event weights.

    The weighted probability that a signal event (label 1) scores above a background
    one, ties counting one half: Σ_s Σ_b w_s w_b ([x_s > x_b] + ½[x_s = x_b]) / (W_s W_b).
    With non-negative weights it is sklearn's ``roc_auc_score`` (the trapezoids of the
    ROC curve); it is the same bilinear sum with signed ones.

    Returns:
        the area; NaN when a class's total weight is not positive.

    >>> weighted_auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.5, 0.1]),
    ...              np.array([1.0, 1.0, 2.0, -0.5]))
    0.3333333333333333
    """
    _, group = np.unique(np.asarray(scores, np.float64), return_inverse=True)
    is_signal = np.asarray(labels) == 1
    weights = np.asarray(weights, np.float64)
    signal = np.bincount(group, weights=np.where(is_signal, weights, 0.0))
    background = np.bincount(group, weights=np.where(is_signal, 0.0, weights))
    total_signal, total_background = signal.sum(), background.sum()
    if total_signal <= 0 or total_background <= 0:
        return float("nan")
    below = np.cumsum(background) - background
    return float(np.sum(signal * (below + 0.5 * background)) / (total_signal * total_background))
