"""Bit-for-bit comparison of firmware (hls4ml C simulation) and QKeras outputs."""

import numpy as np


def compare_outputs(firmware: np.ndarray, reference: np.ndarray, output_lsb: float) -> dict:
    """Agreement of two (n, k) output arrays.

    Args:
        firmware: outputs of the compiled C++ emulation.
        reference: outputs of the QKeras model on the same (quantized) inputs.
        output_lsb: step of the firmware output type; differences are in these units.

    Returns:
        ``outputs`` (count), ``bit_identical_fraction``, ``max_difference_lsb``,
        ``bit_identical_per_output`` (per output column), ``examples_all_identical``.

    >>> result = compare_outputs(np.array([[0.5, 0.25]]), np.array([[0.5, 0.125]]), 0.125)
    >>> result["bit_identical_fraction"], result["max_difference_lsb"]
    (0.5, 1.0)
    """
    firmware = np.asarray(firmware, dtype=np.float64).reshape(len(firmware), -1)
    reference = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    if firmware.shape != reference.shape:
        raise ValueError(
            f"output shapes differ: firmware {firmware.shape}, QKeras {reference.shape}"
        )
    identical = firmware == reference
    difference = np.abs(firmware - reference) / output_lsb
    return {
        "outputs": int(identical.size),
        "bit_identical_fraction": float(identical.mean()) if identical.size else 0.0,
        "max_difference_lsb": float(np.nan_to_num(difference, nan=np.inf).max(initial=0.0)),
        "bit_identical_per_output": identical.mean(axis=0).round(6).tolist(),
        "examples_all_identical": float(identical.all(axis=1).mean()) if identical.size else 0.0,
    }


def layer_agreement(firmware_trace: dict, keras_outputs: dict) -> list[dict]:
    """Per-layer bit-identical fraction, in firmware order, for the layers both have:
    the first layer below 1 is where firmware and QKeras part."""
    rows = []
    for name, values in firmware_trace.items():
        if name not in keras_outputs:
            continue
        fw = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
        ref = np.asarray(keras_outputs[name], dtype=np.float64).reshape(len(fw), -1)
        rows.append(
            {
                "layer": name,
                "bit_identical_fraction": float((fw == ref).mean()),
                "max_abs_difference": float(np.abs(fw - ref).max(initial=0.0)),
            }
        )
    return rows
