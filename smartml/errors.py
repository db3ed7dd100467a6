"""Errors a user can act on.

Each is raised with one line that names the file, column or configuration key at
fault and what was expected; the command-line entry points print that line (no
traceback) and exit with status 2.
"""


class SmartmlError(Exception):
    """Base class of every error smartml reports to its user."""


class ConfigError(SmartmlError):
    """A run configuration is missing, unreadable or violates its schema."""


class DataError(SmartmlError):
    """An input data file is missing, empty, corrupt or of the wrong layout."""


class RunDirectoryError(SmartmlError):
    """A run directory is missing, incomplete or cannot be written."""


class ExportError(SmartmlError):
    """The model or the export settings cannot give verified firmware."""


class UnsupportedLayerError(ExportError):
    """A layer that no layer handler knows: it can be neither costed (sparsity, BOPs,
    MDMM constraints) nor exported."""


class OutputError(SmartmlError):
    """A place to write results (``--output``) is a file or cannot be written."""


def first_line(message: str | BaseException) -> str:
    r"""The first non-empty line of ``message``, marked `` [...]`` when more followed.

    Errors from libraries (uproot, h5py, pyarrow, dask) often run over many lines;
    smartml reports one line, so every place that quotes such an error goes through
    here.

    Args:
        message: a text, or an exception (its text; its type's name when the text
            is empty).

    Returns:
        The line, stripped; ``""`` for a text with no non-empty line.

    >>> first_line("bad value\n  at layer 3\n")
    'bad value [...]'
    >>> first_line("fine")
    'fine'
    >>> first_line(KeyError())
    'KeyError'
    """
    text = str(message)
    if isinstance(message, BaseException) and not text.strip():
        return type(message).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[0] + (" [...]" if len(lines) > 1 else "")
