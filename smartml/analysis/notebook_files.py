"""Notebooks as files: run one with other parameters, keep them stripped in git.

::

    python -m smartml.analysis.notebook_files run notebooks/weights_analysis.ipynb \\
        RUN_DIR=runs/pixel_2t_mdmm --output runs/pixel_2t_mdmm/weights_analysis.ipynb
    python -m smartml.analysis.notebook_files strip notebooks/*.ipynb

``run`` replaces the assignments of the cell tagged ``parameters`` (values are Python
literals; anything else is taken as a string) and executes the notebook with the
``python3`` kernel from the current directory.
"""

import argparse
import ast
import sys
from pathlib import Path

import nbformat

from smartml.errors import SmartmlError


def is_stripped(notebook) -> bool:
    """No outputs, no execution counts, no widget metadata."""
    if "widgets" in notebook.metadata:
        return False
    return all(
        not cell.get("outputs") and cell.get("execution_count") is None
        for cell in notebook.cells
        if cell.cell_type == "code"
    )


def strip(notebook):
    """The notebook without outputs (modified in place and returned)."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return notebook


def with_parameters(notebook, parameters: dict):
    """Replace the ``parameters`` cell's assignments (``NAME = value``) by ``parameters``.

    Raises:
        SmartmlError: no parameters cell, or a name it does not define.
    """
    cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    if not cells:
        raise SmartmlError("notebook has no cell tagged 'parameters'")
    cell = cells[0]
    known = {
        node.targets[0].id
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise SmartmlError(
            f"unknown notebook parameter {unknown[0]!r}; known: {', '.join(sorted(known))}"
        )
    lines = [
        line for line in cell.source.splitlines() if line.split("=")[0].strip() not in parameters
    ]
    lines += [f"{name} = {value!r}" for name, value in parameters.items()]
    cell.source = "\n".join(lines)
    return notebook


def execute(
    path: str | Path, parameters: dict, output: str | Path | None = None, timeout: int = 1200
):
    """Run the notebook at ``path`` with ``parameters``; write it to ``output``; return it."""
    from nbclient import NotebookClient

    notebook = with_parameters(nbformat.read(Path(path), as_version=4), parameters)
    NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path.cwd())}},
    ).execute()
    if output is not None:
        nbformat.write(notebook, Path(output))
    return notebook


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: list[str] | None = None) -> int:
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
                notebook = nbformat.read(path, as_version=4)
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
        execute(args.notebook, parameters, args.output)
        print(f"wrote {args.output}")

    return run_cli(go, "smartml.analysis.notebook_files")


if __name__ == "__main__":
    sys.exit(main())
