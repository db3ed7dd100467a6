"""Built-in NA62 RICH simulator: tracks -> Cherenkov photons -> PMT hits -> ring fit.

Writes events in exactly the layout of NA62's RICH analysis files
(:mod:`smartml.tasks.rich_pid.layout`) and its own PMT position table, so that every
rich_pid configuration has data without a download. Vectorised over events: every
step below is one numpy operation on all events of a file. The numbers are those of
the default :class:`~smartml.tasks.rich_pid.simulation_config.RichSimulationConfig`.

>>> from smartml.tasks.rich_pid.simulation_config import RichSimulationConfig
>>> sample = simulate_events(RichSimulationConfig(), np.array([0, 1, 2]), np.random.default_rng(0))
>>> sample.events.dtype == EVENT_DTYPE, sample.hit_mapping.shape, sample.hits.dtype == HIT_DTYPE
(True, (4,), True)
>>> pmt_positions().shape, pmt_positions().dtype
((1952, 3), dtype('float32'))

Tracks
------
- Class per event from the μ:π:e⁺ mixture (a multinomial count per file), the file's
  events sorted muons, pions, positrons (the offsets say where each class starts).
- Momentum in [15, 45) GeV/c: ``dN/dp ∝ exp(-p / 25 GeV/c)`` by inverse CDF (decay
  products of the 75 GeV/c kaon beam fall with momentum), or flat.
- Track (CHOD) time uniform in [0, 100) ns; the ring's time is the track time plus a
  Gaussian of 0.1 ns (the RICH-CHOD time resolution).

Cherenkov ring (neon, :mod:`smartml.tasks.rich_pid.physics`)
-------------------------------------------------------------
- ``β = p / √(p² + m²)``, ``cos θc = 1 / (n β)`` with ``n - 1 = 62.8×10⁻⁶``; the
  mirror (focal length f = 17 m) focuses the cone onto a ring of radius
  ``R = f tan θc`` (190.5 mm for β → 1), whatever the track's position; below
  threshold (π 12.45, μ 9.43 GeV/c) there is no light.
- Photo-electrons: Poisson of mean ``14 · sin²θc / sin²θc(β → 1)`` (the Frank-Tamm
  yield per length is ∝ sin²θc).
- The ring's centre is where the track direction points on the focal plane, ``f·θ``:
  ``(0, 0) + Normal(0, 50 mm)`` per axis (track angles of ≈ 3 mrad).
- Each photon is at a uniform azimuth, at ``R + Normal(0, 2.5 mm)`` from the centre
  (chromatic dispersion and mirror quality); time: ring time + Normal(0, 0.2 ns)
  (PMT and TDC jitter).

Focal plane and disks
---------------------
Two disks of PMTs, Jura (disk 0) and Salève (disk 1), sit behind the two halves of
the mirror. In the simulator's global focal-plane frame (X, Y) every ring is a
circle; a photon at ``X >= 0`` is reflected by the Jura half onto disk 0, one at
``X < 0`` by the Salève half onto disk 1, so a ring crossing ``X = 0`` lands on both
disks. Disk-local positions are ``(X, Y) - disk_offsets_mm[disk]`` (defaults
(150, 0) mm for Jura, (-150, 0) mm for Salève): a reader adds the offset of each hit's
disk to the table position to put the ring back together.

Each disk holds 976 PMTs on a hexagonal grid of 18 mm pitch, rows 15.59 mm apart
(``18 · √3/2``) at ``y = (k + ½) · 15.59 mm``, odd rows shifted by 9 mm in x: the 488
grid points nearest the disk centre with ``y > 0`` (updown 0) and the 488 with
``y < 0`` (updown 1), ties broken by (y, x); |x|, |y| ≤ 295 mm. Within a half, PMTs in
reading order (row by row from the centre outwards, x increasing) form supercells of 8
consecutive PMTs (61 per half), pmt = 0..7 in that order. A photon fires the PMT of
the hexagonal cell it falls in (the nearest grid point, as Winston cones collect all
light of a cell); a photon outside its disk's grid is lost. Every photo-electron is
a hit, so a PMT may have two hits in an event (NA62's TDCs record several).

A given PMT table (``data.pmt_positions``, e.g. NA62's real one; :func:`table_layout`)
replaces the grid: a photon fires the table's nearest PMT of its disk if one lies within
``pitch/√3`` (the pitch being the table's median nearest-neighbour distance), the hit
ids are that PMT's row, the dataset's table is that table, and its sha256 enters the
cache key.

Noise
-----
Poisson(6) noise hits per event on PMTs drawn uniformly among all 1952, at times
uniform within ± 10 ns of the track time: on average 6 · 0.5/10 = 0.3 of them fall
within ±0.5 ns (in-time noise), the rest are out of time. Hits of an event are
written in time order.

Reconstruction written into Events
----------------------------------
As NA62's reconstruction does, ``Events.ring_radius`` and ``ring_centre_pos`` are
a ring fit (:func:`smartml.tasks.rich_pid.ring_fit.fit_circles`, Taubin fit with
outlier rejection) of the in-time hits, ``|hit_time - chod_time| < 0.5 ns``, in
focal-plane coordinates (table position + disk offset). An event with fewer than 3
in-time hits gets radius 0 and centre (0, 0). ``ring_likelihood`` holds, for
π, μ, e⁺, the Gaussian likelihood ``exp(-½ ((R_fit - R_h(p)) / σ)²)`` of the fitted
radius given each hypothesis' radius ``R_h(p)`` at the track momentum, with ``R_fit
= 0`` when there is no fit and ``σ² = σ_hit² / max(n_used, 1) + (1 mm)²``, ``σ_hit² =
hit_radius_smearing² + 22.5 mm²`` (the second variance is that of a point uniform
over one hexagonal cell, per axis: ``5 s²/24`` with side ``s = 18/√3 mm``). Values
are in [0, 1], never NaN.

Ids: ``run_id`` from the config, ``burst_id`` = file index, ``event_id`` = the event's
index in the whole dataset, ``track_id`` = 0.

What it leaves out: the beam pipe hole, mirror segmentation and its gaps, spherical
aberration (rings are exact circles), PMT dead time and cross-talk, δ rays, multiple
tracks per event and the momentum dependence of the track-angle spread.

Files
-----
:func:`write_dataset` writes ``events.<i>.h5`` (``events_per_file`` events each, the
last the rest; file ``i`` drawn from ``SeedSequence(seed).spawn(n_files)[i]``), the
PMT table ``rich_pmt_positions.npy`` and a ``simulation.json`` manifest into a hidden
directory renamed into place at the end; :func:`simulate_cached` keeps one dataset
per settings under ``cache_root(None, "simulated") / "richsim-<12 hex>"``.
"""

import functools
import hashlib
import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from scipy.spatial import cKDTree

from smartml import __version__
from smartml.console import progress
from smartml.data.cache import GeneratorCache
from smartml.errors import DataError
from smartml.tasks.rich_pid import physics
from smartml.tasks.rich_pid.layout import (
    EVENT_DTYPE,
    EVENTS,
    HIT_DTYPE,
    HIT_MAPPING,
    HITS,
    MUON,
    N_PMTS,
    OFFSET_ATTRIBUTES,
    PION,
    PMTS_PER_DISK,
    PMTS_PER_HALF_DISK,
    PMTS_PER_SUPERCELL,
    POSITRON,
    pmt_row,
)
from smartml.tasks.rich_pid.pmt_table import read_pmt_table
from smartml.tasks.rich_pid.ring_fit import fit_circles
from smartml.tasks.rich_pid.simulation_config import RichSimulationConfig

log = logging.getLogger(__name__)

# Bump when the physics or the file format changes: it is part of the cache key.
SIMULATOR_VERSION = 1
CACHE_PREFIX = "richsim"
MANIFEST_NAME = "simulation.json"
PMT_TABLE_NAME = "rich_pmt_positions.npy"
EVENT_FILE_PATTERN = "events.{index}.h5"
CACHE = GeneratorCache(
    identity={"format": "smartml-rich-simulation", "simulator_version": SIMULATOR_VERSION},
    prefix=CACHE_PREFIX,
    kind="simulated",
    what="the simulated RICH dataset",
    manifest_name=MANIFEST_NAME,
    owned_files="|".join([r"events\.\d+\.h5", re.escape(PMT_TABLE_NAME), re.escape(MANIFEST_NAME)]),
)

PMT_PITCH_MM = 18.0
PMT_ROW_SPACING_MM = PMT_PITCH_MM * math.sqrt(3.0) / 2.0
LIKELIHOOD_RADIUS_FLOOR_MM = 1.0
# Grid rows and columns searched for the disk (|y| and |x| up to ~340 mm).
_GRID_ROWS = range(-22, 22)
_GRID_COLUMNS = range(-19, 20)
# Hit chunks compressed with LZF: fast, and built into every h5py.
_CHUNK_ROWS = 65_536
MASSES = np.array([physics.MUON_MASS, physics.PION_MASS, physics.POSITRON_MASS])
CLASS_ORDER = (MUON, PION, POSITRON)


@dataclass(frozen=True)
class PmtGrid:
    """One disk's hexagonal PMT grid.

    Attributes:
        positions: ``(976, 2)`` float64 disk-local (x, y) mm of local index
            ``updown*488 + supercell*8 + pmt`` (the table row within a disk).
        lookup: ``(rows, columns)`` int64, the local index of grid point (row k,
            column j) offset by ``row_start``, ``column_start``; -1 off the disk.
        row_start, column_start: the lowest k and j of ``lookup``.
    """

    positions: np.ndarray
    lookup: np.ndarray
    row_start: int
    column_start: int


def _lattice_x(row, column):
    """x (mm) of grid point (row k, column j): odd rows are shifted by half a pitch."""
    return PMT_PITCH_MM * (np.asarray(column) + 0.5 * (np.asarray(row) % 2))


def _lattice_y(row):
    return PMT_ROW_SPACING_MM * (np.asarray(row) + 0.5)


def _half_disk(rows, columns, upper: bool) -> np.ndarray:
    """Indices into the flat candidate lists of the 488 points of one half, in
    reading order (row by row from the centre outwards, x increasing)."""
    x, y = _lattice_x(rows, columns), _lattice_y(rows)
    candidates = np.flatnonzero(y > 0 if upper else y < 0)
    nearest = np.lexsort((x[candidates], y[candidates], x[candidates] ** 2 + y[candidates] ** 2))
    chosen = candidates[nearest[:PMTS_PER_HALF_DISK]]
    return chosen[np.lexsort((x[chosen], np.abs(y[chosen])))]


@functools.cache
def pmt_grid() -> PmtGrid:
    """The hexagonal grid of one disk (module docstring), built once."""
    rows, columns = np.meshgrid(np.array(_GRID_ROWS), np.array(_GRID_COLUMNS), indexing="ij")
    rows, columns = rows.ravel(), columns.ravel()
    order = np.concatenate([_half_disk(rows, columns, upper) for upper in (True, False)])
    row_start, column_start = _GRID_ROWS.start, _GRID_COLUMNS.start
    lookup = np.full((len(_GRID_ROWS), len(_GRID_COLUMNS)), -1, dtype=np.int64)
    lookup[rows[order] - row_start, columns[order] - column_start] = np.arange(len(order))
    positions = np.stack([_lattice_x(rows[order], columns[order]), _lattice_y(rows[order])], 1)
    return PmtGrid(positions, lookup, row_start, column_start)


def pmt_positions() -> np.ndarray:
    """The PMT position table, ``(1952, 3)`` float32: disk-local x, y (mm) and disk,
    row ``pmt_row(disk, updown, supercell, pmt)``; both disks share the local grid."""
    local = pmt_grid().positions
    disks = [np.column_stack([local, np.full(len(local), disk)]) for disk in (0, 1)]
    return np.concatenate(disks).astype(np.float32)


def nearest_pmt(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Local index (0..975) of the PMT cell holding each disk-local point, -1 if the
    point is off the disk.

    The nearest grid point lies in one of the two grid rows around the point: any
    other row is at least a row spacing (15.6 mm) away in y, further than the
    farthest a point of a hexagonal cell can be from its centre (10.4 mm).

    >>> grid = pmt_grid()
    >>> int(nearest_pmt(grid.positions[5:6, 0] + 3.0, grid.positions[5:6, 1] - 4.0)[0])
    5
    >>> int(nearest_pmt(np.array([400.0]), np.array([0.0]))[0])
    -1
    """
    grid = pmt_grid()
    below = np.floor(np.asarray(y) / PMT_ROW_SPACING_MM - 0.5).astype(np.int64)
    best_index = np.full(below.shape, -1, dtype=np.int64)
    best_distance = np.full(below.shape, np.inf)
    for row in (below, below + 1):
        column = np.rint(np.asarray(x) / PMT_PITCH_MM - 0.5 * (row % 2)).astype(np.int64)
        distance = np.hypot(x - _lattice_x(row, column), y - _lattice_y(row))
        closer = distance < best_distance
        best_distance = np.where(closer, distance, best_distance)
        best_index = np.where(closer, _grid_index(grid, row, column), best_index)
    return best_index


def _grid_index(grid: PmtGrid, row, column) -> np.ndarray:
    """``grid.lookup`` at (row, column), -1 outside the lookup table."""
    i, j = row - grid.row_start, column - grid.column_start
    inside = (i >= 0) & (i < grid.lookup.shape[0]) & (j >= 0) & (j < grid.lookup.shape[1])
    return np.where(inside, grid.lookup[np.where(inside, i, 0), np.where(inside, j, 0)], -1)


@dataclass(frozen=True)
class PmtLayout:
    """The PMTs photons land on: the built-in grid or a given table
    (``data.pmt_positions``, e.g. NA62's real one).

    Attributes:
        table: ``(1952, 3)`` float32 disk-local x, y (mm) and disk, written as the
            dataset's PMT table.
        trees: per disk, a k-d tree of its 976 positions; None for the built-in grid,
            whose lattice lookup (:func:`nearest_pmt`) is exact and faster.
        pitch_mm: distance between neighbouring PMTs; a photon further than
            ``pitch/√3`` (a hexagonal cell's circumradius) from every PMT is lost.
        sha256: of the given table's float32 bytes (part of the cache key); None for
            the built-in grid, whose content the simulator version fixes.
    """

    table: np.ndarray
    trees: tuple[cKDTree, cKDTree] | None = None
    pitch_mm: float = PMT_PITCH_MM
    sha256: str | None = None

    @property
    def cell_variance_mm2(self) -> float:
        """Variance per axis of a point uniform over one hexagonal cell: 5 s²/24."""
        return 5.0 * (self.pitch_mm / math.sqrt(3.0)) ** 2 / 24.0

    def rows(self, disk: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Table row of the PMT cell holding each disk-local point, -1 if none does."""
        if self.trees is None:
            local = nearest_pmt(x, y)
            return np.where(local >= 0, local + disk * PMTS_PER_DISK, -1)
        rows = np.full(len(disk), -1, dtype=np.int64)
        reach = self.pitch_mm / math.sqrt(3.0)
        for index, tree in enumerate(self.trees):
            on_disk = np.flatnonzero(disk == index)
            points = np.column_stack([x[on_disk], y[on_disk]])
            _, nearest = tree.query(points, distance_upper_bound=reach)
            found = nearest < PMTS_PER_DISK  # the tree answers n when none is in reach
            rows[on_disk[found]] = nearest[found] + index * PMTS_PER_DISK
        return rows


@functools.cache
def builtin_layout() -> PmtLayout:
    """The built-in hexagonal grid (module docstring)."""
    return PmtLayout(pmt_positions())


def table_layout(path: str | Path) -> PmtLayout:
    """The layout of a PMT table file (``data.pmt_positions``).

    Args:
        path: the ``.npy`` table (:func:`~smartml.tasks.rich_pid.pmt_table.read_pmt_table`).

    Returns:
        Its :class:`PmtLayout`; the pitch is the median nearest-neighbour distance.

    Raises:
        DataError: one line naming the file: as ``read_pmt_table``, or two PMTs of a
            disk at one position (a photon there could fire either).
    """
    table = read_pmt_table(path)
    trees, neighbour_distances = [], []
    for disk in (0, 1):
        local = table[disk * PMTS_PER_DISK : (disk + 1) * PMTS_PER_DISK, :2].astype(np.float64)
        tree = cKDTree(local)
        distance, neighbour = tree.query(local, k=2)
        same = np.flatnonzero(distance[:, 1] == 0.0)
        if len(same):
            first, second = sorted((same[0], neighbour[same[0], 1]))
            raise DataError(
                f"data.pmt_positions: {path}: rows {first + disk * PMTS_PER_DISK} and "
                f"{second + disk * PMTS_PER_DISK} of the PMT table are at one position on "
                f"disk {disk}; the simulator cannot tell which PMT a photon there fires"
            )
        trees.append(tree)
        neighbour_distances.append(distance[:, 1])
    pitch = float(np.median(np.concatenate(neighbour_distances)))
    digest = hashlib.sha256(np.ascontiguousarray(table, "<f4").tobytes()).hexdigest()
    return PmtLayout(table, (trees[0], trees[1]), pitch, digest)


@dataclass(frozen=True)
class SimulatedEvents:
    """Events of one file in the layout's arrays: ``events`` (EVENT_DTYPE), ``hits``
    (HIT_DTYPE, event by event) and ``hit_mapping`` (int64, entries + 1)."""

    events: np.ndarray
    hits: np.ndarray
    hit_mapping: np.ndarray


def sample_momenta(config: RichSimulationConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """Track momenta (GeV/c) from the configured spectrum, by inverse CDF.

    >>> from smartml.tasks.rich_pid.simulation_config import RichSimulationConfig
    >>> p = sample_momenta(RichSimulationConfig(), 1000, np.random.default_rng(0))
    >>> bool(p.min() >= 15 and p.max() < 45 and np.mean(p < 30) > 0.5)
    True
    """
    low, high = config.momentum_min_gev, config.momentum_max_gev
    u = rng.random(n)
    if config.momentum_spectrum == "flat":
        return low + (high - low) * u
    scale = config.momentum_scale_gev
    # Truncated exponential: F(p) = (1 - exp(-(p-low)/s)) / (1 - exp(-(high-low)/s)).
    return low - scale * np.log1p(-u * -np.expm1(-(high - low) / scale))


def _photons(config: RichSimulationConfig, momentum, mass, centre, ring_time, rng):
    """Event index, focal-plane (X, Y) and time of every photo-electron."""
    saturated = physics.sin2_cherenkov_angle(1.0, 0.0)  # β = 1
    mean = config.photoelectrons_at_saturation * physics.sin2_cherenkov_angle(momentum, mass)
    counts = rng.poisson(mean / saturated)
    event = np.repeat(np.arange(len(momentum)), counts)
    radius = physics.ring_radius(momentum, mass)[event]
    radius = radius + config.hit_radius_smearing_mm * rng.standard_normal(len(event))
    azimuth = rng.uniform(0.0, 2.0 * np.pi, len(event))
    x = centre[event, 0] + radius * np.cos(azimuth)
    y = centre[event, 1] + radius * np.sin(azimuth)
    times = ring_time[event] + config.hit_time_jitter_ns * rng.standard_normal(len(event))
    return event, x, y, times


def _detect(config: RichSimulationConfig, layout: PmtLayout, event, x, y, times):
    """Photons that fire a PMT: their event, table row and time (module docstring)."""
    disk = np.where(x >= 0.0, 0, 1)
    offsets = np.asarray(config.disk_offsets_mm, dtype=np.float64)
    rows = layout.rows(disk, x - offsets[disk, 0], y - offsets[disk, 1])
    seen = rows >= 0
    return event[seen], rows[seen], times[seen]


def _noise(config: RichSimulationConfig, chod_time, rng):
    """Event index, table row and time of every noise hit."""
    counts = rng.poisson(config.noise_hits_mean, len(chod_time))
    event = np.repeat(np.arange(len(chod_time)), counts)
    rows = rng.integers(0, N_PMTS, len(event))
    window = config.noise_time_window_ns
    return event, rows, chod_time[event] + rng.uniform(-window, window, len(event))


def _hit_records(rows: np.ndarray, times: np.ndarray) -> np.ndarray:
    """HIT_DTYPE records of hits given by table row and time."""
    hits = np.empty(len(rows), dtype=HIT_DTYPE)
    within_disk = rows % PMTS_PER_DISK
    hits["disk_id"] = rows // PMTS_PER_DISK
    hits["updowndisk_id"] = within_disk // PMTS_PER_HALF_DISK
    hits["supercell_id"] = (within_disk % PMTS_PER_HALF_DISK) // PMTS_PER_SUPERCELL
    hits["pmt_id"] = within_disk % PMTS_PER_SUPERCELL
    hits["hit_time"] = times
    return hits


def focal_plane_positions(
    rows: np.ndarray, disk_offsets_mm, layout: PmtLayout | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Focal-plane (X, Y) of hits given by table row: table position (of ``layout``,
    default the built-in grid) + disk offset.

    >>> x, y = focal_plane_positions(np.array([0, 976]), ((150.0, 0.0), (-150.0, 0.0)))
    >>> float(x[0] - x[1]), float(y[0] - y[1])
    (300.0, 0.0)
    """
    table = (layout or builtin_layout()).table.astype(np.float64)
    offsets = np.asarray(disk_offsets_mm, dtype=np.float64)[rows // PMTS_PER_DISK]
    return table[rows, 0] + offsets[:, 0], table[rows, 1] + offsets[:, 1]


def _padded(event: np.ndarray, values: list[np.ndarray], n_events: int):
    """Per-event padded ``(n_events, max hits)`` copies of ``values`` (hits sorted by
    event) and their mask."""
    counts = np.bincount(event, minlength=n_events)
    width = max(int(counts.max(initial=0)), 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(event)) - starts[event]
    mask = np.zeros((n_events, width), dtype=bool)
    mask[event, slot] = True
    padded = []
    for value in values:
        array = np.zeros((n_events, width))
        array[event, slot] = value
        padded.append(array)
    return padded, mask


def ring_likelihoods(
    config: RichSimulationConfig, momentum, radius, n_used, cell_variance_mm2: float
) -> np.ndarray:
    """``(n, 3)`` Gaussian likelihoods of the fitted radius for π, μ, e⁺ (module
    docstring); ``radius`` is 0 for events without a fit, ``cell_variance_mm2`` that
    of the PMT layout's cells."""
    hit_variance = config.hit_radius_smearing_mm**2 + cell_variance_mm2
    sigma = np.sqrt(hit_variance / np.maximum(n_used, 1) + LIKELIHOOD_RADIUS_FLOOR_MM**2)
    hypotheses = (physics.PION_MASS, physics.MUON_MASS, physics.POSITRON_MASS)
    expected = np.stack([physics.ring_radius(momentum, mass) for mass in hypotheses], 1)
    return np.exp(-0.5 * ((radius[:, None] - expected) / sigma[:, None]) ** 2)


def in_time_hits(
    config: RichSimulationConfig,
    events: np.ndarray,
    hits: np.ndarray,
    hit_mapping: np.ndarray,
    layout: PmtLayout | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Focal-plane positions of the hits the reconstruction fits, padded per event.

    Args:
        config: gives the time window and the disk offsets.
        events, hits, hit_mapping: one file's arrays (the layout's dtypes).
        layout: the PMTs the hits are on (default the built-in grid).

    Returns:
        ``(x, y, mask)``, each ``(n_events, most in-time hits)``: the hits with
        ``|hit_time - chod_time| < reconstruction_time_window_ns``.
    """
    hit_event = np.repeat(np.arange(len(events)), np.diff(hit_mapping))
    chod = events["chod_time"][hit_event]
    in_time = np.abs(hits["hit_time"] - chod) < config.reconstruction_time_window_ns
    selected = hits[in_time]
    rows = pmt_row(
        selected["disk_id"], selected["updowndisk_id"], selected["supercell_id"], selected["pmt_id"]
    )
    x, y = focal_plane_positions(rows, config.disk_offsets_mm, layout)
    (x, y), mask = _padded(hit_event[in_time], [x, y], len(events))
    return x, y, mask


def _reconstruct(
    config: RichSimulationConfig, layout: PmtLayout, events: np.ndarray, hits, hit_mapping
) -> None:
    """Fill the ring fit and likelihood of ``events`` from their in-time hits."""
    fit = fit_circles(*in_time_hits(config, events, hits, hit_mapping, layout))
    events["ring_radius"] = fit.radius
    events["ring_centre_pos"] = np.column_stack([fit.centre_x, fit.centre_y])
    momentum = events["track_momentum"].astype(np.float64)
    events["ring_likelihood"] = ring_likelihoods(
        config, momentum, fit.radius, fit.n_used, layout.cell_variance_mm2
    )


def simulate_events(
    config: RichSimulationConfig,
    labels: np.ndarray,
    rng: np.random.Generator,
    layout: PmtLayout | None = None,
) -> SimulatedEvents:
    """Simulate one event per label (0 μ, 1 π, 2 e⁺), in the given order.

    Args:
        config: the simulation settings.
        labels: ``(n,)`` class of each event.
        rng: the random stream.
        layout: the PMTs (default the built-in grid).

    Returns:
        The events (``event_id`` = position in ``labels``), their hits in time order
        per event and the hit mapping.
    """
    layout = layout or builtin_layout()
    n = len(labels)
    momentum = sample_momenta(config, n, rng)
    mass = MASSES[labels]
    centre = np.asarray(config.ring_centre_mean_mm) + config.ring_centre_spread_mm * (
        rng.standard_normal((n, 2))
    )
    chod_time = rng.uniform(0.0, config.chod_time_range_ns, n)
    ring_time = chod_time + config.ring_time_spread_ns * rng.standard_normal(n)
    ring = _detect(config, layout, *_photons(config, momentum, mass, centre, ring_time, rng))
    noise = _noise(config, chod_time, rng)
    event, rows, times = (np.concatenate(parts) for parts in zip(ring, noise, strict=True))
    times = times.astype(np.float32)
    order = np.lexsort((times, event))
    event, hits = event[order], _hit_records(rows[order], times[order])
    events = np.zeros(n, dtype=EVENT_DTYPE)
    events["run_id"] = config.run_id
    events["event_id"] = np.arange(n)
    events["track_momentum"] = momentum
    events["chod_time"] = chod_time
    mapping = np.concatenate([[0], np.cumsum(np.bincount(event, minlength=n))]).astype(np.int64)
    _reconstruct(config, layout, events, hits, mapping)
    return SimulatedEvents(events, hits, mapping)


def _file_sizes(config: RichSimulationConfig) -> list[int]:
    full, rest = divmod(config.n_events, config.events_per_file)
    return [config.events_per_file] * full + ([rest] if rest else [])


def _sorted_labels(config: RichSimulationConfig, n: int, rng: np.random.Generator):
    """Labels of a file's events, sorted μ, π, e⁺, from a multinomial draw."""
    mixture = config.mixture
    fractions = np.array([mixture.muon, mixture.pion, mixture.positron])
    counts = rng.multinomial(n, fractions / fractions.sum())
    return np.repeat(np.array(CLASS_ORDER), counts), counts


def _dataset(handle: h5py.File, name: str, data: np.ndarray) -> None:
    chunk = (max(1, min(len(data), _CHUNK_ROWS)),)
    handle.create_dataset(name, data=data, chunks=chunk, compression="lzf")


def write_event_file(path: Path, sample: SimulatedEvents, class_counts: np.ndarray) -> None:
    """Write one ``.h5`` file of the NA62 layout (root attributes, Events, Hits,
    HitMapping); ``class_counts`` are the numbers of μ, π, e⁺ (events sorted so)."""
    starts = np.concatenate([[0], np.cumsum(class_counts)[:-1]])
    with h5py.File(path, "w") as handle:
        handle.attrs["entries"] = np.int64(len(sample.events))
        for name, start in zip(OFFSET_ATTRIBUTES, starts, strict=True):
            handle.attrs[name] = np.int64(start)
        handle.attrs["data_version"] = f"smartml-richsim-{SIMULATOR_VERSION}"
        handle.attrs["description"] = "simulated by smartml.tasks.rich_pid.simulator"
        _dataset(handle, EVENTS, sample.events)
        _dataset(handle, HITS, sample.hits)
        _dataset(handle, HIT_MAPPING, sample.hit_mapping)


def _simulate_into(config: RichSimulationConfig, layout: PmtLayout, directory: Path) -> dict:
    """Write the event files and the layout's PMT table into ``directory``; return the
    manifest's details."""
    log.info("simulating %d RICH events (seed %d) into %s", config.n_events, config.seed, directory)
    started = time.perf_counter()
    np.save(directory / PMT_TABLE_NAME, layout.table)
    sizes = _file_sizes(config)
    streams = np.random.SeedSequence(config.seed).spawn(len(sizes))
    files, first_event = [], 0
    with progress(config.n_events, "event", "simulating RICH events") as bar:
        for index, (size, stream) in enumerate(zip(sizes, streams, strict=True)):
            rng = np.random.default_rng(stream)
            labels, counts = _sorted_labels(config, size, rng)
            sample = simulate_events(config, labels, rng, layout)
            sample.events["burst_id"] = index
            sample.events["event_id"] += first_event
            name = EVENT_FILE_PATTERN.format(index=index)
            write_event_file(directory / name, sample, counts)
            files.append({"name": name, "events": size, "hits": len(sample.hits)})
            first_event += size
            bar.update(size)
    seconds = time.perf_counter() - started
    log.info("simulated %d events in %.1f s", config.n_events, seconds)
    return {
        "smartml_version": __version__,
        "n_events": first_event,
        "pmt_table": PMT_TABLE_NAME,
        "files": [{"name": PMT_TABLE_NAME}, *files],
        "events_per_second": round(first_event / max(seconds, 1e-9), 1),
    }


def _settings(config: RichSimulationConfig, layout: PmtLayout) -> dict:
    """What identifies a simulated dataset: its manifest's first keys and cache key.
    A given table enters by its content, so an edited file never reuses old events;
    the built-in grid adds nothing, keeping the keys of existing caches."""
    tables = {"pmt_table": layout.sha256} if layout.sha256 is not None else {}
    return CACHE.settings(config, tables)


def write_dataset(
    config: RichSimulationConfig, directory: Path, layout: PmtLayout | None = None
) -> Path:
    """Simulate ``config.n_events`` events into ``directory`` (module docstring, Files).

    Args:
        config: the simulation settings.
        directory: where the dataset goes; an existing one is replaced only if it
            holds nothing but a simulated dataset's files.
        layout: the PMTs (default the built-in grid).

    Returns:
        ``directory``.

    Raises:
        DataError: if the directory cannot be written (one line naming it).
    """
    layout = layout or builtin_layout()
    return CACHE.write(
        directory,
        _settings(config, layout),
        lambda staging: _simulate_into(config, layout, staging),
    )


def simulation_dir(
    config: RichSimulationConfig, root: str | Path | None = None, layout: PmtLayout | None = None
) -> Path:
    """The cache directory of these settings and PMT layout (default the built-in
    grid): ``<root>/richsim-<12 hex>``, the root being
    :meth:`~smartml.data.cache.GeneratorCache.root` (default the user cache's
    ``simulated``).

    >>> from smartml.tasks.rich_pid.simulation_config import RichSimulationConfig
    >>> simulation_dir(RichSimulationConfig(), "data").name.startswith("richsim-")
    True
    """
    return CACHE.directory(_settings(config, layout or builtin_layout()), root)


def simulate_cached(
    config: RichSimulationConfig, root: str | Path | None = None, layout: PmtLayout | None = None
) -> Path:
    """The cached dataset of ``config``, simulated first if it is not complete.

    Args:
        config: the simulation settings.
        root: the directory holding one dataset per settings (default
            ``$SMARTML_CACHE_DIR/simulated`` or the user cache's, see
            :class:`~smartml.data.cache.GeneratorCache`).
        layout: the PMTs (default the built-in grid).

    Returns:
        :func:`simulation_dir` of ``config``: ``events.<i>.h5`` files, the PMT table
        :data:`PMT_TABLE_NAME` and the manifest :data:`MANIFEST_NAME`.

    Raises:
        DataError: if the cache directory cannot be written.
    """
    layout = layout or builtin_layout()
    return CACHE.ensure(
        _settings(config, layout), lambda staging: _simulate_into(config, layout, staging), root
    )


def read_manifest(directory: str | Path) -> dict | None:
    """The manifest of a simulated dataset, or None if absent or unreadable."""
    return CACHE.read_manifest(directory)


def event_files(directory: str | Path) -> list[Path]:
    """The event files of a simulated dataset, in file order."""
    paths = Path(directory).glob("events.*.h5")
    return sorted(paths, key=lambda path: int(path.name.split(".")[1]))
