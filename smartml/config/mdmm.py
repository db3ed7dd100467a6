"""Schema of ``training.mdmm``: constrained training by the Modified Differential
Method of Multipliers (see :mod:`smartml.training.mdmm` for the method).

Each constraint names the layers it covers: one layer name, a list of names, or
``"all"`` (every quantized layer). Example, 50% sparsity of one layer::

    {"type": "sparsity", "layers": "dense_0", "target": 0.5}
"""

from typing import Annotated, Literal

from pydantic import Field

from smartml.config.strict import PositiveFloat, StrictModel

LayerSpec = str | list[str]


class SparsityConstraintConfig(StrictModel):
    """Fraction of quantized weights that are exactly zero: ``= target`` (``equal``)
    or ``>= target`` (``at_least``)."""

    type: Literal["sparsity"]
    name: str | None = None
    layers: LayerSpec = "all"
    target: float = Field(ge=0, le=1, allow_inf_nan=False)
    mode: Literal["equal", "at_least"] = "equal"
    include_bias: bool = False
    scale: PositiveFloat = 1.0
    temperature: PositiveFloat = Field(0.5, description="width of the smooth zero count")


class BopsConstraintConfig(StrictModel):
    """Bit operations of the quantized layers ``<= max_bops``."""

    type: Literal["bops"]
    name: str | None = None
    max_bops: PositiveFloat
    scale: PositiveFloat | None = Field(None, description="default 1 / max_bops")
    default_bits: int = Field(16, ge=1, le=64, description="input bits where none is known")
    temperature: PositiveFloat = 0.5


class NormConstraintConfig(StrictModel):
    """L1 or L2 norm of the quantized weights ``<= max_value``."""

    type: Literal["norm"]
    name: str | None = None
    layers: LayerSpec = "all"
    kind: Literal["l1", "l2"] = "l2"
    max_value: PositiveFloat
    scale: PositiveFloat | None = Field(None, description="default 1 / max_value")
    include_bias: bool = False


ConstraintConfig = Annotated[
    SparsityConstraintConfig | BopsConstraintConfig | NormConstraintConfig,
    Field(discriminator="type"),
]


class MDMMConfig(StrictModel):
    constraints: list[ConstraintConfig] = Field(min_length=1)
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
