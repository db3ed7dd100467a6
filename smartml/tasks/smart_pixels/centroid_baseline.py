"""The classic position estimate: the charge-weighted centroid of a cluster.

A smart-pixel network has to beat what the detector already does: take the
charge-weighted mean of the pixel positions, then correct it with a linear
calibration fitted on simulation. Along y (the bending direction) the drifting
charge is deflected by the magnetic field (Lorentz drift), so the raw y centroid
is shifted by tens of µm; along both axes charge sharing and thresholds compress
the centroid towards pixel centres, which the slope partly corrects.

Coordinates follow :mod:`smartml.tasks.smart_pixels.layout`: rows run along x (pitch
``pitch_x_um``), columns along y (pitch ``pitch_y_um``), and positions are in µm
relative to the centre of the window, the centre of pixel
(``n_rows // 2``, ``n_columns // 2``), i.e. pixel (6, 10) of the 13x21 window.

>>> import numpy as np
>>> cluster = np.zeros((1, 13, 21))
>>> cluster[0, 6, 10] = cluster[0, 6, 11] = 1000.0  # charge shared by two columns
>>> charge_centroid(cluster, pitch_x_um=50.0, pitch_y_um=12.5)
array([[0.  , 6.25]])
"""

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np


def charge_centroid(pixels: np.ndarray, pitch_x_um: float, pitch_y_um: float) -> np.ndarray:
    """Charge-weighted centroid of each cluster, in µm from the window centre.

    Args:
        pixels: (n, n_rows, n_columns) collected charge (electrons) of the final,
            complete time slice; finite and non-negative.
        pitch_x_um: pixel size along the rows (x), µm.
        pitch_y_um: pixel size along the columns (y), µm.

    Returns:
        (n, 2) centroid (x, y) in µm. Clusters without charge (every pixel below
        threshold) have no position: their row is NaN.
    """
    pixels = _checked_pixels(pixels)
    _check_pitch("pitch_x_um", pitch_x_um)
    _check_pitch("pitch_y_um", pitch_y_um)
    _, n_rows, n_columns = pixels.shape
    x_of_row = (np.arange(n_rows) - n_rows // 2) * float(pitch_x_um)
    y_of_column = (np.arange(n_columns) - n_columns // 2) * float(pitch_y_um)
    total = pixels.sum(axis=(1, 2))
    weighted = np.stack([pixels.sum(axis=2) @ x_of_row, pixels.sum(axis=1) @ y_of_column], axis=1)
    # Divide only where there is charge: 0/0 would warn, and warnings are errors in CI.
    centroid = np.full_like(weighted, np.nan)
    np.divide(weighted, total[:, None], out=centroid, where=total[:, None] > 0)
    return centroid


@dataclass(frozen=True)
class CentroidBaseline:
    """Charge centroid with a per-axis linear calibration ``a + b * centroid``.

    Fit it on the training split with :meth:`fit`, then :meth:`predict` on the
    test clusters that the network is evaluated on.

    Attributes:
        pitch_x_um, pitch_y_um: pixel pitches used for the centroid, µm.
        offset_x_um, offset_y_um: calibration offsets ``a``, µm.
        slope_x, slope_y: calibration slopes ``b`` (dimensionless).
        n_fit_clusters: clusters with charge used by the fit.

    >>> cluster = np.zeros((1, 13, 21))
    >>> cluster[0, 7, 10] = 500.0
    >>> baseline = CentroidBaseline(50.0, 12.5, offset_x_um=1.0, offset_y_um=-20.0,
    ...                             slope_x=1.0, slope_y=1.0, n_fit_clusters=0)
    >>> baseline.predict(cluster)
    array([[ 51., -20.]])
    >>> CentroidBaseline.from_dict(baseline.to_dict()) == baseline
    True
    """

    pitch_x_um: float
    pitch_y_um: float
    offset_x_um: float
    offset_y_um: float
    slope_x: float
    slope_y: float
    n_fit_clusters: int

    @classmethod
    def fit(
        cls, pixels: np.ndarray, positions: np.ndarray, pitch_x_um: float, pitch_y_um: float
    ) -> "CentroidBaseline":
        """Least-squares fit of ``position = a + b * centroid`` on each axis.

        Args:
            pixels: (n, n_rows, n_columns) final-slice charge of the training split.
            positions: (n, 2) true (x, y) positions in µm, e.g. the
                ``x-midplane`` and ``y-midplane`` labels; finite.
            pitch_x_um, pitch_y_um: pixel pitches, µm.

        Returns:
            The calibrated baseline. Clusters without charge are ignored.

        Raises:
            ValueError: mismatched shapes, non-finite positions, fewer than two
                clusters with charge, or a centroid without spread on an axis.
        """
        centroid = charge_centroid(pixels, pitch_x_um, pitch_y_um)
        positions = np.asarray(positions, dtype=np.float64)
        if positions.shape != centroid.shape:
            raise ValueError(
                f"positions must have shape (n, 2) = {centroid.shape} to match pixels, "
                f"got {positions.shape}"
            )
        if not np.isfinite(positions).all():
            raise ValueError("positions contains NaN or inf; true positions must be finite")
        usable = np.isfinite(centroid).all(axis=1)
        if usable.sum() < 2:
            raise ValueError(
                f"pixels has {int(usable.sum())} clusters with charge out of {len(usable)}; "
                "the centroid calibration needs at least 2"
            )
        (offset_x, slope_x), (offset_y, slope_y) = (
            _linear_fit(centroid[usable, axis], positions[usable, axis], axis_name)
            for axis, axis_name in enumerate("xy")
        )
        return cls(
            pitch_x_um=float(pitch_x_um),
            pitch_y_um=float(pitch_y_um),
            offset_x_um=offset_x,
            offset_y_um=offset_y,
            slope_x=slope_x,
            slope_y=slope_y,
            n_fit_clusters=int(usable.sum()),
        )

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        """Calibrated (x, y) positions in µm, (n, 2); NaN rows for clusters without charge."""
        centroid = charge_centroid(pixels, self.pitch_x_um, self.pitch_y_um)
        offsets = np.array([self.offset_x_um, self.offset_y_um])
        slopes = np.array([self.slope_x, self.slope_y])
        return offsets + slopes * centroid

    def to_dict(self) -> dict:
        """JSON-safe dict of the fitted parameters (plain floats and an int)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "CentroidBaseline":
        """Rebuild a baseline from :meth:`to_dict` output.

        Raises:
            ValueError: a missing, unknown or non-numeric key, named in the message.
        """
        expected = {field.name for field in fields(cls)}
        missing, unknown = expected - set(values), set(values) - expected
        if missing or unknown:
            raise ValueError(
                f"centroid baseline dict: missing keys {sorted(missing)}, "
                f"unknown keys {sorted(unknown)}; expected {sorted(expected)}"
            )
        converted: dict[str, Any] = {}
        for key in expected:
            try:
                converted[key] = int(values[key]) if key == "n_fit_clusters" else float(values[key])
            except (TypeError, ValueError):
                raise ValueError(
                    f"centroid baseline dict: {key!r} must be a number, got {values[key]!r}"
                ) from None
        return cls(**converted)


def _linear_fit(centroid: np.ndarray, position: np.ndarray, axis_name: str) -> tuple[float, float]:
    """Least squares of ``position = a + b * centroid``; returns (a, b)."""
    centroid_spread = np.var(centroid)
    if not centroid_spread > 0:
        raise ValueError(
            f"the {axis_name} centroid has the same value for every cluster; "
            f"cannot fit the {axis_name} calibration"
        )
    slope = np.mean((centroid - centroid.mean()) * (position - position.mean())) / centroid_spread
    offset = position.mean() - slope * centroid.mean()
    return float(offset), float(slope)


def _checked_pixels(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels, dtype=np.float64)
    if pixels.ndim != 3:
        raise ValueError(
            f"pixels must have shape (n, n_rows, n_columns), e.g. (n, 13, 21), got {pixels.shape}"
        )
    if not np.isfinite(pixels).all():
        raise ValueError("pixels contains NaN or inf; pixel charges must be finite")
    if (pixels < 0).any():
        raise ValueError(
            f"pixels contains {int((pixels < 0).sum())} negative charges; "
            "the centroid needs collected charge >= 0"
        )
    return pixels


def _check_pitch(name: str, pitch: float) -> None:
    try:
        valid = bool(np.isfinite(pitch) and pitch > 0)
    except TypeError:
        valid = False
    if not valid:
        raise ValueError(f"{name} must be a positive number of µm, got {pitch!r}")
