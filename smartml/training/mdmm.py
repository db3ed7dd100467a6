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
    :class:`LutsConstraint`: distributed-arithmetic LUTs of every kernel, as predicted
    by :mod:`smartml.hardware.da_cost`, ``g = scale·(LUTs − max_luts) ≤ 0``.
    :class:`NormConstraint`: L1 (``Σ|q(w)|``) or L2 (``sqrt Σ q(w)²``) norm of the
    quantized weights, ``g = scale·(‖q(w)‖ − max_value) ≤ 0``.

    Sparsity, BOPs and LUTs are piecewise constant in the weights: their *value* is the
    exact quantized one (so ``λ`` reacts to what the hardware gets) and their
    *gradient* that of the smooth surrogate of :mod:`~smartml.hardware.cost`. The norm
    goes through the quantizers' straight-through gradient.

Schedule
    MDMM alone stalls at high sparsity: the surrogate's gradient is spread over a
    layer's weights and fades far from the quantizer's zero band (±2⁻⁸ for 8 bits),
    while Adam moves a weight by about the learning rate each step. A
    :class:`Schedule` (``training.mdmm.schedule``) adds a dense warm-up (constraints
    off), a cubic ramp of the sparsity targets with masks that zero the least useful
    weights as the ramped target asks at every epoch's start (gradual pruning, by
    magnitude or by saliency ``w²·Σg²``; MDMM pulls the next ones towards zero in
    between), and a fine-tuning with the masks fixed at the full targets, so those
    are met exactly. Its state (switch, current targets, masks, squared gradients) is
    in the model's weights; the masked weights are set back to zero after every
    optimizer step, so the artefact holds the zeros.

Logs
    Every training step reports ``mdmm_<name>_value`` (sparsity, BOPs or norm: the
    hardware quantity, not ``g``) and ``mdmm_<name>_lambda``, plus
    ``mdmm_lagrangian`` (with a schedule, ``mdmm_<name>_target`` of each sparsity
    constraint); ``fit`` puts them in its history, CSVLogger and TensorBoard.
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
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

import numpy as np
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
        # What evaluate() aims at: the target, or a variable a Schedule ramps up to it.
        self.current_target: float | tf.Variable = self.target

    @property
    def tensors(self) -> list[hc.WeightTensor]:
        """The weight tensors counted (after :meth:`bind`)."""
        return self._tensors

    def evaluate(self) -> tuple[tf.Tensor, tf.Tensor]:
        sparsity = hc.quantized_sparsity_tf(self._tensors, self.temperature)
        target = self.current_target
        violation = sparsity - target if self.mode == "equal" else target - sparsity
        return sparsity, self.scale * violation

    def zeros_wanted(self, fraction: float = 1.0) -> int:
        """Number of zero weights that meet ``fraction`` of the target: the nearest
        count ("equal"), the smallest count at least that ("at_least")."""
        wanted = fraction * self.target * sum(t.size for t in self._tensors)
        if self.mode == "equal":
            return math.floor(wanted + 0.5)
        return math.ceil(wanted - 1e-9)

    def pruning_masks(
        self, fraction: float = 1.0, scores: Sequence[np.ndarray] | None = None
    ) -> list[np.ndarray]:
        """0/1 masks (one per tensor) that zero exactly ``zeros_wanted(fraction)``
        weights: those already quantized to zero first, then the lowest ``scores``
        (one array per tensor, its shape), by default ``|w|`` relative to their
        tensor's mean ``|w|`` (tensors of different scales compare fairly). Masked
        weights are zero, so a later call masks a superset."""
        if scores is None:
            scores = [relative_magnitude(t.variable.numpy()) for t in self._tensors]
        nonzero = [(np.asarray(t.quantized()) != 0).ravel() for t in self._tensors]
        # quantized zeros first, each group by score (the last key sorts first)
        flat_scores = np.concatenate([np.ravel(score) for score in scores])
        order = np.lexsort((flat_scores, np.concatenate(nonzero)))
        keep = np.ones(order.size, dtype=np.float32)
        keep[order[: self.zeros_wanted(fraction)]] = 0.0
        ends = np.cumsum([t.size for t in self._tensors])[:-1]
        return [
            part.reshape(t.variable.shape)
            for part, t in zip(np.split(keep, ends), self._tensors, strict=True)
        ]

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


def relative_magnitude(weights: np.ndarray) -> np.ndarray:
    """``|w|`` over the tensor's mean ``|w|``: the magnitude criterion's score."""
    magnitude = np.abs(weights)
    return magnitude / max(float(magnitude.mean()), 1e-12)


def masked_weights(tensor: hc.WeightTensor, mask: np.ndarray, revive: bool) -> np.ndarray:
    """``tensor``'s float weights with the masked ones set to 0; with ``revive``, the
    unmasked ones that quantize to 0 move to the smallest non-zero step (``±LSB``,
    their sign), so that the zeros are exactly the masked weights.

    >>> from qkeras import QDense, quantized_bits
    >>> from smartml.backend import keras
    >>> layer = QDense(3, kernel_quantizer=quantized_bits(4, 0, alpha=1))
    >>> layer.build((None, 1))
    >>> _ = layer.kernel.assign([[0.5, -0.01, 0.3]])
    >>> tensor = hc.weight_tensors(layer)[0]
    >>> masked_weights(tensor, np.array([[1.0, 1.0, 0.0]]), revive=True)
    array([[ 0.5  , -0.125,  0.   ]], dtype=float32)
    """
    weights = tensor.variable.numpy() * mask
    step = 2.0 * tensor.zero_threshold()  # one LSB of a fixed-scale quantizer
    if revive and step > 0:
        dead = (mask > 0) & (np.asarray(tensor.quantized()) == 0)
        weights = np.where(dead, np.where(weights < 0, -step, step), weights)
    return weights.astype(tensor.variable.dtype.as_numpy_dtype)


@dataclass(frozen=True)
class Schedule:
    """The phases of a constrained run, as fractions of its epochs (see
    :class:`smartml.config.mdmm.ScheduleConfig`): warm-up with every constraint off,
    a cubic ramp of the sparsity targets, fine-tuning with fixed pruning masks; the
    masks remove weights by ``criterion`` ("magnitude" or "saliency").

    Epoch boundaries round half up; a positive ``fine_tune_fraction`` fine-tunes at
    least the last epoch, and the other phases shrink to leave it room.

    >>> schedule = Schedule(warmup_fraction=0.25, ramp_fraction=0.5, fine_tune_fraction=0.25)
    >>> schedule.boundaries(8)
    (2, 6, 6)
    >>> [round(schedule.ramp(epoch, 8), 3) for epoch in range(8)]
    [0.0, 0.0, 0.578, 0.875, 0.984, 1.0, 1.0, 1.0]
    >>> [schedule.constraints_on(epoch, 8) for epoch in (1, 2)]
    [False, True]
    >>> [schedule.masks_fixed(epoch, 8) for epoch in (5, 6)]
    [False, True]
    """

    warmup_fraction: float = 0.0
    ramp_fraction: float = 0.5
    fine_tune_fraction: float = 0.25
    criterion: str = "magnitude"

    def __post_init__(self) -> None:
        if self.criterion not in ("magnitude", "saliency"):
            raise ConfigError(
                f"schedule criterion must be 'magnitude' or 'saliency', got {self.criterion!r}"
            )

    def boundaries(self, epochs: int) -> tuple[int, int, int]:
        """(first epoch of the ramp, first at the full target, first fine-tuned)."""

        def half_up(fraction: float) -> int:
            return math.floor(fraction * epochs + 0.5)

        fine_tune = max(half_up(self.fine_tune_fraction), int(self.fine_tune_fraction > 0))
        first_fine_tuned = max(epochs - fine_tune, 0)
        ramp_end = min(half_up(self.warmup_fraction + self.ramp_fraction), first_fine_tuned)
        return min(half_up(self.warmup_fraction), ramp_end), ramp_end, first_fine_tuned

    def constraints_on(self, epoch: int, epochs: int) -> bool:
        """Whether the constraints act in ``epoch`` (0-based): after the warm-up."""
        return epoch >= self.boundaries(epochs)[0]

    def ramp(self, epoch: int, epochs: int) -> float:
        """Fraction of the sparsity targets aimed at in ``epoch``: 0 in the warm-up,
        ``1 − (1 − p)³`` in the ramp (``p`` its fraction done at the epoch's end), 1 after."""
        start, end, _ = self.boundaries(epochs)
        if epoch < start:
            return 0.0
        if epoch >= end:
            return 1.0
        done = (epoch - start + 1) / (end - start)
        return 1.0 - (1.0 - done) ** 3

    def masks_fixed(self, epoch: int, epochs: int) -> bool:
        """Whether ``epoch`` trains with fixed pruning masks (the fine-tuning)."""
        return self.fine_tune_fraction > 0 and epoch >= self.boundaries(epochs)[2]


class ScheduleCallback(keras.callbacks.Callback):
    """Puts an :class:`MDMMModel` into its schedule's state at every epoch's start
    (added by :meth:`MDMMModel.fit`). The state follows from the epoch number and the
    model's weights, so a run resumed by BackupAndRestore continues the schedule."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.model.begin_epoch(epoch, int(self.params["epochs"]))


class ModelBudget(Constraint):
    """A budget on one hardware cost of the whole model's quantized kernels, computed
    over its :class:`~smartml.hardware.cost.MacGroup` s (``cost_name``: the cost's name,
    also the ``max_<cost_name>`` key of its configuration and the default log name).

    Args:
        budget: the most the cost may be (> 0).
        scale: ``g = scale·(cost − budget)``; default ``1/budget`` (relative excess).
        default_bits: bit width assumed for unquantized activations and weights.
        temperature: of the gradient surrogate.
        name: log name; default ``cost_name``.
    """

    cost_name = ""

    def __init__(
        self,
        budget: float,
        scale: float | None = None,
        default_bits: int = hc.DEFAULT_BITS,
        temperature: float = 0.5,
        name: str | None = None,
    ) -> None:
        if not budget > 0:
            raise ConfigError(
                f"constraint {name or self.cost_name!r}: max_{self.cost_name} must be > 0, "
                f"got {budget}"
            )
        super().__init__(name, 1.0 / budget if scale is None else scale)
        self.budget, self.default_bits = float(budget), int(default_bits)
        self.temperature = float(temperature)
        self._user_scale = scale
        self._groups: list[hc.MacGroup] = []

    def bind(self, model: keras.Model) -> None:
        groups = hc.mac_groups(model, self.default_bits)
        if not groups:
            raise ConfigError(f"constraint {self.name!r}: the model has no quantized layers")
        self.check_reachable(groups)
        self._groups = groups

    def check_reachable(self, groups: list[hc.MacGroup]) -> None:
        """Raise ConfigError where no weights of the architecture meet the budget."""

    def cost(self, groups: list[hc.MacGroup]) -> tf.Tensor:
        """The cost as a tf scalar whose gradient reaches the weights."""
        raise NotImplementedError

    def evaluate(self) -> tuple[tf.Tensor, tf.Tensor]:
        value = self.cost(self._groups)
        return value, self.scale * (value - self.budget)

    def violation(self, value: float) -> float:
        return max(value - self.budget, 0.0) / self.budget

    def get_config(self) -> dict:
        return {
            "type": self.cost_name,
            "name": self.name,
            f"max_{self.cost_name}": self.budget,
            "scale": self._user_scale,
            "default_bits": self.default_bits,
            "temperature": self.temperature,
        }


class BopsConstraint(ModelBudget):
    """At most ``max_bops`` bit operations per inference for the whole model.

    BOPs and their minimum are defined in :mod:`smartml.hardware.cost`; a
    budget below the minimum (every weight pruned: only the accumulation terms left)
    is impossible for the architecture and raises ConfigError when bound. Arguments
    as :class:`ModelBudget`'s, the budget named ``max_bops``.
    """

    cost_name = default_name = "bops"

    def __init__(self, max_bops: float, **options) -> None:
        super().__init__(max_bops, **options)

    def check_reachable(self, groups: list[hc.MacGroup]) -> None:
        least = hc.minimum_bops(groups)
        if self.budget < least:
            raise ConfigError(
                f"constraint {self.name!r}: max_bops {self.budget:.6g} is below the "
                f"{least:.6g} BOPs this architecture needs with every weight pruned "
                f"(unpruned: {hc.maximum_bops(groups):.6g})"
            )

    def cost(self, groups: list[hc.MacGroup]) -> tf.Tensor:
        return hc.bops_tf(groups, self.temperature)


class LutsConstraint(ModelBudget):
    """At most ``max_luts`` LUTs for the kernels of the whole model in distributed
    arithmetic (hls4ml's ``distributed_arithmetic`` strategy, solved by da4ml), as
    predicted by :func:`smartml.hardware.cost.luts` (each kernel's input width its
    ``b_a``, as for BOPs). Every weight pruned costs 0 LUTs, so any positive budget is
    reachable. Arguments as :class:`ModelBudget`'s, the budget named ``max_luts``; the
    temperature is that of the smooth digit count (``τ / mean|w|``). With ``unrolled``,
    a kernel costs its LUTs once per output position (the RTL export's fully parallel
    design, e.g. 32 copies of each per-point layer of a PointNet on 32 points).
    """

    cost_name = default_name = "luts"

    def __init__(self, max_luts: float, unrolled: bool = False, **options) -> None:
        super().__init__(max_luts, **options)
        self.unrolled = bool(unrolled)

    def cost(self, groups: list[hc.MacGroup]) -> tf.Tensor:
        return hc.luts_tf(groups, self.temperature, self.unrolled)

    def get_config(self) -> dict:
        return {**super().get_config(), "unrolled": self.unrolled}


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
            "inner": _inner_model_config(self.inner),
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
        inner = _inner_model_from_config(config.pop("inner"), custom_objects)
        constraints = constraints_from_config(config.pop("constraints"))
        schedule = config.pop("schedule", None)
        return cls(inner, constraints, schedule=schedule and Schedule(**schedule), **config)

    def save(self, filepath, *args, **kwargs):
        """Save the plain inner model: the artefact needs no MDMM state to load.

        The multipliers belong to training; they live in checkpoints of this model
        (``save_weights``, ``tf.train.Checkpoint``, ``BackupAndRestore``).
        """
        return self.inner.save(filepath, *args, **kwargs)
