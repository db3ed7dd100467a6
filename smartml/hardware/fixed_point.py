"""Fixed-point types as hls4ml writes them (``fixed<W,I,RND_CONV,SAT>``) and their
exact emulation in numpy.

``W`` bits in all, ``I`` of them above the binary point *including* the sign bit
(hls4ml/ap_fixed convention), so the step (LSB) is ``2^-(W-I)``. Rounding modes:
``TRN`` (towards −∞) and ``RND_CONV`` (to nearest, ties to even: what ``tf.round``
and therefore QKeras do); overflow modes ``WRAP``, ``SAT`` and ``SAT_SYM``
(saturate to ±max).

>>> t = FixedType.parse("fixed<4,1,RND_CONV,SAT>")
>>> t.lsb, t.min, t.max
(0.125, -1.0, 0.875)
>>> t.quantize([0.0625, 0.1875, 3.0, -7.0]).tolist()
[0.0, 0.25, 0.875, -1.0]
>>> FixedType.covering(max_abs=5.25, fractional=3).hls()
'fixed<7,4,RND_CONV,SAT>'
"""

import math
import re
from dataclasses import dataclass

import numpy as np

_PATTERN = re.compile(
    r"^(?P<u>u?)fixed<\s*(?P<w>\d+)\s*,\s*(?P<i>-?\d+)\s*"
    r"(?:,\s*(?P<r>[A-Z_]+)\s*)?(?:,\s*(?P<o>[A-Z_]+)\s*)?>$"
)
ROUNDING = ("TRN", "RND_CONV")
SATURATION = ("WRAP", "SAT", "SAT_SYM")


@dataclass(frozen=True)
class FixedType:
    """One fixed-point type. ``integer`` counts the sign bit when ``signed``."""

    width: int
    integer: int
    signed: bool = True
    rounding: str = "RND_CONV"
    saturation: str = "SAT"

    def __post_init__(self) -> None:
        if self.width < 1 or self.rounding not in ROUNDING or self.saturation not in SATURATION:
            raise ValueError(f"unsupported fixed-point type {self}")

    @classmethod
    def parse(cls, text: str) -> "FixedType":
        """From hls4ml's notation; rounding and saturation default to RND_CONV, SAT
        (the modes of QKeras quantizers), not to ap_fixed's TRN, WRAP."""
        match = _PATTERN.match(text.strip().replace("ap_", ""))
        if not match:
            raise ValueError(f"not a fixed-point type: {text!r} (expected e.g. fixed<16,8>)")
        return cls(
            int(match["w"]),
            int(match["i"]),
            signed=not match["u"],
            rounding=(match["r"] or "RND_CONV").replace("AP_", ""),
            saturation=(match["o"] or "SAT").replace("AP_", ""),
        )

    @classmethod
    def covering(cls, max_abs: float, fractional: int, signed: bool = True) -> "FixedType":
        """The narrowest type on the grid ``2^-fractional`` that holds every value in
        ``[-max_abs, max_abs]`` (``[0, max_abs]`` unsigned) without overflow."""
        lsb = 2.0**-fractional
        above_point = max(0, math.ceil(math.log2(max_abs + lsb))) if max_abs > 0 else 0
        integer = above_point + int(signed)
        return cls(integer + fractional, integer, signed)

    @property
    def fractional(self) -> int:
        return self.width - self.integer

    @property
    def lsb(self) -> float:
        return 2.0**-self.fractional

    @property
    def max(self) -> float:
        return 2.0 ** (self.integer - int(self.signed)) - self.lsb

    @property
    def min(self) -> float:
        if not self.signed:
            return 0.0
        if self.saturation == "SAT_SYM":
            return -self.max
        return -(2.0 ** (self.integer - 1))

    @property
    def max_abs(self) -> float:
        return max(self.max, -self.min)

    def hls(self) -> str:
        return (
            f"{'' if self.signed else 'u'}fixed<{self.width},{self.integer},"
            f"{self.rounding},{self.saturation}>"
        )

    def quantize(self, values) -> np.ndarray:
        """``values`` converted to this type, in float64 (exact for widths up to 52)."""
        scaled = np.asarray(values, dtype=np.float64) * 2.0**self.fractional
        steps = np.round(scaled) if self.rounding == "RND_CONV" else np.floor(scaled)
        low, high = self.min * 2.0**self.fractional, self.max * 2.0**self.fractional
        if self.saturation == "WRAP":
            span = 2.0**self.width
            steps = (steps - low) % span + low
        else:
            steps = np.clip(steps, low, high)
        return steps / 2.0**self.fractional
