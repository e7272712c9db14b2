"""softmax_row: online softmax over rows against
:func:`pymodel.numerics.hwmath.online_softmax_fixed` (and its running max and 1/sum)."""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case


def rows(n_rows: int, n: int, x_w: int, x_frac: int, seed: int) -> list[list[int]]:
    """Edge rows (all equal: ties never update the max; increasing: an update and
    a rounding at every score; decreasing; one dominant score: probability 1
    saturates; both extremes: e underflows to 0), then random rows of varied spread."""
    rng = random.Random(seed)
    lo, hi = -(1 << (x_w - 1)), (1 << (x_w - 1)) - 1
    one = 1 << x_frac
    edge = [
        [0] * n,
        [hi] * n,
        [lo] * n,
        [lo + k for k in range(n)],
        [hi - k for k in range(n)],
        [k * one // 4 for k in range(n)],
        [hi if k == n // 2 else lo for k in range(n)],
        [lo if k % 2 else hi for k in range(n)],
        [(k % 3) * one for k in range(n)],
        [20 * one if k == 0 else 0 for k in range(n)],
        [0 if k < n - 1 else 20 * one for k in range(n)],
    ]
    out = [r[:n] for r in edge][:n_rows]
    while len(out) < n_rows:
        spread = rng.choice([1, 4, 16, 64, 1 << (x_w - 1)])
        centre = rng.randint(lo // 2, hi // 2)
        row = [
            min(hi, max(lo, centre + rng.randint(-spread * one // 4, spread * one // 4)))
            for _ in range(n)
        ]
        if rng.random() < 0.3:  # repeated maxima: ties with the running max
            m = max(row)
            for j in rng.sample(range(n), k=min(3, n)):
                row[j] = m
        out.append(row)
    return out


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Rows and golden words {last, m, mant, shift, y} per score."""
    import torch

    from pymodel.numerics.hwmath import SPEC, _online_sum, online_softmax_fixed, recip_fixed
    from sim.cocotb.golden import fmt

    p = cfg["params"]
    n, xf = p["N"], p["X_FRAC"]
    out = fmt(p["OUT_W"], p["OUT_FRAC"], p["OUT_SIGNED"], p["QUANT"], p["OVF"])
    data = rows(cfg["vectors"], n, p["X_W"], xf, cfg["seed"])
    x = torch.tensor(data, dtype=torch.int64)
    y = online_softmax_fixed(x, xf, out)
    m, s = _online_sum(x, xf, SPEC, exact=True)
    mant, shift = recip_fixed(s, SPEC.softmax_sum_frac)
    widths = [p["OUT_W"], p["SHIFT_W"], SPEC.mant_frac + 1, p["X_W"], 1]
    want = []
    for r in range(len(data)):
        for j in range(n):
            fields = [int(y[r, j]), int(shift[r, 0]), int(mant[r, 0]), int(m[r, 0]), j == n - 1]
            want.append(pack(list(zip(fields, widths))))
    xm = (1 << p["X_W"]) - 1
    return {
        "in_width": p["X_W"],
        "inputs": [v & xm for row in data for v in row],
        "expected": want,
        "inputs_per_vector": n,
        "outputs_per_vector": n,
        "labels": [f"row={row}" for row in data],
        "out_names": ["y", "shift", "mant", "m", "last"],
        "out_widths": widths,
        "out_signed": [bool(p["OUT_SIGNED"]), True, False, True, False],
        "n_perf": 10,
        "timing": "row",
        "format": str(out),
    }


@cocotb.test()
async def softmax_row_matches_hwmath(dut: Any) -> None:
    """Every normalised output, the row max and 1/sum bit for bit equal to pymodel;
    constant row interval and latency at full throughput."""
    await run_case(dut)
