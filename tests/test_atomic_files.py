"""smartml.files.atomic_file and its writers: modes that follow the umask, no
temporary left by an error, and a killed writer's temporary removed by the next."""

import os
import signal
import stat
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from mem_events import generated_like_events, write_events
from ntuple_files import event_branches, write_tree

from smartml import convert
from smartml.collider import event_generator, mem_integration
from smartml.collider import matrix_element_method as mem
from smartml.errors import OutputError
from smartml.evaluation.run import write_table
from smartml.files import atomic_file, publish_directory, write_json_atomic


def entries(directory) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o002], ids=["umask022", "umask002"])
def umask(request):
    """Run the test under this umask, restoring the previous one after it."""
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


# -- modes -------------------------------------------------------------------------


def test_a_runs_json_gets_the_umask_mode(tmp_path, umask):
    path = tmp_path / "history.json"
    write_json_atomic(path, {"epochs": 3})
    assert mode(path) == 0o666 & ~umask


def test_a_converted_file_gets_the_umask_mode(tmp_path, umask, capsys):
    source = write_tree(tmp_path / "in.root", event_branches(10, seed=1))
    features = tmp_path / "features.yaml"
    features.write_text("branches: [MET, lep1_PT]\n")
    output = tmp_path / "out" / "features.h5"
    status = convert.main([str(source), "--features", str(features), "--output", str(output)])
    assert status == 0, capsys.readouterr().err
    assert mode(output) == 0o666 & ~umask


def test_a_generated_ntuple_gets_the_umask_mode(tmp_path, umask):
    path = event_generator.write_ntuple(tmp_path / "dy.root", {"MET": np.arange(5.0)})
    assert mode(path) == 0o666 & ~umask


def test_mem_weights_and_predictions_get_the_umask_mode(tmp_path, umask):
    settings = mem.MemSettings(neval=100, nitn_adapt=1, nitn=1)
    events = write_events(
        tmp_path / "dy.root", generated_like_events(2, seed=3, resolutions=settings.resolutions)
    )
    output = tmp_path / "weights.root"
    mem_integration.integrate_file(events, "events", output, settings, progress=False)
    predictions = write_table(pd.DataFrame({"score": [0.5]}), tmp_path / "scores.csv")
    assert mode(output) == mode(predictions) == 0o666 & ~umask


def test_a_published_directory_gets_the_umask_mode(tmp_path, umask):
    with publish_directory(tmp_path / "firmware", "the firmware project") as staging:
        (staging / "project.tcl").write_text("open_project")
    assert mode(tmp_path / "firmware") == 0o777 & ~umask
    assert mode(tmp_path / "firmware" / "project.tcl") == 0o666 & ~umask


# -- errors and kills --------------------------------------------------------------


def test_an_error_mid_write_leaves_no_temporary_and_the_old_file(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(path) as temporary:
        temporary.write_text("half")
        raise RuntimeError("interrupted")
    with pytest.raises(OutputError) as caught, atomic_file(path, OutputError, "the scores") as t:
        t.write_text("half")
        raise OSError(28, "No space left on device")
    assert str(caught.value) == f"{path}: cannot write the scores (No space left on device)"
    assert entries(tmp_path) == ["scores.csv"] and path.read_text() == "old"


KILLED_CHUNK_WRITER = """
import os, signal, sys
from pathlib import Path
import numpy as np
from smartml.collider import mem_integration

def killed_mid_write(handle, **arrays):
    handle.write(b"PK half a chunk")
    handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)

np.savez = killed_mid_write
result = mem_integration.ChunkResult(np.ones(2), np.ones(2), np.zeros(2, np.int8), (), 1.0)
mem_integration.save_chunk(Path(sys.argv[1]), 0, result)
"""

KILLED_JSON_WRITER = """
import os, signal, sys
from smartml.files import write_json_atomic

os.fsync = lambda descriptor: os.kill(os.getpid(), signal.SIGKILL)
write_json_atomic(sys.argv[1], {"epochs": 3})
"""


def killed(script: str, argument) -> None:
    process = subprocess.run([sys.executable, "-c", script, str(argument)], check=False)
    assert process.returncode == -signal.SIGKILL


def test_a_killed_chunk_writers_partial_is_removed_by_the_next_write(tmp_path):
    killed(KILLED_CHUNK_WRITER, tmp_path)
    [left] = entries(tmp_path)
    assert left.startswith(".chunk-000000.npz.")  # hidden, beside the chunk
    result = mem_integration.ChunkResult(np.ones(2), np.ones(2), np.zeros(2, np.int8), (), 1.0)
    mem_integration.save_chunk(tmp_path, 0, result)
    assert entries(tmp_path) == ["chunk-000000.npz"]
    np.testing.assert_array_equal(mem_integration.load_chunk(tmp_path, 0).weights, np.ones(2))


def test_a_killed_json_writers_partial_is_removed_by_the_next_write(tmp_path):
    path = tmp_path / "history.json"
    killed(KILLED_JSON_WRITER, path)
    [left] = entries(tmp_path)
    assert left.startswith(".history.json.")  # hidden, beside the file
    write_json_atomic(path, {"epochs": 4})
    assert entries(tmp_path) == ["history.json"]
