"""tf.distribute strategies from ``training.distribution`` (see
:mod:`smartml.config.distribution`), and the cluster of a multi-worker run.

Create the :class:`Placement` first in the process, before any other TensorFlow op:
logical CPU devices, visible GPUs and the collective-ops server can only be set up
while the runtime is not yet initialised. Everything that makes variables (the
model, its initial weights, the MDMM wrapper, the optimizer at compile) then happens
in :meth:`Placement.scope`.

A multi-worker cluster comes from ``TF_CONFIG`` when it is set, otherwise from
Slurm's variables (:func:`tf_config_from_slurm`, a pure function of the environment):
one task per worker, ``srun`` started on every node.

The pure helpers import no TensorFlow:

>>> expand_nodelist("node[01-03,07],login")
['node01', 'node02', 'node03', 'node07', 'login']
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smartml.config.distribution import (
    DefaultDistribution,
    MirroredDistribution,
    MultiWorkerDistribution,
)
from smartml.errors import ConfigError, SmartmlError

if TYPE_CHECKING:
    from smartml.config import TrainingConfig

log = logging.getLogger("smartml.train")

_SLURM_VARIABLES = ("SLURM_JOB_NODELIST", "SLURM_PROCID", "SLURM_NTASKS")


class WorkerLostError(SmartmlError):
    """Another worker of a multi-worker run stopped or cannot be reached."""


@dataclass(frozen=True)
class Placement:
    """Where a run trains: the strategy and this process's place in it.

    Attributes:
        kind: ``default``, ``mirrored`` or ``multi_worker``.
        strategy: the tf.distribute strategy (the default one for ``default``).
        device: the TensorFlow device of a ``default`` run (``/CPU:0``, ``/GPU:0``),
            None otherwise (the strategy places the replicas).
        worker_index, n_workers: this process among the workers (0 of 1 but for
            ``multi_worker``).
        is_chief: this process writes the run directory (worker 0).
    """

    kind: str
    strategy: Any  # tf.distribute.Strategy
    device: str | None = None
    worker_index: int = 0
    n_workers: int = 1
    is_chief: bool = True

    def __str__(self) -> str:
        where = self.device or f"{self.replicas} replica{'s' if self.replicas > 1 else ''}"
        if self.n_workers > 1:
            where += f", worker {self.worker_index} of {self.n_workers}"
        return f"{self.kind} on {where}"

    @property
    def replicas(self) -> int:
        """Replicas training in sync (all devices of all workers)."""
        return int(self.strategy.num_replicas_in_sync)

    def scope(self) -> AbstractContextManager:
        """Where variables are created: the strategy's scope."""
        return self.strategy.scope()

    def fit_context(self) -> AbstractContextManager:
        """Around ``fit``: the one device of a default run; the strategy places the
        others."""
        from smartml.backend import tf

        return tf.device(self.device) if self.device else nullcontext()

    @contextmanager
    def peers_reported(self) -> Iterator[None]:
        """Around the work of a multi-worker run: a lost peer (its own error says
        why) becomes one line saying so, not a traceback of collective ops."""
        from smartml.backend import tf

        try:
            yield
        except (tf.errors.UnavailableError, tf.errors.AbortedError) as error:
            if self.n_workers == 1:
                raise
            reason = str(error).strip().splitlines()[0][:200]
            raise WorkerLostError(
                f"worker {self.worker_index} of {self.n_workers}: another worker stopped or "
                f"cannot be reached ({reason}); see its error, then start every worker "
                "again to resume"
            ) from None

    def per_replica_batch(self, global_batch: int) -> int:
        """``global_batch / replicas``; a one-line error when it does not divide."""
        if global_batch % self.replicas:
            raise ConfigError(
                f"training.batch_size {global_batch}: the global batch must be divisible by "
                f"the {self.replicas} replicas of the {self.kind} strategy (each trains on "
                "batch_size / replicas examples per step)"
            )
        return global_batch // self.replicas


def create_placement(training: TrainingConfig) -> Placement:
    """The strategy ``training.distribution`` asks for, created now.

    Args:
        training: the ``training`` section (``distribution``, ``device``, ``batch_size``).

    Returns:
        the placement; its global batch is checked against its replicas.

    Raises:
        ConfigError: devices that do not exist, a multi-worker run without a cluster,
            a batch not divisible by the replicas (one line each).
    """
    from smartml.backend import select_device, tf

    distribution = training.distribution
    if isinstance(distribution, DefaultDistribution):
        device = select_device(training.device)
        placement = Placement("default", tf.distribute.get_strategy(), device)
    elif isinstance(distribution, MirroredDistribution):
        strategy = tf.distribute.MirroredStrategy(mirrored_devices(distribution))
        placement = Placement("mirrored", strategy)
    else:
        placement = multi_worker_placement(distribution, training.device)
    placement.per_replica_batch(training.batch_size)
    log.info("distribution: %s", placement)
    return placement


def mirrored_devices(distribution: MirroredDistribution) -> list[str]:
    """TensorFlow names of the devices of a mirrored run, made visible (CPU: split
    into as many logical devices as listed; GPU: memory grows as needed)."""
    from smartml.backend import tf

    gpus = _visible_gpus()
    wanted = distribution.devices or [f"gpu:{i}" for i in range(len(gpus))]
    if not wanted:
        raise ConfigError(
            "training.distribution: mirrored over every GPU, but this machine has none; "
            'list devices instead, e.g. "devices": ["cpu:0", "cpu:1"]'
        )
    cpus = sorted({int(name.split(":")[1]) for name in wanted if name.startswith("cpu")})
    gpu_numbers = sorted({int(name.split(":")[1]) for name in wanted if name.startswith("gpu")})
    missing = [n for n in gpu_numbers if n >= len(gpus)]
    if missing:
        raise ConfigError(
            f"training.distribution.devices: gpu:{missing[0]} does not exist; this machine "
            f"has {len(gpus)} visible GPU(s)"
        )
    try:
        tf.config.set_visible_devices([gpus[n] for n in gpu_numbers], "GPU")
        for n in gpu_numbers:
            tf.config.experimental.set_memory_growth(gpus[n], True)
        if cpus:
            split_cpu(max(cpus) + 1)
    except RuntimeError:
        raise ConfigError(
            "training.distribution: TensorFlow was initialised before the strategy was "
            "created; create it first in the process (a fresh python -m smartml.train)"
        ) from None
    # visible GPUs are renumbered from 0 in the order kept
    renumbered = {n: i for i, n in enumerate(gpu_numbers)}
    return [
        f"/CPU:{name.split(':')[1]}"
        if name.startswith("cpu")
        else f"/GPU:{renumbered[int(name.split(':')[1])]}"
        for name in wanted
    ]


def _visible_gpus() -> list:
    """The physical GPUs TensorFlow sees."""
    from smartml.backend import tf

    return tf.config.list_physical_devices("GPU")


def split_cpu(n_devices: int) -> None:
    """Split the (first) physical CPU into ``n_devices`` logical devices, as tests
    and one-node benchmarks of a mirrored run do; a no-op for one device."""
    from smartml.backend import tf

    if n_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        configuration = tf.config.LogicalDeviceConfiguration()
        tf.config.set_logical_device_configuration(cpu, [configuration] * n_devices)


def multi_worker_placement(distribution: MultiWorkerDistribution, device: str) -> Placement:
    """A MultiWorkerMirroredStrategy over the cluster of ``TF_CONFIG`` (set from
    Slurm's variables first when it is missing)."""
    from smartml.backend import tf

    config = cluster_from_environment(os.environ, distribution.slurm_port)
    os.environ["TF_CONFIG"] = json.dumps(config)  # read by the strategy's resolver
    gpus = _visible_gpus()
    try:
        if device == "cpu":
            tf.config.set_visible_devices([], "GPU")
        elif not gpus:
            raise ConfigError(
                f"training.device {device}: multi_worker on GPUs, but this worker sees none"
            )
        for gpu in gpus if device != "cpu" else []:
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:
        raise ConfigError(
            "training.distribution: TensorFlow was initialised before the strategy was "
            "created; create it first in the process (a fresh python -m smartml.train)"
        ) from None
    _configure_coordination(config["cluster"], distribution.heartbeat_timeout_s)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    task = config["task"]
    workers = config["cluster"].get("worker", [])
    has_chief = bool(config["cluster"].get("chief"))
    index = int(task["index"]) + (1 if has_chief and task["type"] == "worker" else 0)
    return Placement(
        "multi_worker",
        strategy,
        worker_index=index,
        n_workers=len(workers) + (1 if has_chief else 0),
        is_chief=is_chief(task, has_chief),
    )


def _configure_coordination(cluster: Mapping[str, Any], heartbeat_timeout_s: float) -> None:
    """Start TensorFlow's coordination service as the strategy would, but with the
    run's heartbeat timeout: the strategy only configures it when nothing has, and
    offers no public argument for the timeout."""
    # the strategy module's own imports: their paths move between TensorFlow versions
    from tensorflow.python.distribute import collective_all_reduce_strategy as strategy_module
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context
    from tensorflow.python.training import server_lib

    spec = server_lib.ClusterSpec(dict(cluster))
    jobs = [
        strategy_module.coordination_config_pb2.CoordinatedJob(
            name=job, num_tasks=spec.num_tasks(job)
        )
        for job in ("chief", "worker")
        if job in spec.jobs
    ]
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(spec),
        heartbeat_timeout_in_ms=int(heartbeat_timeout_s * 1000),
        coordinated_jobs=jobs,
    )


def is_chief(task: Mapping[str, Any], has_chief: bool) -> bool:
    """Whether a TF_CONFIG task writes the run directory: the ``chief``, or worker 0
    of a cluster without one.

    >>> is_chief({"type": "worker", "index": 0}, has_chief=False)
    True
    >>> is_chief({"type": "worker", "index": 0}, has_chief=True)
    False
    """
    if task.get("type") == "chief":
        return True
    return not has_chief and task.get("type") == "worker" and int(task.get("index", 0)) == 0


def local_tf_configs(n_workers: int) -> list[dict[str, Any]]:
    """The TF_CONFIG of each of ``n_workers`` workers on this machine, on ports free
    now: to try a multi-worker configuration on one machine (tests, benchmarks).

    >>> configs = local_tf_configs(2)
    >>> [config["task"] for config in configs]
    [{'type': 'worker', 'index': 0}, {'type': 'worker', 'index': 1}]
    >>> configs[0]["cluster"] == configs[1]["cluster"]
    True
    """
    sockets = [socket.socket() for _ in range(n_workers)]
    try:
        for sock in sockets:  # all bound at once: n distinct ports
            sock.bind(("localhost", 0))
        workers = [f"localhost:{sock.getsockname()[1]}" for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    return [
        {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        for index in range(n_workers)
    ]


def cluster_from_environment(environ: Mapping[str, str], slurm_port: int) -> dict[str, Any]:
    """The TF_CONFIG of this process: ``TF_CONFIG`` itself when set, else derived from
    Slurm's variables (:func:`tf_config_from_slurm`).

    Raises:
        ConfigError: neither is there, or TF_CONFIG is not a JSON object with
            ``cluster`` and ``task``.

    >>> cluster_from_environment({"TF_CONFIG": '{"cluster": {"worker": ["a:1"]}, '
    ...                           '"task": {"type": "worker", "index": 0}}'}, 12345)["task"]
    {'type': 'worker', 'index': 0}
    """
    text = environ.get("TF_CONFIG", "").strip()
    if text:
        try:
            config = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"TF_CONFIG: not JSON ({err.msg} at character {err.pos})") from None
        if not (isinstance(config, dict) and "cluster" in config and "task" in config):
            raise ConfigError('TF_CONFIG: expected {"cluster": {...}, "task": {"type", "index"}}')
        return config
    if all(name in environ for name in _SLURM_VARIABLES):
        return tf_config_from_slurm(environ, slurm_port)
    raise ConfigError(
        "training.distribution multi_worker: no cluster; set TF_CONFIG, or start the "
        "workers with srun inside a Slurm job (SLURM_JOB_NODELIST, SLURM_PROCID, SLURM_NTASKS)"
    )


def tf_config_from_slurm(environ: Mapping[str, str], port: int) -> dict[str, Any]:
    """TF_CONFIG of one Slurm task: every task of the job is a worker, task
    ``SLURM_PROCID`` is this one. Tasks fill the nodes in order (Slurm's block
    distribution); the k-th task on a node listens on ``port + k``.

    Args:
        environ: the environment (``SLURM_JOB_NODELIST``, ``SLURM_PROCID``,
            ``SLURM_NTASKS``).
        port: the port of each node's first task.

    Returns:
        ``{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker",
        "index": procid}}``.

    Raises:
        ConfigError: tasks that do not divide evenly over the nodes, or a task id
            out of range.

    >>> env = {"SLURM_JOB_NODELIST": "gpu[1-2]", "SLURM_PROCID": "3", "SLURM_NTASKS": "4"}
    >>> tf_config_from_slurm(env, 2222)
    {'cluster': {'worker': ['gpu1:2222', 'gpu1:2223', 'gpu2:2222', 'gpu2:2223']},
     'task': {'type': 'worker', 'index': 3}}
    """
    nodes = expand_nodelist(environ["SLURM_JOB_NODELIST"])
    n_tasks, task = int(environ["SLURM_NTASKS"]), int(environ["SLURM_PROCID"])
    if n_tasks % len(nodes):
        raise ConfigError(
            f"SLURM_NTASKS {n_tasks}: not a multiple of the {len(nodes)} nodes of "
            f"SLURM_JOB_NODELIST; run the same number of tasks on every node"
        )
    if not 0 <= task < n_tasks:
        raise ConfigError(f"SLURM_PROCID {task}: expected 0 to {n_tasks - 1}")
    per_node = n_tasks // len(nodes)
    workers = [f"{node}:{port + k}" for node in nodes for k in range(per_node)]
    return {"cluster": {"worker": workers}, "task": {"type": "worker", "index": task}}


def expand_nodelist(nodelist: str) -> list[str]:
    """The host names of a Slurm node list, in order, as ``scontrol show hostnames``
    gives them: ranges keep their zero padding; several bracket groups multiply.

    Raises:
        ConfigError: an unbalanced bracket or a malformed range.

    >>> expand_nodelist("node[01-03,07]")
    ['node01', 'node02', 'node03', 'node07']
    >>> expand_nodelist("r[1-2]n[8-9],gpu7")
    ['r1n8', 'r1n9', 'r2n8', 'r2n9', 'gpu7']
    """
    hosts: list[str] = []
    for item in _split_top_level(nodelist):
        hosts.extend(_expand_host(item, nodelist))
    if not hosts:
        raise ConfigError(f"SLURM_JOB_NODELIST {nodelist!r}: no host names")
    return hosts


def _split_top_level(nodelist: str) -> list[str]:
    """Split at the commas outside brackets."""
    items, depth, current = [], 0, ""
    for char in nodelist.strip():
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth not in (0, 1):
            raise ConfigError(f"SLURM_JOB_NODELIST {nodelist!r}: unbalanced brackets")
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    if depth:
        raise ConfigError(f"SLURM_JOB_NODELIST {nodelist!r}: unbalanced brackets")
    return [item for item in [*items, current] if item]


def _expand_host(pattern: str, nodelist: str) -> list[str]:
    match = re.search(r"\[([^\]]*)\]", pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    expanded = []
    for number in _range_numbers(match.group(1), nodelist):
        expanded.extend(_expand_host(head + number + tail, nodelist))
    return expanded


def _range_numbers(ranges: str, nodelist: str) -> list[str]:
    numbers: list[str] = []
    for part in ranges.split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if match is None or int(match.group(2) or match.group(1)) < int(match.group(1)):
            raise ConfigError(f"SLURM_JOB_NODELIST {nodelist!r}: bad range {part!r}")
        first, last = match.group(1), match.group(2) or match.group(1)
        numbers.extend(f"{n:0{len(first)}d}" for n in range(int(first), int(last) + 1))
    return numbers


__all__ = [
    "Placement",
    "WorkerLostError",
    "cluster_from_environment",
    "create_placement",
    "expand_nodelist",
    "local_tf_configs",
    "tf_config_from_slurm",
]
