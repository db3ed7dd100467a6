"""smartml.data.cache: one directory per settings, written once, atomically."""

import json
import os
from pathlib import Path

import platformdirs
import pytest

from smartml.data.cache import (
    MANIFEST_NAME,
    GeneratorCache,
    cache_dir,
    cache_root,
    ensure_cached,
    is_cached,
    read_manifest,
    write_cached,
)
from smartml.errors import DataError

SETTINGS = {"generator_version": 2, "config": {"n_events": 3, "seed": 1, "ranges": (0.5, 2.0)}}


class CountingWriter:
    """Writes two files (one in a sub-directory) and counts its calls."""

    def __init__(self, details=None, fail=False):
        self.calls, self.details, self.fail = 0, details, fail

    def __call__(self, directory):
        self.calls += 1
        (directory / "events.0.h5").write_bytes(b"\x00" * 10)
        (directory / "meta").mkdir()
        (directory / "meta" / "units.txt").write_text("GeV")
        if self.fail:
            raise RuntimeError("generator crashed")
        return self.details


def test_cache_dir_is_a_stable_hash_of_the_settings(tmp_path):
    directory = cache_dir(tmp_path, "richsim", SETTINGS)
    assert directory.parent == tmp_path and directory.name.startswith("richsim-")
    assert len(directory.name) == len("richsim-") + 12
    reordered = {"config": dict(reversed(SETTINGS["config"].items())), "generator_version": 2}
    assert cache_dir(tmp_path, "richsim", reordered) == directory
    other = {**SETTINGS, "generator_version": 3}
    assert cache_dir(tmp_path, "richsim", other) != directory
    assert cache_dir(tmp_path, "other", SETTINGS) != directory


def test_written_once_then_reused(tmp_path):
    writer = CountingWriter(details={"n_events": 3})
    directory = ensure_cached(tmp_path, "richsim", SETTINGS, writer)
    assert directory == cache_dir(tmp_path, "richsim", SETTINGS)
    mtimes = {p: p.stat().st_mtime_ns for p in directory.rglob("*")}
    assert ensure_cached(tmp_path, "richsim", SETTINGS, writer) == directory
    assert writer.calls == 1
    assert {p: p.stat().st_mtime_ns for p in directory.rglob("*")} == mtimes
    assert [p.name for p in tmp_path.iterdir()] == [directory.name]  # no staging left


def test_manifest_holds_settings_files_and_details(tmp_path):
    directory = ensure_cached(tmp_path, "richsim", SETTINGS, CountingWriter({"n_events": 3}))
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    assert manifest["generator_version"] == 2
    assert manifest["config"] == {"n_events": 3, "seed": 1, "ranges": [0.5, 2.0]}
    assert manifest["files"] == [{"name": "events.0.h5"}, {"name": "meta/units.txt"}]
    assert manifest["n_events"] == 3 and manifest["seconds"] >= 0
    assert read_manifest(directory) == manifest
    assert is_cached(directory, SETTINGS)  # tuples compare as the lists JSON holds


@pytest.mark.parametrize("damage", ["other settings", "missing file", "bad json", "no manifest"])
def test_damaged_datasets_are_written_again(tmp_path, damage):
    writer = CountingWriter()
    directory = ensure_cached(tmp_path, "richsim", SETTINGS, writer)
    manifest_path = directory / MANIFEST_NAME
    if damage == "other settings":
        manifest = json.loads(manifest_path.read_text())
        manifest["config"]["seed"] = 99
        manifest_path.write_text(json.dumps(manifest))
    elif damage == "missing file":
        (directory / "meta" / "units.txt").unlink()
    elif damage == "bad json":
        manifest_path.write_text("{not json")
    else:
        manifest_path.unlink()
    assert not is_cached(directory, SETTINGS)
    ensure_cached(tmp_path, "richsim", SETTINGS, writer)
    assert writer.calls == 2 and is_cached(directory, SETTINGS)


def test_a_failing_writer_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError, match="generator crashed"):
        ensure_cached(tmp_path, "richsim", SETTINGS, CountingWriter(fail=True))
    assert list(tmp_path.iterdir()) == []


def test_details_may_not_overwrite_the_settings(tmp_path):
    with pytest.raises(ValueError, match="'generator_version'"):
        write_cached(tmp_path / "d", SETTINGS, CountingWriter({"generator_version": 1}))
    assert list(tmp_path.iterdir()) == []


def test_unwritable_root_is_a_one_line_data_error(tmp_path):
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("a file where the cache root should be")
    with pytest.raises(DataError) as caught:
        ensure_cached(blocker, "richsim", SETTINGS, CountingWriter(), what="the RICH events")
    message = str(caught.value)
    assert message.startswith("cannot write the RICH events to") and str(blocker) in message
    assert "\n" not in message


def test_settings_must_be_json(tmp_path):
    with pytest.raises(ValueError):
        ensure_cached(tmp_path, "richsim", {"x": float("nan")}, CountingWriter())


# -- where the cache lives ------------------------------------------------------------


def test_cache_root_prefers_the_config_then_the_environment_then_the_user_cache():
    environment = {"SMARTML_CACHE_DIR": "/scratch/me/smartml"}
    assert cache_root("runs/../mydata", "simulated", environment) == Path("runs/../mydata")
    assert cache_root(None, "simulated", environment) == Path("/scratch/me/smartml/simulated")
    assert cache_root(None, "richsim", environment) == Path("/scratch/me/smartml/richsim")
    user_cache = Path(platformdirs.user_cache_dir("smartml"))
    assert cache_root(None, "simulated", {}) == user_cache / "simulated"
    assert cache_root(None, "simulated", {"SMARTML_CACHE_DIR": ""}) == user_cache / "simulated"
    assert cache_root("~/data", "simulated", {}) == Path.home() / "data"


def test_cache_root_does_not_follow_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("SMARTML_CACHE_DIR")
    roots = set()
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        roots.add(cache_root())
    assert roots == {Path(platformdirs.user_cache_dir("smartml")) / "simulated"}


def test_the_test_session_never_uses_the_real_user_cache(private_cache_dir):
    assert os.environ["SMARTML_CACHE_DIR"] == str(private_cache_dir)
    assert cache_root() == private_cache_dir / "simulated"


# -- one generator's cache ------------------------------------------------------------

TOY = GeneratorCache(
    identity={"format": "toy-events", "generator_version": 2},
    prefix="toysim",
    kind="toys",
    what="the toy events",
    owned_files=r"events\.\d+\.h5|meta|" + MANIFEST_NAME.replace(".", r"\."),
)


def test_generator_settings_hold_identity_config_fields_and_table_digests():
    settings = TOY.settings({"seed": 1}, {"pmt_table": "ab12"}, process="drell_yan")
    assert settings == {
        "format": "toy-events",
        "generator_version": 2,
        "config": {"seed": 1},
        "process": "drell_yan",
        "pmt_table_sha256": "ab12",
    }
    base = TOY.directory(TOY.settings({"seed": 1}))
    assert base.name.startswith("toysim-")
    assert TOY.directory(TOY.settings({"seed": 1}, {"pmt_table": "ab12"})) != base
    assert TOY.directory(TOY.settings({"seed": 1}, {"pmt_table": "cd34"})) != TOY.directory(
        TOY.settings({"seed": 1}, {"pmt_table": "ab12"})
    )
    newer = GeneratorCache({**TOY.identity, "generator_version": 3}, "toysim", "toys")
    assert newer.directory(newer.settings({"seed": 1})) != base


def test_a_generator_root_is_the_given_folder_else_the_user_cache_of_its_kind(
    private_cache_dir, tmp_path
):
    settings = TOY.settings({"seed": 1})
    assert TOY.directory(settings).parent == private_cache_dir / "toys"
    assert TOY.directory(settings, tmp_path).parent == tmp_path
    assert TOY.directory(settings, str(tmp_path)) == TOY.directory(settings, tmp_path)


def test_a_generator_writes_once_and_reads_its_manifest(tmp_path):
    writer = CountingWriter({"n_events": 3})
    settings = TOY.settings({"seed": 1})
    directory = TOY.ensure(settings, writer, tmp_path)
    assert TOY.ensure(settings, writer, tmp_path) == directory and writer.calls == 1
    assert TOY.read_manifest(directory)["n_events"] == 3
    assert TOY.read_manifest(tmp_path / "absent") is None


def test_a_generator_replaces_its_own_files_but_never_a_foreign_folder(tmp_path):
    settings = TOY.settings({"seed": 1})
    target = TOY.write(tmp_path / "dataset", settings, CountingWriter())
    TOY.write(target, settings, CountingWriter())  # only its own files: replaced
    (target / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match=r"cannot write the toy events to .*notes\.txt"):
        TOY.write(target, settings, CountingWriter())
    assert (target / "notes.txt").read_text() == "mine"
