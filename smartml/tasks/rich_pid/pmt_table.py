"""The PMT position table: where each of the 1952 PMTs sits on the common plane.

The table is a ``.npy`` file of shape (1952, 3), float32 (float64, numpy's default, is
converted): x mm, y mm, disk (0 Jura, 1 Salève), row
:func:`~smartml.tasks.rich_pid.layout.pmt_row`. Positions are local to
their disk (both disks share one local grid); adding each disk's offset brings the
hits of one ring that fall on both disks onto one circle.

>>> import tempfile
>>> table = np.zeros((N_PMTS, 3), np.float32)
>>> table[PMTS_PER_DISK:, 2] = 1
>>> path = Path(tempfile.mkdtemp()) / "pmt.npy"
>>> np.save(path, table)
>>> load_pmt_table(path, ((1635.0, 0.0), (-1565.0, 0.0))).positions[[0, -1]].tolist()
[[1635.0, 0.0], [-1565.0, 0.0]]
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smartml.errors import DataError, first_line
from smartml.tasks.rich_pid.layout import N_PMTS, PMTS_PER_DISK


@dataclass(frozen=True)
class PmtTable:
    """PMT positions on the common plane.

    Attributes:
        path: the file read.
        positions: (1952, 2) float32, x and y in mm with the disk offsets added.
    """

    path: Path
    positions: np.ndarray


def read_pmt_table(path: str | Path) -> np.ndarray:
    """Read and check a PMT table, disk-local as written.

    Args:
        path: the ``.npy`` file.

    Returns:
        ``(1952, 3)`` float32: x mm, y mm, disk.

    Raises:
        DataError: one line naming the file: unreadable, not (1952, 3) of a float
            dtype, a NaN or inf (also one that float32 cannot hold), or a disk column
            that is not 0 for rows 0–975 and 1 after.
    """
    path = Path(path)
    try:
        raw = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        reason = first_line(error)
        raise DataError(f"{path}: not a readable .npy PMT position table ({reason})") from None
    if raw.shape != (N_PMTS, 3) or raw.dtype.kind != "f":
        raise DataError(
            f"{path}: the PMT position table has shape {raw.shape} and dtype {raw.dtype}, "
            f"expected ({N_PMTS}, 3) float32 or float64 (x mm, y mm, disk)"
        )
    # Checked after the conversion: a float64 beyond float32's range becomes inf.
    with np.errstate(over="ignore"):
        table = raw.astype(np.float32)
    bad = ~np.isfinite(table)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        value = raw[row, column]
        beyond = " (beyond float32's range)" if np.isfinite(value) else ""
        raise DataError(f"{path}: row {row}, column {column} of the PMT table is {value}{beyond}")
    expected_disk = np.arange(N_PMTS) // PMTS_PER_DISK
    wrong = np.flatnonzero(table[:, 2] != expected_disk)
    if len(wrong):
        row = wrong[0]
        raise DataError(
            f"{path}: row {row} of the PMT table has disk {table[row, 2]:g}, expected "
            f"{expected_disk[row]} (rows 0-{PMTS_PER_DISK - 1} are disk 0, the rest disk 1)"
        )
    return table


def load_pmt_table(path: str | Path, disk_offsets_mm: Sequence[Sequence[float]]) -> PmtTable:
    """Read and check a PMT table (:func:`read_pmt_table`), then add each disk's offset.

    Args:
        path: the ``.npy`` file.
        disk_offsets_mm: (x, y) of disk 0 and disk 1, in mm.

    Returns:
        the :class:`PmtTable`.

    Raises:
        DataError: one line naming the file, as :func:`read_pmt_table`.
    """
    table = read_pmt_table(path)
    offsets = np.asarray(disk_offsets_mm, np.float32).reshape(2, 2)
    positions = table[:, :2] + offsets[np.arange(N_PMTS) // PMTS_PER_DISK]
    return PmtTable(Path(path), positions.astype(np.float32))
