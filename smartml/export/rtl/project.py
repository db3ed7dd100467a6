"""The Verilog project: da4ml's design files, a test bench and its vectors.

Layout of the destination (``<project>/rtl/``)::

    src/<top>.v, src/<top>_wrapper.v, src/static/*.v   da4ml's design (LGPL-3.0 primitives)
    model/comb.json, metadata.json, build_*_prj.tcl    da4ml's solution and vendor scripts
    tb/testbench.v, tb/vectors.hex                     test bench, one example a line
    simulate.sh                                        the bench in Icarus Verilog

The test bench drives ``<top>_wrapper``, whose ports give every value the same width
(``IoLayout``): example ``e``'s line in ``vectors.hex`` is its inputs and the expected
(QKeras) outputs in hex; the bench writes the design's outputs, one line per example,
and prints how many differ. A pipelined design (da4ml's ``Pipeline``: register stages
``src/<top>_stage<i>.v``) gets a new example on every clock edge and its outputs are
compared ``latency`` edges later, so a passing bench measures an initiation interval of
one clock and that latency.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from da4ml.codegen.rtl import RTLModel  # type: ignore[import-untyped]
from da4ml.types import Pipeline, minimal_kif  # type: ignore[import-untyped]

VECTORS = "tb/vectors.hex"
OUTPUTS = "tb/outputs.hex"
# The bench reads an example's inputs as words of at most this many bits: Verilator
# refuses a $fscanf argument over 8192 bits (a pixel cluster's 546 inputs take 8736).
WORD_BITS = 4096


@dataclass(frozen=True)
class IoLayout:
    """How the wrapper packs values: each in ``width`` bits, ``fractional`` of them
    below the binary point, value ``j`` in bits ``[j·width, (j+1)·width)``."""

    count: int
    width: int
    fractional: int
    signed: bool

    @classmethod
    def of(cls, qints: list) -> IoLayout:
        """The layout da4ml's ``generate_io_wrapper`` gives these intervals."""
        signs, integers, fractionals = zip(*map(minimal_kif, qints), strict=True)
        fractional = max(fractionals)
        return cls(len(qints), max(integers) + max(signs) + fractional, fractional, any(signs))

    @property
    def bits(self) -> int:
        return self.count * self.width

    def encode(self, values: np.ndarray) -> list[str]:
        """Rows of ``(n, count)`` values as hex words, value 0 in the lowest bits."""
        steps = np.round(np.asarray(values, np.float64) * 2.0**self.fractional).astype(np.int64)
        mask = (1 << self.width) - 1
        digits = -(-self.bits // 4)
        return [
            format(sum((int(v) & mask) << (j * self.width) for j, v in enumerate(row)), "x").zfill(
                digits
            )
            for row in steps
        ]

    @property
    def words(self) -> int:
        """Words of at most :data:`WORD_BITS` the bench reads the values in."""
        return -(-self.bits // WORD_BITS)

    def encode_words(self, values: np.ndarray) -> list[str]:
        """:meth:`encode`, each row split into :attr:`words` space-separated hex words,
        the most significant first."""
        digits = WORD_BITS // 4
        rows = []
        for word in self.encode(values):
            word = word.zfill(self.words * digits)
            rows.append(" ".join(word[i : i + digits] for i in range(0, len(word), digits)))
        return rows

    def decode(self, words: list[str]) -> np.ndarray:
        """Hex words back to ``(n, count)`` values (two's complement where signed)."""
        mask = (1 << self.width) - 1
        half = 1 << (self.width - 1)
        rows = []
        for word in words:
            packed = int(word, 16)
            fields = [(packed >> (j * self.width)) & mask for j in range(self.count)]
            if self.signed:
                fields = [f - 2 * half if f >= half else f for f in fields]
            rows.append(fields)
        return np.array(rows, dtype=np.float64).reshape(-1, self.count) * 2.0**-self.fractional


def write_project(
    design, top: str, destination: Path, clock_period_ns: float
) -> tuple[IoLayout, IoLayout]:
    """da4ml's design, the test bench and ``simulate.sh``.

    Args:
        design: the traced ``CombLogic``, or a ``Pipeline`` of it (:func:`stages`).
        top: the design's module name.
        destination: the project directory (created).
        clock_period_ns: written into da4ml's vendor scripts and constraints.

    Returns:
        the input and output layouts of the wrapper.
    """
    model = RTLModel(design, top, destination, flavor="verilog", clock_period=clock_period_ns)
    model.write()
    inputs, outputs = IoLayout.of(design.inp_qint), IoLayout.of(design.out_qint)
    (destination / "tb").mkdir(exist_ok=True)
    bench = _testbench(top, inputs, outputs, latency_cycles(design))
    (destination / "tb/testbench.v").write_text(bench)
    script = destination / "simulate.sh"
    script.write_text(_simulate_script(top, design_sources(destination, top, design)))
    script.chmod(0o755)
    return inputs, outputs


def latency_cycles(design) -> int | None:
    """Clock edges from an example's inputs being registered to its outputs being
    registered: one per stage of a ``Pipeline`` (its inputs and its outputs are
    registered); None for a combinational design."""
    return len(design.solutions) if isinstance(design, Pipeline) else None


def design_sources(destination: Path, top: str, design) -> list[str]:
    """The Verilog files of the design, relative to ``destination``. da4ml's
    ``lookup_table.v`` only where the design has tables: iverilog 11 rejects it."""
    static = sorted(p.name for p in (destination / "src/static").glob("*.v"))
    parts = design.solutions if isinstance(design, Pipeline) else [design]
    if not any(part.lookup_tables for part in parts):
        static = [name for name in static if name != "lookup_table.v"]
    stages = [f"src/{top}_stage{i}.v" for i in range(len(parts))] if parts[0] is not design else []
    return [f"src/{top}.v", *stages, *(f"src/static/{name}" for name in static)]


def write_vectors(
    destination: Path,
    layouts: tuple[IoLayout, IoLayout],
    inputs: np.ndarray,
    expected: np.ndarray,
) -> None:
    """``tb/vectors.hex``: per example its inputs and expected outputs."""
    rows = zip(layouts[0].encode_words(inputs), layouts[1].encode(expected), strict=True)
    (destination / VECTORS).write_text("".join(f"{a} {b}\n" for a, b in rows))


def _testbench(top: str, inputs: IoLayout, outputs: IoLayout, latency: int | None) -> str:
    if latency is not None:
        return _pipelined_testbench(top, inputs, outputs, latency)
    words, declarations, read = _read_words(inputs)
    return f"""`timescale 1ns / 1ps
// smartml test bench: drives {top}_wrapper with each line of +vectors (inputs in words of
// at most {WORD_BITS} bits, then the expected outputs, in hex), writes the outputs to
// +outputs, counts the differences.
module testbench;
    // The words are read, then assigned: Verilator 5.006 does not re-evaluate the design
    // when $fscanf itself writes its inputs.
    reg [{inputs.bits - 1}:0] model_inp;
{declarations}
    reg [{outputs.bits - 1}:0] expected;
    wire [{outputs.bits - 1}:0] model_out;
    integer vectors, results, count, examples, differing;
    reg [1023:0] vectors_path, outputs_path;

    {top}_wrapper dut (.model_inp(model_inp), .model_out(model_out));

    initial begin
{_OPEN_FILES}        examples = 0;
        differing = 0;
        count = {read};
        while (count == {inputs.words + 1}) begin
            model_inp = {{{", ".join(words)}}};
            #1;
            $fdisplay(results, "%h", model_out);
            examples = examples + 1;
            if (model_out !== expected) differing = differing + 1;
            count = {read};
        end
        $fclose(results);
        $display("examples %0d differing %0d", examples, differing);
        $finish;
    end
endmodule
"""


# Both benches: the +vectors and +outputs files opened (defaults: the project's).
_OPEN_FILES = "".join(
    f"        {line}\n"
    for line in (
        f'if (!$value$plusargs("vectors=%s", vectors_path)) vectors_path = "{VECTORS}";',
        f'if (!$value$plusargs("outputs=%s", outputs_path)) outputs_path = "{OUTPUTS}";',
        'vectors = $fopen(vectors_path, "r");',
        'results = $fopen(outputs_path, "w");',
        "if (vectors == 0 || results == 0) begin",
        '    $display("ERROR cannot open the vector files");',
        "    $finish;",
        "end",
    )
)


def _read_words(inputs: IoLayout) -> tuple[list[str], str, str]:
    """The bench's input words (most significant first), their declarations and the
    ``$fscanf`` that reads one example's line into them and ``expected``."""
    words = [f"word_{k}" for k in reversed(range(inputs.words))]
    # word_0 holds the lowest WORD_BITS bits; the most significant word the rest
    widths = [WORD_BITS] * (inputs.words - 1) + [inputs.bits - WORD_BITS * (inputs.words - 1)]
    declarations = "\n".join(f"    reg [{width - 1}:0] word_{k};" for k, width in enumerate(widths))
    read = (
        f'$fscanf(vectors, "{" ".join(["%h"] * (inputs.words + 1))}\\n", '
        f"{', '.join(words)}, expected)"
    )
    return words, declarations, read


def _pipelined_testbench(top: str, inputs: IoLayout, outputs: IoLayout, latency: int) -> str:
    words, declarations, read = _read_words(inputs)
    return f"""`timescale 1ns / 1ps
// smartml test bench of a pipelined design: drives {top}_wrapper with a new line of
// +vectors on every rising clock edge (inputs in words of at most {WORD_BITS} bits, then
// the expected outputs, in hex) and compares the outputs {latency} edges later (the
// latency), writing them to +outputs and counting the differences.
module testbench;
    localparam LATENCY = {latency};
    reg clk = 1'b0;
    reg [{inputs.bits - 1}:0] model_inp;
{declarations}
    reg [{outputs.bits - 1}:0] expected;
    reg [{outputs.bits - 1}:0] pending [0:LATENCY];
    wire [{outputs.bits - 1}:0] model_out;
    integer vectors, results, count, examples, differing, edges, due;
    reg [1023:0] vectors_path, outputs_path;

    {top}_wrapper dut (.clk(clk), .model_inp(model_inp), .model_out(model_out));

    always #5 clk = ~clk;

    initial begin
{_OPEN_FILES}        examples = 0;
        differing = 0;
        edges = 0;
        due = 0;
        count = {read};
        while (count == {inputs.words + 1} || due < examples) begin
            if (count == {inputs.words + 1}) begin
                model_inp = {{{", ".join(words)}}};
                pending[examples % (LATENCY + 1)] = expected;
                examples = examples + 1;
                count = {read};
            end
            @(posedge clk);
            #1;
            edges = edges + 1;
            // example `due` entered at edge due + 1 and leaves at edge due + 1 + LATENCY
            if (edges > LATENCY && due < examples) begin
                $fdisplay(results, "%h", model_out);
                if (model_out !== pending[due % (LATENCY + 1)]) differing = differing + 1;
                due = due + 1;
            end
        end
        $fclose(results);
        $display("examples %0d differing %0d", examples, differing);
        $finish;
    end
endmodule
"""


def _simulate_script(top: str, sources: list[str]) -> str:
    files = " ".join([f"src/{top}_wrapper.v", *sources])
    return f"""#!/bin/sh
# Simulates tb/vectors.hex with Icarus Verilog; outputs in tb/outputs.hex.
set -e
cd "$(dirname "$0")"
iverilog -g2012 -s testbench -o tb/testbench.vvp tb/testbench.v {files}
vvp -n tb/testbench.vvp +vectors={VECTORS} +outputs={OUTPUTS}
"""
