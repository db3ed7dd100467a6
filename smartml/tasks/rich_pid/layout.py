"""The NA62 RICH HDF5 layout, shared by the simulator and the reader.

One or more ``.h5`` files, each holding:

- root attributes ``entries`` (number of events), ``muon_offset``, ``pion_offset``,
  ``positron_offset``: events are sorted muons, then pions, then positrons, and the
  label of an event comes from the offsets (never from the file name);
- ``Events``: a compound dataset of :data:`EVENT_DTYPE`, one row per event;
- ``Hits``: a compound dataset of :data:`HIT_DTYPE`, the hits of all events in order;
- ``HitMapping``: int64, ``entries + 1`` long; the hits of event n are
  ``Hits[HitMapping[n]:HitMapping[n + 1]]``.

PMT positions come from a separate ``.npy`` table of shape (1952, 3), float32: x mm,
y mm, disk (0 Jura, 1 Salève), row :func:`pmt_row`. Positions are local to each disk
(rows 0–975 equal rows 976–1951 but for the disk column).

>>> int(pmt_row(disk=1, updown=0, supercell=2, pmt=3))
995
>>> label_of(np.arange(6), {"muon_offset": 0, "pion_offset": 3, "positron_offset": 5})
array([0, 0, 0, 1, 1, 2])
"""

from collections.abc import Mapping

import numpy as np

N_PMTS = 1952
PMTS_PER_DISK = 976
PMTS_PER_HALF_DISK = 488
PMTS_PER_SUPERCELL = 8

MUON, PION, POSITRON = 0, 1, 2
CLASS_NAMES = ("muon", "pion", "positron")
OFFSET_ATTRIBUTES = ("muon_offset", "pion_offset", "positron_offset")
ROOT_ATTRIBUTES = ("entries", *OFFSET_ATTRIBUTES)

EVENTS, HITS, HIT_MAPPING = "Events", "Hits", "HitMapping"

EVENT_DTYPE = np.dtype(
    [
        ("run_id", "<i4"),
        ("burst_id", "<i4"),
        ("event_id", "<i8"),
        ("track_id", "<i4"),
        ("track_momentum", "<f4"),  # GeV/c
        ("chod_time", "<f4"),  # ns
        ("ring_radius", "<f4"),  # mm, from the reconstruction's ring fit
        ("ring_centre_pos", "<f4", (2,)),  # mm
        ("ring_likelihood", "<f4", (3,)),  # pion, muon, positron
    ]
)
HIT_DTYPE = np.dtype(
    [
        ("disk_id", "<i4"),
        ("pmt_id", "<i4"),
        ("supercell_id", "<i4"),
        ("updowndisk_id", "<i4"),
        ("hit_time", "<f4"),  # ns
    ]
)


def pmt_row(disk: np.ndarray, updown: np.ndarray, supercell: np.ndarray, pmt: np.ndarray):
    """Row of the PMT position table for hits given by their ids (NA62's formula:
    ``supercell*8 + pmt + updown*488 + disk*976``)."""
    return (
        np.asarray(supercell) * PMTS_PER_SUPERCELL
        + np.asarray(pmt)
        + np.asarray(updown) * PMTS_PER_HALF_DISK
        + np.asarray(disk) * PMTS_PER_DISK
    )


def label_of(event_index: np.ndarray, offsets: Mapping[str, int]) -> np.ndarray:
    """Class of each event (:data:`MUON`, :data:`PION`, :data:`POSITRON`) from its index
    in its file and the file's offset attributes."""
    index = np.asarray(event_index)
    labels = np.full(index.shape, MUON, dtype=np.int64)
    labels[index >= offsets["pion_offset"]] = PION
    labels[index >= offsets["positron_offset"]] = POSITRON
    return labels
