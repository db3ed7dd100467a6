"""smartml.analysis.notebook_files: parameters, stripping, the working directory, the CLI."""

import os
from pathlib import Path

import nbformat
import pytest

from smartml.analysis import notebook_files
from smartml.errors import SmartmlError

PARAMETERS = '''# which runs
RUN_DIRS = [
    "runs/a",  # the first
    "runs/b",
]
MAX_CLUSTERS = 100  # per run
LABEL = "x"'''


def make_notebook(parameters: str = PARAMETERS, body: str = "print(MAX_CLUSTERS * 2)"):
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# title"),
        cell,
        nbformat.v4.new_code_cell(body),
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return notebook


def cell_values(source: str) -> dict:
    namespace: dict = {}
    exec(source, namespace)
    return {k: v for k, v in namespace.items() if not k.startswith("__")}


def test_parameters_replace_their_assignments_also_over_several_lines():
    notebook = notebook_files.with_parameters(
        make_notebook(), {"RUN_DIRS": [Path("/data/runs/x"), "runs/y"], "MAX_CLUSTERS": 7}
    )
    source = notebook.cells[1].source
    assert cell_values(source) == {
        "RUN_DIRS": ["/data/runs/x", "runs/y"],
        "MAX_CLUSTERS": 7,
        "LABEL": "x",
    }
    assert source.startswith('# which runs\nLABEL = "x"\n')
    assert "the first" not in source  # the replaced assignment is gone whole


def test_unknown_parameters_and_notebooks_without_a_parameters_cell_are_refused():
    with pytest.raises(
        SmartmlError,
        match="unknown notebook parameter 'RUN_DIR'; known: LABEL, MAX_CLUSTERS, RUN_DIRS",
    ):
        notebook_files.with_parameters(make_notebook(), {"RUN_DIR": "x"})
    notebook = make_notebook()
    notebook.cells[1].metadata["tags"] = []
    with pytest.raises(SmartmlError, match="notebook has no cell tagged 'parameters'"):
        notebook_files.with_parameters(notebook, {"LABEL": "y"})


def executed_looking() -> nbformat.NotebookNode:
    notebook = make_notebook()
    cell = notebook.cells[2]
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="200\n")]
    cell.execution_count = 3
    cell.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00Z"}
    notebook.cells[1].metadata["ExecuteTime"] = {"end_time": "2026-01-01T00:00:00Z"}
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    return notebook


@pytest.mark.parametrize("leftover", ["outputs", "execution_count", "execution", "widgets"])
def test_anything_an_execution_leaves_makes_a_notebook_unstripped(leftover):
    notebook = notebook_files.strip(executed_looking())
    assert notebook_files.is_stripped(notebook)
    assert notebook.cells[1].metadata == {"tags": ["parameters"]}
    cell = notebook.cells[2]
    if leftover == "outputs":
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x")]
    elif leftover == "execution_count":
        cell.execution_count = 1
    elif leftover == "execution":
        cell.metadata["execution"] = {}
    else:
        notebook.metadata["widgets"] = {}
    assert not notebook_files.is_stripped(notebook)


def test_strip_command_strips_in_place(tmp_path, capsys):
    dirty, clean = tmp_path / "dirty.ipynb", tmp_path / "clean.ipynb"
    nbformat.write(executed_looking(), dirty)
    nbformat.write(make_notebook(), clean)
    before = clean.read_text()
    assert notebook_files.main(["strip", str(dirty), str(clean)]) == 0
    assert capsys.readouterr().out == f"stripped {dirty}\n"
    assert notebook_files.is_stripped(nbformat.read(dirty, as_version=4))
    assert clean.read_text() == before  # untouched
    assert nbformat.read(dirty, as_version=4).cells[2].source == "print(MAX_CLUSTERS * 2)"


def test_strip_command_names_an_unreadable_notebook(tmp_path, capsys):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    assert notebook_files.main(["strip", str(bad)]) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith(
        f"smartml.analysis.notebook_files: error: {bad}: cannot read this notebook"
    )
    assert "\n" not in message


def test_run_command_executes_with_the_parameters(tmp_path, capsys):
    source = tmp_path / "tiny.ipynb"
    nbformat.write(make_notebook(), source)
    output = tmp_path / "out" / "executed.ipynb"
    output.parent.mkdir()
    assert (
        notebook_files.main(["run", str(source), "MAX_CLUSTERS=21", "--output", str(output)]) == 0
    )
    assert capsys.readouterr().out == f"wrote {output}\n"
    executed = nbformat.read(output, as_version=4)
    assert executed.cells[2].outputs[0]["text"] == "42\n"
    assert notebook_files.is_stripped(nbformat.read(source, as_version=4))  # source untouched


def test_run_command_reports_a_failing_cell_in_one_line(tmp_path, capsys):
    source = tmp_path / "failing.ipynb"
    nbformat.write(make_notebook(body="raise ValueError('no such run')"), source)
    output = tmp_path / "executed.ipynb"
    assert notebook_files.main(["run", str(source), "--output", str(output)]) == 2
    message = capsys.readouterr().err.strip()
    assert message == (
        f"smartml.analysis.notebook_files: error: {source}: a cell failed "
        f"(ValueError: no such run); see {output}"
    )
    assert output.is_file()  # written up to the failing cell
    assert notebook_files.main(["run", str(source), "N", "--output", str(output)]) == 2
    assert "parameter 'N': expected NAME=VALUE" in capsys.readouterr().err


def test_relative_run_paths_are_found_from_the_notebooks_folder(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / "runs" / "a").mkdir(parents=True)
    (root / "runs" / "b").mkdir()
    (root / "notebooks").mkdir()
    monkeypatch.chdir(root / "notebooks")
    assert notebook_files.work_from_run_root(["runs/a", "runs/b"]) == root
    assert Path.cwd() == root
    # From the root, from elsewhere, with absolute paths: no change.
    assert notebook_files.work_from_run_root("runs/a") == root
    monkeypatch.chdir(tmp_path)
    assert notebook_files.work_from_run_root("runs/missing") == tmp_path
    assert notebook_files.work_from_run_root([str(root / "runs" / "a")]) == tmp_path
    assert Path(os.getcwd()) == tmp_path
