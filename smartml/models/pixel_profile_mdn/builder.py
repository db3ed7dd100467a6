"""The smart-pixel MDN on the cluster's charge profiles.

Architecture (input (13, 21, T), T time slices)::

    [QActivation(input quantizer)]                 optional: the sensor's ADC
    AveragePooling2D((13, 1)) -> QActivation(quantized_bits(12, 3))   column profile (1, 21, T)
    AveragePooling2D((1, 21)) -> QActivation(quantized_bits(12, 3))   row profile (13, 1, T)
    Flatten, Flatten -> Concatenate                                   (34·T,)
    QDense(48, 8-bit) -> QActivation(quantized_tanh(8))   for each hidden width
    QDense(14, 8-bit)                                 the Gaussian's parameters

A track's position and angles are read from where its charge lies along each pixel
direction (the classic estimators, centroid and cluster length, use exactly these
profiles). The averages are additions, which cost no multiplications, so the BOPs are
spent on Dense layers: for T = 2 and the defaults, 6,350 parameters and 0.64M BOPs,
against ``pixel_mdn``'s 2,029 parameters and 0.77M BOPs. Each mean is over 13
or 21 values, not a power of two, so the profile quantizer is required for a bit-exact
export (:mod:`smartml.export.qkeras_precision`).

``quantized: false`` builds the float twin: the same layers, weights and names, no
quantizers (``HardTanh`` for each ``quantized_tanh``).

>>> from smartml.models.pixel_profile_mdn.builder import PixelProfileMDN
>>> from smartml.models.pixel_profile_mdn.schema import PixelProfileMDNConfig
>>> from smartml.outputs.gaussian_mdn import GaussianMDN
>>> from smartml.tasks.base import InputSpec
>>> model = PixelProfileMDN.build(
...     PixelProfileMDNConfig(), {"pixels": InputSpec("pixels", (13, 21, 2))},
...     GaussianMDN(["x", "y", "cot_alpha", "cot_beta"], ["", "", "", ""]))
>>> model.count_params(), model.get_layer("profiles").output.shape[-1]
(6350, 68)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qkeras import QActivation, QDense

from smartml.backend import keras
from smartml.models.contract import model_builder
from smartml.models.image_input import single_image
from smartml.models.pixel_profile_mdn.schema import PixelProfileMDNConfig
from smartml.models.quantizers import FLOAT_TWIN_REFUSAL, hard_tanh, quantized_bits_of
from smartml.models.regularizers import activity_regularizer, kernel_regularizer

if TYPE_CHECKING:
    from smartml.config.common import FixedPoint
    from smartml.outputs.base import OutputKind
    from smartml.tasks.base import InputSpec


@model_builder
class PixelProfileMDN:
    """Builder of the profile MDN (registered as ``pixel_profile_mdn``)."""

    exportable = True

    @staticmethod
    def export_refusal(config: PixelProfileMDNConfig) -> str | None:
        """Why this configuration has no bit-exact firmware form; None when it has.

        >>> PixelProfileMDN.export_refusal(PixelProfileMDNConfig()) is None
        True
        """
        return None if config.quantized else FLOAT_TWIN_REFUSAL

    @staticmethod
    def build(
        config: PixelProfileMDNConfig, inputs: dict[str, InputSpec], output: OutputKind
    ) -> keras.Model:
        """Args:
            config: the ``model`` section.
            inputs: one image input, (rows, columns, T).
            output: its ``n_outputs`` is the last layer's size (14 for the 4-target
                Gaussian).

        Returns:
            an uncompiled functional ``keras.Model``.
        """
        image = single_image(inputs, "pixel_profile_mdn")
        rows, columns, _ = image.shape
        tensor = keras.Input(shape=image.shape, name=image.name)
        x = tensor
        if config.input_quantizer is not None:  # the sensor's ADC: data, float or not
            x = QActivation(quantized_bits_of(config.input_quantizer), name="input_quantizer")(x)
        profiles = [
            _profile(config, x, (rows, 1), "column_profile"),
            _profile(config, x, (1, columns), "row_profile"),
        ]
        x = keras.layers.Concatenate(name="profiles")(profiles)
        formats = config.weights_per_layer()
        for index, units in enumerate(config.hidden_units):
            x = _dense(config, units, formats[index], f"dense_{index}")(x)
            x = hard_tanh(config.dense_activation_bits, config.quantized, f"dense_{index}_tanh")(x)
        outputs = _dense(config, output.n_outputs, formats[-1], "gaussian_params")(x)
        return keras.Model(tensor, outputs, name="pixel_profile_mdn")


def _profile(config: PixelProfileMDNConfig, x, window: tuple[int, int], name: str):
    """The mean charge over ``window`` (whole columns or whole rows), flattened."""
    x = keras.layers.AveragePooling2D(window, name=f"{name}_pool")(x)
    if config.quantized:
        x = QActivation(quantized_bits_of(config.profile_output), name=f"{name}_quantizer")(x)
    return keras.layers.Flatten(name=name)(x)


def _dense(config: PixelProfileMDNConfig, units: int, fixed: FixedPoint, name: str):
    penalties = config.regularization
    options = {
        "kernel_regularizer": kernel_regularizer(penalties),
        "activity_regularizer": activity_regularizer(penalties),
        "name": name,
    }
    if not config.quantized:
        return keras.layers.Dense(units, **options)
    quantizer = {
        "kernel_quantizer": quantized_bits_of(fixed),
        "bias_quantizer": quantized_bits_of(fixed),
    }
    return QDense(units, **options, **quantizer)
