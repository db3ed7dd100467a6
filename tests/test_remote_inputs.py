"""ROOT files read over HTTP (a loopback server answering Range requests, as EOS and
web servers do): smartml.inspect, smartml.convert and an NtupleReader give the local
file's values; a missing, unreachable or non-ROOT URL, and root:// without the
xrootd extra, are one line naming the URL; configuration file lists pass URLs on."""

import functools
import http.server
import importlib.util
import json
import re
import shutil
import socket
import threading

import h5py
import numpy as np
import pytest
import uproot
from ntuple_files import event_branches, write_tree

from smartml import convert
from smartml import inspect as smartml_inspect
from smartml.errors import DataError
from smartml.files import expand_patterns
from smartml.ntuples.feature_selection import FeatureSelection
from smartml.ntuples.root_reader import NtupleReader

N = 40
FEATURES = "branches: [Event, MET, 'Jet_PT[0]', lep1_PT]\n"


class RangeRequestHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory and answers ``Range: bytes=a-b`` with 206 and those bytes
    (SimpleHTTPRequestHandler ignores Range); records each request's Range header."""

    ranges: list[str | None]

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def do_HEAD(self):
        if "forbidden" in self.path or "signed" in self.path:
            self._reply(403, b"", {})
        else:
            super().do_HEAD()

    def do_GET(self):
        if "forbidden" in self.path:  # "signed": a URL signed for GET only, like S3's
            self._reply(403, b"denied", {})
            return
        self.ranges.append(self.headers.get("Range"))
        path = self.translate_path(self.path)
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except OSError:
            self.send_error(404)
            return
        asked = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", "").strip())
        if asked is None:  # no (or a multi-part) Range: the whole file, as RFC 9110 allows
            self._reply(200, content, {})
            return
        first = int(asked[1])
        last = min(int(asked[2]) if asked[2] else len(content) - 1, len(content) - 1)
        if first >= len(content):
            self._reply(416, b"", {"Content-Range": f"bytes */{len(content)}"})
            return
        span = {"Content-Range": f"bytes {first}-{last}/{len(content)}"}
        self._reply(206, content[first : last + 1], span)

    def _reply(self, status, body, headers):
        self.send_response(status)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(local file, its URL, the features file, the requests' Range headers)."""
    folder = tmp_path_factory.mktemp("served")
    branches = event_branches(N, seed=11)
    branches["Event"] = np.arange(N, dtype=np.int64) + 2**40 + 1  # no exact float32
    local = write_tree(folder / "events.root", branches)
    (folder / "signed").mkdir()
    shutil.copyfile(local, folder / "signed" / "events.root")
    (folder / "notroot.root").write_bytes(b"this is not a ROOT file" * 50)
    features = folder / "features.yaml"
    features.write_text(FEATURES)
    ranges: list[str | None] = []
    handler = type("Handler", (RangeRequestHandler,), {"ranges": ranges})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield local, f"{base}/events.root", features, ranges
    server.shutdown()
    server.server_close()
    thread.join()


def closed_port_url():
    """An http URL on a loopback port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/events.root"


def test_inspect_over_http_equals_the_local_file(served, capsys):
    local, url, _, ranges = served
    summaries = []
    for location in (local, url):
        assert smartml_inspect.main([str(location), "--json", "--step", "7"]) == 0
        summaries.append(json.loads(capsys.readouterr().out))
    assert summaries[1]["file"] == url
    assert summaries[1]["trees"] == summaries[0]["trees"]
    event = next(b for b in summaries[1]["trees"][0]["branches"] if b["name"] == "Event")
    assert (event["statistics"]["min"], event["statistics"]["max"]) == (2**40 + 1, 2**40 + N)
    assert any(r is not None and r.startswith("bytes=") for r in ranges)  # read in pieces


def test_convert_over_http_equals_the_local_file(served, tmp_path, capsys):
    local, url, features, _ = served
    outputs = {}
    for name, location in (("local", local), ("remote", url)):
        outputs[name] = tmp_path / f"{name}.h5"
        argv = [str(location), "--features", str(features), "--output", str(outputs[name])]
        assert convert.main([*argv, "--step", "9"]) == 0, capsys.readouterr().err
    with h5py.File(outputs["local"]) as expected, h5py.File(outputs["remote"]) as found:
        assert list(found.attrs["source_files"]) == [url]
        assert sorted(found) == sorted(expected)
        for name in expected:
            assert found[name].dtype == expected[name].dtype
            np.testing.assert_array_equal(found[name][:], expected[name][:])
        # events without a jet are dropped: Event is still the number of its entry
        np.testing.assert_array_equal(found["Event"][:], found["source_entry"][:] + 2**40 + 1)
        assert found["Event"].dtype == np.int64 and len(found["Event"]) < N


def test_a_reader_over_http_reads_the_local_values(served):
    local, url, _, _ = served
    selection = FeatureSelection.model_validate({"branches": ["MET", "Jet_PT[0]", "lep1_PT"]})
    with NtupleReader([local], "events", selection) as expected:
        rows = expected.read(0, N)
    with NtupleReader([url, local], "events", selection) as reader:
        assert reader.files[0] == url  # a URL stays a string
        assert reader.n_entries == 2 * N
        first, second = reader.read(0, N), reader.read(N, 2 * N)
    np.testing.assert_array_equal(first.features, rows.features)
    np.testing.assert_array_equal(second.features, rows.features)
    np.testing.assert_array_equal(second.entries, rows.entries + N)


def test_config_file_lists_pass_urls_on(tmp_path):
    (tmp_path / "b.root").write_bytes(b"")
    (tmp_path / "a.root").write_bytes(b"")
    xrootd = "root://eos.example.org//store/user/a.root"
    found = expand_patterns([xrootd, str(tmp_path / "*.root"), xrootd], "data.files")
    assert found == [xrootd, tmp_path / "a.root", tmp_path / "b.root"]
    with pytest.raises(DataError, match=r"^data.files: '.*nothing\*.root' matches no file$"):
        expand_patterns([xrootd, str(tmp_path / "nothing*.root")], "data.files")


def assert_one_line_error(capsys, tool, argv, message):
    assert tool.main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"smartml.{tool.__name__.split('.')[-1]}: error: {message}\n"


def test_a_url_that_404s_is_one_line(served, capsys):
    _, url, _, _ = served
    missing = url.replace("events.root", "missing.root")
    assert_one_line_error(
        capsys,
        smartml_inspect,
        [missing],
        f"{missing}: no such remote file (HTTP 404 File not found)",
    )


def test_a_refused_url_is_one_line(served, capsys):
    _, url, _, _ = served
    refused = url.replace("events.root", "forbidden.root")
    message = f"{refused}: the server refuses the file (HTTP 403 Forbidden)"
    assert_one_line_error(capsys, smartml_inspect, [refused], message)


def test_a_url_refusing_head_but_serving_get_is_read(served, capsys):
    local, url, _, _ = served
    signed = url.replace("events.root", "signed/events.root")  # the same bytes
    summaries = []
    for location in (signed, str(local)):
        assert smartml_inspect.main([location, "--json"]) == 0
        summaries.append(json.loads(capsys.readouterr().out))
    assert summaries[0]["trees"] == summaries[1]["trees"]


def test_an_unreachable_server_is_one_line(capsys):
    url = closed_port_url()
    assert smartml_inspect.main([url]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"smartml.inspect: error: {url}: cannot read the remote ROOT file (")
    assert "Connection refused" in err and err.count("\n") == 1


def test_a_url_of_bytes_that_are_not_root_is_one_line(served, tmp_path, capsys):
    _, url, features, _ = served
    bad = url.replace("events.root", "notroot.root")
    argv = [bad, "--tree", "events", "--features", str(features), "--output"]
    assert convert.main([*argv, str(tmp_path / "o.h5")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"smartml.convert: error: {bad}: cannot read the remote ROOT file (")
    assert err.count("\n") == 1


def test_a_url_of_another_format_is_refused(capsys):
    url = "https://example.org/data/events.parquet?version=2"
    assert_one_line_error(
        capsys,
        smartml_inspect,
        [url],
        f"{url}: only ROOT files are read from a URL; download it first",
    )


def test_xrootd_without_the_extra_names_the_install(monkeypatch, capsys, tmp_path):
    real_find_spec = importlib.util.find_spec

    def without_xrootd(name, *args):
        return None if name == "fsspec_xrootd" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_xrootd)
    url = "root://eos.example.org//eos/cms/store/events.root"  # the double slash kept
    expected = (
        f'{url}: reading root:// (XRootD) needs fsspec-xrootd: pip install "smartml-hep[xrootd]"'
    )
    assert_one_line_error(capsys, smartml_inspect, [url], expected)
    features = tmp_path / "features.yaml"
    features.write_text(FEATURES)
    argv = [url, "--tree", "events", "--features", str(features), "--output", "o.h5"]
    assert_one_line_error(capsys, convert, [*argv], expected)
    selection = FeatureSelection.model_validate({"branches": ["MET"]})
    with pytest.raises(DataError) as raised:
        NtupleReader([url], "events", selection)
    assert str(raised.value) == expected


def test_mem_weights_of_a_url_equal_those_of_the_local_file(served, tmp_path, capsys):
    from smartml import mem as mem_cli
    from smartml.collider import mem_integration

    local, url, _, _ = served
    small = ["--neval", "300", "--nitn-adapt", "2", "--nitn", "2", "--max-events", "3"]
    weights = {}
    for name, location in (("local", local), ("remote", url)):
        output = tmp_path / f"{name}.root"
        argv = [str(location), "--output", str(output), "--no-progress", *small]
        assert mem_cli.main(argv) == 0, capsys.readouterr().err
        with uproot.open(output) as root_file:
            tree = root_file[mem_integration.WEIGHT_TREE]
            weights[name] = tree[mem_integration.WEIGHT_BRANCH].array(library="np")
    assert len(weights["remote"]) == 3 and np.all(weights["remote"] > 0)
    np.testing.assert_array_equal(weights["remote"], weights["local"])
    # a remote input is identified by its ROOT UUID and length, not read whole to hash it
    with uproot.open(local) as root_file:
        identity = mem_integration.input_identity(url, root_file["events"])
    assert identity == f"ROOT UUID {root_file.file.uuid}, {root_file.file.fEND} bytes"


def test_a_run_records_a_remote_input_by_its_root_uuid_and_refuses_a_rewritten_one(served):
    """A URL is not read whole to hash it: its record is the ROOT UUID and length, and
    a file written anew (a new UUID) at the same URL is a change."""
    from smartml.config.inputs import NamedInput
    from smartml.runs.inputs import input_change, record_inputs

    local, url, _, _ = served
    record = record_inputs([NamedInput("data.files", (url,))])
    with uproot.open(local) as root_file:
        identity = f"ROOT UUID {root_file.file.uuid}, {root_file.file.fEND} bytes"
    assert record["data.files"]["files"] == [{"path": url, "size": None, "identity": identity}]
    assert input_change(record) is None
    original = local.read_bytes()
    try:
        write_tree(local, event_branches(N, seed=11))
        assert input_change(record).startswith(
            f"data.files file {url} changed since the run was trained ({identity} -> ROOT UUID "
        )
    finally:
        local.write_bytes(original)
