"""The layer-handler registry: one error for a layer no handler knows, in every path
(export, hardware cost, MDMM "all"); costs of the point-cloud layers; the export page's
list of supported layers."""

import math
import re
from pathlib import Path

import pytest
from qkeras import QActivation, QConv1D, QDense, quantized_bits, quantized_relu

from smartml.backend import keras
from smartml.errors import ExportError, UnsupportedLayerError
from smartml.export.qkeras_precision import layer_precisions
from smartml.hardware import cost
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.registry import LayerHandler, handler_for, layer_handler, supported_layers
from smartml.training.mdmm import BopsConstraint, SparsityConstraint

EXPORT_PAGE = Path(__file__).resolve().parent.parent / "docs" / "user-guide" / "export.md"


def q(bits, integer=0):
    return quantized_bits(bits, integer, alpha=1)


def model_with(layer: keras.layers.Layer) -> keras.Model:
    """ADC -> QDense -> ``layer`` -> QDense: the unknown layer sits between two known ones."""
    inputs = keras.Input((5,), name="x")
    x = QActivation(q(6), name="adc")(inputs)
    x = QDense(4, kernel_quantizer=q(4), name="first")(x)
    x = layer(x)
    return keras.Model(inputs, QDense(2, kernel_quantizer=q(4), name="last")(x))


COST_PATHS = {
    "quantized_layers": cost.quantized_layers,
    "mac_groups": cost.mac_groups,
    "bops": cost.bops,
    "hardware_report": cost.hardware_report,
    "mdmm_sparsity_all": lambda model: SparsityConstraint("all", 0.5).bind(model),
    "mdmm_bops": lambda model: BopsConstraint(1000.0).bind(model),
}


@pytest.mark.parametrize("path", sorted(COST_PATHS))
@pytest.mark.parametrize(
    "layer",
    [
        lambda: keras.layers.Dense(3, name="odd"),  # weights no handler knows
        lambda: keras.layers.Activation("relu", name="odd"),  # no weights, not pass-through
    ],
    ids=["Dense", "Activation"],
)
def test_an_unknown_layer_is_one_error_in_every_cost_path(path, layer):
    model = model_with(layer())
    name = type(model.get_layer("odd")).__name__
    with pytest.raises(
        UnsupportedLayerError, match=rf"^layer 'odd' \({name}\) is not supported for cost; .*QDense"
    ):
        COST_PATHS[path](model)


def test_an_unknown_layer_is_one_error_in_export():
    model = model_with(keras.layers.Activation("relu", name="odd"))
    with pytest.raises(
        ExportError, match=r"^layer 'odd' \(Activation\) is not supported for export"
    ):
        layer_precisions(model, FixedType(8, 4))


def test_cost_only_layers_pass_bits_but_are_not_exported():
    model = model_with(keras.layers.Dropout(0.1, name="drop"))
    assert {g.layer: g.activation_bits for g in cost.mac_groups(model)} == {"first": 6, "last": 16}
    with pytest.raises(
        UnsupportedLayerError, match=r"'drop' \(Dropout\) is not supported for export"
    ):
        layer_precisions(model, FixedType(8, 4))


def test_lookup_is_by_exact_class_and_registration_is_unique():
    class MyDense(QDense):
        pass

    layer = MyDense(2, name="mine")
    with pytest.raises(UnsupportedLayerError, match=r"'mine' \(MyDense\)"):
        handler_for(layer)
    with pytest.raises(ValueError, match="two handlers for QDense"):
        layer_handler(QDense)(type("Again", (LayerHandler,), {}))


def test_point_cloud_costs_follow_the_graph():
    """Per-point layers count every point; a Concatenate passes its widest input's bits,
    a Multiply the sum of its inputs'."""
    points = keras.Input((8, 3), name="points")
    mask = keras.Input((8, 4), name="mask")
    x = QConv1D(4, 1, kernel_quantizer=q(6), name="conv")(points)
    x = QActivation(quantized_relu(5, 2), name="relu")(x)
    x = QDense(4, kernel_quantizer=q(6), name="dense")(x)
    x = QActivation(quantized_relu(7, 2), name="relu2")(x)
    x = keras.layers.Multiply(name="masked")([x, QActivation(q(2, 1), name="mask_q")(mask)])
    largest = keras.layers.GlobalMaxPooling1D(name="max")(x)
    mean = keras.layers.GlobalAveragePooling1D(name="mean")(x)
    features = keras.layers.Concatenate(name="cat")([largest, mean])
    model = keras.Model([points, mask], QDense(2, kernel_quantizer=q(8), name="head")(features))
    groups = {g.layer: g for g in cost.mac_groups(model, default_bits=12)}
    rows = {
        name: (g.macs, g.fan_in, g.activation_bits, g.weight_bits) for name, g in groups.items()
    }
    assert rows == {
        "conv": (8 * 3 * 4, 3, 12, 6),  # 8 points x (1x3x4) kernel; the input unquantized
        "dense": (8 * 4 * 4, 4, 5, 6),  # QDense on (8, 4): every point
        # max pool: 7 + 2 bits of the product; the mean is unquantized (12): the widest
        "head": (8 * 2, 8, 12, 8),
    }
    expected = sum(
        macs * (b_a * b_w + b_a + b_w + math.log2(fan_in))
        for macs, fan_in, b_a, b_w in rows.values()
    )
    assert cost.maximum_bops(model, default_bits=12) == pytest.approx(expected)


def test_export_page_lists_every_exportable_layer():
    text = " ".join(EXPORT_PAGE.read_text().split())
    sentence = re.search(r"Supported layers \(generated from .*?\): (.*?)\.", text)
    assert sentence, "docs/user-guide/export.md: the supported-layers sentence is missing"
    listed = [item.strip().strip("`") for item in sentence.group(1).split(", ")]
    assert listed == list(supported_layers("export", package="smartml"))  # not plugins' layers


def test_the_fused_quantized_tanh_has_the_rule_of_quantized_tanh():
    """smartml's FusedQuantizedTanh computes quantized_tanh's values: it is registered
    with the same rule (lookups are by exact class: a subclass may compute others)."""
    from qkeras import quantized_tanh

    from smartml.hardware.precision import activation_type
    from smartml.layers.fused_quantized_tanh import FusedQuantizedTanh

    assert activation_type(FusedQuantizedTanh(4), "t") == activation_type(quantized_tanh(4), "t")
