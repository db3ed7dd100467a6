"""Open synthesis with Yosys (``synth_xilinx``): LUTs, carry chains and flip-flops of
the design, without place and route or timing."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time
from pathlib import Path

from smartml.errors import ExportError

log = logging.getLogger(__name__)
YOSYS = "yosys"
SYNTH_LOG = "yosys_synth.log"


def synthesize(destination: Path, top: str, sources: list[str]) -> dict:
    """``yosys -p "read_verilog ...; synth_xilinx -flatten -top TOP; stat"``.

    Args:
        destination: the project directory; top: the design module.
        sources: its Verilog files, relative to ``destination``.

    Returns:
        ``tool``, ``luts`` (LUT1..LUT6), ``inverters`` (INV cells: a LUT1 each if
        place and route does not fold them into the LUTs they feed), ``carry4``,
        ``ffs`` (FD* cells), ``seconds``, ``log`` (file name); without Yosys on
        PATH ``{"ran": False, "message": ...}`` (and a logged warning).

    Raises:
        ExportError: Yosys failed.
    """
    if shutil.which(YOSYS) is None:
        message = "Yosys is not on PATH: no open synthesis (Debian: apt-get install yosys)"
        log.warning(message)
        return {"ran": False, "message": message}
    script = f"read_verilog {' '.join(sources)}; synth_xilinx -flatten -top {top}; stat"
    start = time.perf_counter()
    result = subprocess.run(
        [YOSYS, "-q", "-l", SYNTH_LOG, "-p", script],
        cwd=destination,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-2:]
        raise ExportError(f"yosys failed in {destination}: {' | '.join(detail)}")
    cells = stat_cells((destination / SYNTH_LOG).read_text())
    return {
        "ran": True,
        "tool": f"open synthesis ({yosys_version()}), no place and route",
        "luts": sum(n for cell, n in cells.items() if re.fullmatch(r"LUT[1-6]", cell)),
        "inverters": cells.get("INV", 0),
        "carry4": cells.get("CARRY4", 0),
        "ffs": sum(n for cell, n in cells.items() if cell.startswith("FD")),
        "seconds": round(seconds, 2),
        "log": SYNTH_LOG,
    }


def stat_cells(text: str) -> dict[str, int]:
    """Cell counts of the last ``stat`` in a Yosys log.

    >>> stat_cells("   Number of cells:  5\\n     CARRY4   2\\n     LUT2   3\\n")
    {'CARRY4': 2, 'LUT2': 3}
    """
    last = text.rsplit("Number of cells:", 1)[-1]
    return {
        cell: int(count)
        for cell, count in re.findall(r"^\s+([A-Z][A-Z0-9_]*)\s+(\d+)\s*$", last, re.M)
    }


def yosys_version() -> str:
    """``Yosys 0.23`` (without the git hash and compiler)."""
    out = subprocess.run([YOSYS, "-V"], capture_output=True, text=True, check=False).stdout
    match = re.match(r"(Yosys\s+[\d.+]+)", out.strip())
    return match.group(1) if match else out.strip()
