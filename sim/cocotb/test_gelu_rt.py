"""gelu_rt (through the ``gelu_rt_stream`` wrapper): GELU with a run-time input fraction
count and a run-time output format against :func:`pymodel.numerics.hwmath.gelu_fixed`.

Every vector has its own x, x_frac (from the golden function's lower limit
X_W - 45 up to XF_MAX; coarse counts below the table step included) and output
format (random width, signedness and modes, fraction bits mostly near x_frac so
that rounding matters, sometimes anywhere in the int8 range up to where the
golden requantisation's 64-bit left shift holds). Values cover 0,
+-1 LSB, both extremes, both sides of |x| = 8 (the table's end) and table step
boundaries, then mostly |x| < 10. The overflow flag is compared with the golden
function's overflow counter.
"""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case


def vectors(n: int, p: dict[str, int], seed: int) -> list[tuple[int, int, Any]]:
    """(x, x_frac, out format) triples."""
    from pymodel.numerics.hwmath import SPEC
    from sim.cocotb.golden import random_format, signed_random

    x_w, out_w = p["X_W"], p["OUT_W"]
    f_lo, f_hi = max(x_w - 45, -(1 << (p["XF_W"] - 1))), p["XF_MAX"]
    lo, hi = -(1 << (x_w - 1)), (1 << (x_w - 1)) - 1
    rng = random.Random(seed)

    def out_fmt(xf: int) -> Any:
        # qtorch.requant (inside gelu_fixed) holds left shifts of at most 62 bits
        top = min(127, min(xf, SPEC.gelu_frac) + 62)
        if rng.random() < 0.85:
            return random_format(rng, out_w, (xf - 10, min(top, xf + 6)))
        return random_format(rng, out_w, (-128, top))

    def clip(v: int) -> int:
        return min(hi, max(lo, v))

    out = []
    for xf in (f_lo, -3, 0, 4, 5, 6, 10, 22, f_hi):
        one = 1 << xf if xf >= 0 else 0
        edge = [0, 1, -1, lo, lo + 1, hi, hi - 1]
        if xf >= 0:
            edge += [s * (8 * one + dd) for s in (1, -1) for dd in (-2, -1, 0, 1)]
            step = max(1, one >> 5)  # the table step, 1/32
            edge += [s * (k * step + dd) for s in (1, -1) for k in range(0, 257, 16)
                     for dd in (-1, 0)]  # fmt: skip
        out += [(clip(v), xf, out_fmt(xf)) for v in edge]
    while len(out) < n:
        xf = rng.randint(0, 24) if rng.random() < 0.7 else rng.randint(f_lo, f_hi)
        scale = max(1, (10 << xf).bit_length()) if xf >= 0 else 4
        out.append((clip(signed_random(rng, x_w, min(scale, x_w - 1))), xf, out_fmt(xf)))
    return out[:n]


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Vectors, golden words {ovf, y} and coverage counters."""
    import torch

    from pymodel.numerics.hwmath import SPEC, gelu_fixed
    from pymodel.numerics.qtorch import OverflowCounter
    from sim.cocotb.golden import format_word

    p = cfg["params"]
    x_w, xf_w, out_w = p["X_W"], p["XF_W"], p["OUT_W"]
    vecs = vectors(cfg["vectors"], p, cfg["seed"])
    inputs, want = [], []
    cov = {f"overflow {m}": 0 for m in ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")}
    cov |= {k: 0 for k in ("inside the table", "outside the table", "coarse x_frac < 5")}
    cov |= {"negative x_frac": 0, "unsigned output": 0}
    for x, xf, fmt in vecs:
        counter = OverflowCounter()
        y = int(gelu_fixed(torch.tensor([x], dtype=torch.int64), xf, fmt, counter=counter)[0])
        ovf = counter.counts["gelu"]
        inputs.append(pack([(x, x_w), (xf, xf_w), (format_word(fmt), 22)]))
        want.append(pack([(y, out_w), (ovf, 1)]))
        inside = abs(x) < SPEC.gelu_range * 2.0**xf
        cov[f"overflow {fmt.overflow.value}"] += ovf
        cov["inside the table" if inside else "outside the table"] += 1
        cov["coarse x_frac < 5"] += xf < SPEC.gelu_step_log2 and inside and x != 0
        cov["negative x_frac"] += xf < 0
        cov["unsigned output"] += not fmt.signed
    return {
        "in_width": x_w + xf_w + 22,
        "inputs": inputs,
        "expected": want,
        "inputs_per_vector": 1,
        "outputs_per_vector": 1,
        "labels": [f"x={x} x_frac={xf} out={fmt}" for x, xf, fmt in vecs],
        "out_names": ["y", "ovf"],
        "out_widths": [out_w, 1],
        "out_signed": [True, False],
        "n_perf": 200,
        "timing": "elementwise",
        "coverage": cov,
    }


@cocotb.test()
async def gelu_rt_matches_hwmath(dut: Any) -> None:
    """Every output and overflow flag bit for bit equal to gelu_fixed; II 1."""
    await run_case(dut)
