"""The MDMM schedule: dense warm-up, ramped sparsity targets, fine-tuning with fixed
pruning masks (``training.mdmm.schedule``), and the masked weights it writes back.

The schedule's state lives in :class:`~smartml.training.mdmm.model.MDMMModel`'s
weights; :class:`ScheduleCallback` sets it at every epoch's start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from smartml.backend import keras
from smartml.errors import ConfigError
from smartml.hardware import cost as hc


def masked_weights(tensor: hc.WeightTensor, mask: np.ndarray, revive: bool) -> np.ndarray:
    """``tensor``'s float weights with the masked ones set to 0; with ``revive``, the
    unmasked ones that quantize to 0 move to the smallest non-zero step (``±LSB``,
    their sign), so that the zeros are exactly the masked weights.

    >>> from qkeras import QDense, quantized_bits
    >>> from smartml.backend import keras
    >>> layer = QDense(3, kernel_quantizer=quantized_bits(4, 0, alpha=1))
    >>> layer.build((None, 1))
    >>> _ = layer.kernel.assign([[0.5, -0.01, 0.3]])
    >>> tensor = hc.weight_tensors(layer)[0]
    >>> masked_weights(tensor, np.array([[1.0, 1.0, 0.0]]), revive=True)
    array([[ 0.5  , -0.125,  0.   ]], dtype=float32)
    """
    weights = tensor.variable.numpy() * mask
    step = 2.0 * tensor.zero_threshold()  # one LSB of a fixed-scale quantizer
    if revive and step > 0:
        dead = (mask > 0) & (np.asarray(tensor.quantized()) == 0)
        weights = np.where(dead, np.where(weights < 0, -step, step), weights)
    return weights.astype(tensor.variable.dtype.as_numpy_dtype)


@dataclass(frozen=True)
class Schedule:
    """The phases of a constrained run, as fractions of its epochs (see
    :class:`smartml.config.mdmm.ScheduleConfig`): warm-up with every constraint off,
    a cubic ramp of the sparsity targets, fine-tuning with fixed pruning masks; the
    masks remove weights by ``criterion`` ("magnitude" or "saliency").

    Epoch boundaries round half up; a positive ``fine_tune_fraction`` fine-tunes at
    least the last epoch, and the other phases shrink to leave it room.

    >>> schedule = Schedule(warmup_fraction=0.25, ramp_fraction=0.5, fine_tune_fraction=0.25)
    >>> schedule.boundaries(8)
    (2, 6, 6)
    >>> [round(schedule.ramp(epoch, 8), 3) for epoch in range(8)]
    [0.0, 0.0, 0.578, 0.875, 0.984, 1.0, 1.0, 1.0]
    >>> [schedule.constraints_on(epoch, 8) for epoch in (1, 2)]
    [False, True]
    >>> [schedule.masks_fixed(epoch, 8) for epoch in (5, 6)]
    [False, True]
    """

    warmup_fraction: float = 0.0
    ramp_fraction: float = 0.5
    fine_tune_fraction: float = 0.25
    criterion: str = "magnitude"

    def __post_init__(self) -> None:
        if self.criterion not in ("magnitude", "saliency"):
            raise ConfigError(
                f"schedule criterion must be 'magnitude' or 'saliency', got {self.criterion!r}"
            )

    def boundaries(self, epochs: int) -> tuple[int, int, int]:
        """(first epoch of the ramp, first at the full target, first fine-tuned)."""

        def half_up(fraction: float) -> int:
            return math.floor(fraction * epochs + 0.5)

        fine_tune = max(half_up(self.fine_tune_fraction), int(self.fine_tune_fraction > 0))
        first_fine_tuned = max(epochs - fine_tune, 0)
        ramp_end = min(half_up(self.warmup_fraction + self.ramp_fraction), first_fine_tuned)
        return min(half_up(self.warmup_fraction), ramp_end), ramp_end, first_fine_tuned

    def constraints_on(self, epoch: int, epochs: int) -> bool:
        """Whether the constraints act in ``epoch`` (0-based): after the warm-up."""
        return epoch >= self.boundaries(epochs)[0]

    def ramp(self, epoch: int, epochs: int) -> float:
        """Fraction of the sparsity targets aimed at in ``epoch``: 0 in the warm-up,
        ``1 − (1 − p)³`` in the ramp (``p`` its fraction done at the epoch's end), 1 after."""
        start, end, _ = self.boundaries(epochs)
        if epoch < start:
            return 0.0
        if epoch >= end:
            return 1.0
        done = (epoch - start + 1) / (end - start)
        return 1.0 - (1.0 - done) ** 3

    def masks_fixed(self, epoch: int, epochs: int) -> bool:
        """Whether ``epoch`` trains with fixed pruning masks (the fine-tuning)."""
        return self.fine_tune_fraction > 0 and epoch >= self.boundaries(epochs)[2]


class ScheduleCallback(keras.callbacks.Callback):
    """Puts an :class:`MDMMModel` into its schedule's state at every epoch's start
    (added by :meth:`MDMMModel.fit`). The state follows from the epoch number and the
    model's weights, so a run resumed by BackupAndRestore continues the schedule."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.model.begin_epoch(epoch, int(self.params["epochs"]))
