"""Schema of ``training.mdmm``: constrained training by the Modified Differential
Method of Multipliers (see :mod:`smartml.training.mdmm` for the method).

Each constraint names the layers it covers: one layer name, a list of names, or
``"all"`` (every quantized layer). Example, 50% sparsity of one layer::

    {"type": "sparsity", "layers": "dense_0", "target": 0.5}

Constraint types live in :data:`smartml.registry.MDMM_CONSTRAINTS`: each schema below
is registered under its ``type`` with the dotted path of the constraint class that
implements it (imported only when a model is built, so validating a config needs no
TensorFlow). A new constraint type is one more registered schema here and its class;
``MDMMConfig.constraints`` is the discriminated union of every registered schema.

>>> MDMMConfig.model_validate({"constraints": [{"type": "bops", "max_bops": 1e5}]}).constraints
[BopsConstraintConfig(type='bops', name=None, max_bops=100000.0, scale=None,
                      default_bits=16, temperature=0.5)]
>>> MDMM_CONSTRAINTS.names()
['bops', 'luts', 'norm', 'sparsity']
"""

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from smartml.config.strict import PositiveFloat, StrictModel
from smartml.registry import MDMM_CONSTRAINTS

LayerSpec = str | list[str]
# The module of the constraint classes (imported when a model is built).
IMPLEMENTATIONS = "smartml.training.mdmm.constraints"


class ConstraintConfig(StrictModel):
    """Keys every constraint has: ``type`` (its registry name) and an optional log
    ``name``."""

    type: str
    name: str | None = None


@MDMM_CONSTRAINTS.register("sparsity", implementation=f"{IMPLEMENTATIONS}:SparsityConstraint")
class SparsityConstraintConfig(ConstraintConfig):
    """Fraction of quantized weights that are exactly zero: ``= target`` (``equal``)
    or ``>= target`` (``at_least``)."""

    type: Literal["sparsity"]
    layers: LayerSpec = "all"
    target: float = Field(ge=0, le=1, allow_inf_nan=False)
    mode: Literal["equal", "at_least"] = "equal"
    include_bias: bool = False
    scale: PositiveFloat = 1.0
    temperature: PositiveFloat = Field(0.5, description="width of the smooth zero count")


@MDMM_CONSTRAINTS.register("bops", implementation=f"{IMPLEMENTATIONS}:BopsConstraint")
class BopsConstraintConfig(ConstraintConfig):
    """Bit operations of the quantized layers ``<= max_bops``."""

    type: Literal["bops"]
    max_bops: PositiveFloat
    scale: PositiveFloat | None = Field(None, description="default 1 / max_bops")
    default_bits: int = Field(16, ge=1, le=64, description="input bits where none is known")
    temperature: PositiveFloat = 0.5


@MDMM_CONSTRAINTS.register("luts", implementation=f"{IMPLEMENTATIONS}:LutsConstraint")
class LutsConstraintConfig(ConstraintConfig):
    """Distributed-arithmetic LUTs of the quantized kernels ``<= max_luts``, as
    predicted by :mod:`smartml.hardware.da_cost`."""

    type: Literal["luts"]
    max_luts: PositiveFloat
    scale: PositiveFloat | None = Field(None, description="default 1 / max_luts")
    default_bits: int = Field(16, ge=1, le=64, description="input bits where none is known")
    temperature: PositiveFloat = Field(0.5, description="width of the smooth digit count")
    unrolled: bool = Field(
        False,
        description="count a copy of each kernel per output position (the RTL export's "
        "fully parallel design); default: one per layer, as hls4ml's io_parallel builds it",
    )


@MDMM_CONSTRAINTS.register("norm", implementation=f"{IMPLEMENTATIONS}:NormConstraint")
class NormConstraintConfig(ConstraintConfig):
    """L1 or L2 norm of the quantized weights ``<= max_value``."""

    type: Literal["norm"]
    layers: LayerSpec = "all"
    kind: Literal["l1", "l2"] = "l2"
    max_value: PositiveFloat
    scale: PositiveFloat | None = Field(None, description="default 1 / max_value")
    include_bias: bool = False


def registered_constraint_union() -> Any:
    """The discriminated union (on ``type``) of every registered constraint schema."""
    schemas = tuple(MDMM_CONSTRAINTS.schema(name) for name in MDMM_CONSTRAINTS.names())
    return Annotated[Union[schemas], Field(discriminator="type")]  # noqa: UP007 (built at run time)


if TYPE_CHECKING:
    # A type checker cannot follow a union built at run time: it sees the common base.
    AnyConstraintConfig = ConstraintConfig
else:
    AnyConstraintConfig = registered_constraint_union()


class ScheduleConfig(StrictModel):
    """``training.mdmm.schedule``: the phases of a constrained run, as fractions of
    ``training.epochs`` (so a run with ``--epochs`` keeps its proportions).

    - warm-up (``warmup_fraction``): every constraint off, dense training;
    - ramp (``ramp_fraction``): each sparsity target rises from 0 to its value along
      ``target·(1 − (1 − p)³)``, ``p`` the fraction of the ramp done after the epoch;
      with fine-tuning on, at every epoch's start the least useful weights are masked
      to zero, as many as the ramped target asks (gradual pruning), and MDMM moves the
      next ones towards zero in between;
    - fine-tuning (``fine_tune_fraction``, the last epochs): the masks are fixed at
      the full targets and the masked weights kept zero through every optimizer step.
      0 turns masks off: MDMM alone, with ramped targets.

    Which weights are least useful (``criterion``):

    - ``"magnitude"``: the smallest ``|w|`` relative to their tensor's mean ``|w|``;
    - ``"saliency"``: the smallest ``w²·Σg²`` (optimal brain damage with the
      empirical Fisher as the curvature), ``g`` the gradient of the task loss alone,
      summed over the training steps since the previous pruning. It weighs a
      weight by what the loss loses without it, so it compares the depthwise and
      pointwise kernels of a separable convolution fairly. The first pruning of a run
      without a warm-up has no steps behind it and uses magnitude.

    >>> ScheduleConfig(warmup_fraction=0.6, ramp_fraction=0.6)
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for ScheduleConfig
      Value error, warmup_fraction + ramp_fraction + fine_tune_fraction must be at most 1,
      got 1.45 ...
    """

    warmup_fraction: float = Field(0.0, ge=0, le=1, description="dense epochs first")
    ramp_fraction: float = Field(0.5, ge=0, le=1, description="sparsity targets ramp up")
    fine_tune_fraction: float = Field(0.25, ge=0, le=1, description="mask fixed")
    criterion: Literal["magnitude", "saliency"] = Field(
        "magnitude", description="which weights the masks remove first"
    )

    @model_validator(mode="after")
    def _phases_fit(self) -> "ScheduleConfig":
        total = self.warmup_fraction + self.ramp_fraction + self.fine_tune_fraction
        if total > 1.0 + 1e-9:
            raise ValueError(
                "warmup_fraction + ramp_fraction + fine_tune_fraction must be at most 1, "
                f"got {total:g}"
            )
        return self


class MDMMConfig(StrictModel):
    """``training.mdmm``: the constraints and the multipliers' dynamics."""

    constraints: list[AnyConstraintConfig] = Field(min_length=1)
    lambda_learning_rate: PositiveFloat = Field(0.01, description="multipliers' ascent step")
    damping: float = Field(1.0, ge=0, allow_inf_nan=False, description="c of (c/2)·Σ g²")
    feasibility_tolerance: float = Field(
        0.02,
        ge=0,
        allow_inf_nan=False,
        description="an epoch counts as feasible (for the best checkpoint and early "
        "stopping) when every sparsity is within this of its target and every budget "
        "exceeded by at most this fraction",
    )
    schedule: ScheduleConfig | None = Field(
        default_factory=ScheduleConfig,
        description="warm-up, target ramp and fixed-mask fine-tuning; null: constant "
        "targets from the first step, no mask",
    )
