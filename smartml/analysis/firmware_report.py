"""The report.json that ``python -m smartml.export --hls`` writes beside an hls4ml project
(``firmware/<run name>/report.json``): bit-exactness of the firmware against QKeras, the
task metrics of both, and the per-layer estimates.

Only the keys read here are required to have their documented shape; other keys are
ignored, so reports of newer exporters still read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from smartml.errors import RunDirectoryError
from smartml.runs.directory import RunDirectory

if TYPE_CHECKING:
    from smartml.metrics.summary import SummaryMetric

LAYER_COLUMNS = (
    "parameters",
    "multiplications",
    "zero_weights",
    "bops",
    "latency_cycles",
    "luts",
    "dsps",
)


def find_report(run_name: str, firmware_root: str | Path = "firmware") -> Path | None:
    """Where the export of a run put its report.

    Args:
        run_name: the run's configured name (``RunContents.name``).
        firmware_root: the export's destination folder (``--output``, default ``firmware``).

    Returns:
        ``<firmware_root>/<run_name>/report.json`` if it exists, else None (not exported).
    """
    path = Path(firmware_root) / run_name / "report.json"
    return path if path.is_file() else None


def locate_report(
    run_name: str, report_path: str | Path | None = None, firmware_root: str | Path = "firmware"
) -> Path | None:
    """The report to read: ``report_path`` when given, else :func:`find_report`.

    Args:
        run_name: the run's configured name.
        report_path: an explicit report.json (the notebooks' ``REPORT_PATH``), or None.
        firmware_root: where to look when ``report_path`` is None.

    Returns:
        the path, or None when the run was not exported.

    Raises:
        RunDirectoryError: ``report_path`` was given but does not exist.
    """
    if report_path is None:
        return find_report(run_name, firmware_root)
    path = Path(report_path)
    if not path.is_file():
        raise RunDirectoryError(f"{path}: no such report file")
    return path


def read_report(path: str | Path) -> dict:
    """Read and check a report.json.

    Args:
        path: the report file.

    Returns:
        the report as a dict.

    Raises:
        RunDirectoryError: one line naming the file when it is unreadable, not JSON, or
            lacks the ``layers`` list (objects with a ``name``) or the
            ``verification`` entry.
    """
    report = RunDirectory.read_json(Path(path))
    if "verification" not in report or "layers" not in report:
        raise RunDirectoryError(f"{path}: not an export report (no verification/layers)")
    layers = report["layers"]
    if not isinstance(layers, list) or not all(
        isinstance(layer, dict) and "name" in layer for layer in layers
    ):
        raise RunDirectoryError(f"{path}: 'layers' must be a list of objects with a 'name'")
    for key in ("verification", "totals", "timing_seconds"):
        if report.get(key) is not None and not isinstance(report[key], dict):
            raise RunDirectoryError(f"{path}: '{key}' must be an object")
    return report


def agreement(report: dict) -> dict:
    """Export settings and the bit-exactness of the firmware C simulation.

    Args:
        report: from :func:`read_report`.

    Returns:
        a flat dict: backend, part, clock period, I/O type, strategy, reuse factor,
        input precision; examples and outputs compared, bit-identical fraction, largest
        difference in output LSBs, the output LSB, the threshold and whether it passed
        (None where the report has no verification). Reports written before the key
        ``examples`` hold the same count under ``clusters``.

    >>> agreement({"verification": {"clusters": 400, "passed": True}})["examples"]
    400
    """
    verification = report.get("verification") or {}
    if "examples" not in verification and "clusters" in verification:
        verification = {**verification, "examples": verification["clusters"]}
    settings = ("backend", "part", "clock_period_ns", "io_type", "strategy", "reuse_factor")
    checks = (
        "examples",
        "outputs",
        "bit_identical_fraction",
        "max_difference_lsb",
        "output_lsb",
        "threshold",
        "passed",
    )
    return {
        **{key: report.get(key) for key in settings},
        "input_precision": report.get("input_precision"),
        **{key: verification.get(key) for key in checks},
    }


def layer_table(report: dict) -> pd.DataFrame:
    """The per-layer estimates of the report.

    Args:
        report: from :func:`read_report`.

    Returns:
        one row per firmware layer: ``layer``, ``class``, the ``weight`` and
        ``result`` precisions, then parameters, multiplications, zero weights, BOPs,
        estimated latency (cycles), LUTs and DSPs (None where absent).
    """
    rows = []
    for layer in report["layers"]:
        precision = layer.get("precision") or {}
        rows.append(
            {
                "layer": layer["name"],
                "class": layer.get("class"),
                "weight": precision.get("weight"),
                "result": precision.get("result"),
                **{key: layer.get(key) for key in LAYER_COLUMNS},
            }
        )
    return pd.DataFrame(rows, columns=["layer", "class", "weight", "result", *LAYER_COLUMNS])


def totals(report: dict) -> dict:
    """Whole-model estimates and timings.

    Args:
        report: from :func:`read_report`.

    Returns:
        the ``totals`` entries (parameters ... DSPs), the estimate's tool, whether a
        synthesis report is included, and the seconds of each export step as
        ``seconds_<step>``.
    """
    summary = {key: (report.get("totals") or {}).get(key) for key in LAYER_COLUMNS}
    summary["estimate_tool"] = (report.get("resource_estimate") or {}).get("tool")
    summary["synthesis"] = report.get("synthesis") is not None
    for step, seconds in (report.get("timing_seconds") or {}).items():
        summary[f"seconds_{step}"] = seconds
    return summary


def metrics_side_by_side(report: dict, summary: Sequence[SummaryMetric]) -> pd.DataFrame:
    """The task's summary metrics from the firmware and from the Keras model, on the
    same examples.

    Args:
        report: from :func:`read_report`.
        summary: the run's summary metrics (:attr:`RunContents.summary`).

    Returns:
        one row per summary metric found in the report: ``metric`` (label and unit),
        ``keras``, ``firmware`` (empty when the report has no metrics).
    """
    verification = report.get("verification") or {}
    keras = verification.get("metrics_keras") or {}
    firmware = verification.get("metrics_firmware") or {}
    rows = [
        {"metric": metric.header, "keras": metric.value(keras), "firmware": metric.value(firmware)}
        for metric in summary
        if metric.value(keras) is not None
    ]
    return pd.DataFrame(rows, columns=["metric", "keras", "firmware"])
