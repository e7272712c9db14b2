"""Bit-exact numerics of the HLS datapath (Vitis HLS ap_fixed / ap_int emulation)."""

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
from .forward import ForwardResult, backbone_forward, calibrate
from .hwmath import SPEC, MathSpec
from .presets import PRESETS, NumericsPreset, get_preset
from .qtorch import NumericsError, OverflowCounter

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
