"""smartml.analysis: weights, targets, histories, reports, comparisons."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from qkeras import QDense, quantized_bits

from smartml.analysis import comparison, figures, firmware_report, histories, weights
from smartml.analysis.run_contents import open_run
from smartml.backend import keras
from smartml.errors import RunDirectoryError
from smartml.metrics.summary import SummaryMetric


def tiny_model() -> keras.Model:
    inputs = keras.Input((4,))
    x = QDense(3, kernel_quantizer=quantized_bits(4, 0, alpha=1), name="d0")(inputs)
    outputs = QDense(2, kernel_quantizer=quantized_bits(4, 0, alpha=1), name="d1")(x)
    model = keras.Model(inputs, outputs)
    d0 = np.array([[0.01, 0.5, -0.3], [0.9, -0.04, 0.2], [0.0, 0.05, 0.7], [-0.6, 0.1, 0.02]])
    model.get_layer("d0").set_weights([d0, np.array([0.01, 0.0, 0.3])])
    model.get_layer("d1").set_weights([np.full((3, 2), 0.25), np.zeros(2)])
    return model


def test_quantized_weights_levels_and_zero_fractions():
    tensors = weights.tensor_weights(tiny_model())
    kernel = next(t for t in tensors if (t.layer, t.role) == ("d0", "kernel"))
    # quantized_bits(4, 0): step 1/8, |w| < 1/16 -> 0 (independent count below)
    expected = np.clip(np.round(kernel.float_values * 8) / 8, -1, 7 / 8)
    np.testing.assert_array_equal(kernel.quantized_values, expected)
    levels, counts = np.unique(expected, return_counts=True)
    np.testing.assert_array_equal(kernel.levels, levels)
    np.testing.assert_array_equal(kernel.counts, counts)
    table = weights.zero_fractions(tensors, {"d0": 0.5})
    d0 = table.set_index("layer").loc["d0"]
    assert d0["weights"] == 12 and d0["zeros"] == np.count_nonzero(expected == 0) == 5
    assert d0["target"] == 0.5 and np.isnan(table.set_index("layer").loc["d1", "target"])


def test_histories_follow_the_csv_columns():
    history = pd.DataFrame(
        {
            "epoch": [0, 1, 2],
            "mdmm_sp_value": [0.2, 0.4, 0.5],
            "mdmm_sp_lambda": [-1.0, -2.0, -1.5],
            "sparsity_d0": [0.1, 0.3, 0.5],
            "bops": [900.0, 700.0, 650.0],
        }
    )
    ((name, frame),) = histories.constraint_histories(history).items()
    assert name == "sp" and frame["value"].tolist() == [0.2, 0.4, 0.5]
    assert frame["lambda"].tolist() == [-1.0, -2.0, -1.5]
    assert histories.layer_sparsity_history(history).columns.tolist() == ["epoch", "d0"]
    assert histories.bops_history(history).tolist() == [900.0, 700.0, 650.0]
    assert histories.bops_history(history.drop(columns="bops")) is None


def test_binned_resolution_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    truth = rng.uniform(-1, 1, (4000, 2))
    scale = 0.1 + 0.4 * (truth[:, 1] > 0)  # worse resolution for positive cotBeta
    mean = truth + rng.normal(size=truth.shape) * scale[:, None]
    sigma = np.repeat(scale[:, None], 2, axis=1)
    table = comparison.binned_resolution(truth, mean, sigma, ["x", "cotBeta"], "cotBeta", 2)
    assert table["n"].tolist() == [2000, 2000]
    low = truth[:, 1] <= np.median(truth[:, 1])
    residual = mean[low, 0] - truth[low, 0]
    central = math.erf(1 / math.sqrt(2))  # 68.27%: ±1σ of a Gaussian
    half = np.diff(np.quantile(residual, [0.5 - central / 2, 0.5 + central / 2]))[0] / 2
    assert table.loc[0, "x width"] == pytest.approx(half, rel=1e-6)
    assert table.loc[1, "x width"] > 4 * table.loc[0, "x width"]
    assert table["x pull std"].tolist() == pytest.approx([1.0, 1.0], abs=0.05)


def test_config_differences_list_only_what_differs():
    class Run:
        def __init__(self, name, config):
            self.name, self.config = name, config

    a = Run("a", {"name": "a", "data": {"time_slices": [0, 19], "sensor": {"thickness_um": 100}}})
    b = Run("b", {"name": "b", "data": {"time_slices": [0, 19], "sensor": {"thickness_um": 150}}})
    table = comparison.config_differences([a, b])
    assert table.index.tolist() == ["data.sensor.thickness_um"]
    assert table.loc["data.sensor.thickness_um"].tolist() == [100, 150]


def test_report_reading_and_bad_reports(tmp_path):
    report = {
        "backend": "Vitis",
        "layers": [
            {
                "name": "d0",
                "class": "QDense",
                "precision": {"result": "fixed<8,1>"},
                "parameters": 15,
                "luts": 40,
            }
        ],
        "verification": {
            "bit_identical_fraction": 1.0,
            "passed": True,
            "metrics_keras": {"x": {"robust_width": 2.0, "pull_std": 1.0}},
            "metrics_firmware": {"x": {"robust_width": 2.0, "pull_std": 1.0}},
        },
    }
    (tmp_path / "run1").mkdir()
    (tmp_path / "run1" / "report.json").write_text(json.dumps(report))
    path = firmware_report.find_report("run1", tmp_path)
    loaded = firmware_report.read_report(path)
    assert firmware_report.agreement(loaded)["bit_identical_fraction"] == 1.0
    assert firmware_report.layer_table(loaded).loc[0, "luts"] == 40
    width = SummaryMetric("x.robust_width", "x width")
    assert firmware_report.metrics_side_by_side(loaded, [width]).loc[0, "firmware"] == 2.0
    assert firmware_report.find_report("other", tmp_path) is None
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(RunDirectoryError, match=r"bad\.json: cannot read"):
        firmware_report.read_report(tmp_path / "bad.json")
    (tmp_path / "empty.json").write_text("{}")
    with pytest.raises(RunDirectoryError, match="not an export report"):
        firmware_report.read_report(tmp_path / "empty.json")


def test_open_run_names_missing_incomplete_and_corrupt_runs(tmp_path):
    with pytest.raises(RunDirectoryError, match="no such run directory"):
        open_run(tmp_path / "missing")
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(RunDirectoryError, match="run is incomplete"):
        open_run(run)
    (run / "COMPLETE.json").write_text("{}")
    (run / "config.json").write_text('{"name": "run"}')
    (run / "metrics.json").write_text('{"x": {"pull_std": 1.0}}')
    (run / "history.csv").write_text("loss\n1.0\n")
    with pytest.raises(RunDirectoryError, match=r"history\.csv: no 'epoch' column"):
        open_run(run)
    (run / "history.csv").write_text("epoch,loss\n0,1.0\n")
    contents = open_run(run)
    assert contents.metrics == {"x": {"pull_std": 1.0}}
    assert contents.history["loss"].tolist() == [1.0]


def test_figures_are_figures():
    tensors = weights.tensor_weights(tiny_model())
    table = weights.zero_fractions(tensors, {"d0": 0.5})
    for figure in (
        figures.weight_histograms(tensors),
        figures.quantized_levels(tensors),
        figures.zero_fractions_vs_targets(table),
        figures.constraint_histories({}),
        figures.grouped_bars(pd.DataFrame({"a": [1.0, 2.0]}, index=["r1", "r2"]), "y"),
    ):
        assert isinstance(figure, Figure) and figure.axes
