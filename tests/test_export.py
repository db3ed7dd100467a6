"""Export to hls4ml: precisions from QKeras quantizers, bit-exact C simulation for Vitis
and Catapult, the command line, and bad input."""

import json

import numpy as np
import pytest
from qkeras import (
    QActivation,
    QConv2D,
    QDense,
    QSeparableConv2D,
    quantized_bits,
    quantized_relu,
    quantized_tanh,
)
from report_files import EXPORT_SETTINGS

from smartml.backend import keras
from smartml.errors import ExportError
from smartml.export import exporter
from smartml.export.__main__ import main as export_main
from smartml.export.exporter import firmware_input_type, input_range
from smartml.export.firmware_graph import widened_pooling_inputs
from smartml.export.hls4ml_keras2 import convert
from smartml.export.qkeras_precision import hls_layer_config, layer_precisions
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.precision import quantizer_type


def q(bits, integer=0):
    return quantized_bits(bits, integer, alpha=1)


def small_pixel_model(seed: int = 0) -> keras.Model:
    """The smart-pixel architecture in miniature: every layer kind of pixel_mdn."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 7, 2), name="pixels")
    x = QSeparableConv2D(
        3, 3, depthwise_quantizer=q(4), pointwise_quantizer=q(4), bias_quantizer=q(4), name="sep"
    )(inputs)
    x = QActivation(quantized_tanh(4), name="sep_tanh")(x)
    x = QConv2D(3, 1, kernel_quantizer=q(4), bias_quantizer=q(4), name="pw")(x)
    x = QActivation(quantized_tanh(4), name="pw_tanh")(x)
    x = keras.layers.AveragePooling2D(2, name="pool")(x)
    x = QActivation(q(8), name="pool_q")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = QDense(8, kernel_quantizer=q(8), bias_quantizer=q(8), name="d0")(x)
    x = QActivation(quantized_tanh(8), name="d0_tanh")(x)
    outputs = QDense(5, kernel_quantizer=q(8), bias_quantizer=q(8), name="out")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.6, w.shape).astype("float32") for w in model.get_weights()])
    return model


INPUT_TYPE = FixedType(12, 4, signed=False)


def convert_small(model, layer_config: dict, tmp_path, **settings):
    """:func:`convert` into ``tmp_path/prj`` with the export defaults."""
    options = {**EXPORT_SETTINGS, "default_precision": "fixed<16,6>", **settings}
    return convert(
        model, layer_config, output_dir=str(tmp_path / "prj"), project_name="small", **options
    )


def c_simulated(hls_model, x: np.ndarray) -> np.ndarray:
    """The compiled emulation's outputs of ``x``, one row per example."""
    hls_model.compile()
    return np.asarray(hls_model.predict(x)).reshape(len(x), -1)


def firmware_inputs(n: int = 300, seed: int = 1) -> np.ndarray:
    raw = np.random.default_rng(seed).exponential(2.0, (n, 6, 7, 2))
    return INPUT_TYPE.quantize(raw).astype("float32")


# -- precisions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantizer", "hls"),
    [
        (quantized_bits(8, 3, alpha=1), "fixed<8,4,RND_CONV,SAT>"),
        (quantized_bits(4, 0, alpha=1), "fixed<4,1,RND_CONV,SAT>"),
        (quantized_bits(6, 2, keep_negative=False, alpha=1), "ufixed<6,2,RND_CONV,SAT>"),
        (quantized_tanh(4), "fixed<4,1,RND_CONV,SAT>"),
        (quantized_tanh(8), "fixed<8,1,RND_CONV,SAT>"),
    ],
)
def test_quantizer_types_reproduce_qkeras_values(quantizer, hls):
    """The numpy emulation of the derived type equals QKeras on a fine grid, ties
    (half an LSB) and saturation included."""
    fixed = quantizer_type(quantizer, "test")
    assert fixed.hls() == hls
    values = np.arange(-20.0, 20.0, 1 / 512, dtype=np.float32)
    expected = np.asarray(quantizer(values))
    np.testing.assert_array_equal(fixed.quantize(values), expected)


def test_quantizers_without_a_fixed_point_equivalent_are_named():
    with pytest.raises(ExportError, match=r"layer 'x'.*alpha='auto'"):
        quantizer_type(quantized_bits(4, 0, alpha="auto"), "layer 'x'")
    with pytest.raises(ExportError, match="quantized_relu is not supported"):
        quantizer_type(quantized_relu(4), "layer 'x'")
    with pytest.raises(ExportError, match="use_real_tanh"):
        quantizer_type(quantized_tanh(4, use_real_tanh=True), "layer 'x'")


def test_accumulators_are_exact_for_the_worst_case_input():
    model = small_pixel_model()
    types = {p.name: p.types for p in layer_precisions(model, INPUT_TYPE)}
    kernel = np.asarray(
        model.get_layer("out").kernel_quantizer_internal(model.get_layer("out").kernel)
    )
    bias = np.asarray(model.get_layer("out").bias_quantizer_internal(model.get_layer("out").bias))
    bound = np.max(np.abs(kernel).sum(axis=0) * 1.0 + np.abs(bias))  # |tanh| <= 1
    accum = types["out"]["accum"]
    assert accum.max >= bound and -accum.min >= bound
    assert accum.fractional == 7 + 7  # input (8-bit tanh) and weight grids multiply
    assert types["sep_tanh"]["result"].hls() == "fixed<4,1,RND_CONV,SAT>"


def test_unsupported_layers_are_named_with_the_supported_ones():
    inputs = keras.Input((4,))
    x = QDense(3, kernel_quantizer=q(4), bias_quantizer=q(4), name="ok")(inputs)
    outputs = keras.layers.Dense(2, name="plain_dense")(x)
    with pytest.raises(
        ExportError, match=r"layer 'plain_dense' \(Dense\) is not supported.*QDense"
    ):
        layer_precisions(keras.Model(inputs, outputs), INPUT_TYPE)
    activated = QDense(2, kernel_quantizer=q(4), bias_quantizer=q(4), activation="relu", name="act")
    with pytest.raises(ExportError, match=r"layer 'act'.*activation 'relu'"):
        layer_precisions(keras.Model(inputs, activated(inputs)), INPUT_TYPE)


def test_widening_cast_changes_no_value():
    model = small_pixel_model()
    widened = widened_pooling_inputs(model, INPUT_TYPE)
    assert "pool_input_cast" in [layer.name for layer in widened.layers]
    x = firmware_inputs()
    np.testing.assert_array_equal(widened.predict(x, verbose=0), model.predict(x, verbose=0))


def test_hls4ml_alone_would_pick_the_keras3_converter():
    """Why smartml routes explicitly: `import keras` is Keras 3 beside TF 2.21."""
    import keras as standalone_keras

    assert int(standalone_keras.__version__.split(".")[0]) >= 3
    assert keras.__version__.startswith("2.")  # smartml's keras is tf_keras


# -- C simulation ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "io_type"),
    [("Vitis", "io_parallel"), ("Catapult", "io_parallel"), ("Vitis", "io_stream")],
)
def test_c_simulation_is_bit_identical_to_qkeras(tmp_path, backend, io_type):
    model = small_pixel_model()
    if backend == "Catapult":
        model = widened_pooling_inputs(model, INPUT_TYPE)
    precisions = layer_precisions(model, INPUT_TYPE)
    hls_model = convert_small(
        model,
        hls_layer_config(precisions),
        tmp_path,
        backend=backend,
        part="nangate-45nm" if backend == "Catapult" else "xcvu13p-flga2577-2-e",
        io_type=io_type,
        default_precision="fixed<32,16>",
    )
    assert hls_model.__class__.__name__ == "ModelGraph"
    x = firmware_inputs()
    firmware = c_simulated(hls_model, x)
    reference = model.predict(x, verbose=0)
    np.testing.assert_array_equal(firmware, reference)
    assert np.unique(reference).size > 100  # the outputs are not trivially equal
    assert (tmp_path / "prj" / "build_prj.tcl").is_file()


@pytest.mark.slow
def test_c_simulation_of_the_profile_mdn_is_bit_identical_to_qkeras(tmp_path):
    """Means over whole rows (7 values) and whole columns (6), neither a power of two,
    then Concatenate and Dense layers with their own weight formats."""
    from smartml.config.common import FixedPoint
    from smartml.models.pixel_profile_mdn.builder import PixelProfileMDN
    from smartml.models.pixel_profile_mdn.schema import PixelProfileMDNConfig
    from smartml.outputs.gaussian_mdn import GaussianMDN
    from smartml.tasks.base import InputSpec

    config = PixelProfileMDNConfig(
        hidden_units=[8], dense_weights=[FixedPoint(bits=4), FixedPoint(bits=8, integer=1)]
    )
    image = {"pixels": InputSpec("pixels", (6, 7, 2))}
    model = PixelProfileMDN.build(config, image, GaussianMDN(list("abcd"), [""] * 4))
    rng = np.random.default_rng(2)
    model.set_weights([rng.normal(0, 0.6, w.shape).astype("float32") for w in model.get_weights()])
    hls_model = convert_small(
        model, hls_layer_config(layer_precisions(model, INPUT_TYPE)), tmp_path
    )
    x = firmware_inputs()
    reference = model.predict(x, verbose=0)
    np.testing.assert_array_equal(c_simulated(hls_model, x), reference)
    assert np.unique(reference).size > 100


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["Vitis", "Vivado"])
def test_distributed_arithmetic_is_bit_identical_and_reports_its_cost(tmp_path, backend):
    """hls4ml's DA pass solves the dense and (pointwise) convolution kernels with da4ml:
    the per-layer cost read back is da4ml's own for the same kernel and input type, and
    (Vivado) the C simulation still equals QKeras. Vitis' DA C simulation is checked for
    every task's model by the conformance suite."""
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    from smartml.export import distributed_arithmetic

    model = small_pixel_model()
    precisions = layer_precisions(model, INPUT_TYPE)
    hls_model = convert_small(
        model,
        hls_layer_config(precisions),
        tmp_path,
        backend=backend,
        strategy="distributed_arithmetic",
    )
    if backend == "Vivado":
        x = firmware_inputs()
        np.testing.assert_array_equal(c_simulated(hls_model, x), model.predict(x, verbose=0))

    costs = distributed_arithmetic.kernel_costs(hls_model, {layer.name for layer in model.layers})
    assert sorted(costs) == ["d0", "out", "pw", "sep"]  # sep: its pointwise half
    assert costs["pw"]["instances"] == 1  # one kernel reused over the 4x5 positions
    # the head's cost, solved again here from the quantized weights and the input type
    source = {p.name: p.types["result"] for p in precisions}["d0_tanh"]
    layer = model.get_layer("out")
    kernel = np.asarray(layer.kernel_quantizer_internal(layer.kernel), dtype=np.float64)
    bias = np.asarray(layer.bias_quantizer_internal(layer.bias), dtype=np.float64)
    n_in = kernel.shape[0]
    signed, integer = int(source.signed), source.integer - int(source.signed)
    inputs = FixedVariableArray.from_kif(
        np.full(n_in, signed),
        np.full(n_in, integer),
        np.full(n_in, source.fractional),
        HWConfig(1, -1, -1),
        solver_options={"hard_dc": 2, "search_all_decompose_dc": True},
    )
    solution = comb_trace(inputs, inputs @ kernel + bias)
    assert costs["out"]["luts"] == round(solution.cost)
    assert costs["out"]["adder_depth"] == int(solution.latency[1])
    assert 0 < costs["out"]["adder_depth"] < costs["d0"]["adder_depth"] + 8
    total = distributed_arithmetic.totals(costs)
    assert total["luts"] == sum(row["luts"] for row in costs.values())
    assert "da4ml" in total["source"]


def test_hls4ml_defaults_disagree_which_is_why_precisions_are_derived(tmp_path):
    """Control: without the derived precisions the same model is not bit-exact."""
    model = small_pixel_model()
    hls_model = convert_small(model, {}, tmp_path)
    x = firmware_inputs()
    firmware = c_simulated(hls_model, x)
    assert (firmware == model.predict(x, verbose=0)).mean() < 0.5


def test_resource_strategy_with_depthwise_io_parallel_is_refused(tmp_path):
    with pytest.raises(ExportError, match=r"layer 'sep': hls4ml 1.3 has no Resource strategy"):
        convert_small(small_pixel_model(), {}, tmp_path, strategy="Resource", reuse_factor=2)
    assert not (tmp_path / "prj").exists()


# -- command line ----------------------------------------------------------------------


def test_export_requires_a_complete_run(tmp_path, capsys):
    assert export_main([str(tmp_path / "nowhere"), "--hls"]) == 2
    assert "no such run directory" in capsys.readouterr().err
    (tmp_path / "half").mkdir()
    assert export_main([str(tmp_path / "half"), "--hls"]) == 2
    assert "run is incomplete (COMPLETE.json missing)" in capsys.readouterr().err
    assert export_main(["--hls", "--runs", str(tmp_path / "empty")]) == 2
    assert "no complete run found" in capsys.readouterr().err


def test_export_asks_for_a_format(tmp_path, capsys):
    assert export_main([str(tmp_path), "--backend", "Vitis"]) == 2
    assert "--hls" in capsys.readouterr().err


def test_input_type_comes_from_the_quantizer_the_setting_or_the_data():
    model = small_pixel_model()
    inputs = np.array([[0.0, 5.5], [66.3, 1.0]])
    derived, source = firmware_input_type(model, None, inputs)
    assert derived.hls() == "ufixed<16,7,RND_CONV,SAT>" and source.startswith("derived")
    chosen, source = firmware_input_type(model, "fixed<16,8>", inputs)
    assert chosen.hls() == "fixed<16,8,RND_CONV,SAT>" and source == "export.input_precision"
    with pytest.raises(ExportError, match=r"fixed<8,4>: 1 test inputs lie outside"):
        firmware_input_type(model, "fixed<8,4>", inputs)
    with pytest.raises(ExportError, match="NaN or inf"):
        firmware_input_type(model, None, np.array([np.nan, 1.0]))
    inputs_layer = keras.Input((3,))
    quantized = QActivation(q(10, 5), name="adc")(inputs_layer)
    with_adc = keras.Model(inputs_layer, QDense(2, kernel_quantizer=q(4), name="d")(quantized))
    from_model, source = firmware_input_type(with_adc, "fixed<16,8>", inputs)
    assert (
        from_model.hls() == "fixed<10,6,RND_CONV,SAT>" and source == "model input quantizer 'adc'"
    )


def test_input_range_scanned_in_chunks_is_numpy_on_the_whole_array(monkeypatch):
    monkeypatch.setattr(exporter, "VERIFY_CHUNK", 3)
    x = np.random.default_rng(4).normal(0, 3, (10, 2, 3))
    x[:, 0] = np.abs(x[:, 0])
    assert input_range(x) == (np.abs(x).max(), True, True)
    assert input_range(np.abs(x)) == (np.abs(x).max(), False, True)
    x[8, 1, 2] = np.nan  # in the last, shorter chunk
    largest, signed, finite = input_range(x)
    assert np.isnan(largest) and signed and not finite
    assert input_range(np.zeros((0, 4))) == (0.0, False, True)
    model = small_pixel_model()
    x = np.abs(x[:8])
    outside = np.count_nonzero(x > 4.0)
    assert outside > 1
    message = rf"fixed<6,3>: {outside} test inputs lie outside .*largest \|x\| = {x.max():g}"
    with pytest.raises(ExportError, match=message):
        firmware_input_type(model, "fixed<6,3>", x)
    derived, _ = firmware_input_type(model, None, x)
    assert derived.hls() == f"ufixed<16,{int(np.ceil(np.log2(x.max())))},RND_CONV,SAT>"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from test_train_end_to_end import small_config

    from smartml.train import main as train_main

    tmp_path = tmp_path_factory.mktemp("export")
    assert train_main([str(small_config(tmp_path)), "--epochs", "1"]) == 0
    return tmp_path / "run"


@pytest.mark.slow
def test_export_of_a_trained_run_writes_a_verified_project(tiny_run, tmp_path, capsys):
    output = tmp_path / "firmware"
    code = export_main([str(tiny_run), "--hls", "--output", str(output), "--build"])
    assert code == 0, capsys.readouterr().err
    project = output / "tiny"
    report = json.loads((project / "report.json").read_text())
    verification = report["verification"]
    assert verification["bit_identical_fraction"] == 1.0 and verification["passed"]
    test_examples = json.loads((tiny_run / "metrics.json").read_text())["test_examples"]
    assert verification["examples"] == test_examples  # the run's whole test split
    keras_x = verification["metrics_keras"]["x-midplane"]["robust_width"]
    assert verification["metrics_firmware"]["x-midplane"]["robust_width"] == keras_x
    assert report["input_precision"].startswith("ufixed<16,")
    # hand-written reports in other tests use the same settings block
    assert {key: report[key] for key in EXPORT_SETTINGS} == EXPORT_SETTINGS
    layers = {row["name"]: row for row in report["layers"]}
    assert layers["dense_0"]["multiplications"] == 90 * 16
    assert layers["dense_0"]["precision"]["weight"] == "fixed<8,1,RND_CONV,SAT>"
    assert report["totals"]["parameters"] == 2029
    assert report["synthesis"]["ran"] is False  # no vendor tool here
    assert "vitis-run not found on PATH" in report["synthesis"]["message"]
    assert (project / "build_prj.tcl").is_file()
    assert (project / "tb_data" / "tb_input_features.dat").is_file()
    assert [p.name for p in output.iterdir()] == ["tiny"]  # no staging folder left


@pytest.mark.slow
def test_export_fails_below_the_agreement_threshold(tiny_run, tmp_path, monkeypatch, capsys):
    from smartml.export import exporter

    real = exporter.compare_outputs

    def pessimist(firmware, reference, lsb):
        return {**real(firmware, reference, lsb), "bit_identical_fraction": 0.5}

    monkeypatch.setattr(exporter, "compare_outputs", pessimist)
    code = export_main(
        [str(tiny_run), "--hls", "--output", str(tmp_path), "--verify-examples", "50"]
    )
    assert code == 1
    assert "50.000% of the outputs, below the threshold of 99.900%" in capsys.readouterr().err
    assert (
        json.loads((tmp_path / "tiny" / "report.json").read_text())["verification"]["passed"]
        is False
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--part", "not-a-part"], "unknown part 'not-a-part' for Vitis"),
        (["--backend", "Catapult", "--part", "tsmc-7nm"], "ASIC library"),
        (["--input-precision", "float32"], "expected a type like fixed<16,8>"),
        (["--threshold", "1.5"], "--threshold 1.5: must be less than or equal to 1"),
        (
            ["--strategy", "distributed_arithmetic", "--backend", "Catapult"],
            "--strategy distributed_arithmetic: hls4ml 1.3 has distributed_arithmetic for "
            "Vitis and Vivado only, not Catapult",
        ),
        (
            ["--strategy", "distributed_arithmetic", "--io-type", "io_stream"],
            "with io_parallel only, not io_stream",
        ),
        (
            ["--strategy", "distributed_arithmetic", "--reuse-factor", "2"],
            "--reuse-factor 2: distributed_arithmetic computes every product in parallel: "
            "the reuse factor must be 1, not 2",
        ),
    ],
)
def test_bad_export_settings_are_named(tiny_run, tmp_path, capsys, option, message):
    assert export_main([str(tiny_run), "--hls", "--output", str(tmp_path), *option]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("option", "choices"),
    [
        (["--backend", "Quartus"], "'Vitis', 'Vivado', 'Catapult'"),
        (["--strategy", "latency"], "'Latency', 'Resource', 'distributed_arithmetic'"),
        (["--io-type", "stream"], "'io_parallel', 'io_stream'"),
    ],
)
def test_closed_export_values_are_choices(tmp_path, capsys, option, choices):
    """The values the export schema allows are the options' choices: a bad one is
    refused by the command line, in one line, before any run is opened."""
    with pytest.raises(SystemExit) as exited:
        export_main(["--hls", "--output", str(tmp_path), *option])
    assert exited.value.code == 2
    name, value = option
    assert capsys.readouterr().err == (
        f"smartml.export: error: argument {name}: invalid choice: '{value}' "
        f"(choose from {choices})\n"
    )
    assert not any(tmp_path.iterdir())
