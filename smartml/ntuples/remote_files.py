"""Remote ROOT files opened with uproot: ``root://``/``xroot://`` (XRootD, e.g. EOS)
through fsspec-xrootd, the ``xrootd`` extra; ``http://``/``https://`` through uproot's
own HTTP source (the standard library's client: no aiohttp needed), which reads the
file in byte ranges (the server must answer ``Range`` requests, as web servers and
EOS do).

Every failure is one :class:`~smartml.errors.DataError` line naming the URL.
"""

import base64
import http.client
import importlib.util
from typing import Any
from urllib.parse import SplitResult, urlsplit

import uproot

from smartml.errors import DataError, first_line
from smartml.locations import is_xrootd
from smartml.ntuples.branches import UNREADABLE

# Seconds to wait for a server (per request) before the read fails: without it, the
# XRootD client retries an unreachable host for many minutes.
TIMEOUT_S = 60


def open_remote(url: str) -> Any:
    """The remote ROOT file ``url``, opened with uproot (no array cache).

    Raises:
        DataError: one line naming the URL: fsspec-xrootd missing for root://, the
            server unreachable, the file missing or refused, or not a ROOT file.
    """
    if is_xrootd(url):
        if importlib.util.find_spec("fsspec_xrootd") is None:
            raise DataError(
                f"{url}: reading root:// (XRootD) needs fsspec-xrootd: "
                'pip install "smartml-hep[xrootd]"'
            )
        options: dict[str, Any] = {"timeout": TIMEOUT_S}  # fsspec-xrootd's, in seconds
    else:
        _check_http(url)
        options = {"handler": uproot.source.http.HTTPSource, "timeout": TIMEOUT_S}
    try:
        return uproot.open(url, array_cache=None, **options)
    except FileNotFoundError as err:
        raise DataError(f"{url}: no such remote file ({first_line(err)})") from None
    except UNREADABLE as err:
        raise DataError(f"{url}: cannot read the remote ROOT file ({first_line(err)})") from None


def _check_http(url: str) -> None:
    """Ask the server about the file first: a missing file or a refusal is named before
    uproot reads (whose error paths leave the response's socket open). HEAD first; a
    URL signed for GET only (S3 presigned) answers HEAD 403, so a refused HEAD is asked
    again as a one-byte GET. Any other answer (a redirect, 405) is left to uproot.

    Raises:
        DataError: the server cannot be reached, or answers 401, 403, 404 or 410.
    """
    parts = urlsplit(url)
    status, reason = _ask(url, parts, "HEAD")
    if status in (401, 403, 405):
        status, reason = _ask(url, parts, "GET")
    if status in (404, 410):
        raise DataError(f"{url}: no such remote file (HTTP {status} {reason})")
    if status in (401, 403):
        raise DataError(f"{url}: the server refuses the file (HTTP {status} {reason})")


def _ask(url: str, parts: SplitResult, method: str) -> tuple[int, str]:
    """(status, reason) of one request for the file (a GET asks for its first byte).

    Raises:
        DataError: the server cannot be reached.
    """
    headers = _credentials(parts)
    if method == "GET":
        headers["Range"] = "bytes=0-0"
    connection = _connection(parts)
    try:
        connection.request(method, _target(parts), headers=headers)
        response = connection.getresponse()
        response.read()  # at most one byte; a read response releases its socket
        response.close()
        return response.status, response.reason
    except (OSError, http.client.HTTPException) as err:
        raise DataError(f"{url}: cannot read the remote ROOT file ({first_line(err)})") from None
    finally:
        connection.close()


def _connection(parts: SplitResult) -> http.client.HTTPConnection:
    """An HTTP(S) connection to the URL's host (not yet opened)."""
    if parts.scheme.lower() == "https":
        return http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=TIMEOUT_S)
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=TIMEOUT_S)


def _target(parts: SplitResult) -> str:
    """The request target: the URL's path and query."""
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _credentials(parts: SplitResult) -> dict[str, str]:
    """Basic authentication from ``https://user:password@host/...`` (as uproot sends)."""
    if parts.username is None:
        return {}
    secret = f"{parts.username}:{parts.password or ''}".encode()
    return {"Authorization": "Basic " + base64.b64encode(secret).decode()}
