"""The classic RICH particle identification: a likelihood ratio of the fitted ring radius.

What NA62's ring-fit (MLE) algorithm does, and what a network must beat: fit a circle
to the in-time hits of the event (:mod:`smartml.tasks.rich_pid.ring_fit`), then
compare its radius with the radius a pion and a muon of the track's momentum would
give (:func:`~smartml.tasks.rich_pid.physics.ring_radius`). The radius of a fit to
``n`` hits scatters about the expectation with a resolution

    σ(n) = √(a²/n + b²)

(``a``: the spread of single hits, averaged down by ``n``; ``b``: what does not
average, e.g. the momentum resolution and the mirror alignment), *measured* on the
training split: the robust width of ``radius − expected radius of the true class`` in
each bin of ``n``, fitted by weighted least squares of σ² against 1/n
(:meth:`RadiusResolution.fit`). The likelihood of a radius under a hypothesis h is a
Gaussian core plus a flat tail of outliers (noise hits pulled into the fit), whose
fraction ε is measured too (residuals beyond :data:`OUTLIER_PULL` σ) and kept at or
above :data:`MIN_TAIL_FRACTION`:

    L_h(r) = (1 − ε) · N(r; R_h(p), σ(n)) + ε / W,   W = :data:`TAIL_RADIUS_RANGE_MM`

and the score is ``log L(π) − log L(μ)``: positive means pion-like, and the tail keeps
it finite and bounded for any radius (|score| ≲ 20; clipped to ±:data:`SCORE_LIMIT`
for absurd resolutions). An event without a ring (no fit: NaN radius, or fewer than
:data:`MIN_RING_HITS` hits) cannot be identified, as in NA62's ring-fit PID: it scores
:data:`NO_RING_SCORE`, below every ring's score, so that no threshold above it calls
it a pion, and ROC curves rank it least pion-like.

>>> resolution = RadiusResolution(stochastic_mm=12.0, constant_mm=1.0)
>>> round(float(resolution.sigma(16)), 3)
3.162
>>> baseline = RingLikelihoodBaseline(resolution, tail_fraction=1e-3)
>>> expected_pion = float(physics.ring_radius(30.0, physics.PION_MASS))
>>> bool(baseline.scores([expected_pion], [16], [30.0])[0] > 0)
True
>>> baseline.scores([float("nan"), 150.0], [16, 2], [30.0, 30.0]).tolist()  # no ring
[-100.0, -100.0]
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy.optimize import nnls

from smartml.data.scaling import finite_numbers
from smartml.errors import DataError, RunDirectoryError
from smartml.files import read_json_object, write_json_atomic
from smartml.metrics.figures import axis_label, new_axes, title
from smartml.metrics.point_regression import robust_width
from smartml.tasks.rich_pid import physics
from smartml.tasks.rich_pid.layout import MUON, PION

FORMAT_VERSION = 1
# A circle has three parameters: fewer hits give no fit.
MIN_RING_HITS = 3
# Ring scores are within ±SCORE_LIMIT; events without a ring score below all of them.
SCORE_LIMIT = 50.0
NO_RING_SCORE = -2 * SCORE_LIMIT
# A bin of the hit count enters the resolution fit with at least this many rings;
# fewer make a width that is mostly noise.
MIN_RINGS_PER_HIT_BIN = 30
# A residual beyond this many σ is an outlier (a Gaussian gives 6e-7 of them).
OUTLIER_PULL = 5.0
# The smallest tail fraction: keeps the likelihood ratio bounded (|score| ≲ 15)
# even when the training split had no outliers at all.
MIN_TAIL_FRACTION = 1e-4
# Outlier radii are spread uniformly over the PMT disk's half-width (~300 mm).
TAIL_RADIUS_RANGE_MM = 300.0
MAX_PULL = 1e6
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_RESOLUTION_KEYS = ("stochastic_mm", "constant_mm")
_KEYS = ("version", "resolution", "tail_fraction", "n_fit_rings", "measured")


@dataclass(frozen=True)
class RadiusResolution:
    """Resolution of the fitted ring radius, σ(n) = √(a²/n + b²) for n hits.

    Attributes:
        stochastic_mm: ``a``, mm (the single-hit spread).
        constant_mm: ``b``, mm (the part that does not average down).
    """

    stochastic_mm: float
    constant_mm: float

    def __post_init__(self) -> None:
        values = (self.stochastic_mm, self.constant_mm)
        if not all(np.isfinite(v) and v >= 0 for v in values) or not max(values) > 0:
            raise DataError(
                f"radius resolution (a, b) = {values} mm: both must be finite and >= 0, "
                "one of them > 0"
            )

    def sigma(self, n_hits) -> np.ndarray:
        """σ in mm for rings of ``n_hits`` hits (array-like, each >= 1)."""
        n = np.asarray(n_hits, dtype=np.float64)
        return np.sqrt(self.stochastic_mm**2 / n + self.constant_mm**2)

    @classmethod
    def fit(cls, n_hits: np.ndarray, residuals: np.ndarray) -> tuple["RadiusResolution", dict]:
        """Measure the width of ``residuals`` per hit count and fit σ(n) to it.

        Args:
            n_hits: (m,) hit counts of the rings (>= :data:`MIN_RING_HITS`).
            residuals: (m,) fitted minus expected radius of the true class, mm.

        Returns:
            ``(resolution, measured)``: the fit, and the measurement it was fitted to
            as ``{"n_hits", "rings", "sigma_mm"}`` lists (one entry per hit count
            with at least :data:`MIN_RINGS_PER_HIT_BIN` rings).

        Raises:
            DataError: fewer than two hit counts with enough rings.
        """
        counts, rings, widths = [], [], []
        for n in np.unique(n_hits):
            in_bin = residuals[n_hits == n]
            if in_bin.size >= MIN_RINGS_PER_HIT_BIN:
                counts.append(int(n))
                rings.append(int(in_bin.size))
                widths.append(robust_width(in_bin))
        if len(counts) < 2:
            raise DataError(
                f"radius resolution: {len(counts)} hit count(s) have >= {MIN_RINGS_PER_HIT_BIN} "
                "fitted pion or muon rings in the training split; need at least 2 to fit σ(n)"
            )
        n, m, sigma = (np.asarray(values, dtype=np.float64) for values in (counts, rings, widths))
        # σ² = a²/n + b² is linear in (a², b²); var(σ²) ∝ σ⁴/m sets the weights, and
        # non-negative least squares keeps both squares >= 0.
        root_weight = np.sqrt(m) / np.maximum(sigma, np.finfo(float).tiny) ** 2
        design = np.stack([1.0 / n, np.ones_like(n)], axis=1) * root_weight[:, None]
        (a2, b2), _ = nnls(design, sigma**2 * root_weight)
        measured = {"n_hits": counts, "rings": rings, "sigma_mm": widths}
        return cls(float(np.sqrt(a2)), float(np.sqrt(b2))), measured


@dataclass(frozen=True)
class RingLikelihoodBaseline:
    """π/μ likelihood ratio of the fitted ring radius (see the module docstring).

    Fit it on the training split with :meth:`fit`, then :meth:`scores` the test
    events the network is evaluated on.

    Attributes:
        resolution: σ(n) of the fitted radius.
        tail_fraction: ε, the fraction of outlier radii.
        n_fit_rings: pion and muon rings the fit used.
        measured: the per-hit-count widths σ(n) was fitted to (for the record).
    """

    resolution: RadiusResolution
    tail_fraction: float
    n_fit_rings: int = 0
    measured: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not MIN_TAIL_FRACTION <= self.tail_fraction < 1.0:
            raise DataError(
                f"tail_fraction must be in [{MIN_TAIL_FRACTION:g}, 1), got {self.tail_fraction!r}"
            )

    @classmethod
    def fit(cls, radius, n_hits, momentum, labels) -> "RingLikelihoodBaseline":
        """Measure the radius resolution and the outlier fraction on training events.

        Args:
            radius: (n,) fitted ring radius, mm; NaN where there is no ring.
            n_hits: (n,) in-time hits the ring fit used.
            momentum: (n,) track momentum, GeV/c.
            labels: (n,) true classes (:data:`~smartml.tasks.rich_pid.layout.MUON`,
                ``PION``; other classes, e.g. positrons, are not used).

        Returns:
            the fitted baseline.

        Raises:
            DataError: inputs of different lengths, non-finite momentum, or too few
                rings to measure the resolution.
        """
        radius, n_hits, momentum = _event_arrays(radius, n_hits, momentum)
        labels = np.asarray(labels)
        if labels.shape != radius.shape:
            raise DataError(f"labels must have shape {radius.shape}, got {labels.shape}")
        used = has_ring(radius, n_hits) & ((labels == PION) | (labels == MUON))
        mass = np.where(labels[used] == PION, physics.PION_MASS, physics.MUON_MASS)
        residual = radius[used] - physics.ring_radius(momentum[used], mass)
        resolution, measured = RadiusResolution.fit(n_hits[used], residual)
        pull = residual / resolution.sigma(n_hits[used])
        outliers = float(np.mean(np.abs(pull) > OUTLIER_PULL))
        return cls(resolution, max(outliers, MIN_TAIL_FRACTION), int(used.sum()), measured)

    def log_likelihood(self, radius, n_hits, momentum, mass: float) -> np.ndarray:
        """log L of each event's radius for a particle of ``mass`` (GeV/c²); NaN
        where there is no ring."""
        radius, n_hits, momentum = _event_arrays(radius, n_hits, momentum)
        ring = has_ring(radius, n_hits)
        sigma = self.resolution.sigma(np.maximum(n_hits, MIN_RING_HITS))
        pull = (np.where(ring, radius, 0.0) - physics.ring_radius(momentum, mass)) / sigma
        # Beyond ~40σ the tail dominates anyway; the clip only keeps pull² from overflowing.
        pull = np.clip(pull, -MAX_PULL, MAX_PULL)
        core = np.log1p(-self.tail_fraction) - 0.5 * pull**2 - np.log(sigma) - _LOG_SQRT_2PI
        tail = np.log(self.tail_fraction / TAIL_RADIUS_RANGE_MM)
        return np.where(ring, np.logaddexp(core, tail), np.nan)

    def scores(self, radius, n_hits, momentum) -> np.ndarray:
        """``log L(π) − log L(μ)`` per event, within ±:data:`SCORE_LIMIT`;
        :data:`NO_RING_SCORE` without a ring.

        Args:
            radius: (n,) fitted ring radius, mm; NaN where the fit failed.
            n_hits: (n,) in-time hits the ring fit used.
            momentum: (n,) track momentum, GeV/c.

        Returns:
            (n,) float64 scores: larger is more pion-like.
        """
        pion = self.log_likelihood(radius, n_hits, momentum, physics.PION_MASS)
        muon = self.log_likelihood(radius, n_hits, momentum, physics.MUON_MASS)
        ratio = np.clip(pion - muon, -SCORE_LIMIT, SCORE_LIMIT)  # NaN - NaN: no warning
        return np.where(np.isnan(ratio), NO_RING_SCORE, ratio)

    # -- storage ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe parameters (and the measurement they come from)."""
        return {
            "version": FORMAT_VERSION,
            "resolution": {
                "stochastic_mm": self.resolution.stochastic_mm,
                "constant_mm": self.resolution.constant_mm,
            },
            "tail_fraction": self.tail_fraction,
            "n_fit_rings": self.n_fit_rings,
            "measured": self.measured,
        }

    @classmethod
    def from_dict(cls, content: dict, where: str) -> "RingLikelihoodBaseline":
        """Validate :meth:`to_dict` output key by key (``where`` names the file).

        Raises:
            RunDirectoryError: one line naming the file and the key at fault.
        """
        missing = [key for key in _KEYS if key not in content]
        unknown = sorted(set(content) - set(_KEYS))
        if missing or unknown:
            what = f"missing key '{missing[0]}'" if missing else f"unexpected key '{unknown[0]}'"
            raise RunDirectoryError(f"{where}: {what}")
        if content["version"] != FORMAT_VERSION:
            raise RunDirectoryError(
                f"{where}: key 'version' is {content['version']!r}, expected {FORMAT_VERSION}"
            )
        block = content["resolution"]
        if not isinstance(block, dict) or set(block) != set(_RESOLUTION_KEYS):
            raise RunDirectoryError(
                f"{where}: key 'resolution' must be an object with keys {list(_RESOLUTION_KEYS)}"
            )
        a, b = (
            finite_numbers(block, key, None, False, f"{where}: resolution")
            for key in _RESOLUTION_KEYS
        )
        tail = finite_numbers(content, "tail_fraction", None, True, where)
        rings = content["n_fit_rings"]
        if isinstance(rings, bool) or not isinstance(rings, int) or rings < 0:
            raise RunDirectoryError(f"{where}: key 'n_fit_rings' must be an integer >= 0")
        try:
            return cls(RadiusResolution(a, b), tail, rings, content["measured"])
        except DataError as error:
            raise RunDirectoryError(f"{where}: {error}") from None

    def to_json(self, path: str | Path) -> None:
        """Write :meth:`to_dict` atomically (a crash never leaves half a file)."""
        write_json_atomic(path, self.to_dict(), RunDirectoryError)

    @classmethod
    def from_json(cls, path: str | Path) -> "RingLikelihoodBaseline":
        """Read a file written by :meth:`to_json`.

        Raises:
            RunDirectoryError: one line naming the file (and the key at fault).
        """
        content = read_json_object(path, "ring likelihood baseline", RunDirectoryError)
        return cls.from_dict(content, str(path))


def resolution_figure(baseline: RingLikelihoodBaseline, run_name: str | None = None) -> Figure:
    """The radius resolution measured per hit count (points) and the σ(n) fitted to it.

    Args:
        baseline: a fitted baseline (its ``measured`` widths are drawn).
        run_name: shown in the title.
    """
    figure, axes = new_axes()
    measured = baseline.measured
    axes.plot(measured["n_hits"], measured["sigma_mm"], "o", label="measured (robust width)")
    hits = np.linspace(min(measured["n_hits"]), max(measured["n_hits"]), 200)
    a, b = baseline.resolution.stochastic_mm, baseline.resolution.constant_mm
    axes.plot(hits, baseline.resolution.sigma(hits), label=f"√({a:.3g}²/n + {b:.3g}²) mm")
    axes.set(
        xlabel="hits in the ring fit",
        ylabel=axis_label("ring radius resolution", "mm"),
        title=title("ring radius resolution (training split)", run_name),
    )
    axes.legend(loc="upper right", fontsize="small")
    return figure


def has_ring(radius: np.ndarray, n_hits: np.ndarray) -> np.ndarray:
    """Events whose ring fit gave a radius from at least :data:`MIN_RING_HITS` hits.

    >>> has_ring(np.array([150.0, np.nan, 150.0]), np.array([10, 10, 2])).tolist()
    [True, False, False]
    """
    return np.isfinite(radius) & (n_hits >= MIN_RING_HITS)


def _event_arrays(radius, n_hits, momentum) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated per-event arrays: radius (NaN = no ring), hit counts, momentum."""
    radius = np.asarray(radius, dtype=np.float64)
    if radius.ndim != 1:
        raise DataError(f"radius must be a 1-D array of ring radii (mm), got shape {radius.shape}")
    arrays = {"n_hits": np.asarray(n_hits), "momentum": np.asarray(momentum, dtype=np.float64)}
    for name, array in arrays.items():
        if array.shape != radius.shape:
            raise DataError(
                f"{name} must have the shape of radius {radius.shape}, got {array.shape}"
            )
    hits, momentum = arrays["n_hits"], arrays["momentum"]
    _require("radius", np.isinf(radius), "finite or NaN (no ring)", radius)
    _require(
        "momentum", ~(np.isfinite(momentum) & (momentum > 0)), "finite and > 0 GeV/c", momentum
    )
    integral = np.issubdtype(hits.dtype, np.integer) or np.all(np.mod(hits, 1) == 0)
    if not integral:
        raise DataError(f"n_hits must be whole numbers, got {hits.dtype} values such as {hits[0]}")
    _require("n_hits", hits < 0, ">= 0", hits)
    return radius, hits.astype(np.int64), momentum


def _require(name: str, bad: np.ndarray, expected: str, values: np.ndarray) -> None:
    if bad.any():
        index = int(np.argmax(bad))
        raise DataError(
            f"{name} must be {expected}; {int(bad.sum())} values are not "
            f"(first: {values[index]} at index {index})"
        )
