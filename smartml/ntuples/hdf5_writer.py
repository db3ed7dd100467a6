"""Converted features as HDF5 (h5py), appended chunk by chunk.

Layout:

- one dataset per feature at the root, named as the feature (``lep1_PT``,
  ``Jet_PT[0]``, a derived feature's name): float32, or the integer or bool dtype of
  an integer or boolean branch (``Event`` stays int64), shape (rows,), chunked and
  compressed (gzip level 4 or lzf), attribute ``source_branch`` (the ROOT branch, or
  the formula of a derived feature) and, for an object of a jagged branch,
  ``object_index``;
- dataset ``source_entry``: int64, the entry number of each row in the chained input
  trees (rows of events dropped for a missing object are absent);
- root attributes: ``source_files`` (the ROOT files in chain order), ``tree``,
  ``features`` (the feature names in order), ``entries_read`` and ``dropped_rows``.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from smartml.ntuples.conversion_metadata import ENTRY_COLUMN, ConversionMetadata

COMPRESSIONS = ("gzip", "lzf", "none")
# Rows per HDF5 chunk: 64k float32 = 256 KiB (int64: 512 KiB), within h5py's advice
# (10 KiB to 1 MiB).
_CHUNK_ROWS = 65_536


class Hdf5FeatureWriter:
    """Writes features to a new HDF5 file.

    Args:
        path: the file to create (truncated if it exists).
        metadata: the origin of the rows; compression: one of :data:`COMPRESSIONS`.
    """

    def __init__(self, path: Path, metadata: ConversionMetadata, compression: str = "gzip"):
        self.metadata = metadata
        self._file = h5py.File(path, "w")
        options: dict[str, Any] = {"chunks": (_CHUNK_ROWS,), "maxshape": (None,)}
        if compression == "gzip":
            options.update(compression="gzip", compression_opts=4, shuffle=True)
        elif compression == "lzf":
            options.update(compression="lzf", shuffle=True)
        self._datasets = []
        for name, branch in metadata.source_branches.items():
            dtype = metadata.dtype_of(name)
            dataset = self._file.create_dataset(name, shape=(0,), dtype=dtype, **options)
            dataset.attrs["source_branch"] = branch
            if name in metadata.object_indices:
                dataset.attrs["object_index"] = metadata.object_indices[name]
            self._datasets.append(dataset)
        self._entries = self._file.create_dataset(
            ENTRY_COLUMN, shape=(0,), dtype=np.int64, **options
        )
        self._entries.attrs["description"] = "entry number in the chained input trees"

    def write(self, columns: Sequence[np.ndarray], entries: np.ndarray) -> None:
        """Append rows: one array per feature in column order (each of its dataset's
        dtype), entries (n,)."""
        start = self._entries.shape[0]
        stop = start + len(entries)
        for column, dataset in zip(columns, self._datasets, strict=True):
            dataset.resize((stop,))
            dataset[start:stop] = column
        self._entries.resize((stop,))
        self._entries[start:stop] = entries

    def close(self) -> None:
        """Write the root attributes and close the file."""
        attributes = self._file.attrs
        attributes["source_files"] = self.metadata.source_files
        attributes["tree"] = self.metadata.tree
        attributes["features"] = list(self.metadata.source_branches)
        attributes["entries_read"] = self.metadata.entries_read
        attributes["dropped_rows"] = self.metadata.dropped_rows
        self._file.close()

    def abort(self) -> None:
        """Close without finishing (the caller removes the file)."""
        self._file.close()
