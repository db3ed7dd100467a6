"""Running the notebooks under test: papermill with this checkout's smartml."""

import os
from pathlib import Path

import papermill

import smartml

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def run_notebook(source: Path, parameters: dict, tmp_path: Path, monkeypatch):
    """Execute ``source`` with papermill in ``tmp_path`` and return the executed notebook
    (also written to ``tmp_path/executed_<name>``); a failing cell raises
    papermill's PapermillExecutionError.

    The kernel inherits this process's environment: the checkout whose smartml the
    tests import goes first on its PYTHONPATH, so it runs this code, not another
    installed copy, whatever its working directory.
    """
    checkout = str(Path(smartml.__file__).resolve().parents[1])
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([checkout, *filter(None, [os.environ.get("PYTHONPATH")])])
    )
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return papermill.execute_notebook(
        str(source),
        str(tmp_path / f"executed_{source.name}"),
        parameters=parameters,
        cwd=str(tmp_path),
        progress_bar=False,
        execution_timeout=600,
    )


def outputs(notebook) -> list:
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]


def text_of(notebook) -> str:
    parts = []
    for output in outputs(notebook):
        data = output.get("data", {})
        parts += [output.get("text", ""), data.get("text/plain", ""), data.get("text/html", "")]
        parts.append(data.get("text/markdown", ""))
    return "\n".join(parts)


def images(notebook) -> int:
    return sum("image/png" in output.get("data", {}) for output in outputs(notebook))


def html_tables(notebook) -> int:
    return sum(
        "<table" in output.get("data", {}).get("text/html", "") for output in outputs(notebook)
    )


def execute(name: str, parameters: dict, tmp_path: Path, monkeypatch):
    """Execute notebooks/<name> from ``tmp_path`` and return it (no cell may fail)."""
    executed = run_notebook(NOTEBOOKS / name, parameters, tmp_path, monkeypatch)
    errors = [o for o in outputs(executed) if o.output_type == "error"]
    assert not errors, errors
    return executed
