"""Path-valued configuration keys: resolved to absolute paths, and declared as the
files a run reads.

A configuration names its input files by path (``data.files``, ``data.features``,
``data.pmt_positions``, ...). Every such key is typed :data:`InputPath`: validating
the configuration makes a relative path absolute against the working directory (the
directory the command runs in, as before; ``~`` is expanded) and leaves a URL
(``root://``, ``https://``) as it is. A run's config.json therefore names the very
files it read, and the run can be evaluated from any directory.

What a run reads is declared by its data section (``input_files()`` of the task's
schema: the keys it reads in its ``source``) as :class:`NamedInput` entries; the run
records them and checks them later (:mod:`smartml.runs.inputs`).
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field

from smartml.locations import is_remote

log = logging.getLogger(__name__)

# Files at least this large have their sha256 cached (keyed by path, size, mtime and
# inode), so that evaluating a run on hundreds of GB does not read them all again.


def resolve_location(value: str) -> str:
    """A configured path made absolute (``~`` expanded, ``..`` folded); a URL as it is.

    >>> resolve_location("root://eos.cern.ch//store/a.root")
    'root://eos.cern.ch//store/a.root'
    >>> resolve_location("/data/rich/../na62/*.h5")
    '/data/na62/*.h5'
    >>> resolve_location("f.yaml") == os.path.join(os.getcwd(), "f.yaml")
    True
    """
    if is_remote(value):
        return value
    return os.path.abspath(os.path.expanduser(value))


# A configuration key naming a file, a glob, a directory or a URL (see the module
# docstring); validated to its absolute form.
InputPath = Annotated[str, Field(min_length=1), AfterValidator(resolve_location)]


@dataclass(frozen=True)
class NamedInput:
    """The files one configuration key names.

    Args:
        key: the dotted key, as in messages (``data.samples[signal].files``).
        patterns: absolute paths, globs or URLs (as validated by :data:`InputPath`).
        evaluation: whether evaluation and export read them too (the data do; the
            initial weights are read by training only).
    """

    key: str
    patterns: tuple[str, ...]
    evaluation: bool = True


def named_file(key: str, path: str, evaluation: bool = True) -> NamedInput:
    """One file by its name, not a glob (``[`` in a name is no pattern).

    >>> named_file("data.features", "/cfg/f[1].yaml").patterns
    ('/cfg/f[[]1].yaml',)
    """
    return NamedInput(key, (path if is_remote(path) else glob.escape(path),), evaluation)
