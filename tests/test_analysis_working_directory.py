"""smartml.analysis.working_directory: relative run paths from notebooks/ or the root."""

import os
from pathlib import Path

from smartml.analysis.working_directory import work_from_run_root


def test_relative_run_paths_are_found_from_the_notebooks_folder(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / "runs" / "a").mkdir(parents=True)
    (root / "runs" / "b").mkdir()
    (root / "notebooks").mkdir()
    monkeypatch.chdir(root / "notebooks")
    assert work_from_run_root(["runs/a", "runs/b"]) == root
    assert Path.cwd() == root
    # From the root, from elsewhere, with absolute paths: no change.
    assert work_from_run_root("runs/a") == root
    monkeypatch.chdir(tmp_path)
    assert work_from_run_root("runs/missing") == tmp_path
    assert work_from_run_root([str(root / "runs" / "a")]) == tmp_path
    assert Path(os.getcwd()) == tmp_path
