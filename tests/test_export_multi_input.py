"""Export of the coming models' layers: a DeepSets point classifier with three inputs
(points, a tiled padding mask, the track momentum) and a tabular MLP, each bit-exact
against QKeras in hls4ml C simulation for Vitis and Catapult; their precision rules
and one-line refusals."""

import json

import numpy as np
import pytest
from qkeras import QActivation, QConv1D, QDense, quantized_bits, quantized_relu
from report_files import EXPORT_SETTINGS

from smartml.backend import keras
from smartml.config.export import ExportConfig
from smartml.errors import ExportError
from smartml.export import exporter
from smartml.export.exporter import (
    _diagnose,
    _differing_examples,
    export_model,
    firmware_input_types,
)
from smartml.export.firmware_graph import WIDENING_SUFFIX, widened_pooling_inputs
from smartml.export.hls4ml_keras2 import convert
from smartml.export.qkeras_precision import hls_layer_config, layer_precisions, output_precision
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.precision import POOL_FRACTIONAL_BITS, activation_type

N_POINTS, HIDDEN = 8, 4


def q(bits, integer=0):
    return quantized_bits(bits, integer, alpha=1)


def randomize(model: keras.Model, seed: int) -> keras.Model:
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def deepsets_model(seed: int = 0) -> keras.Model:
    """Per-point QConv1D and QDense (on (N, F)) with quantized_relu, the mask
    multiplied in, max and mean over points, concatenated with the momentum."""
    keras.utils.set_random_seed(seed)
    points = keras.Input((N_POINTS, 3), name="points")
    mask = keras.Input((N_POINTS, HIDDEN), name="mask")
    momentum = keras.Input((1,), name="momentum")
    x = QConv1D(HIDDEN, 1, kernel_quantizer=q(6), bias_quantizer=q(6), name="point_conv")(points)
    x = QActivation(quantized_relu(6, 2), name="conv_relu")(x)
    x = QDense(HIDDEN, kernel_quantizer=q(6), bias_quantizer=q(6), name="point_dense")(x)
    x = QActivation(quantized_relu(6, 2), name="dense_relu")(x)
    x = keras.layers.Multiply(name="masked")([x, mask])
    largest = keras.layers.GlobalMaxPooling1D(name="max_pool")(x)
    mean = keras.layers.GlobalAveragePooling1D(name="mean_pool")(x)
    mean = QActivation(q(8, 2), name="mean_q")(mean)
    pooled = keras.layers.Concatenate(name="pooled")([largest, mean])
    p = QActivation(q(8, 3), name="momentum_q")(momentum)
    features = keras.layers.Concatenate(name="features")([pooled, p])
    logits = QDense(2, kernel_quantizer=q(8), bias_quantizer=q(8), name="logits")(features)
    return randomize(keras.Model([points, mask, momentum], logits), seed)


def tabular_model(seed: int = 1) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,), name="features")
    x = QDense(8, kernel_quantizer=q(6), bias_quantizer=q(6), name="d0")(inputs)
    x = QActivation(quantized_relu(8, 3), name="d0_relu")(x)
    x = QDense(4, kernel_quantizer=q(6), bias_quantizer=q(6), name="d1")(x)
    x = QActivation(quantized_relu(8, 3), name="d1_relu")(x)
    outputs = QDense(1, kernel_quantizer=q(8), bias_quantizer=q(8), name="out")(x)
    return randomize(keras.Model(inputs, outputs), seed)


def sequence_model(seed: int = 5) -> keras.Model:
    """QConv1D with wider kernels: 3 wide with "same" padding, 2 wide with stride 2."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((N_POINTS, 3), name="sequence")
    x = QConv1D(4, 3, padding="same", kernel_quantizer=q(6), bias_quantizer=q(6), name="c3")(inputs)
    x = QActivation(quantized_relu(6, 2), name="c3_relu")(x)
    x = QConv1D(3, 2, strides=2, kernel_quantizer=q(6), bias_quantizer=q(6), name="c2")(x)
    x = QActivation(quantized_relu(6, 2), name="c2_relu")(x)
    x = keras.layers.Flatten(name="flat")(x)
    outputs = QDense(2, kernel_quantizer=q(8), bias_quantizer=q(8), name="out")(x)
    return randomize(keras.Model(inputs, outputs), seed)


def sequence_inputs(n: int = 300, seed: int = 4) -> dict[str, np.ndarray]:
    return {"sequence": np.random.default_rng(seed).uniform(-3, 3, (n, N_POINTS, 3))}


def deepsets_inputs(n: int = 300, seed: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    valid = np.arange(N_POINTS) < rng.integers(1, N_POINTS + 1, size=(n, 1))
    mask = np.repeat(valid[:, :, None], HIDDEN, axis=2).astype("float32")  # tiled to (N, C)
    return {
        "points": rng.uniform(-3, 3, (n, N_POINTS, 3)).astype("float32"),
        "mask": mask,
        "momentum": rng.uniform(0, 7.9, (n, 1)).astype("float32"),
    }


def tabular_inputs(n: int = 300, seed: int = 3) -> dict[str, np.ndarray]:
    return {"features": np.random.default_rng(seed).normal(0, 2, (n, 6)).astype("float32")}


DEEPSETS_PRECISION = {"points": "fixed<10,3>", "mask": "ufixed<1,1>"}
INPUT_TYPES = {name: FixedType.parse(text) for name, text in DEEPSETS_PRECISION.items()}


# -- precisions ----------------------------------------------------------------------


def test_quantized_relu_type_reproduces_qkeras():
    quantizer = quantized_relu(6, 2)
    fixed = activation_type(quantizer, "test")
    assert fixed.hls() == "ufixed<6,2,RND_CONV,SAT>"
    values = np.arange(-6.0, 6.0, 1 / 256, dtype=np.float32)  # ties and saturation included
    np.testing.assert_array_equal(fixed.quantize(values), np.asarray(quantizer(values)))


def test_merge_and_pooling_types_are_exact():
    model = deepsets_model()
    precisions = _precisions(model)
    types = {p.name: p.types for p in precisions}
    relu, mask = types["dense_relu"]["result"], types["mask"]["result"]
    masked = types["masked"]["result"]
    # the product grid is the product of the grids; the range the product of the ranges
    assert masked.fractional == relu.fractional + mask.fractional == 4
    assert masked.max >= relu.max * mask.max and not masked.signed
    assert types["max_pool"]["result"] == masked
    mean = types["mean_pool"]
    assert mean["result"].fractional == POOL_FRACTIONAL_BITS
    assert mean["accum"].max >= N_POINTS * masked.max
    # Concatenate: one type holding the max-pooled ufixed<6,2> and the 8-bit fixed<8,3>
    pooled = types["pooled"]["result"]
    assert pooled.hls() == "fixed<8,3,RND_CONV,SAT>"
    features = types["features"]["result"]  # and the momentum's quantized_bits(8, 3)
    assert features.hls() == "fixed<9,4,RND_CONV,SAT>"
    assert output_precision(model, precisions) == types["logits"]["result"]


def _precisions(model):
    return layer_precisions(model, {**INPUT_TYPES, "momentum": FixedType(8, 4)})


def test_input_types_per_input_name():
    model, inputs = deepsets_model(), deepsets_inputs(20)
    chosen = firmware_input_types(model, DEEPSETS_PRECISION, inputs)
    assert {key: (t.hls(), source) for key, (t, source) in chosen.items()} == {
        "points": ("fixed<10,3,RND_CONV,SAT>", "export.input_precision.points"),
        "mask": ("ufixed<1,1,RND_CONV,SAT>", "export.input_precision.mask"),
        "momentum": ("fixed<8,4,RND_CONV,SAT>", "model input quantizer 'momentum_q'"),
    }
    derived = firmware_input_types(model, None, inputs)["points"]
    assert derived[0].hls() == "fixed<16,3,RND_CONV,SAT>" and derived[1].startswith("derived")
    with pytest.raises(
        ExportError, match=r"^export.input_precision.pointz: the model has no input"
    ):
        firmware_input_types(model, {"pointz": "fixed<10,3>"}, inputs)
    with pytest.raises(ExportError, match=r"^export.input_precision.points fixed<4,1>: \d+ test"):
        firmware_input_types(model, {"points": "fixed<4,1>"}, inputs)


def test_per_input_precision_setting_is_validated():
    assert ExportConfig(input_precision=DEEPSETS_PRECISION).input_precision == DEEPSETS_PRECISION
    with pytest.raises(ValueError, match=r"export.input_precision.mask: expected a type like"):
        ExportConfig(input_precision={"mask": "bool"})


def test_multiply_without_tiling_is_refused():
    features = keras.Input((N_POINTS, HIDDEN), name="features")
    mask = keras.Input((N_POINTS, 1), name="mask")
    x = QActivation(quantized_relu(6, 2), name="relu")(features)
    masked = keras.layers.Multiply(name="masked")([x, mask])
    model = keras.Model([features, mask], keras.layers.GlobalMaxPooling1D(name="pool")(masked))
    with pytest.raises(ExportError, match=r"layer 'masked' \(Multiply\): input shapes .* tile"):
        layer_precisions(model, FixedType(8, 4))


def test_an_add_of_different_shapes_is_refused():
    features = keras.Input((N_POINTS, HIDDEN), name="features")
    bias = keras.Input((N_POINTS, 1), name="bias")
    x = QActivation(quantized_relu(6, 2), name="relu")(features)
    added = keras.layers.Add(name="shifted")([x, bias])
    model = keras.Model([features, bias], keras.layers.GlobalMaxPooling1D(name="pool")(added))
    with pytest.raises(
        ExportError,
        match=r"^layer 'shifted' \(Add\): input shapes \(8, 4\) and \(8, 1\) differ; "
        r"hls4ml does not broadcast$",
    ):
        layer_precisions(model, FixedType(8, 4))


@pytest.mark.parametrize(("n_points", "refused"), [(6, True), (8, False)])
def test_an_unquantized_mean_is_refused_unless_exact(n_points, refused):
    """A mean over 6 values rounds differently in float32 (QKeras) and in fixed point;
    over 8 it is exact in both."""
    points = keras.Input((n_points, 2), name="points")
    x = QActivation(quantized_relu(6, 2), name="relu")(points)
    mean = keras.layers.GlobalAveragePooling1D(name="mean")(x)
    head = QDense(2, kernel_quantizer=q(8), bias_quantizer=q(8), name="head")
    model = keras.Model(points, head(mean))
    if refused:
        with pytest.raises(
            ExportError, match=r"'mean' .*over 6 values goes unquantized into 'head'"
        ):
            layer_precisions(model, FixedType(8, 4))
    else:
        assert layer_precisions(model, FixedType(8, 4))[-1].name == "head"


def test_io_stream_is_refused_for_the_point_layers(tmp_path):
    with pytest.raises(ExportError, match=r"layer 'point_conv' \(QConv1D\): .*io_parallel"):
        convert(
            deepsets_model(),
            {},
            **{**EXPORT_SETTINGS, "io_type": "io_stream"},
            default_precision="fixed<16,6>",
            output_dir=str(tmp_path / "prj"),
            project_name="ds",
        )
    assert not (tmp_path / "prj").exists()


def test_catapult_widens_the_global_average_input_without_changing_values():
    model = deepsets_model()
    widened = widened_pooling_inputs(model, {**INPUT_TYPES, "momentum": FixedType(8, 4)})
    names = [layer.name for layer in widened.layers]
    assert names.index("mean_pool" + WIDENING_SUFFIX) == names.index("mean_pool") - 1
    x = [deepsets_inputs(50)[key] for key in ("points", "mask", "momentum")]
    np.testing.assert_array_equal(widened.predict(x, verbose=0), model.predict(x, verbose=0))


# -- C simulation ---------------------------------------------------------------------


MODELS = {
    "deepsets": (deepsets_model, deepsets_inputs, DEEPSETS_PRECISION),
    "tabular": (tabular_model, tabular_inputs, "fixed<12,4>"),
    "sequence": (sequence_model, sequence_inputs, "fixed<10,3>"),
}


@pytest.mark.parametrize(
    ("backend", "strategy"),
    [("Vitis", "Latency"), ("Catapult", "Latency"), ("Vitis", "distributed_arithmetic")],
)
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_export_is_bit_identical_to_qkeras(tmp_path, kind, backend, strategy):
    """Every model kind, with hls4ml's Latency strategy on two backends and with kernels
    as da4ml adder graphs (whose QDense on points needs the quantized weights handed
    over: with the float shadow weights the DeepSets model was 29% bit-identical)."""
    build, make_inputs, precision = MODELS[kind]
    model, inputs = build(), make_inputs()
    settings = ExportConfig(
        backend=backend,
        strategy=strategy,
        output_dir=str(tmp_path),
        input_precision=precision,
        testbench_vectors=5,
    )
    report = export_model(
        model,
        inputs,
        lambda out: {"mean": float(np.mean(out, dtype=np.float64))},
        settings,
        kind,
        {},
    )
    verification = report["verification"]
    assert verification["bit_identical_fraction"] == 1.0 and verification["passed"]
    assert verification["outputs"] == 300 * model.output_shape[-1]
    assert verification["metrics_firmware"] == verification["metrics_keras"]
    # the comparison is not vacuous: QKeras on the firmware's quantized inputs varies
    types = precision if isinstance(precision, dict) else dict.fromkeys(inputs, precision)
    quantized = [
        FixedType.parse(types[k]).quantize(x) if k in types else x for k, x in inputs.items()
    ]
    reference = model.predict(quantized, verbose=0)
    assert np.unique(reference).size > 100
    written = json.loads((tmp_path / kind / "report.json").read_text())
    rows = {row["name"]: row for row in written["layers"]}
    assert set(rows) == {layer.name for layer in model.layers} | (
        {"mean_pool" + WIDENING_SUFFIX} if backend == "Catapult" and kind == "deepsets" else set()
    )
    assert all(row["luts"] > 0 for row in rows.values() if row["class"] in ("QDense", "QConv1D"))
    if strategy == "distributed_arithmetic":
        kernels = [row for row in rows.values() if row["class"] in ("QDense", "QConv1D")]
        assert all(row["distributed_arithmetic"]["luts"] > 0 for row in kernels)
    tb_line = (tmp_path / kind / "tb_data" / "tb_input_features.dat").read_text().splitlines()[0]
    assert len(tb_line.split()) == sum(x[0].size for x in inputs.values())


def test_layer_diagnosis_follows_several_inputs(tmp_path):
    """Per-layer agreement (hls4ml trace against QKeras) on a multi-input model: run
    on the examples whose outputs are flagged as differing, every traced layer agrees."""
    model, inputs = deepsets_model(), deepsets_inputs(40)
    types = {**INPUT_TYPES, "momentum": FixedType(8, 4)}
    inputs = {key: types[key].quantize(x).astype("float32") for key, x in inputs.items()}
    hls_model = convert(
        model,
        hls_layer_config(layer_precisions(model, types)),
        **EXPORT_SETTINGS,
        default_precision="fixed<32,16>",
        output_dir=str(tmp_path / "prj"),
        project_name="ds",
    )
    hls_model.compile()
    ordered = [inputs[k] for k in ("points", "mask", "momentum")]
    reference = model.predict(ordered, verbose=0)
    flagged = reference.astype(np.float64)
    flagged[[3, 17, 31], 1] += 1.0  # pretend three examples differ
    chosen = _differing_examples(flagged, reference)
    assert chosen.tolist() == [3, 17, 31]
    rows = _diagnose(hls_model, model, [x[chosen] for x in ordered])
    rows = {row["layer"]: row for row in rows}
    assert {"point_conv", "masked", "max_pool", "mean_pool", "pooled", "features", "logits"} <= set(
        rows
    )
    assert all(row["bit_identical_fraction"] == 1.0 for row in rows.values())


# -- verification in chunks -------------------------------------------------------------


def test_chunks_quantize_every_example_in_the_model_input_order(monkeypatch):
    """Chunks of 7 examples (the last one shorter) put together are the whole input set
    quantized at once, and QKeras outputs computed chunk by chunk are model.predict's."""
    monkeypatch.setattr(exporter, "VERIFY_CHUNK", 7)
    model, inputs = deepsets_model(), deepsets_inputs(30)
    types = {**INPUT_TYPES, "momentum": FixedType(8, 4)}
    chunks = exporter.ExampleChunks(model, dict(reversed(inputs.items())), types)
    pieces = list(chunks)
    assert len(chunks) == 30 and [len(piece[0]) for piece in pieces] == [7, 7, 7, 7, 2]
    expected = [
        types[k].quantize(inputs[k]).astype("float32") for k in ("points", "mask", "momentum")
    ]
    for position, whole in enumerate(expected):
        together = np.concatenate([piece[position] for piece in pieces])
        assert together.dtype == np.float32 and together.flags["C_CONTIGUOUS"]
        np.testing.assert_array_equal(together, whole)
    picked = chunks.rows(np.array([29, 3]))
    np.testing.assert_array_equal(picked[2], expected[2][[29, 3]])
    reference = model.predict(expected, verbose=0)
    assert np.unique(reference).size > 20
    np.testing.assert_array_equal(exporter._predict(model, chunks), reference)
    raw = exporter.ExampleChunks(model, inputs)  # no types: the inputs as they are
    np.testing.assert_array_equal(np.concatenate([c[0] for c in raw]), inputs["points"])


def test_export_in_chunks_verifies_every_example(tmp_path, monkeypatch):
    """An export whose verification runs 64 examples at a time: the agreement and both
    metrics cover all 300 examples, in order (the metric weighs each example by its
    index), and equal those of QKeras on the whole quantized input set at once."""
    monkeypatch.setattr(exporter, "VERIFY_CHUNK", 64)
    sizes = []
    rows = exporter.ExampleChunks.rows

    def counted(self, index):
        chunk = rows(self, index)
        sizes.append(len(chunk[0]))
        return chunk

    monkeypatch.setattr(exporter.ExampleChunks, "rows", counted)
    model, inputs = deepsets_model(), deepsets_inputs()
    settings = ExportConfig(
        output_dir=str(tmp_path), input_precision=DEEPSETS_PRECISION, testbench_vectors=5
    )

    def ordered_sum(out: np.ndarray) -> dict:
        weights = np.arange(len(out), dtype=np.float64)[:, None]
        return {"weighted": float(np.sum(out * weights))}

    report = export_model(model, inputs, ordered_sum, settings, "chunked", {})
    verification = report["verification"]
    assert verification["bit_identical_fraction"] == 1.0
    assert verification["outputs"] == 300 * 2 and verification["examples"] == 300
    types = {key: FixedType.parse(text) for key, text in report["input_precision"].items()}
    quantized = [types[k].quantize(inputs[k]) for k in ("points", "mask", "momentum")]
    expected = ordered_sum(model.predict(quantized, verbose=0))
    assert verification["metrics_keras"] == verification["metrics_firmware"] == expected
    floats = ordered_sum(model.predict([inputs[k] for k in types], verbose=0))
    assert verification["metrics_keras_float_inputs"] == floats
    assert max(sizes) == 64 and 300 % 64 in sizes  # chunks only, the last one shorter


@pytest.mark.slow
def test_rtl_and_synthesis_beside_the_hls_project(tmp_path):
    """--rtl --synth with a pipeline of 3 adder levels a stage: the same examples,
    one per clock, simulated as Verilog equal QKeras, gated like the C simulation;
    Yosys counts LUTs near da4ml's cost of the design and the pipeline's registers."""
    model, inputs = tabular_model(), tabular_inputs()
    settings = ExportConfig(output_dir=str(tmp_path), testbench_vectors=5, rtl_stage_levels=3)
    report = export_model(
        model, inputs, lambda out: {}, settings, "tabular", {}, rtl=True, synth=True
    )
    rtl = report["rtl"]
    assert rtl["examples"] == 300 and rtl["outputs"] == 300
    assert rtl["bit_identical_fraction"] == 1.0 and rtl["passed"] and rtl["threshold"] == 0.999
    assert rtl["simulator"].startswith("Verilator")  # preferred where installed
    synthesis = rtl["synthesis"]
    assert synthesis["ran"] and "Yosys" in synthesis["tool"]
    assert 0.3 < synthesis["luts"] / rtl["da4ml_cost_luts"] < 3
    pipeline = rtl["pipeline"]
    assert pipeline["stages"] >= 2 and pipeline["latency_ns"] == 25.0 * pipeline["stages"]
    assert synthesis["ffs"] > 0  # the stage registers (Yosys may merge or drop a few)
    project = tmp_path / "tabular"
    assert (project / "rtl" / "tb" / "testbench.v").is_file()
    assert json.loads((project / "report.json").read_text())["rtl"]["passed"]
    from smartml.export.__main__ import export_summary, summary_text

    summary = export_summary(report, project)
    assert summary["rtl"]["yosys_luts"] == synthesis["luts"] and summary["passed"]
    line = summary_text(summary).splitlines()[2]
    assert line.startswith("RTL:           100.000% bit-identical in Verilator")
    assert f"Yosys {synthesis['luts']} LUTs" in line
    assert summary_text(summary).splitlines()[3] == (
        f"pipeline:      a new input every 25 ns, latency {pipeline['stages']} clocks = "
        f"{pipeline['latency_ns']:g} ns ({pipeline['stages']} stages of at most 3 adder levels)"
    )
