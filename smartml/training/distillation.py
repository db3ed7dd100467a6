"""Knowledge distillation: train a (small, quantized) model to match a trained
teacher's predictions as well as the targets.

:class:`DistilledModel` wraps the model to train (``inner``) and a frozen teacher; its
``train_step`` minimises ``(1 - weight) * task loss + weight * distillation loss``, the
latter given by the task's output kind
(:meth:`~smartml.outputs.base.OutputKind.distillation_loss`). Validation, the logged
``loss`` and every metric are the task's own, so a distilled run compares directly with
one trained on the targets alone; the distillation term is logged as
``distillation_loss``.

>>> import numpy as np
>>> import smartml  # noqa: F401
>>> from smartml.backend import keras
>>> def dense(name):
...     inputs = keras.Input((3,), name="x")
...     return keras.Model(inputs, keras.layers.Dense(1, name="d")(inputs), name=name)
>>> teacher, student = dense("teacher"), dense("student")
>>> model = DistilledModel(student, teacher, keras.losses.mean_squared_error, weight=0.5)
>>> model.compile(optimizer="adam", loss="mse")
>>> history = model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=1, verbose=0)
>>> sorted(history.history)
['distillation_loss', 'loss']
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from smartml.backend import keras, tf
from smartml.errors import ConfigError

log = logging.getLogger(__name__)

TEACHER_NAME = "distillation_teacher"


class DistilledModel(keras.Model):
    """``inner`` trained on the targets and on a frozen teacher's outputs.

    Args:
        inner: the model to train.
        teacher: a trained model of the same inputs and output size; frozen here.
        distillation_loss: ``loss(teacher_outputs, inner_outputs)`` -> (batch,).
        weight: the distillation term's share of the loss, in (0, 1].

    Input shape: ``inner``'s. Output shape: ``inner``'s (``call`` is ``inner``'s).
    """

    def __init__(
        self,
        inner: keras.Model,
        teacher: keras.Model,
        distillation_loss: Callable[[Any, Any], Any],
        weight: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0 < weight <= 1:
            raise ValueError(f"weight: expected a share in (0, 1], got {weight}")
        self.inner = inner
        teacher.trainable = False
        # One name, whatever the teacher was called: a student of the same architecture
        # (self-distillation) must not share layer paths with it in weight files.
        teacher._name = TEACHER_NAME
        self.teacher = teacher
        self.distillation_loss = distillation_loss
        self.weight = float(weight)
        self.distillation_tracker = keras.metrics.Mean(name="distillation_loss")

    def call(self, inputs, training=None, mask=None):
        return self.inner(inputs, training=training, mask=mask)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        """The task's loss and the inner model's regularisation, not the teacher's."""
        return self.compiled_loss(y, y_pred, sample_weight, regularization_losses=self.inner.losses)

    @property
    def metrics(self):
        return [*super().metrics, self.distillation_tracker]

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        teacher = tf.stop_gradient(self.teacher(x, training=False))
        with tf.GradientTape() as tape:
            y_pred = self.inner(x, training=True)
            # compute_loss divides by the number of replicas (the optimizer sums their
            # gradients); the distillation mean is divided likewise.
            task_loss = self.compute_loss(x, y, y_pred, sample_weight)
            distillation = tf.reduce_mean(self.distillation_loss(teacher, y_pred))
            loss = (1.0 - self.weight) * task_loss + self.weight * distillation / replicas
        self.optimizer.minimize(loss, self.inner.trainable_variables, tape=tape)
        self.distillation_tracker.update_state(distillation)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data):
        logs = dict(super().test_step(data))
        logs.pop(self.distillation_tracker.name)  # a training term: no validation value
        return logs

    def save(self, filepath, *args, **kwargs):
        """Save the plain inner model: using it needs neither the teacher nor this class."""
        return self.inner.save(filepath, *args, **kwargs)


def load_teacher(source: str, model: keras.Model) -> keras.Model:
    """The teacher of ``training.distillation.teacher``, checked against ``model``.

    Args:
        source: a complete run directory, or a model file saved by smartml.
        model: the model to train: the teacher must take its inputs (names and shapes)
            and give its output size.

    Raises:
        ConfigError: one line naming the key, the file and what differs.
    """
    from smartml.models.saved import load_model
    from smartml.runs.directory import trained_model_file

    key = "training.distillation.teacher"
    path = trained_model_file(source, key)
    teacher = load_model(path)
    theirs = {tensor.name.split(":")[0]: tuple(tensor.shape[1:]) for tensor in teacher.inputs}
    mine = {tensor.name.split(":")[0]: tuple(tensor.shape[1:]) for tensor in model.inputs}
    if theirs != mine or teacher.output_shape[1:] != model.output_shape[1:]:
        raise ConfigError(
            f"{key}: {path}: takes {theirs} and gives {teacher.output_shape[1:]}, "
            f"the model trained takes {mine} and gives {model.output_shape[1:]}"
        )
    log.info("distilling from %s (%d parameters)", path, teacher.count_params())
    return teacher
