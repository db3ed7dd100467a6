"""Schema pieces shared by several tasks and models (no TensorFlow here).

The builders turn them into Keras objects: :func:`smartml.models.quantizers.quantized_bits_of`
and :mod:`smartml.models.regularizers`.
"""

from pydantic import Field

from smartml.config.strict import StrictModel


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
