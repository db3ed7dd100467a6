"""Converted features as parquet (pyarrow), one row group per chunk.

Layout: one column per feature (float32, or the integer or bool type of an integer or
boolean branch: ``Event`` stays int64), named as the feature, its field metadata
``source_branch`` (the ROOT branch, or a derived feature's formula) and, for an
object of a jagged branch, ``object_index``; an int64 column ``source_entry`` (the
entry number in the chained input trees); the file's key-value metadata ``smartml``
holds JSON with ``source_files``, ``tree``, ``features``, ``entries_read`` and
``dropped_rows``.
"""

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from smartml.ntuples.conversion_metadata import ENTRY_COLUMN, ConversionMetadata

METADATA_KEY = "smartml"


class ParquetFeatureWriter:
    """Writes features to a new parquet file.

    Args:
        path: the file to create; metadata: the origin of the rows;
        compression: a parquet codec ("zstd", "snappy", "gzip", "none").
    """

    def __init__(self, path: Path, metadata: ConversionMetadata, compression: str = "zstd"):
        self.metadata = metadata
        fields = []
        for name, branch in metadata.source_branches.items():
            info = {"source_branch": branch}
            if name in metadata.object_indices:
                info["object_index"] = str(metadata.object_indices[name])
            kind = pa.from_numpy_dtype(metadata.dtype_of(name))
            fields.append(pa.field(name, kind, nullable=False, metadata=info))
        fields.append(pa.field(ENTRY_COLUMN, pa.int64(), nullable=False))
        self._schema = pa.schema(fields)
        self._writer = pq.ParquetWriter(path, self._schema, compression=compression)

    def write(self, columns: Sequence[np.ndarray], entries: np.ndarray) -> None:
        """Append one row group: one array per feature in column order (each of its
        field's type), entries (n,)."""
        if len(entries) == 0:
            return
        arrays = [pa.array(column) for column in columns]
        table = pa.Table.from_arrays([*arrays, pa.array(entries)], schema=self._schema)
        self._writer.write_table(table, row_group_size=len(entries))

    def close(self) -> None:
        """Write the file metadata and close the file."""
        content = {
            "source_files": self.metadata.source_files,
            "tree": self.metadata.tree,
            "features": list(self.metadata.source_branches),
            "entries_read": self.metadata.entries_read,
            "dropped_rows": self.metadata.dropped_rows,
        }
        self._writer.add_key_value_metadata({METADATA_KEY: json.dumps(content)})
        self._writer.close()

    def abort(self) -> None:
        """Close without finishing (the caller removes the file)."""
        self._writer.close()
