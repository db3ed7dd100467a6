"""Schema of the ``export`` block: defaults of ``python -m smartml.export`` for a run.

Every key can also be given on the command line, which wins. Example::

    "export": {"backend": "Catapult", "part": "nangate-45nm", "clock_period_ns": 25}
"""

import logging
import re
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from smartml.config.strict import PositiveInt, StrictModel

BACKENDS = ("Vitis", "Vivado", "Catapult")
# hls4ml 1.3's distributed-arithmetic pass (backends/vivado/passes/distributed_arithmetic.py)
# exists for the Vivado-family backends only, builds io_parallel convolutions only and
# raises for any reuse factor but 1.
DISTRIBUTED_ARITHMETIC = "distributed_arithmetic"
DA_BACKENDS = ("Vitis", "Vivado")
DEFAULT_FPGA_PART = "xcvu13p-flga2577-2-e"
DEFAULT_ASIC_LIBRARY = "nangate-45nm"
# ASIC standard-cell libraries Catapult's hls4ml build script knows how to set up.
ASIC_LIBRARIES = (
    "nangate-45nm",
    "saed32hvt_tt0p78v125c_beh",
    "saed32lvt_tt0p78v125c_beh",
    "saed32rvt_tt0p78v125c_beh",
)
# AMD/Xilinx part names: family+device, package, speed grade[, temperature grade],
# e.g. xcvu13p-flga2577-2-e, xcu250-figd2104-2L-e, xc7z020clg400-1, xck26-sfvc784-2LV-c.
FPGA_PART_PATTERN = re.compile(r"^xc[a-z0-9]+(-[a-z0-9]+){1,3}$", re.IGNORECASE)
FIXED_PATTERN = re.compile(r"^u?fixed<\s*\d+\s*,\s*-?\d+\s*(,\s*[A-Z_]+\s*){0,2}>$")
# Beyond these a value is a typing mistake: a clock slower than 1 MHz, more reuse than
# any layer of a front-end network has multiplications.
MAX_CLOCK_PERIOD_NS = 1000.0
MAX_REUSE_FACTOR = 65536
MAX_TESTBENCH_VECTORS = 1_000_000
# Keys renamed in this section: old name -> new name. The old name is still read, with
# a warning, so that the configurations of earlier runs still export.
RENAMED_KEYS = {"verify_clusters": "verify_examples"}

log = logging.getLogger("smartml.config")


def is_fpga_part(part: str) -> bool:
    return bool(FPGA_PART_PATTERN.match(part))


class ExportConfig(StrictModel):
    backend: Literal["Vitis", "Vivado", "Catapult"] = "Vitis"
    part: str | None = Field(
        None,
        description="FPGA part (Vitis, Vivado; Catapult FPGA flow) or, for Catapult, an ASIC "
        f"library ({', '.join(ASIC_LIBRARIES)}); default {DEFAULT_FPGA_PART} for the FPGA "
        f"backends, {DEFAULT_ASIC_LIBRARY} for Catapult",
    )
    clock_period_ns: float = Field(
        25.0,
        gt=0,
        le=MAX_CLOCK_PERIOD_NS,
        allow_inf_nan=False,
        description="40 MHz bunch crossings: 25 ns",
    )
    io_type: Literal["io_parallel", "io_stream"] = "io_parallel"
    strategy: Literal["Latency", "Resource", "distributed_arithmetic"] = Field(
        "Latency",
        description="hls4ml's strategy; distributed_arithmetic builds each kernel as an "
        "adder graph solved by da4ml (Vitis or Vivado, io_parallel, reuse factor 1)",
    )
    reuse_factor: int = Field(1, gt=0, le=MAX_REUSE_FACTOR)
    output_dir: str = Field("firmware", description="projects go to <output_dir>/<run name>")
    input_precision: str | dict[str, str] | None = Field(
        None,
        description="firmware input type, e.g. fixed<16,8>, for every model input without "
        'an input quantizer, or types by model input name, e.g. {"points": '
        '"fixed<10,3>"}; default (and inputs not named): 16 bits with the integer bits '
        "the test inputs need",
    )
    agreement_threshold: float = Field(
        0.999, ge=0, le=1, allow_inf_nan=False, description="minimum bit-identical fraction"
    )
    verify_examples: PositiveInt | None = Field(
        None,
        description="test-set examples run through the C simulation (verify_clusters "
        "before; that name is deprecated); null: all",
    )
    rtl_stage_levels: PositiveInt | None = Field(
        None,
        description="RTL export (--rtl): register stages of at most this many adder levels "
        "(da4ml's latency cutoff), a new example every clock; choose the levels that fit "
        "one clock_period_ns of your device (da4ml's examples: about one per ns on a Virtex "
        "UltraScale+ -2); null: a combinational design",
    )
    testbench_vectors: int = Field(
        1000,
        gt=0,
        le=MAX_TESTBENCH_VECTORS,
        description="input/output vectors written into the project's test bench",
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, raw: Any) -> Any:
        """Read each key of :data:`RENAMED_KEYS` under its old name, with one warning
        line naming the new key; a section giving both names is an error naming both.

        A null old key (the default, which every configuration saved by an earlier
        version holds) is dropped without a warning: it sets nothing.

        >>> ExportConfig.model_validate({"verify_clusters": 40}).verify_examples
        40
        >>> ExportConfig.model_validate({"verify_clusters": 40, "verify_examples": 30})
        Traceback (most recent call last):
        ...
        pydantic_core._pydantic_core.ValidationError: 1 validation error for ExportConfig
          Value error, export.verify_clusters and export.verify_examples are one setting; keep ...
        """
        if not isinstance(raw, dict) or not RENAMED_KEYS.keys() & raw.keys():
            return raw
        raw = dict(raw)
        for old, new in RENAMED_KEYS.items():
            if raw.get(old) is None:
                raw.pop(old, None)
                continue
            if new in raw:
                raise ValueError(
                    f"export.{old} and export.{new} are one setting; keep export.{new} only "
                    f"(export.{old} is its deprecated name)"
                )
            log.warning("export.%s is deprecated; it is now export.%s", old, new)
            raw[new] = raw.pop(old)
        return raw

    @field_validator("input_precision")
    @classmethod
    def _fixed_point(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        expected = "expected a type like fixed<16,8> or ufixed<12,6>"
        if isinstance(value, str) and not FIXED_PATTERN.match(value.strip()):
            raise ValueError(f"{expected}, got {value!r}")
        for name, text in (value or {}).items() if isinstance(value, dict) else ():
            if not FIXED_PATTERN.match(text.strip()):
                raise ValueError(f"export.input_precision.{name}: {expected}, got {text!r}")
        return value

    @field_validator("part")
    @classmethod
    def _known_part(cls, part: str | None, info: ValidationInfo) -> str | None:
        # A field validator (backend is validated before part) so that the error is
        # reported at export.part, or at --part when the part came from there.
        backend = info.data.get("backend")
        if part is None or backend is None or is_fpga_part(part):
            return part
        if backend == "Catapult" and part in ASIC_LIBRARIES:
            return part
        expected = "an AMD/Xilinx part name such as xcvu13p-flga2577-2-e"
        if backend == "Catapult":
            expected += f" or an ASIC library ({', '.join(ASIC_LIBRARIES)})"
        raise ValueError(f"unknown part {part!r} for {backend}: expected {expected}")

    @field_validator("strategy")
    @classmethod
    def _strategy_backend(cls, strategy: str, info: ValidationInfo) -> str:
        # A field validator (backend and io_type are validated before strategy), so that
        # the message names export.strategy or --strategy.
        if strategy != DISTRIBUTED_ARITHMETIC:
            return strategy
        backend, io_type = info.data.get("backend"), info.data.get("io_type")
        if backend is not None and backend not in DA_BACKENDS:
            raise ValueError(
                f"hls4ml 1.3 has distributed_arithmetic for {' and '.join(DA_BACKENDS)} only, "
                f"not {backend}"
            )
        if io_type is not None and io_type != "io_parallel":
            raise ValueError(
                f"hls4ml 1.3 builds distributed_arithmetic convolutions with io_parallel "
                f"only, not {io_type}"
            )
        return strategy

    @field_validator("reuse_factor")
    @classmethod
    def _reuse_with_strategy(cls, reuse_factor: int, info: ValidationInfo) -> int:
        if reuse_factor != 1 and info.data.get("strategy") == DISTRIBUTED_ARITHMETIC:
            raise ValueError(
                f"distributed_arithmetic computes every product in parallel: the reuse factor "
                f"must be 1, not {reuse_factor}"
            )
        return reuse_factor

    def resolved_part(self) -> str:
        if self.part is not None:
            return self.part
        return DEFAULT_ASIC_LIBRARY if self.backend == "Catapult" else DEFAULT_FPGA_PART
