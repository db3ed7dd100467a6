"""MDMM schedule: warm-up, ramped sparsity targets, pruning masks kept through
optimizer steps, exact targets, config errors, resume and tf.distribute."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from qkeras import QDense
from test_mdmm import _Interrupt, q, regression_data, run_in_fresh_process, two_layer

from smartml.backend import keras, tf
from smartml.config.loader import validate_config
from smartml.config.mdmm import MDMMConfig, ScheduleConfig
from smartml.errors import ConfigError
from smartml.hardware import cost as hc
from smartml.models.saved import load_model
from smartml.training.mdmm import (
    MDMMModel,
    Schedule,
    SparsityConstraint,
    masked_weights,
)

REPO = Path(__file__).parents[1]
# The schedules the README documents: a dense warm-up from random weights, none when
# pruning a trained model.
FROM_RANDOM = {"warmup_fraction": 0.25, "ramp_fraction": 0.4, "fine_tune_fraction": 0.35}
PRUNING = {"warmup_fraction": 0.0, "ramp_fraction": 0.5, "fine_tune_fraction": 0.25}


def scheduled(schedule: Schedule, target: float = 0.75, mode: str = "equal") -> MDMMModel:
    constraints = [
        SparsityConstraint("d0", target, mode=mode, name="d0"),
        SparsityConstraint("d1", target, mode=mode, name="d1"),
    ]
    model = MDMMModel(two_layer(), constraints, 0.1, 10.0, schedule=schedule)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def layer_sparsity(model: MDMMModel, name: str) -> float:
    return hc.quantized_sparsity(hc.weight_tensors(model.inner.get_layer(name)))


def cubic(done: float) -> float:
    return 1.0 - (1.0 - done) ** 3


@pytest.mark.parametrize(
    ("schedule", "epochs", "boundaries", "ramp"),
    [
        # 2 warm-up epochs, a 4-epoch ramp, the last 2 fine-tuned
        (
            Schedule(0.2, 0.4, 0.2),
            10,
            (2, 6, 8),
            [0, 0, cubic(0.25), cubic(0.5), cubic(0.75), 1, 1, 1, 1, 1],
        ),
        # no warm-up: the first epoch already aims at a quarter of the ramp
        (Schedule(0.0, 0.5, 0.25), 8, (0, 4, 6), [cubic(0.25), cubic(0.5), cubic(0.75)] + [1] * 5),
        # fine-tuning takes at least one epoch; the ramp gives way to it
        (Schedule(0.0, 1.0 - 0.1, 0.1), 3, (0, 2, 2), [cubic(0.5), 1, 1]),
        # no ramp: the full targets at once
        (Schedule(0.0, 0.0, 0.0), 4, (0, 0, 4), [1, 1, 1, 1]),
    ],
)
def test_schedule_values_per_epoch(schedule, epochs, boundaries, ramp):
    assert schedule.boundaries(epochs) == boundaries
    np.testing.assert_allclose([schedule.ramp(e, epochs) for e in range(epochs)], ramp)
    warmup, _, fine_tune = boundaries
    assert [schedule.constraints_on(e, epochs) for e in range(epochs)] == [
        e >= warmup for e in range(epochs)
    ]
    assert [schedule.masks_fixed(e, epochs) for e in range(epochs)] == [
        schedule.fine_tune_fraction > 0 and e >= fine_tune for e in range(epochs)
    ]


def test_pruning_masks_zero_the_smallest_weights_exactly():
    model = scheduled(Schedule(), target=0.75)
    (d0,) = [c for c in model.constraints if c.name == "d0"]
    weights = np.linspace(-1.0, 1.0, 256, dtype="float32").reshape(8, 32)
    np.random.default_rng(1).shuffle(weights.ravel())
    model.inner.get_layer("d0").kernel.assign(weights)
    (mask,) = d0.pruning_masks()
    assert int((mask == 0).sum()) == 192
    # the zeroed ones are the 192 smallest |w| (ties impossible: distinct magnitudes
    # except for ±w pairs, which fall on the same side of the cut)
    cut = np.sort(np.abs(weights).ravel())[192]
    assert np.all(np.abs(weights[mask == 0]) < cut)
    assert np.all(np.abs(weights[mask == 1]) >= cut)
    (half,) = d0.pruning_masks(fraction=0.5)
    assert int((half == 0).sum()) == 96
    assert np.all(mask[half == 0] == 0)  # a larger target masks a superset


def test_zeros_wanted_rounds_to_nearest_or_up():
    equal = SparsityConstraint("d1", 0.75, mode="equal")
    at_least = SparsityConstraint("d1", 0.75, mode="at_least")
    for constraint in (equal, at_least):
        constraint.bind(two_layer(hidden=10))  # d1 kernel: 10 weights
    assert (equal.zeros_wanted(), at_least.zeros_wanted()) == (8, 8)  # 7.5 rounds half up
    assert (equal.zeros_wanted(0.5), at_least.zeros_wanted(0.5)) == (4, 4)  # 3.75
    assert (equal.zeros_wanted(0.3), at_least.zeros_wanted(0.3)) == (2, 3)  # 2.25


def test_revived_weights_quantize_to_one_step():
    dense = QDense(4, kernel_quantizer=q(8))
    dense.build((None, 1))
    dense.kernel.assign([[0.5, -0.001, 0.002, 0.3]])
    tensor = hc.weight_tensors(dense)[0]
    revived = masked_weights(tensor, np.array([[1.0, 1.0, 1.0, 0.0]]), revive=True)
    np.testing.assert_array_equal(revived, [[0.5, -(2**-7), 2**-7, 0.0]])
    quantized = np.asarray(tensor.quantizer(revived))
    assert list(quantized.ravel() == 0) == [False, False, False, True]
    untouched = masked_weights(tensor, np.array([[1.0, 1.0, 1.0, 0.0]]), revive=False)
    np.testing.assert_array_equal(untouched, np.float32([[0.5, -0.001, 0.002, 0.0]]))


def test_masks_keep_zeros_through_optimizer_steps():
    x, y = regression_data()
    model = scheduled(Schedule(0.0, 0.5, 0.25), target=0.75)
    model.fix_masks()
    kernel = model.inner.get_layer("d0").kernel
    zeros = kernel.numpy() == 0
    assert zeros.sum() == 192
    assert layer_sparsity(model, "d0") == layer_sparsity(model, "d1") == 0.75  # exactly
    before = kernel.numpy().copy()
    # fit() would re-enter the schedule: train steps alone, with a large rate
    model.optimizer.learning_rate.assign(0.1)
    for batch in range(0, 512, 64):
        model.train_on_batch(x[batch : batch + 64], y[batch : batch + 64])
    after = kernel.numpy()
    assert np.all(after[zeros] == 0.0)  # exactly zero, not small
    assert not np.allclose(after[~zeros], before[~zeros])  # the others trained
    # (mode "equal": a weight the steps move into the zero band is pushed out by λ)
    assert layer_sparsity(model, "d0") >= 0.75
    assert float(model.multipliers[0]) == pytest.approx(0.0, abs=0.05)  # restarted at 0


@pytest.mark.parametrize("mode", ["equal", "at_least"])
def test_fit_reaches_the_targets_exactly_and_logs_the_ramp(tmp_path, mode):
    x, y = regression_data()
    model = scheduled(Schedule(0.25, 0.5, 0.25), target=0.75, mode=mode)
    history = model.fit(x, y, batch_size=64, epochs=8, verbose=0).history
    np.testing.assert_allclose(
        history["mdmm_d0_target"],
        0.75 * np.array([0, 0, cubic(0.25), cubic(0.5), cubic(0.75), 1, 1, 1]),
        atol=1e-6,
    )
    assert history["mdmm_d0_lambda"][:2] == [0.0, 0.0]  # warm-up: the constraints off
    # the masks follow the ramp, and the last epochs meet the targets exactly
    np.testing.assert_allclose(history["mdmm_d0_value"][2], round(0.75 * cubic(0.25) * 256) / 256)
    assert history["mdmm_d0_value"][-2:] == pytest.approx([0.75, 0.75], abs=1e-6)
    assert layer_sparsity(model, "d0") == 0.75 and layer_sparsity(model, "d1") == 0.75
    assert model.violations() == {"d0": 0.0, "d1": 0.0}
    model.save(tmp_path / "model.h5")  # the plain network, its zeros in its weights
    saved = load_model(tmp_path / "model.h5")
    tensors = hc.weight_tensors(saved.get_layer("d0")) + hc.weight_tensors(saved.get_layer("d1"))
    assert [int((t.variable.numpy() == 0).sum()) for t in tensors] == [192, 24]


def test_schedule_round_trips_through_the_model_config():
    model = scheduled(Schedule(0.1, 0.3, 0.2))
    rebuilt = MDMMModel.from_config(json.loads(json.dumps(model.get_config())))
    assert rebuilt.schedule == Schedule(0.1, 0.3, 0.2)
    names = sorted(w.name for w in rebuilt.non_trainable_weights)
    assert names == sorted(w.name for w in model.non_trainable_weights)
    assert "mdmm_masks_fixed:0" in names and "mdmm_d0_mask_0:0" in names
    plain = MDMMModel.from_config({**model.get_config(), "schedule": None})
    assert plain.schedule is None
    assert [w.name for w in plain.non_trainable_weights] == ["mdmm_d0_lambda:0", "mdmm_d1_lambda:0"]


def test_saliency_sums_the_squared_task_gradients_until_a_pruning(tmp_path):
    x, y = regression_data()
    model = scheduled(Schedule(0.0, 0.5, 0.25, criterion="saliency"), target=0.5)
    (d0, d1) = model.constraints
    assert model.saliencies(d0) is None  # before any step: magnitude decides
    kernels = [model.inner.get_layer(name).kernel for name in ("d0", "d1")]
    expected = [np.zeros(k.shape, "float32") for k in kernels]
    for start in (0, 64):
        inputs, truth = x[start : start + 64], y[start : start + 64]
        with tf.GradientTape() as tape:  # the task loss alone, at the step's weights
            loss = keras.losses.mean_squared_error(truth, model.inner(inputs, training=True))
            loss = tf.reduce_mean(loss)
        for total, gradient in zip(expected, tape.gradient(loss, kernels), strict=True):
            total += np.square(gradient.numpy())
        model.train_on_batch(inputs, truth)
    squared = [total.numpy() for _, total in model._squared_gradients]
    for mine, theirs in zip(squared, expected, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-12)
    for constraint, kernel, total in zip((d0, d1), kernels, expected, strict=True):
        (saliency,) = model.saliencies(constraint)
        np.testing.assert_allclose(saliency, np.square(kernel.numpy()) * total, rtol=1e-4)
    # a checkpoint keeps the sums (BackupAndRestore resumes them)
    checkpoint = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    rebuilt = scheduled(Schedule(0.0, 0.5, 0.25, criterion="saliency"), target=0.5)
    tf.train.Checkpoint(model=rebuilt).read(checkpoint).assert_existing_objects_matched()
    for (_, mine), theirs in zip(rebuilt._squared_gradients, squared, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs)
    model.prune(0.5)
    assert all(not s.numpy().any() for _, s in model._squared_gradients)
    assert model.saliencies(d0) is None


def test_saliency_prunes_large_weights_the_loss_does_not_use():
    x, y = regression_data()
    x[:, :4] = 0.0  # the first 4 inputs carry nothing: their d0 weights have no gradient
    model = scheduled(Schedule(0.0, 0.5, 0.25, criterion="saliency"), target=0.5)
    model.optimizer.learning_rate.assign(1e-3)  # keep every weight out of the zero band
    rng = np.random.default_rng(2)
    kernel = model.inner.get_layer("d0").kernel
    weights = rng.choice([-1.0, 1.0], size=(8, 32)) * rng.uniform(0.2, 0.5, size=(8, 32))
    weights[:4] = 0.75  # the largest weights are the useless ones
    kernel.assign(weights.astype("float32"))
    for start in range(0, 256, 64):
        model.train_on_batch(x[start : start + 64], y[start : start + 64])
    d0 = model.constraints[0]
    (by_magnitude,) = d0.pruning_masks()
    assert by_magnitude[:4].all()  # magnitude keeps them
    (by_saliency,) = d0.pruning_masks(scores=model.saliencies(d0))
    assert int((by_saliency == 0).sum()) == 128
    assert not by_saliency[:4].any()  # saliency removes those 128 first
    model.prune(1.0, final=True)
    assert not kernel.numpy()[:4].any() and kernel.numpy()[4:].all()


def test_saliency_state_round_trips_through_the_model_config():
    model = scheduled(Schedule(0.0, 0.5, 0.25, criterion="saliency"))
    rebuilt = MDMMModel.from_config(json.loads(json.dumps(model.get_config())))
    assert rebuilt.schedule.criterion == "saliency"
    names = sorted(w.name for w in rebuilt.non_trainable_weights)
    assert names == sorted(w.name for w in model.non_trainable_weights)
    assert "mdmm_d0_squared_gradient_0:0" in names  # a weight: checkpoints keep it
    assert not any("squared" in w.name for w in scheduled(Schedule()).weights)
    overlapping = MDMMModel(
        two_layer(),
        [SparsityConstraint("all", 0.5, name="all"), SparsityConstraint("d0", 0.5, name="d0")],
        schedule=Schedule(criterion="saliency"),
    )
    assert [w.name for w in overlapping.weights if "squared" in w.name] == [
        "mdmm_all_squared_gradient_0:0",  # d0's kernel, counted once
        "mdmm_all_squared_gradient_1:0",
    ]
    with pytest.raises(ConfigError, match="criterion must be 'magnitude' or 'saliency'"):
        Schedule(criterion="fisher")


def test_without_fine_tuning_there_are_no_masks():
    model = scheduled(Schedule(0.0, 0.5, 0.0))
    assert not any("mask" in w.name for w in model.weights)
    before = model.inner.get_weights()
    model.begin_epoch(7, 8)  # past the ramp: full targets, but nothing pruned by hand
    assert [float(c.current_target) for c in model.constraints] == [0.75, 0.75]
    for mine, theirs in zip(model.inner.get_weights(), before, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def pixel_config_with(schedule) -> dict:
    config = json.loads((REPO / "configs" / "pixel_2t_mdmm75.json").read_text())
    config["training"]["mdmm"]["schedule"] = schedule
    return config


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (
            {"warmup_fraction": 0.5, "ramp_fraction": 0.5, "fine_tune_fraction": 0.25},
            "training.mdmm.schedule: Value error, warmup_fraction + ramp_fraction + "
            "fine_tune_fraction must be at most 1, got 1.25",
        ),
        ({"ramp_fraction": -0.1}, "training.mdmm.schedule.ramp_fraction"),
        ({"ramp_fraction": "half"}, "training.mdmm.schedule.ramp_fraction"),
        ({"ramp": 0.5}, "training.mdmm.schedule.ramp"),
        ({"criterion": "fisher"}, "training.mdmm.schedule.criterion"),
    ],
)
def test_bad_schedules_are_one_line_errors_naming_the_key(schedule, expected):
    with pytest.raises(ConfigError) as caught:
        validate_config(pixel_config_with(schedule), source="pixel.json")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("pixel.json: ") and expected in message


def test_the_default_schedule_is_saved_with_the_run_config():
    config = validate_config(json.loads((REPO / "configs" / "pixel_2t.json").read_text()))
    assert config.training.mdmm is None
    section = MDMMConfig.model_validate({"constraints": [{"type": "sparsity", "target": 0.5}]})
    assert section.schedule == ScheduleConfig()
    assert section.model_dump()["schedule"] == {
        "warmup_fraction": 0.0,
        "ramp_fraction": 0.5,
        "fine_tune_fraction": 0.25,
        "criterion": "magnitude",
    }
    off = MDMMConfig.model_validate(
        {"constraints": [{"type": "sparsity", "target": 0.5}], "schedule": None}
    )
    assert off.schedule is None


def test_backup_and_restore_resumes_the_schedule_and_its_masks(tmp_path):
    """A run killed in the fine-tuning resumes with the same masks (not recomputed)
    and ends with the weights of a run that was never interrupted."""
    x, y = regression_data(n=256)
    epochs, schedule = 6, Schedule(0.0, 0.5, 0.5)  # masks fixed at epoch 3

    def fit(model, *extra):
        keras.utils.set_random_seed(3)
        backup = keras.callbacks.BackupAndRestore(str(tmp_path / model.name), save_freq="epoch")
        model.fit(
            x,
            y,
            batch_size=64,
            epochs=epochs,
            shuffle=False,
            verbose=0,
            callbacks=[backup, *extra],
        )

    def build(name):
        keras.utils.set_random_seed(0)
        model = scheduled(schedule, target=0.75)
        model._name = name
        return model

    whole = build("whole")
    fit(whole)

    def stop_after_epoch_4(epoch, logs):
        if epoch == 4:
            raise _Interrupt

    first = build("resumed")
    with pytest.raises(_Interrupt):
        fit(first, keras.callbacks.LambdaCallback(on_epoch_end=stop_after_epoch_4))
    masks_at_stop = [m.numpy() for _, masks in first._masks for m in masks]
    second = build("resumed")
    fit(second)
    assert float(second._masks_fixed) == 1.0
    for before, after in zip(
        masks_at_stop, [m.numpy() for _, ms in second._masks for m in ms], strict=True
    ):
        np.testing.assert_array_equal(before, after)
    for mine, theirs in zip(second.inner.get_weights(), whole.inner.get_weights(), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


MIRRORED_MASKS_SCRIPT = """
import smartml
import csv
import json
import numpy as np
from smartml.backend import keras, tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from test_mdmm import MDMMModel, SparsityConstraint, regression_data, two_layer
from smartml.training.mdmm import Schedule
x, y = regression_data(n=128)

def trained(strategy, criterion="magnitude"):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = MDMMModel(two_layer(), [SparsityConstraint("all", 0.75, name="sp")], 0.5, 20.0,
                          schedule=Schedule(0.0, 0.5, 0.5, criterion=criterion))
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(x, y, batch_size=64, epochs=4, shuffle=False, verbose=0)
    masks = [strategy.experimental_local_results(m) for _, ms in model._masks for m in ms]
    squared = [strategy.experimental_local_results(s) for _, s in model._squared_gradients]
    return {
        "squared_agree": all(
            np.array_equal(r[0], r[-1]) and np.any(r[0].numpy()) for r in squared
        ),
        "weights": [w.tolist() for w in model.inner.get_weights()],
        "masks_agree": all(np.array_equal(r[0], r[-1]) for r in masks),
        "zeros": [int((w == 0).sum()) for w in model.inner.get_weights()[::2]],
    }

mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
print("RESULTS " + json.dumps({"one": trained(tf.distribute.get_strategy()),
                               "two": trained(mirrored),
                               "saliency": trained(mirrored, "saliency")}))
"""


def test_masks_under_two_replicas_train_like_one():
    """The masks are applied in the replicated step (merge_call): two logical CPU
    replicas end with the weights, zeros and masks of one. With the saliency
    criterion, the replicas share the summed squared gradients, hence the masks."""
    stdout = run_in_fresh_process(MIRRORED_MASKS_SCRIPT)
    (line,) = [line for line in stdout.splitlines() if line.startswith("RESULTS ")]
    results = json.loads(line.removeprefix("RESULTS "))
    one, two = results["one"], results["two"]
    assert one["zeros"] == two["zeros"]
    assert sum(one["zeros"]) == 216  # 75% of the 256 + 32 kernel weights
    assert two["masks_agree"]
    for mine, theirs in zip(two["weights"], one["weights"], strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
    saliency = results["saliency"]
    assert saliency["masks_agree"] and saliency["squared_agree"]
    assert sum(saliency["zeros"]) == 216


@pytest.mark.parametrize(
    ("name", "targets", "schedule"),
    [
        ("pixel_2t_mdmm", [0.5] * 5, FROM_RANDOM),
        ("pixel_2t_mdmm75", [0.75] * 5, FROM_RANDOM),
        ("pixel_2t_mdmm90", [0.9] * 5, FROM_RANDOM),
        ("pixel_2t_mdmm_pruned", [0.5] * 5, PRUNING),
        ("pixel_2t_mdmm_pruned_sep25", [0.25] + [0.5] * 4, PRUNING),
        ("pixel_2t_mdmm_pruned75", [0.75] * 5, PRUNING),
        ("pixel_2t_mdmm_pruned90", [0.9] * 5, PRUNING),
    ],
)
def test_shipped_mdmm_configs_use_the_documented_schedules(name, targets, schedule):
    config = validate_config(json.loads((REPO / "configs" / f"{name}.json").read_text()))
    mdmm = config.training.mdmm
    assert mdmm is not None and mdmm.schedule == ScheduleConfig(**schedule)
    layers = ["separable_conv", "pointwise_conv", "dense_0", "dense_1", "gaussian_params"]
    assert {c.layers: c.target for c in mdmm.constraints} == dict(  # type: ignore[attr-defined]
        zip(layers, targets, strict=True)
    )
    assert (config.training.initial_weights is not None) == (schedule is PRUNING)


@pytest.mark.parametrize(
    ("name", "schedule"),
    [("pixel_2t_mdmm_global", FROM_RANDOM), ("pixel_2t_mdmm_pruned_global", PRUNING)],
)
def test_shipped_global_configs_prune_half_of_all_weights_by_saliency(name, schedule):
    config = validate_config(json.loads((REPO / "configs" / f"{name}.json").read_text()))
    mdmm = config.training.mdmm
    assert mdmm is not None
    assert mdmm.schedule == ScheduleConfig(**schedule, criterion="saliency")
    (constraint,) = mdmm.constraints
    assert (constraint.layers, constraint.target) == ("all", 0.5)  # type: ignore[attr-defined]
    assert (config.training.initial_weights is not None) == (schedule is PRUNING)


def test_a_tiny_pixel_run_meets_75_percent_in_every_layer(tmp_path):
    """pixel_2t_mdmm75 (from random, its documented schedule) on 2000 clusters: every
    layer of at least 50 weights ends within ±0.02 of 75%, smaller ones within half a
    weight more, and the saved model holds the zeros."""
    from test_distribution_training import pixel_config

    from smartml.config.loader import load_config
    from smartml.training.trainer import train

    run = tmp_path / "mdmm75"
    train(load_config(pixel_config(tmp_path, run.name, base="pixel_2t_mdmm75.json", epochs=4)))
    saved = json.loads((run / "config.json").read_text())["training"]["mdmm"]
    assert saved["schedule"] == {**FROM_RANDOM, "criterion": "magnitude"}  # saved with the run
    layers = json.loads((run / "metrics.json").read_text())["hardware"]["layers"]
    assert len(layers) == 5
    for name, layer in layers.items():
        allowed = 0.02 + (0 if layer["weights"] >= 50 else 0.5 / layer["weights"])
        assert abs(layer["sparsity"] - 0.75) <= allowed, (name, layer)
    model = load_model(run / "model.h5")
    for name, layer in layers.items():
        # the masked weights are exactly zero in the artefact: the nearest count to 75%
        tensors = hc.weight_tensors(model.get_layer(name))
        zeros = sum(int((t.variable.numpy() == 0).sum()) for t in tensors)
        assert zeros == int(0.75 * layer["weights"] + 0.5), name
    with (run / "history.csv").open() as handle:
        last = list(csv.DictReader(handle))[-1]
    assert float(last["mdmm_feasible"]) == 1.0
