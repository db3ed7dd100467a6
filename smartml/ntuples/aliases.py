"""Branch aliases: the names a task uses (``lep1_PT``) mapped onto a file's own branches.

An alias maps a name onto one of

- a branch, flat (``"pt1"``) or one object of a jagged branch (``"Muon_PT[0]"``);
- a quantity computed from Cartesian components, for files holding only those:
  ``{"pt_from": [px, py]}`` (√(px² + py²)), ``{"eta_from": [px, py, pz]}``
  (asinh(pz / pT)) or ``{"phi_from": [px, py]}`` (atan2(py, px)), each component a
  branch or an indexed object (``"Muon_Px[0]"``).

A name without an alias is the branch of that name. Aliases are checked against a
tree before any read (:func:`check_aliases`): a missing branch is one line naming the
alias, the branch, the file and the nearest existing branches. An event lacking an
indexed object (``Muon_Px[1]`` with one muon) is reported as absent (:func:`column_values`),
and the caller's ``missing_object`` policy applies (drop the event or fill a value).

>>> parse_alias("lep1_PT=pt1")
('lep1_PT', 'pt1')
>>> check = Aliases.validate_python({"lep1_Eta": {"eta_from": ["Px[0]", "Py[0]", "Pz[0]"]}})
>>> check["lep1_Eta"].formula()
'eta_from(Px[0], Py[0], Pz[0])'
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Discriminator, Field, Tag, TypeAdapter, model_validator

from smartml.config.strict import StrictModel
from smartml.errors import ConfigError, DataError
from smartml.files import DATA_FILE_SUFFIXES, parse_data_file

# "Muon_Px[0]": the object index of a jagged branch.
OBJECT_INDEX = re.compile(r"(?P<branch>.+)\[(?P<index>\d+)\]")
_Name = Annotated[str, Field(min_length=1)]


class ComputedAlias(StrictModel):
    """A kinematic quantity computed from Cartesian momentum components (exactly one key)."""

    pt_from: Annotated[list[_Name], Field(min_length=2, max_length=2)] | None = None
    eta_from: Annotated[list[_Name], Field(min_length=3, max_length=3)] | None = None
    phi_from: Annotated[list[_Name], Field(min_length=2, max_length=2)] | None = None

    @model_validator(mode="after")
    def _one_quantity(self) -> ComputedAlias:
        given = [key for key in ("pt_from", "eta_from", "phi_from") if getattr(self, key)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of pt_from [px, py], eta_from [px, py, pz], "
                f"phi_from [px, py]; got {', '.join(given) or 'none'}"
            )
        return self

    @property
    def quantity(self) -> str:
        """``"pt"``, ``"eta"`` or ``"phi"``."""
        return "pt" if self.pt_from else "eta" if self.eta_from else "phi"

    @property
    def components(self) -> list[str]:
        """The component columns, in the order of the key."""
        return list(self.pt_from or self.eta_from or self.phi_from or [])

    def formula(self) -> str:
        return f"{self.quantity}_from({', '.join(self.components)})"


def _target_kind(value: Any) -> str:
    """Which form an alias takes: a computed quantity (an object), or a branch name
    (anything else), so that a malformed one is reported against the form meant."""
    return "computed" if isinstance(value, (dict, ComputedAlias)) else "branch"


AliasTarget = Annotated[
    Annotated[_Name, Tag("branch")] | Annotated[ComputedAlias, Tag("computed")],
    Discriminator(_target_kind),
]
Aliases = TypeAdapter(dict[_Name, AliasTarget])
AliasMap = Mapping[str, "str | ComputedAlias"]


@dataclass(frozen=True)
class Column:
    """A value per event: one branch (flat, or object ``index`` of a jagged one), or a
    quantity computed from component columns.

    Attributes:
        name: the name the selection uses.
        branch, index: the branch read (for a computed column: its first component's).
        computed: ``"pt"``, ``"eta"``, ``"phi"`` or None; components: its columns.
    """

    name: str
    branch: str
    index: int | None = None
    computed: str | None = None
    components: tuple[Column, ...] = ()

    def leaves(self) -> tuple[Column, ...]:
        """The branch columns read to evaluate this one."""
        return self.components or (self,)

    def formula(self) -> str:
        """Where the values come from: the branch, or ``pt_from(Muon_Px[0], ...)``."""
        if self.computed is None:
            return self.branch
        return f"{self.computed}_from({', '.join(c.name for c in self.components)})"


def nearest(name: str, candidates: list[str], n: int = 3) -> str:
    """``"; nearest: a, b"`` for the candidates closest to ``name`` ("" when none is close).

    >>> nearest("lep1_Pt", ["lep1_PT", "lep2_PT", "MET"])
    '; nearest: lep1_PT, lep2_PT'
    """
    close = difflib.get_close_matches(name, candidates, n=n, cutoff=0.6)
    return f"; nearest: {', '.join(close)}" if close else ""


def parse_alias(text: str, option: str = "--branch") -> tuple[str, str]:
    """``"lep1_PT=pt1"`` -> ``("lep1_PT", "pt1")`` (a command line's alias).

    Raises:
        ConfigError: no ``=``, or an empty side (the message names ``option``).
    """
    name, equals, branch = (part.strip() for part in text.partition("="))
    if not (equals and name and branch):
        raise ConfigError(f"{option} {text!r}: expected NAME=BRANCH, e.g. lep1_PT=pt1")
    return name, branch


def load_aliases_file(path: str | Path) -> dict[str, str | ComputedAlias]:
    """The aliases of a YAML or JSON file holding one mapping ``name: target`` (a
    branch, or a computed quantity as in a configuration).

    Raises:
        ConfigError: one line naming the file (and the alias) when it cannot be read,
            is not a mapping or holds a malformed alias.
    """
    from pydantic import ValidationError

    path = Path(path)
    if path.suffix.lower() not in DATA_FILE_SUFFIXES:
        raise ConfigError(f"{path}: an aliases file must end in {', '.join(DATA_FILE_SUFFIXES)}")
    content = parse_data_file(path, "aliases file")
    if not isinstance(content, dict) or not content:
        raise ConfigError(f"{path}: expected a mapping of name: branch, e.g. lep1_PT: pt1")
    try:
        return dict(Aliases.validate_python(content))
    except ValidationError as err:
        first = err.errors()[0]
        at = ".".join(str(part) for part in first["loc"][:1])
        raise ConfigError(f"{path}: {at}: {first['msg']}") from None


def aliases_record(aliases: AliasMap | None) -> dict[str, str]:
    """Each alias as its formula (a branch, or ``pt_from(Muon_Px[0], Muon_Py[0])``),
    sorted by name: what a run records to refuse resuming with other aliases.

    >>> aliases_record({"lep1_PT": "pt1", "lep1_Phi": {"phi_from": ["px", "py"]}})
    {'lep1_PT': 'pt1', 'lep1_Phi': 'phi_from(px, py)'}
    """
    checked = Aliases.validate_python(aliases or {})
    return {
        name: target if isinstance(target, str) else target.formula()
        for name, target in sorted(checked.items())
    }


def parse_aliases(texts: Sequence[str], option: str = "--branch") -> dict[str, str]:
    """The aliases of several ``NAME=BRANCH`` strings.

    Raises:
        ConfigError: a malformed string, or a name given twice.
    """
    aliases: dict[str, str] = {}
    for text in texts:
        name, branch = parse_alias(text, option)
        if name in aliases:
            raise ConfigError(f"{option} {text!r}: {name!r} is already mapped to {aliases[name]!r}")
        aliases[name] = branch
    return aliases


def branch_column(
    name: str, jagged: Mapping[str, bool], where: str, origin: str = "", alias: str = ""
) -> Column:
    """The column ``name`` (``Branch`` or ``Branch[i]``), checked against the tree.

    Args:
        name: the column as written; jagged: each branch -> whether it is jagged.
        where: file and tree (``"a.root: tree 'events'"``).
        origin: what asked for it, put after ``where`` (``"derived feature 'mll': "``).
        alias: the config key of the alias that maps onto it
            (``data.samples[hzz].aliases.lep1_PT``), first in messages when given.

    Raises:
        DataError: the branch is missing (with the nearest), a jagged branch has no
            index or a flat one has one.
    """
    indexed = OBJECT_INDEX.fullmatch(name)
    branch, index = (indexed["branch"], int(indexed["index"])) if indexed else (name, None)
    if alias:
        where, origin = alias, f"{where}: "
    if branch not in jagged:
        close = nearest(branch, list(jagged))
        if alias:
            raise DataError(f"{alias}: branch {branch!r} not in {origin[:-2]}{close}")
        raise DataError(f"{where}: {origin}no branch {branch!r}{close}")
    if jagged[branch] and index is None:
        raise DataError(
            f"{where}: {origin}{branch!r} is a jagged branch (objects per event): select "
            f"one object with an index, e.g. '{branch}[0]'"
        )
    if not jagged[branch] and index is not None:
        raise DataError(
            f"{where}: {origin}{name!r}: {branch!r} holds one value per event, not a list "
            f"of objects; write {branch!r} without an index"
        )
    return Column(name, branch, index)


def resolve_column(
    name: str,
    jagged: Mapping[str, bool],
    where: str,
    aliases: AliasMap | None = None,
    key: str = "aliases",
    origin: str = "",
) -> Column:
    """The column a name stands for: its alias when it has one, else its own branch.

    Args:
        name: the name the task uses; jagged: the tree's branches -> jagged or not.
        where: file and tree; aliases: name -> target; key: the aliases' config key
            (``data.samples[hzz].aliases``), first in messages about an alias.
        origin: what asked for an unaliased name (e.g. ``"derived feature 'mll': "``).

    Raises:
        DataError: see :func:`branch_column`.
    """
    target = (aliases or {}).get(name)
    if target is None:
        return branch_column(name, jagged, where, origin)
    at = f"{key}.{name}"
    if isinstance(target, str):
        column = branch_column(target, jagged, where, alias=at)
        return Column(name, column.branch, column.index)
    components = tuple(branch_column(c, jagged, where, alias=at) for c in target.components)
    first = components[0]
    return Column(name, first.branch, first.index, target.quantity, components)


def check_aliases(
    tree: Any, names: Sequence[str], aliases: AliasMap | None, where: str, key: str = "aliases"
) -> list[Column]:
    """Resolve ``names`` in an uproot tree before any read.

    Args:
        tree: an ``uproot.TTree``; names: the names needed; aliases: name -> target;
        where: the file and tree in messages; key: the aliases' config key.

    Returns:
        the columns, in the order of ``names``.

    Raises:
        DataError: one line naming the alias (or name), the missing branch and the file.
    """

    from smartml.ntuples.branches import jagged_branches  # see column_values

    jagged = jagged_branches(tree)
    checked = Aliases.validate_python(aliases or {})  # plain strings/dicts as a config has them
    return [resolve_column(name, jagged, where, checked, key) for name in names]


def column_values(
    arrays: Mapping[str, Any], column: Column, fill_value: float
) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, whether the event has every object) of one column.

    Args:
        arrays: the read branches (awkward or numpy arrays by branch name).
        column: what to evaluate; fill_value: the value of an event lacking an object.
    """
    # awkward and uproot are imported here, not at the top: validating a config imports
    # this module for its schema, and they would add 0.3 s to every config load.
    import awkward as ak

    values, present = [], []
    for leaf in column.leaves():
        array = arrays[leaf.branch]
        if leaf.index is not None:
            has_object = ak.to_numpy(ak.num(array, axis=1) > leaf.index)
            array = ak.pad_none(array, leaf.index + 1, axis=1, clip=True)[:, leaf.index]
            array = ak.fill_none(array, fill_value)
        numbers = np.asarray(ak.to_numpy(array), dtype=np.float64)
        if leaf.index is None:
            has_object = np.ones(len(numbers), dtype=bool)
        values.append(numbers)
        present.append(has_object)
    complete = np.logical_and.reduce(present)
    if column.computed is None:
        return values[0], complete
    with np.errstate(divide="ignore", invalid="ignore"):
        result = _KINEMATICS[column.computed](*values)
    return np.where(complete, result, fill_value), complete


def _pt(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    return np.hypot(px, py)


def _eta(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> np.ndarray:
    # asinh(pz / pT): exact for massless and massive objects alike (η depends on
    # direction only); pT = 0 gives ±inf, reported as a non-finite feature.
    return np.arcsinh(pz / np.hypot(px, py))


def _phi(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    return np.arctan2(py, px)


_KINEMATICS: dict[str, Callable[..., np.ndarray]] = {"pt": _pt, "eta": _eta, "phi": _phi}


def read_columns(
    tree: Any,
    names: Sequence[str],
    aliases: AliasMap | None,
    entry_start: int,
    entry_stop: int,
    where: str,
    key: str = "aliases",
) -> dict[str, np.ndarray]:
    """The values of ``names`` (through their aliases) for entries [start, stop).

    Args:
        tree: an ``uproot.TTree``; names: the names wanted; aliases: name -> target;
        entry_start, entry_stop: the entry range; where: file and tree in messages;
        key: the aliases' config key in messages.

    Returns:
        name -> float64 array of the range; NaN where an event lacks an indexed object.

    Raises:
        DataError: a missing branch (see :func:`check_aliases`) or an unreadable range.
    """
    from smartml.ntuples.branches import read_branches  # see column_values

    columns = check_aliases(tree, names, aliases, where, key)
    wanted = {leaf.branch for column in columns for leaf in column.leaves()}
    arrays = read_branches(tree, wanted, entry_start, entry_stop, where)
    result = {}
    for column in columns:
        values, present = column_values(arrays, column, np.nan)
        result[column.name] = np.where(present, values, np.nan)
    return result
