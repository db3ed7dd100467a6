"""The public smart-pixels parquet layout, shared by the simulator and the reader.

One row per cluster. Pixel charge (electrons, float32) is in the columns named
``"0"`` … ``"5459"``: 20 time slices x 13 rows x 21 columns flattened in (t, row,
col) order, so slice ``t`` is columns ``t*273`` … ``t*273+272`` and the pixel at
(row r, column c) of slice t is column ``t*273 + r*21 + c``. Slice t holds the
charge collected from the start of the event up to the end of slice t
(cumulative), so the last slice is the full cluster.

Labels in the same file (``parts`` layout) or in ``labels*.parquet`` (``recon3d``
layout). The regression targets, in this order:

- ``x-midplane``, ``y-midplane``: where the track crosses the sensor's mid-plane, in
  µm, relative to the centre of the 13x21 window (the centre of pixel (6, 10));
- ``cotAlpha``, ``cotBeta``: direction cotangents, d_x/d_z and d_y/d_z, with z the
  sensor normal.

>>> pixel_columns([0, 19])[:2], pixel_columns([0, 19])[273]
(['0', '1'], '5187')
>>> sorted(["part.10.parquet", "part.2.parquet"], key=natural_sort_key)
['part.2.parquet', 'part.10.parquet']
"""

import re
from pathlib import Path

from smartml.tasks.smart_pixels.schema import N_COLUMNS, N_ROWS, N_TIME_SLICES

PIXELS_PER_SLICE = N_ROWS * N_COLUMNS
N_PIXEL_COLUMNS = N_TIME_SLICES * PIXELS_PER_SLICE
TARGETS = ("x-midplane", "y-midplane", "cotAlpha", "cotBeta")
TARGET_UNITS = ("µm", "µm", "", "")
TARGET_LABELS = ("x", "y", "cotα", "cotβ")  # in tables and figures
# Further truth columns of the public dataset, written by the simulator for analysis.
EXTRA_LABELS = (
    "x-entry",  # µm, track entry point on the sensor's back face (z = 0)
    "y-entry",
    "z-entry",
    "n_x",  # unit direction vector of the track in local coordinates
    "n_y",
    "n_z",
    "number_eh_pairs",  # electron-hole pairs created (before threshold)
    "y-local",  # µm, position of the window centre along the module (bending plane)
    "pt",  # GeV, signed with the particle's charge
)


def pixel_columns(time_slices: list[int]) -> list[str]:
    """Names of the pixel columns of the selected time slices, in (t, row, col) order."""
    return [str(t * PIXELS_PER_SLICE + i) for t in time_slices for i in range(PIXELS_PER_SLICE)]


def natural_sort_key(path: str | Path) -> list:
    """Sort key that orders embedded numbers by value (part.2 before part.10)."""
    name = Path(path).name
    return [int(piece) if piece.isdigit() else piece for piece in re.split(r"(\d+)", name)]
