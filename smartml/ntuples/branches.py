"""Reading branches of a ROOT tree: which ones are jagged, an entry range of some of
them, and the errors that mean "this file cannot be read" (:data:`UNREADABLE`).

The readers of :mod:`smartml.ntuples` (the chained reader, the aliases, remote files,
typed columns, file summaries) share these; this module imports none of them.
"""

import http.client
import zlib
from typing import Any

import uproot

from smartml.errors import DataError, first_line

# What uproot raises on bytes that are not (or no longer) a ROOT file, or that a
# server stops sending (http.client's errors are not OSErrors).
UNREADABLE = (
    OSError,
    ValueError,
    zlib.error,
    http.client.HTTPException,
    uproot.deserialization.DeserializationError,
)


def jagged_branches(tree: Any) -> dict[str, bool]:
    """Each branch of ``tree`` (in order) -> whether it holds a list of objects per event."""
    return {
        branch.name: isinstance(branch.interpretation, uproot.AsJagged) for branch in tree.branches
    }


def read_branches(
    tree: Any, branches: set[str], entry_start: int, entry_stop: int, where: str
) -> Any:
    """The branches named in ``branches``, entries [start, stop), as awkward arrays.

    Raises:
        DataError: the range cannot be read (one line naming the file).
    """
    try:
        return tree.arrays(
            filter_name=lambda name: name in branches,
            entry_start=entry_start,
            entry_stop=entry_stop,
            library="ak",
        )
    except UNREADABLE as err:
        raise DataError(
            f"{where}: cannot read entries {entry_start}-{entry_stop} ({first_line(err)})"
        ) from None
