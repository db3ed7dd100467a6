"""A complete run's model card, ``MODEL_CARD.md``: what was trained on what, how well
it does, what it costs in hardware and, once exported, whether the firmware computes
it exactly.

The evaluation writes it (training's end, ``smartml evaluate``) and the export
rewrites it with the firmware's agreement. It is made from the run's own records
(config.json, metrics.json, the fingerprint, report.json), so it never disagrees
with them.

>>> card = model_card(
...     {"name": "demo", "task": {"name": "smart_pixels"},
...      "model": {"name": "pixel_mdn", "conv_weights": {"bits": 4, "integer": 0},
...                "dense_activation_bits": 8},
...      "data": {"source": "simulation"}},
...     "ab12", "metric  demo\\nx width [µm]  6.07",
...     {"hardware": {"bops": 790000.0, "luts": 1234, "sparsity": 0.25}},
...     {"smartml": "0.1.0", "git_commit": None},
... )
>>> print(card.split("## Hardware")[0].splitlines()[2])
- task: `smart_pixels`, model: `pixel_mdn`, fingerprint `ab12`
>>> "conv_weights: 4 bits (4.0)" in card and "790,000 BOPs" in card
True
"""

from __future__ import annotations

import json
from typing import Any

CARD_FILE = "MODEL_CARD.md"


def model_card(
    config: dict[str, Any],
    fingerprint: str,
    summary: str,
    metrics: dict[str, Any],
    provenance: dict[str, Any],
    firmware: dict[str, Any] | None = None,
) -> str:
    """The card's Markdown.

    Args:
        config: the resolved configuration (config.json's content).
        fingerprint: the run's fingerprint.
        summary: the task's summary table (:func:`smartml.metrics.summary.summary_table`).
        metrics: metrics.json's content (its ``hardware`` block when exportable).
        provenance: the software that evaluated it (:mod:`smartml.runs.provenance`).
        firmware: report.json's ``verification`` and project of the last export, if any.
    """
    commit = provenance.get("git_commit") or "no git checkout"
    lines = [
        f"# Model card: {config['name']}",
        "",
        f"- task: `{config['task']['name']}`, model: `{config['model']['name']}`, "
        f"fingerprint `{fingerprint}`",
        f"- evaluated by smartml {provenance.get('smartml')} ({commit})",
        "",
        "## Data",
        "",
        *(f"- `data.{key}`: `{json.dumps(value)}`" for key, value in _data_summary(config)),
        "",
        "## Test-split performance",
        "",
        "```",
        summary,
        "```",
        "",
        "## Quantization",
        "",
        *(_bit_lines(config["model"]) or ["- not quantized (float)"]),
        "",
        "## Hardware",
        "",
        *_hardware_lines(metrics.get("hardware")),
        "",
        "## Firmware",
        "",
        *_firmware_lines(firmware),
        "",
    ]
    return "\n".join(lines)


def _data_summary(config: dict[str, Any]) -> list[tuple[str, Any]]:
    """Where the data came from: the data section's scalar and list keys (nested
    settings such as the simulator's are left to config.json)."""
    return [
        (key, value)
        for key, value in config.get("data", {}).items()
        if value is not None and not isinstance(value, dict)
    ]


def _bit_lines(section: dict[str, Any], prefix: str = "") -> list[str]:
    """Every quantizer setting of the model section: ``<key>: <bits> bits (<bits>.<integer>)``
    for a quantizer, ``<key>: <n> bits`` for a bit count."""
    lines = []
    for key, value in section.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and "bits" in value:
            integer = value.get("integer", 0)
            lines.append(f"- {name}: {value['bits']} bits ({value['bits']}.{integer})")
        elif isinstance(value, dict):
            lines += _bit_lines(value, f"{name}.")
        elif key.endswith("bits") and isinstance(value, int) and not isinstance(value, bool):
            lines.append(f"- {name}: {value} bits")
    return lines


def _hardware_lines(hardware: dict[str, Any] | None) -> list[str]:
    if not hardware:
        return ["- not exportable: no hardware cost"]
    return [
        f"- {hardware['bops']:,.0f} BOPs, {hardware.get('luts', 0):,} LUTs "
        "(distributed arithmetic, da4ml's cost model), "
        f"quantized sparsity {hardware.get('sparsity', 0):.3f}",
    ]


def _firmware_lines(firmware: dict[str, Any] | None) -> list[str]:
    if not firmware:
        return ["- not exported yet (`smartml export RUN --hls` or `--rtl`)"]
    verification = firmware.get("verification", {})
    fraction = verification.get("bit_identical_fraction")
    examples = verification.get("examples", verification.get("clusters"))
    agreement = f"{fraction:.2%}" if isinstance(fraction, float) else "unknown"
    return [
        f"- project `{firmware.get('project')}`: {agreement} of {examples} test examples "
        f"bit-identical to QKeras ({'passed' if verification.get('passed') else 'failed'})",
    ]
