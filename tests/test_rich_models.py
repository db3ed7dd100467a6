"""The RICH models: the quantized PointNet (exportable, bit-exact in C simulation,
trainable under MDMM) and the DGCNN (EdgeConv on dynamic kNN graphs of the real
points; refused by export in one line); their custom layers against numpy references."""

import json
from pathlib import Path

import numpy as np
import pytest
from qkeras import QDense

from smartml.backend import keras, tf
from smartml.config import load_config, save_config
from smartml.config.export import ExportConfig
from smartml.errors import ConfigError
from smartml.export.exporter import export_model
from smartml.hardware import cost as hc
from smartml.layers.knn_edge_conv import KNNEdgeConv, nearest_neighbours
from smartml.layers.masked_global_pooling import MaskedGlobalPooling
from smartml.models.dgcnn.builder import DGCNN
from smartml.models.dgcnn.schema import DGCNNConfig
from smartml.models.pointnet.builder import PointNet, PointNetTNet
from smartml.models.pointnet.schema import PointNetConfig, PointNetTNetConfig
from smartml.models.saved import load_model
from smartml.outputs.logits import Logits
from smartml.registry import MODELS
from smartml.runs.directory import RunDirectory
from smartml.tasks.base import InputSpec
from smartml.training.mdmm import MDMMModel, SparsityConstraint

N, K = 12, 4
PIXEL_2T = Path(__file__).parents[1] / "configs" / "pixel_2t.json"
BINARY = Logits(["muon", "pion"])


def ring_inputs(n_points: int = N) -> dict:
    return {
        "points": InputSpec("points", (n_points, 3)),
        "mask": InputSpec("mask", (n_points,)),
        "momentum": InputSpec("momentum", (1,)),
    }


def randomized(model: keras.Model, seed: int = 0) -> keras.Model:
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def pointnet(n_points: int = N, seed: int = 0, pooling: str = "max") -> keras.Model:
    config = PointNetConfig(point_units=[6, 6], head_units=[4], pooling=pooling)
    return randomized(PointNet.build(config, ring_inputs(n_points), BINARY), seed)


def pointnet_tnet(seed: int = 0) -> keras.Model:
    config = PointNetTNetConfig(
        point_units=[6, 6], head_units=[4], tnet_point_units=[5], tnet_head_units=[5]
    )
    return randomized(PointNetTNet.build(config, ring_inputs(), BINARY), seed)


def dgcnn(output: Logits = BINARY, seed: int = 0) -> keras.Model:
    config = DGCNNConfig(k=K, edge_blocks=[[6], [6, 6]], head_units=[4])
    return randomized(DGCNN.build(config, ring_inputs(), output), seed)


def events(n: int = 24, seed: int = 1, min_hits: int = 1) -> dict:
    """Real hits in the first slots, padding rows exactly 0 (the input contract);
    some events have fewer than K hits."""
    rng = np.random.default_rng(seed)
    hits = rng.integers(min_hits, N + 1, n)
    mask = (np.arange(N)[None, :] < hits[:, None]).astype("float32")
    points = rng.normal(0, 1, (n, N, 3)).astype("float32") * mask[:, :, None]
    return {"points": points, "mask": mask, "momentum": rng.normal(0, 1, (n, 1)).astype("float32")}


def permuted(inputs: dict, seed: int = 2) -> dict:
    order = np.random.default_rng(seed).permutation(N)
    return {**inputs, "points": inputs["points"][:, order], "mask": inputs["mask"][:, order]}


def predict(model: keras.Model, inputs: dict) -> np.ndarray:
    return model.predict(inputs, verbose=0)


# -- shapes, registry -------------------------------------------------------------------


@pytest.mark.parametrize("classes", [["muon", "pion"], ["muon", "pion", "positron"]])
def test_models_take_the_rich_inputs_and_give_the_logits(classes):
    output = Logits(classes)
    for model in (PointNet.build(PointNetConfig(), ring_inputs(), output), dgcnn(output)):
        assert [tuple(t.shape) for t in model.inputs] == [(None, N, 3), (None, N), (None, 1)]
        assert tuple(model.output.shape) == (None, output.n_outputs)
        assert predict(model, events(5)).shape == (5, output.n_outputs)


def test_pointnet_is_exportable_and_dgcnn_and_the_tnet_variant_are_not():
    assert MODELS.get("pointnet").exportable
    assert not MODELS.get("dgcnn").exportable
    assert not MODELS.get("pointnet_tnet").exportable
    report = hc.hardware_report(pointnet())
    assert set(report["layers"]) == {"point_0", "point_1", "head_0", "output"}
    assert report["layers"]["point_0"]["macs"] == N * 4 * 6  # (x, y, Δt, mask) -> 6, per point


# -- PointNet masking -------------------------------------------------------------------


def test_pointnet_padding_never_wins_the_max_pool():
    """Events with 5 hits among 12 slots give what the same weights give on exactly those
    5 points without any padding, even where every real point is negative before the
    ReLU (the pooled value is then the ReLU's 0, the same as padding's)."""
    padded, unpadded = pointnet(N), pointnet(5)
    point_0 = padded.get_layer("point_0")
    kernel = point_0.get_weights()[0]
    kernel[:3, :3] *= 0.1  # 3 channels negative for every real point: the mask row acts
    kernel[-1, :3] = -1.0  # as their bias (-1, the quantizer's lowest weight)
    point_0.set_weights([kernel])
    unpadded.set_weights(padded.get_weights())
    inputs = events(40, min_hits=5)
    inputs["mask"][:] = (np.arange(N) < 5).astype("float32")
    inputs["points"] *= inputs["mask"][:, :, None]
    shuffled = permuted(inputs)
    only_real = {**inputs, "points": inputs["points"][:, :5], "mask": inputs["mask"][:, :5]}
    reference = predict(unpadded, only_real)
    np.testing.assert_allclose(predict(padded, shuffled), reference, rtol=0, atol=1e-6)
    # the adversarial case occurs: pre-ReLU values of real points below padding's 0
    pre_relu = keras.Model(padded.inputs, point_0.output)
    real_values = predict(pre_relu, inputs)[:, :5, :3]
    assert (real_values < 0).mean() > 0.9
    # and the pooling is not trivially 0: the output depends on the points
    assert np.unique(np.round(reference, 5)).size > 20


def test_pointnet_ignores_point_order():
    model, inputs = pointnet(), events()
    np.testing.assert_allclose(
        predict(model, permuted(inputs)), predict(model, inputs), rtol=0, atol=1e-6
    )


def test_tnet_starts_as_the_identity_and_keeps_the_invariances():
    config = PointNetTNetConfig(
        point_units=[6, 6], head_units=[4], tnet_point_units=[5], tnet_head_units=[5]
    )
    fresh, plain = PointNetTNet.build(config, ring_inputs(), BINARY), pointnet()
    inputs = events(200)  # several events where padding would win an unmasked T-Net pool
    for layer in plain.layers:
        fresh.get_layer(layer.name).set_weights(layer.get_weights())
    np.testing.assert_allclose(predict(fresh, inputs), predict(plain, inputs), rtol=0, atol=1e-6)
    model = pointnet_tnet()  # a T-Net that transforms
    reference = predict(model, inputs)
    assert not np.allclose(reference, predict(plain, inputs), atol=1e-3)
    np.testing.assert_allclose(predict(model, permuted(inputs)), reference, rtol=0, atol=1e-5)
    # padding (rows of 0 by contract) never enters the T-Net's pooling: the last slot
    # made padding gives what a model without that slot gives
    mask = inputs["mask"] * (np.arange(N) < N - 1)
    padded = {**inputs, "points": inputs["points"] * mask[:, :, None], "mask": mask}
    shorter = PointNetTNet.build(config, ring_inputs(N - 1), BINARY)
    shorter.set_weights(model.get_weights())
    without = {**padded, "points": padded["points"][:, :-1], "mask": mask[:, :-1]}
    np.testing.assert_allclose(predict(model, padded), predict(shorter, without), atol=1e-5)


# -- kNN and EdgeConv against numpy -----------------------------------------------------


def brute_force_neighbours(space: np.ndarray, real: np.ndarray, k: int) -> list[set]:
    """Per point of one event: the set of its k nearest real points (all of them when
    there are fewer), by exact float64 distances."""
    candidates = np.flatnonzero(real)
    distances = ((space[:, None, :] - space[None, candidates, :]) ** 2).sum(-1)
    return [set(candidates[np.argsort(row, kind="stable")[:k]]) for row in distances]


def test_knn_neighbours_are_the_nearest_real_points():
    inputs = events(30, min_hits=1)
    space = inputs["points"][:, :, :2].astype("float64")
    real = inputs["mask"] > 0
    indices, valid = nearest_neighbours(tf.constant(space, tf.float32), tf.constant(real), K)
    indices, valid = indices.numpy(), valid.numpy()
    for event in range(len(space)):
        expected = brute_force_neighbours(space[event], real[event], K)
        n_real = int(real[event].sum())
        for point in range(N):
            found = indices[event, point][valid[event, point]]
            assert set(found) == expected[point]  # padded points never among them
            assert len(found) == min(K, n_real)  # fewer than k real points: all of them
    assert (real.sum(1) < K).any()


def edge_conv_reference(layer: KNNEdgeConv, points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """EdgeConv in numpy: per real point, the max over its nearest real points of the
    ReLU MLP of [x_i, x_j − x_i]; 0 for padding."""
    weights = [(dense.kernel.numpy(), dense.bias.numpy()) for dense in layer.edge_layers]
    out = np.zeros((*points.shape[:2], layer.units[-1]))
    for event, (x, real) in enumerate(zip(points.astype("float64"), mask > 0, strict=True)):
        space = x[:, : layer.distance_features or x.shape[1]]
        neighbourhoods = brute_force_neighbours(space, real, layer.k)
        for point in np.flatnonzero(real):
            nearest = sorted(neighbourhoods[point])
            edges = np.concatenate([np.tile(x[point], (len(nearest), 1)), x[nearest] - x[point]], 1)
            for kernel, bias in weights:
                edges = np.maximum(edges @ kernel + bias, 0)
            out[event, point] = edges.max(0)
    return out


@pytest.mark.parametrize("distance_features", [2, None])
def test_edge_conv_matches_numpy(distance_features):
    layer = KNNEdgeConv([5, 4], k=K, distance_features=distance_features)
    inputs = events(20)
    output = layer([tf.constant(inputs["points"]), tf.constant(inputs["mask"])]).numpy()
    reference = edge_conv_reference(layer, inputs["points"], inputs["mask"])
    np.testing.assert_allclose(output, reference, rtol=1e-5, atol=1e-5)
    assert np.abs(reference).max() > 0.1


def test_masked_pooling_matches_numpy_over_real_points():
    inputs = events(20)
    features = np.random.default_rng(3).normal(0, 1, (20, N, 4)).astype("float32") - 2
    pooled = MaskedGlobalPooling(["max", "average"])([features, inputs["mask"]]).numpy()
    for event, (values, mask) in enumerate(zip(features, inputs["mask"], strict=True)):
        real = values[mask > 0]
        expected = np.concatenate([real.max(0), real.mean(0)])
        np.testing.assert_allclose(pooled[event], expected, rtol=1e-6, atol=1e-6)
    empty = MaskedGlobalPooling(["max"])([features[:1], np.zeros((1, N), "float32")])
    np.testing.assert_array_equal(empty.numpy(), np.zeros((1, 4)))


# -- DGCNN masking ---------------------------------------------------------------------


def test_dgcnn_ignores_point_order_and_padding_contents():
    model, inputs = dgcnn(), events(30)
    reference = predict(model, inputs)
    np.testing.assert_allclose(predict(model, permuted(inputs)), reference, rtol=0, atol=1e-5)
    rng = np.random.default_rng(4)
    garbage = rng.normal(0, 1e4, inputs["points"].shape).astype("float32")
    padding = inputs["mask"][:, :, None] == 0
    points = np.where(padding, garbage, inputs["points"])
    points[:, -1] = inputs["points"][:, 0]  # a padded copy of a real hit: nearest of all
    points = np.where(padding, points, inputs["points"])
    np.testing.assert_array_equal(predict(model, {**inputs, "points": points}), reference)
    # the mask matters: the same hits flagged as padding give another output
    hidden = {**inputs, "mask": inputs["mask"] * (np.arange(N) < 1)}
    assert not np.allclose(predict(model, hidden), reference)


# -- saving ----------------------------------------------------------------------------


@pytest.mark.parametrize("build", [pointnet, pointnet_tnet, dgcnn])
def test_saved_models_load_with_identical_predictions(tmp_path, build):
    model, inputs = build(), events(16)
    model.save(tmp_path / "model.h5")
    loaded = load_model(tmp_path / "model.h5")
    np.testing.assert_array_equal(predict(loaded, inputs), predict(model, inputs))
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]


# -- export ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "pooling"), [("Vitis", "max"), ("Catapult", "max"), ("Vitis", "max_average")]
)
def test_pointnet_export_is_bit_identical(tmp_path, backend, pooling):
    model = pointnet(n_points=8, seed=5, pooling=pooling)
    rng = np.random.default_rng(6)
    hits = rng.integers(1, 9, (300, 1))
    mask = (np.arange(8)[None, :] < hits).astype("float32")
    inputs = {
        "points": rng.uniform(-3, 3, (300, 8, 3)).astype("float32") * mask[:, :, None],
        "mask": mask,
        "momentum": rng.uniform(-3, 3, (300, 1)).astype("float32"),
    }
    precision = {"points": "fixed<10,3>", "mask": "ufixed<1,1>", "momentum": "fixed<10,3>"}
    settings = ExportConfig(
        backend=backend, output_dir=str(tmp_path), input_precision=precision, testbench_vectors=5
    )
    report = export_model(
        model, inputs, lambda out: {"pions": int((out > 0).sum())}, settings, "pointnet", {}
    )
    verification = report["verification"]
    assert verification["bit_identical_fraction"] == 1.0 and verification["passed"]
    assert verification["outputs"] == 300
    assert verification["metrics_firmware"] == verification["metrics_keras"]
    assert np.unique(predict(model, inputs)).size > 100  # not a constant output


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("dgcnn", "hls4ml has no k-nearest-neighbour layer"),
        ("pointnet_tnet", "its T-Net multiplies each event's points by a matrix"),
    ],
)
def test_exporting_a_run_of_a_non_exportable_model_is_refused_in_one_line(
    tmp_path, capsys, model, reason
):
    from smartml.export.__main__ import main as export_main

    raw = json.loads(PIXEL_2T.read_text())
    raw["model"] = {"name": model}
    (tmp_path / "cfg.json").write_text(json.dumps(raw))
    config = load_config(tmp_path / "cfg.json")
    run = RunDirectory(tmp_path / "run")
    run.open_for_training()
    save_config(config, run.config)
    run.model.write_bytes(b"")
    run.mark_complete(config, {})
    assert export_main([str(run.path), "--hls", "--output", str(tmp_path / "fw")]) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message
    assert message.startswith(f"smartml.export: error: run 'pixel_2t': model '{model}' cannot be ")
    assert reason in message
    assert not (tmp_path / "fw").exists() or not any((tmp_path / "fw").iterdir())


# -- MDMM ------------------------------------------------------------------------------


def test_mdmm_reaches_half_sparsity_on_the_quantized_pointnet():
    keras.utils.set_random_seed(0)
    inner = PointNet.build(
        PointNetConfig(point_units=[8, 8], head_units=[8]), ring_inputs(), BINARY
    )
    inputs = events(256, seed=7)
    labels = (inputs["momentum"][:, 0] + inputs["mask"].sum(1) / N > 0.5).astype("float32")
    model = MDMMModel(
        inner, [SparsityConstraint("all", 0.5, name="sp")], lambda_learning_rate=0.1, damping=10
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    history = model.fit(inputs, labels[:, None], batch_size=32, epochs=60, verbose=0)
    layers = hc.quantized_layers(inner)
    assert [layer.name for layer in layers] == ["point_0", "point_1", "head_0", "output"]
    assert all(isinstance(layer, QDense) for layer in layers)
    sparsity = hc.quantized_sparsity([t for layer in layers for t in hc.weight_tensors(layer)])
    assert sparsity == pytest.approx(0.5, abs=0.04)
    assert history.history["mdmm_sp_value"][-1] == pytest.approx(0.5, abs=0.04)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]  # and it learns


# -- bad configurations ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "config", "inputs", "expected"),
    [
        (
            PointNet.build,
            PointNetConfig(),
            {"points": InputSpec("points", (N, 3))},
            r"^model.mask_input: the task has no input 'mask'; its inputs: points$",
        ),
        (
            DGCNN.build,
            DGCNNConfig(),
            {"hits": InputSpec("hits", (N, 3)), "mask": InputSpec("mask", (N,))},
            r"^model.points_input: the task has no input 'points'; its inputs: hits, mask$",
        ),
        (
            DGCNN.build,
            DGCNNConfig(k=13),
            ring_inputs(),
            r"^model.k: 13 neighbours, more than the 12 points of input 'points'$",
        ),
        (
            DGCNN.build,
            DGCNNConfig(first_knn_features=4),
            ring_inputs(),
            r"^model.first_knn_features: 4, more than the 3 features of input 'points'$",
        ),
        (
            DGCNN.build,
            DGCNNConfig(),
            {**ring_inputs(), "image": InputSpec("image", (4, 4))},
            r"^model dgcnn: input 'image' has shape \(4, 4\); inputs besides the points",
        ),
    ],
)
def test_builders_check_their_inputs_in_one_line(build, config, inputs, expected):
    with pytest.raises(ConfigError, match=expected):
        build(config, inputs, BINARY)


def test_dgcnn_needs_a_mask():
    with pytest.raises(ValueError, match="mask_input"):
        DGCNNConfig.model_validate({"name": "dgcnn", "mask_input": None})
