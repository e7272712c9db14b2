"""rsqrt_unit: 1/sqrt(v) as a pseudo-float against :func:`pymodel.numerics.hwmath.rsqrt_fixed`."""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case


def vectors(n: int, v_w: int, v_frac: int, seed: int) -> list[int]:
    """Edge cases (1, the largest input, powers of two and their neighbours, both
    sides of every table interval boundary near 1.0), then log-uniform values."""
    from sim.cocotb.golden import log_uniform

    rng = random.Random(seed)
    hi = (1 << v_w) - 1
    edge = [1, 2, 3, hi, hi - 1, 1 << v_frac]
    for b in range(1, v_w):
        edge += [(1 << b) - 1, 1 << b, (1 << b) + 1]
    # both parities of floor(log2 v) (even and odd tables), every interval boundary
    for base in (1 << v_frac, 2 << v_frac, 1 << (v_frac - 7), 1 << (v_frac + 5)):
        edge += [base + ((k * base) >> 6) + dd for k in range(64) for dd in (-1, 0, 1)]
    out = [v for v in edge if 1 <= v <= hi][:n]
    while len(out) < n:
        out.append(log_uniform(rng, 1, hi))
    return out


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Vectors and golden (mant, shift) words."""
    import torch

    from pymodel.numerics.hwmath import SPEC, rsqrt_fixed

    p = cfg["params"]
    s = vectors(cfg["vectors"], p["V_W"], p["V_FRAC"], cfg["seed"])
    mant, shift = rsqrt_fixed(torch.tensor(s, dtype=torch.int64), p["V_FRAC"])
    mw = SPEC.mant_frac + 1
    want = [pack([(m, mw), (k, p["SHIFT_W"])]) for m, k in zip(mant.tolist(), shift.tolist())]
    return {
        "in_width": p["V_W"],
        "inputs": s,
        "expected": want,
        "inputs_per_vector": 1,
        "outputs_per_vector": 1,
        "labels": [f"v={v}" for v in s],
        "out_names": ["mant", "shift"],
        "out_widths": [mw, p["SHIFT_W"]],
        "out_signed": [False, True],
        "n_perf": 200,
        "timing": "elementwise",
    }


@cocotb.test()
async def rsqrt_unit_matches_hwmath(dut: Any) -> None:
    """Every (mant, shift) bit for bit equal to rsqrt_fixed; II 1; constant latency."""
    await run_case(dut)
