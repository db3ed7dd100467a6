"""RTL export: a masked point model, an MLP and the smart-pixel MDNs as da4ml Verilog,
simulated with Icarus Verilog bit for bit against QKeras; Yosys synthesis; refusals;
the project without Yosys."""

import logging
import shutil

import numpy as np
import pytest
from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

from smartml.backend import keras
from smartml.config.common import FixedPoint
from smartml.errors import ExportError, UnsupportedLayerError
from smartml.export.exporter import firmware_input_types
from smartml.export.rtl import export_rtl, project, simulation, synthesis
from smartml.export.rtl.trace import exact_constants, trace_model
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.rtl.arithmetic import exact_decimals, quantize_to
from smartml.models.deepsets.builder import DeepSets
from smartml.models.deepsets.schema import DeepSetsConfig
from smartml.models.mlp.builder import MLP
from smartml.models.mlp.schema import MLPConfig
from smartml.models.pixel_mdn.builder import PixelMDN
from smartml.models.pixel_mdn.schema import PixelMDNConfig
from smartml.models.pixel_profile_mdn.builder import PixelProfileMDN
from smartml.models.pixel_profile_mdn.schema import PixelProfileMDNConfig
from smartml.outputs.gaussian_mdn import GaussianMDN
from smartml.outputs.logits import Logits
from smartml.outputs.point_regression import PointRegression
from smartml.tasks.base import InputSpec
from smartml.tasks.smart_pixels.layout import TARGET_UNITS, TARGETS

N_POINTS = 12  # not a power of two: the mean over points is the exact-mean path
EXAMPLES = 300


def randomized(model: keras.Model, seed: int = 0) -> keras.Model:
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def mlp() -> keras.Model:
    """The MEM regressor's MLP: QDense + quantized_relu with a residual Add."""
    config = MLPConfig(hidden_units=[8, 8], residual=True, quantization={})
    inputs = {"features": InputSpec("features", (6,))}
    return randomized(MLP.build(config, inputs, PointRegression(["w"], [""])))


def deepsets() -> keras.Model:
    """The RICH point model: per-point QDense on points and mask, max and mean over
    points, concatenated with the momentum, a dense head."""
    config = DeepSetsConfig(point_units=[6, 6], head_units=[4], pooling="max_average")
    inputs = {
        "points": InputSpec("points", (N_POINTS, 3)),
        "mask": InputSpec("mask", (N_POINTS,)),
        "momentum": InputSpec("momentum", (1,)),
    }
    return randomized(DeepSets.build(config, inputs, Logits(["muon", "pion"])))


MLP_TYPES = {"features": FixedType(10, 4)}
POINT_TYPES = {
    "points": FixedType(10, 3),
    "mask": FixedType(1, 1, signed=False),
    "momentum": FixedType(10, 4),
}


def mlp_inputs(rng) -> list[np.ndarray]:
    return [MLP_TYPES["features"].quantize(rng.normal(0, 2, (EXAMPLES, 6)))]


def point_inputs(rng) -> list[np.ndarray]:
    hits = rng.integers(2, N_POINTS + 1, EXAMPLES)
    mask = (np.arange(N_POINTS)[None, :] < hits[:, None]).astype(np.float64)
    points = POINT_TYPES["points"].quantize(rng.normal(0, 1, (EXAMPLES, N_POINTS, 3)))
    momentum = POINT_TYPES["momentum"].quantize(rng.normal(0, 2, (EXAMPLES, 1)))
    return [points * mask[:, :, None], mask, momentum]


def qkeras_outputs(model: keras.Model, inputs: list[np.ndarray]) -> np.ndarray:
    return model.predict([x.astype("float32") for x in inputs], verbose=0)


@pytest.mark.parametrize(
    ("simulator", "version"),
    [(simulation.VERILATOR, "Verilator 5."), (simulation.ICARUS, "Icarus Verilog version")],
)
@pytest.mark.parametrize(
    ("build", "types", "make_inputs"),
    [(mlp, MLP_TYPES, mlp_inputs), (deepsets, POINT_TYPES, point_inputs)],
    ids=["mlp", "deepsets"],
)
def test_simulated_verilog_is_bit_identical_to_qkeras(
    build, types, make_inputs, simulator, version, tmp_path, monkeypatch
):
    """Both simulators run the same bench to the same, exact, outputs."""
    monkeypatch.setattr(simulation, "choose_simulator", lambda: simulator)
    model = build()
    inputs = make_inputs(np.random.default_rng(1))
    reference = qkeras_outputs(model, inputs)
    report = export_rtl(model, types, inputs, reference, tmp_path / "rtl")
    assert report["simulator"].startswith(version)
    assert report["examples"] == EXAMPLES
    assert report["bit_identical_fraction"] == 1.0 and report["max_difference_lsb"] == 0.0
    assert report["da4ml_cost_luts"] > 0 and report["da4ml_latency"] > 0
    assert report["synthesis"] is None
    assert set(report["timing_seconds"]) == {"trace", "write", "compile", "simulate"}
    # the test bench itself agrees: its outputs are the expected vectors
    vectors = (tmp_path / "rtl/tb/vectors.hex").read_text().splitlines()
    outputs = (tmp_path / "rtl/tb/outputs.hex").read_text().split()
    assert [line.split()[1] for line in vectors] == outputs


def test_a_pipelined_design_takes_an_example_every_clock_and_answers_stages_later(
    tmp_path, monkeypatch
):
    """Cut into stages of 2 adder levels, the point model still matches QKeras on every
    example although a new one enters on every edge: the bench proves the initiation
    interval (1) and the latency (the stage count). Compared one edge early, it fails.
    (Icarus Verilog: Verilator compiles the same bench in 35 s, twice.)"""
    simulator = simulation.ICARUS
    monkeypatch.setattr(simulation, "choose_simulator", lambda: simulator)
    model = deepsets()
    inputs = point_inputs(np.random.default_rng(4))
    reference = qkeras_outputs(model, inputs)
    report = export_rtl(
        model, POINT_TYPES, inputs, reference, tmp_path / "rtl", clock_period_ns=5.0, stage_levels=2
    )
    pipeline = report["pipeline"]
    levels = report["da4ml_latency"]
    assert pipeline["stages"] == pytest.approx(levels / 2, abs=1.01) and pipeline["stages"] > 2
    assert pipeline["initiation_interval_cycles"] == 1 and pipeline["initiation_interval_ns"] == 5.0
    assert pipeline["latency_cycles"] == pipeline["stages"]
    assert pipeline["latency_ns"] == 5.0 * pipeline["stages"] and pipeline["register_bits"] > 0
    assert report["design"].startswith("pipelined")
    assert report["bit_identical_fraction"] == 1.0 and report["max_difference_lsb"] == 0.0
    bench = tmp_path / "rtl/tb/testbench.v"
    early = bench.read_text().replace(
        f"localparam LATENCY = {pipeline['stages']};",
        f"localparam LATENCY = {pipeline['stages'] - 1};",
    )
    bench.write_text(early)
    rtl = tmp_path / "rtl"
    sources = [str(p.relative_to(rtl)) for p in sorted((rtl / "src").rglob("*.v"))]
    sources = [name for name in sources if not name.endswith("lookup_table.v")]
    words, _ = simulation.run_testbench(rtl, sources, simulator)
    expected = [line.split()[-1] for line in (rtl / "tb/vectors.hex").read_text().splitlines()]
    assert sum(a != b for a, b in zip(words, expected, strict=True)) > EXAMPLES / 2


def pixel_mdn(seed: int = 3) -> keras.Model:
    """The smart-pixel MDN on a smaller image: its sensor quantizer, separable and 1x1
    convolutions with 4-bit tanh, average pooling 3x3 (a non-power-of-two mean: da4ml
    scales by ``2^-39`` and less after it), a dense layer and the 14 Gaussian outputs.
    Seed 3's weights need both workarounds of :mod:`smartml.export.rtl.trace`."""
    config = PixelMDNConfig(
        filters=3,
        hidden_units=[8],
        input_quantizer=FixedPoint(bits=8, integer=3, signed=False),
    )
    inputs = {"pixels": InputSpec("pixels", (8, 11, 2))}
    return randomized(PixelMDN.build(config, inputs, GaussianMDN(TARGETS, TARGET_UNITS)), seed)


def cluster_inputs(model: keras.Model, rng) -> tuple[dict[str, FixedType], list[np.ndarray]]:
    """Sparse non-negative charges on the type of the model's input quantizer, as the
    export chooses it."""
    charge = rng.exponential(1.5, (PIXEL_EXAMPLES, 8, 11, 2))
    hit = rng.random(charge.shape) < 0.4
    types = firmware_input_types(model, None, {"pixels": charge * hit})
    assert types["pixels"][1] == "model input quantizer 'input_quantizer'"
    fixed = types["pixels"][0]
    return {"pixels": fixed}, [fixed.quantize(charge * hit)]


PIXEL_EXAMPLES = 200


@pytest.mark.slow
def test_simulated_pixel_mdn_is_bit_identical_to_qkeras(tmp_path):
    """Before the workarounds of smartml.export.rtl.trace, 0 to 85% of its examples
    differed (a bias one LSB off, a saturated tanh giving 0 for -1)."""
    model = pixel_mdn()
    types, inputs = cluster_inputs(model, np.random.default_rng(5))
    reference = qkeras_outputs(model, inputs)
    assert len(np.unique(reference, axis=0)) == PIXEL_EXAMPLES  # outputs vary
    assert (reference.std(axis=0) > 0).all()
    report = export_rtl(model, types, inputs, reference, tmp_path / "rtl")
    assert report["examples"] == PIXEL_EXAMPLES and report["outputs"] == PIXEL_EXAMPLES * 14
    assert report["bit_identical_fraction"] == 1.0 and report["max_difference_lsb"] == 0.0


def pixel_profile_mdn(seed: int = 3) -> keras.Model:
    """The profile MDN on a smaller image: means over 8 rows and 11 columns (neither a
    power of two) re-quantized, per-layer weight formats, the 14 Gaussian outputs."""
    config = PixelProfileMDNConfig(
        hidden_units=[8],
        dense_weights=[FixedPoint(bits=4), FixedPoint(bits=8, integer=1)],
        input_quantizer=FixedPoint(bits=8, integer=3, signed=False),
    )
    inputs = {"pixels": InputSpec("pixels", (8, 11, 2))}
    return randomized(
        PixelProfileMDN.build(config, inputs, GaussianMDN(TARGETS, TARGET_UNITS)), seed
    )


@pytest.mark.slow
def test_simulated_pixel_profile_mdn_is_bit_identical_to_qkeras(tmp_path):
    model = pixel_profile_mdn()
    types, inputs = cluster_inputs(model, np.random.default_rng(5))
    reference = qkeras_outputs(model, inputs)
    assert len(np.unique(reference, axis=0)) == PIXEL_EXAMPLES
    report = export_rtl(model, types, inputs, reference, tmp_path / "rtl")
    assert report["outputs"] == PIXEL_EXAMPLES * 14
    assert report["bit_identical_fraction"] == 1.0 and report["max_difference_lsb"] == 0.0


def test_a_saturation_at_a_tiny_da4ml_scale_simulates_right(tmp_path):
    """da4ml 0.6 gives the constant -1.0 at scale ``2^-40`` a step finer than its
    multiplexer's output: without :func:`exact_constants` the Verilog gives 0."""
    source, target = FixedType(18, 4), FixedType(8, 1)
    with exact_decimals():
        low, high, step = (np.array([v * 2.0**40]) for v in (source.min, source.max, source.lsb))
        raw = FixedVariableArray.from_lhs(low, high, step, HWConfig(1, -1, -1))
        logic = exact_constants(comb_trace(raw, quantize_to(raw * 2.0**-40, target)))
    values = np.array([source.min, -1.12, -1.0, -0.85, 0.0, 0.99, 1.5, source.max])
    layouts = project.write_project(logic, "saturation", tmp_path, 25.0)
    expected = target.quantize(values)[:, None]
    project.write_vectors(tmp_path, layouts, values[:, None] * 2.0**40, expected)
    sources = project.design_sources(tmp_path, "saturation", logic)
    words, _ = simulation.run_testbench(
        tmp_path, ["src/saturation_wrapper.v", *sources], simulation.choose_simulator()
    )
    simulated = layouts[1].decode(words)
    np.testing.assert_array_equal(simulated, expected)
    assert expected.min() == -1.0


def test_a_wrong_output_is_caught(tmp_path):
    """The comparison is real: a reference off by one LSB somewhere is reported."""
    model = mlp()
    inputs = mlp_inputs(np.random.default_rng(2))
    reference = qkeras_outputs(model, inputs)
    lsb = trace_model(model, MLP_TYPES).output_type.lsb
    reference[7, 0] += lsb
    report = export_rtl(model, MLP_TYPES, inputs, reference, tmp_path / "rtl")
    assert report["max_difference_lsb"] == 1.0
    assert report["examples_all_identical"] == pytest.approx(1 - 1 / EXAMPLES)


def test_yosys_counts_luts_near_da4ml_cost(tmp_path):
    model = randomized(
        MLP.build(
            MLPConfig(hidden_units=[4], quantization={}),
            {"features": InputSpec("features", (6,))},
            PointRegression(["w"], [""]),
        )
    )
    inputs = mlp_inputs(np.random.default_rng(3))
    report = export_rtl(
        model, MLP_TYPES, inputs, qkeras_outputs(model, inputs), tmp_path / "rtl", synth=True
    )
    synth = report["synthesis"]
    assert synth["ran"] and synth["tool"].startswith("open synthesis (Yosys 0.")
    assert synth["ffs"] == 0 and synth["carry4"] > 0  # combinational, with carry chains
    assert 0.3 < synth["luts"] / report["da4ml_cost_luts"] < 3
    assert (tmp_path / "rtl" / synth["log"]).is_file()


def test_without_yosys_the_project_is_complete_and_says_so(tmp_path, monkeypatch, caplog):
    real_which = shutil.which
    monkeypatch.setattr(
        synthesis.shutil, "which", lambda name: None if name == "yosys" else real_which(name)
    )
    model = mlp()
    inputs = mlp_inputs(np.random.default_rng(4))
    with caplog.at_level(logging.WARNING):
        report = export_rtl(
            model, MLP_TYPES, inputs, qkeras_outputs(model, inputs), tmp_path / "rtl", synth=True
        )
    assert report["synthesis"]["ran"] is False
    assert "Yosys is not on PATH" in report["synthesis"]["message"]
    assert "Yosys is not on PATH" in caplog.text
    assert report["bit_identical_fraction"] == 1.0
    top = report["top"]
    for name in (f"src/{top}.v", f"src/{top}_wrapper.v", "tb/testbench.v", "tb/vectors.hex"):
        assert (tmp_path / "rtl" / name).is_file()
    assert "iverilog" in (tmp_path / "rtl/simulate.sh").read_text()


def test_an_unsupported_layer_is_refused_in_one_line_naming_it(tmp_path):
    inputs = keras.Input((4,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(2, name="plain")(inputs))
    with pytest.raises(
        UnsupportedLayerError, match=r"^layer 'plain' \(Dense\) is not supported"
    ) as error:
        export_rtl(model, {"x": FixedType(8, 3)}, [np.zeros((2, 4))], np.zeros((2, 2)), tmp_path)
    assert "\n" not in str(error.value)
    assert not any(tmp_path.iterdir())


def test_inputs_off_their_type_are_refused(tmp_path):
    model = mlp()
    with pytest.raises(ExportError, match=r"input 'features' is not quantized to fixed<10,4"):
        export_rtl(model, MLP_TYPES, [np.full((2, 6), 0.01)], np.zeros((2, 1)), tmp_path)
