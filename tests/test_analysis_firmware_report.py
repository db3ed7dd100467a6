"""smartml.analysis.firmware_report: reading the export's report.json (written here in
the documented shape, with extra keys a newer exporter might add)."""

import copy
import json

import pandas as pd
import pytest
from report_files import EXPORT_SETTINGS
from summary_files import PIXEL_SUMMARY

from smartml.analysis import firmware_report
from smartml.errors import RunDirectoryError

METRICS_KERAS = {
    "x-midplane": {"robust_width": 6.9, "pull_std": 1.002, "unit": "µm"},
    "cotBeta": {"robust_width": 0.0537, "pull_std": 1.011, "unit": ""},
    "all": {"n": 100, "d2_mean": 3.9},
}
METRICS_FIRMWARE = {
    "x-midplane": {"robust_width": 6.95, "pull_std": 1.004, "unit": "µm"},
    "cotBeta": {"robust_width": 0.0540, "pull_std": 1.013, "unit": ""},
}
REPORT = {
    "version": 1,
    "run": "pixel_2t",
    "run_dir": "runs/pixel_2t",
    **EXPORT_SETTINGS,
    "input_precision": "fixed<16,8,RND_CONV,SAT>",
    "layers": [
        {
            "name": "dense_0",
            "class": "Dense",
            "precision": {
                "weight": "fixed<8,1,RND_CONV,SAT>",
                "bias": "fixed<8,1,RND_CONV,SAT>",
                "accum": "fixed<19,5,RND_CONV,SAT>",
                "result": "fixed<19,5,RND_CONV,SAT>",
            },
            "parameters": 1456,
            "multiplications": 1440,
            "zero_weights": 700,
            "bops": 12345.0,
            "latency_cycles": 3,
            "luts": 900,
            "dsps": 0,
            "agreement": 1.0,  # extra key: ignored
        },
        {"name": "dense_0_tanh", "class": "Activation", "parameters": 0},
    ],
    "totals": {
        "parameters": 2029,
        "multiplications": 12997,
        "zero_weights": 1000,
        "bops": 516000.0,
        "latency_cycles": 12,
        "luts": 5000,
        "dsps": 0,
    },
    "resource_estimate": {"tool": "analytic", "limits": "no routing"},
    "verification": {
        "examples": 30000,
        "outputs": 420000,
        "bit_identical_fraction": 0.9995,
        "max_difference_lsb": 1.0,
        "output_lsb": 6.1e-05,
        "threshold": 0.999,
        "passed": True,
        "metrics_keras": METRICS_KERAS,
        "metrics_firmware": METRICS_FIRMWARE,
        "bit_identical_per_output": [1.0] * 14,
    },
    "synthesis": None,
    "timing_seconds": {"convert": 1.0, "compile": 10.0, "csim": 20.0},
    "project": {"name": "pixel_2t"},
}


@pytest.fixture
def report_path(tmp_path):
    path = tmp_path / "firmware" / "pixel_2t" / "report.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(REPORT))
    return path


def test_the_report_of_a_run_is_found_under_the_firmware_root(report_path, tmp_path):
    root = tmp_path / "firmware"
    assert firmware_report.find_report("pixel_2t", root) == report_path
    assert firmware_report.find_report("pixel_20t", root) is None
    assert firmware_report.locate_report("pixel_2t", None, root) == report_path
    assert firmware_report.locate_report("pixel_20t", None, root) is None
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("{}")
    assert firmware_report.locate_report("pixel_2t", elsewhere, root) == elsewhere


def test_an_explicit_report_path_that_does_not_exist_is_an_error(tmp_path):
    missing = tmp_path / "nowhere" / "report.json"
    with pytest.raises(RunDirectoryError, match=f"^{missing}: no such report file$"):
        firmware_report.locate_report("pixel_2t", missing)


def test_agreement_and_totals_are_the_report_values(report_path):
    report = firmware_report.read_report(report_path)
    assert firmware_report.agreement(report) == {
        **EXPORT_SETTINGS,
        "input_precision": "fixed<16,8,RND_CONV,SAT>",
        "examples": 30000,
        "outputs": 420000,
        "bit_identical_fraction": 0.9995,
        "max_difference_lsb": 1.0,
        "output_lsb": 6.1e-05,
        "threshold": 0.999,
        "passed": True,
    }
    assert firmware_report.totals(report) == {
        **REPORT["totals"],
        "estimate_tool": "analytic",
        "synthesis": False,
        "seconds_convert": 1.0,
        "seconds_compile": 10.0,
        "seconds_csim": 20.0,
    }


def test_layer_table_has_one_row_per_firmware_layer(report_path):
    table = firmware_report.layer_table(firmware_report.read_report(report_path))
    assert table["layer"].tolist() == ["dense_0", "dense_0_tanh"]
    dense = table.iloc[0]
    assert dense["weight"] == "fixed<8,1,RND_CONV,SAT>"
    assert dense["result"] == "fixed<19,5,RND_CONV,SAT>"
    for key in ("parameters", "multiplications", "zero_weights", "bops", "latency_cycles", "luts"):
        assert dense[key] == REPORT["layers"][0][key]
    assert "agreement" not in table.columns
    assert table.iloc[1]["parameters"] == 0 and pd.isna(table.iloc[1]["result"])


def test_summary_metrics_of_keras_and_firmware_side_by_side(report_path):
    report = firmware_report.read_report(report_path)
    table = firmware_report.metrics_side_by_side(report, PIXEL_SUMMARY).set_index("metric")
    # the summary metrics the report holds: widths and pull std of x and cotβ
    held = [(m, *m.key.split(".")) for m in PIXEL_SUMMARY]
    held = [(m, t, k) for m, t, k in held if k in METRICS_KERAS.get(t, {})]
    assert table.index.tolist() == [metric.header for metric, _, _ in held]
    assert len(held) == 4
    for metric, target, key in held:
        assert table.loc[metric.header, "keras"] == METRICS_KERAS[target][key]
        assert table.loc[metric.header, "firmware"] == METRICS_FIRMWARE[target][key]


def test_a_report_without_verification_results_still_reads(tmp_path):
    report = copy.deepcopy(REPORT)
    report["verification"] = None
    del report["totals"], report["timing_seconds"]
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    loaded = firmware_report.read_report(path)
    assert firmware_report.agreement(loaded)["bit_identical_fraction"] is None
    assert firmware_report.metrics_side_by_side(loaded, PIXEL_SUMMARY).empty
    assert firmware_report.totals(loaded)["luts"] is None


def broken(**changes) -> str:
    report = copy.deepcopy(REPORT)
    report.update(changes)
    return json.dumps(report)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"layers": [',
            "cannot read the run file: not valid JSON (Expecting value: line 1 column 13",
        ),
        ("[1, 2]", "expected a JSON object"),
        ("{}", "not an export report (no verification/layers)"),
        (broken(layers={"dense_0": {}}), "'layers' must be a list of objects with a 'name'"),
        (broken(layers=[{"class": "Dense"}]), "'layers' must be a list of objects with a 'name'"),
        (broken(verification="passed"), "'verification' must be an object"),
        (broken(totals=[1]), "'totals' must be an object"),
    ],
)
def test_a_corrupt_report_is_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "firmware" / "run" / "report.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(RunDirectoryError) as caught:
        firmware_report.read_report(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_a_report_written_before_the_examples_key_reads_the_same(tmp_path):
    report = copy.deepcopy(REPORT)
    report["verification"]["clusters"] = report["verification"].pop("examples")
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    old = firmware_report.agreement(firmware_report.read_report(path))
    assert old == firmware_report.agreement(REPORT) and old["examples"] == 30000
