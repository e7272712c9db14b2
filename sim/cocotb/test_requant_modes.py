"""requant in all 28 quantisation/overflow modes (the ``requant_modes`` wrapper) against
:meth:`pymodel.numerics.fixed.FixedFormat.convert`, the g++-verified ap_fixed assignment.

A vector is a source value ``x`` (``ap_int<IN_W>``) and a shift ``rsh``: the
value ``x * 2**-rsh``, i.e. ``ap_fixed<IN_W, IN_W - rsh>`` with raw ``x``, is
assigned to ``ap_[u]fixed<OUT_W, OUT_W, Q, O>`` for every mode pair (Q, O),
and the overflow flag says whether the rounded value left the output range.
Small instances are checked exhaustively (every x with every shift); wide
ones (sources up to 2**62, as the accumulators of the linear unit reach) get
edge cases and random values whose magnitude and shift are chosen so that
in-range results, overflows and exact ties (where the rounding modes differ)
all occur often.
"""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case

EXHAUSTIVE_MAX_W = 10  # IN_W up to this: every x with every shift


def _shifts(p: dict[str, int]) -> range:
    """Shifts under test: every left shift the instance supports, and right shifts
    past the source width (where the shifter is clamped)."""
    return range(-p["LSH_MAX"], p["IN_W"] + 3)


def vectors(n: int, p: dict[str, int], seed: int) -> list[tuple[int, int]]:
    """(x, rsh) pairs: exhaustive for narrow sources, edge cases and random otherwise."""
    in_w, out_w = p["IN_W"], p["OUT_W"]
    lo, hi = -(1 << (in_w - 1)), (1 << (in_w - 1)) - 1
    shifts = _shifts(p)
    if in_w <= EXHAUSTIVE_MAX_W:
        out = [(x, r) for r in shifts for x in range(lo, hi + 1)]
    else:
        out = [(x, r) for r in shifts for x in (0, 1, -1, 2, -2, lo, lo + 1, hi, hi - 1)]
        # both sides of the output range's ends, at a few shifts
        for r in (0, 1, out_w, in_w - out_w):
            for edge in (1 << (out_w - 1), 1 << out_w):
                for dd in (-1, 0, 1):
                    for s in (1, -1):
                        x = s * ((edge + dd) << r) if r >= 0 else 0
                        if lo <= x <= hi:
                            out.append((x, r))
    rng = random.Random(seed)
    while len(out) < n:
        bits = rng.randint(0, in_w - 1)  # |x| < 2**bits, uniform in bit length
        x = rng.getrandbits(bits) if bits else 0
        x = -x if rng.random() < 0.5 else x
        if rng.random() < 0.5:  # results near the output range: both overflow and not
            r = min(max(bits - out_w + rng.randint(-3, 3), shifts.start), shifts.stop - 1)
        else:
            r = rng.choice(shifts)
        if r >= 1 and rng.random() < 0.3:  # an exact tie: the dropped bits are 100..0
            x = (x >> r << r) | (1 << (r - 1))
        out.append((min(hi, max(lo, x)), r))
    return out[:n]


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Vectors and golden words: per mode q * N_OVF + o, the fields (y, ovf)."""
    import numpy as np

    from pymodel.numerics.fixed import OVERFLOW_CODES, QUANT_CODES, FixedFormat, Overflow

    p = cfg["params"]
    in_w, out_w, signed, sh_w = p["IN_W"], p["OUT_W"], bool(p["OUT_SIGNED"]), p["SH_W"]
    quants = sorted(QUANT_CODES, key=QUANT_CODES.__getitem__)  # code order, as the wrapper
    ovfs = sorted(OVERFLOW_CODES, key=OVERFLOW_CODES.__getitem__)
    pairs = vectors(cfg["vectors"], p, cfg["seed"])
    xs = np.array([x for x, _ in pairs], dtype=np.int64)
    rs = np.array([r for _, r in pairs], dtype=np.int64)
    # the rounded value before overflow, in a format wide enough to hold it exactly
    wide_w = in_w + p["LSH_MAX"] + 1
    if wide_w > 64:
        raise ValueError(
            f"IN_W + LSH_MAX = {wide_w - 1} leaves no room for the exact rounded value"
        )
    fields = np.zeros((len(pairs), len(quants) * len(ovfs), 2), dtype=np.int64)
    for r in np.unique(rs):
        sel = rs == r
        src = FixedFormat(in_w, in_w - int(r), True)  # raw x, value x * 2**-r
        for qi, q in enumerate(quants):
            v = FixedFormat(wide_w, wide_w, True, q, Overflow.AP_WRAP).convert(xs[sel], src)
            dst0 = FixedFormat(out_w, out_w, signed, q, Overflow.AP_WRAP)
            ovf = (v < dst0.raw_min) | (v > dst0.raw_max)
            for oi, o in enumerate(ovfs):
                y = FixedFormat(out_w, out_w, signed, q, o).convert(xs[sel], src)
                fields[sel, qi * len(ovfs) + oi, 0] = y
                fields[sel, qi * len(ovfs) + oi, 1] = ovf
    names = [f"{q.value[3:]}/{o.value[3:]}" for q in quants for o in ovfs]
    widths = [out_w, 1] * len(names)
    want = [pack([(int(v), w) for v, w in zip(row.reshape(-1), widths)]) for row in fields]
    return {
        "in_width": sh_w + in_w,
        "inputs": [pack([(x, in_w), (r, sh_w)]) for x, r in pairs],
        "expected": want,
        "inputs_per_vector": 1,
        "outputs_per_vector": 1,
        "labels": [f"x={x} rsh={r}" for x, r in pairs],
        "out_names": [f"{n} {f}" for n in names for f in ("y", "ovf")],
        "out_widths": widths,
        "out_signed": [signed, False] * len(names),
        "n_perf": 200,
        "timing": "elementwise",
    }


@cocotb.test()
async def requant_matches_fixedformat(dut: Any) -> None:
    """Every mode's result and overflow flag bit for bit equal to FixedFormat; II 1."""
    await run_case(dut)
