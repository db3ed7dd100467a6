"""Runs of the project's test bench: Verilator where installed, else Icarus Verilog.

Verilator compiles the design to C++ (seconds to a minute) and then simulates tens of
thousands of examples in a second; Icarus Verilog interprets it, which costs ~30 ms
per example of a small MLP on one core (20,000 test events: 9 CPU minutes) and grows
with the design. Both run the same ``tb/testbench.v``.

Verilator 5.006 (Debian 12) stops at lint pragmas it does not know (da4ml's primitives
name ``WIDTHTRUNC``, a code of later versions), so it compiles copies of the sources
without those comments, in a temporary folder with its own build; the project keeps
da4ml's files as they are.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from smartml.errors import ExportError
from smartml.export.rtl.project import OUTPUTS, VECTORS

VERILATOR, ICARUS = "verilator", "iverilog"
_UNKNOWN_PRAGMA = re.compile(r"/\*\s*verilator lint_(?:off|on) WIDTHTRUNC\s*\*/")


def choose_simulator() -> str:
    """``verilator`` when on PATH, else ``iverilog``.

    Raises:
        ExportError: neither is installed (one line saying how to install them).
    """
    if shutil.which(VERILATOR):
        return VERILATOR
    if shutil.which(ICARUS) and shutil.which("vvp"):
        return ICARUS
    raise ExportError(
        "RTL simulation needs Verilator or Icarus Verilog (Debian: apt-get install verilator "
        "iverilog); the Verilog project cannot be verified"
    )


def simulator_version(simulator: str = ICARUS) -> str:
    """The simulator's own version line, e.g. ``Verilator 5.006 2023-01-22`` or
    ``Icarus Verilog version 11.0 (stable)``."""
    choose = [VERILATOR, "--version"] if simulator == VERILATOR else [ICARUS, "-V"]
    if shutil.which(choose[0]) is None:
        raise ExportError(f"{choose[0]} is not on PATH")
    first = _run(choose, Path.cwd()).splitlines()[0]
    first = re.sub(r"\s+rev\s.*$", "", first)
    return re.sub(r"\s*\(\)\s*$", "", first).strip()


def run_testbench(
    destination: Path, sources: list[str], simulator: str
) -> tuple[list[str], dict[str, float]]:
    """Compile ``tb/testbench.v`` with ``sources`` (paths relative to ``destination``)
    and run it on ``tb/vectors.hex``.

    Returns:
        the output words, one per example, and the seconds of ``compile`` and
        ``simulate``.

    Raises:
        ExportError: the simulator failed, or the bench did not finish all examples.
    """
    arguments = [f"+vectors={VECTORS}", f"+outputs={OUTPUTS}"]
    timing: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="smartml-rtl-sim-") as build:
        start = time.perf_counter()
        command = _build(destination, ["tb/testbench.v", *sources], simulator, Path(build))
        timing["compile"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        log = _run([*command, *arguments], destination)
        timing["simulate"] = round(time.perf_counter() - start, 3)
    expected = (destination / VECTORS).read_text().count("\n")
    words = (destination / OUTPUTS).read_text().split()
    if len(words) != expected:
        raise ExportError(
            f"RTL simulation in {destination} gave {len(words)} outputs for {expected} "
            f"examples: {log.strip()[-300:]}"
        )
    return words, timing


def _build(destination: Path, sources: list[str], simulator: str, build: Path) -> list[str]:
    """Compile the bench into ``build``; the command that runs it."""
    if simulator == ICARUS:
        bench = str(build / "testbench.vvp")
        _run([ICARUS, "-g2012", "-s", "testbench", "-o", bench, *sources], destination)
        return ["vvp", "-n", bench]
    copies = []
    for index, source in enumerate(sources):
        copy = build / f"{index:03d}_{Path(source).name}"
        copy.write_text(_UNKNOWN_PRAGMA.sub("", (destination / source).read_text()))
        copies.append(str(copy))
    binary = build / "testbench"
    jobs = str(max(1, len(os.sched_getaffinity(0))))
    command = [VERILATOR, "--binary", "-j", jobs, "-Wno-fatal", "-Wno-lint", "-Wno-style"]
    # g++ without optimisation: the flat adder graph compiles 6.7x faster (an MLP of
    # 23k LUTs: 57 s instead of 381 s) and still simulates 20,000 examples in 0.7 s.
    command += ["-MAKEFLAGS", "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"]
    command += ["--top-module", "testbench", "--Mdir", str(build / "obj"), "-o", str(binary)]
    _run([*command, *copies], build)
    return [str(binary)]


def _run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[:3]
        raise ExportError(f"{command[0]} failed in {cwd}: {' | '.join(detail)}")
    return result.stdout
