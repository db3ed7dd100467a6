"""What a converted file records about its origin (written by the HDF5 and parquet
writers of :mod:`smartml.convert`)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from smartml.errors import OutputError

# The dataset (column) holding each row's entry number in the chained input trees.
ENTRY_COLUMN = "source_entry"


@dataclass
class ConversionMetadata:
    """The origin of converted rows.

    Attributes:
        source_files: the ROOT files, in chain order; tree: the tree read in each.
        source_branches: feature -> its branch (``Muon_Px`` for ``Muon_Px[0]``) or the
            formula of a derived feature, in column order.
        object_indices: feature -> object index, for features of jagged branches.
        dtypes: feature -> the numpy dtype name of its column (``"int64"``, ``"bool"``);
            a feature not named is float32.
        entries_read: entries of the chain; dropped_rows: events dropped for a missing
            object (set when the conversion ends).
    """

    source_files: list[str]
    tree: str
    source_branches: dict[str, str]
    object_indices: dict[str, int] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)
    entries_read: int = 0
    dropped_rows: int = 0

    def dtype_of(self, feature: str) -> np.dtype:
        """The dtype of a feature's column.

        >>> branches = {"x": "x", "Event": "Event"}
        >>> metadata = ConversionMetadata([], "t", branches, dtypes={"Event": "int64"})
        >>> metadata.dtype_of("x"), metadata.dtype_of("Event")
        (dtype('float32'), dtype('int64'))
        """
        return np.dtype(self.dtypes.get(feature, "float32"))

    def check_names(self, output: str) -> None:
        """Refuse feature names a file cannot hold as dataset or column names.

        Raises:
            OutputError: a name holds '/' (an HDF5 group separator) or is the entry column.
        """
        for name in self.source_branches:
            if "/" in name or name == ENTRY_COLUMN:
                raise OutputError(
                    f"{output}: feature {name!r} cannot be a dataset name "
                    f"(no '/' and not {ENTRY_COLUMN!r}); rename it in the features file"
                )


class FeatureWriter(Protocol):
    """What :mod:`smartml.convert` writes through (HDF5 or parquet)."""

    metadata: ConversionMetadata

    def write(self, columns: Sequence[np.ndarray], entries: np.ndarray) -> None:
        """Append rows: one (n,) array per feature in column order, each of its
        :meth:`ConversionMetadata.dtype_of`; entries (n,) int64."""

    def close(self) -> None:
        """Write the metadata and close the file."""

    def abort(self) -> None:
        """Close without finishing."""
