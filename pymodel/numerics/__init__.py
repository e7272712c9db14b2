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

__all__ = [
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
