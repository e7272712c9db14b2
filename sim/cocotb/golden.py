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
