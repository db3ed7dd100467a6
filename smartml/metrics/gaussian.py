"""Resolution, pulls and covariance calibration of a Gaussian regression.

The residual statistics (bias, RMS, robust width) are those of
:mod:`smartml.metrics.point_regression`; this module adds what a predicted
covariance makes measurable.

The model predicts, for each of ``n`` clusters, a ``k``-dimensional Gaussian: a
mean vector and a full covariance matrix. Everything here works in physical units
(after un-normalisation) with

- ``y_true``: (n, k) true values;
- ``mean``: (n, k) predicted means;
- ``cov``: (n, k, k) predicted covariances, symmetric positive definite.

Conventions, used by every function:

- residual = mean − truth (so a positive bias means the model overshoots);
- the *robust width*: :func:`~smartml.metrics.point_regression.robust_width`;
- pull = residual / sqrt(cov_ii): standard normal if the predicted variance of
  target i is honest;
- d² = rᵀ C⁻¹ r (squared Mahalanobis distance of the whole residual vector): χ²(k)
  distributed if the full covariance, correlations included, is honest.

Standard deviations use ``ddof=0``, so ``rms² = bias² + std²`` holds exactly.

>>> import numpy as np
>>> y_true = np.array([[0.0], [1.0], [2.0], [3.0]])
>>> mean = y_true + np.array([[1.0], [-1.0], [1.0], [-1.0]])
>>> cov = np.full((4, 1, 1), 4.0)  # predicted σ = 2, true spread 1
>>> metrics = target_metrics(y_true, mean, cov, names=["x"], units=["µm"])
>>> metrics["x"]["bias"], metrics["x"]["rms"], metrics["x"]["pull_std"]
(0.0, 1.0, 0.5)
>>> metrics["all"]["d2_mean"]
0.25
"""

from collections.abc import Sequence

import numpy as np
from scipy import stats

from smartml.metrics import binning
from smartml.metrics.checks import (
    EvaluationError,
    check_names,
    finite_vector,
    require_finite,
    same_shape,
)
from smartml.metrics.point_regression import (
    ONE_SIGMA_COVERAGE,
    binned_residuals,
    residual_statistics,
    robust_width,
)

TWO_SIGMA_LEVEL = 0.95
# Key of the whole-vector calibration entry in target_metrics(); no target may use it.
ALL_TARGETS_KEY = "all"
# Off-diagonal asymmetry tolerated in cov, relative to sqrt(C_ii C_jj): float32 model
# outputs that went through un-normalisation are symmetric only to rounding.
SYMMETRY_RTOL = 1e-5


def check_predictions(
    y_true: np.ndarray, mean: np.ndarray, cov: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a set of Gaussian predictions and return them as float64 arrays.

    Args:
        y_true: (n, k) true values.
        mean: (n, k) predicted means.
        cov: (n, k, k) predicted covariances.

    Returns:
        ``(y_true, mean, cov)`` as float64, ``cov`` exactly symmetrised.

    Raises:
        EvaluationError: one line naming the argument at fault: a wrong shape, a NaN or
            inf, a non-positive variance, an asymmetric or non-positive-definite
            covariance.

    >>> check_predictions(np.zeros((2, 1)), np.zeros((2, 1)), np.ones((2, 1, 1)))[2].shape
    (2, 1, 1)
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape[0] == 0 or y_true.shape[1] == 0:
        raise EvaluationError(f"y_true must have shape (n, k) with n, k >= 1, got {y_true.shape}")
    n, k = y_true.shape
    if mean.shape != (n, k):
        raise EvaluationError(f"mean must have the shape of y_true {(n, k)}, got {mean.shape}")
    if cov.shape != (n, k, k):
        raise EvaluationError(f"cov must have shape (n, k, k) = {(n, k, k)}, got {cov.shape}")
    for name, array in (("y_true", y_true), ("mean", mean), ("cov", cov)):
        require_finite(name, array)
    _require_positive_variances(cov)
    cov = _symmetrised(cov)
    _require_positive_definite(cov)
    return y_true, mean, cov


def pulls(y_true: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Per-target pulls (mean − truth) / sqrt(cov_ii).

    Args:
        y_true, mean, cov: see the module docstring.

    Returns:
        (n, k) pulls; standard normal per target for an honest model.

    >>> pulls(np.zeros((1, 2)), np.array([[1.0, -3.0]]), np.diag([4.0, 9.0])[None])
    array([[ 0.5, -1. ]])
    """
    y_true, mean, cov = check_predictions(y_true, mean, cov)
    return (mean - y_true) / _predicted_sigmas(cov)


def mahalanobis_squared(y_true: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance d² = rᵀ C⁻¹ r of each residual vector r.

    Args:
        y_true, mean, cov: see the module docstring.

    Returns:
        (n,) d² values; χ²(k) distributed for an honest model.

    >>> cov = np.array([[[4.0, 0.0], [0.0, 1.0]]])
    >>> mahalanobis_squared(np.zeros((1, 2)), np.array([[2.0, 1.0]]), cov)
    array([2.])
    """
    y_true, mean, cov = check_predictions(y_true, mean, cov)
    # Solve L z = r with C = L Lᵀ, so that d² = |z|²: stabler than inverting C.
    cholesky = np.linalg.cholesky(cov)
    whitened = np.linalg.solve(cholesky, (mean - y_true)[..., None])[..., 0]
    return np.sum(whitened**2, axis=1)


def covariance_calibration(y_true: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> dict:
    """Whole-vector calibration of the predicted covariance from d² = rᵀ C⁻¹ r.

    Args:
        y_true, mean, cov: see the module docstring.

    Returns:
        JSON-safe dict: ``n``; ``k`` (number of targets); ``d2_mean`` (expect k);
        ``d2_median`` (expect the χ²(k) median, ``chi2_median``);
        ``d2_fraction_below_chi2_68`` / ``d2_fraction_below_chi2_95``: fraction of
        clusters below the χ²(k) 68.27% / 95% quantiles (expect 0.6827 / 0.95),
        which are given as ``chi2_quantile_68`` / ``chi2_quantile_95``. Too small
        fractions mean the covariance is too small (over-confident model).

    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=(20_000, 3))
    >>> unit_cov = np.tile(np.eye(3), (20_000, 1, 1))
    >>> calibration = covariance_calibration(y, np.zeros_like(y), unit_cov)
    >>> round(calibration["d2_mean"], 1), round(calibration["d2_fraction_below_chi2_95"], 2)
    (3.0, 0.95)
    """
    d2 = mahalanobis_squared(y_true, mean, cov)
    k = np.shape(y_true)[1]
    quantile_68 = float(stats.chi2.ppf(ONE_SIGMA_COVERAGE, k))
    quantile_95 = float(stats.chi2.ppf(TWO_SIGMA_LEVEL, k))
    return {
        "n": int(d2.size),
        "k": int(k),
        "d2_mean": float(np.mean(d2)),
        "d2_median": float(np.median(d2)),
        "chi2_median": float(stats.chi2.median(k)),
        "d2_fraction_below_chi2_68": float(np.mean(d2 < quantile_68)),
        "d2_fraction_below_chi2_95": float(np.mean(d2 < quantile_95)),
        "chi2_quantile_68": quantile_68,
        "chi2_quantile_95": quantile_95,
    }


def target_metrics(
    y_true: np.ndarray,
    mean: np.ndarray,
    cov: np.ndarray,
    names: Sequence[str],
    units: Sequence[str],
) -> dict:
    """Resolution and calibration of each target, plus the whole-vector calibration.

    Args:
        y_true, mean, cov: see the module docstring (physical units).
        names: the k target names, e.g. ``TARGETS``; ``"all"`` is reserved.
        units: the k units, e.g. ``TARGET_UNITS`` ("" for dimensionless).

    Returns:
        JSON-safe dict of plain floats. One entry per target name with
        ``bias`` (mean residual), ``rms`` (bias included), ``std``,
        ``robust_width``, ``mae`` (mean absolute residual), ``unit``,
        ``pull_mean``, ``pull_std``, ``pull_robust_width`` (expect 0, 1, 1),
        ``mean_predicted_sigma``, ``coverage_1sigma`` (fraction with |pull| < 1,
        expect 0.6827) and ``n``; plus the entry ``"all"``, the
        :func:`covariance_calibration` of the full covariance.
    """
    y_true, mean, cov = check_predictions(y_true, mean, cov)
    check_names(names, units, y_true.shape[1], reserved=(ALL_TARGETS_KEY,))
    residuals = mean - y_true
    sigmas = _predicted_sigmas(cov)
    target_pulls = residuals / sigmas
    metrics = {
        name: _one_target_metrics(residuals[:, i], target_pulls[:, i], sigmas[:, i], unit)
        for i, (name, unit) in enumerate(zip(names, units, strict=True))
    }
    metrics[ALL_TARGETS_KEY] = covariance_calibration(y_true, mean, cov)
    return metrics


def residual_profile(
    truth: np.ndarray,
    residual: np.ndarray,
    bins: int = 20,
    quantile_range: tuple[float, float] = (0.01, 0.99),
    min_entries: int = 10,
) -> dict:
    """Mean and robust width of the residual in bins of the true value.

    The bins have equal width between the ``quantile_range`` quantiles of
    ``truth`` (so that a few extreme tracks do not stretch the axis); clusters
    outside are not used. Bins with fewer than ``min_entries`` clusters are
    dropped, because a quantile width from a handful of entries is noise.

    Args:
        truth: (n,) true values, finite.
        residual: (n,) residuals (prediction − truth), finite; filter NaN first.
        bins: number of equal-width bins.
        quantile_range: (low, high) quantiles of ``truth`` spanned by the bins.
        min_entries: bins with fewer clusters are dropped.

    Returns:
        JSON-safe dict of lists: ``edges`` (all ``bins + 1`` edges); for the kept
        bins only, ``bin_index`` (index into the bins), ``centres``, ``counts``,
        ``mean`` (mean residual) and ``robust_width``.

    >>> truth = np.linspace(0.0, 1.0, 1001)
    >>> profile = residual_profile(truth, 2.0 * truth, bins=4, quantile_range=(0.0, 1.0))
    >>> profile["counts"], [round(m, 2) for m in profile["mean"]]
    ([250, 250, 250, 251], [0.25, 0.75, 1.25, 1.75])
    """
    truth = finite_vector("truth", truth)
    residual = same_shape("residual", residual, "truth", truth)
    edges = binning.equal_width_edges(truth, bins, quantile_range, name="truth")
    frame = binned_residuals(truth, residual, edges, min_count=max(min_entries, 1))
    return {
        "edges": edges.tolist(),
        "bin_index": frame.index.tolist(),
        "centres": frame["centre"].tolist(),
        "counts": frame["count"].tolist(),
        "mean": frame["bias"].tolist(),
        "robust_width": frame["robust_width"].tolist(),
    }


def _one_target_metrics(
    residual: np.ndarray, pull: np.ndarray, sigma: np.ndarray, unit: str
) -> dict:
    return {
        **residual_statistics(residual),
        "unit": unit,
        "pull_mean": float(np.mean(pull)),
        "pull_std": float(np.std(pull)),
        "pull_robust_width": robust_width(pull),
        "mean_predicted_sigma": float(np.mean(sigma)),
        "coverage_1sigma": float(np.mean(np.abs(pull) < 1.0)),
        "n": int(residual.size),
    }


def _predicted_sigmas(cov: np.ndarray) -> np.ndarray:
    return np.sqrt(np.diagonal(cov, axis1=1, axis2=2))


def _require_positive_variances(cov: np.ndarray) -> None:
    variances = np.diagonal(cov, axis1=1, axis2=2)
    bad = variances <= 0
    if bad.any():
        cluster, target = np.argwhere(bad)[0].tolist()
        raise EvaluationError(
            f"cov has {int(bad.sum())} non-positive variances on its diagonal "
            f"(first: cluster {cluster}, target {target}); variances must be > 0"
        )


def _symmetrised(cov: np.ndarray) -> np.ndarray:
    transposed = np.swapaxes(cov, 1, 2)
    sigmas = _predicted_sigmas(cov)
    scale = sigmas[:, :, None] * sigmas[:, None, :]
    asymmetric = np.abs(cov - transposed) > SYMMETRY_RTOL * scale
    if asymmetric.any():
        cluster = int(np.argwhere(asymmetric)[0][0])
        raise EvaluationError(
            f"cov is not symmetric for {int(asymmetric.any(axis=(1, 2)).sum())} clusters "
            f"(first: cluster {cluster}); covariance matrices must be symmetric"
        )
    return (cov + transposed) / 2.0


def _require_positive_definite(cov: np.ndarray) -> None:
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        # Cholesky only says that some matrix failed: find which, for the message.
        bad = np.linalg.eigvalsh(cov).min(axis=1) <= 0
        first = int(np.argmax(bad)) if bad.any() else -1
        raise EvaluationError(
            f"cov is not positive definite for {max(int(bad.sum()), 1)} clusters "
            f"(first: cluster {first}); covariance matrices must be positive definite"
        ) from None
