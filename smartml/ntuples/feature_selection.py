"""Which features to read from an ntuple: the ``FeatureSelection`` schema and its
resolution against the branches of a tree.

A selection combines, in this order (a name given twice is kept once, first place):

- ``branches``: explicit names; a jagged branch (a variable number of objects per
  event, e.g. ``Muon_Px``) needs an object index, ``Muon_Px[0]`` (the leading one);
- ``prefixes`` × ``suffixes`` with DeepMEM's semantics: the lists at the same index
  combine, every prefix of ``prefixes[i]`` with every suffix of ``suffixes[i]``
  (a combination may carry an object index too: prefix ``Jet_``, suffix ``PT[0]``);
- ``wildcards``: shell patterns (``fnmatch``, case-sensitive) over the tree's flat
  branches, in the tree's order (jagged branches are only selected with an index);
- ``derived``: features computed by name (:mod:`smartml.ntuples.derived_features`):
  ``delta_phi`` of one φ relative to another, wrapped to (−π, π] (or its size),
  ``invariant_mass`` of two objects from pT, η, φ (massless or with given masses) and
  ``balance`` ``(a − b)/(a + b)`` of two quantities.

A name may stand for another branch of a given file, or for a quantity computed from
its Cartesian components, through the ``aliases`` given to :func:`resolve`
(:mod:`smartml.ntuples.aliases`): one selection then reads samples whose branches are
named differently.

An event lacking an indexed object (``Muon_Px[1]`` with one muon) is dropped and
counted (``missing_object: "drop"``) or gets ``fill_value`` (``"fill"``); a derived
feature with a missing input gets ``fill_value`` too.

>>> selection = FeatureSelection(prefixes=[["lep1_"], ["lep2_", "j1_"], ["MET"]],
...                              suffixes=[["PT"], ["PT", "Eta"], ["", "_Phi"]])
>>> [c.name for c in selection.combinations()]
['lep1_PT', 'lep2_PT', 'lep2_Eta', 'j1_PT', 'j1_Eta', 'MET', 'MET_Phi']
"""

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from smartml.config.strict import FiniteFloat, StrictModel
from smartml.errors import DataError
from smartml.ntuples.aliases import AliasMap, resolve_column
from smartml.ntuples.aliases import Column as Column  # re-exported: readers use it
from smartml.ntuples.aliases import nearest as nearest  # re-exported: readers use it

_NonEmpty = Annotated[str, Field(min_length=1)]
_Mass = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ParticleBranches(StrictModel):
    """The branches (or indexed jagged branches) of one object's kinematics."""

    pt: _NonEmpty
    eta: _NonEmpty
    phi: _NonEmpty
    mass: _Mass = 0.0


class DeltaPhiFeature(StrictModel):
    """``phi − reference``, wrapped to (−π, π] (e.g. φ relative to the leading lepton);
    with ``absolute`` its size in [0, π] (no jump where back-to-back pairs wrap)."""

    kind: Literal["delta_phi"]
    name: _NonEmpty
    phi: _NonEmpty
    reference: _NonEmpty
    absolute: bool = False

    def inputs(self) -> list[str]:
        return [self.phi, self.reference]

    def formula(self) -> str:
        formula = f"delta_phi({self.phi}, {self.reference})"
        return f"|{formula}|" if self.absolute else formula


class InvariantMassFeature(StrictModel):
    """The invariant mass of two objects (massless unless ``mass`` is given)."""

    kind: Literal["invariant_mass"]
    name: _NonEmpty
    objects: Annotated[list[ParticleBranches], Field(min_length=2, max_length=2)]

    def inputs(self) -> list[str]:
        return [name for obj in self.objects for name in (obj.pt, obj.eta, obj.phi)]

    def formula(self) -> str:
        parts = [f"({o.pt}, {o.eta}, {o.phi}, m={o.mass:g})" for o in self.objects]
        return f"invariant_mass{parts[0]}{parts[1]}"


class BalanceFeature(StrictModel):
    """``(first − second) / (first + second)``: e.g. the pT balance of two objects
    (0 when they balance, as the two leptons of a Drell–Yan pair do at leading order)."""

    kind: Literal["balance"]
    name: _NonEmpty
    first: _NonEmpty
    second: _NonEmpty

    def inputs(self) -> list[str]:
        return [self.first, self.second]

    def formula(self) -> str:
        return f"balance({self.first}, {self.second})"


def pair_mass(name: str, first: str, second: str, mass: float = 0.0) -> dict[str, Any]:
    """The ``invariant_mass`` feature of two objects named in DeepMEM's style
    (``<prefix>PT``, ``<prefix>Eta``, ``<prefix>Phi``), as a config writes it.

    >>> pair_mass("mll", "lep1_", "lep2_")["objects"][1]
    {'pt': 'lep2_PT', 'eta': 'lep2_Eta', 'phi': 'lep2_Phi', 'mass': 0.0}
    """
    objects = [
        {"pt": f"{prefix}PT", "eta": f"{prefix}Eta", "phi": f"{prefix}Phi", "mass": mass}
        for prefix in (first, second)
    ]
    return {"kind": "invariant_mass", "name": name, "objects": objects}


AnyDerivedFeature = DeltaPhiFeature | InvariantMassFeature | BalanceFeature
DerivedFeature = Annotated[AnyDerivedFeature, Field(discriminator="kind")]


@dataclass(frozen=True)
class Combination:
    """One name made by ``prefixes`` × ``suffixes``, with where it came from."""

    name: str
    prefix: str
    suffix: str
    group: int


class FeatureSelection(StrictModel):
    """The features to read from a tree (see the module docstring)."""

    branches: list[_NonEmpty] = Field(default_factory=list)
    prefixes: list[list[str]] = Field(default_factory=list)
    suffixes: list[list[str]] = Field(default_factory=list)
    wildcards: list[_NonEmpty] = Field(default_factory=list)
    derived: list[DerivedFeature] = Field(default_factory=list)
    missing_object: Literal["drop", "fill"] = "drop"
    fill_value: FiniteFloat = 0.0

    @model_validator(mode="after")
    def _consistent(self) -> "FeatureSelection":
        if len(self.prefixes) != len(self.suffixes):
            raise ValueError(
                f"prefixes has {len(self.prefixes)} lists but suffixes has "
                f"{len(self.suffixes)}; the lists at the same index combine"
            )
        if not (self.branches or self.prefixes or self.wildcards or self.derived):
            raise ValueError(
                "no feature selected: give branches, prefixes/suffixes, wildcards or derived"
            )
        names = [feature.name for feature in self.derived]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"derived feature {twice[0]!r} is defined twice")
        return self

    def combinations(self) -> list[Combination]:
        """The names of ``prefixes`` × ``suffixes``, group by group, prefix-major."""
        return [
            Combination(prefix + suffix, prefix, suffix, group)
            for group, (prefixes, suffixes) in enumerate(
                zip(self.prefixes, self.suffixes, strict=True)
            )
            for prefix in prefixes
            for suffix in suffixes
        ]


@dataclass(frozen=True)
class ResolvedSelection:
    """A selection applied to a tree's branches.

    Attributes:
        feature_names: the output features, in order.
        columns: every branch value read (the features and the inputs of derived ones),
            by name.
        derived: the derived features, by name.
        missing_object: "drop" or "fill"; fill_value: the value filled in.
    """

    feature_names: list[str]
    columns: dict[str, Column]
    derived: dict[str, AnyDerivedFeature]
    missing_object: str
    fill_value: float

    @property
    def branches(self) -> list[str]:
        """The branches to read, each once."""
        return list(dict.fromkeys(leaf.branch for leaf in self.leaves()))

    def leaves(self) -> list[Column]:
        """The branch columns read (an alias computed from components: its components)."""
        return [leaf for column in self.columns.values() for leaf in column.leaves()]

    def source_of(self, feature: str) -> str:
        """Where a feature comes from: its branch (``Muon_Px`` for ``Muon_Px[0]``), the
        formula of an alias computed from components, or that of a derived feature."""
        if feature in self.derived:
            return self.derived[feature].formula()
        return self.columns[feature].formula()


def resolve(
    selection: FeatureSelection,
    jagged: Mapping[str, bool],
    where: str,
    aliases: AliasMap | None = None,
    aliases_key: str = "aliases",
) -> ResolvedSelection:
    """Apply ``selection`` to the branches of a tree.

    Args:
        selection: the features asked for.
        jagged: each branch of the tree (in the tree's order) -> whether it is jagged.
        where: the file and tree, first in messages (``"a.root: tree 'events'"``).
        aliases: names of the selection -> the tree's branches or computed quantities
            (:mod:`smartml.ntuples.aliases`); an aliased name is read through its alias.
        aliases_key: the aliases' config key, first in messages about an alias.

    Returns:
        the resolved selection.

    Raises:
        DataError: one line naming the tree and the branch that is missing (with the
            nearest existing ones), a prefix × suffix combination or wildcard that matches
            nothing, a jagged branch without an index or an index on a flat branch.
    """
    columns: dict[str, Column] = {}

    def column(name: str, origin: str = "") -> Column:
        if name not in columns:
            columns[name] = resolve_column(name, jagged, where, aliases, aliases_key, origin)
        return columns[name]

    features: list[str] = [column(name).name for name in selection.branches]
    for combo in selection.combinations():
        origin = (
            f"prefixes[{combo.group}] × suffixes[{combo.group}] "
            f"({combo.prefix!r} + {combo.suffix!r}): "
        )
        features.append(column(combo.name, origin).name)
    for pattern in selection.wildcards:
        features += [column(name).name for name in _wildcard_matches(pattern, jagged, where)]
    derived = {feature.name: feature for feature in selection.derived}
    for feature in selection.derived:
        if feature.name in jagged or feature.name in columns or feature.name in (aliases or {}):
            raise DataError(
                f"{where}: derived feature {feature.name!r} has the name of a branch; "
                "choose another name"
            )
        for name in feature.inputs():
            column(name, f"derived feature {feature.name!r}: ")
        features.append(feature.name)
    return ResolvedSelection(
        feature_names=list(dict.fromkeys(features)),
        columns=columns,
        derived=derived,
        missing_object=selection.missing_object,
        fill_value=selection.fill_value,
    )


def _wildcard_matches(pattern: str, jagged: Mapping[str, bool], where: str) -> list[str]:
    """The flat branches matching ``pattern``, in the tree's order."""
    matches = [name for name in jagged if fnmatch.fnmatchcase(name, pattern)]
    flat = [name for name in matches if not jagged[name]]
    if flat:
        return flat
    if matches:
        raise DataError(
            f"{where}: wildcard {pattern!r} matches only jagged branches ({', '.join(matches)}); "
            f"select their objects in branches, e.g. '{matches[0]}[0]'"
        )
    raise DataError(
        f"{where}: wildcard {pattern!r} matches no branch{nearest(pattern, list(jagged))}"
    )
