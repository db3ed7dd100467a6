"""training.distribution without training: the schema and its command-line option, the
cluster of a multi-worker run (TF_CONFIG, Slurm), placements and chunk sharding."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_data_pipeline import PointCloudSource, epoch

from smartml.config import load_config
from smartml.config.distribution import MirroredDistribution
from smartml.config.fingerprint import fingerprint
from smartml.data.pipeline import make_dataset, shard_chunks
from smartml.errors import ConfigError, DataError
from smartml.train import overrides_from, parse_args
from smartml.training import distribution
from smartml.training.distribution import (
    Placement,
    cluster_from_environment,
    create_placement,
    expand_nodelist,
    is_chief,
    tf_config_from_slurm,
)

REPO = Path(__file__).parents[1]


def config_file(tmp_path: Path, **distribution) -> Path:
    config = json.loads((REPO / "configs" / "pixel_2t.json").read_text())
    if distribution:
        config["training"]["distribution"] = distribution
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    return path


# -- schema and command line ----------------------------------------------------------


def test_the_default_is_one_device_and_each_kind_validates(tmp_path):
    assert load_config(config_file(tmp_path)).training.distribution.kind == "default"
    mirrored = load_config(config_file(tmp_path, kind="mirrored", devices=["cpu:0", "cpu:1"]))
    assert mirrored.training.distribution.devices == ["cpu:0", "cpu:1"]
    multi = load_config(config_file(tmp_path, kind="multi_worker", slurm_port=4000))
    assert multi.training.distribution.slurm_port == 4000


@pytest.mark.parametrize(
    "section, expected",
    [
        ({"kind": "parameter_server"}, "training.distribution: Input tag 'parameter_server'"),
        ({"kind": "mirrored", "devices": ["tpu:0"]}, "training.distribution.devices[0]: String"),
        ({"kind": "mirrored", "devices": []}, "training.distribution.devices: List should"),
        ({"kind": "multi_worker", "slurm_port": 80}, "training.distribution.slurm_port: Input"),
        (
            {"kind": "multi_worker", "heartbeat_timeout_s": 0},
            "training.distribution.heartbeat_timeout_s: Input should be greater than 0",
        ),
        ({"kind": "default", "devices": None}, "training.distribution.devices: unknown key"),
    ],
)
def test_bad_sections_are_one_line_errors_naming_the_key(tmp_path, section, expected):
    with pytest.raises(ConfigError) as error:
        load_config(config_file(tmp_path, **section))
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_the_heartbeat_timeout_reaches_tensorflows_coordination_service(tmp_path):
    # in a fresh process: the service is configured once, before TensorFlow starts
    script = """
import json, os, sys
from smartml.config.distribution import MultiWorkerDistribution
from smartml.training.distribution import multi_worker_placement
from tensorflow.python.eager import context
os.environ["TF_CONFIG"] = sys.argv[1]
placement = multi_worker_placement(
    MultiWorkerDistribution(kind="multi_worker", heartbeat_timeout_s=42.5), "cpu"
)
service = context.context().coordination_service
print(placement.n_workers, service.heartbeat_timeout_in_ms, service.service_leader)
"""
    tf_config = json.dumps(distribution.local_tf_configs(1)[0])
    result = subprocess.run(
        [sys.executable, "-c", script, tf_config],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["1", "42500", "/job:worker/replica:0/task:0"]


def test_the_option_overrides_the_kind_and_a_bad_one_is_refused(tmp_path, capsys):
    path = config_file(tmp_path)
    args = parse_args([str(path), "--distribution", "multi_worker"])
    config = load_config(path, overrides_from(args))
    assert config.training.distribution.kind == "multi_worker"
    with pytest.raises(SystemExit) as exit_:
        parse_args([str(path), "--distribution", "ring"])
    assert exit_.value.code == 2
    assert "--distribution: invalid choice: 'ring'" in capsys.readouterr().err


def test_the_distribution_does_not_change_a_runs_identity(tmp_path):
    one = load_config(config_file(tmp_path))
    two = load_config(config_file(tmp_path, kind="mirrored", devices=["cpu:0", "cpu:1"]))
    assert fingerprint(one) == fingerprint(two)
    other_batch = one.model_copy(
        update={"training": one.training.model_copy(update={"batch_size": 7})}
    )
    assert fingerprint(other_batch) != fingerprint(one)


# -- the cluster ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "nodelist, hosts",
    [
        ("node07", ["node07"]),
        ("node[01-03,07]", ["node01", "node02", "node03", "node07"]),
        ("gpu[8-11]", ["gpu8", "gpu9", "gpu10", "gpu11"]),
        ("a[1-2],b[009-010],c", ["a1", "a2", "b009", "b010", "c"]),
        ("r[1-2]n[08-09]", ["r1n08", "r1n09", "r2n08", "r2n09"]),
        ("cn-[1,3]-ib", ["cn-1-ib", "cn-3-ib"]),
    ],
)
def test_compressed_nodelists_expand_as_scontrol_does(nodelist, hosts):
    assert expand_nodelist(nodelist) == hosts


@pytest.mark.parametrize(
    "nodelist", ["node[01-03", "node]1[", "node[a-b]", "node[1-]", "node[5-3]", ""]
)
def test_malformed_nodelists_are_one_line_errors(nodelist):
    with pytest.raises(ConfigError, match="SLURM_JOB_NODELIST"):
        expand_nodelist(nodelist)


def slurm(nodelist: str, procid: int, ntasks: int) -> dict[str, str]:
    return {
        "SLURM_JOB_NODELIST": nodelist,
        "SLURM_PROCID": str(procid),
        "SLURM_NTASKS": str(ntasks),
        "SLURM_JOB_ID": "1234",
    }


def test_one_task_per_node_is_one_worker_per_node():
    config = tf_config_from_slurm(slurm("node[01-03,07]", 2, 4), 12345)
    assert config == {
        "cluster": {"worker": ["node01:12345", "node02:12345", "node03:12345", "node07:12345"]},
        "task": {"type": "worker", "index": 2},
    }


def test_several_tasks_per_node_fill_the_nodes_in_order_on_successive_ports():
    workers = [
        tf_config_from_slurm(slurm("gpu[1-2]", task, 6), 2000)["task"]["index"] for task in range(6)
    ]
    assert workers == list(range(6))
    cluster = tf_config_from_slurm(slurm("gpu[1-2]", 0, 6), 2000)["cluster"]["worker"]
    assert cluster == [f"gpu{n}:{2000 + k}" for n in (1, 2) for k in range(3)]
    assert len(set(cluster)) == 6


@pytest.mark.parametrize(
    "environment, message",
    [
        (slurm("n[1-3]", 0, 4), "SLURM_NTASKS 4: not a multiple of the 3 nodes"),
        (slurm("n[1-2]", 2, 2), "SLURM_PROCID 2: expected 0 to 1"),
    ],
)
def test_inconsistent_slurm_variables_are_named(environment, message):
    with pytest.raises(ConfigError, match=message):
        tf_config_from_slurm(environment, 12345)


def test_tf_config_wins_over_slurm_and_slurm_is_the_fallback():
    given = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}
    environment = {**slurm("n[1-2]", 0, 2), "TF_CONFIG": json.dumps(given)}
    assert cluster_from_environment(environment, 5000) == given
    derived = cluster_from_environment(slurm("n[1-2]", 0, 2), 5000)
    assert derived["cluster"]["worker"] == ["n1:5000", "n2:5000"]


@pytest.mark.parametrize(
    "environment, message",
    [
        ({}, "no cluster; set TF_CONFIG"),
        ({"TF_CONFIG": "{nope"}, "TF_CONFIG: not JSON"),
        ({"TF_CONFIG": '{"cluster": {}}'}, 'TF_CONFIG: expected {"cluster"'),
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "2"}, "no cluster"),
    ],
)
def test_a_missing_or_bad_cluster_is_one_line(environment, message):
    with pytest.raises(ConfigError, match=message) as error:
        cluster_from_environment(environment, 5000)
    assert "\n" not in str(error.value)


def test_the_chief_is_the_chief_task_or_else_worker_zero():
    assert is_chief({"type": "chief", "index": 0}, has_chief=True)
    assert not is_chief({"type": "worker", "index": 0}, has_chief=True)
    assert is_chief({"type": "worker", "index": 0}, has_chief=False)
    assert not is_chief({"type": "worker", "index": 1}, has_chief=False)


# -- placements -----------------------------------------------------------------------


class FakeStrategy:
    num_replicas_in_sync = 3


def test_the_global_batch_must_divide_over_the_replicas():
    placement = Placement("mirrored", FakeStrategy())
    assert placement.per_replica_batch(96) == 32
    with pytest.raises(ConfigError) as error:
        placement.per_replica_batch(100)
    message = str(error.value)
    assert message.startswith("training.batch_size 100:") and "3 replicas" in message
    assert "\n" not in message


def test_the_default_placement_is_todays_one_device(tmp_path):
    config = load_config(config_file(tmp_path))
    placement = create_placement(config.training)
    assert (placement.kind, placement.device, placement.replicas) == ("default", "/CPU:0", 1)
    assert placement.is_chief and placement.n_workers == 1
    assert str(placement) == "default on /CPU:0"


def test_mirrored_over_every_gpu_without_a_gpu_says_what_to_do(monkeypatch):
    monkeypatch.setattr(distribution, "_visible_gpus", lambda: [])
    with pytest.raises(ConfigError, match=r'"devices": \["cpu:0", "cpu:1"\]'):
        distribution.mirrored_devices(MirroredDistribution(kind="mirrored"))
    with pytest.raises(ConfigError, match="gpu:1 does not exist; this machine has 0"):
        distribution.mirrored_devices(MirroredDistribution(kind="mirrored", devices=["gpu:1"]))


# -- sharding by chunk ----------------------------------------------------------------


def test_shards_partition_the_chunks_and_an_empty_share_is_refused():
    chunks = list(range(11))
    shares = [shard_chunks(chunks, i, 3) for i in range(3)]
    assert sorted(chunk for share in shares for chunk in share) == chunks
    assert shares[1] == [1, 4, 7, 10]
    for worker in range(3):  # every worker knows, not only those left without a chunk
        with pytest.raises(DataError, match="3 workers, but the split has 2 chunk"):
            shard_chunks(chunks[:2], worker, 3)


class CountingSource(PointCloudSource):
    """Records the first row of every chunk it decodes."""

    def __init__(self) -> None:
        super().__init__(seed=3)
        self.decoded: list[int] = []

    def read_examples(self, chunk):
        self.decoded.append(chunk.index[0])
        return super().read_examples(chunk)


@pytest.mark.parametrize("shuffle", [False, True])
def test_each_worker_decodes_only_its_chunks_in_full_global_batches(shuffle):
    n_workers, batch = 2, 8
    seen = []
    for worker in range(n_workers):
        source = CountingSource()
        dataset = make_dataset(
            source, source.chunks, None, batch, shuffle, seed=1, shard=(worker, n_workers)
        )
        mine = {chunk.index[0] for chunk in source.chunks[worker::n_workers]}
        _, labels, sizes = epoch(dataset)
        assert set(source.decoded) == mine  # never a chunk of the other worker
        # an epoch: the batches of one pass over all the data, every one full
        assert len(sizes) == int(dataset.cardinality()) == -(-50 // batch)
        assert set(sizes) == {batch}
        starts = {label - label % 7 for label in labels}
        assert starts == mine  # its share, repeated to fill the steps
        seen.append(set(labels))
    assert not seen[0] & seen[1] and len(seen[0] | seen[1]) == 50
    options = dataset.options().experimental_distribute.auto_shard_policy
    assert options == distribution_policy_off()


def distribution_policy_off():
    from smartml.backend import tf

    return tf.data.experimental.AutoShardPolicy.OFF


def test_the_unsharded_dataset_is_unchanged():
    source = CountingSource()
    dataset = make_dataset(source, source.chunks, None, 8, False, seed=1)
    _, labels, sizes = epoch(dataset)
    np.testing.assert_array_equal(labels, np.arange(50))
    assert sizes == [8] * 6 + [2] and int(dataset.cardinality()) == 7
