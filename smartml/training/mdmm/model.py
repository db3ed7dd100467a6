"""The constrained model: :class:`MDMMModel` wraps the model to train, holds one
multiplier per constraint (and the schedule's state) as weights, and takes the MDMM
step in its ``train_step``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, cast

import numpy as np

from smartml.backend import keras, tf
from smartml.errors import ConfigError
from smartml.hardware import cost as hc
from smartml.training.mdmm.constraints import (
    Constraint,
    SparsityConstraint,
    constraints_from_config,
)
from smartml.training.mdmm.schedule import Schedule, ScheduleCallback, masked_weights
from smartml.training.mdmm.serialization import inner_model_config, inner_model_from_config


def _add_gradients(first: tf.Tensor | None, second: tf.Tensor | None) -> tf.Tensor | None:
    """The sum of two gradients of one variable, either of which may be None."""
    if first is None or second is None:
        return second if first is None else first
    return first + second


def _local_replicas() -> int:
    """Replicas of the current tf.distribute strategy on this worker (1 without one)."""
    if not tf.distribute.has_strategy():
        return 1
    return len(tf.distribute.get_strategy().extended.worker_devices)


class MDMMModel(keras.Model):
    """Trains ``inner`` on its compiled loss subject to ``constraints`` by MDMM.

    Args:
        inner: a built functional (or any) Keras model; what is trained and saved.
        constraints: :class:`Constraint` objects; names must be distinct.
        lambda_learning_rate: ``η_λ``, step of the multipliers' gradient ascent.
        damping: ``c`` of the damping term ``(c/2)·Σ h_i²``.
        feasibility_tolerance: largest :meth:`Constraint.violation` of a constraint
            that counts as met (:meth:`violations`; used to pick checkpoints).
        schedule: warm-up, target ramp and fixed-mask fine-tuning (:class:`Schedule`,
            applied by :meth:`fit`); None: constant targets from the first step.

    Input / Output: those of ``inner`` (``call`` delegates to it).

    Compile it like the inner model (``compile(optimizer, loss, metrics)``); the
    optimizer updates the inner model's trainable weights only, the multipliers are
    updated by :meth:`train_step`. ``evaluate``/``test_step`` are Keras' own: they
    report the task loss. Use ``model.inner`` (or :meth:`save`, which saves it) for the
    artefact; checkpoints of this model carry the multipliers as well.

    With a schedule, the model also holds (as weights, so checkpoints and
    BackupAndRestore keep them) the constraints' on/off switch, each sparsity
    constraint's current target and its pruning masks (with the saliency criterion,
    also the sum of the squared task-loss gradients of each masked tensor since the
    last pruning); masked weights are set back to zero after every optimizer step, so
    the inner model's weights hold the zeros.
    """

    def __init__(
        self,
        inner: keras.Model,
        constraints: Sequence[Constraint],
        lambda_learning_rate: float = 0.01,
        damping: float = 1.0,
        feasibility_tolerance: float = 0.02,
        schedule: Schedule | None = None,
        **kwargs,
    ) -> None:
        super().__init__(name=kwargs.pop("name", f"mdmm_{inner.name}"), **kwargs)
        if not lambda_learning_rate > 0:
            raise ConfigError(f"lambda_learning_rate must be > 0, got {lambda_learning_rate}")
        if not damping >= 0:
            raise ConfigError(f"damping must be >= 0, got {damping}")
        names = [c.name for c in constraints]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(
                f"constraint names must be distinct; repeated: {', '.join(duplicates)} "
                "(pass name=... to tell them apart)"
            )
        self.inner = inner
        self.constraints = list(constraints)
        for constraint in self.constraints:
            constraint.bind(inner)
        self.lambda_learning_rate = float(lambda_learning_rate)
        self.damping = float(damping)
        self.feasibility_tolerance = float(feasibility_tolerance)
        # add_weight (not a bare tf.Variable) so that the multipliers are in
        # model.weights, hence in checkpoints, save_weights and BackupAndRestore.
        # Under tf.distribute every replica computes the same update (from all-reduced
        # g); ONLY_FIRST_REPLICA writes it once and mirrors it to the others.
        self.multipliers = [
            self.add_weight(
                name=f"mdmm_{c.name}_lambda",
                shape=(),
                initializer="zeros",
                trainable=False,
                dtype="float32",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            for c in self.constraints
        ]
        self.schedule = schedule
        self._add_schedule_state()

    def _add_schedule_state(self) -> None:
        """The schedule's variables: an on/off switch, each sparsity constraint's
        current target and, with fine-tuning, one mask per weight tensor."""
        self._switch: tf.Variable | None = None
        self._masks: list[tuple[SparsityConstraint, list[tf.Variable]]] = []
        self._masks_fixed: tf.Variable | None = None
        # (tensor, sum of its squared task-loss gradients); a list, as a dict keyed by
        # variables would not checkpoint.
        self._squared_gradients: list[tuple[hc.WeightTensor, tf.Variable]] = []
        if self.schedule is None:
            return
        self._switch = self._state("mdmm_constraints_on", (), "ones")
        for constraint in self._sparsity_constraints():
            constraint.current_target = self._state(f"mdmm_{constraint.name}_target", (), "zeros")
            constraint.current_target.assign(constraint.target)
        if self.schedule.fine_tune_fraction > 0:
            self._masks_fixed = self._state("mdmm_masks_fixed", (), "zeros")
            self._masks = [
                (
                    c,
                    [
                        self._state(f"mdmm_{c.name}_mask_{i}", t.variable.shape, "ones")
                        for i, t in enumerate(c.tensors)
                    ],
                )
                for c in self._sparsity_constraints()
            ]
            if self.schedule.criterion == "saliency":
                self._add_squared_gradients()

    def _add_squared_gradients(self) -> None:
        """One sum of squared gradients per tensor that a sparsity constraint masks
        (a tensor under two constraints has one), summed over the replicas."""
        seen = set()
        for constraint in self._sparsity_constraints():
            for i, tensor in enumerate(constraint.tensors):
                if tensor.variable.ref() in seen:
                    continue
                seen.add(tensor.variable.ref())
                name = f"mdmm_{constraint.name}_squared_gradient_{i}"
                squared = self._state(
                    name, tensor.variable.shape, "zeros", tf.VariableAggregation.SUM
                )
                self._squared_gradients.append((tensor, squared))

    def _state(
        self,
        name: str,
        shape,
        initializer: str,
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
    ) -> tf.Variable:
        # By default set outside the train step (cross-replica) only: mirrored, written once.
        return self.add_weight(
            name=name,
            shape=shape,
            initializer=initializer,
            trainable=False,
            dtype="float32",
            aggregation=aggregation,
        )

    def _sparsity_constraints(self) -> list[SparsityConstraint]:
        return [c for c in self.constraints if isinstance(c, SparsityConstraint)]

    def fit(self, *args, **kwargs):
        """Keras' ``fit``, with a :class:`ScheduleCallback` first among the callbacks
        when the model has a schedule (pass ``callbacks`` by keyword)."""
        if self.schedule is not None:
            kwargs["callbacks"] = [ScheduleCallback(), *(kwargs.get("callbacks") or [])]
        return super().fit(*args, **kwargs)

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        """Set the schedule's state for ``epoch`` (0-based) of ``epochs``: the switch,
        the ramped targets, and the pruning masks once fine-tuning starts."""
        schedule = self.schedule
        if schedule is None:
            return
        cast(tf.Variable, self._switch).assign(float(schedule.constraints_on(epoch, epochs)))
        ramp = schedule.ramp(epoch, epochs)
        for constraint in self._sparsity_constraints():
            cast(tf.Variable, constraint.current_target).assign(constraint.target * ramp)
        fixed = self._masks_fixed
        if fixed is None or fixed.numpy() or not schedule.constraints_on(epoch, epochs):
            return
        if schedule.masks_fixed(epoch, epochs):
            self.fix_masks()
        else:
            self.prune(ramp)

    def prune(self, fraction: float, final: bool = False) -> None:
        """Mask (and zero) the least useful weights of each sparsity constraint, as
        many as ``fraction`` of its target asks (:meth:`~SparsityConstraint.pruning_masks`
        with :meth:`saliencies`); the squared gradients start again from zero.

        ``final`` (the target itself, for good): with mode "equal" the unmasked
        weights that quantize to zero move to ``±LSB``, so the zeros are exactly the
        masked ones, and the multipliers restart at 0 (the masks now meet the targets).
        """
        multipliers = dict(zip(self.constraints, self.multipliers, strict=True))
        for constraint, masks in self._masks:
            new_masks = constraint.pruning_masks(fraction, self.saliencies(constraint))
            for tensor, variable, mask in zip(constraint.tensors, masks, new_masks, strict=True):
                variable.assign(mask)
                revive = final and constraint.mode == "equal"
                tensor.variable.assign(masked_weights(tensor, mask, revive))
            if final:
                multipliers[constraint].assign(0.0)
        for _, squared in self._squared_gradients:
            squared.assign(tf.zeros_like(squared))

    def saliencies(self, constraint: SparsityConstraint) -> list[np.ndarray] | None:
        """Optimal-brain-damage saliency ``w²·Σg²`` of each weight of ``constraint``
        (``g`` the task loss' gradient at each step since the last pruning): the loss
        a weight's removal costs, with the empirical Fisher as the curvature. None
        (magnitude decides) with the magnitude criterion or before any step."""
        if not self._squared_gradients:
            return None
        by_variable = self._squared_by_variable()
        squared = [by_variable[t.variable.ref()].numpy() for t in constraint.tensors]
        if not any(s.any() for s in squared):
            return None
        return [
            np.square(t.variable.numpy()) * s
            for t, s in zip(constraint.tensors, squared, strict=True)
        ]

    def fix_masks(self) -> None:
        """Prune to the full targets and keep these masks for the rest of the run."""
        self.prune(1.0, final=True)
        cast(tf.Variable, self._masks_fixed).assign(1.0)

    def _apply_masks(self) -> None:
        """Set the masked weights back to zero (after an optimizer step).

        The inner weights are written in cross-replica context (as the optimizer
        writes them), each replica's copy with its replica's mask.
        """
        if not self._masks:
            return

        def zero_masked(strategy) -> None:
            for constraint, masks in self._masks:
                for tensor, mask in zip(constraint.tensors, masks, strict=True):
                    strategy.extended.update(
                        tensor.variable, lambda v, m: v.assign(v * m), args=(mask,), group=False
                    )

        tf.distribute.get_replica_context().merge_call(zero_masked)

    def call(self, inputs, training=None, mask=None):
        return self.inner(inputs, training=training, mask=mask)

    def constraint_values(self) -> dict[str, tf.Tensor]:
        """The reported value of every constraint (sparsity, BOPs, norm), by name."""
        return {c.name: c.evaluate()[0] for c in self.constraints}

    def violations(self) -> dict[str, float]:
        """:meth:`Constraint.violation` of every constraint at the current weights."""
        return {
            c.name: c.violation(float(value))
            for c, value in zip(self.constraints, self.constraint_values().values(), strict=True)
        }

    def lagrangian_terms(self) -> tuple[list, list, tf.Tensor]:
        """Output: (values, g_i, Σ λ_i·g_i + (c/2)·Σ h_i²) at the current weights."""
        values, violations, penalty = [], [], tf.constant(0.0)
        for constraint, multiplier in zip(self.constraints, self.multipliers, strict=True):
            value, g = constraint.evaluate()
            h = g if constraint.kind == "equality" else tf.nn.relu(g)
            penalty += multiplier * g + 0.5 * self.damping * tf.square(h)
            values.append(value)
            violations.append(g)
        return values, violations, penalty

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        with tf.GradientTape(persistent=bool(self._squared_gradients)) as tape:
            y_pred = self(x, training=True)
            # compute_loss adds self.losses, which include the inner model's
            # regularisation and activity losses (it is a tracked sub-layer).
            task_loss = self.compute_loss(x, y, y_pred, sample_weight)
            values, violations, penalty = self.lagrangian_terms()
            # compute_loss divides by the number of replicas and the optimizer sums the
            # replicas' gradients; the penalty is divided likewise, so that its force is
            # the same for any number of replicas.
            constrained = self._switched(penalty) / replicas
            lagrangian = task_loss + constrained
        variables = self.inner.trainable_variables
        if self._squared_gradients:
            # The saliency wants the task loss' own gradient; the penalty's (weights
            # only, no data) is cheap to take apart.
            gradients = tape.gradient(task_loss, variables)
            self._accumulate_squared(variables, gradients)
            penalty_gradients = tape.gradient(constrained, variables)
            gradients = [
                _add_gradients(g, p) for g, p in zip(gradients, penalty_gradients, strict=True)
            ]
        else:
            gradients = tape.gradient(lagrangian, variables)
        self.optimizer.apply_gradients(
            (g, v) for g, v in zip(gradients, variables, strict=True) if g is not None
        )
        self._apply_masks()
        self._ascend_multipliers(violations)
        logs = dict(self.compute_metrics(x, y, y_pred, sample_weight))
        # Keras sums a worker's per-replica logs (its "auto" reduction): these are the
        # same on every replica, so each replica logs its share.
        local = _local_replicas()
        logs["mdmm_lagrangian"] = lagrangian * replicas / local
        for constraint, multiplier, value in zip(
            self.constraints, self.multipliers, values, strict=True
        ):
            logs[f"mdmm_{constraint.name}_value"] = value / local
            logs[f"mdmm_{constraint.name}_lambda"] = tf.identity(multiplier) / local
        for constraint in self._sparsity_constraints() if self.schedule is not None else []:
            logs[f"mdmm_{constraint.name}_target"] = tf.identity(constraint.current_target) / local
        return logs

    def _accumulate_squared(self, variables: list, gradients: list) -> None:
        """Add each masked tensor's squared task-loss gradient to its sum."""
        by_variable = self._squared_by_variable()
        for variable, gradient in zip(variables, gradients, strict=True):
            squared = by_variable.get(variable.ref())
            if squared is not None and gradient is not None:
                squared.assign_add(tf.square(tf.convert_to_tensor(gradient)))

    def _squared_by_variable(self) -> dict[Any, tf.Variable]:
        return {tensor.variable.ref(): squared for tensor, squared in self._squared_gradients}

    def _switched(self, value: tf.Tensor) -> tf.Tensor:
        """``value``, or 0 while the schedule's warm-up has the constraints off."""
        return value if self._switch is None else value * self._switch

    def _ascend_multipliers(self, violations: list[tf.Tensor]) -> None:
        """Gradient ascent on λ: ``∂L/∂λ_i = g_i`` (measured before the weight step).

        Under tf.distribute, ``g`` is averaged over the replicas (it depends on the
        mirrored weights only, so this guards against float drift rather than changing
        it) and the multipliers, aggregated ONLY_FIRST_REPLICA, take one update.
        """
        if not violations:
            return
        g = tf.stop_gradient(tf.stack(violations))
        g = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.MEAN, g)
        for i, (constraint, multiplier) in enumerate(
            zip(self.constraints, self.multipliers, strict=True)
        ):
            updated = multiplier + self._switched(self.lambda_learning_rate * g[i])
            if constraint.kind == "inequality":
                updated = tf.maximum(updated, 0.0)
            multiplier.assign(updated)

    def get_config(self) -> dict[str, Any]:
        """The inner model (serialised), MDMM settings and constraints;
        :meth:`from_config` rebuilds the model (multipliers at zero: they are weights)."""
        return {
            "name": self.name,
            "inner": inner_model_config(self.inner),
            "constraints": [c.get_config() for c in self.constraints],
            "lambda_learning_rate": self.lambda_learning_rate,
            "damping": self.damping,
            "feasibility_tolerance": self.feasibility_tolerance,
            "schedule": None if self.schedule is None else asdict(self.schedule),
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> MDMMModel:
        """Rebuild from :meth:`get_config`; QKeras and smartml objects are known
        without ``custom_objects``."""
        config = dict(config)
        inner = inner_model_from_config(config.pop("inner"), custom_objects)
        constraints = constraints_from_config(config.pop("constraints"))
        schedule = config.pop("schedule", None)
        return cls(inner, constraints, schedule=schedule and Schedule(**schedule), **config)

    def save(self, filepath, *args, **kwargs):
        """Save the plain inner model: the artefact needs no MDMM state to load.

        The multipliers belong to training; they live in checkpoints of this model
        (``save_weights``, ``tf.train.Checkpoint``, ``BackupAndRestore``).
        """
        return self.inner.save(filepath, *args, **kwargs)
