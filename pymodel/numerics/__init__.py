"""Bit-exact numerics of the HLS datapath (Vitis HLS ap_fixed / ap_int emulation).

``fixed`` (the ap_fixed emulation) needs numpy only; the torch-based parts
(forward, hwmath, qtorch) are imported when first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from .fixed import (
    MAX_WIDTH,
    FixedFormat,
    Overflow,
    Quant,
    add,
    add_format,
    div,
    div_format,
    lshift,
    mul,
    mul_format,
    rshift,
    sub,
    sub_format,
)

_LAZY = {
    "ForwardResult": ".forward",
    "backbone_forward": ".forward",
    "calibrate": ".forward",
    "SPEC": ".hwmath",
    "MathSpec": ".hwmath",
    "PRESETS": ".presets",
    "NumericsPreset": ".presets",
    "get_preset": ".presets",
    "NumericsError": ".qtorch",
    "OverflowCounter": ".qtorch",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pymodel.numerics' has no attribute {name!r}")


__all__ = [
    "PRESETS",
    "SPEC",
    "ForwardResult",
    "MathSpec",
    "NumericsError",
    "NumericsPreset",
    "OverflowCounter",
    "backbone_forward",
    "calibrate",
    "get_preset",
    "MAX_WIDTH",
    "FixedFormat",
    "Overflow",
    "Quant",
    "add",
    "add_format",
    "div",
    "div_format",
    "lshift",
    "mul",
    "mul_format",
    "rshift",
    "sub",
    "sub_format",
]
