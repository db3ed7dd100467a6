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
