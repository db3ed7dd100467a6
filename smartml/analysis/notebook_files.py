"""Notebooks as files: run one with other parameters, keep them stripped in git.

::

    python -m smartml.analysis.notebook_files run notebooks/weights_analysis.ipynb \\
        RUN_DIR=runs/pixel_2t_mdmm --output runs/pixel_2t_mdmm/weights_analysis.ipynb
    python -m smartml.analysis.notebook_files strip notebooks/*.ipynb

``run`` replaces the assignments of the cell tagged ``parameters`` (values are Python
literals; anything else is taken as a string) and executes the notebook with the
``python3`` kernel from the current directory. ``strip`` removes outputs, execution
counts, execution timings and widget state, in place.
"""

import argparse
import ast
import os
import sys
from pathlib import Path, PurePath

import nbformat

from smartml.errors import SmartmlError

#: Cell metadata that only records an execution (nbclient, Jupyter extensions).
EXECUTION_METADATA = ("execution", "ExecuteTime")


def is_stripped(notebook) -> bool:
    """Whether a notebook is fit to commit.

    Args:
        notebook: an ``nbformat`` notebook.

    Returns:
        True when no code cell has outputs, an execution count or execution timing,
        and the notebook holds no widget state.
    """
    if "widgets" in notebook.metadata:
        return False
    return all(
        not cell.get("outputs")
        and cell.get("execution_count") is None
        and not any(key in cell.metadata for key in EXECUTION_METADATA)
        for cell in notebook.cells
        if cell.cell_type == "code"
    )


def strip(notebook):
    """Remove what executing a notebook adds.

    Args:
        notebook: an ``nbformat`` notebook, modified in place.

    Returns:
        the same notebook, for which :func:`is_stripped` holds.
    """
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            for key in EXECUTION_METADATA:
                cell.metadata.pop(key, None)
    return notebook


def with_parameters(notebook, parameters: dict):
    """Replace assignments of the cell tagged ``parameters``.

    Args:
        notebook: an ``nbformat`` notebook, modified in place.
        parameters: ``{NAME: value}``; each NAME must be assigned in that cell. Values
            are written as Python literals (paths as strings).

    Returns:
        the notebook: the cell keeps its other lines; the assignments of the given
        names (however many lines they span) are replaced by ``NAME = value`` lines
        at its end.

    Raises:
        SmartmlError: no parameters cell, or a name it does not assign.
    """
    cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    if not cells:
        raise SmartmlError("notebook has no cell tagged 'parameters'")
    cell = cells[0]
    assigned = {}
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = range(node.lineno - 1, node.end_lineno)
    unknown = sorted(set(parameters) - set(assigned))
    if unknown:
        raise SmartmlError(
            f"unknown notebook parameter {unknown[0]!r}; known: {', '.join(sorted(assigned))}"
        )
    replaced = {line for name in parameters for line in assigned[name]}
    lines = [line for i, line in enumerate(cell.source.splitlines()) if i not in replaced]
    lines += [f"{name} = {_literal_text(value)}" for name, value in parameters.items()]
    cell.source = "\n".join(lines)
    return notebook


def _literal_text(value) -> str:
    if isinstance(value, PurePath):
        return repr(str(value))
    if isinstance(value, list | tuple):
        return repr([str(v) if isinstance(v, PurePath) else v for v in value])
    return repr(value)


def execute(
    path: str | Path,
    parameters: dict,
    output: str | Path | None = None,
    timeout: int = 1200,
    working_directory: str | Path | None = None,
):
    """Run a notebook with other parameters.

    Args:
        path: the notebook file (not modified).
        parameters: see :func:`with_parameters`.
        output: where to write the executed notebook (not written when None).
        timeout: seconds allowed per cell.
        working_directory: the kernel's working directory (default: the current one).
            The kernel imports the same smartml as the caller.

    Returns:
        the executed notebook.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell failed (``ename``, ``evalue``);
            the notebook up to that cell is written to ``output`` all the same.
    """
    from nbclient import NotebookClient

    notebook = with_parameters(nbformat.read(Path(path), as_version=4), parameters)
    directory = Path(working_directory) if working_directory is not None else Path.cwd()
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(directory)}},
    )
    try:
        client.execute(env=_kernel_environment())
    finally:
        if output is not None:
            nbformat.write(notebook, Path(output))
    return notebook


def _kernel_environment() -> dict:
    """The caller's environment with the folder of the smartml it imported first on
    ``PYTHONPATH``: the kernel then runs this smartml, wherever its working directory
    is, not another installed copy."""
    import smartml

    root = str(Path(smartml.__file__).resolve().parents[1])
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [root, *filter(None, [environment.get("PYTHONPATH")])]
    )
    return environment


def work_from_run_root(paths) -> Path:
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
    paths = [Path(p) for p in ([paths] if isinstance(paths, str | PurePath) else paths)]
    relative = [p for p in paths if not p.is_absolute()]
    here = Path.cwd()
    for directory in (here, *here.parents):
        if all((directory / p).exists() for p in relative):
            if directory != here:
                os.chdir(directory)
            return directory
    return here


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: list[str] | None = None) -> int:
    """``python -m smartml.analysis.notebook_files run|strip ...``; returns the exit
    status (2 with a one-line message for a bad parameter or notebook)."""
    from smartml.cli import run_cli

    parser = argparse.ArgumentParser(prog="python -m smartml.analysis.notebook_files")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute a notebook with parameters NAME=VALUE")
    run.add_argument("notebook", type=Path)
    run.add_argument("parameters", nargs="*", metavar="NAME=VALUE")
    run.add_argument("--output", type=Path, required=True, help="executed notebook")
    strip_command = commands.add_parser("strip", help="remove outputs in place")
    strip_command.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)

    def go() -> None:
        if args.command == "strip":
            for path in args.notebooks:
                notebook = _read(path)
                if not is_stripped(notebook):
                    nbformat.write(strip(notebook), path)
                    print(f"stripped {path}")
            return
        parameters = {}
        for item in args.parameters:
            name, separator, value = item.partition("=")
            if not separator:
                raise SmartmlError(f"parameter {item!r}: expected NAME=VALUE")
            parameters[name] = _literal(value)
        _read(args.notebook)
        from nbclient.exceptions import CellExecutionError

        try:
            execute(args.notebook, parameters, args.output)
        except CellExecutionError as err:
            reason = (str(err.evalue).strip().splitlines() or [""])[0]
            raise SmartmlError(
                f"{args.notebook}: a cell failed ({err.ename}: {reason}); see {args.output}"
            ) from None
        print(f"wrote {args.output}")

    return run_cli(go, "smartml.analysis.notebook_files")


def _read(path: Path):
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SmartmlError(f"{path}: cannot read this notebook ({reason})") from None


if __name__ == "__main__":
    sys.exit(main())
