"""RNTuples (ROOT's successor of the TTree) read through the TTree interface that the
readers (:class:`~smartml.ntuples.root_reader.NtupleReader`, ``smartml.inspect``,
``smartml.convert``) use.

uproot 5.7 reads an RNTuple's top-level fields much as a TTree's branches:
``num_entries``, ``keys()``, ``arrays``/``iterate`` (``filter_name``, an entry range,
``library``) and ``rntuple[field].array(...)``. :class:`RNTupleTree` adds what the
readers take from a TTree and uproot's RNTuple lacks: ``branches`` with an
``interpretation`` (a number, a list of numbers per event, or neither).

What uproot does not do for an RNTuple is refused in one line naming the RNTuple,
never answered wrongly: uproot 5.7 ignores a ``cut`` and returns empty records for
``aliases`` or formula expressions; a field whose columns it cannot decode raises
NotImplementedError.
"""

from collections.abc import Callable, Iterator
from typing import Any

import awkward as ak
import numpy as np
import uproot

from smartml.errors import DataError

RNTUPLE_CLASS = "ROOT::RNTuple"
# Field types read as numbers (booleans count, as for TTree branches).
_NUMBER_KINDS = "biuf"


def is_rntuple(found: Any) -> bool:
    """Whether an object read from a ROOT file is an RNTuple."""
    return getattr(found, "classname", None) == RNTUPLE_CLASS


def _numbers_dtype(form: Any) -> np.dtype | None:
    """The dtype of a form holding plain numbers, else None."""
    if not isinstance(form, ak.forms.NumpyForm) or form.inner_shape or form.parameters:
        return None
    dtype = np.dtype(ak.types.numpytype.primitive_to_dtype(form.primitive))
    return dtype if dtype.kind in _NUMBER_KINDS else None


def field_interpretation(field: Any) -> Any:
    """An uproot interpretation describing a top-level field: ``AsDtype`` for a number
    per event, ``AsJagged(AsDtype)`` for a list of numbers per event, None otherwise
    (strings, records, lists of lists)."""
    record, _ = field.to_akform()
    form = record.contents[0]
    flat = _numbers_dtype(form)
    if flat is not None:
        return uproot.AsDtype(flat)
    if isinstance(form, ak.forms.ListOffsetForm | ak.forms.ListForm) and not form.parameters:
        content = _numbers_dtype(form.content)
        if content is not None:
            return uproot.AsJagged(uproot.AsDtype(content))
    return None


class RNTupleBranch:
    """One top-level field of an RNTuple, seen as a TTree branch.

    Attributes:
        name: the field's name.
        typename: the field's C++ type.
        interpretation: how uproot reads it (see :func:`field_interpretation`).
        count_branch: always None (an RNTuple keeps its list offsets inside the field).
    """

    count_branch = None

    def __init__(self, field: Any, where: str):
        self._field = field
        self._where = where
        self.name: str = field.name
        self.typename: str = field.typename
        self.interpretation = field_interpretation(field)

    def array(
        self, entry_start: int | None = None, entry_stop: int | None = None, library: str = "ak"
    ) -> Any:
        """The field's values for entries [entry_start, entry_stop).

        Raises:
            DataError: uproot cannot decode the field.
        """
        try:
            return self._field.array(
                entry_start=entry_start, entry_stop=entry_stop, library=library
            )
        except NotImplementedError as err:
            raise DataError(
                f"{self._where}: uproot cannot read field {self.name!r} of the RNTuple ({err})"
            ) from None


class RNTupleTree:
    """An RNTuple with the TTree interface of the readers.

    Args:
        rntuple: what uproot read (``file[name]`` of class ``ROOT::RNTuple``).
        path: the file, named in messages.
    """

    classname = RNTUPLE_CLASS

    def __init__(self, rntuple: Any, path: object):
        self._rntuple = rntuple
        self.name: str = rntuple.name
        self._where = f"{path}: RNTuple {self.name!r}"
        self.branches = [RNTupleBranch(field, self._where) for field in rntuple.fields]
        self._by_name = {branch.name: branch for branch in self.branches}

    @property
    def file(self) -> Any:
        """The open file (``close()`` closes it)."""
        return self._rntuple.file

    @property
    def num_entries(self) -> int:
        """Entries of the RNTuple."""
        return int(self._rntuple.num_entries)

    def keys(self) -> list[str]:
        """The top-level field names, in order."""
        return list(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> RNTupleBranch:
        """The top-level field ``name``.

        Raises:
            uproot.KeyInFileError: no such field (as for a TTree's branch).
        """
        if name not in self._by_name:
            raise uproot.KeyInFileError(name, file_path=self._where)
        return self._by_name[name]

    def _field_filter(
        self,
        expressions: Any,
        cut: Any,
        aliases: Any,
        filter_name: Callable[[str], bool] | None,
    ) -> Callable[[str], bool]:
        """The fields to read as one ``filter_name``: uproot computes nothing for an
        RNTuple (it takes no expressions besides), so only field names may be asked for.

        Raises:
            DataError: a cut, aliases or a formula asked for.
        """
        names = [expressions] if isinstance(expressions, str) else list(expressions or [])
        formulas = [name for name in names if name not in self._by_name]
        if cut is not None or aliases or formulas:
            asked = "a cut" if cut is not None else "aliases" if aliases else repr(formulas[0])
            raise DataError(
                f"{self._where}: uproot does not compute expressions for an RNTuple "
                f"({asked}); ask for its fields by name"
            )
        chosen = set(names) if names else None
        return lambda name: (
            (chosen is None or name in chosen) and (filter_name is None or filter_name(name))
        )

    def arrays(
        self,
        expressions: Any = None,
        cut: Any = None,
        *,
        filter_name: Callable[[str], bool] | None = None,
        aliases: Any = None,
        entry_start: int | None = None,
        entry_stop: int | None = None,
        library: str = "ak",
    ) -> Any:
        """The fields named by ``expressions`` or passing ``filter_name`` (all by
        default), entries [entry_start, entry_stop).

        Raises:
            DataError: a cut, aliases or formula asked for; a field uproot cannot decode.
        """
        wanted = self._field_filter(expressions, cut, aliases, filter_name)
        try:
            return self._rntuple.arrays(
                filter_name=wanted,
                entry_start=entry_start,
                entry_stop=entry_stop,
                library=library,
            )
        except NotImplementedError as err:
            raise DataError(f"{self._where}: uproot cannot read it ({err})") from None

    def iterate(
        self,
        expressions: Any = None,
        cut: Any = None,
        *,
        filter_name: Callable[[str], bool] | None = None,
        aliases: Any = None,
        step_size: int | str = "100 MB",
        library: str = "ak",
    ) -> Iterator[Any]:
        """:meth:`arrays` over the whole RNTuple, ``step_size`` entries at a time.

        Raises:
            DataError: as :meth:`arrays`.
        """
        wanted = self._field_filter(expressions, cut, aliases, filter_name)
        try:
            yield from self._rntuple.iterate(
                filter_name=wanted, step_size=step_size, library=library
            )
        except NotImplementedError as err:
            raise DataError(f"{self._where}: uproot cannot read it ({err})") from None
