"""Input locations: a local path, or the URL of a remote ROOT file.

ROOT files are read by uproot, which reads ``http://`` and ``https://`` URLs itself
and ``root://`` (XRootD, e.g. EOS) URLs through fsspec-xrootd (the ``xrootd`` extra).
A URL must stay a string: ``Path("root://host//store/a.root")`` collapses the
double slash that separates the XRootD host from its absolute path.

>>> as_location("root://eos.cern.ch//store/a.root")
'root://eos.cern.ch//store/a.root'
>>> as_location("data/a.root")
PosixPath('data/a.root')
>>> location_suffix("https://host:8443/files/a.ROOT?version=2")
'.root'
"""

import re
from pathlib import Path, PurePosixPath
from typing import TypeAlias
from urllib.parse import urlsplit

# Schemes uproot reads; root:// and xroot:// are both XRootD.
XROOTD_SCHEMES = ("root", "xroot")
HTTP_SCHEMES = ("http", "https")
_REMOTE = re.compile(rf"^(?:{'|'.join(XROOTD_SCHEMES + HTTP_SCHEMES)})://", re.IGNORECASE)

Location: TypeAlias = str | Path


def is_remote(location: Location) -> bool:
    """Whether ``location`` is a URL uproot reads (``root://``, ``xroot://``,
    ``http://``, ``https://``); a :class:`Path` never is."""
    return isinstance(location, str) and _REMOTE.match(location) is not None


def is_xrootd(location: Location) -> bool:
    """Whether ``location`` is a ``root://`` or ``xroot://`` URL."""
    return is_remote(location) and urlsplit(str(location)).scheme.lower() in XROOTD_SCHEMES


def as_location(name: Location) -> Location:
    """A command-line or configuration entry as a location: a URL stays a string,
    anything else becomes a :class:`Path`."""
    return name if is_remote(name) else Path(name)


def location_suffix(location: Location) -> str:
    """The lower-case suffix of the file a location names (a URL's query and
    fragment ignored): ``".root"``, ``".h5"``, or ``""``."""
    if is_remote(location):
        return PurePosixPath(urlsplit(str(location)).path).suffix.lower()
    return Path(location).suffix.lower()
