"""The MDMM constraints: what ``g_i(θ)`` each measures, and how a constraint is
built from its configuration (``training.mdmm.constraints[i]``).

Each constraint reports a *value* (the hardware quantity: sparsity, BOPs, LUTs, a
norm) and ``g``, its violation with a gradient that reaches the weights; see
:mod:`smartml.training.mdmm` for how the model uses them.

>>> import smartml  # noqa: F401
>>> from qkeras import QDense, quantized_bits
>>> from smartml.backend import keras
>>> inputs = keras.Input((8,))
>>> outputs = QDense(4, kernel_quantizer=quantized_bits(4, 0, alpha=1), name="d")(inputs)
>>> SparsityConstraint("missing", 0.5).bind(keras.Model(inputs, outputs))
Traceback (most recent call last):
...
smartml.errors.ConfigError: constraint 'sparsity': unknown layer 'missing'; quantized layers: d
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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
    <smartml.training.mdmm.constraints.NormConstraint object at ...>
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
