"""pixel_cnn, the float reference: its layers as configured, and one-line refusals."""

import pytest

from smartml.errors import ConfigError
from smartml.models.contract import builder_of
from smartml.models.pixel_cnn.schema import PixelCNNConfig
from smartml.outputs.gaussian_mdn import GaussianMDN
from smartml.tasks.base import InputSpec

OUTPUT = GaussianMDN(["x", "y", "cot_alpha", "cot_beta"], ["", "", "", ""])
IMAGE = {"pixels": InputSpec("pixels", (13, 21, 2))}


def build(**config):
    return builder_of("pixel_cnn").build(PixelCNNConfig(**config), IMAGE, OUTPUT)


def test_layers_follow_the_configuration():
    model = build(conv_filters=[4, 6], pool_after=1, hidden_units=[10], activation="relu")
    conv_0, conv_1 = model.get_layer("conv_0"), model.get_layer("conv_1")
    assert conv_0.output_shape == (None, 13, 21, 4)  # 'same' padding
    assert model.get_layer("pool").output_shape == (None, 6, 10, 4)  # after the first
    assert conv_1.output_shape == (None, 6, 10, 6) and conv_1.activation.__name__ == "relu"
    assert model.get_layer("dense_0").output_shape == (None, 10)
    assert model.output_shape == (None, 14)
    # 3x3x2x4+4, 3x3x4x6+6, 360x10+10, 10x14+14
    assert model.count_params() == 76 + 222 + 3610 + 154


def test_no_pooling_when_pool_after_is_zero():
    model = build(conv_filters=[4], pool_after=0, hidden_units=[])
    assert "pool" not in [layer.name for layer in model.layers]
    assert model.get_layer("flatten").output_shape == (None, 13 * 21 * 4)


def test_pooling_after_more_convolutions_than_there_are_is_refused():
    with pytest.raises(ConfigError, match=r"^model.pool_after: 3 is more than the 2 convolutions"):
        build(conv_filters=[4, 4], pool_after=3)


def test_an_input_that_is_not_one_image_is_refused():
    points = {"hits": InputSpec("hits", (32, 3))}
    with pytest.raises(ConfigError, match="model pixel_cnn: takes one"):
        builder_of("pixel_cnn").build(PixelCNNConfig(), points, OUTPUT)


def test_it_is_never_exportable_and_says_why():
    builder = builder_of("pixel_cnn")
    assert builder.exportable is False
    assert "float reference" in builder.export_refusal(PixelCNNConfig())
