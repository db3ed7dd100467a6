"""Export one complete run to an hls4ml project, verified against the QKeras model.

Steps (:func:`export_run`: the run's model and test set; :func:`export_model`: the
rest, for a model with one or several named inputs)::

    run dir ──> QKeras model, test set (the task), {model input name: examples}
            ──> one firmware type per input (its input quantizer, export.input_precision
                for all inputs or by name, or derived from the data)
            ──> per-layer precisions (qkeras_precision) ──> hls4ml Keras-2 converter
            ──> project written and C++ emulation compiled (g++)
            ──> test set through QKeras and through the emulation, VERIFY_CHUNK
                examples at a time: bit-for-bit agreement, task metrics from both
            ──> [--rtl: the model traced into da4ml Verilog (rtl/), the same examples
                 simulated by iverilog and compared bit for bit; --synth: Yosys]
            ──> report.json (layers, precisions, costs, estimates, agreement)
            ──> [--build: vendor synthesis]

The project is written to a hidden staging folder beside its destination and moved
into place only when complete, so an interrupted export never leaves a project
that looks finished. The project records the run it came from (``source.json``: run
directory, configuration fingerprint, sha256 of model.h5); an existing project is
replaced only by an export of the same run directory (see
:func:`check_project_owner`).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from qkeras import QActivation, quantized_bits

from smartml.backend import keras
from smartml.config import RunConfig
from smartml.config.export import DISTRIBUTED_ARITHMETIC, ExportConfig
from smartml.console import progress, timed_step
from smartml.errors import ExportError, OutputError, RunDirectoryError
from smartml.export import distributed_arithmetic
from smartml.export.firmware_graph import widened_pooling_inputs
from smartml.export.hls4ml_keras2 import convert
from smartml.export.qkeras_precision import hls_layer_config, layer_precisions, output_precision
from smartml.export.vendor_build import find_tool, missing_tool_message, synthesize
from smartml.export.verification import compare_outputs, layer_agreement
from smartml.files import file_sha256, publish_directory, read_json_object, write_json_atomic
from smartml.hardware import resource_estimate as estimate
from smartml.hardware.cost import hardware_report
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.graph import inbound_layers, input_layers
from smartml.hardware.precision import LayerPrecision, quantizer_type
from smartml.hardware.registry import handler_for
from smartml.models.exportability import export_refusal
from smartml.runs.directory import RunDirectory
from smartml.runs.provenance import provenance
from smartml.tasks.base import Task

log = logging.getLogger("smartml.export")

REPORT_VERSION = 1
DEFAULT_INPUT_WIDTH = 16
DEFAULT_PRECISION = "fixed<32,16,RND_CONV,SAT>"  # only for types hls4ml adds itself
DIAGNOSED_EXAMPLES = 200
# Examples quantized, predicted and C-simulated per step, so that the export holds the
# test set once plus temporaries of one chunk: its float32 firmware inputs,
# FixedType.quantize's float64 copies (a few at once), the model's activations. For
# pixel_20t clusters (13x21x20 values) that is 22 MB per float32 and 45 MB per float64
# copy; measured (benchmarks/export_memory.py): the test set + ~250 MB at 1024 and
# + ~450 MB at 2048. Smaller chunks save little more and larger ones buy no speed:
# hls4ml calls the emulation once per example anyway.
VERIFY_CHUNK = 1024
SOURCE_RECORD = "source.json"

Inputs = dict[str, np.ndarray]  # model input name -> examples (first axis)


def export_run(
    run_dir: RunDirectory,
    config: RunConfig,
    build: bool = False,
    rtl: bool = False,
    synth: bool = False,
) -> dict:
    """Export, verify and report; returns the report (also written as report.json).

    Args:
        run_dir: a complete run; config: its configuration, whose ``export`` block
            holds the settings (command-line values already applied).
        build: run the vendor synthesis when its tool is installed.
        rtl: also write the Verilog project (``rtl/``) and simulate it.
        synth: also synthesize the Verilog with Yosys (implies ``rtl``).

    Raises:
        ExportError: a model its builder declares not exportable, an unsupported layer
            or quantizer, or an input type that cannot hold the data.
    """
    from smartml.runs.opening import open_verified_run

    check_exportable(config)
    source = run_source(run_dir)
    check_project_owner(Path(config.export.output_dir) / config.name, source)
    with timed_step(log, f"loading {run_dir.path}: model and test set"):
        run_dir, task, model = open_verified_run(run_dir.path)
        examples = task.examples("test", config.export.verify_examples)

    def metrics(outputs: np.ndarray) -> dict:
        return task.metrics_from_outputs(outputs, examples)

    run = {"run": config.name, "run_dir": str(run_dir.path)}
    report = export_model(
        model,
        examples.inputs,
        metrics,
        config.export,
        config.name,
        run,
        build,
        source,
        rtl=rtl,
        synth=synth,
    )
    _update_model_card(run_dir, task, Path(config.export.output_dir) / config.name, report)
    return report


def _update_model_card(run_dir: RunDirectory, task: Task, project: Path, report: dict) -> None:
    """The run's model card with the firmware's agreement; a run folder that cannot be
    written (a colleague's run) keeps its card, with one warning line."""
    from smartml.evaluation.run import write_model_card

    firmware = {"project": str(project), "verification": report["verification"]}
    try:
        write_model_card(run_dir, task, firmware)
    except OutputError as err:
        log.warning("model card not updated: %s", err)


def check_exportable(config: RunConfig) -> None:
    """Refuse, in one line naming the model and the reason its builder gives
    (:func:`smartml.models.exportability.export_refusal`), a run whose configured
    model is not exportable."""
    reason = export_refusal(config.model)
    if reason is not None:
        raise ExportError(
            f"run {config.name!r}: model {config.model.name!r} cannot be exported to firmware: "
            f"{reason}"
        )


def run_source(run_dir: RunDirectory) -> dict:
    """What a project records of the complete run it came from: the run directory
    (absolute), its configuration fingerprint and the sha256 of its model.h5."""
    from smartml.config.fingerprint import fingerprint

    recorded = run_dir.completion().get("fingerprint")
    return {
        "run_dir": str(run_dir.path.resolve()),
        "fingerprint": recorded or fingerprint(run_dir.read_json(run_dir.config)),
        "model_sha256": file_sha256(run_dir.model, RunDirectoryError),
    }


def check_project_owner(destination: Path, source: dict) -> None:
    """Refuse (one line) to replace a project that is not provably an earlier export
    of the same run directory: one whose source.json names another run, or a
    non-empty directory without source.json.

    Args:
        destination: the project directory; source: :func:`run_source` of the run
            being exported (``run_dir`` None for a model exported without a run).
    """
    if not destination.exists():
        return
    if not destination.is_dir():
        raise ExportError(f"{destination}: exists and is not a directory; choose --output")
    if not any(destination.iterdir()):
        return
    record = destination / SOURCE_RECORD
    if not record.is_file():
        raise ExportError(
            f"{destination}: exists and holds no {SOURCE_RECORD} naming the run it came from; "
            "choose --output or remove it"
        )
    owner = read_json_object(record, "project's source record", ExportError).get("run_dir")
    if owner != source["run_dir"]:
        raise ExportError(
            f"{destination}: was exported from {owner or 'a model without a run'}; "
            "choose --output or remove it"
        )


def export_model(
    model: keras.Model,
    inputs: Inputs,
    metrics: Callable[[np.ndarray], dict],
    settings: ExportConfig,
    name: str,
    run: dict,
    build: bool = False,
    source: dict | None = None,
    rtl: bool = False,
    synth: bool = False,
) -> dict:
    """The export core: input types, precisions, hls4ml project, C simulation of
    ``inputs`` compared with QKeras, [Verilog simulated and compared], layer table,
    report.json.

    Args:
        model: the QKeras model; inputs: test examples per model input name.
        metrics: task metrics of model outputs (on ``inputs``' examples).
        settings: the export settings; name: the project's folder under
            ``settings.output_dir``; run: entries copied into the report.
        build: run the vendor synthesis when its tool is installed.
        source: the run the model comes from (:func:`run_source`), written as
            source.json; None: a model without a run.
        rtl: also trace the model into da4ml Verilog under ``rtl/`` and simulate
            ``inputs`` with iverilog (:func:`smartml.export.rtl.export_rtl`); its
            agreement is the ``rtl`` block, gated like the C simulation.
        synth: also run Yosys' ``synth_xilinx`` on that design (implies ``rtl``).

    Returns:
        the report, also written as ``<output_dir>/<name>/report.json``.

    Raises:
        ExportError: the destination holds a project of another run, or files that
            are no project of smartml (:func:`check_project_owner`).
    """
    started = time.perf_counter()
    source = source or {"run_dir": None}
    destination = Path(settings.output_dir) / name
    check_project_owner(destination, source)
    n_examples = _example_count(model, inputs, name)
    with timed_step(log, f"deriving precisions, QKeras outputs of {n_examples} inputs"):
        input_types = firmware_input_types(model, settings.input_precision, inputs)
        types = {key: fixed for key, (fixed, _) in input_types.items()}
        firmware_inputs = ExampleChunks(model, inputs, types)
        firmware_model = model
        if settings.backend == "Catapult":
            firmware_model = widened_pooling_inputs(model, types)
        if settings.strategy == DISTRIBUTED_ARITHMETIC:
            firmware_model = distributed_arithmetic.with_quantized_weights(model)
        precisions = layer_precisions(firmware_model, types)
        reference = _predict(model, firmware_inputs)
    if firmware_model is not model and not np.array_equal(
        _predict(firmware_model, firmware_inputs), reference
    ):
        change = "widened pooling inputs" if settings.backend == "Catapult" else "weights"
        raise ExportError(f"internal: the firmware model's {change} changed the QKeras outputs")

    try:
        with publish_directory(destination, "the firmware project", ExportError) as staging:
            write_json_atomic(staging / SOURCE_RECORD, source, ExportError)
            report = _build_project(
                staging, name, firmware_model, precisions, settings, firmware_inputs, reference
            )
            agreement = report["verification"]
            agreement.update(
                examples=n_examples,
                threshold=settings.agreement_threshold,
                passed=agreement["bit_identical_fraction"] >= settings.agreement_threshold,
                metrics_keras=metrics(reference),
                metrics_firmware=metrics(report.pop("_firmware_outputs")),
            )
            if any(source.startswith(("derived", "export")) for _, source in input_types.values()):
                # The model itself takes float inputs: show what the input types cost.
                float_inputs = ExampleChunks(model, inputs)
                agreement["metrics_keras_float_inputs"] = metrics(_predict(model, float_inputs))
            report.update(
                run,
                **_input_precision_entries(input_types),
                output_precision=output_precision(firmware_model, precisions).hls(),
            )
            hls_model = report.pop("_hls_model")
            report["layers"], report["totals"] = layer_table(firmware_model, precisions, settings)
            report["resource_estimate"] = {
                "tool": estimate.TOOL,
                "limits": estimate.LIMITS,
                "validated": False,
            }
            if settings.strategy == DISTRIBUTED_ARITHMETIC:
                report["distributed_arithmetic"] = _distributed_arithmetic(
                    hls_model, firmware_model, report["layers"]
                )
            report["synthesis"] = _synthesis(hls_model, settings, destination, build)
            if rtl or synth:
                report["rtl"] = _verified_rtl(
                    model, types, firmware_inputs, reference, staging / "rtl", settings, synth
                )
            report["timing_seconds"]["total"] = round(time.perf_counter() - started, 1)
            report["provenance"] = provenance()
            write_json_atomic(staging / "report.json", report, ExportError)
    finally:
        # hls4ml's Catapult writer leaves an archive of the (staging) project beside it
        for archive in destination.parent.glob(f".{destination.name}.partial-*.tar.gz"):
            archive.unlink(missing_ok=True)
    return report


def input_names(model: keras.Model) -> list[str]:
    """Names of the model's input layers, in the model's (and hls4ml's) input order."""
    return [layer.name for layer in input_layers(model)]


def _example_count(model: keras.Model, inputs: Inputs, name: str) -> int:
    """The number of test examples, checked to be the same for every model input."""
    expected = input_names(model)
    if sorted(inputs) != sorted(expected):
        raise ExportError(
            f"{name}: test inputs {sorted(inputs)} do not match the model inputs {expected}"
        )
    counts = {len(x) for x in inputs.values()}
    if len(counts) != 1:
        raise ExportError(
            f"{name}: test inputs differ in length: { {k: len(x) for k, x in inputs.items()} }"
        )
    (count,) = counts
    if count == 0:
        raise ExportError(f"{name}: the test set is empty; nothing to verify")
    return count


def _input_precision_entries(input_types: dict[str, tuple[FixedType, str]]) -> dict:
    """``input_precision`` and its source: strings for one input (as ever), dicts by
    input name for several."""
    if len(input_types) == 1:
        ((fixed, source),) = input_types.values()
        return {"input_precision": fixed.hls(), "input_precision_source": source}
    return {
        "input_precision": {key: fixed.hls() for key, (fixed, _) in input_types.items()},
        "input_precision_source": {key: source for key, (_, source) in input_types.items()},
    }


def firmware_input_types(
    model: keras.Model, requested: str | dict[str, str] | None, inputs: Inputs
) -> dict[str, tuple[FixedType, str]]:
    """(type, where it came from) of each model input in firmware, by input name.

    Args:
        model: the QKeras model.
        requested: ``export.input_precision``: one type for every input, types by
            input name (inputs not named are derived), or None.
        inputs: test examples by model input name.

    Raises:
        ExportError: a requested name that is no model input, or a type that cannot
            hold the test inputs.
    """
    names = input_names(model)
    if isinstance(requested, dict):
        unknown = sorted(set(requested) - set(names))
        if unknown:
            raise ExportError(
                f"export.input_precision.{unknown[0]}: the model has no input of that name; "
                f"inputs: {', '.join(names)}"
            )
        return {
            key: firmware_input_type(
                model, requested.get(key), inputs[key], key, f"export.input_precision.{key}"
            )
            for key in names
        }
    return {key: firmware_input_type(model, requested, inputs[key], key) for key in names}


def firmware_input_type(
    model: keras.Model,
    requested: str | None,
    inputs: np.ndarray,
    input_name: str | None = None,
    setting: str = "export.input_precision",
) -> tuple[FixedType, str]:
    """(type of one firmware input, where it came from).

    The model's own input quantizer (a ``QActivation(quantized_bits)``, the input's
    only consumer) wins; then ``requested`` (the ``setting``); else
    :data:`DEFAULT_INPUT_WIDTH` bits with the integer bits the largest input needs.

    Args:
        input_name: the model input; None for a model's single input.
    """
    input_name = input_name or input_names(model)[0]
    quantizer = _input_quantizer(model, input_name)
    if quantizer is not None:
        return quantizer_type(quantizer.quantizer, f"layer {quantizer.name!r}"), (
            f"model input quantizer {quantizer.name!r}"
        )
    if requested is not None:
        chosen = FixedType.parse(requested)
        outside = sum(
            np.count_nonzero((chunk < chosen.min) | (chunk > chosen.max))
            for chunk in _row_chunks(inputs)
        )
        if outside:
            raise ExportError(
                f"{setting} {requested}: {outside} test inputs lie outside its range "
                f"[{chosen.min:g}, {chosen.max:g}] (largest |x| = {input_range(inputs)[0]:g})"
            )
        return chosen, setting
    largest, signed, finite = input_range(inputs)
    if not finite:
        raise ExportError(
            f"the test inputs {input_name!r} contain NaN or inf; cannot choose an input type"
        )
    integer = max(0, math.ceil(math.log2(largest + 1e-12))) + int(signed) if largest else 1
    chosen = FixedType(DEFAULT_INPUT_WIDTH, integer, signed)
    return (
        chosen,
        f"derived: {DEFAULT_INPUT_WIDTH} bits covering the test inputs (max |x| = {largest:.4g})",
    )


def input_range(inputs: np.ndarray) -> tuple[float, bool, bool]:
    """(largest |x|, any x < 0, all finite) of ``inputs``, scanned
    :data:`VERIFY_CHUNK` examples at a time (no temporary of the whole array).

    Args:
        inputs: examples along the first axis.

    Returns:
        the largest absolute value (NaN when a value is NaN; 0 for no values),
        whether a value is negative, whether every value is finite.

    >>> input_range(np.array([[0.5, -3.0], [2.0, 1.0]]))
    (3.0, True, True)
    """
    largest, signed, finite = [], False, True
    for chunk in _row_chunks(inputs):
        largest.append(np.abs(chunk).max(initial=0.0))
        signed = signed or bool((chunk < 0).any())
        finite = finite and bool(np.isfinite(chunk).all())
    return float(np.max(largest, initial=0.0)), signed, finite


def _row_chunks(x: np.ndarray) -> Iterator[np.ndarray]:
    """Views of at most :data:`VERIFY_CHUNK` examples (rows) of ``x``."""
    for start in range(0, len(x), VERIFY_CHUNK):
        yield x[start : start + VERIFY_CHUNK]


class ExampleChunks:
    """A model's inputs handed out a few examples at a time, in the model's (and
    hls4ml's) input order, as C-contiguous float32 arrays, quantized to their
    firmware types when given: the whole input set is never copied.

    Args:
        model: the model whose inputs these are; inputs: examples by input name
            (same count for every input).
        types: firmware type of each input; None: the inputs as they are (in float32).
    """

    def __init__(
        self, model: keras.Model, inputs: Inputs, types: dict[str, FixedType] | None = None
    ):
        self._arrays = [inputs[key] for key in input_names(model)]
        self._types = [types[key] for key in input_names(model)] if types else None

    def __len__(self) -> int:
        return len(self._arrays[0])

    def rows(self, index: slice | np.ndarray) -> list[np.ndarray]:
        """The examples ``index`` selects, one array per model input."""
        if self._types is None:
            return [np.ascontiguousarray(x[index], dtype=np.float32) for x in self._arrays]
        return [
            np.ascontiguousarray(fixed.quantize(x[index]), dtype=np.float32)
            for fixed, x in zip(self._types, self._arrays, strict=True)
        ]

    def __iter__(self) -> Iterator[list[np.ndarray]]:
        """Consecutive chunks of :data:`VERIFY_CHUNK` examples, in order."""
        for start in range(0, len(self), VERIFY_CHUNK):
            yield self.rows(slice(start, start + VERIFY_CHUNK))


def _input_quantizer(model: keras.Model, input_name: str):
    """The ``QActivation(quantized_bits)`` that is the only consumer of an input."""
    consumers = [layer for layer in model.layers if inbound_layers(layer) == [input_name]]
    if len(consumers) != 1:
        return None
    (layer,) = consumers
    if isinstance(layer, QActivation) and isinstance(layer.quantizer, quantized_bits):
        return layer
    return None


def _predict(model: keras.Model, inputs: ExampleChunks) -> np.ndarray:
    """Keras outputs of every example, computed chunk by chunk.

    The model is called directly: each ``model.predict`` call (tf_keras 2.21) keeps
    about a chunk's worth of memory, which over a large test set adds up to a copy of it.
    """
    outputs = []
    with progress(len(inputs), "example", "QKeras outputs") as bar:
        for chunk in inputs:
            outputs.append(np.asarray(model(_model_arguments(chunk), training=False)))
            bar.update(len(chunk[0]))
    return np.concatenate(outputs)


def _simulate(hls_model, inputs: ExampleChunks) -> np.ndarray:
    """C-simulation outputs of every example, (n, outputs) in float64, chunk by chunk."""
    outputs = []
    with progress(len(inputs), "example", "C simulation") as bar:
        for chunk in inputs:
            predicted = np.asarray(hls_model.predict(_model_arguments(chunk)), dtype=np.float64)
            outputs.append(predicted.reshape(len(chunk[0]), -1))
            bar.update(len(chunk[0]))
    return np.concatenate(outputs)


def _model_arguments(arrays: list[np.ndarray]):
    """Keras' and hls4ml's argument: one array, or a list for several inputs."""
    return arrays if len(arrays) > 1 else arrays[0]


def _project_name(run_name: str, model: keras.Model) -> str:
    """A C++ identifier from the run name; hls4ml names the top function after the
    project and the input variables after the input layers, so a clash gets a suffix.

    >>> inputs = keras.Input((2,), name="points")
    >>> model = keras.Model(inputs, keras.layers.Flatten(name="flat")(inputs))
    >>> _project_name("pixel-2t", model), _project_name("2t", model), _project_name("points", model)
    ('pixel_2t', 'model_2t', 'points_firmware')
    """
    name = re.sub(r"\W", "_", run_name)
    name = name if name[:1].isalpha() else f"model_{name}"
    return f"{name}_firmware" if name in {layer.name for layer in model.layers} else name


def _build_project(
    staging: Path,
    run_name: str,
    model: keras.Model,
    precisions: list[LayerPrecision],
    settings: ExportConfig,
    inputs: ExampleChunks,
    reference: np.ndarray,
) -> dict:
    """Convert, write, compile and run the emulation; the partial report.

    Args:
        inputs: the firmware (quantized) inputs; reference: QKeras' outputs of them.
    """
    vectors = staging / "testbench_vectors"
    vectors.mkdir()
    n_examples = len(reference)
    n_tb = min(settings.testbench_vectors, n_examples)
    # hls4ml's test bench reads each example's inputs flattened one after the other.
    flat = [x.reshape(n_tb, -1) for x in inputs.rows(slice(0, n_tb))]
    np.save(vectors / "inputs.npy", np.concatenate(flat, axis=1))
    np.save(vectors / "outputs.npy", reference[:n_tb])
    timing = {}
    with timed_step(log, f"converting to hls4ml ({settings.backend})") as step:
        hls_model = convert(
            model,
            hls_layer_config(precisions),
            backend=settings.backend,
            part=settings.resolved_part(),
            output_dir=str(staging),
            project_name=_project_name(run_name, model),
            clock_period_ns=settings.clock_period_ns,
            io_type=settings.io_type,
            strategy=settings.strategy,
            reuse_factor=settings.reuse_factor,
            default_precision=DEFAULT_PRECISION,
            input_data=str(vectors / "inputs.npy"),
            output_data=str(vectors / "outputs.npy"),
        )
    timing["convert"] = step.seconds
    with timed_step(log, "writing the project, compiling its C++ emulation (g++)") as step:
        hls_model.compile()
    timing["compile"] = step.seconds
    with timed_step(log, f"C-simulating {n_examples} inputs") as step:
        firmware = _simulate(hls_model, inputs)
    timing["csim"] = step.seconds
    output_lsb = output_precision(model, precisions).lsb
    with timed_step(log, "comparing with QKeras bit for bit"):
        verification = {
            **compare_outputs(firmware, reference, output_lsb),
            "output_lsb": output_lsb,
        }
        if verification["bit_identical_fraction"] < 1.0:
            chosen = _differing_examples(firmware, reference)[:DIAGNOSED_EXAMPLES]
            sample = inputs.rows(chosen)
            verification["layers"] = _diagnose(hls_model, model, sample) if chosen.size else []
    log.info(
        "C simulation of %d inputs: %.4f%% of outputs bit-identical, largest difference %g LSB",
        n_examples,
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


def _differing_examples(firmware: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Indices of the examples with an output that differs between firmware and QKeras.

    >>> _differing_examples(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 5.0]]))
    array([1])
    """
    return np.flatnonzero((firmware != reference.reshape(len(firmware), -1)).any(axis=1))


def _diagnose(hls_model, model: keras.Model, sample: list[np.ndarray]) -> list[dict]:
    """Layer-by-layer agreement (hls4ml trace against QKeras) on a few examples.

    Args:
        hls_model: the compiled hls4ml model; model: the QKeras model it came from.
        sample: firmware inputs of the examples (those whose outputs differ), one
            float32 array per model input in the model's input order.
    """
    for layer in hls_model.get_layers():
        layer.set_attr("trace", True)
    _, trace = hls_model.trace(_model_arguments(sample))
    names = [layer.name for layer in model.layers if inbound_layers(layer)]
    probe = keras.Model(model.inputs, [model.get_layer(name).output for name in names])
    outputs = probe.predict(_model_arguments(sample), verbose=0)
    keras_outputs = dict(zip(names, outputs if len(names) > 1 else [outputs], strict=True))
    # hls4ml splits a separable convolution; its pointwise half ends where Keras' layer does.
    for name in list(trace):
        if name.endswith("_pointwise") and name[: -len("_pointwise")] in keras_outputs:
            trace[name[: -len("_pointwise")]] = trace.pop(name)
    return layer_agreement(trace, keras_outputs)


def layer_table(
    model: keras.Model, precisions: list[LayerPrecision], settings: ExportConfig
) -> tuple[list[dict], dict]:
    """One row per Keras layer, from its handler: precisions, parameters,
    multiplications, zero weights, bit operations, the DA LUTs predicted by
    :mod:`smartml.hardware.da_cost` (``predicted_da_luts``, as MDMM and tune use them),
    the analytic Latency-strategy latency and LUTs; and their totals."""
    types = {p.name: p.types["result"] for p in precisions}
    input_bits = max(types[key].width for key in input_names(model))
    costs = hardware_report(model, default_bits=input_bits)["layers"]
    rows = []
    for layer, precision in zip(model.layers, precisions, strict=True):
        incoming = [types[name] for name in inbound_layers(layer)] or [types[layer.name]]
        row = {
            "name": layer.name,
            "class": type(layer).__name__,
            "precision": {role: t.hls() for role, t in precision.types.items()},
            "parameters": int(layer.count_params()),
            "multiplications": 0,
            "nonzero_multiplications": 0,
            "zero_weights": 0,
            "bops": 0.0,
            "predicted_da_luts": 0,
        }
        if layer.name in costs:
            cost = costs[layer.name]
            row.update(
                multiplications=cost["macs"],
                nonzero_multiplications=cost["nonzero_macs"],
                zero_weights=round(cost["weights"] * cost["sparsity"]),
                bops=cost["bops"],
                predicted_da_luts=round(cost["luts"]),
            )
        handler = handler_for(layer, "export")
        row["latency_cycles"], row["luts"] = handler.estimate(layer, precision, incoming, settings)
        row["dsps"] = 0
        rows.append(row)
    totals = {
        key: sum(row[key] for row in rows)
        for key in (
            "parameters",
            "multiplications",
            "nonzero_multiplications",
            "zero_weights",
            "bops",
            "predicted_da_luts",
            "latency_cycles",
            "luts",
            "dsps",
        )
    }
    return rows, totals


def _distributed_arithmetic(hls_model, model: keras.Model, rows: list[dict]) -> dict:
    """The whole model's DA figures; each layer's go into its row of ``rows`` (as
    ``distributed_arithmetic``, None for a layer without a DA kernel)."""
    costs = distributed_arithmetic.kernel_costs(hls_model, {layer.name for layer in model.layers})
    for row in rows:
        row["distributed_arithmetic"] = costs.get(row["name"])
    return distributed_arithmetic.totals(costs)


def _verified_rtl(
    model: keras.Model,
    types: dict[str, FixedType],
    inputs: ExampleChunks,
    reference: np.ndarray,
    destination: Path,
    settings: ExportConfig,
    synth: bool,
) -> dict:
    """The ``rtl`` block: the model as Verilog, every example simulated by iverilog and
    compared with QKeras, with the agreement threshold of the C simulation."""
    from smartml.export.rtl import export_rtl

    with timed_step(log, f"tracing to Verilog (da4ml), simulating {len(inputs)} inputs"):
        block = export_rtl(
            model,
            types,
            inputs.rows(slice(None)),
            reference,
            destination,
            synth=synth,
            clock_period_ns=settings.clock_period_ns,
            stage_levels=settings.rtl_stage_levels,
        )
    block.update(
        threshold=settings.agreement_threshold,
        passed=block["bit_identical_fraction"] >= settings.agreement_threshold,
    )
    log.info(
        "RTL simulation of %d inputs: %.4f%% of outputs bit-identical, largest difference %g LSB",
        block["examples"],
        100 * block["bit_identical_fraction"],
        block["max_difference_lsb"],
    )
    return block


def _synthesis(hls_model, settings: ExportConfig, destination: Path, build: bool) -> dict | None:
    if not build:
        return None
    if find_tool(settings.backend) is None:
        message = missing_tool_message(settings.backend, destination)
        log.warning(message)
        return {"ran": False, "message": message}
    return {"ran": True, "report": synthesize(hls_model, settings.backend)}
