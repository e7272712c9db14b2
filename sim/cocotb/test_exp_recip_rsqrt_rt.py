"""exp_core, recip_core and rsqrt_core with run-time fraction counts (the
``exp_recip_rsqrt_rt`` wrapper) against :func:`pymodel.numerics.hwmath.exp_fixed`,
:func:`~pymodel.numerics.hwmath.recip_fixed` and :func:`~pymodel.numerics.hwmath.rsqrt_fixed`.

Every vector carries its own three inputs and fraction counts (-128..127, the
int8 range of a descriptor format, mostly where the functions are not trivial):
exp arguments around the table interval boundaries, where the result underflows
and with left-shifting (negative) fraction counts; reciprocals and rsqrts of
log-uniform values, powers of two and their neighbours, both parities of the
rsqrt exponent. Only vectors inside the golden functions' int64 domain are used.
"""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case


def _exp_args(rng: random.Random, n: int, d_w: int) -> list[tuple[int, int]]:
    """(d, d_frac) with d <= 0: edges first, then mostly e**d in (2**-17, 1]."""
    lo = -(1 << (d_w - 1))
    out = [(0, f) for f in (-63, -40, -1, 0, 10, 127)]
    out += [(lo, f) for f in (-1, 0, 16, 127)] + [(-1, f) for f in (-40, -2, 0, 30, 127)]
    for f in (0, 8, 16):  # both sides of table interval boundaries (t crosses k/64)
        one = 1 << f
        out += [(min(0, dd - round(k * one / 64 / 1.4426950408889634)), f) for k in range(0, 140, 7)
                for dd in (-1, 0, 1)]  # fmt: skip
    while len(out) < n:
        r = rng.random()
        f = rng.randint(-8, 40) if r < 0.85 else rng.randint(-128, 127)
        if rng.random() < 0.75:  # e**d not tiny: |d| * 2**-f in [0, 20]
            mag = rng.randrange(0, 20 << max(f, 0)) >> max(-f, 0)
        else:
            mag = rng.getrandbits(rng.randint(0, d_w - 1))
        out.append((max(lo, -mag), f))
    # inside the golden's int64 domain: d * log2e shifted left by -(f + 1) <= 62 bits, below 2**62
    return [(d, f) for d, f in out if f >= -1 or (f >= -63 and abs(d) << (18 - f) < 1 << 62)][:n]


def _positive(rng: random.Random, n: int, width: int) -> list[tuple[int, int]]:
    """(value, frac) with value > 0: powers of two and neighbours, then log-uniform."""
    from sim.cocotb.golden import log_uniform

    hi = (1 << width) - 1
    out = [(1, -128), (1, 127), (hi, -128), (hi, 127), (1, 0), (hi, 0)]
    for b in range(0, width, 3):
        out += [(v, rng.randint(-128, 127)) for v in ((1 << b) - 1, 1 << b, (1 << b) + 1)]
    out = [(v, f) for v, f in out if 1 <= v <= hi]
    while len(out) < n:
        f = rng.randint(-40, 60) if rng.random() < 0.8 else rng.randint(-128, 127)
        out.append((log_uniform(rng, 1, hi), f))
    return out[:n]


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Vectors and golden words {rsqrt shift, rsqrt mant, recip shift, recip mant, e}."""
    import torch

    from pymodel.numerics.hwmath import SPEC, exp_fixed, recip_fixed, rsqrt_fixed

    p = cfg["params"]
    dw, sw, vw, fw, shw = p["D_W"], p["S_W"], p["V_W"], p["FRAC_W"], p["SHIFT_W"]
    n = cfg["vectors"]
    rng = random.Random(cfg["seed"])
    ex, rc, rs = _exp_args(rng, n, dw), _positive(rng, n, sw), _positive(rng, n, vw)
    while len(ex) < n:  # the domain filter may have dropped a few
        ex.append((-rng.randrange(1 << 12), rng.randint(0, 20)))

    def grouped(fn: Any, pairs: list[tuple[int, int]], outputs: int) -> list[tuple[int, ...]]:
        """fn on each fraction count's values at once, results back in vector order."""
        res: list[tuple[int, ...]] = [()] * len(pairs)
        for f in sorted({f for _, f in pairs}):
            idx = [k for k, (_, g) in enumerate(pairs) if g == f]
            r = fn(torch.tensor([pairs[k][0] for k in idx], dtype=torch.int64), f)
            cols = [t.tolist() for t in (r if outputs > 1 else (r,))]
            for j, k in enumerate(idx):
                res[k] = tuple(c[j] for c in cols)
        return res

    e = grouped(exp_fixed, ex, 1)
    rcp = grouped(recip_fixed, rc, 2)
    rsq = grouped(rsqrt_fixed, rs, 2)
    mw, ew = SPEC.mant_frac + 1, SPEC.exp_out_frac + 1
    widths = [ew, mw, shw, mw, shw]
    want = [pack(list(zip([a[0], b[0], b[1], c[0], c[1]], widths))) for a, b, c in zip(e, rcp, rsq)]
    inputs = [
        pack([(d, dw), (df, fw), (s, sw), (sf, fw), (v, vw), (vf, fw)])
        for (d, df), (s, sf), (v, vf) in zip(ex, rc, rs)
    ]
    one = 1 << SPEC.exp_out_frac
    cov = {
        "exp = 1": sum(a[0] == one for a in e),
        "exp underflows to 0": sum(a[0] == 0 for a in e),
        "exp in (0, 1)": sum(0 < a[0] < one for a in e),
        "exp left shift (d_frac < -1)": sum(f < -1 and d != 0 for d, f in ex),
        "recip shift < 0": sum(b[1] < 0 for b in rcp),
        "recip shift > 0": sum(b[1] > 0 for b in rcp),
        "rsqrt odd exponent": sum((v.bit_length() - 1 - f) % 2 for v, f in rs),
        "rsqrt even exponent": sum(1 - (v.bit_length() - 1 - f) % 2 for v, f in rs),
        "rsqrt shift < 0": sum(c[1] < 0 for c in rsq),
    }
    return {
        "in_width": dw + sw + vw + 3 * fw,
        "inputs": inputs,
        "expected": want,
        "inputs_per_vector": 1,
        "outputs_per_vector": 1,
        "labels": [
            f"d={d}/{df} s={s}/{sf} v={v}/{vf}" for (d, df), (s, sf), (v, vf) in zip(ex, rc, rs)
        ],
        "out_names": ["e", "recip mant", "recip shift", "rsqrt mant", "rsqrt shift"],
        "out_widths": widths,
        "out_signed": [False, False, True, False, True],
        "n_perf": 200,
        "timing": "elementwise",
        "coverage": cov,
    }


@cocotb.test()
async def exp_recip_rsqrt_rt_match_hwmath(dut: Any) -> None:
    """Every e, mantissa and shift bit for bit equal to hwmath; II 1; constant latency."""
    await run_case(dut)
