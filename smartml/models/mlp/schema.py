"""The ``model`` section of ``mlp`` (no TensorFlow here).

>>> MLPConfig().quantization is None, MLPConfig(quantization={}).quantization.weights.bits
(True, 8)
>>> MLPConfig(quantization={}, activation="tanh")
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for MLPConfig
...
"""

from typing import Literal

from pydantic import Field, field_validator, model_validator

from smartml.config.base import ModelSection
from smartml.config.common import FixedPoint, Regularization
from smartml.config.strict import LayerWidth, StrictModel
from smartml.registry import MODELS

# Keras activations offered to the float network; the quantized one uses quantized_relu.
FloatActivation = Literal["relu", "elu", "selu", "gelu", "swish", "tanh", "sigmoid"]


class ReluQuantizer(FixedPoint):
    """``quantized_relu(bits, integer)``: values in [0, 2^integer) on a grid of
    2^(integer - bits)."""

    # A bool, not Literal[False]: pydantic would take 0 for the literal False.
    signed: bool = Field(False, description="quantized_relu is unsigned: false")

    @field_validator("signed")
    @classmethod
    def _unsigned(cls, signed: bool) -> bool:
        if signed:
            raise ValueError("quantized_relu is unsigned: signed must be false")
        return signed


class MLPQuantization(StrictModel):
    """QKeras quantization of the ``mlp``: QDense layers with ``quantized_bits``
    weights and biases, ``quantized_relu`` activations. Makes the network exportable."""

    weights: FixedPoint = Field(
        FixedPoint(bits=8, integer=0), description="quantized_bits of weights and biases"
    )
    activation: ReluQuantizer = Field(
        ReluQuantizer(bits=8, integer=3),
        description="quantized_relu after each hidden layer (and after the residual sum)",
    )


@MODELS.register("mlp", implementation="smartml.models.mlp.builder:MLP")
class MLPConfig(ModelSection):
    """A multilayer perceptron on the concatenated rank-1 inputs of a tabular task,
    float or quantized (exportable), with an optional residual block.

    Examples: ``{"name": "mlp", "hidden_units": [64, 64]}`` (float);
    ``{"name": "mlp", "hidden_units": [32, 32], "quantization": {}}`` (quantized with
    the default 8-bit formats, exportable); DeepMEM's regressor:
    ``{"name": "mlp", "hidden_units": [200, 200, 200, 200], "residual": true}``.
    """

    name: Literal["mlp"] = "mlp"
    hidden_units: list[LayerWidth] = Field(
        default_factory=lambda: [32, 32], description="widths of the hidden layers"
    )
    activation: FloatActivation = Field(
        "relu", description="activation of the hidden layers (quantized: relu only)"
    )
    quantization: MLPQuantization | None = Field(
        None, description="null: float Dense layers; a block (even {}): QKeras, exportable"
    )
    residual: bool = Field(
        False,
        description="DeepMEM's residual block: after the hidden layers a linear layer back to "
        "the input width, plus the inputs, then the activation, then the output layer",
    )
    dropout: float = Field(
        0.0, ge=0, lt=1, description="dropout after each hidden layer (training only)"
    )
    regularization: Regularization = Regularization()

    @model_validator(mode="after")
    def _quantized_relu_only(self) -> "MLPConfig":
        if self.quantization is not None and self.activation != "relu":
            raise ValueError(
                f"activation {self.activation!r}: the quantized mlp uses quantized_relu; "
                "use relu or remove quantization"
            )
        return self
