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


def score_rows(
    rng: random.Random, n_rows: int, x_w: int, x_frac: list[int], lengths: tuple[int, int]
) -> list[list[int]]:
    """Rows of softmax scores (raw ``x_w``-bit, row r with ``x_frac[r]`` fraction bits) of
    random lengths in ``lengths``: edge rows first (all equal: ties never update the max;
    increasing: a max update at every score; decreasing; one dominant score; both
    extremes, where e underflows; repeated maxima), then random rows of varied spread."""
    lo, hi = -(1 << (x_w - 1)), (1 << (x_w - 1)) - 1
    out: list[list[int]] = []
    for r in range(n_rows):
        n = rng.randint(*lengths)
        one = 1 << max(0, x_frac[r])
        kind = r if r < 9 else 9
        if kind == 0:
            row = [rng.randint(lo, hi)] * n
        elif kind == 1:
            base = rng.randint(lo, hi - n * one // 4)
            row = [base + k * one // 4 for k in range(n)]
        elif kind == 2:
            row = [hi - k for k in range(n)]
        elif kind == 3:
            row = [20 * one if k == n // 2 else 0 for k in range(n)]
        elif kind == 4:
            row = [hi if k % 2 else lo for k in range(n)]
        elif kind == 5:
            row = [lo + k for k in range(n)]
        elif kind == 6:
            row = [(k % 3) * one for k in range(n)]
        elif kind == 7:
            row = [lo] * n
        elif kind == 8:
            row = [0 if k < n - 1 else 20 * one for k in range(n)]
        else:
            spread = rng.choice([1, 2, 4, 8, 16, 64, 1 << (x_w - 1)])
            centre = rng.randint(lo // 2, hi // 2)
            half = max(1, spread * one // 4)
            row = [centre + rng.randint(-half, half) for _ in range(n)]
            if rng.random() < 0.3:  # repeated maxima: ties with the running max
                m = max(row)
                for j in rng.sample(range(n), k=min(3, n)):
                    row[j] = m
            elif rng.random() < 0.3:  # a rising start: several max updates in a row
                k = rng.randint(1, n)
                row[:k] = sorted(row[:k])
        out.append([min(hi, max(lo, v)) for v in row])
    return out


def prob_format(rng: random.Random, max_width: int) -> FixedFormat:
    """A probability format: mostly a width's worth of fraction bits (values in [0, 1]),
    signed or not, every mode; sometimes any fraction count."""
    w = rng.choice([2, max_width, rng.randint(2, max_width)])
    s = rng.random() < 0.5
    if rng.random() < 0.85:  # mostly [0, 1) or [-1/2, 1/2), sometimes narrower or wider
        frac = w - (1 if s else 0) + rng.choice([0, 0, -1, -2, 1, -4])
    else:
        frac = rng.randint(-4, 40)
    return FixedFormat(w, w - frac, s, _QUANT[rng.randrange(7)], _OVF[rng.randrange(4)])
