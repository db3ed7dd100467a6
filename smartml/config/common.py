"""Schema pieces shared by several tasks and models (no TensorFlow here: config
validation uses them).

The builders turn the model pieces into Keras objects:
:func:`smartml.models.quantizers.quantized_bits_of` and :mod:`smartml.models.regularizers`.

>>> SplitConfig().fractions()
{'train': 0.8, 'validation': 0.1, 'test': 0.1}
"""

from pydantic import Field, model_validator

from smartml.config.strict import Seed, StrictModel

SPLIT_NAMES = ("train", "validation", "test")


class SplitConfig(StrictModel):
    """Fractions of the data's chunks (e.g. parquet row groups) in each split, assigned
    after a shuffle seeded with ``seed`` (a data setting, so that ``--seed`` changes
    the training, not the test set)."""

    seed: Seed = 0
    train: float = Field(0.8, gt=0, lt=1)
    validation: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.1, gt=0, lt=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> "SplitConfig":
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test must be 1, got {total:g}")
        return self

    def fractions(self) -> dict[str, float]:
        """Split name -> fraction, in the order train, validation, test."""
        return {name: getattr(self, name) for name in SPLIT_NAMES}


class FixedPoint(StrictModel):
    """A QKeras ``quantized_bits`` fixed-point format: ``bits`` in all, ``integer`` of
    them above the binary point (sign excluded when ``signed``).

    >>> FixedPoint(bits=8).integer
    0
    """

    bits: int = Field(ge=1, le=32)
    integer: int = Field(0, ge=0, le=31)
    signed: bool = True


class Regularization(StrictModel):
    """Penalties added to the loss (the smart-pixels L1/L2 baseline uses
    ``kernel_l1 = kernel_l2 = activity_l2 = 0.01``). Kernel penalties apply to every
    weight tensor of the quantized layers (depthwise, pointwise, kernel), activity
    penalties to their outputs."""

    kernel_l1: float = Field(0.0, ge=0, allow_inf_nan=False)
    kernel_l2: float = Field(0.0, ge=0, allow_inf_nan=False)
    activity_l2: float = Field(0.0, ge=0, allow_inf_nan=False)
