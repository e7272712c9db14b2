"""Helpers for the testbenches' golden side (imported by ``case()`` in the runner's process).

Kept apart from :mod:`sim.cocotb.harness` so that the simulator process never
imports torch (which takes several seconds inside an embedded interpreter).
"""

from __future__ import annotations

import random

from pymodel.numerics.fixed import OVERFLOW_CODES, QUANT_CODES, FixedFormat

_QUANT = {code: q for q, code in QUANT_CODES.items()}
_OVF = {code: o for o, code in OVERFLOW_CODES.items()}


def fmt(width: int, frac: int, signed: int | bool, quant: int, ovf: int) -> FixedFormat:
    """The FixedFormat an RTL instance's (W, FRAC, SIGNED, QUANT, OVF) parameters mean."""
    return FixedFormat(width, width - frac, bool(signed), _QUANT[quant], _OVF[ovf])


def log_uniform(rng: random.Random, lo: int, hi: int) -> int:
    """An integer in [lo, hi] (lo >= 1) with a uniformly distributed bit length."""
    bits = rng.randint(lo.bit_length(), hi.bit_length())
    v = rng.getrandbits(bits) | (1 << (bits - 1))
    return min(hi, max(lo, v))


def signed_random(rng: random.Random, width: int, scale_bits: int | None = None) -> int:
    """A signed ``width``-bit integer; with ``scale_bits``, mostly within +-2**scale_bits."""
    if scale_bits is not None and rng.random() < 0.8:
        return rng.randint(-(1 << scale_bits), (1 << scale_bits) - 1)
    return rng.randint(-(1 << (width - 1)), (1 << (width - 1)) - 1)


# ------------------------------------------------------- run-time format words
def format_word(f: FixedFormat, quant_code: int | None = None) -> int:
    """Bits 21:0 of the descriptor word of ``f`` (pymodel.export.descriptor.encode_format);
    ``quant_code`` overrides the quantisation field (code 7 is unused by any format)."""
    from pymodel.export.descriptor import encode_format

    word = encode_format(f) & 0x3FFFFF
    if quant_code is not None:
        word = (word & ~(7 << 17)) | (quant_code << 17)
    return word


def random_format(
    rng: random.Random,
    max_width: int,
    frac_range: tuple[int, int] = (-128, 127),
    signed: bool | None = None,
) -> FixedFormat:
    """A random destination format: widths 1..max_width (the ends often), every mode."""
    r = rng.random()
    w = 1 if r < 0.06 else max_width if r < 0.2 else rng.randint(1, max_width)
    s = rng.random() < 0.6 if signed is None else signed
    frac = rng.randint(*frac_range)
    return FixedFormat(w, w - frac, s, _QUANT[rng.randrange(7)], _OVF[rng.randrange(4)])


def assign_exact(x: int, x_frac: int, dst: FixedFormat, in_w: int) -> tuple[int, bool]:
    """ap_fixed assignment of the exact value ``x * 2**-x_frac`` (x a signed ``in_w``-bit
    integer) to ``dst``, and whether the rounded value left dst's range (before overflow).

    ``FixedFormat.convert`` (checked against the ap_fixed headers) holds sources of at
    most 64 bits; its core ``_requantize`` works on exact Python integers of any size,
    so wider sources (the engine's 80-bit accumulators) go through it directly.
    """
    import numpy as np

    from pymodel.numerics.fixed import Overflow, _requantize

    v = np.array([x], dtype=object)
    drop = x_frac - dst.frac_bits
    y = int(_requantize(v, drop, in_w - 1, dst)[0])
    if drop <= 0:
        rounded = x << -drop  # a left shift is exact
    else:
        fl = x >> drop  # floor; rounding adds 0 or 1
        if fl > dst.raw_max + 1 or fl < dst.raw_min - 1:
            return y, True
        # the rounded value fits 64 bits here: a 64-bit wrapping destination holds it exactly
        wide = FixedFormat(64, 64 - dst.frac_bits, True, dst.quant, Overflow.AP_WRAP)
        rounded = int(_requantize(v, drop, in_w - 1, wide)[0])
    return y, not dst.raw_min <= rounded <= dst.raw_max
