"""``--build``: the vendor HLS flow, when its tool is installed.

hls4ml 1.3 runs ``vitis-run`` (Vitis), ``vivado_hls`` (Vivado) or ``catapult``
(Catapult; also found under ``$MGC_HOME/bin`` or ``$CATAPULT_HOME/bin``). Without the
tool the exported project is complete all the same; the user gets one message saying
which command to run where the tool is.
"""

import os
import shutil
from pathlib import Path

TOOLS = {"Vitis": "vitis-run", "Vivado": "vivado_hls", "Catapult": "catapult"}
MANUAL_COMMANDS = {
    "Vitis": "vitis-run --tcl build_prj.tcl --mode hls",
    "Vivado": "vivado_hls -f build_prj.tcl",
    "Catapult": "catapult -file build_prj.tcl",
}


def find_tool(backend: str) -> str | None:
    """Path of the backend's HLS tool, or None when it is not installed."""
    tool = TOOLS[backend]
    found = shutil.which(tool)
    if found or backend != "Catapult":
        return found
    for variable in ("MGC_HOME", "CATAPULT_HOME"):
        candidate = Path(os.environ.get(variable, "/nonexistent")) / "bin" / tool
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def missing_tool_message(backend: str, project: Path) -> str:
    return (
        f"{TOOLS[backend]} not found on PATH: synthesis skipped; the project is complete in "
        f"{project}; run `{MANUAL_COMMANDS[backend]}` there where {backend} is installed"
    )


def synthesize(hls_model, backend: str) -> dict:
    """Run C synthesis through hls4ml and return the parsed report (latency in cycles,
    initiation interval, resources) as hls4ml reads it."""
    report = hls_model.build(csim=False, synth=True)
    if report is None:
        import hls4ml

        output_dir = hls_model.config.get_output_dir()
        if backend == "Catapult":
            report = hls4ml.report.parse_catapult_report(output_dir)
        else:
            report = hls4ml.report.parse_vivado_report(output_dir)
    return _jsonable(report or {})


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)
