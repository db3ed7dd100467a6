"""Features read from ROOT trees (uproot): one tree over one or several files, chained.

Entries are numbered globally across the files, in the order given (file 0's entries
first). :meth:`NtupleReader.read` reads any range of them, touching only the branches
the selection needs, so that memory is bounded by the range, not by the files:
:meth:`NtupleReader.iterate` walks the whole chain in ranges of ``step`` entries.

Every problem with the input is one :class:`~smartml.errors.DataError` line naming the
file, the tree and the branch: a missing, empty or corrupt file, a missing tree (with
the trees the file holds), a missing branch (with the nearest existing names), an
object index beyond every event, a NaN or infinite feature (with its first entry).
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from smartml.errors import DataError, first_line
from smartml.locations import Location, as_location, is_remote
from smartml.ntuples.aliases import (
    Aliases,
    AliasMap,
    column_values,
    resolve_column,
)
from smartml.ntuples.branches import UNREADABLE, jagged_branches, read_branches
from smartml.ntuples.derived_features import balance, delta_phi, invariant_mass
from smartml.ntuples.feature_selection import (
    BalanceFeature,
    DeltaPhiFeature,
    FeatureSelection,
    InvariantMassFeature,
    ResolvedSelection,
    resolve,
)
from smartml.ntuples.remote_files import open_remote
from smartml.ntuples.rntuple_tree import RNTUPLE_CLASS, RNTupleTree, is_rntuple

# Entries per read when scanning a counter branch for the largest object count.
_SCAN_STEP = 1_000_000


@dataclass(frozen=True)
class FeatureRows:
    """Rows read from an entry range.

    Attributes:
        features: (n, k) float32, the kept rows.
        entries: (n,) int64, the global entry number of each kept row.
        dropped: events of the range dropped for a missing object.
    """

    features: np.ndarray
    entries: np.ndarray
    dropped: int

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as ``features, entries, dropped = rows``."""
        return iter((self.features, self.entries, self.dropped))


def open_root_file(path: Location) -> Any:
    """The ROOT file ``path`` (a local path, or a ``root://``, ``http(s)://`` URL),
    opened with uproot.

    Raises:
        DataError: the file is missing, empty or not readable as ROOT; a remote file
            cannot be reached; a ``root://`` URL without fsspec-xrootd installed.
    """
    if is_remote(path):
        return open_remote(str(path))
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such ROOT file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a ROOT file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes), not a ROOT file")
    try:
        # No array cache: uproot's default keeps up to 100 MB of arrays per file, which
        # a single pass over the entries never reuses (memory would grow with the file).
        return uproot.open(path, array_cache=None)
    except UNREADABLE as err:
        raise DataError(f"{path}: not a readable ROOT file ({first_line(err)})") from None


def tree_names(file: Any) -> list[str]:
    """The paths of the TTrees and RNTuples in an open file (``"events"``,
    ``"sel/hftree"``), in the file's order."""
    return list(file.keys(filter_classname=["TTree", RNTUPLE_CLASS], recursive=True, cycle=False))


def open_tree(path: Location, tree: str) -> Any:
    """The TTree (or RNTuple) ``tree`` of the ROOT file ``path``.

    Args:
        path: the file (a local path or a URL); tree: the tree's path in it
            (``"events"``, ``"sel/hftree"``).

    Returns:
        an ``uproot.TTree``, or an RNTuple seen through the same interface
        (:class:`~smartml.ntuples.rntuple_tree.RNTupleTree`).

    Raises:
        DataError: the file is missing, empty or not readable as ROOT; it has no tree
            ``tree`` (the message lists the trees it has).
    """
    file = open_root_file(path)
    try:
        found = file[tree]
    except uproot.KeyInFileError:
        trees = tree_names(file)
        held = f"trees in the file: {', '.join(trees)}" if trees else "the file holds no tree"
        raise DataError(f"{path}: no tree {tree!r}; {held}") from None
    except UNREADABLE as err:
        raise DataError(f"{path}: not a readable ROOT file ({first_line(err)})") from None
    if is_rntuple(found):
        return RNTupleTree(found, path)
    if not isinstance(found, uproot.TTree):
        raise DataError(f"{path}: {tree!r} is a {found.classname}, not a TTree or an RNTuple")
    return found


def single_tree(path: Location) -> str:
    """The path of the only TTree or RNTuple in ``path`` (for commands whose ``--tree``
    is optional).

    Raises:
        DataError: the file cannot be read, or holds no tree or several (named).
    """
    with open_root_file(path) as file:
        trees = tree_names(file)
    if len(trees) != 1:
        held = f"trees: {', '.join(trees)}" if trees else "no tree"
        raise DataError(f"{path}: holds {held}; choose one with --tree")
    return trees[0]


def is_numeric(branch: Any) -> bool:
    """Whether uproot reads a TBranch as numbers (flat or jagged), not as objects."""
    interpretation = branch.interpretation
    if isinstance(interpretation, uproot.AsJagged):
        interpretation = interpretation.content
    return (
        isinstance(interpretation, uproot.AsDtype) and interpretation.to_dtype.base.kind in "biuf"
    )


class NtupleReader:
    """Selected features of one tree, chained over ``files``.

    Args:
        files: ROOT files holding the tree (chained in this order).
        tree: the tree's path in each file.
        selection: the features.
        check_object_indices: refuse an object index that no event reaches (off when
            several samples are checked together, :meth:`check_object_indices`).
        aliases: the selection's names -> this tree's branches or computed quantities
            (:mod:`smartml.ntuples.aliases`); aliases_key: their config key in messages.

    Attributes:
        n_entries: entries of the chain; entries_per_file: those of each file.
        feature_names: the columns :meth:`read` returns, in order.
        resolved: the selection resolved against the first file's branches.

    Raises:
        DataError: see the module docstring (checked here, before any read).
    """

    def __init__(
        self,
        files: Sequence[str | Path],
        tree: str,
        selection: FeatureSelection,
        check_object_indices: bool = True,
        aliases: AliasMap | None = None,
        aliases_key: str = "aliases",
    ):
        if not files:
            raise DataError(f"tree {tree!r}: no input file given")
        self.files = [as_location(file) for file in files]  # a URL stays a string
        self.tree_name = tree
        self._trees = [open_tree(path, tree) for path in self.files]
        self.aliases, self.aliases_key = Aliases.validate_python(aliases or {}), aliases_key
        self.resolved = self._resolve(selection)
        self._check_numeric()
        self.feature_names = self.resolved.feature_names
        self.entries_per_file = [int(t.num_entries) for t in self._trees]
        self._offsets = np.concatenate([[0], np.cumsum(self.entries_per_file)]).astype(np.int64)
        self.n_entries = int(self._offsets[-1])
        if self.n_entries == 0:
            raise DataError(f"{self.where()}: the tree has no entries")
        if check_object_indices:
            self.check_object_indices([self])

    def close(self) -> None:
        """Close the files (the reader cannot read afterwards)."""
        for tree in self._trees:
            tree.file.close()

    def __enter__(self) -> "NtupleReader":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def where(self, index: int | None = None) -> str:
        """``"<file>: tree '<tree>'"`` for file ``index``, or for all files."""
        files = [self.files[index]] if index is not None else self.files
        return f"{', '.join(map(str, files))}: tree {self.tree_name!r}"

    def _resolve(self, selection: FeatureSelection) -> ResolvedSelection:
        """The selection resolved in every file; all files must give the same features."""
        resolved = [
            resolve(selection, jagged_branches(t), self.where(i), self.aliases, self.aliases_key)
            for i, t in enumerate(self._trees)
        ]
        for i, other in enumerate(resolved[1:], start=1):
            if other.feature_names != resolved[0].feature_names:
                extra = set(other.feature_names) ^ set(resolved[0].feature_names)
                differing = (
                    f"differing: {', '.join(sorted(extra))}" if extra else "in another order"
                )
                raise DataError(
                    f"{self.where(i)}: the selection gives other features than in "
                    f"{self.files[0]} ({differing})"
                )
        return resolved[0]

    def _check_numeric(self, branches: Sequence[str] | None = None) -> None:
        """Only numbers can be features: refuse a branch of strings or objects."""
        for index, tree in enumerate(self._trees):
            for branch in self.resolved.branches if branches is None else branches:
                if not is_numeric(tree[branch]):
                    raise DataError(
                        f"{self.where(index)}: branch {branch!r} holds "
                        f"{tree[branch].typename}, not numbers"
                    )

    def check_object_indices(self, readers: Sequence["NtupleReader"]) -> None:
        """An object index that no event of ``readers`` (e.g. every sample of a
        dataset: Drell–Yan events have no jet, t t̄ events do) reaches is a mistake,
        not a drop."""
        highest: dict[str, int] = {}
        for column in self.resolved.leaves():
            if column.index is None:
                continue
            if column.branch not in highest:
                highest[column.branch] = max(
                    reader._most_objects(i, column.branch)
                    for reader in readers
                    for i in range(len(reader.files))
                )
            if column.index >= highest[column.branch]:
                where = self.where() if len(readers) == 1 else "every sample"
                raise DataError(
                    f"{where}: {column.name!r}{self._aliased(column.name)}: no event has more than "
                    f"{highest[column.branch]} objects in branch {column.branch!r} "
                    f"(index {column.index} needs {column.index + 1})"
                )

    def _aliased(self, name: str) -> str:
        """`` (in <aliases key>.lep1_PT)`` when ``name`` is a component of an alias."""
        users = [
            column.name
            for column in self.resolved.columns.values()
            if column.name != name and name in (leaf.name for leaf in column.leaves())
        ]
        return f" (in {self.aliases_key}.{users[0]})" if users else ""

    def _most_objects(self, index: int, branch: str) -> int:
        """The largest number of objects of ``branch`` in one event of file ``index``."""
        tree_branch = self._trees[index][branch]
        counter = getattr(tree_branch, "count_branch", None)
        most = 0
        for start in range(0, self.entries_per_file[index], _SCAN_STEP):
            stop = min(start + _SCAN_STEP, self.entries_per_file[index])
            try:
                if counter is not None:
                    counts = counter.array(entry_start=start, entry_stop=stop, library="np")
                else:
                    values = tree_branch.array(entry_start=start, entry_stop=stop, library="ak")
                    counts = ak.to_numpy(ak.num(values, axis=1))
            except UNREADABLE as err:
                raise DataError(
                    f"{self.where(index)}: cannot read branch {branch!r} ({first_line(err)})"
                ) from None
            most = max(most, int(np.max(counts, initial=0)))
        return most

    def read(self, entry_start: int, entry_stop: int) -> FeatureRows:
        """The features of the global entries [entry_start, entry_stop).

        Returns:
            a :class:`FeatureRows` (unpacks as ``features, entries, dropped``).

        Raises:
            DataError: a file cannot be read, or a feature is NaN or infinite.
            ValueError: the range is not within [0, n_entries].
        """
        if not 0 <= entry_start <= entry_stop <= self.n_entries:
            raise ValueError(
                f"entry range [{entry_start}, {entry_stop}) outside [0, {self.n_entries}]"
            )
        pieces = []
        for index, offset in enumerate(self._offsets[:-1]):
            start = max(entry_start - offset, 0)
            stop = min(entry_stop - offset, self.entries_per_file[index])
            if start < stop:
                features, kept, dropped = self._read_file(index, int(start), int(stop))
                pieces.append(FeatureRows(features, kept + offset, dropped))
        if not pieces:
            empty = np.zeros((0, len(self.feature_names)), np.float32)
            return FeatureRows(empty, np.zeros(0, np.int64), 0)
        return FeatureRows(
            np.concatenate([p.features for p in pieces]),
            np.concatenate([p.entries for p in pieces]),
            sum(p.dropped for p in pieces),
        )

    def iterate(self, step: int) -> Iterator[FeatureRows]:
        """:meth:`read` over the whole chain, ``step`` entries at a time."""
        if step < 1:
            raise ValueError(f"step must be at least 1, got {step}")
        for start in range(0, self.n_entries, step):
            yield self.read(start, min(start + step, self.n_entries))

    def _read_file(self, index: int, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(features, kept local entries, dropped) of entries [start, stop) of one file."""
        arrays = self._arrays(index, set(self.resolved.branches), start, stop)
        values: dict[str, np.ndarray] = {}
        present: dict[str, np.ndarray] = {}
        for name, column in self.resolved.columns.items():
            values[name], present[name] = column_values(arrays, column, self.resolved.fill_value)
        kept_mask = np.ones(stop - start, dtype=bool)
        if self.resolved.missing_object == "drop":
            for mask in present.values():
                kept_mask &= mask
        matrix = np.empty((int(kept_mask.sum()), len(self.feature_names)), dtype=np.float32)
        for k, name in enumerate(self.feature_names):
            matrix[:, k] = self._feature(name, values, present)[kept_mask]
        kept = np.flatnonzero(kept_mask).astype(np.int64)
        self._check_finite(matrix, kept + start, index)
        return matrix, kept + start, int((~kept_mask).sum())

    def _arrays(self, index: int, wanted: set[str], start: int, stop: int) -> Any:
        """The branches ``wanted`` of file ``index``, entries [start, stop), as awkward."""
        return read_branches(self._trees[index], wanted, start, stop, self.where(index))

    def _feature(
        self, name: str, values: dict[str, np.ndarray], present: dict[str, np.ndarray]
    ) -> np.ndarray:
        """The values of one output feature (a column, or a derived feature)."""
        feature = self.resolved.derived.get(name)
        if feature is None:
            return values[name]
        if isinstance(feature, DeltaPhiFeature):
            result = delta_phi(values[feature.phi], values[feature.reference])
            if feature.absolute:
                result = np.abs(result)
        elif isinstance(feature, BalanceFeature):
            result = balance(values[feature.first], values[feature.second])
        else:
            assert isinstance(feature, InvariantMassFeature)
            first, second = (
                (values[o.pt], values[o.eta], values[o.phi], o.mass) for o in feature.objects
            )
            result = invariant_mass(first, second)
        complete = np.logical_and.reduce([present[n] for n in feature.inputs()])
        return np.where(complete, result, self.resolved.fill_value)

    def _check_finite(self, matrix: np.ndarray, entries: np.ndarray, index: int) -> None:
        """Refuse a NaN or infinite feature, naming it and its first entry in the file."""
        bad = ~np.isfinite(matrix)
        if not bad.any():
            return
        row, column = np.argwhere(bad)[0]  # row-major: the first entry's first bad feature
        value = matrix[row, column]
        what = "NaN" if np.isnan(value) else f"{value} (infinite)"
        raise DataError(
            f"{self.where(index)}: feature {self.feature_names[column]!r} is {what} at entry "
            f"{entries[row]} of the file; remove or fix such events"
        )

    def source_of(self, feature: str) -> str:
        """The branch (or derived formula) a feature comes from."""
        return self.resolved.source_of(feature)

    def column(self, name: str, origin: str = "", step: int = _SCAN_STEP) -> np.ndarray:
        """One value per entry of the chain of ``name`` (a branch, or an alias), read in
        ranges of ``step`` entries (e.g. a per-event weight, summed before training).

        Args:
            name: the branch or alias; origin: what asks for it, in messages
                (``"data.samples[hzz].weight.branch: "``); step: entries per read.

        Returns:
            (n_entries,) float64; NaN where an event lacks the indexed object.

        Raises:
            DataError: the name resolves to no numeric branch of a file (naming the
                alias), or a range cannot be read.
        """
        # every file resolved and checked before the first read
        columns = [
            resolve_column(
                name, jagged_branches(tree), where, self.aliases, self.aliases_key, origin
            )
            for tree, where in zip(
                self._trees, map(self.where, range(len(self._trees))), strict=True
            )
        ]
        self._check_numeric(list({leaf.branch for c in columns for leaf in c.leaves()}))
        pieces = []
        for index, column in enumerate(columns):
            for start in range(0, self.entries_per_file[index], step):
                stop = min(start + step, self.entries_per_file[index])
                arrays = self._arrays(index, {leaf.branch for leaf in column.leaves()}, start, stop)
                values, present = column_values(arrays, column, np.nan)
                pieces.append(np.where(present, values, np.nan))
        return np.concatenate(pieces) if pieces else np.zeros(0)


def check_aligned(first: NtupleReader, second: NtupleReader) -> None:
    """Check that two chains can be read side by side, entry by entry (an input tree
    and its target tree, in the same files or in others).

    With as many files on both sides, each pair of files must hold equally many
    entries; otherwise the totals must agree.

    Raises:
        DataError: one line naming both files (or chains) and their entry counts.
    """
    if len(first.files) == len(second.files):
        for i, (a, b) in enumerate(
            zip(first.entries_per_file, second.entries_per_file, strict=True)
        ):
            if a != b:
                raise DataError(
                    f"{first.where(i)} has {a} entries but {second.where(i)} has {b}; "
                    "the trees must be aligned entry by entry"
                )
    elif first.n_entries != second.n_entries:
        raise DataError(
            f"{first.where()} has {first.n_entries} entries but {second.where()} has "
            f"{second.n_entries}; the trees must be aligned entry by entry"
        )
