"""Export one complete run to an hls4ml project, verified against the QKeras model.

Steps (:func:`export_run`)::

    run dir ──> QKeras model, test set (the task)
            ──> firmware input type (input quantizer, export.input_precision, or derived)
            ──> per-layer precisions (qkeras_precision) ──> hls4ml Keras-2 converter
            ──> project written and C++ emulation compiled (g++)
            ──> test set through QKeras and through the emulation: bit-for-bit agreement,
                task metrics from both
            ──> report.json (layers, precisions, costs, estimates, agreement)
            ──> [--build: vendor synthesis]

The project is written to a hidden staging folder beside its destination and moved
into place only when complete, so an interrupted export never leaves a project
that looks finished.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
from qkeras import QActivation, QConv2D, QDense, QSeparableConv2D, quantized_bits

from smartml.backend import keras
from smartml.config import RunConfig
from smartml.config.export import ExportConfig
from smartml.export import resource_estimate as estimate
from smartml.export.firmware_graph import widened_pooling_inputs
from smartml.export.fixed_point import FixedType
from smartml.export.hls4ml_keras2 import convert
from smartml.export.qkeras_precision import (
    ExportError,
    LayerPrecision,
    hls_layer_config,
    layer_precisions,
    quantizer_type,
)
from smartml.export.vendor_build import find_tool, missing_tool_message, synthesize
from smartml.export.verification import compare_outputs, layer_agreement
from smartml.training.hardware_cost import hardware_report
from smartml.training.run_directory import RunDirectory

log = logging.getLogger("smartml.export")

REPORT_VERSION = 1
DEFAULT_INPUT_WIDTH = 16
DEFAULT_PRECISION = "fixed<32,16,RND_CONV,SAT>"  # only for types hls4ml adds itself
DIAGNOSED_EXAMPLES = 200


def export_run(run_dir: RunDirectory, config: RunConfig, build: bool = False) -> dict:
    """Export, verify and report; returns the report (also written as report.json).

    Args:
        run_dir: a complete run; config: its configuration, whose ``export`` block
            holds the settings (command-line values already applied).
        build: run the vendor synthesis when its tool is installed.

    Raises:
        ExportError: unsupported layer or quantizer, or an input type that cannot hold
            the data.
    """
    from smartml.models.saved import load_model
    from smartml.registry import TASKS

    started = time.perf_counter()
    run_dir.require_complete()
    settings = config.export
    task = TASKS.get(config.task.name)(config, run_dir)
    task.prepare(fit=False)
    model = load_model(run_dir.model)
    inputs, truth = task.test_set(settings.verify_clusters)
    if len(inputs) == 0:
        raise ExportError(f"{run_dir.path}: the run's test split is empty; nothing to verify")

    input_type, input_source = firmware_input_type(model, settings.input_precision, inputs)
    firmware_inputs = input_type.quantize(inputs).astype(np.float32)
    firmware_model = model
    if settings.backend == "Catapult":
        firmware_model = widened_pooling_inputs(model, input_type)
    precisions = layer_precisions(firmware_model, input_type)
    output_type = precisions[-1].types["result"]
    reference = _predict(model, firmware_inputs)
    if firmware_model is not model and not np.array_equal(
        _predict(firmware_model, firmware_inputs), reference
    ):
        raise ExportError("internal: the widened pooling inputs changed the QKeras outputs")

    destination = Path(settings.output_dir) / config.name
    staging = destination.parent / f".{destination.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        report = _build_project(
            staging, config.name, firmware_model, precisions, settings, firmware_inputs, reference
        )
        agreement = report["verification"]
        agreement.update(
            clusters=len(inputs),
            threshold=settings.agreement_threshold,
            passed=agreement["bit_identical_fraction"] >= settings.agreement_threshold,
            metrics_keras=task.metrics_from_outputs(reference, truth),
            metrics_firmware=task.metrics_from_outputs(report.pop("_firmware_outputs"), truth),
        )
        if input_source.startswith("derived") or input_source.startswith("export"):
            # The model itself takes float inputs: show what the input type costs.
            agreement["metrics_keras_float_inputs"] = task.metrics_from_outputs(
                _predict(model, inputs.astype(np.float32)), truth
            )
        report.update(
            run=config.name,
            run_dir=str(run_dir.path),
            input_precision=input_type.hls(),
            input_precision_source=input_source,
            output_precision=output_type.hls(),
        )
        report["layers"], report["totals"] = layer_table(firmware_model, precisions, settings)
        report["resource_estimate"] = {"tool": estimate.TOOL, "limits": estimate.LIMITS}
        report["synthesis"] = _synthesis(report.pop("_hls_model"), settings, destination, build)
        report["timing_seconds"]["total"] = round(time.perf_counter() - started, 1)
        (staging / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        shutil.rmtree(destination, ignore_errors=True)
        os.replace(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        Path(f"{staging}.tar.gz").unlink(missing_ok=True)  # hls4ml's Catapult writer's archive
    return report


def firmware_input_type(
    model: keras.Model, requested: str | None, inputs: np.ndarray
) -> tuple[FixedType, str]:
    """(type of the firmware input, where it came from).

    The model's own input quantizer (a ``QActivation(quantized_bits)`` right after the
    input) wins; then ``requested`` (``export.input_precision``); else
    :data:`DEFAULT_INPUT_WIDTH` bits with the integer bits the largest input needs.
    """
    first = model.layers[1] if len(model.layers) > 1 else None
    if isinstance(first, QActivation) and isinstance(first.quantizer, quantized_bits):
        return quantizer_type(first.quantizer, f"layer {first.name!r}"), (
            f"model input quantizer {first.name!r}"
        )
    if requested is not None:
        chosen = FixedType.parse(requested)
        outside = np.count_nonzero((inputs < chosen.min) | (inputs > chosen.max))
        if outside:
            raise ExportError(
                f"export.input_precision {requested}: {outside} test inputs lie outside its "
                f"range [{chosen.min:g}, {chosen.max:g}] (largest |x| = {np.abs(inputs).max():g})"
            )
        return chosen, "export.input_precision"
    if not np.isfinite(inputs).all():
        raise ExportError("the test inputs contain NaN or inf; cannot choose an input type")
    largest = float(np.abs(inputs).max())
    signed = bool((inputs < 0).any())
    integer = max(0, math.ceil(math.log2(largest + 1e-12))) + int(signed) if largest else 1
    chosen = FixedType(DEFAULT_INPUT_WIDTH, integer, signed)
    return (
        chosen,
        f"derived: {DEFAULT_INPUT_WIDTH} bits covering the test inputs (max |x| = {largest:.4g})",
    )


def _predict(model: keras.Model, inputs: np.ndarray) -> np.ndarray:
    return model.predict(inputs, batch_size=8192, verbose=0)


def _project_name(run_name: str) -> str:
    name = re.sub(r"\W", "_", run_name)
    return name if name[:1].isalpha() else f"model_{name}"


def _build_project(
    staging: Path,
    run_name: str,
    model: keras.Model,
    precisions: list[LayerPrecision],
    settings: ExportConfig,
    inputs: np.ndarray,
    reference: np.ndarray,
) -> dict:
    """Convert, write, compile and run the emulation; the partial report."""
    vectors = staging / "testbench_vectors"
    vectors.mkdir()
    n_tb = min(settings.testbench_vectors, len(inputs))
    np.save(vectors / "inputs.npy", inputs[:n_tb])
    np.save(vectors / "outputs.npy", reference[:n_tb])
    timing = {}
    clock = time.perf_counter()
    hls_model = convert(
        model,
        hls_layer_config(precisions),
        backend=settings.backend,
        part=settings.resolved_part(),
        output_dir=str(staging),
        project_name=_project_name(run_name),
        clock_period_ns=settings.clock_period_ns,
        io_type=settings.io_type,
        strategy=settings.strategy,
        reuse_factor=settings.reuse_factor,
        default_precision=DEFAULT_PRECISION,
        input_data=str(vectors / "inputs.npy"),
        output_data=str(vectors / "outputs.npy"),
    )
    timing["convert"] = time.perf_counter() - clock
    clock = time.perf_counter()
    hls_model.compile()
    timing["compile"] = time.perf_counter() - clock
    clock = time.perf_counter()
    firmware = hls_model.predict(np.ascontiguousarray(inputs))
    timing["csim"] = time.perf_counter() - clock
    firmware = np.asarray(firmware, dtype=np.float64).reshape(len(inputs), -1)
    output_lsb = precisions[-1].types["result"].lsb
    verification = {**compare_outputs(firmware, reference, output_lsb), "output_lsb": output_lsb}
    if verification["bit_identical_fraction"] < 1.0:
        verification["layers"] = _diagnose(hls_model, model, inputs, firmware, reference)
    log.info(
        "C simulation of %d inputs: %.4f%% of outputs bit-identical, largest difference %g LSB",
        len(inputs),
        100 * verification["bit_identical_fraction"],
        verification["max_difference_lsb"],
    )
    return {
        "version": REPORT_VERSION,
        "backend": settings.backend,
        "part": settings.resolved_part(),
        "clock_period_ns": settings.clock_period_ns,
        "io_type": settings.io_type,
        "strategy": settings.strategy,
        "reuse_factor": settings.reuse_factor,
        "project": {
            "name": hls_model.config.get_project_name(),
            "testbench_vectors": n_tb,
        },
        "verification": verification,
        "timing_seconds": {key: round(value, 2) for key, value in timing.items()},
        "_firmware_outputs": firmware,
        "_hls_model": hls_model,
    }


def _diagnose(hls_model, model, inputs, firmware, reference) -> list[dict]:
    """Layer-by-layer agreement on examples whose outputs differ (hls4ml trace)."""
    differing = np.flatnonzero((firmware != reference.reshape(len(firmware), -1)).any(axis=1))
    if differing.size == 0:
        return []
    sample = np.ascontiguousarray(inputs[differing[:DIAGNOSED_EXAMPLES]])
    for layer in hls_model.get_layers():
        layer.set_attr("trace", True)
    _, trace = hls_model.trace(sample)
    names = [layer.name for layer in model.layers[1:]]
    probe = keras.Model(model.input, [model.get_layer(name).output for name in names])
    keras_outputs = dict(zip(names, probe.predict(sample, verbose=0), strict=True))
    # hls4ml splits a separable convolution; its pointwise half ends where Keras' layer does.
    for name in list(trace):
        if name.endswith("_pointwise") and name[: -len("_pointwise")] in keras_outputs:
            trace[name[: -len("_pointwise")]] = trace.pop(name)
    return layer_agreement(trace, keras_outputs)


def layer_table(
    model: keras.Model, precisions: list[LayerPrecision], settings: ExportConfig
) -> tuple[list[dict], dict]:
    """One row per Keras layer: precisions, parameters, multiplications, zero weights,
    bit operations, estimated latency and LUTs; and their totals."""
    input_bits = precisions[0].types["result"].width
    costs = hardware_report(model, default_bits=input_bits)["layers"]
    rows, incoming = [], precisions[0].types["result"]
    for layer, precision in zip(model.layers, precisions, strict=True):
        row = {
            "name": layer.name,
            "class": type(layer).__name__,
            "precision": {role: t.hls() for role, t in precision.types.items()},
            "parameters": int(layer.count_params()),
            "multiplications": 0,
            "nonzero_multiplications": 0,
            "zero_weights": 0,
            "bops": 0.0,
        }
        if layer.name in costs:
            cost = costs[layer.name]
            row.update(
                multiplications=cost["macs"],
                nonzero_multiplications=cost["nonzero_macs"],
                zero_weights=round(cost["weights"] * cost["sparsity"]),
                bops=cost["bops"],
            )
        row["latency_cycles"], row["luts"] = _layer_estimate(layer, precision, incoming, settings)
        row["dsps"] = 0
        rows.append(row)
        incoming = precision.types["result"]
    totals = {
        key: sum(row[key] for row in rows)
        for key in (
            "parameters",
            "multiplications",
            "nonzero_multiplications",
            "zero_weights",
            "bops",
            "latency_cycles",
            "luts",
            "dsps",
        )
    }
    return rows, totals


def _layer_estimate(layer, precision: LayerPrecision, incoming: FixedType, settings) -> tuple:
    """(latency cycles, LUTs) of one layer from :mod:`resource_estimate`."""
    types, reuse = precision.types, settings.reuse_factor
    output_shape = layer.output.shape[1:]
    positions = int(np.prod(output_shape[:-1])) if len(output_shape) > 1 else 1
    clock = settings.clock_period_ns
    if isinstance(layer, QDense | QConv2D):
        kernel = np.asarray(layer.kernel_quantizer_internal(layer.kernel))
        mult, tree, depth = estimate.kernel_logic(
            kernel, types["weight"], incoming.width, types["accum"].width
        )
        luts = math.ceil((mult + tree) / reuse)
        return estimate.latency_cycles(positions, depth + 1, reuse, clock), luts
    if isinstance(layer, QSeparableConv2D):
        depthwise = np.asarray(layer.depthwise_quantizer_internal(layer.depthwise_kernel))
        # each input channel has its own kh·kw filter: treat channels as outputs
        depthwise = np.moveaxis(depthwise, 2, -1).reshape(-1, depthwise.shape[2])
        dw_mult, dw_tree, dw_depth = estimate.kernel_logic(
            depthwise, types["depthwise"], incoming.width, types["depthwise_accum"].width
        )
        pointwise = np.asarray(layer.pointwise_quantizer_internal(layer.pointwise_kernel))
        pw_mult, pw_tree, pw_depth = estimate.kernel_logic(
            pointwise, types["pointwise"], types["depthwise_result"].width, types["result"].width
        )
        luts = math.ceil((dw_mult + dw_tree + pw_mult + pw_tree) / reuse)
        return estimate.latency_cycles(positions, dw_depth + pw_depth + 2, reuse, clock), luts
    if isinstance(layer, keras.layers.AveragePooling2D):
        window = int(np.prod(layer.pool_size))
        elements = int(np.prod(output_shape))
        luts = elements * ((window - 1) * types["accum"].width + 2 * types["result"].width)
        depth = math.ceil(math.log2(window)) + 1
        return estimate.latency_cycles(1, depth, reuse, clock), luts
    if isinstance(layer, QActivation):
        result = types["result"]
        widening = result.fractional >= incoming.fractional and result.max_abs >= incoming.max_abs
        if widening:
            return 0, 0  # a cast to a wider type is wiring
        return 1, 2 * result.width * int(np.prod(output_shape))
    return 0, 0


def _synthesis(hls_model, settings: ExportConfig, destination: Path, build: bool) -> dict | None:
    if not build:
        return None
    if find_tool(settings.backend) is None:
        message = missing_tool_message(settings.backend, destination)
        log.warning(message)
        return {"ran": False, "message": message}
    return {"ran": True, "report": synthesize(hls_model, settings.backend)}
