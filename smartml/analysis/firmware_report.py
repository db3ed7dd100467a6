"""The report.json that ``python -m smartml.export --hls`` writes beside a project."""

from pathlib import Path

import pandas as pd

from smartml.training.run_directory import RunDirectory


def find_report(run_name: str, firmware_root: str | Path = "firmware") -> Path | None:
    """``<firmware_root>/<run name>/report.json`` if the run was exported, else None."""
    path = Path(firmware_root) / run_name / "report.json"
    return path if path.is_file() else None


def read_report(path: str | Path) -> dict:
    """The report as a dict; one-line error naming the file if it is unreadable or
    lacks the verification block."""
    report = RunDirectory.read_json(Path(path))
    if "verification" not in report or "layers" not in report:
        from smartml.errors import RunDirectoryError

        raise RunDirectoryError(f"{path}: not an export report (no verification/layers)")
    return report


def agreement(report: dict) -> dict:
    """Backend, part, input type and the bit-exactness figures, flat."""
    verification = report["verification"]
    return {
        "backend": report.get("backend"),
        "part": report.get("part"),
        "input_precision": report.get("input_precision"),
        "clusters": verification.get("clusters"),
        "bit_identical_fraction": verification.get("bit_identical_fraction"),
        "max_difference_lsb": verification.get("max_difference_lsb"),
        "passed": verification.get("passed"),
    }


def layer_table(report: dict) -> pd.DataFrame:
    """One row per layer: result precision, parameters, multiplications, zero
    weights, BOPs, estimated latency and LUTs."""
    rows = []
    for layer in report["layers"]:
        rows.append(
            {
                "layer": layer["name"],
                "class": layer.get("class"),
                "result": (layer.get("precision") or {}).get("result"),
                **{
                    key: layer.get(key)
                    for key in (
                        "parameters",
                        "multiplications",
                        "zero_weights",
                        "bops",
                        "latency_cycles",
                        "luts",
                    )
                },
            }
        )
    return pd.DataFrame(rows)


def metrics_side_by_side(report: dict) -> pd.DataFrame:
    """Robust width and pull std per target, from firmware and from Keras."""
    verification = report["verification"]
    keras, firmware = (
        verification.get("metrics_keras", {}),
        verification.get("metrics_firmware", {}),
    )
    rows = []
    for target, entry in keras.items():
        if not isinstance(entry, dict) or "robust_width" not in entry:
            continue
        rows.append(
            {
                "target": target,
                "keras_width": entry["robust_width"],
                "firmware_width": firmware.get(target, {}).get("robust_width"),
                "keras_pull_std": entry.get("pull_std"),
                "firmware_pull_std": firmware.get(target, {}).get("pull_std"),
            }
        )
    return pd.DataFrame(rows)
