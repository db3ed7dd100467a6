"""MDMM constrained training: multipliers, logs, checkpoints, convergence, bad inputs."""

import csv
import json
from typing import Literal

import numpy as np
import pydantic
import pytest
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

from smartml.backend import keras, tf
from smartml.config.loader import load_config
from smartml.config.mdmm import ConstraintConfig, NormConstraintConfig, registered_constraint_union
from smartml.errors import ConfigError
from smartml.hardware import cost as hc
from smartml.models.binding import build_model
from smartml.models.saved import load_model
from smartml.registry import MDMM_CONSTRAINTS, TASKS
from smartml.runs.directory import RunDirectory
from smartml.training.mdmm import (
    BopsConstraint,
    MDMMModel,
    NormConstraint,
    SparsityConstraint,
    WeightConstraint,
    constraints_from_config,
)


def q(bits):
    return quantized_bits(bits, 0, alpha=1)


def regression_data(n: int = 512, features: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    w = rng.normal(size=(features, 1)).astype("float32")
    return x, np.tanh(0.5 * x @ w).astype("float32")


def two_layer(hidden: int = 32, features: int = 8, **dense_kwargs) -> keras.Model:
    inputs = keras.Input((features,))
    x = QDense(hidden, kernel_quantizer=q(4), bias_quantizer=q(4), name="d0", **dense_kwargs)(
        inputs
    )
    x = QActivation(quantized_relu(4), name="a0")(x)
    outputs = QDense(1, kernel_quantizer=q(4), bias_quantizer=q(4), name="d1")(x)
    return keras.Model(inputs, outputs, name="two_layer")


def two_branch(features: int = 8) -> keras.Model:
    """Non-sequential: two quantized branches merged, the layer list not the data flow."""
    inputs = keras.Input((features,))
    left = QDense(16, kernel_quantizer=q(4), name="left")(inputs)
    left = QActivation(quantized_relu(4), name="left_relu")(left)
    right = QDense(16, kernel_quantizer=q(4), name="right")(inputs)
    right = QActivation(quantized_relu(4), name="right_relu")(right)
    merged = keras.layers.Concatenate(name="merge")([left, right])
    outputs = QDense(1, kernel_quantizer=q(4), name="head")(merged)
    return keras.Model(inputs, outputs, name="two_branch")


def kernel_sparsity(model: keras.Model) -> float:
    tensors = [t for layer in hc.quantized_layers(model) for t in hc.weight_tensors(layer)]
    return hc.quantized_sparsity(tensors)


def test_multipliers_are_weights_and_survive_a_checkpoint(tmp_path):
    model = MDMMModel(
        two_layer(),
        [SparsityConstraint("all", 0.5), NormConstraint(["d0", "d1"], "l1", 10.0)],
    )
    assert [v.name for v in model.non_trainable_weights] == [
        "mdmm_sparsity_lambda:0",
        "mdmm_l1_lambda:0",
    ]
    assert all(any(m is w for w in model.weights) for m in model.multipliers)
    model.multipliers[0].assign(0.25)
    model.multipliers[1].assign(-1.5)
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    model.multipliers[0].assign(0.0)
    model.multipliers[1].assign(0.0)
    tf.train.Checkpoint(model=model).restore(path).assert_existing_objects_matched()
    assert [float(m) for m in model.multipliers] == [0.25, -1.5]


def test_fit_reaches_half_sparsity_and_logs_constraints(tmp_path):
    keras.utils.set_random_seed(0)
    x, y = regression_data()
    inner = two_layer()
    model = MDMMModel(
        inner, [SparsityConstraint("all", 0.5, name="sp")], lambda_learning_rate=0.1, damping=10
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    history = model.fit(
        x,
        y,
        batch_size=32,
        epochs=30,  # 480 steps
        validation_data=(x[:64], y[:64]),
        callbacks=[keras.callbacks.CSVLogger(str(tmp_path / "history.csv"))],
        verbose=0,
    )
    assert kernel_sparsity(inner) == pytest.approx(0.5, abs=0.04)
    assert history.history["mdmm_sp_value"][-1] == pytest.approx(0.5, abs=0.06)
    for key in ("loss", "val_loss", "mdmm_sp_value", "mdmm_sp_lambda", "mdmm_lagrangian"):
        assert key in history.history
    with (tmp_path / "history.csv").open() as handle:
        assert {"mdmm_sp_value", "mdmm_sp_lambda"} <= set(next(csv.DictReader(handle)))
    # val_loss is the plain task loss of the inner model.
    mse = float(np.mean((inner.predict(x[:64], verbose=0) - y[:64]) ** 2))
    assert history.history["val_loss"][-1] == pytest.approx(mse, rel=1e-4)
    assert history.history["loss"][-1] < 0.1  # the task is still learnt


def test_non_sequential_model_trains_under_sparsity_and_bops():
    keras.utils.set_random_seed(1)
    x, y = regression_data(n=256)
    inner = two_branch()
    groups = hc.mac_groups(inner)
    budget = 0.5 * (hc.minimum_bops(groups) + hc.maximum_bops(groups))
    model = MDMMModel(
        inner,
        [
            SparsityConstraint(["right", "head"], 0.3, mode="at_least"),
            BopsConstraint(budget),
        ],
        lambda_learning_rate=0.05,
        damping=5,
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    history = model.fit(x, y, batch_size=32, epochs=15, verbose=0)
    assert hc.bops(inner) <= budget * 1.02
    assert history.history["mdmm_bops_value"][-1] == pytest.approx(hc.bops(inner), rel=0.05)
    assert history.history["mdmm_sparsity_value"][-1] >= 0.28
    assert min(history.history["mdmm_sparsity_lambda"]) >= 0  # inequality: λ ≥ 0
    assert min(history.history["mdmm_bops_lambda"]) >= 0
    assert model(x[:3]).shape == (3, 1)


def test_task_loss_includes_inner_regularisation_losses():
    x, y = regression_data(n=32)
    inner = two_layer(activity_regularizer=keras.regularizers.L2(10.0))
    model = MDMMModel(inner, [SparsityConstraint("d0", 0.2)])
    model.compile(optimizer="adam", loss="mse")
    x, y = tf.constant(x), tf.constant(y)
    y_pred = model(x, training=True)
    plain = float(np.mean((y_pred.numpy() - y.numpy()) ** 2))
    assert float(model.compute_loss(x, y, y_pred)) > plain + 1e-3


def test_save_writes_the_plain_inner_model(tmp_path):
    x, _ = regression_data(n=8)
    model = MDMMModel(two_branch(), [SparsityConstraint("all", 0.5)])
    model.save(tmp_path / "model.h5")
    loaded = load_model(tmp_path / "model.h5")
    assert not isinstance(loaded, MDMMModel)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.inner.predict(x, verbose=0))


def test_constraints_round_trip_through_their_config():
    constraints = [
        SparsityConstraint("all", 0.4, mode="at_least", include_bias=True, name="s"),
        BopsConstraint(10000.0),
        NormConstraint("d0", "l2", 3.0, scale=2.0),
    ]
    model = MDMMModel(two_layer(), constraints, lambda_learning_rate=0.02, damping=3)
    config = model.get_config()
    assert config["lambda_learning_rate"] == 0.02 and config["damping"] == 3
    rebuilt = constraints_from_config(config["constraints"])
    assert [c.get_config() for c in rebuilt] == config["constraints"]


def test_model_config_round_trips_through_json_with_its_constraints():
    x, _ = regression_data(n=16)
    constraints = [
        SparsityConstraint(["d0", "d1"], 0.3, mode="at_least", name="s"),
        BopsConstraint(20000.0, default_bits=8),
        NormConstraint("d1", "l1", 5.0),
    ]
    model = MDMMModel(two_layer(), constraints, 0.03, damping=2.5, feasibility_tolerance=0.05)
    config = json.loads(json.dumps(model.get_config()))
    restored = MDMMModel.from_config(config)
    assert restored.get_config() == model.get_config()
    assert [type(c) for c in restored.constraints] == [type(c) for c in constraints]
    assert [v.name for v in restored.multipliers] == [v.name for v in model.multipliers]
    assert [layer.name for layer in restored.inner.layers] == [
        layer.name for layer in model.inner.layers
    ]
    restored.inner.set_weights(model.inner.get_weights())
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert float(restored.constraint_values()["bops"]) == float(model.constraint_values()["bops"])


@pytest.mark.parametrize("config_file", ["pixel_2t", "rich_pointnet", "ntuple_dy_ttbar"])
def test_every_builtin_model_round_trips_through_the_mdmm_config(config_file, tmp_path):
    """QActivation's quantizers (the pixel MDN's fused tanh included) survive
    get_config -> JSON -> from_config, computing the same values."""
    config = load_config(f"configs/{config_file}.json")
    task = TASKS.get(config.task.name)(config, RunDirectory(tmp_path))
    model = MDMMModel(build_model(config, task), [SparsityConstraint("all", 0.5)])
    restored = MDMMModel.from_config(json.loads(json.dumps(model.get_config())))
    restored.inner.set_weights(model.inner.get_weights())
    rng = np.random.default_rng(1)
    x = [rng.normal(size=(8, *i.shape[1:])).astype("float32") for i in model.inner.inputs]
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    # Saved again, the restored model's config is the one it was rebuilt from.
    assert restored.get_config() == MDMMModel.from_config(restored.get_config()).get_config()
    assert [type(a) for a in restored.inner.layers] == [type(a) for a in model.inner.layers]


def test_constraint_types_come_from_the_registry():
    assert MDMM_CONSTRAINTS.names() == ["bops", "luts", "norm", "sparsity"]
    assert MDMM_CONSTRAINTS.get("sparsity") is SparsityConstraint
    assert MDMM_CONSTRAINTS.schema("norm") is NormConstraintConfig
    with pytest.raises(
        ConfigError, match="unknown MDMM constraint 'sparse'; known: bops, luts, norm"
    ):
        constraints_from_config([{"type": "sparse", "target": 0.5}])
    with pytest.raises(ConfigError, match="constraint 'b': max_bops: Input should be greater"):
        constraints_from_config([{"type": "bops", "name": "b", "max_bops": -1}])


def test_a_newly_registered_constraint_type_is_validated_and_built():
    """A new type is a registered schema plus its class: the config union and
    constraints_from_config pick it up from the registry."""

    @MDMM_CONSTRAINTS.register("max_weight", implementation=f"{__name__}:MaxWeightConstraint")
    class MaxWeightConfig(ConstraintConfig):
        type: Literal["max_weight"]
        layers: str = "all"
        bound: float

    try:
        union = registered_constraint_union()
        parsed = pydantic.TypeAdapter(union).validate_python({"type": "max_weight", "bound": 2})
        assert isinstance(parsed, MaxWeightConfig)
        (constraint,) = constraints_from_config([{"type": "max_weight", "bound": 0.25}])
        assert isinstance(constraint, MaxWeightConstraint) and constraint.bound == 0.25
        inner = two_layer()
        constraint.bind(inner)
        value, g = constraint.evaluate()
        expected = max(
            float(np.max(np.abs(q(4)(inner.get_layer(name).kernel).numpy())))
            for name in ("d0", "d1")
        )
        assert float(value) == pytest.approx(expected)
        assert float(g) == pytest.approx(expected - 0.25)
    finally:
        MDMM_CONSTRAINTS.unregister("max_weight")


class MaxWeightConstraint(WeightConstraint):
    """Largest |quantized weight| at most ``bound`` (registered by the test above)."""

    def __init__(self, bound: float, layers: str = "all", name: str | None = None) -> None:
        super().__init__(name or "max_weight", 1.0)
        self.layers, self.include_bias, self.bound = layers, False, bound

    def evaluate(self):
        value = tf.reduce_max([tf.reduce_max(tf.abs(t.quantized())) for t in self._tensors])
        return value, value - self.bound


def test_norm_constraint_value_is_the_quantized_norm():
    inner = two_layer()
    constraint = NormConstraint("d1", "l1", 1.0)
    constraint.bind(inner)
    value, g = constraint.evaluate()
    quantized = hc.weight_tensors(inner.get_layer("d1"))[0].quantized().numpy()
    assert float(value) == pytest.approx(np.abs(quantized).sum())
    assert float(g) == pytest.approx(float(value) - 1.0)


def test_unknown_layer_is_named_with_the_known_ones():
    with pytest.raises(
        ConfigError,
        match=r"^constraint 'sparsity': unknown layer 'd7'; quantized layers: d0, d1$",
    ):
        MDMMModel(two_layer(), [SparsityConstraint(["d0", "d7"], 0.5)])
    with pytest.raises(ConfigError, match="layer 'a0' is not a quantized layer"):
        MDMMModel(two_layer(), [NormConstraint("a0", "l1", 1.0)])


def test_sparsity_target_outside_unit_interval_is_rejected():
    with pytest.raises(
        ConfigError, match=r"constraint 'sparsity': sparsity target must be in \[0, 1\], got 1.5"
    ):
        SparsityConstraint("all", 1.5)
    with pytest.raises(ConfigError, match="mode must be 'equal' or 'at_least', got 'most'"):
        SparsityConstraint("all", 0.5, mode="most")


def test_impossible_bops_budget_is_rejected_with_the_numbers():
    inner = two_layer()
    # d0: 256 MACs·(16+4+log2 8), d1: 32·(4+4+log2 32); unpruned adds 256·16·4 + 32·4·4
    least = hc.minimum_bops(inner)
    assert least == 6304
    with pytest.raises(
        ConfigError,
        match=r"^constraint 'bops': max_bops 1000 is below the 6304 BOPs this architecture "
        r"needs with every weight pruned \(unpruned: 23200\)$",
    ):
        MDMMModel(inner, [BopsConstraint(1000)])
    with pytest.raises(ConfigError, match="max_bops must be > 0, got -1"):
        BopsConstraint(-1)


def test_duplicate_constraint_names_are_rejected():
    with pytest.raises(ConfigError, match="repeated: sparsity"):
        MDMMModel(two_layer(), [SparsityConstraint("d0", 0.5), SparsityConstraint("d1", 0.5)])


def test_conv_layers_can_be_constrained():
    inputs = keras.Input((5, 5, 1))
    outputs = QConv2D(2, 3, kernel_quantizer=q(4), name="conv")(inputs)
    constraint = SparsityConstraint("conv", 0.5)
    constraint.bind(keras.Model(inputs, outputs))
    value, g = constraint.evaluate()
    assert float(g) == pytest.approx(float(value) - 0.5)


class _Interrupt(Exception):
    pass


def test_backup_and_restore_resumes_the_multipliers(tmp_path):
    """The trainer's callbacks work on the wrapper and a resumed run gets its λ back."""
    x, y = regression_data(n=128)

    def build():
        model = MDMMModel(two_layer(), [SparsityConstraint("all", 0.5, name="sp")], 0.1, 10)
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        return model

    def callbacks(extra):
        return [
            keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), save_freq="epoch"),
            keras.callbacks.ModelCheckpoint(
                str(tmp_path / "best.weights.h5"), save_best_only=True, save_weights_only=True
            ),
            keras.callbacks.CSVLogger(str(tmp_path / "history.csv"), append=True),
            extra,
        ]

    saved = {}

    def stop_after_first_epoch(epoch, logs):
        saved["lambda"] = float(first.multipliers[0])
        raise _Interrupt

    first = build()
    with pytest.raises(_Interrupt):
        first.fit(
            x,
            y,
            batch_size=32,
            epochs=3,
            validation_data=(x, y),
            callbacks=callbacks(
                keras.callbacks.LambdaCallback(on_epoch_end=stop_after_first_epoch)
            ),
            verbose=0,
        )
    assert saved["lambda"] != 0.0

    def check_restored(epoch, logs):
        saved.setdefault("restored", (epoch, float(second.multipliers[0])))

    second = build()
    second.fit(
        x,
        y,
        batch_size=32,
        epochs=3,
        validation_data=(x, y),
        callbacks=callbacks(keras.callbacks.LambdaCallback(on_epoch_begin=check_restored)),
        verbose=0,
    )
    assert saved["restored"] == (1, pytest.approx(saved["lambda"]))
    second.load_weights(str(tmp_path / "best.weights.h5"))


def test_violation_measures_the_miss_beyond_half_a_weight():
    model = two_layer(hidden=4)  # d0: 8x4 = 32 kernel weights -> steps of 1/32
    constraint = SparsityConstraint("d0", 0.5)
    constraint.bind(model)
    assert constraint.violation(0.5 + 1 / 64) == 0.0  # the nearest reachable values
    assert constraint.violation(0.6) == pytest.approx(0.1 - 1 / 64)
    at_least = SparsityConstraint("d0", 0.5, mode="at_least")
    at_least.bind(model)
    assert at_least.violation(0.9) == 0.0
    bops = BopsConstraint(max_bops=1000.0)
    assert bops.violation(1100.0) == pytest.approx(0.1) and bops.violation(900.0) == 0.0


def test_checkpoint_and_early_stopping_follow_feasible_epochs_only(tmp_path):
    """An epoch whose weights miss a constraint never becomes the best checkpoint, and
    does not use up early-stopping patience."""
    from smartml.config import TrainingConfig
    from smartml.runs.directory import RunDirectory
    from smartml.training.callbacks import FEASIBLE_VAL_LOSS, build_callbacks

    keras.utils.set_random_seed(0)
    x, y = regression_data()
    inner = two_layer()
    model = MDMMModel(inner, [SparsityConstraint("all", 0.9, name="sp")], lambda_learning_rate=1e-6)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    training = TrainingConfig(
        epochs=4,
        early_stopping_patience=1,
        mdmm={"constraints": [{"type": "sparsity", "target": 0.9}]},
    )
    run_dir = RunDirectory(tmp_path / "run")
    run_dir.open_for_training()
    history = model.fit(
        x,
        y,
        epochs=4,
        validation_data=(x[:64], y[:64]),
        callbacks=build_callbacks(training, run_dir, resuming=False, batches_known=True),
        verbose=0,
    )
    # λ barely moves: 90% sparsity is never reached, so no epoch is feasible.
    assert history.history["mdmm_feasible"] == [0.0] * 4
    assert all(np.isinf(history.history[FEASIBLE_VAL_LOSS]))
    assert len(history.history["loss"]) == 4  # patience 1 did not stop it
    assert not run_dir.best_weights.exists()


DISTRIBUTED_SCRIPT = """
import smartml
import numpy as np
from smartml.backend import keras, tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from test_mdmm import MDMMModel, SparsityConstraint, regression_data, two_layer
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
keras.utils.set_random_seed(0)
x, y = regression_data(n=256)
with strategy.scope():
    model = MDMMModel(two_layer(), [SparsityConstraint("all", 0.5, name="sp")], 0.1, 10.0)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
history = model.fit(x, y, batch_size=64, epochs=3, verbose=0)
print("REPLICAS", strategy.num_replicas_in_sync)
print("LOSS_FINITE", bool(np.isfinite(history.history["loss"]).all()))
print("LAMBDA", float(model.multipliers[0].numpy()))
"""


def test_mdmm_trains_under_a_distribution_strategy():
    """Multipliers and the custom train_step work inside tf.distribute: two logical CPU
    replicas (a fresh process, since devices are fixed once TensorFlow starts)."""
    stdout = run_in_fresh_process(DISTRIBUTED_SCRIPT)
    results = dict(line.split(" ", 1) for line in stdout.splitlines() if " " in line)
    assert results["REPLICAS"] == "2"
    assert results["LOSS_FINITE"] == "True"
    assert float(results["LAMBDA"]) != 0.0  # λ was updated inside the replicated step


ONE_VS_TWO_REPLICAS_SCRIPT = """
import smartml
import json
import numpy as np
from smartml.backend import keras, tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from test_mdmm import MDMMModel, NormConstraint, SparsityConstraint, regression_data, two_layer
x, y = regression_data(n=64)

def trained(strategy, steps):
    keras.utils.set_random_seed(0)  # same initial weights under either strategy
    with strategy.scope():
        constraints = [SparsityConstraint("all", 0.5, name="sp"), NormConstraint("d0", "l1", 2.0)]
        model = MDMMModel(two_layer(), constraints, lambda_learning_rate=0.5, damping=20.0)
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    for _ in range(steps):  # one global batch of 64 per step: 32 per replica with two
        model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    return {
        "replicas": strategy.num_replicas_in_sync,
        "weights": [w.tolist() for w in model.inner.get_weights()],
        "lambdas": [float(m.numpy()) for m in model.multipliers],
        "lambdas_per_replica": [
            [float(v.numpy()) for v in strategy.experimental_local_results(m)]
            for m in model.multipliers
        ],
    }

mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
results = {
    f"{name}_{steps}": trained(strategy, steps)
    for name, strategy in [("one", tf.distribute.get_strategy()), ("two", mirrored)]
    for steps in (1, 3)
}
print("RESULTS " + json.dumps(results))
"""


def run_in_fresh_process(script: str) -> str:
    """Run ``script`` next to this file in a new interpreter (devices are fixed once
    TensorFlow starts) and return its stdout."""
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_two_replicas_train_like_one_on_the_same_global_batch():
    """The penalty is scaled like the loss and λ is updated once: MirroredStrategy over
    two logical CPUs gives the weights and multipliers of one replica."""
    stdout = run_in_fresh_process(ONE_VS_TWO_REPLICAS_SCRIPT)
    (line,) = [line for line in stdout.splitlines() if line.startswith("RESULTS ")]
    results = json.loads(line.removeprefix("RESULTS "))
    assert results["two_1"]["replicas"] == 2 and results["one_1"]["replicas"] == 1
    for steps in (1, 3):
        one, two = results[f"one_{steps}"], results[f"two_{steps}"]
        assert all(lam != 0.0 for lam in one["lambdas"])  # the constraints pull
        np.testing.assert_allclose(two["lambdas"], one["lambdas"], rtol=1e-5, atol=1e-7)
        for per_replica in two["lambdas_per_replica"]:
            assert per_replica[0] == per_replica[1]
        for mine, theirs in zip(two["weights"], one["weights"], strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
    assert results["one_1"]["weights"] != results["one_3"]["weights"]
