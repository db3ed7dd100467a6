"""The dtype each converted feature keeps, and the values written in it.

:class:`~smartml.ntuples.root_reader.NtupleReader` gives float32 features (what
training takes), but float32 holds integers exactly only up to 2^24: an event number
like 16 777 217 would come out as 16 777 216. So ``smartml.convert`` keeps a feature
that is one integer or boolean branch value per event (a flat branch, or one object
of a jagged branch) in the branch's own dtype, read again from the branch with that
dtype. Floats and derived features stay float32.

A feature of integer branches that a file cannot keep integer is written float32 as
before, and any value float32 cannot hold exactly is refused in one line: that is the
case when the files disagree on the type (``int64`` in one, ``uint64`` in another)
or when ``missing_object: fill`` fills a ``fill_value`` the integer type cannot hold
(0.5, or -1 for unsigned counts).
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np
import uproot

from smartml.errors import DataError
from smartml.ntuples.branches import UNREADABLE

if TYPE_CHECKING:
    from smartml.ntuples.root_reader import FeatureRows, NtupleReader

FLOAT = np.dtype(np.float32)


@dataclass(frozen=True)
class IntegerFeature:
    """A feature read from one integer or boolean branch.

    Attributes:
        name: the feature; branch, index: the branch and the object index (None: flat).
        dtype: what is written (``FLOAT`` when the integers cannot be kept; see
            ``reason``); fill: the value of a missing object (``missing_object: fill``).
        reason: why the feature is float32 (empty when it keeps its dtype).
    """

    name: str
    branch: str
    index: int | None
    dtype: np.dtype
    fill: float
    reason: str = ""


def branch_dtype(tree: Any, branch: str) -> np.dtype | None:
    """The dtype of one value of a numeric branch (of each object of a jagged one);
    None for a branch uproot does not read as plain numbers."""
    interpretation = tree[branch].interpretation
    if isinstance(interpretation, uproot.AsJagged):
        interpretation = interpretation.content
    if not isinstance(interpretation, uproot.AsDtype):
        return None
    return np.dtype(interpretation.to_dtype.base).newbyteorder("=")


def _holds(dtype: np.dtype, value: float) -> bool:
    """Whether ``value`` converts to ``dtype`` exactly."""
    if dtype.kind == "b":
        return value in (0.0, 1.0)
    limits = np.iinfo(dtype)
    return float(value).is_integer() and limits.min <= value <= limits.max


def integer_features(reader: "NtupleReader", trees: list[Any]) -> dict[str, IntegerFeature]:
    """The features of ``reader`` that come from one integer or boolean branch value.

    Args:
        reader: the chain; trees: its trees, one per file.

    Returns:
        feature -> :class:`IntegerFeature`, in feature order.
    """
    resolved = reader.resolved
    found: dict[str, IntegerFeature] = {}
    for name in reader.feature_names:
        column = resolved.columns.get(name)
        if name in resolved.derived or column is None or getattr(column, "computed", None):
            continue
        dtypes = [branch_dtype(tree, column.branch) for tree in trees]
        if any(dtype is None or dtype.kind not in "biu" for dtype in dtypes):
            continue
        dtype, reason = np.result_type(*dtypes), ""
        fills = column.index is not None and resolved.missing_object == "fill"
        fill = resolved.fill_value if fills else 0.0
        if dtype.kind not in "biu":
            held = " and ".join(sorted({str(d) for d in dtypes}))
            reason = f"the files hold branch {column.branch!r} as {held}"
        elif not _holds(dtype, fill):
            reason = f"fill_value {fill} does not fit {dtype}"
        found[name] = IntegerFeature(
            name, column.branch, column.index, FLOAT if reason else dtype, fill, reason
        )
    return found


class TypedColumns:
    """The columns of each chunk of a chain, each in the dtype it is written in.

    Args:
        reader: the chain; trees: its trees, one per file (read again for the
            integer features).

    Attributes:
        dtypes: feature -> the numpy dtype name written (``"float32"``, ``"int64"``...).
    """

    def __init__(self, reader: "NtupleReader", trees: list[Any]):
        self._reader = reader
        self._trees = trees
        self._integers = integer_features(reader, trees)
        self.dtypes = {
            name: str(self._integers[name].dtype if name in self._integers else FLOAT)
            for name in reader.feature_names
        }
        self._offsets = np.concatenate([[0], np.cumsum(reader.entries_per_file)]).astype(np.int64)

    def columns(self, chunk: "FeatureRows", start: int, stop: int) -> list[np.ndarray]:
        """The columns of the rows of ``chunk`` (``reader.read(start, stop)``), in
        feature order.

        Raises:
            DataError: a branch cannot be read, or an integer kept as float32 has no
                exact float32 (naming the file, feature, value and entry).
        """
        exact: dict[str, list[np.ndarray]] = {name: [] for name in self._integers}
        for index, offset in enumerate(self._offsets[:-1]):
            local_start = max(start - int(offset), 0)
            local_stop = min(stop - int(offset), self._reader.entries_per_file[index])
            if local_start >= local_stop:
                continue
            local = chunk.entries - offset
            rows = local[(local >= local_start) & (local < local_stop)] - local_start
            for name, feature in self._integers.items():
                values = self._values(feature, index, local_start, local_stop)[rows]
                if feature.reason:
                    self._check_float32(feature, values, index, rows + local_start)
                exact[name].append(values)
        return [
            self._column(name, chunk, k, exact) for k, name in enumerate(self._reader.feature_names)
        ]

    def _column(
        self, name: str, chunk: "FeatureRows", k: int, exact: dict[str, list[np.ndarray]]
    ) -> np.ndarray:
        """Column ``k``: the exact integers where kept, else the reader's float32."""
        feature = self._integers.get(name)
        if feature is None or feature.reason:
            return chunk.features[:, k]
        if not exact[name]:
            return np.zeros(0, feature.dtype)
        return np.concatenate(exact[name]).astype(feature.dtype, copy=False)

    def _values(self, feature: IntegerFeature, index: int, start: int, stop: int) -> np.ndarray:
        """The exact values of one feature for entries [start, stop) of file ``index``
        (a missing object: the fill value where it fits the dtype, else 0)."""
        try:
            array = self._trees[index][feature.branch].array(
                entry_start=start, entry_stop=stop, library="ak"
            )
        except UNREADABLE as err:
            reason = (str(err).splitlines() or [type(err).__name__])[0]
            raise DataError(
                f"{self._reader.where(index)}: cannot read branch {feature.branch!r} ({reason})"
            ) from None
        if feature.index is None:
            return ak.to_numpy(array)
        has_object = ak.to_numpy(ak.num(array, axis=1) > feature.index)
        picked = ak.pad_none(array, feature.index + 1, axis=1, clip=True)[:, feature.index]
        values = ak.to_numpy(ak.fill_none(picked, False if feature.dtype.kind == "b" else 0))
        if feature.dtype.kind in "biu" and feature.fill != 0:
            values = np.where(has_object, values, values.dtype.type(feature.fill))
        return values

    def _check_float32(
        self, feature: IntegerFeature, values: np.ndarray, index: int, entries: np.ndarray
    ) -> None:
        """Refuse an integer that float32 would change (the column stays float32)."""
        changed = values.astype(np.float32).astype(values.dtype) != values
        if changed.any():
            first = int(np.flatnonzero(changed)[0])
            raise DataError(
                f"{self._reader.where(index)}: feature {feature.name!r} is written as float32 "
                f"({feature.reason}) but holds {values[first]} at entry {entries[first]} of "
                "the file, which float32 cannot hold exactly"
            )
