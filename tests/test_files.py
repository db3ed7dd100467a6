"""smartml.files: atomic JSON writes, directory publishing and the one JSON reader."""

import json
import math
import os
import signal
import socket
import subprocess
import sys

import pytest

from smartml.errors import ConfigError, DataError, SmartmlError
from smartml.files import publish_directory, read_json_object, write_json_atomic


def one_line(caught: pytest.ExceptionInfo, *parts: str) -> str:
    message = str(caught.value)
    assert "\n" not in message
    for part in parts:
        assert part in message
    return message


def entries(directory) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


# -- write_json_atomic / read_json_object ----------------------------------------------


def test_json_round_trips_and_replaces_the_old_file(tmp_path):
    path = tmp_path / "report.json"
    path.write_text('{"old": true}')
    content = {"name": "run", "values": [1, 2.5, -3e-7], "nested": {"ok": None}}
    write_json_atomic(path, content)
    assert read_json_object(path, "report") == content
    assert json.loads(path.read_text()) == content
    assert path.read_text().endswith("\n")
    assert entries(tmp_path) == ["report.json"]  # no temporary left behind


def test_nan_is_refused_and_the_old_file_kept(tmp_path):
    path = tmp_path / "metrics.json"
    write_json_atomic(path, {"width": 1.0})
    with pytest.raises(ValueError):
        write_json_atomic(path, {"width": math.nan})
    assert read_json_object(path, "metrics") == {"width": 1.0}
    assert entries(tmp_path) == ["metrics.json"]


def test_write_into_a_missing_directory_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "missing" / "out.json"
    with pytest.raises(DataError) as caught:
        write_json_atomic(path, {"a": 1}, DataError)
    one_line(caught, str(path), "cannot write")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "normalisation file not found"),
        ("charge = 3", "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "expected a JSON object (normalisation file), found a list"),
        ('"text"', "found a str"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_bad_json_files_are_one_line_naming_the_file(tmp_path, text, expected):
    path = tmp_path / "normalization.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_json_object(path, "normalisation file", ConfigError)
    one_line(caught, str(path), expected)


def test_a_directory_is_not_a_json_file(tmp_path):
    with pytest.raises(SmartmlError) as caught:
        read_json_object(tmp_path, "report")
    one_line(caught, str(tmp_path), "is a directory")


# -- publish_directory -----------------------------------------------------------------


def test_published_directory_appears_whole(tmp_path):
    destination = tmp_path / "out" / "dataset"
    with publish_directory(destination, "the dataset") as staging:
        assert staging.parent == destination.parent and staging.name.startswith(".dataset.")
        (staging / "a.txt").write_text("a")
        (staging / "sub").mkdir()
        (staging / "sub" / "b.txt").write_text("b")
        assert not destination.exists()  # nothing visible until the block ends
    assert (destination / "sub" / "b.txt").read_text() == "b"
    assert entries(destination.parent) == ["dataset"]


def test_failing_block_leaves_the_old_directory_untouched(tmp_path):
    destination = tmp_path / "dataset"
    destination.mkdir()
    (destination / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="simulation failed"):
        with publish_directory(destination, "the dataset") as staging:
            (staging / "new.txt").write_text("new")
            raise RuntimeError("simulation failed")
    assert entries(destination) == ["old.txt"]
    assert entries(tmp_path) == ["dataset"]  # staging removed


def test_existing_directory_is_replaced(tmp_path):
    destination = tmp_path / "project"
    destination.mkdir()
    (destination / "stale.txt").write_text("stale")
    with publish_directory(destination, "the project") as staging:
        (staging / "fresh.txt").write_text("fresh")
    assert entries(destination) == ["fresh.txt"]
    assert entries(tmp_path) == ["project"]


def test_foreign_files_are_refused_before_any_work(tmp_path):
    destination = tmp_path / "precious"
    destination.mkdir()
    (destination / "notes.txt").write_text("keep me")
    ran = []
    with pytest.raises(DataError) as caught:
        with publish_directory(destination, "the dataset", DataError, owned=str.isdigit):
            ran.append(True)
    one_line(caught, "cannot write the dataset to", str(destination), "notes.txt")
    assert not ran
    assert (destination / "notes.txt").read_text() == "keep me"
    assert entries(tmp_path) == ["precious"]


def test_owned_files_may_be_replaced(tmp_path):
    destination = tmp_path / "cache"
    destination.mkdir()
    (destination / "123").write_text("old part")
    with publish_directory(destination, "the dataset", owned=str.isdigit) as staging:
        (staging / "456").write_text("new part")
    assert entries(destination) == ["456"]


def test_destination_that_is_a_file_is_refused(tmp_path):
    destination = tmp_path / "dataset"
    destination.write_text("a file")
    with pytest.raises(DataError) as caught:
        with publish_directory(destination, "the dataset", DataError):
            pass
    one_line(caught, str(destination), "not a directory")
    assert destination.read_text() == "a file"


def test_parent_that_is_a_file_is_one_line(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(DataError) as caught:
        with publish_directory(blocker / "dataset", "the dataset", DataError):
            pass
    assert one_line(caught, str(blocker)).startswith("cannot write the dataset to")


def test_os_error_inside_the_block_is_one_line(tmp_path):
    destination = tmp_path / "dataset"
    with pytest.raises(DataError) as caught:
        with publish_directory(destination, "the dataset", DataError) as staging:
            (staging / "missing" / "file.txt").write_text("x")
    one_line(caught, "cannot write the dataset to", str(destination))
    assert entries(tmp_path) == []


# -- staging directories of killed writers ---------------------------------------------

TEXT = {"capture_output": True, "text": True, "check": False}
KILLED_WRITER = """
import os, signal, sys
from smartml.files import publish_directory
with publish_directory(sys.argv[1], "the dataset") as staging:
    (staging / "part.0.parquet").write_text("half")
    print(staging.name, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def dead_pid() -> int:
    """The id of a process that has exited (and been waited for)."""
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **TEXT)
    return int(process.stdout)


def staged(parent, name: str) -> str:
    """A staging directory holding a file, as a writer would leave it."""
    (parent / name).mkdir()
    (parent / name / "part.0.parquet").write_text("half")
    return name


def test_staging_directory_names_its_writer(tmp_path):
    with publish_directory(tmp_path / "dataset", "the dataset") as staging:
        prefix = f".dataset.partial-{os.getpid()}+{socket.gethostname()}+"
        assert staging.name.startswith(prefix)


def test_a_killed_writers_staging_is_removed_by_the_next_publish(tmp_path):
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path / "a")], **TEXT)
    assert killed.returncode == -signal.SIGKILL
    left = killed.stdout.strip()
    assert entries(tmp_path) == [left] and left.startswith(".a.partial-")
    with publish_directory(tmp_path / "b", "the dataset") as staging:
        (staging / "part.0.parquet").write_text("whole")
    assert entries(tmp_path) == ["b"]


def test_only_provably_stale_staging_directories_are_removed(tmp_path):
    host, dead = socket.gethostname(), dead_pid()
    stale = staged(tmp_path, f".pixelsim-1.partial-{dead}+{host}+x1y2")
    swapped_out = staged(tmp_path, f".firmware.old-{dead}+{host}+k9")
    keep = [
        staged(tmp_path, f".pixelsim-2.partial-{os.getpid()}+{host}+live"),  # a live writer
        staged(tmp_path, f".pixelsim-3.partial-{dead}+other-host.cern.ch+nfs"),  # elsewhere
        staged(tmp_path, ".pixelsim-4.partial-abc123"),  # untagged: writer unknown
        staged(tmp_path, f"pixelsim-5.partial-{dead}+{host}+x"),  # not hidden: not ours
    ]
    with publish_directory(tmp_path / "dataset", "the dataset") as staging:
        (staging / "part.0.parquet").write_text("whole")
    assert stale not in entries(tmp_path) and swapped_out not in entries(tmp_path)
    assert entries(tmp_path) == sorted([*keep, "dataset"])
    for name in keep:
        assert (tmp_path / name / "part.0.parquet").read_text() == "half"
