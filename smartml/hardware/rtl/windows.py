"""Sliding windows over traced arrays: the patches a convolution or a pooling layer
reads at each output position, with Keras' ``valid`` and ``same`` padding."""

from __future__ import annotations

import numpy as np
from da4ml.trace import FixedVariableArray  # type: ignore[import-untyped]

from smartml.errors import ExportError


def patches(
    x: FixedVariableArray,
    size: tuple[int, int],
    strides: tuple[int, int],
    padding: str,
    where: str,
) -> FixedVariableArray:
    """The windows of a ``(rows, columns, channels)`` array.

    Args:
        x: the traced input of one example.
        size: window rows and columns; strides: steps between windows.
        padding: ``"valid"`` or ``"same"`` (zeros, split as Keras splits them).
        where: names the layer in errors.

    Returns:
        ``(output rows, output columns, size[0], size[1], channels)``.

    Raises:
        ExportError: another padding (``causal``).
    """
    if padding not in ("valid", "same"):
        raise ExportError(f"{where}: padding {padding!r} has no RTL rule (valid or same)")
    if padding == "same":
        pads = [_same_padding(n, k, s) for n, k, s in zip(x.shape[:2], size, strides, strict=True)]
        if any(before or after for before, after in pads):
            # np.pad fills with integer zeros, which da4ml turns into constants
            x = np.pad(x, [*pads, (0, 0)])
    rows = (x.shape[0] - size[0]) // strides[0] + 1
    columns = (x.shape[1] - size[1]) // strides[1] + 1
    return np.stack(
        [
            np.stack(
                [
                    x[
                        r * strides[0] : r * strides[0] + size[0],
                        c * strides[1] : c * strides[1] + size[1],
                    ]
                    for c in range(columns)
                ]
            )
            for r in range(rows)
        ]
    )


def _same_padding(length: int, size: int, stride: int) -> tuple[int, int]:
    """Keras' ``same`` padding of one axis: ``ceil(length/stride)`` outputs, the
    smaller half of the padding before."""
    outputs = -(-length // stride)
    total = max((outputs - 1) * stride + size - length, 0)
    return total // 2, total - total // 2


def check_plain(layer, where: str) -> None:
    """Refuse dilation and channels-first layouts, which have no RTL rule."""
    dilation = getattr(layer, "dilation_rate", (1,))
    if any(int(d) != 1 for d in np.ravel(dilation)):
        raise ExportError(f"{where}: dilation_rate {dilation} has no RTL rule; use 1")
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ExportError(f"{where}: data_format {layer.data_format!r} has no RTL rule")
