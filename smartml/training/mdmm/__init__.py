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

Modules
    :mod:`~smartml.training.mdmm.constraints` (the constraints and their
    configuration), :mod:`~smartml.training.mdmm.schedule` (the phases and the masked
    weights), :mod:`~smartml.training.mdmm.model` (:class:`MDMMModel` and its train
    step), :mod:`~smartml.training.mdmm.serialization` (the inner model in
    ``get_config``); the names below are re-exported here.

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
"""

from smartml.training.mdmm.constraints import (
    BopsConstraint,
    Constraint,
    LayerSpec,
    LutsConstraint,
    ModelBudget,
    NormConstraint,
    SparsityConstraint,
    WeightConstraint,
    constraint_from_config,
    constraints_from_config,
    relative_magnitude,
)
from smartml.training.mdmm.model import MDMMModel
from smartml.training.mdmm.schedule import Schedule, ScheduleCallback, masked_weights

__all__ = [
    "BopsConstraint",
    "Constraint",
    "LayerSpec",
    "LutsConstraint",
    "MDMMModel",
    "ModelBudget",
    "NormConstraint",
    "Schedule",
    "ScheduleCallback",
    "SparsityConstraint",
    "WeightConstraint",
    "constraint_from_config",
    "constraints_from_config",
    "masked_weights",
    "relative_magnitude",
]
