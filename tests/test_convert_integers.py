"""smartml.convert keeps integer and boolean branches in their dtype (event numbers
above 2^24 round-trip exactly through HDF5 and parquet), floats stay float32; an
integer feature that must stay float32 refuses, in one line, a value float32 cannot
hold."""

import json

import awkward as ak
import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
from ntuple_files import write_tree

from smartml import convert
from smartml import inspect as smartml_inspect

N = 41
BIG = 2**40 + 1  # int64 event numbers: none of BIG + i has an exact float32


def branches(start: int, n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    counts = rng.choice([0, 1, 2], size=n)
    return {
        "Event": np.arange(start, start + n, dtype=np.int64) + BIG,
        "Run": np.full(n, 2**24 + 3, np.uint32),
        "MET": rng.exponential(20.0, n),  # float64: written float32, as before
        "trigger": rng.random(n) < 0.5,
        "Jet_id": ak.unflatten(rng.integers(-(2**30), 2**30, int(counts.sum())), counts),
        "Jet_n": ak.unflatten(np.arange(int(counts.sum()), dtype=np.uint16), counts),
    }


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """Two files of one chain and their branches concatenated."""
    folder = tmp_path_factory.mktemp("integers")
    first, second = branches(0, 19, seed=1), branches(19, N - 19, seed=2)
    files = [write_tree(folder / "a.root", first), write_tree(folder / "b.root", second)]
    joined = {
        key: ak.concatenate([first[key], second[key]])
        if isinstance(first[key], ak.Array)
        else np.concatenate([first[key], second[key]])
        for key in first
    }
    return files, joined


def object_values(jagged, index: int, fill) -> tuple[np.ndarray, np.ndarray]:
    """(object ``index`` or ``fill``, whether the event has it), by hand."""
    rows = jagged.tolist()
    present = np.array([len(row) > index for row in rows])
    return np.array([row[index] if len(row) > index else fill for row in rows]), present


def run_convert(capsys, files, features_text, output, *options):
    features = output.parent / f"{output.stem}.yaml"
    features.write_text(features_text)
    argv = [*map(str, files), "--features", str(features), "--output", str(output), *options]
    status = convert.main(argv)
    return status, capsys.readouterr()


def read_columns(output) -> dict[str, np.ndarray]:
    if output.suffix == ".h5":
        with h5py.File(output) as file:
            return {name: file[name][:] for name in file}
    table = pq.read_table(output)
    return {name: table.column(name).to_numpy() for name in table.column_names}


@pytest.mark.parametrize("suffix", [".h5", ".parquet"])
def test_integers_round_trip_exactly_and_floats_stay_float32(chain, tmp_path, capsys, suffix):
    files, events = chain
    text = "branches: [Event, Run, MET, trigger, 'Jet_id[0]', 'Jet_n[0]']\n"
    output = tmp_path / f"out{suffix}"
    status, printed = run_convert(capsys, files, text, output, "--step", "6")
    assert status == 0, printed.err
    columns = read_columns(output)
    jet_id, has_jet = object_values(events["Jet_id"], 0, 0)
    jet_n, _ = object_values(events["Jet_n"], 0, 0)
    kept = np.flatnonzero(has_jet)  # events without a jet are dropped
    np.testing.assert_array_equal(columns["source_entry"], kept)
    expected = {
        "Event": (events["Event"][kept], np.int64),
        "Run": (events["Run"][kept], np.uint32),
        "MET": (events["MET"][kept].astype(np.float32), np.float32),
        "trigger": (events["trigger"][kept], np.bool_),
        "Jet_id[0]": (jet_id[kept], np.int64),
        "Jet_n[0]": (jet_n[kept], np.uint16),
    }
    for name, (values, dtype) in expected.items():
        assert columns[name].dtype == dtype, name
        np.testing.assert_array_equal(columns[name], values, err_msg=name)
    assert int(columns["Event"].max()) == BIG + int(kept[-1])  # float32 would say otherwise


def test_a_fill_value_the_integer_type_holds_keeps_it(chain, tmp_path, capsys):
    files, events = chain
    text = "branches: ['Jet_id[1]']\nmissing_object: fill\nfill_value: -7\n"
    output = tmp_path / "fill.parquet"
    assert run_convert(capsys, files, text, output)[0] == 0
    column = read_columns(output)["Jet_id[1]"]
    assert column.dtype == np.int64
    np.testing.assert_array_equal(column, object_values(events["Jet_id"], 1, -7)[0])


def test_an_integer_kept_as_float32_refuses_an_inexact_value(chain, tmp_path, capsys):
    files, events = chain
    # -1 is no uint16: Jet_n[1] stays float32, and its small counts are exact
    text = "branches: ['Jet_n[1]']\nmissing_object: fill\nfill_value: -1\n"
    output = tmp_path / "counts.h5"
    assert run_convert(capsys, files, text, output)[0] == 0
    column = read_columns(output)["Jet_n[1]"]
    assert column.dtype == np.float32
    np.testing.assert_array_equal(column, object_values(events["Jet_n"], 1, -1.0)[0])
    # 0.5 is no int64, and Jet_id reaches 2^30: float32 would change those values
    text = "branches: ['Jet_id[1]']\nmissing_object: fill\nfill_value: 0.5\n"
    status, printed = run_convert(capsys, files, text, tmp_path / "ids.h5")
    assert status == 2 and not (tmp_path / "ids.h5").exists()
    values, present = object_values(events["Jet_id"], 1, 0)
    exact = values.astype(np.float32).astype(np.int64) == values
    entry = int(np.flatnonzero(present & ~exact)[0])  # the first one in file a.root
    assert printed.err == (
        f"smartml.convert: error: {files[0]}: tree 'events': feature 'Jet_id[1]' is written "
        f"as float32 (fill_value 0.5 does not fit int64) but holds {values[entry]} at "
        f"entry {entry} of the file, which float32 cannot hold exactly\n"
    )


def test_files_disagreeing_on_the_integer_type_refuse_inexact_values(tmp_path, capsys):
    signed = write_tree(tmp_path / "signed.root", {"Event": np.arange(3, dtype=np.int64) + BIG})
    unsigned = write_tree(tmp_path / "unsigned.root", {"Event": np.arange(3, dtype=np.uint64) + 5})
    status, printed = run_convert(
        capsys, [unsigned, signed], "branches: [Event]\n", tmp_path / "e.h5"
    )
    assert status == 2
    assert printed.err == (
        f"smartml.convert: error: {signed}: tree 'events': feature 'Event' is written as "
        "float32 (the files hold branch 'Event' as int64 and uint64) but holds "
        f"{BIG} at entry 0 of the file, which float32 cannot hold exactly\n"
    )


def test_inspect_shows_converted_event_numbers_exactly(chain, tmp_path, capsys):
    files, _ = chain
    output = tmp_path / "events.parquet"
    assert run_convert(capsys, files, "branches: [Event, trigger]\n", output)[0] == 0
    for path in (output, files[1]):
        assert smartml_inspect.main([str(path), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        columns = summary.get("columns") or summary["trees"][0]["branches"]
        event = next(c for c in columns if c["name"] == "Event")["statistics"]
        assert (event["min"], event["max"]) == (BIG + (0 if path == output else 19), BIG + N - 1)
    assert smartml_inspect.main([str(output)]) == 0
    assert f"{BIG}  {BIG + N - 1}" in capsys.readouterr().out
