"""The ``luts`` MDMM constraint: its configuration, and a tiny model trained to a LUT
budget that the real da4ml solution of its final kernels meets."""

import json
from pathlib import Path

import numpy as np
import pytest
from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from smartml.backend import keras, tf
from smartml.config.loader import load_config
from smartml.config.mdmm import LutsConstraintConfig, MDMMConfig
from smartml.errors import ConfigError
from smartml.hardware import cost as hc
from smartml.training.mdmm import LutsConstraint, MDMMModel, constraint_from_config

# The predictor's error on trained and pruned kernels (benchmarks/cost_model.py) plus
# MDMM's feasibility tolerance: the real cost must be within this of the budget.
TOLERANCE = 0.15
# (signed, integer, fractional) bits of each dense layer's input, from its quantizer
INPUT_KIF = {"d0": (1, 3, 4), "d1": (0, 2, 6)}


def q(bits, integer=0):
    return quantized_bits(bits, integer, alpha=1)


def mlp(seed: int = 0) -> keras.Model:
    """quantized_bits(8, 3) -> QDense(16, 8 bits) -> quantized_relu(8, 2) -> QDense(4)."""
    tf.random.set_seed(seed)
    inputs = keras.Input((12,))
    x = QActivation(q(8, 3), name="adc")(inputs)
    x = QDense(16, kernel_quantizer=q(8), bias_quantizer=q(8), name="d0")(x)
    x = QActivation(quantized_relu(8, 2), name="relu")(x)
    outputs = QDense(4, kernel_quantizer=q(8), bias_quantizer=q(8), name="d1")(x)
    return keras.Model(inputs, outputs)


def data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (2048, 12)).astype("float32")
    y = np.tanh(x @ rng.normal(0, 0.4, (12, 4))).astype("float32")
    return x, y


def da4ml_cost(model: keras.Model) -> float:
    """da4ml's cost of the model's final quantized kernels and biases, solved as
    hls4ml's DA pass solves them."""
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    total = 0.0
    for name, kif in INPUT_KIF.items():
        layer = model.get_layer(name)
        kernel = np.asarray(layer.kernel_quantizer_internal(layer.kernel))
        bias = np.asarray(layer.bias_quantizer_internal(layer.bias))
        k, i, f = (np.full(kernel.shape[0], v) for v in kif)
        options = {"hard_dc": 2, "search_all_decompose_dc": True}
        inputs = FixedVariableArray.from_kif(k, i, f, HWConfig(1, -1, -1), solver_options=options)
        total += float(comb_trace(inputs, inputs @ kernel + bias).cost)
    return total


def test_config_accepts_a_luts_budget_and_round_trips():
    config = MDMMConfig.model_validate({"constraints": [{"type": "luts", "max_luts": 20000}]})
    (constraint,) = config.constraints
    assert isinstance(constraint, LutsConstraintConfig) and constraint.max_luts == 20000
    built = constraint_from_config(constraint.model_dump())
    assert isinstance(built, LutsConstraint) and built.name == "luts"
    assert constraint_from_config(built.get_config()).get_config() == built.get_config()


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"type": "luts", "max_luts": -5}, "max_luts"),
        ({"type": "luts"}, "max_luts"),
        ({"type": "luts", "max_luts": 100, "max_lut": 100}, "max_lut"),
        ({"type": "luts", "max_luts": 100, "temperature": 0}, "temperature"),
    ],
)
def test_config_errors_name_the_bad_key(config, key):
    with pytest.raises(ConfigError, match=rf"constraint 'luts': {key}: "):
        constraint_from_config(config)


def test_run_config_error_names_the_misspelt_key(tmp_path):
    config = json.loads((Path(__file__).parents[1] / "configs" / "pixel_2t_luts.json").read_text())
    assert load_config_from(tmp_path, config).training.mdmm.constraints[0].max_luts == 14000
    config["training"]["mdmm"]["constraints"][0]["max_lutz"] = 1
    with pytest.raises(ConfigError, match=r"constraints\[0\]\.max_lutz: unknown key 'max_lutz'"):
        load_config_from(tmp_path, config)


def load_config_from(tmp_path: Path, config: dict):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return load_config(path)


def test_constraint_reports_the_predicted_luts_and_its_violation():
    model = mlp()
    constraint = LutsConstraint(1000.0)
    constraint.bind(model)
    value, g = constraint.evaluate()
    assert float(value) == pytest.approx(hc.luts(model), rel=1e-5)
    assert float(g) == pytest.approx(float(value) / 1000.0 - 1.0, rel=1e-5)
    assert constraint.violation(1100.0) == pytest.approx(0.1)
    assert constraint.violation(900.0) == 0.0


def test_training_to_half_the_luts_meets_the_budget_in_da4ml():
    keras.utils.set_random_seed(0)  # seeds 0-3: 0.86-1.01 of the budget predicted, 0.79-0.99 real
    x, y = data()
    dense = mlp()
    dense.compile(keras.optimizers.Adam(0.01), "mse")
    dense.fit(x, y, epochs=4, batch_size=128, verbose=0)
    budget = hc.luts(dense) / 2
    model = MDMMModel(mlp(), [LutsConstraint(budget)], lambda_learning_rate=0.05, damping=10.0)
    model.compile(keras.optimizers.Adam(0.01), "mse")
    history = model.fit(x, y, epochs=12, batch_size=128, verbose=0)
    assert history.history["mdmm_luts_lambda"][0] > 0  # the budget was binding
    assert hc.luts(model.inner) <= budget * (1 + model.feasibility_tolerance)
    assert da4ml_cost(model.inner) <= budget * (1 + TOLERANCE)
    # and the network still learnt something: better than predicting zero
    assert model.evaluate(x, y, verbose=0) < float(np.mean(y**2))


def point_model(points: int = 5) -> keras.Model:
    """A QDense on (points, 3), then one on the max over points: the first kernel has
    ``points`` output positions, the second one."""
    tf.random.set_seed(1)
    inputs = keras.Input((points, 3))
    x = QActivation(q(8, 3), name="adc")(inputs)
    x = QDense(6, kernel_quantizer=q(6), bias_quantizer=q(6), name="per_point")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    outputs = QDense(2, kernel_quantizer=q(6), bias_quantizer=q(6), name="head")(x)
    return keras.Model(inputs, outputs)


def test_unrolled_luts_count_a_kernel_per_output_position():
    """The RTL export copies the per-point kernel to every point: 5 copies, the head one."""
    model = point_model()
    groups = {g.layer: g for g in hc.mac_groups(model)}
    assert groups["per_point"].positions == 5 and groups["head"].positions == 1
    per_point, head = hc.group_luts(groups["per_point"]), hc.group_luts(groups["head"])
    assert per_point > 0 and head > 0
    assert hc.luts(model) == pytest.approx(per_point + head)
    assert hc.luts(model, unrolled=True) == pytest.approx(5 * per_point + head)
    report = hc.hardware_report(model)
    assert report["layers"]["per_point"]["unrolled_luts"] == round(5 * per_point)
    assert report["unrolled_luts"] == round(5 * per_point + head)
    constraint = LutsConstraint(1000.0, unrolled=True)
    constraint.bind(model)
    value, _ = constraint.evaluate()
    assert float(value) == pytest.approx(5 * per_point + head, rel=1e-5)
    assert constraint.get_config()["unrolled"] is True
    rebuilt = constraint_from_config({"type": "luts", "max_luts": 10, "unrolled": True})
    assert isinstance(rebuilt, LutsConstraint) and rebuilt.unrolled is True
