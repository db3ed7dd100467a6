"""The exportable models of the coming tasks: deepsets (point clouds with a padding
mask) and the quantized mlp (tabular features)."""

import numpy as np
import pytest

from smartml.errors import ConfigError
from smartml.export.qkeras_precision import layer_precisions
from smartml.hardware.cost import hardware_report
from smartml.hardware.fixed_point import FixedType
from smartml.models.deepsets.builder import DeepSets
from smartml.models.deepsets.schema import DeepSetsConfig
from smartml.models.mlp.builder import MLP
from smartml.models.mlp.schema import MLPConfig
from smartml.outputs.logits import Logits
from smartml.outputs.point_regression import PointRegression
from smartml.tasks.base import InputSpec

N = 12  # not a power of two: the average pooling must be re-quantized for export


def ring_inputs(n_globals: int = 1) -> dict:
    specs = {"points": InputSpec("points", (N, 3)), "mask": InputSpec("mask", (N,))}
    for index in range(n_globals):
        specs[f"global_{index}"] = InputSpec(f"global_{index}", (1,))
    return specs


def deepsets(pooling: str = "max", n_globals: int = 1):
    config = DeepSetsConfig(point_units=[6, 6], head_units=[4], pooling=pooling)
    model = DeepSets.build(config, ring_inputs(n_globals), Logits(["muon", "pion"]))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def events(n: int = 20, seed: int = 1, n_globals: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    hits = rng.integers(2, N, n)
    points = rng.normal(0, 1, (n, N, 3)).astype("float32")
    mask = (np.arange(N)[None, :] < hits[:, None]).astype("float32")
    inputs = {"points": points * mask[:, :, None], "mask": mask}
    for index in range(n_globals):
        inputs[f"global_{index}"] = rng.normal(0, 1, (n, 1)).astype("float32")
    return inputs


@pytest.mark.parametrize("pooling", ["max", "average"])
def test_deepsets_ignores_padding_and_point_order(pooling):
    model = deepsets(pooling)
    inputs = events()
    reference = model.predict(inputs, verbose=0)
    # padded slots hold zeros with mask 0: moving the real hits elsewhere among the
    # slots (a permutation of all N slots) must not change the output
    order = np.random.default_rng(2).permutation(N)
    shuffled = {**inputs, "points": inputs["points"][:, order], "mask": inputs["mask"][:, order]}
    np.testing.assert_allclose(model.predict(shuffled, verbose=0), reference, rtol=0, atol=1e-6)
    # the mask is a feature of every point: the same hits flagged as padding differ
    assert not np.allclose(
        model.predict({**inputs, "mask": inputs["mask"] * 0}, verbose=0), reference
    )


@pytest.mark.parametrize("pooling", ["max", "average"])
def test_deepsets_has_export_precisions_and_costs_with_several_globals(pooling):
    model = deepsets(pooling, n_globals=2)
    types = {
        name: FixedType(12, 4, signed=True) for name in ("points", "mask", "global_0", "global_1")
    }
    precisions = layer_precisions(model, types)
    assert len(precisions) == len(model.layers)
    report = hardware_report(model)
    assert set(report["layers"]) == {"point_0", "point_1", "head_0", "output"}
    # per-point layers multiply once per point: N · size(kernel)
    assert report["layers"]["point_0"]["macs"] == N * 4 * 6


def test_model_inputs_are_checked_with_one_line_naming_the_key():
    with pytest.raises(ConfigError, match=r"model.points_input: the task has no input 'points'"):
        DeepSets.build(DeepSetsConfig(), {"hits": InputSpec("hits", (N, 3))}, Logits(["a", "b"]))
    wrong_mask = {"points": InputSpec("points", (N, 3)), "mask": InputSpec("mask", (N, 1))}
    with pytest.raises(ConfigError, match=r"model.mask_input: 'mask' has shape \(12, 1\)"):
        DeepSets.build(DeepSetsConfig(), wrong_mask, Logits(["a", "b"]))
    with pytest.raises(ConfigError, match="takes rank-1 \\(tabular\\) inputs"):
        MLP.build(MLPConfig(quantization={}), ring_inputs(), PointRegression(["w"], [""]))


def test_quantized_mlp_concatenates_several_tabular_inputs():
    inputs = {"a": InputSpec("a", (3,)), "b": InputSpec("b", (2,))}
    model = MLP.build(MLPConfig(hidden_units=[4], quantization={}), inputs, Logits(["x", "y", "z"]))
    assert [tuple(t.shape) for t in model.inputs] == [(None, 3), (None, 2)]
    assert tuple(model.output.shape) == (None, 3)
    assert model.count_params() == (5 + 1) * 4 + (4 + 1) * 3
