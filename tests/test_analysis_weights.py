"""smartml.analysis.weights: float and quantized weights, levels, zeros against MDMM targets.

Expected numbers are computed here with numpy from the float weights: a
``quantized_bits(b, 0, alpha=1)`` quantizer rounds to steps of 2^-(b-1) and clips to
[-1, 1 - step].
"""

import numpy as np
import pytest
from qkeras import QDense, QSeparableConv2D, quantized_bits

from smartml.analysis import weights
from smartml.backend import keras
from smartml.hardware import cost as hardware_cost

BITS = {"sep": 4, "d0": 6, "d1": 8}


def quantize(values: np.ndarray, bits: int) -> np.ndarray:
    step = 2.0 ** -(bits - 1)
    return np.clip(np.round(values / step) * step, -1.0, 1.0 - step)


def small_model() -> keras.Model:
    def q(layer):
        return quantized_bits(BITS[layer], 0, alpha=1)

    inputs = keras.Input((5, 5, 2))
    x = QSeparableConv2D(
        3,
        3,
        depthwise_quantizer=q("sep"),
        pointwise_quantizer=q("sep"),
        bias_quantizer=q("sep"),
        name="sep",
    )(inputs)
    x = keras.layers.Flatten()(x)
    x = QDense(4, kernel_quantizer=q("d0"), bias_quantizer=q("d0"), name="d0")(x)
    outputs = QDense(2, kernel_quantizer=q("d1"), bias_quantizer=q("d1"), name="d1")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(3)
    for layer in model.layers:
        layer.set_weights([rng.normal(0.0, 0.12, w.shape) for w in layer.get_weights()])
    return model


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return small_model()


def expected_tensors(model) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(layer, role) -> (float values, quantized values), computed here."""
    roles = {"sep": ["depthwise", "pointwise", "bias"], "d0": ["kernel", "bias"]}
    roles["d1"] = roles["d0"]
    result = {}
    for name, layer_roles in roles.items():
        for role, values in zip(layer_roles, model.get_layer(name).get_weights(), strict=True):
            flat = values.astype(np.float64).ravel()
            result[(name, role)] = (flat, quantize(flat, BITS[name]))
    return result


def test_every_tensor_has_its_float_and_quantized_values(model):
    tensors = weights.tensor_weights(model)
    expected = expected_tensors(model)
    assert [(t.layer, t.role) for t in tensors] == list(expected)
    for tensor in tensors:
        float_values, quantized = expected[(tensor.layer, tensor.role)]
        np.testing.assert_allclose(tensor.float_values, float_values, rtol=1e-6)
        np.testing.assert_allclose(tensor.quantized_values, quantized, atol=1e-7)
    assert [t.role for t in weights.tensor_weights(model, include_bias=False)] == [
        "depthwise",
        "pointwise",
        "kernel",
        "kernel",
    ]


def test_levels_are_the_distinct_quantized_values_and_their_counts(model):
    tensors = weights.tensor_weights(model)
    expected = expected_tensors(model)
    for tensor in tensors:
        levels, counts = np.unique(expected[(tensor.layer, tensor.role)][1], return_counts=True)
        np.testing.assert_allclose(tensor.levels, levels, atol=1e-7)
        np.testing.assert_array_equal(tensor.counts, counts)

    table = weights.levels_table(tensors)
    d1_kernel = table[(table["layer"] == "d1") & (table["role"] == "kernel")]
    levels, counts = np.unique(expected[("d1", "kernel")][1], return_counts=True)
    np.testing.assert_allclose(d1_kernel["value"], levels, atol=1e-7)
    assert d1_kernel["count"].tolist() == counts.tolist()
    assert d1_kernel["fraction"].sum() == pytest.approx(1.0)

    by_layer = weights.levels_by_layer(tensors)
    assert by_layer.columns.tolist() == ["sep", "d0", "d1"]
    sep = np.concatenate([expected[("sep", "depthwise")][1], expected[("sep", "pointwise")][1]])
    for name, values in (("sep", sep), ("d0", expected[("d0", "kernel")][1])):
        levels, counts = np.unique(values, return_counts=True)
        used = by_layer[name][by_layer[name] > 0]
        np.testing.assert_allclose(used.index.to_numpy(), levels, atol=1e-7)
        assert used.tolist() == counts.tolist()
    # biases only when asked for
    assert weights.levels_by_layer(tensors, include_bias=True).sum().tolist() == [
        9 * 2 + 2 * 3 + 3,
        27 * 4 + 4,
        4 * 2 + 2,
    ]


def test_zero_fractions_count_the_quantized_kernel_zeros(model):
    tensors = weights.tensor_weights(model)
    expected = expected_tensors(model)
    table = weights.zero_fractions(tensors, {"d0": 0.5}).set_index("layer")
    kernels = {
        "sep": np.concatenate(
            [expected[("sep", "depthwise")][1], expected[("sep", "pointwise")][1]]
        ),
        "d0": expected[("d0", "kernel")][1],
        "d1": expected[("d1", "kernel")][1],
    }
    for name, values in kernels.items():
        assert table.loc[name, "weights"] == values.size
        assert table.loc[name, "zeros"] == np.count_nonzero(values == 0)
        assert table.loc[name, "zero_fraction"] == pytest.approx(np.mean(values == 0))
    assert table["zeros"].sum() > 0, "the weights were drawn so that some quantize to zero"
    assert table.loc["d0", "target"] == 0.5 and table["target"].isna().sum() == 2
    # the same numbers as the hardware report the training writes
    report = hardware_cost.hardware_report(model)["layers"]
    assert table["zero_fraction"].to_dict() == pytest.approx(
        {name: entry["sparsity"] for name, entry in report.items()}
    )


def test_sparsity_targets_follow_the_layers_of_each_constraint():
    def config(*constraints):
        return {"training": {"mdmm": {"constraints": list(constraints)}}}

    names = ["sep", "d0", "d1"]
    assert weights.sparsity_targets({"training": {"mdmm": None}}, names) == {}
    assert weights.sparsity_targets({}, names) == {}
    assert weights.sparsity_targets(
        config(
            {"type": "sparsity", "layers": "all", "target": 0.25},
            {"type": "sparsity", "layers": "d0", "target": 0.5},
            {"type": "sparsity", "layers": ["d1"], "target": 0.75},
            {"type": "bops", "max_bops": 1000},
        ),
        names,
    ) == {"sep": 0.25, "d0": 0.5, "d1": 0.75}


def test_constraint_table_evaluates_every_constraint_on_the_weights(model):
    expected = expected_tensors(model)
    kernels = [v[1] for (layer, role), v in expected.items() if role != "bias"]
    all_zero_fraction = np.mean(np.concatenate(kernels) == 0)
    d0_zero_fraction = np.mean(expected[("d0", "kernel")][1] == 0)
    d1_l1 = np.abs(expected[("d1", "kernel")][1]).sum()
    model_bops = hardware_cost.bops(model)
    config = {
        "training": {
            "mdmm": {
                "feasibility_tolerance": 0.02,
                "constraints": [
                    {"type": "sparsity", "name": "d0", "layers": "d0", "target": d0_zero_fraction},
                    {"type": "sparsity", "name": "everything", "layers": "all", "target": 0.9},
                    {"type": "bops", "name": "budget", "max_bops": 2 * model_bops},
                    {
                        "type": "norm",
                        "name": "d1_l1",
                        "layers": ["d1"],
                        "kind": "l1",
                        "max_value": 1.0,
                    },
                ],
            }
        }
    }
    table = weights.constraint_table(model, config).set_index("constraint")
    assert table.index.tolist() == ["d0", "everything", "budget", "d1_l1"]
    assert table["type"].tolist() == ["sparsity", "sparsity", "bops", "norm"]
    assert table["layers"].tolist() == ["d0", "all", "all", "d1"]
    assert table.loc["d0", "value"] == pytest.approx(d0_zero_fraction)
    assert table.loc["everything", "value"] == pytest.approx(all_zero_fraction)
    assert table.loc["budget", "value"] == pytest.approx(model_bops, rel=1e-5)
    assert table.loc["d1_l1", "value"] == pytest.approx(d1_l1, rel=1e-5)
    assert table.loc["everything", "violation"] == pytest.approx(
        0.9 - all_zero_fraction - 0.5 / sum(k.size for k in kernels)
    )
    assert table["met"].tolist() == [True, False, True, d1_l1 <= 1.02]
    assert table.loc["budget", "bound"] == 2 * model_bops


def test_constraint_table_of_a_run_without_mdmm_is_empty(model):
    table = weights.constraint_table(model, {"training": {"mdmm": None}})
    assert table.empty and "value" in table.columns


def test_layer_costs_add_a_total_row_to_the_hardware_report(model):
    report = hardware_cost.hardware_report(model)
    costs = weights.layer_costs(report)
    assert costs.index.tolist() == ["sep", "d0", "d1", "total"]
    assert costs.loc["total", "weights"] == 18 + 6 + 108 + 8
    assert costs.loc["total", "macs"] == report["macs"]
    assert costs.loc["total", "bops"] == pytest.approx(report["bops"])
    assert costs.loc["total", "sparsity"] == pytest.approx(report["sparsity"])
    assert costs.loc["d0", "nonzero_macs"] == report["layers"]["d0"]["nonzero_macs"]
