"""gelu_unit: GELU requantised once, against :func:`pymodel.numerics.hwmath.gelu_fixed`."""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import run_case


def vectors(n: int, x_w: int, x_frac: int, seed: int) -> list[int]:
    """Edge cases (0, +-1 LSB, both extremes, both sides of |x| = 8 where the table
    ends, every table step boundary, the output's saturation point), then random
    values, most of them in [-10, 10]."""
    from sim.cocotb.golden import signed_random

    rng = random.Random(seed)
    lo, hi = -(1 << (x_w - 1)), (1 << (x_w - 1)) - 1
    one = 1 << x_frac
    edge = [0, 1, -1, lo, lo + 1, hi, hi - 1]
    edge += [s * (8 * one + dd) for s in (1, -1) for dd in range(-2, 3)]
    step = max(1, one >> 5)  # GELU table step 1/32
    edge += [s * (k * step + dd) for s in (1, -1) for k in range(257) for dd in (-1, 0, 1)]
    edge += [8 * one - 1, 8 * one, 8 * one + 1, 16 * one, -16 * one]
    out = [min(hi, max(lo, v)) for v in edge][:n]
    scale = (10 * one).bit_length()
    while len(out) < n:
        out.append(signed_random(rng, x_w, scale))
    return out


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Vectors and golden outputs in the instance's output format."""
    import torch

    from pymodel.numerics.hwmath import gelu_fixed
    from sim.cocotb.golden import fmt

    p = cfg["params"]
    out = fmt(p["OUT_W"], p["OUT_FRAC"], p["OUT_SIGNED"], p["QUANT"], p["OVF"])
    x = vectors(cfg["vectors"], p["X_W"], p["X_FRAC"], cfg["seed"])
    want = gelu_fixed(torch.tensor(x, dtype=torch.int64), p["X_FRAC"], out).tolist()
    mask = (1 << p["OUT_W"]) - 1
    return {
        "in_width": p["X_W"],
        "inputs": [v & ((1 << p["X_W"]) - 1) for v in x],
        "expected": [v & mask for v in want],
        "inputs_per_vector": 1,
        "outputs_per_vector": 1,
        "labels": [f"x={v}" for v in x],
        "out_names": ["y"],
        "out_widths": [p["OUT_W"]],
        "out_signed": [bool(p["OUT_SIGNED"])],
        "n_perf": 200,
        "timing": "elementwise",
        "format": str(out),
    }


@cocotb.test()
async def gelu_unit_matches_hwmath(dut: Any) -> None:
    """Every output bit for bit equal to gelu_fixed; II 1; constant latency."""
    await run_case(dut)
