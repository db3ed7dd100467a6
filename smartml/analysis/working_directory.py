"""Where a notebook's relative run paths are found.

Jupyter starts a kernel in the notebook's folder, ``notebooks/``; papermill and scripts
usually run from the repository root. Run directories, and the data paths in their
configs, are relative to where the training ran (the repository root), so the
notebooks call :func:`work_from_run_root` first.
"""

import os
from collections.abc import Iterable
from pathlib import Path, PurePath


def work_from_run_root(paths: str | PurePath | Iterable[str | PurePath]) -> Path:
    """Change to the directory that relative run paths are relative to.

    Jupyter starts a notebook's kernel in the notebook's folder (``notebooks/``), while
    run directories, and the data paths in their configs, are relative to where the
    training ran (the repository root). Goes up from the current directory to the
    first one that holds every relative path of ``paths``, and changes to it; nothing
    changes when they exist from here, are absolute, or are found nowhere above.

    Args:
        paths: a run directory or a list of them.

    Returns:
        the working directory afterwards.
    """
    listed = [paths] if isinstance(paths, str | PurePath) else paths
    relative = [Path(p) for p in listed if not Path(p).is_absolute()]
    here = Path.cwd()
    for directory in (here, *here.parents):
        if all((directory / p).exists() for p in relative):
            if directory != here:
                os.chdir(directory)
            return directory
    return here
