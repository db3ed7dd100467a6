"""Schema of ``training.distribution``: how training is spread over devices and nodes
(see :mod:`smartml.training.distribution` for the strategies it creates).

- ``{"kind": "default"}``: one device, ``training.device`` (``cpu`` or ``gpu:N``);
- ``{"kind": "mirrored", "devices": null}``: every local GPU, or the listed devices
  (``["gpu:0", "gpu:1"]``, or ``["cpu:0", "cpu:1"]``: the CPU split into that many
  logical devices), one replica each, synchronous (``tf.distribute.MirroredStrategy``);
- ``{"kind": "multi_worker"}``: one process per node (or per GPU), synchronous across
  processes (``tf.distribute.MultiWorkerMirroredStrategy``); the cluster comes from
  ``TF_CONFIG``, or is derived from Slurm's variables with ``slurm_port``.

In every case ``training.batch_size`` is the global batch: each of the R replicas
trains on ``batch_size / R`` examples per step.

>>> from pydantic import TypeAdapter
>>> TypeAdapter(Distribution).validate_python({"kind": "mirrored", "devices": ["cpu:0", "cpu:1"]})
MirroredDistribution(kind='mirrored', devices=['cpu:0', 'cpu:1'])
>>> TypeAdapter(Distribution).validate_python({"kind": "multi_worker"}).slurm_port
12345
"""

from typing import Annotated, Literal

from pydantic import Field

from smartml.config.strict import StrictModel

DeviceName = Annotated[str, Field(pattern=r"^(cpu|gpu):[0-9]+$")]


class DefaultDistribution(StrictModel):
    """One device: ``training.device``."""

    kind: Literal["default"] = "default"


class MirroredDistribution(StrictModel):
    """One process, several local devices, one replica on each."""

    kind: Literal["mirrored"]
    devices: list[DeviceName] | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="e.g. ['gpu:0', 'gpu:1'] or ['cpu:0', 'cpu:1']; null: every local GPU",
    )


class MultiWorkerDistribution(StrictModel):
    """Several processes (nodes), each with its local devices (``training.device``:
    ``cpu``, or any ``gpu``: every GPU the process sees)."""

    kind: Literal["multi_worker"]
    slurm_port: int = Field(
        12345,
        ge=1024,
        le=65535,
        description="port of the first worker on each node when the cluster is derived "
        "from Slurm's variables (TF_CONFIG unset); the next tasks on a node take the "
        "next ports",
    )
    heartbeat_timeout_s: float = Field(
        60.0,
        gt=0,
        description="seconds without a heartbeat after which the other workers declare a "
        "worker dead and stop (TensorFlow's default, 10 s, is shorter than a busy "
        "shared node can starve a process)",
    )


Distribution = Annotated[
    DefaultDistribution | MirroredDistribution | MultiWorkerDistribution,
    Field(discriminator="kind"),
]
DISTRIBUTION_KINDS = ("default", "mirrored", "multi_worker")
