"""The builder of ``example_qdense``: a tiny quantized network with the plugin's layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from smartml.backend import keras
from smartml.models.contract import model_builder
from smartml_plugin_example.layer import PowerOfTwoScale
from smartml_plugin_example.schema import TinyQDenseConfig

if TYPE_CHECKING:
    from smartml.outputs.base import OutputKind
    from smartml.tasks.base import InputSpec

ADC = quantized_bits(8, 2, alpha=1)
WEIGHTS = quantized_bits(6, 0, alpha=1)
HIDDEN = quantized_relu(6, 2)


@model_builder
class TinyQDense:
    """``adc -> hidden (QDense) -> relu -> scale (PowerOfTwoScale) -> output (QDense)``
    on one rank-1 input; every layer has a bit-exact firmware rule."""

    exportable = True

    @staticmethod
    def export_refusal(config: TinyQDenseConfig) -> str | None:
        """None: every configuration is exportable."""
        return None

    @staticmethod
    def build(
        config: TinyQDenseConfig, inputs: dict[str, InputSpec], output: OutputKind
    ) -> keras.Model:
        (spec,) = inputs.values()
        tensor = keras.Input(spec.shape, name=spec.name)
        x = QActivation(ADC, name="adc")(tensor)
        x = QDense(
            config.hidden_units, kernel_quantizer=WEIGHTS, bias_quantizer=WEIGHTS, name="hidden"
        )(x)
        x = QActivation(HIDDEN, name="relu")(x)
        x = PowerOfTwoScale(config.scale_shift, name="scale")(x)
        outputs = QDense(
            output.n_outputs, kernel_quantizer=WEIGHTS, bias_quantizer=WEIGHTS, name="output"
        )(x)
        return keras.Model(tensor, outputs, name="example_qdense")
