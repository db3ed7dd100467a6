"""Constrained training by the Modified Differential Method of Multipliers (MDMM).

Platt & Barr, "Constrained Differential Optimization", NeurIPS 1987. Minimise the task
loss ``f(θ)`` subject to constraints ``g_i(θ) = 0`` (equality) or ``g_i(θ) ≤ 0``
(inequality) by gradient descent on the weights ``θ`` and gradient *ascent* on one
multiplier ``λ_i`` per constraint, on the damped Lagrangian::

    L(θ, λ) = f(θ) + Σ_i λ_i·g_i(θ) + (c/2)·Σ_i h_i(θ)²

    θ   ← optimizer step on ∂L/∂θ                      (the compiled optimizer)
    λ_i ← λ_i + η_λ·g_i                                 equality
    λ_i ← max(0, λ_i + η_λ·g_i)                         inequality

with ``c`` the ``damping``, ``η_λ`` the ``lambda_learning_rate``; ``h_i = g_i`` for an
equality and ``h_i = max(g_i, 0)`` for an inequality. Inequalities use this
projected-multiplier form rather than slack variables: while a constraint holds with
``λ_i = 0`` it exerts no force at all, and once violated ``λ_i`` grows until it holds.
Both updates use the ``g_i`` measured before the step (a simultaneous update).

Constraints (each over one layer name, a list of names or ``"all"`` quantized layers)
    :class:`SparsityConstraint`: fraction of quantized weights that are exactly zero,
    ``g = scale·(s − target)`` ("equal") or ``g = scale·(target − s) ≤ 0`` ("at_least").
    :class:`BopsConstraint`: bit operations of the whole model (see
    :mod:`smartml.hardware.cost`), ``g = scale·(BOPs − max_bops) ≤ 0``.
    :class:`NormConstraint`: L1 (``Σ|q(w)|``) or L2 (``sqrt Σ q(w)²``) norm of the
    quantized weights, ``g = scale·(‖q(w)‖ − max_value) ≤ 0``.

    Sparsity and BOPs are piecewise constant in the weights: their *value* is the exact
    quantized one (so ``λ`` reacts to what the hardware gets) and their *gradient*
    that of the smooth surrogate of :mod:`~smartml.hardware.cost`. The norm
    goes through the quantizers' straight-through gradient.

Logs
    Every training step reports ``mdmm_<name>_value`` (sparsity, BOPs or norm: the
    hardware quantity, not ``g``) and ``mdmm_<name>_lambda``, plus
    ``mdmm_lagrangian``; ``fit`` puts them in its history, CSVLogger and TensorBoard.
    ``loss`` and ``val_loss`` stay the compiled task loss (with the model's
    regularisation losses), so checkpoints select on the task, not on the constraints.

Saving
    The multipliers are non-trainable weights of :class:`MDMMModel`, so they are in
    its checkpoints (``tf.train.Checkpoint``, ``BackupAndRestore``, ``save_weights``)
    and a resumed run resumes them too. The *artefact* is the plain inner model:
    :meth:`MDMMModel.save` saves ``model.inner`` (loadable without this module).
    ``model.get_config()`` holds the inner model's config and the constraint set;
    :meth:`MDMMModel.from_config` rebuilds the model from it.

Distribution
    Under ``tf.distribute`` Keras divides the task loss by the number of replicas and
    sums their gradients; the penalty is divided likewise, and the multipliers take
    one update per step from the replicas' mean ``g``, so N replicas train as one
    replica on the same global batch does.

>>> import smartml  # noqa: F401
>>> from qkeras import QDense, quantized_bits
>>> from smartml.backend import keras
>>> inputs = keras.Input((8,))
>>> outputs = QDense(4, kernel_quantizer=quantized_bits(4, 0, alpha=1), name="d")(inputs)
>>> model = MDMMModel(keras.Model(inputs, outputs),
...                   [SparsityConstraint("d", 0.5, name="half")], lambda_learning_rate=0.05)
>>> model.compile(optimizer="adam", loss="mse")
>>> [v.name for v in model.non_trainable_weights]
['mdmm_half_lambda:0']
>>> SparsityConstraint("missing", 0.5).bind(model.inner)
Traceback (most recent call last):
...
smartml.errors.ConfigError: constraint 'sparsity': unknown layer 'missing'; quantized layers: d
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from pydantic import ValidationError

from smartml.backend import keras, tf
from smartml.config.mdmm import ConstraintConfig  # (importing it registers the types)
from smartml.errors import ConfigError
from smartml.hardware import cost as hc
from smartml.registry import MDMM_CONSTRAINTS

LayerSpec = str | Sequence[str]


class Constraint:
    """Base of the MDMM constraints.

    Subclasses set ``kind`` ("equality" or "inequality"), implement :meth:`bind`
    (resolve layers against a model, check feasibility) and :meth:`evaluate`.

    Args:
        name: log name (``mdmm_<name>_value``); letters, digits and ``_``.
        scale: multiplies the violation, so that ``g`` is of order one.
    """

    kind = "inequality"
    default_name = "constraint"

    def __init__(self, name: str | None, scale: float) -> None:
        self.name = name or self.default_name
        if not self.name.replace("_", "").isalnum():
            raise ConfigError(f"constraint name {self.name!r}: use letters, digits and '_'")
        if not scale > 0:
            raise ConfigError(f"constraint {self.name!r}: scale must be > 0, got {scale}")
        self.scale = float(scale)

    def bind(self, model: keras.Model) -> None:
        """Resolve the constraint against ``model``; raises ConfigError if impossible."""
        raise NotImplementedError

    def evaluate(self) -> tuple[tf.Tensor, tf.Tensor]:
        """Output: (value reported in the logs, ``g`` with its gradient)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    def violation(self, value: float) -> float:
        """How far a reported ``value`` misses the constraint, ≥ 0: absolute for a
        sparsity, relative to the budget for BOPs and norms."""
        raise NotImplementedError

    def _resolve_layers(self, model: keras.Model, layers: LayerSpec) -> list:
        """The quantized layers named by ``layers`` ("all", a name, or a list of names)."""
        known = hc.quantized_layers(model)
        if isinstance(layers, str) and layers == "all":
            if not known:
                raise ConfigError(f"constraint {self.name!r}: the model has no quantized layers")
            return known
        names = [layers] if isinstance(layers, str) else list(layers)
        if not names:
            raise ConfigError(f"constraint {self.name!r}: no layers given")
        by_name = {layer.name: layer for layer in known}
        listing = ", ".join(by_name) or "none"
        resolved = []
        all_names = {layer.name for layer in model.layers}
        for layer_name in names:
            if layer_name not in by_name:
                problem = (
                    f"layer {layer_name!r} is not a quantized layer"
                    if layer_name in all_names
                    else f"unknown layer {layer_name!r}"
                )
                raise ConfigError(
                    f"constraint {self.name!r}: {problem}; quantized layers: {listing}"
                )
            resolved.append(by_name[layer_name])
        return resolved


class WeightConstraint(Constraint):
    """A constraint on the weight tensors of some layers (``self.layers``,
    ``self.include_bias``), collected by :meth:`bind`."""

    layers: LayerSpec
    include_bias: bool

    def bind(self, model: keras.Model) -> None:
        self._tensors = [
            tensor
            for layer in self._resolve_layers(model, self.layers)
            for tensor in hc.weight_tensors(layer, self.include_bias)
        ]


def _layers_config(layers: LayerSpec) -> str | list[str]:
    return layers if isinstance(layers, str) else list(layers)


class SparsityConstraint(WeightConstraint):
    """Fraction of the quantized weights of ``layers`` that are exactly zero.

    Args:
        layers: a layer name, a list of names, or "all" quantized layers.
        target: the sparsity wanted, in [0, 1].
        mode: "equal" (``s = target``) or "at_least" (``s ≥ target``).
        include_bias: count the biases too.
        scale: ``g = scale·(s − target)`` ("equal"), ``scale·(target − s)`` ("at_least").
        temperature: of the gradient surrogate (``τ / mean|w|``, see hardware_cost).
        name: log name; default "sparsity".
    """

    default_name = "sparsity"

    def __init__(
        self,
        layers: LayerSpec,
        target: float,
        mode: str = "equal",
        include_bias: bool = False,
        scale: float = 1.0,
        temperature: float = 0.5,
        name: str | None = None,
    ) -> None:
        super().__init__(name, scale)
        if not 0.0 <= target <= 1.0:
            raise ConfigError(
                f"constraint {self.name!r}: sparsity target must be in [0, 1], got {target}"
            )
        if mode not in ("equal", "at_least"):
            raise ConfigError(
                f"constraint {self.name!r}: mode must be 'equal' or 'at_least', got {mode!r}"
            )
        self.layers, self.target, self.mode = layers, float(target), mode
        self.include_bias, self.temperature = include_bias, float(temperature)
        self.kind = "equality" if mode == "equal" else "inequality"
        self._tensors: list[hc.WeightTensor] = []

    def evaluate(self) -> tuple[tf.Tensor, tf.Tensor]:
        sparsity = hc.quantized_sparsity_tf(self._tensors, self.temperature)
        violation = sparsity - self.target if self.mode == "equal" else self.target - sparsity
        return sparsity, self.scale * violation

    def violation(self, value: float) -> float:
        """Distance of the sparsity from the target beyond half a weight (a layer of
        ``n`` weights can only reach multiples of ``1/n``)."""
        miss = value - self.target
        miss = abs(miss) if self.mode == "equal" else max(-miss, 0.0)
        reachable = 0.5 / max(sum(t.size for t in self._tensors), 1)
        return max(miss - reachable, 0.0)

    def get_config(self) -> dict:
        return {
            "type": "sparsity",
            "name": self.name,
            "layers": _layers_config(self.layers),
            "target": self.target,
            "mode": self.mode,
            "include_bias": self.include_bias,
            "scale": self.scale,
            "temperature": self.temperature,
        }


class BopsConstraint(Constraint):
    """At most ``max_bops`` bit operations per inference for the whole model.

    BOPs and their minimum are defined in :mod:`smartml.hardware.cost`; a
    budget below the minimum (every weight pruned: only the accumulation terms left)
    is impossible for the architecture and raises ConfigError when bound.

    Args:
        max_bops: the budget.
        scale: ``g = scale·(BOPs − max_bops)``; default ``1/max_bops`` (relative excess).
        default_bits: bit width assumed for unquantized activations and weights.
        temperature: of the gradient surrogate.
        name: log name; default "bops".
    """

    default_name = "bops"

    def __init__(
        self,
        max_bops: float,
        scale: float | None = None,
        default_bits: int = hc.DEFAULT_BITS,
        temperature: float = 0.5,
        name: str | None = None,
    ) -> None:
        if not max_bops > 0:
            raise ConfigError(
                f"constraint {name or 'bops'!r}: max_bops must be > 0, got {max_bops}"
            )
        super().__init__(name, 1.0 / max_bops if scale is None else scale)
        self.max_bops, self.default_bits = float(max_bops), int(default_bits)
        self.temperature = float(temperature)
        self._user_scale = scale
        self._groups: list[hc.MacGroup] = []

    def bind(self, model: keras.Model) -> None:
        groups = hc.mac_groups(model, self.default_bits)
        if not groups:
            raise ConfigError(f"constraint {self.name!r}: the model has no quantized layers")
        least = hc.minimum_bops(groups)
        if self.max_bops < least:
            raise ConfigError(
                f"constraint {self.name!r}: max_bops {self.max_bops:.6g} is below the "
                f"{least:.6g} BOPs this architecture needs with every weight pruned "
                f"(unpruned: {hc.maximum_bops(groups):.6g})"
            )
        self._groups = groups

    def evaluate(self) -> tuple[tf.Tensor, tf.Tensor]:
        value = hc.bops_tf(self._groups, self.temperature)
        return value, self.scale * (value - self.max_bops)

    def violation(self, value: float) -> float:
        return max(value - self.max_bops, 0.0) / self.max_bops

    def get_config(self) -> dict:
        return {
            "type": "bops",
            "name": self.name,
            "max_bops": self.max_bops,
            "scale": self._user_scale,
            "default_bits": self.default_bits,
            "temperature": self.temperature,
        }


class NormConstraint(WeightConstraint):
    """L1 or L2 norm of the quantized weights of ``layers`` at most ``max_value``.

    Args:
        layers: a layer name, a list of names, or "all" quantized layers.
        kind: "l1" (``Σ|q(w)|``) or "l2" (``sqrt(Σ q(w)²)``).
        max_value: the bound (> 0).
        scale: ``g = scale·(‖q(w)‖ − max_value)``; default ``1/max_value``.
        include_bias: include the biases.
        name: log name; default the ``kind``.
    """

    def __init__(
        self,
        layers: LayerSpec,
        kind: str = "l2",
        max_value: float = 1.0,
        scale: float | None = None,
        include_bias: bool = False,
        name: str | None = None,
    ) -> None:
        if kind not in ("l1", "l2"):
            raise ConfigError(
                f"constraint {name or kind!r}: kind must be 'l1' or 'l2', got {kind!r}"
            )
        if not max_value > 0:
            raise ConfigError(
                f"constraint {name or kind!r}: max_value must be > 0, got {max_value}"
            )
        self.default_name = kind
        super().__init__(name, 1.0 / max_value if scale is None else scale)
        self.layers, self.norm_kind, self.max_value = layers, kind, float(max_value)
        self.include_bias, self._user_scale = include_bias, scale
        self._tensors: list[hc.WeightTensor] = []

    def evaluate(self) -> tuple[tf.Tensor, tf.Tensor]:
        if self.norm_kind == "l1":
            value = tf.add_n([tf.reduce_sum(tf.abs(t.quantized())) for t in self._tensors])
        else:
            squares = tf.add_n([tf.reduce_sum(tf.square(t.quantized())) for t in self._tensors])
            # sqrt'(0) is infinite: keep the gradient finite when every weight is zero.
            value = tf.sqrt(squares + 1e-12)
        return value, self.scale * (value - self.max_value)

    def violation(self, value: float) -> float:
        return max(value - self.max_value, 0.0) / self.max_value

    def get_config(self) -> dict:
        return {
            "type": "norm",
            "name": self.name,
            "layers": _layers_config(self.layers),
            "kind": self.norm_kind,
            "max_value": self.max_value,
            "scale": self._user_scale,
            "include_bias": self.include_bias,
        }


def constraint_from_config(config: Mapping[str, Any]) -> Constraint:
    """Build a constraint from its configuration (``training.mdmm.constraints[i]`` or
    ``get_config()``): validated by the schema registered for its ``type`` in
    :data:`~smartml.registry.MDMM_CONSTRAINTS`, built by the class registered with it.

    >>> constraint_from_config({"type": "norm", "layers": "d", "kind": "l1", "max_value": 4})
    <smartml.training.mdmm.NormConstraint object at ...>
    >>> constraint_from_config({"type": "sparsity", "target": 2})
    Traceback (most recent call last):
    ...
    smartml.errors.ConfigError: constraint 'sparsity': target: Input should be less than or
    equal to 1 (got 2)
    """
    kind = str(config.get("type", ""))
    # Every MDMM_CONSTRAINTS schema is a ConstraintConfig (registered in smartml.config.mdmm).
    schema = cast(type[ConstraintConfig], MDMM_CONSTRAINTS.schema(kind))
    try:
        settings = schema.model_validate(dict(config))
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            f"constraint {config.get('name') or kind!r}: {key}: {first['msg']} "
            f"(got {first.get('input')!r})"
        ) from None
    return MDMM_CONSTRAINTS.get(kind)(**settings.model_dump(exclude={"type"}))


def constraints_from_config(configs: Sequence[Mapping[str, Any]]) -> list[Constraint]:
    """:func:`constraint_from_config` of each configuration, in order."""
    return [constraint_from_config(config) for config in configs]


# QKeras layers round-trip only through the legacy (HDF5-style) serialisation, which
# tf_keras selects with this scope of its HDF5 save and load; it has no public name.
_HDF5_SERIALIZATION = {"save_traces": False, "in_tf_saved_model_scope": True}


def _inner_model_config(model: keras.Model) -> dict[str, Any]:
    """``model``'s architecture as the HDF5 format writes it (JSON-safe)."""
    from tf_keras.src.saving.legacy.saved_model.utils import keras_option_scope

    with keras_option_scope(**_HDF5_SERIALIZATION):
        # Through JSON: tuples (shapes) become lists, as in an HDF5 file.
        return json.loads(json.dumps(keras.layers.serialize(model)))


def _inner_model_from_config(
    config: dict[str, Any], custom_objects: dict[str, Any] | None
) -> keras.Model:
    """Rebuild a model from :func:`_inner_model_config`, QKeras objects included."""
    from tf_keras.src.saving.legacy.saved_model.utils import keras_option_scope

    from smartml.models.saved import custom_objects as smartml_objects

    objects = {**smartml_objects(), **(custom_objects or {})}
    with keras.utils.custom_object_scope(objects), keras_option_scope(**_HDF5_SERIALIZATION):
        return keras.layers.deserialize(config)


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

    Input / Output: those of ``inner`` (``call`` delegates to it).

    Compile it like the inner model (``compile(optimizer, loss, metrics)``); the
    optimizer updates the inner model's trainable weights only, the multipliers are
    updated by :meth:`train_step`. ``evaluate``/``test_step`` are Keras' own: they
    report the task loss. Use ``model.inner`` (or :meth:`save`, which saves it) for the
    artefact; checkpoints of this model carry the multipliers as well.
    """

    def __init__(
        self,
        inner: keras.Model,
        constraints: Sequence[Constraint],
        lambda_learning_rate: float = 0.01,
        damping: float = 1.0,
        feasibility_tolerance: float = 0.02,
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
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            # compute_loss adds self.losses, which include the inner model's
            # regularisation and activity losses (it is a tracked sub-layer).
            task_loss = self.compute_loss(x, y, y_pred, sample_weight)
            values, violations, penalty = self.lagrangian_terms()
            # compute_loss divides by the number of replicas and the optimizer sums the
            # replicas' gradients; the penalty is divided likewise, so that its force is
            # the same for any number of replicas.
            lagrangian = task_loss + penalty / replicas
        variables = self.inner.trainable_variables
        gradients = tape.gradient(lagrangian, variables)
        self.optimizer.apply_gradients(
            (g, v) for g, v in zip(gradients, variables, strict=True) if g is not None
        )
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
        return logs

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
            updated = multiplier + self.lambda_learning_rate * g[i]
            if constraint.kind == "inequality":
                updated = tf.maximum(updated, 0.0)
            multiplier.assign(updated)

    def get_config(self) -> dict[str, Any]:
        """The inner model (serialised), MDMM settings and constraints;
        :meth:`from_config` rebuilds the model (multipliers at zero: they are weights)."""
        return {
            "name": self.name,
            "inner": _inner_model_config(self.inner),
            "constraints": [c.get_config() for c in self.constraints],
            "lambda_learning_rate": self.lambda_learning_rate,
            "damping": self.damping,
            "feasibility_tolerance": self.feasibility_tolerance,
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> MDMMModel:
        """Rebuild from :meth:`get_config`; QKeras and smartml objects are known
        without ``custom_objects``."""
        config = dict(config)
        inner = _inner_model_from_config(config.pop("inner"), custom_objects)
        constraints = constraints_from_config(config.pop("constraints"))
        return cls(inner, constraints, **config)

    def save(self, filepath, *args, **kwargs):
        """Save the plain inner model: the artefact needs no MDMM state to load.

        The multipliers belong to training; they live in checkpoints of this model
        (``save_weights``, ``tf.train.Checkpoint``, ``BackupAndRestore``).
        """
        return self.inner.save(filepath, *args, **kwargs)
