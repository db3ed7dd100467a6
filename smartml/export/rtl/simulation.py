"""Icarus Verilog runs of the project's test bench (the commands of ``simulate.sh``)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from smartml.errors import ExportError
from smartml.export.rtl.project import OUTPUTS, VECTORS

SIMULATOR = "iverilog"


def simulator_version() -> str:
    """``Icarus Verilog version 11.0 (stable)`` as ``iverilog -V`` says it.

    Raises:
        ExportError: iverilog is not on PATH.
    """
    if shutil.which(SIMULATOR) is None or shutil.which("vvp") is None:
        raise ExportError(
            "RTL simulation needs Icarus Verilog (iverilog and vvp on PATH; Debian: apt-get "
            "install iverilog); the Verilog project is written but not verified"
        )
    first = _run([SIMULATOR, "-V"], Path.cwd()).splitlines()[0]
    return re.sub(r"\s*\(\)\s*$", "", first).strip()


def compile_testbench(destination: Path, sources: list[str]) -> None:
    """``tb/testbench.vvp`` from the test bench and ``sources`` (relative paths)."""
    command = [SIMULATOR, "-g2012", "-s", "testbench", "-o", "tb/testbench.vvp"]
    _run([*command, "tb/testbench.v", *sources], destination)


def simulate(destination: Path) -> list[str]:
    """Run the compiled bench on ``tb/vectors.hex``; the output words, one per example.

    Raises:
        ExportError: the bench did not finish all examples.
    """
    log = _run(
        ["vvp", "-n", "tb/testbench.vvp", f"+vectors={VECTORS}", f"+outputs={OUTPUTS}"], destination
    )
    expected = (destination / VECTORS).read_text().count("\n")
    words = (destination / OUTPUTS).read_text().split()
    if len(words) != expected:
        raise ExportError(
            f"RTL simulation in {destination} gave {len(words)} outputs for {expected} "
            f"examples: {log.strip()[-300:]}"
        )
    return words


def _run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[:3]
        raise ExportError(f"{command[0]} failed in {cwd}: {' | '.join(detail)}")
    return result.stdout
