"""The ``mlp`` model: float or quantized, with or without DeepMEM's residual block;
parameter counts, layers, the residual sum, save/load, exportability, and the
quantized residual network bit-exact in hls4ml C simulation."""

import itertools

import numpy as np
import pytest
from pydantic import ValidationError
from qkeras import QActivation, QDense

from smartml.backend import keras
from smartml.config.export import ExportConfig
from smartml.errors import ExportError
from smartml.export.exporter import export_model
from smartml.export.qkeras_precision import layer_precisions
from smartml.hardware.cost import hardware_report
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.registry import handler_for
from smartml.models.exportability import export_refusal, is_exportable
from smartml.models.mlp.builder import MLP
from smartml.models.mlp.schema import MLPConfig
from smartml.models.saved import load_model
from smartml.outputs.logits import Logits
from smartml.outputs.point_regression import PointRegression
from smartml.registry import MODELS
from smartml.tasks.base import InputSpec

N_FEATURES = 6
FEATURES = {"features": InputSpec("features", (N_FEATURES,))}
REGRESSION = PointRegression(["w"], [""])


def build(**settings) -> keras.Model:
    return MLP.build(MLPConfig(**settings), FEATURES, REGRESSION)


def dense_parameters(widths: list[int]) -> int:
    """Weights and biases of dense layers chaining ``widths``."""
    return sum((n_in + 1) * n_out for n_in, n_out in itertools.pairwise(widths))


@pytest.mark.parametrize("quantized", [False, True])
@pytest.mark.parametrize("residual", [False, True])
def test_parameter_counts_and_layers(quantized, residual):
    hidden = [10, 7]
    model = build(hidden_units=hidden, residual=residual, quantization={} if quantized else None)
    widths = [N_FEATURES, *hidden, *([N_FEATURES] if residual else []), 1]
    assert model.count_params() == dense_parameters(widths)
    assert tuple(model.output.shape) == (None, 1)
    dense_class = QDense if quantized else keras.layers.Dense
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert {type(layer) for layer in dense} == {dense_class}
    assert [layer.units for layer in dense] == widths[1:]
    adds = [layer for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == int(residual)
    activations = QActivation if quantized else keras.layers.Activation
    assert sum(isinstance(layer, activations) for layer in model.layers) == len(hidden) + residual


def test_the_residual_block_adds_the_inputs_before_the_activation():
    """With the residual layer's weights zeroed the block is relu(inputs): the output
    layer then sees exactly the (non-negative part of the) inputs."""
    model = build(hidden_units=[5], residual=True, activation="relu")
    back = model.get_layer("residual_dense")
    back.set_weights([np.zeros_like(w) for w in back.get_weights()])
    probe = keras.Model(model.inputs, model.get_layer("residual_relu").output)
    x = np.random.default_rng(0).normal(size=(20, N_FEATURES)).astype("float32")
    np.testing.assert_allclose(probe.predict(x, verbose=0), np.maximum(x, 0.0))


def test_float_activation_dropout_and_regularization_are_applied():
    model = build(
        hidden_units=[4, 4],
        activation="tanh",
        dropout=0.25,
        regularization={"kernel_l2": 0.01},
    )
    assert model.get_layer("dense_0_tanh").activation is keras.activations.tanh
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [
        0.25,
        0.25,
    ]
    assert model.get_layer("dense_1").kernel_regularizer.l2 == pytest.approx(0.01)


def test_quantized_layers_use_the_configured_formats():
    model = build(
        hidden_units=[4],
        quantization={
            "weights": {"bits": 6, "integer": 1},
            "activation": {"bits": 7, "integer": 2},
        },
    )
    dense = model.get_layer("dense_0")
    assert (dense.kernel_quantizer_internal.bits, dense.kernel_quantizer_internal.integer) == (6, 1)
    relu = model.get_layer("dense_0_relu").quantizer
    assert (relu.bits, relu.integer) == (7, 2)


def test_several_inputs_are_concatenated_and_the_residual_spans_them():
    inputs = {"a": InputSpec("a", (3,)), "b": InputSpec("b", (2,))}
    model = MLP.build(MLPConfig(hidden_units=[4], residual=True), inputs, Logits(["x", "y", "z"]))
    assert model.get_layer("residual_dense").units == 5
    assert model.count_params() == dense_parameters([5, 4, 5, 3])


def test_a_quantized_mlp_takes_only_relu():
    with pytest.raises(ValidationError, match="the quantized mlp uses quantized_relu"):
        MLPConfig(quantization={}, activation="elu")


@pytest.mark.parametrize("quantized", [False, True])
def test_save_and_load_round_trip(tmp_path, quantized):
    model = build(hidden_units=[8], residual=True, quantization={} if quantized else None)
    path = tmp_path / "model.h5"
    model.save(path)
    loaded = load_model(path)
    x = np.random.default_rng(1).normal(size=(32, N_FEATURES)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]


def test_exportable_only_when_quantized_without_dropout():
    assert MODELS.get("mlp") is MLP
    assert is_exportable(MLPConfig(quantization={}))
    assert "float" in export_refusal(MLPConfig())
    assert "dropout 0.1" in export_refusal(MLPConfig(quantization={}, dropout=0.1))
    # the quantized residual network has a cost and an export rule for every layer
    model = build(hidden_units=[4], residual=True, quantization={})
    assert hardware_report(model)["macs"] == 6 * 4 + 4 * 6 + 6
    precisions = {p.name: p.types["result"] for p in layer_precisions(model, FixedType(10, 3))}
    # the sum of relu-free linear output and the inputs: exact, on the finer grid
    back, inputs = precisions["residual_dense"], precisions["features"]
    total = precisions["residual_add"]
    assert total.fractional == max(back.fractional, inputs.fractional)
    assert total.max >= back.max + inputs.max
    add = model.get_layer("residual_add")
    with pytest.raises(ExportError, match=r"^layer 'residual_add' \(Add\): only io_parallel"):
        handler_for(add, "export").check_backend(add, "Vitis", "Latency", "io_stream")


def test_quantized_residual_mlp_is_bit_identical_in_c_simulation(tmp_path):
    keras.utils.set_random_seed(3)
    model = build(
        hidden_units=[8, 8],
        residual=True,
        quantization={
            "weights": {"bits": 6, "integer": 0},
            "activation": {"bits": 8, "integer": 3},
        },
    )
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    inputs = {"features": rng.normal(0, 2, (300, N_FEATURES)).astype("float32")}
    settings = ExportConfig(
        output_dir=str(tmp_path), input_precision="fixed<12,4>", testbench_vectors=5
    )
    report = export_model(
        model, inputs, lambda out: {"mean": float(np.mean(out))}, settings, "mlp", {}
    )
    verification = report["verification"]
    assert verification["bit_identical_fraction"] == 1.0 and verification["passed"]
    reference = model.predict(
        FixedType.parse("fixed<12,4>").quantize(inputs["features"]), verbose=0
    )
    assert np.unique(reference).size > 100  # the comparison is not vacuous
    rows = {row["name"]: row for row in report["layers"]}
    assert rows["residual_add"]["class"] == "Add" and rows["residual_add"]["luts"] > 0
