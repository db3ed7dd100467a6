"""Circle fits of many events at once, robust to noise hits.

The hits of ``n`` events come as padded ``(n, N)`` arrays ``x``, ``y`` (mm) with a
``mask`` (true = a hit). Each event's circle is fitted with Taubin's algebraic fit
(G. Taubin, IEEE PAMI 13 (1991) 1115), solved as in N. Chernov's
``CircleFitByTaubin``: the smallest root of a cubic found by Newton's method from 0.
It is nearly unbiased for full and partial rings and needs no starting point, and
every step is a numpy operation over all events together.

Noise hits are rejected by consensus. An algebraic fit is pulled so far by a noise
hit a few hundred mm from the ring that ring hits get large residuals
(``| |hit - centre| - radius |``) too, so in an event with a hit beyond ``cut_mm`` of
the circle of all its hits, the fit starts instead from circles through triplets of
hits spread around the ring (hits sorted by azimuth about their centroid; hit i with
the hits a third and two thirds, and a quarter and a half, of the way round: 2N
triplets, a RANSAC with deterministic samples). The triplet circle with the most hits
within ``cut_mm`` (the smallest mean residual among equals) gives the hits of the
first fit. Then, up to ``refinements`` times until nothing changes, the hits within
``cut_mm`` of the last circle are fitted again; a selection of fewer than 3 hits
keeps the previous one.

Events with fewer than 3 hits (or hits on a line) have no circle: their result is
flagged ``valid = False`` with centre (0, 0), radius 0 and rms 0, so that every
array is finite (no NaN reaches a file or a network input); ``n_used`` is then the
number of hits the event has.

>>> angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
>>> x = np.stack([10 + 5 * np.cos(angles), np.zeros(8)])
>>> y = np.stack([-3 + 5 * np.sin(angles), np.zeros(8)])
>>> mask = np.array([[True] * 8, [True, True] + [False] * 6])
>>> fit = fit_circles(x, y, mask)
>>> np.round(fit.centre_x, 6), np.round(fit.centre_y, 6), np.round(fit.radius, 6)
(array([10.,  0.]), array([-3.,  0.]), array([5., 0.]))
>>> fit.valid, fit.n_used
(array([ True, False]), array([8, 2]))
"""

from dataclasses import dataclass

import numpy as np

MIN_HITS = 3
# Events whose leave-one-out fits are done together: (events, N, N) arrays of a few MB.
_CHUNK_EVENTS = 1024
# Newton's method on Taubin's cubic converges in a few steps from 0; Chernov uses 20.
NEWTON_STEPS = 20
NEWTON_TOLERANCE = 1e-12


@dataclass(frozen=True)
class CircleFit:
    """Fitted circles of ``n`` events (float64 arrays of shape ``(n,)`` unless noted).

    Attributes:
        centre_x, centre_y: the centre (mm); 0 where not ``valid``.
        radius: mm; 0 where not ``valid``.
        n_used: hits in the final fit (int64); all the event's hits where not ``valid``.
        rms: root mean square of the radial residuals of the hits used (mm).
        valid: whether the event had a circle (at least 3 hits, not on a line).
        used: ``(n, N)`` bool, the hits the final fit used.
    """

    centre_x: np.ndarray
    centre_y: np.ndarray
    radius: np.ndarray
    n_used: np.ndarray
    rms: np.ndarray
    valid: np.ndarray
    used: np.ndarray


def _weighted_moments(x, y, weights):
    """Centroid and the centred moments Taubin's fit needs, per event."""
    count = weights.sum(axis=1)
    safe = np.maximum(count, 1.0)
    mean_x = (weights * x).sum(axis=1) / safe
    mean_y = (weights * y).sum(axis=1) / safe
    dx = np.where(weights > 0, x - mean_x[:, None], 0.0)
    dy = np.where(weights > 0, y - mean_y[:, None], 0.0)
    dz = dx * dx + dy * dy

    def mean(values):
        return (weights * values).sum(axis=1) / safe

    moments = {
        "xx": mean(dx * dx),
        "yy": mean(dy * dy),
        "xy": mean(dx * dy),
        "xz": mean(dx * dz),
        "yz": mean(dy * dz),
        "zz": mean(dz * dz),
    }
    return mean_x, mean_y, count, moments


def _taubin_root(m):
    """The smallest non-negative root of Taubin's characteristic cubic (Chernov's
    Newton iteration from 0; 0 where it diverges)."""
    mz = m["xx"] + m["yy"]
    cov_xy = m["xx"] * m["yy"] - m["xy"] ** 2
    var_z = m["zz"] - mz**2
    a3 = 4.0 * mz
    a2 = -3.0 * mz**2 - m["zz"]
    a1 = var_z * mz + 4.0 * cov_xy * mz - m["xz"] ** 2 - m["yz"] ** 2
    a0 = (
        m["xz"] * (m["xz"] * m["yy"] - m["yz"] * m["xy"])
        + m["yz"] * (m["yz"] * m["xx"] - m["xz"] * m["xy"])
        - var_z * cov_xy
    )
    root = np.zeros_like(mz)
    previous = np.full_like(mz, np.inf)
    active = np.ones(mz.shape, dtype=bool)
    for _ in range(NEWTON_STEPS):
        value = a0 + root * (a1 + root * (a2 + root * a3))
        wrong_way = active & (np.abs(value) > np.abs(previous))
        root[wrong_way] = 0.0
        active &= ~wrong_way
        slope = a1 + root * (2.0 * a2 + 3.0 * root * a3)
        step = np.divide(value, slope, out=np.zeros_like(value), where=active & (slope != 0))
        old = root.copy()
        root = np.where(active, np.maximum(root - step, 0.0), root)
        previous = np.where(active, value, previous)
        active &= np.abs(root - old) > NEWTON_TOLERANCE * np.abs(root)
        if not active.any():
            break
    return root, mz, cov_xy


def taubin_fit(x: np.ndarray, y: np.ndarray, weights: np.ndarray):
    """One Taubin circle fit per event, without outlier rejection.

    Args:
        x, y: ``(n, N)`` hit coordinates.
        weights: ``(n, N)`` 1 for a hit to fit, 0 to ignore (bool is fine).

    Returns:
        ``(centre_x, centre_y, radius, valid)``, arrays of shape ``(n,)``; centre and
        radius are 0 where not ``valid`` (fewer than 3 hits, or hits on a line).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    mean_x, mean_y, count, m = _weighted_moments(x, y, weights)
    root, mz, cov_xy = _taubin_root(m)
    det = root * root - root * mz + cov_xy
    numerator_x = m["xz"] * (m["yy"] - root) - m["yz"] * m["xy"]
    numerator_y = m["yz"] * (m["xx"] - root) - m["xz"] * m["xy"]
    # Collinear hits make det vanish against the scale of the moments (mm⁴).
    valid = (count >= MIN_HITS) & (np.abs(det) > 1e-12 * np.maximum(mz, 1e-300) ** 2)
    safe_det = np.where(valid, det, 1.0)
    offset_x = np.where(valid, numerator_x / (2.0 * safe_det), 0.0)
    offset_y = np.where(valid, numerator_y / (2.0 * safe_det), 0.0)
    radius = np.sqrt(np.maximum(offset_x**2 + offset_y**2 + mz, 0.0))
    valid &= np.isfinite(radius) & np.isfinite(offset_x) & np.isfinite(offset_y)
    return (
        np.where(valid, mean_x + offset_x, 0.0),
        np.where(valid, mean_y + offset_y, 0.0),
        np.where(valid, radius, 0.0),
        valid,
    )


def _residuals(x, y, centre_x, centre_y, radius):
    """| distance of each hit from the centre - radius |, shape ``(n, N)``."""
    return np.abs(np.hypot(x - centre_x[:, None], y - centre_y[:, None]) - radius[:, None])


def _circumcircles(x, y, first, second, third):
    """Centre and radius of the circle through three hits of each row (indices
    ``(n, K)`` into ``x``, ``y`` of shape ``(n, N)``); radius -1 for collinear hits."""
    ax, bx, cx = (np.take_along_axis(x, index, axis=1) for index in (first, second, third))
    ay, by, cy = (np.take_along_axis(y, index, axis=1) for index in (first, second, third))
    a2, b2, c2 = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
    det = 2.0 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    ok = np.abs(det) > 1e-9 * (a2 + b2 + c2 + 1.0)
    det = np.where(ok, det, 1.0)
    centre_x = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / det
    centre_y = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / det
    radius = np.where(ok, np.hypot(ax - centre_x, ay - centre_y), -1.0)
    return centre_x, centre_y, radius


def _triplets(x, y, used):
    """Indices ``(n, 2N)`` of hit triplets spread around each ring: hits sorted by
    azimuth about their centroid, hit i with the hits a third and two thirds (and a
    quarter and a half) of the way round; -1 where a row has fewer hits."""
    count = used.sum(axis=1, keepdims=True)
    safe = np.maximum(count, 1)
    mean_x = np.where(used, x, 0.0).sum(axis=1, keepdims=True) / safe
    mean_y = np.where(used, y, 0.0).sum(axis=1, keepdims=True) / safe
    azimuth = np.where(used, np.arctan2(y - mean_y, x - mean_x), np.inf)
    by_azimuth = np.argsort(azimuth, axis=1)
    start = np.arange(x.shape[1])[None]
    exists = start < count
    picks = []
    for step_one, step_two in ((3, 3 / 2), (4, 2)):
        for step in (0, count // step_one, (count / step_two).astype(np.int64)):
            picks.append(np.take_along_axis(by_azimuth, (start + step) % safe, axis=1))
    first = np.concatenate([picks[0], picks[3]], axis=1)
    second = np.concatenate([picks[1], picks[4]], axis=1)
    third = np.concatenate([picks[2], picks[5]], axis=1)
    return first, second, third, np.concatenate([exists, exists], axis=1)


def _consensus(x, y, used, cut_mm):
    """Per row, the hits within ``cut_mm`` of the triplet circle that has the most
    of them (fewest rms residual among equals)."""
    first, second, third, exists = _triplets(x, y, used)
    centre_x, centre_y, radius = _circumcircles(x, y, first, second, third)
    residuals = np.abs(
        np.hypot(x[:, None, :] - centre_x[..., None], y[:, None, :] - centre_y[..., None])
        - radius[..., None]
    )
    inside = used[:, None, :] & (residuals <= cut_mm) & (exists & (radius > 0))[..., None]
    count = inside.sum(axis=2)
    spread = np.where(inside, residuals, 0.0).sum(axis=2) / (cut_mm * np.maximum(count, 1))
    best = np.argmax(count - 0.5 * spread, axis=1)  # spread < 1: only breaks ties
    return inside[np.arange(len(best)), best]


def _robust_start(x, y, mask, cut_mm):
    """The hits to fit first: all of them, or, in events with a hit beyond ``cut_mm``
    of the circle of all hits, the consensus of triplets (module docstring)."""
    centre_x, centre_y, radius, valid = taubin_fit(x, y, mask)
    residuals = np.where(mask, _residuals(x, y, centre_x, centre_y, radius), 0.0)
    suspects = np.flatnonzero(valid & (residuals.max(axis=1) > cut_mm))
    used = mask.copy()
    for start in range(0, len(suspects), _CHUNK_EVENTS):
        chunk = suspects[start : start + _CHUNK_EVENTS]
        consensus = _consensus(x[chunk], y[chunk], mask[chunk], cut_mm)
        enough = consensus.sum(axis=1) >= MIN_HITS
        used[chunk[enough]] = consensus[enough]
    return used


def _readmit(x, y, mask, used, cut_mm):
    """Every hit within ``cut_mm`` of the circle of ``used`` (``used`` itself where
    fewer than 3 would remain)."""
    centre_x, centre_y, radius, valid = taubin_fit(x, y, used)
    inside = mask & (_residuals(x, y, centre_x, centre_y, radius) <= cut_mm)
    keep = valid & (inside.sum(axis=1) >= MIN_HITS)
    return np.where(keep[:, None], inside, used)


def fit_circles(
    x: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    cut_mm: float = 15.0,
    refinements: int = 3,
) -> CircleFit:
    """Fit one circle per event to its hits, leaving out outliers (module docstring).

    Args:
        x, y: ``(n, N)`` hit coordinates (mm), padded.
        mask: ``(n, N)`` true for a hit, false for padding.
        cut_mm: a hit further than this from the circle is an outlier (default: 3×
            the 5 mm radial resolution of one hit in NA62's RICH: a hexagonal cell
            of 18 mm pitch and the optics' spread).
        refinements: rounds of re-selecting the hits within ``cut_mm`` of the last
            circle (0: one plain Taubin fit of all hits, no outlier rejection).

    Returns:
        A :class:`CircleFit`; events with fewer than 3 hits are flagged not ``valid``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    used = _robust_start(x, y, mask, cut_mm) if refinements else mask
    for _ in range(refinements):
        updated = _readmit(x, y, mask, used, cut_mm)
        if np.array_equal(updated, used):
            break
        used = updated
    centre_x, centre_y, radius, valid = taubin_fit(x, y, used)
    used = used & valid[:, None]
    residuals = np.where(used, _residuals(x, y, centre_x, centre_y, radius), 0.0)
    n_used = np.where(valid, used.sum(axis=1), mask.sum(axis=1)).astype(np.int64)
    rms = np.sqrt((residuals**2).sum(axis=1) / np.maximum(n_used, 1))
    return CircleFit(centre_x, centre_y, radius, n_used, np.where(valid, rms, 0.0), valid, used)
