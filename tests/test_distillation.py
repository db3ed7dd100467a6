"""training.distillation: the wrapper's optimum against the analytic one, a distilled
smart-pixel run end to end, and the one-line refusals."""

import json

import numpy as np
import pytest
from test_train_end_to_end import small_config

from smartml.backend import keras, tf
from smartml.config.loader import load_config
from smartml.errors import ConfigError
from smartml.models.saved import load_model
from smartml.outputs.base import OutputKind
from smartml.outputs.gaussian_mdn import GaussianMDN
from smartml.outputs.logits import Logits
from smartml.outputs.point_regression import PointRegression
from smartml.train import main as train_main
from smartml.training.distillation import DistilledModel


def linear(name: str, kernel: np.ndarray | None = None) -> keras.Model:
    inputs = keras.Input((3,), name="x")
    layer = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros", name="d")
    model = keras.Model(inputs, layer(inputs), name=name)
    if kernel is not None:
        layer.set_weights([kernel])
    return model


@pytest.mark.parametrize("weight", [1.0, 0.5, 0.25])
def test_the_student_settles_where_the_weighted_losses_balance(weight):
    """Squared errors, targets zero: (1 - w)·s² + w·(s - t)² is smallest at s = w·t, so
    the student's kernel must end at w times the teacher's."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 3)).astype("float32")
    kernel = np.array([[1.5], [-2.0], [0.5]], dtype="float32")
    student = linear("student")
    model = DistilledModel(
        student, linear("teacher", kernel), keras.losses.mean_squared_error, weight
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    history = model.fit(x, np.zeros((512, 1), "float32"), epochs=40, batch_size=64, verbose=0)
    np.testing.assert_allclose(student.get_weights()[0], weight * kernel, atol=2e-3)
    # the logged loss is the task's alone: the student's squared prediction
    final = float(np.mean(student.predict(x, verbose=0) ** 2))
    assert history.history["loss"][-1] == pytest.approx(final, rel=0.05)
    assert model.teacher.trainable is False
    np.testing.assert_array_equal(model.teacher.get_weights()[0], kernel)  # untouched


def test_validation_is_the_task_loss_alone():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(64, 3)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")
    student = linear("student", np.ones((3, 1), "float32"))
    model = DistilledModel(student, linear("teacher"), keras.losses.mean_squared_error, 0.9)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    history = model.fit(x, y, validation_data=(x, y), epochs=1, batch_size=64, verbose=0)
    expected = float(np.mean((student.predict(x, verbose=0) - y) ** 2))
    assert history.history["val_loss"][0] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    ("kind", "n_outputs"),
    [
        (Logits(["pion", "muon"]), 1),
        (Logits(["e", "mu", "pi"]), 3),
        (PointRegression(["w"], [""]), 1),
        (GaussianMDN(["x", "y"], ["", ""]), 5),
    ],
    ids=["binary", "three-class", "point", "gaussian"],
)
def test_every_builtin_output_kind_distils_to_the_teachers_outputs(kind, n_outputs):
    """The loss is smallest, with zero gradient, where the student gives the teacher's
    outputs, and larger anywhere near."""
    rng = np.random.default_rng(3)
    teacher = tf.constant(rng.normal(scale=0.8, size=(32, n_outputs)), tf.float32)
    student = tf.Variable(teacher)
    loss = kind.distillation_loss()
    with tf.GradientTape() as tape:
        at_teacher = loss(teacher, student)
        total = tf.reduce_sum(at_teacher)
    assert at_teacher.shape == (32,)
    assert float(tf.reduce_max(tf.abs(tape.gradient(total, student)))) < 1e-4
    for _ in range(3):
        nudged = student + rng.normal(scale=0.1, size=student.shape).astype("float32")
        assert bool(tf.reduce_all(loss(teacher, nudged) >= at_teacher - 1e-6))
        assert float(tf.reduce_sum(loss(teacher, nudged))) > float(total)


def test_a_weight_outside_the_unit_interval_is_refused():
    with pytest.raises(ValueError, match=r"weight: expected a share in \(0, 1\], got 0"):
        DistilledModel(linear("s"), linear("t"), keras.losses.mean_squared_error, 0.0)


def test_an_output_kind_without_a_distillation_loss_names_itself():
    class Bare(OutputKind):
        n_outputs = 1

        def loss(self):
            return keras.losses.MeanSquaredError()

        def decode(self, raw, scaling=None):
            return raw

        def metrics(self, targets, prediction, aux):
            return {}

        def figures(self, *args, **kwargs):
            return {}

        def summary_metrics(self):
            return []

    with pytest.raises(ConfigError, match="output kind Bare has no distillation loss"):
        Bare().distillation_loss()


def test_distillation_and_mdmm_together_are_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"training\.distillation and training\.mdmm cannot"):
        load_config(
            "configs/pixel_2t_mdmm.json", overrides={"training.distillation": {"teacher": "t"}}
        )


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("teacher")
    config = small_config(tmp_path)
    raw = json.loads(config.read_text())
    raw["model"] = {"name": "pixel_cnn", "conv_filters": [4, 4], "hidden_units": [16]}
    config.write_text(json.dumps(raw))
    assert train_main([str(config)]) == 0
    return tmp_path / "run"


@pytest.mark.slow
def test_a_distilled_pixel_run_is_complete_and_records_its_teacher(teacher_run, tmp_path):
    config = small_config(tmp_path)
    assert train_main([str(config), "--set", f"training.distillation.teacher={teacher_run}"]) == 0
    run = tmp_path / "run"
    header = (run / "history.csv").read_text().splitlines()[0].split(",")
    assert "distillation_loss" in header and "val_distillation_loss" not in header
    model = load_model(run / "model.h5")  # the plain student, without the teacher
    assert model.name == "pixel_mdn" and model.count_params() == 2029
    inputs = json.loads((run / "run.json").read_text())["inputs"]
    teacher = inputs["training.distillation.teacher"]["files"]
    assert [record["path"] for record in teacher] == [str(teacher_run / "model.h5")]
    assert teacher[0]["identity"].startswith("sha256:")
    metrics = json.loads((run / "metrics.json").read_text())
    assert np.isfinite(metrics["x-midplane"]["robust_width"]) and metrics["hardware"]["bops"] > 0


@pytest.mark.slow
def test_a_teacher_of_other_inputs_is_refused_in_one_line(teacher_run, tmp_path, capsys):
    config = small_config(tmp_path)
    raw = json.loads(config.read_text())
    raw["data"]["time_slices"] = [0, 9, 19]  # three slices; the teacher was trained on two
    config.write_text(json.dumps(raw))
    code = train_main([str(config), "--set", f"training.distillation.teacher={teacher_run}"])
    assert code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "training.distillation.teacher" in error[0]
    assert "(13, 21, 2)" in error[0] and "(13, 21, 3)" in error[0]


def test_a_missing_teacher_is_one_line(tmp_path, capsys):
    config = small_config(tmp_path)
    missing = tmp_path / "nowhere"
    assert train_main([str(config), "--set", f"training.distillation.teacher={missing}"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "training.distillation.teacher" in error[0] and "nowhere" in error[0]
