"""recip_unit: 1/s as a pseudo-float against :func:`pymodel.numerics.hwmath.recip_fixed`."""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case


def vectors(n: int, s_w: int, s_frac: int, seed: int) -> list[int]:
    """Edge cases (1, the largest input, powers of two and their neighbours, both
    sides of every table interval boundary near 1.0), then log-uniform values."""
    from sim.cocotb.golden import log_uniform

    rng = random.Random(seed)
    hi = (1 << s_w) - 1
    edge = [1, 2, 3, hi, hi - 1, 1 << s_frac]
    for b in range(1, s_w):
        edge += [(1 << b) - 1, 1 << b, (1 << b) + 1]
    ub = 16 - 6  # norm_in_frac - recip_table_bits
    edge += [(1 << s_frac) + (k << ub) + dd for k in range(64) for dd in (-1, 0, 1)]
    out = [v for v in edge if 1 <= v <= hi][:n]
    while len(out) < n:
        out.append(log_uniform(rng, 1, hi))
    return out


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Vectors and golden (mant, shift) words."""
    import torch

    from pymodel.numerics.hwmath import SPEC, recip_fixed

    p = cfg["params"]
    s = vectors(cfg["vectors"], p["S_W"], p["S_FRAC"], cfg["seed"])
    mant, shift = recip_fixed(torch.tensor(s, dtype=torch.int64), p["S_FRAC"])
    mw = SPEC.mant_frac + 1
    want = [pack([(m, mw), (k, p["SHIFT_W"])]) for m, k in zip(mant.tolist(), shift.tolist())]
    return {
        "in_width": p["S_W"],
        "inputs": s,
        "expected": want,
        "inputs_per_vector": 1,
        "outputs_per_vector": 1,
        "labels": [f"s={v}" for v in s],
        "out_names": ["mant", "shift"],
        "out_widths": [mw, p["SHIFT_W"]],
        "out_signed": [False, True],
        "n_perf": 200,
        "timing": "elementwise",
    }


@cocotb.test()
async def recip_unit_matches_hwmath(dut: Any) -> None:
    """Every (mant, shift) bit for bit equal to recip_fixed; II 1; constant latency."""
    await run_case(dut)
