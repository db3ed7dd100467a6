"""The rich_pid task: balancing per momentum bin, standardisation, the configuration
and a one-epoch training on small hand-made files."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich_files import make_events, write_pmt_table, write_rich

from smartml.config.loader import load_config
from smartml.data.chunks import Chunk
from smartml.errors import ConfigError, DataError, RunDirectoryError
from smartml.tasks.rich_pid.preprocessing import BalancePlan, RichStandardization
from smartml.train import main as train_main

REPO = Path(__file__).parents[1]
EDGES = np.array([15.0, 25.0, 35.0, 45.0])


def random_chunks(seed: int, n_chunks: int = 12):
    """(chunk, labels, momenta): single-class chunks, muons three times as many."""
    rng = np.random.default_rng(seed)
    chunks = []
    for i in range(n_chunks):
        label = int(i % 4 == 3)
        n = int(rng.integers(20, 60))
        chunks.append((Chunk(Path("f.h5"), i * 100, n), np.full(n, label), rng.uniform(15, 45, n)))
    return chunks


def balanced_counts(plan: BalancePlan, chunks) -> np.ndarray:
    counts = np.zeros((3, 2), int)
    for chunk, labels, momentum in chunks:
        keep = plan.select(chunk, labels, momentum)
        bins = np.searchsorted(EDGES, momentum[keep], side="right") - 1
        np.add.at(counts, (bins, labels[keep]), 1)
    return counts


def test_balancing_keeps_equal_class_counts_in_every_momentum_bin():
    chunks = random_chunks(0)
    plan = BalancePlan.plan(chunks, EDGES, 2, seed=5)
    before = np.zeros((3, 2), int)
    for _, labels, momentum in chunks:
        np.add.at(before, (np.searchsorted(EDGES, momentum, side="right") - 1, labels), 1)
    np.testing.assert_array_equal(plan.before, before)
    expected = np.repeat(before.min(axis=1, keepdims=True), 2, axis=1)
    np.testing.assert_array_equal(plan.after, expected)
    np.testing.assert_array_equal(balanced_counts(plan, chunks), expected)
    assert (expected[:, 0] < before[:, 0]).all()  # muons were undersampled
    assert sum(share.sum() for share in plan.shares.values()) == expected.sum()


def test_balancing_is_seeded_and_independent_of_reading_order():
    chunks = random_chunks(1)
    first = BalancePlan.plan(chunks, EDGES, 2, seed=5)
    again = BalancePlan.plan(chunks, EDGES, 2, seed=5)
    other = BalancePlan.plan(chunks, EDGES, 2, seed=6)

    def same(plan_a: BalancePlan, plan_b: BalancePlan, order=1) -> bool:
        read_b = [plan_b.select(*c) for c in chunks[::order]][::order]
        return all((plan_a.select(*c) == b).all() for c, b in zip(chunks, read_b, strict=True))

    assert same(first, again) and same(first, first, order=-1)
    assert not same(first, other)


def test_balancing_refuses_a_chunk_whose_events_changed_and_a_missing_class():
    chunks = random_chunks(2)
    plan = BalancePlan.plan(chunks, EDGES, 2, seed=0)
    chunk, labels, momentum = chunks[0]
    with pytest.raises(DataError, match="changed since the balancing was planned"):
        plan.select(chunk, labels[1:], momentum[1:])
    muons_only = [c for c in chunks if c[1][0] == 0]
    with pytest.raises(DataError, match=r"^balancing the train split \(.+\) keeps no event") as err:
        BalancePlan.plan(muons_only, EDGES, 2, seed=0)
    assert "balance.validation" not in str(err.value)
    with pytest.raises(DataError, match=r"set data\.balance\.validation: false") as err:
        BalancePlan.plan(muons_only, EDGES, 2, seed=0, split="validation")
    assert str(err.value).startswith("balancing the validation split (")


def test_standardisation_matches_numpy_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    batches, hits, momenta = [], [], []
    for _ in range(3):
        points = rng.normal([100, -40, 0.1], [80, 60, 0.2], (50, 8, 3))
        mask = (rng.random((50, 8)) < 0.6).astype(np.float32)
        points *= mask[..., None]
        momentum = rng.uniform(15, 45, (50, 1))
        batches.append({"points": points, "mask": mask, "momentum": momentum})
        hits.append(points[mask > 0])
        momenta.append(momentum)
    scaling = RichStandardization.fit(batches)
    hits_all, p = np.concatenate(hits), np.concatenate(momenta)
    xy_std = np.sqrt((hits_all[:, 0].var() + hits_all[:, 1].var()) / 2)
    assert scaling.features["x"] == pytest.approx((hits_all[:, 0].mean(), xy_std))
    assert scaling.features["y"] == pytest.approx((hits_all[:, 1].mean(), xy_std))
    assert scaling.features["dt"] == pytest.approx((hits_all[:, 2].mean(), hits_all[:, 2].std()))
    assert scaling.features["momentum"] == pytest.approx((p.mean(), p.std()))
    scaling.save(tmp_path / "s.json")
    loaded = RichStandardization.load(tmp_path / "s.json", ("x", "y", "dt", "momentum"))
    assert loaded.features == scaling.features
    scaled = loaded.transform_inputs(batches[0])
    real = batches[0]["mask"] > 0
    np.testing.assert_allclose(
        scaled["points"][real][:, 2],
        (hits[0][:, 2] - hits_all[:, 2].mean()) / hits_all[:, 2].std(),
        rtol=1e-5,
    )
    assert (scaled["points"][~real] == 0).all() and not np.signbit(scaled["points"][~real]).any()


def test_a_standardisation_file_without_a_needed_feature_is_named(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"version": 1, "features": {"x": {"mean": 0, "std": 1}}}))
    with pytest.raises(RunDirectoryError) as caught:
        RichStandardization.load(path, ("x", "y"))
    assert str(caught.value) == f"{path}: key 'features.y' must be an object with 'mean' and 'std'"
    path.write_text(json.dumps({"version": 1, "features": {"x": {"mean": 0, "std": -1}}}))
    with pytest.raises(
        RunDirectoryError, match=r"features\.x: key 'std' must be a number, finite and > 0"
    ):
        RichStandardization.load(path, ("x",))


def test_the_shipped_config_validates_with_the_rich_task():
    config = load_config(REPO / "configs" / "rich_pointnet.json")
    assert config.task.name == "rich_pid" and config.data.source == "simulation"
    assert config.data.class_names() == ("muon", "pion")


def test_files_source_needs_files_and_a_pmt_table(tmp_path):
    config = json.loads((REPO / "configs" / "rich_pointnet.json").read_text())
    config["data"]["source"] = "files"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"source 'files' needs data\.files"):
        load_config(path)


# -- end to end --------------------------------------------------------------------------


def small_config(tmp_path: Path) -> Path:
    write_pmt_table(tmp_path / "pmt.npy")
    for i in range(2):
        events = make_events({"muon": 400, "pion": 150, "positron": 30}, seed=10 + i)
        write_rich(tmp_path / f"run{i}.h5", events)
    config = json.loads((REPO / "configs" / "rich_pointnet.json").read_text())
    config["name"] = "rich_tiny"
    config["data"].update(
        source="files",
        files=[str(tmp_path / "run*.h5")],
        pmt_positions=str(tmp_path / "pmt.npy"),
        max_points=16,
        events_per_chunk=50,
        use_ring_radius=True,
        use_hit_count=True,
    )
    config["model"].update(point_units=[8], head_units=[8])
    config["training"].update(epochs=1, batch_size=64, verbose=0, shuffle_buffer=512)
    config["output"] = {"dir": str(tmp_path / "run"), "plots": False}
    path = tmp_path / "rich_tiny.json"
    path.write_text(json.dumps(config))
    return path


def test_one_epoch_trains_and_evaluates_on_small_files(tmp_path):
    assert train_main([str(small_config(tmp_path))]) == 0
    run = tmp_path / "run"
    balance = json.loads((run / "balance.json").read_text())
    assert balance["after"]["muon"] == balance["after"]["pion"]
    assert sum(balance["after"]["pion"]) == sum(balance["before"]["pion"])
    assert sum(balance["before"]["muon"]) > sum(balance["after"]["muon"])
    assert balance["training_cuts"]["momentum_outside"] > 0
    validation = balance["validation"]
    assert validation["after"]["muon"] == validation["after"]["pion"]
    assert sum(validation["after"]["pion"]) == sum(validation["before"]["pion"]) > 0
    assert validation["cuts"]["kept"] == sum(map(sum, validation["before"].values()))
    standardization = json.loads((run / "standardization.json").read_text())
    features = {"x", "y", "dt", "momentum", "ring_radius", "hit_count"}
    assert set(standardization["features"]) == features
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 <= metrics["roc"]["auc"] <= 1 and metrics["test_examples"] > 20
    # the ring-fit baseline beside the net, per momentum bin, and the predictions file
    baseline = json.loads((run / "ring_fit_baseline.json").read_text())
    assert baseline["n_fit_rings"] > 0
    assert metrics["ring_fit_baseline"]["pid"]["roc"]["auc"] > 0.5
    bins = metrics["pid"]["operating_points"]["baseline_efficiency"]["per_momentum_bin"]
    assert len(bins["low"]) == 30 and bins["low"][0] == 15.0  # 1 GeV/c over 15-45
    predictions = pd.read_parquet(run / "predictions.parquet")
    assert len(predictions) == metrics["test_examples"]
    assert {"run_id", "burst_id", "event_id", "momentum", "label"} <= set(predictions.columns)


def test_a_sample_of_a_split_holds_every_class(tmp_path):
    """Chunks hold one class each: a sample (export's verification events) must still
    hold pions and muons in the split's proportions, not the leading muon chunks."""
    from smartml.runs.opening import open_task

    assert train_main([str(small_config(tmp_path))]) == 0
    _, task = open_task(tmp_path / "run")
    every = task.examples("test")
    sample = task.examples("test", max_n=60)
    assert 0 < len(sample) <= 60
    fraction = np.mean(sample.targets == 1)
    assert fraction == pytest.approx(np.mean(every.targets == 1), abs=0.1)
