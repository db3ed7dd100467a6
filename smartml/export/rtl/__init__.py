"""RTL that open tools check: a QKeras model as da4ml Verilog, simulated with Verilator
(or Icarus Verilog) against QKeras bit for bit, optionally synthesized with Yosys.

:func:`export_rtl` is the one entry point. The pieces:

* :mod:`~smartml.hardware.rtl.arithmetic`: QKeras' rounding and means on da4ml arrays;
* :mod:`~smartml.hardware.rtl.windows`: convolution and pooling windows;
* :mod:`~smartml.export.rtl.trace`: the model traced with the layer handlers' ``trace``;
* :mod:`~smartml.export.rtl.project`: the Verilog project and its test bench;
* :mod:`~smartml.export.rtl.simulation`, :mod:`~smartml.export.rtl.synthesis`:
  Verilator or Icarus Verilog, and Yosys.

By default the design is combinational (da4ml's ``CombLogic``, no registers); its
latency is da4ml's estimate of the adder depth on the longest path. With
``stage_levels`` it is cut into register stages of at most that many adder levels each
(da4ml's ``to_pipeline``): it then takes a new example on every clock edge (initiation
interval one clock) and answers ``stages`` clock edges later, which the test bench
checks on every example (:mod:`~smartml.export.rtl.project`). How many adder levels fit
in one clock period is the user's assumption about the device (da4ml's own examples
put about one level per nanosecond on a Virtex UltraScale+ -2); open tools do not
place, route or time the design.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from da4ml.trace.pipeline import to_pipeline  # type: ignore[import-untyped]

from smartml.backend import keras
from smartml.errors import ExportError
from smartml.export.rtl import project, simulation, synthesis
from smartml.export.rtl.trace import trace_model
from smartml.export.verification import compare_outputs
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.graph import input_layers

log = logging.getLogger(__name__)


def export_rtl(
    model: keras.Model,
    input_types: dict[str, FixedType],
    inputs: Sequence[np.ndarray],
    reference: np.ndarray,
    destination: Path,
    synth: bool = False,
    clock_period_ns: float = 25.0,
    stage_levels: int | None = None,
) -> dict:
    """Trace ``model``, write its Verilog project, simulate ``inputs`` and compare.

    Args:
        model: the trained QKeras model (functional, one output; not the copy with
            Catapult's pooling casts).
        input_types: the firmware type of each model input, by input name (as for the
            hls4ml export).
        inputs: one array ``(n, ...)`` per model input, in ``model.inputs`` order,
            already quantized to its type.
        reference: QKeras' outputs of ``inputs``, ``(n, outputs)``.
        destination: the project directory (created; e.g. ``<project>/rtl``).
        synth: also run Yosys' ``synth_xilinx`` (when on PATH).
        clock_period_ns: the clock of the pipeline's timing figures and of da4ml's
            vendor scripts.
        stage_levels: at most this many adder levels between registers; None: a
            combinational design.

    Returns:
        the report's ``rtl`` block: ``design``, ``top``, ``simulator``, ``examples``,
        the fields of :func:`~smartml.export.verification.compare_outputs`,
        ``output_lsb``, ``da4ml_cost_luts``, ``da4ml_latency`` (adder levels),
        ``pipeline`` (:func:`pipeline_timing`; None when combinational),
        ``timing_seconds`` and ``synthesis`` (None without ``synth``).

    Raises:
        UnsupportedLayerError, ExportError: a layer without an RTL rule, inputs off
            their types' grid, no simulator installed or one failing.
    """
    timing: dict[str, float] = {}
    start = time.perf_counter()
    flat = _flat_inputs(model, input_types, inputs)
    simulator = simulation.choose_simulator()
    version = simulation.simulator_version(simulator)
    traced = trace_model(model, input_types)
    design = traced.logic
    if stage_levels is not None:
        design = to_pipeline(traced.logic, stage_levels, verbose=False)
    timing["trace"] = _lap(start)
    start, top = time.perf_counter(), _top_name(model)
    destination.mkdir(parents=True, exist_ok=True)
    layouts = project.write_project(design, top, destination, clock_period_ns)
    project.write_vectors(destination, layouts, flat, np.reshape(reference, (len(flat), -1)))
    timing["write"] = _lap(start)
    sources = project.design_sources(destination, top, design)
    words, simulation_timing = simulation.run_testbench(
        destination, [f"src/{top}_wrapper.v", *sources], simulator
    )
    timing.update(simulation_timing)
    outputs = layouts[1].decode(words)
    lsb = traced.output_type.lsb
    pipeline = None
    if stage_levels is not None:
        pipeline = pipeline_timing(design, stage_levels, clock_period_ns)
    result = {
        "design": (
            "combinational (da4ml CombLogic, no registers)"
            if pipeline is None
            else f"pipelined (da4ml Pipeline, {pipeline['stages']} register stages)"
        ),
        "top": top,
        "simulator": version,
        "examples": len(flat),
        **compare_outputs(outputs, reference, lsb),
        "output_lsb": lsb,
        "da4ml_cost_luts": float(traced.logic.cost),
        "da4ml_latency": float(traced.logic.latency[1]),
        "pipeline": pipeline,
        "synthesis": synthesis.synthesize(destination, top, sources) if synth else None,
    }
    result["timing_seconds"] = timing
    log.info("RTL: %d examples simulated with %s", len(flat), version)
    return result


def pipeline_timing(design, stage_levels: int, clock_period_ns: float) -> dict:
    """The figures of a pipelined design at ``clock_period_ns``.

    Returns:
        ``stages``, ``adder_levels_per_stage`` (the cut), ``register_bits``,
        ``initiation_interval_cycles`` (1: a new example every clock edge),
        ``latency_cycles`` (edges from inputs registered to outputs registered),
        ``clock_period_ns``, ``initiation_interval_ns``, ``latency_ns`` and
        ``source``; the test bench checks both cycle counts on every example.
    """
    cycles = project.latency_cycles(design)
    if cycles is None:
        raise TypeError("pipeline_timing: the design is not a da4ml Pipeline")
    return {
        "stages": len(design.solutions),
        "adder_levels_per_stage": stage_levels,
        "register_bits": int(design.reg_bits),
        "initiation_interval_cycles": 1,
        "latency_cycles": cycles,
        "clock_period_ns": clock_period_ns,
        "initiation_interval_ns": clock_period_ns,
        "latency_ns": cycles * clock_period_ns,
        "source": "RTL simulation: a new example every clock edge, each compared "
        f"{cycles} edges later; {stage_levels} adder levels per clock period is assumed, "
        "not timed (no place and route)",
    }


def _flat_inputs(
    model: keras.Model, input_types: dict[str, FixedType], inputs: Sequence[np.ndarray]
) -> np.ndarray:
    """The inputs side by side, ``(n, Σ sizes)``, in the traced order; each checked to
    lie on its type (the RTL would otherwise truncate what QKeras saw)."""
    layers = input_layers(model)
    if len(inputs) != len(layers):
        raise ExportError(f"RTL export: {len(inputs)} input arrays for {len(layers)} model inputs")
    columns = []
    for layer, values in zip(layers, inputs, strict=True):
        values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
        if not np.array_equal(input_types[layer.name].quantize(values), values):
            raise ExportError(
                f"RTL export: input {layer.name!r} is not quantized to "
                f"{input_types[layer.name].hls()}"
            )
        columns.append(values)
    return np.concatenate(columns, axis=1)


def _top_name(model: keras.Model) -> str:
    """A Verilog identifier from the model's name."""
    return "smartml_" + re.sub(r"\W", "_", model.name)


def _lap(start: float) -> float:
    return round(time.perf_counter() - start, 3)
