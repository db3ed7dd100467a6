"""What a ROOT, HDF5 or parquet file holds, with statistics of every numeric column,
read in chunks of ``step`` rows (memory bounded by the chunk, not by the file).

Each function returns plain JSON-able data: containers (trees, the HDF5 file, the
parquet file), their columns (name, type, shape or entries) and per column the
:meth:`~smartml.ntuples.column_statistics.RunningStatistics.summary` (count, nan, inf,
min, max, mean, std over finite values; None for a non-numeric column). A jagged
ROOT branch has statistics over all its objects and ``objects_per_event`` (the same
statistics of the object counts). An RNTuple is summarised as a tree (``kind``
``"RNTuple"``, its top-level fields as branches). Parquet nulls count as NaN. Integer
columns keep exact integer minima and maxima.
"""

from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from smartml.console import progress
from smartml.errors import DataError, first_line
from smartml.locations import Location
from smartml.ntuples.branches import UNREADABLE, jagged_branches
from smartml.ntuples.column_statistics import RunningStatistics
from smartml.ntuples.rntuple_tree import RNTupleTree, is_rntuple
from smartml.ntuples.root_reader import is_numeric, open_root_file, tree_names

DEFAULT_STEP = 100_000


def root_summary(path: Location, step: int = DEFAULT_STEP) -> dict[str, Any]:
    """Trees and RNTuples, their branches (type, jagged or not) and statistics of a
    ROOT file (a local path or a URL)."""
    with open_root_file(path) as file:
        trees = [
            _tree_summary(path, name, _tree(file, name, path), step) for name in tree_names(file)
        ]
    return {"file": str(path), "format": "root", "trees": trees}


def _tree(file: Any, name: str, path: Location) -> Any:
    """The TTree ``name`` of an open file, or its RNTuple seen as a tree."""
    try:
        found = file[name]
    except UNREADABLE as err:
        raise DataError(f"{path}: cannot read {name!r} ({first_line(err)})") from None
    return RNTupleTree(found, path) if is_rntuple(found) else found


def _tree_summary(path: Location, name: str, tree: Any, step: int) -> dict[str, Any]:
    jagged = jagged_branches(tree)
    numeric = {b.name for b in tree.branches if is_numeric(b)}
    values = {branch: RunningStatistics() for branch in numeric}
    counts = {branch: RunningStatistics() for branch in numeric if jagged[branch]}
    try:
        chunks = tree.iterate(
            filter_name=lambda branch: branch in numeric, step_size=step, library="ak"
        )
        with progress(tree.num_entries if numeric else 0, "entry", f"reading {name}") as bar:
            for arrays in chunks if numeric else []:
                for branch in numeric:
                    array = arrays[branch]
                    if jagged[branch]:
                        counts[branch].update(ak.to_numpy(ak.num(array, axis=1)))
                        array = ak.flatten(array, axis=1)
                    values[branch].update(ak.to_numpy(array))
                bar.update(len(arrays))
    except UNREADABLE as err:
        raise DataError(f"{path}: tree {name!r}: cannot read ({first_line(err)})") from None
    return {
        "name": name,
        "kind": "RNTuple" if isinstance(tree, RNTupleTree) else "TTree",
        "entries": int(tree.num_entries),
        "branches": [
            {
                "name": branch.name,
                "type": branch.typename,
                "jagged": jagged[branch.name],
                "statistics": values[branch.name].summary() if branch.name in numeric else None,
                "objects_per_event": counts[branch.name].summary()
                if branch.name in counts
                else None,
            }
            for branch in tree.branches
        ],
    }


def _plain(value: Any) -> Any:
    """An HDF5 attribute as JSON-able data."""
    if isinstance(value, np.ndarray):
        return [_plain(item) for item in value.tolist()]
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, (str, int, float, bool, list)) else str(value)


def hdf5_summary(path: Path, step: int = DEFAULT_STEP) -> dict[str, Any]:
    """Datasets (shape, dtype, attributes) and their statistics of an HDF5 file; a
    dataset is read ``step`` rows (first axis) at a time."""
    try:
        file = h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"{path}: not a readable HDF5 file ({err})") from None
    with file:
        names: list[str] = []
        file.visititems(
            lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None
        )
        return {
            "file": str(path),
            "format": "hdf5",
            "attributes": {key: _plain(value) for key, value in file.attrs.items()},
            "datasets": [_dataset_summary(file[name], name, step) for name in names],
        }


def _dataset_summary(dataset: Any, name: str, step: int) -> dict[str, Any]:
    statistics = None
    if dataset.dtype.kind in "biuf":
        running = RunningStatistics()
        if dataset.ndim == 0:
            running.update(np.asarray(dataset[()]))
        for start in range(0, dataset.shape[0] if dataset.ndim else 0, step):
            running.update(dataset[start : start + step])
        statistics = running.summary()
    return {
        "name": name,
        "shape": list(dataset.shape),
        "dtype": str(dataset.dtype),
        "attributes": {key: _plain(value) for key, value in dataset.attrs.items()},
        "statistics": statistics,
    }


def _numbers(column: Any) -> np.ndarray:
    """A parquet column as numpy: integers as they are (exact extremes), a column with
    nulls as float64 with the nulls NaN."""
    if column.null_count:
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return column.to_numpy(zero_copy_only=False)


def parquet_summary(path: Path, step: int = DEFAULT_STEP) -> dict[str, Any]:
    """Columns (type) and their statistics of a parquet file, read in batches of
    ``step`` rows."""
    try:
        file = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as err:
        raise DataError(f"{path}: not a readable parquet file ({err})") from None
    schema = file.schema_arrow
    numeric = [
        field.name
        for field in schema
        if pa.types.is_integer(field.type)
        or pa.types.is_floating(field.type)
        or pa.types.is_boolean(field.type)
    ]
    running = {name: RunningStatistics() for name in numeric}
    try:
        with progress(file.metadata.num_rows if numeric else 0, "row", f"reading {path}") as bar:
            for batch in file.iter_batches(batch_size=step, columns=numeric) if numeric else []:
                for name in numeric:
                    running[name].update(_numbers(batch.column(name)))
                bar.update(batch.num_rows)
    except (OSError, pa.ArrowException) as err:
        raise DataError(f"{path}: cannot read the parquet file ({err})") from None
    return {
        "file": str(path),
        "format": "parquet",
        "rows": file.metadata.num_rows,
        "row_groups": file.metadata.num_row_groups,
        "columns": [
            {
                "name": field.name,
                "dtype": str(field.type),
                "statistics": running[field.name].summary() if field.name in running else None,
            }
            for field in schema
        ],
    }
