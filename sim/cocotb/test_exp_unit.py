"""exp_unit: e**d for d <= 0 against :func:`pymodel.numerics.hwmath.exp_fixed`."""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import run_case


def vectors(n: int, d_w: int, d_frac: int, seed: int) -> list[int]:
    """Edge cases first (0, -1 LSB, the most negative input, the range where the
    result reaches 0, every table interval boundary), then random values, most of
    them where e**d is not tiny."""
    rng = random.Random(seed)
    lo = -(1 << (d_w - 1))
    one = 1 << d_frac
    edge = [0, -1, -2, lo, lo + 1, -one, -2 * one, -(one // 2)]
    # t = d * log2(e) crosses a table interval every 1/64: both sides of each crossing
    edge += [
        -round(k * one / 64 / 1.4426950408889634) + dd for k in range(130) for dd in (-1, 0, 1)
    ]
    edge += [-(17 * one) + dd for dd in range(-3, 4)]  # the result reaches 0 here
    edge = [min(0, max(lo, v)) for v in edge]
    out = edge[:n]
    while len(out) < n:
        r = rng.random()
        if r < 0.6:
            out.append(-rng.randrange(0, 20 * one))
        elif r < 0.8:
            out.append(-rng.randrange(0, one))
        else:
            out.append(rng.randrange(lo, 1))
    return out


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Vectors and golden outputs (runs in the runner's process, where torch is loaded)."""
    import torch

    from pymodel.numerics.hwmath import SPEC, exp_fixed

    p = cfg["params"]
    d = vectors(cfg["vectors"], p["D_W"], p["D_FRAC"], cfg["seed"])
    want = exp_fixed(torch.tensor(d, dtype=torch.int64), p["D_FRAC"]).tolist()
    mask = (1 << p["D_W"]) - 1
    return {
        "in_width": p["D_W"],
        "inputs": [v & mask for v in d],
        "expected": want,
        "inputs_per_vector": 1,
        "outputs_per_vector": 1,
        "labels": [f"d={v}" for v in d],
        "out_names": ["y"],
        "out_widths": [SPEC.exp_out_frac + 1],
        "out_signed": [False],
        "n_perf": 200,
        "timing": "elementwise",
    }


@cocotb.test()
async def exp_unit_matches_hwmath(dut: Any) -> None:
    """Every output bit for bit equal to exp_fixed; II 1; constant latency."""
    await run_case(dut)
