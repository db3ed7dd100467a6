"""Tiny writers of RICH files in the NA62 HDF5 layout, with hand-made rings, for tests.

:func:`write_pmt_table` writes a valid (1952, 3) float32 table: a hexagonal grid of
18 mm pitch (rows 15.59 mm apart), the same local grid on both disks.
:func:`make_events` builds events with rings of the physical radius for their
class and momentum, centred near the middle of one disk, with noise hits out of
time; :func:`write_rich` writes arrays (possibly corrupted by a test) to a file.

``tests/conftest.py`` puts this directory on ``sys.path``.

>>> rich = make_events({"muon": 3, "pion": 2, "positron": 1}, seed=0)
>>> rich.attributes["pion_offset"], rich.attributes["positron_offset"], len(rich.mapping)
(3, 5, 7)
"""

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from smartml.tasks.rich_pid import physics
from smartml.tasks.rich_pid.layout import (
    EVENT_DTYPE,
    EVENTS,
    HIT_DTYPE,
    HIT_MAPPING,
    HITS,
    N_PMTS,
    PMTS_PER_DISK,
    PMTS_PER_HALF_DISK,
    PMTS_PER_SUPERCELL,
)
from smartml.tasks.rich_pid.schema import NA62_DISK_OFFSETS_MM

GRID_COLUMNS = 32
PITCH_MM, ROW_STEP_MM = 18.0, 15.59
MASSES = (physics.MUON_MASS, physics.PION_MASS, physics.POSITRON_MASS)


def pmt_table() -> np.ndarray:
    """(1952, 3) float32: x, y of a hexagonal grid (|x| < 290, |y| < 240 mm), disk."""
    local = np.arange(PMTS_PER_DISK)
    column, row = local % GRID_COLUMNS, local // GRID_COLUMNS
    x = (column - 15.5) * PITCH_MM + PITCH_MM / 2 * (row % 2)
    y = (row - 15) * ROW_STEP_MM
    table = np.zeros((N_PMTS, 3), np.float32)
    table[:, 0], table[:, 1] = np.tile(x, 2), np.tile(y, 2)
    table[PMTS_PER_DISK:, 2] = 1
    return table


def write_pmt_table(path: Path) -> np.ndarray:
    table = pmt_table()
    np.save(path, table)
    return table


def hit_ids(rows: np.ndarray) -> dict[str, np.ndarray]:
    """disk, updown, supercell and pmt ids of PMT table rows (inverse of pmt_row)."""
    rows = np.asarray(rows)
    return {
        "disk_id": rows // PMTS_PER_DISK,
        "updowndisk_id": rows % PMTS_PER_DISK // PMTS_PER_HALF_DISK,
        "supercell_id": rows % PMTS_PER_HALF_DISK // PMTS_PER_SUPERCELL,
        "pmt_id": rows % PMTS_PER_SUPERCELL,
    }


@dataclass
class RichArrays:
    """What goes into one file: events, hits, mapping and root attributes."""

    events: np.ndarray
    hits: np.ndarray
    mapping: np.ndarray
    attributes: dict[str, int] = field(default_factory=dict)

    def labels(self) -> np.ndarray:
        index = np.arange(len(self.events))
        return (index >= self.attributes["pion_offset"]).astype(int) + (
            index >= self.attributes["positron_offset"]
        )


def make_events(
    counts: dict[str, int],
    seed: int,
    momentum_range: tuple[float, float] = (12.0, 48.0),
    noise_hits: float = 2.0,
    outside_window_fraction: float = 0.05,
    empty_fraction: float = 0.05,
) -> RichArrays:
    """Events sorted muon, pion, positron with rings of their physical radius.

    Each event's ring is centred within 40 mm of the centre of a random disk (global
    plane), its photons (Poisson, 14 sin²θc/sin²θmax) land on the nearest PMT with
    hit times within 0.1 ns of chod_time; Poisson ``noise_hits`` land anywhere,
    uniform within ±10 ns. A fraction of events has a ring centre outside the
    2500 mm window, another fraction no hits at all.
    """
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], [counts["muon"], counts["pion"], counts["positron"]])
    n = len(labels)
    table = pmt_table()
    offsets = np.asarray(NA62_DISK_OFFSETS_MM, np.float32)
    plane = table[:, :2] + offsets[table[:, 2].astype(int)]
    events = np.zeros(n, EVENT_DTYPE)
    events["run_id"], events["burst_id"] = 9001, rng.integers(0, 50, n)
    events["event_id"] = np.arange(n) * 7 + 3
    momentum = rng.uniform(*momentum_range, n)
    events["track_momentum"] = momentum
    events["chod_time"] = rng.normal(0, 5, n)
    mass = np.array(MASSES)[labels]
    radius = physics.ring_radius(momentum, mass)
    events["ring_radius"] = radius + rng.normal(0, 2, n)
    disk = rng.integers(0, 2, n)
    centre = offsets[disk] + rng.normal(0, 20, (n, 2))
    outside = rng.random(n) < outside_window_fraction
    centre[outside, 0] = 3000.0
    events["ring_centre_pos"] = centre
    events["ring_likelihood"] = rng.random((n, 3))
    saturated = physics.sin2_cherenkov_angle(1e6, physics.MUON_MASS)
    photons = rng.poisson(14 * physics.sin2_cherenkov_angle(momentum, mass) / saturated)
    noise = rng.poisson(noise_hits, n)
    empty = rng.random(n) < empty_fraction
    photons[empty], noise[empty] = 0, 0
    hits_per_event = []
    for i in range(n):
        phi = rng.uniform(0, 2 * np.pi, photons[i])
        ring = centre[i] + radius[i] * np.stack([np.cos(phi), np.sin(phi)], axis=1)
        nearest = np.argmin(((ring[:, None, :] - plane[None]) ** 2).sum(axis=2), axis=1)
        rows = np.concatenate([nearest, rng.integers(0, N_PMTS, noise[i])])
        times = (
            np.concatenate([rng.normal(0, 0.1, photons[i]), rng.uniform(-10, 10, noise[i])])
            + events["chod_time"][i]
        )
        event_hits = np.zeros(len(rows), HIT_DTYPE)
        for name, values in hit_ids(rows).items():
            event_hits[name] = values
        event_hits["hit_time"] = times
        hits_per_event.append(event_hits[rng.permutation(len(rows))])
    hits = np.concatenate(hits_per_event) if n else np.zeros(0, HIT_DTYPE)
    mapping = np.concatenate([[0], np.cumsum([len(h) for h in hits_per_event])]).astype(np.int64)
    attributes = {
        "entries": n,
        "muon_offset": 0,
        "pion_offset": counts["muon"],
        "positron_offset": counts["muon"] + counts["pion"],
    }
    return RichArrays(events, hits, mapping, attributes)


def write_rich(path: Path, arrays: RichArrays, skip: tuple[str, ...] = (), hits_dtype=None) -> Path:
    """Write ``arrays`` in the layout; ``skip`` names datasets or attributes left out."""
    with h5py.File(path, "w") as file:
        for name, value in arrays.attributes.items():
            if name not in skip:
                file.attrs[name] = value
        for name, value in ((EVENTS, arrays.events), (HITS, arrays.hits)):
            if name not in skip:
                file.create_dataset(name, data=value)
        if HIT_MAPPING not in skip:
            file.create_dataset(HIT_MAPPING, data=arrays.mapping)
    return path


def in_time_points(
    arrays: RichArrays, table: np.ndarray, window_ns: float, max_points: int
) -> list[np.ndarray]:
    """Reference, one event at a time: each event's in-time (x, y, Δt) points on the
    common plane, closest in time first (stable), at most ``max_points``."""
    offsets = np.asarray(NA62_DISK_OFFSETS_MM, np.float32)
    result = []
    for i in range(len(arrays.events)):
        hits = arrays.hits[arrays.mapping[i] : arrays.mapping[i + 1]]
        dt = hits["hit_time"] - arrays.events["chod_time"][i]
        hits, dt = hits[np.abs(dt) < window_ns], dt[np.abs(dt) < window_ns]
        order = np.argsort(np.abs(dt), kind="stable")[:max_points]
        rows = (hits["supercell_id"] * 8 + hits["pmt_id"] + hits["updowndisk_id"] * 488) + hits[
            "disk_id"
        ] * 976
        xy = table[rows, :2] + offsets[hits["disk_id"]]
        result.append(np.column_stack([xy, dt])[order].astype(np.float32))
    return result
