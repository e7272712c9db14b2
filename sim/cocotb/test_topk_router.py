"""topk_router: the k largest of E logits (ties to the lower index) against
:func:`pymodel.numerics.hwmath.topk_fixed`."""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case


def rows(n_rows: int, e: int, l_w: int, seed: int) -> list[list[int]]:
    """Edge rows (all equal; ties at the top, in the middle and at the end; the
    maximum last; both extremes; ascending and descending), then random rows,
    half of them drawn from a few values so that ties are common."""
    rng = random.Random(seed)
    lo, hi = -(1 << (l_w - 1)), (1 << (l_w - 1)) - 1
    edge = [
        [0] * e,
        [lo] * e,
        [hi] * e,
        list(range(e)),
        list(range(e, 0, -1)),
        [hi if j in (3, e - 1) else 0 for j in range(e)],
        [5 if j % 2 else 7 for j in range(e)],
        [lo if j < e - 1 else hi for j in range(e)],
        [hi - (j % 3) for j in range(e)],
        [1 if j in (e - 2, e - 1) else 0 for j in range(e)],
    ]
    out = edge[:n_rows]
    while len(out) < n_rows:
        if rng.random() < 0.5:
            vals = [rng.randint(lo, hi) for _ in range(3)]
            out.append([rng.choice(vals) for _ in range(e)])
        else:
            out.append([rng.randint(lo, hi) for _ in range(e)])
    return out


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Rows and golden words {values, indices}, slot 0 the largest."""
    import torch

    from pymodel.numerics.hwmath import topk_fixed

    p = cfg["params"]
    e, k, lw = p["E"], p["K"], p["L_W"]
    iw = max(1, (e - 1).bit_length())
    data = rows(cfg["vectors"], e, lw, cfg["seed"])
    x = torch.tensor(data, dtype=torch.int64)
    idx = topk_fixed(x, k).tolist()
    want = [
        pack([(i, iw) for i in ids] + [(row[i], lw) for i in ids]) for row, ids in zip(data, idx)
    ]
    return {
        "in_width": lw,
        "inputs": [v & ((1 << lw) - 1) for row in data for v in row],
        "expected": want,
        "inputs_per_vector": e,
        "outputs_per_vector": 1,
        "labels": [f"row={row}" for row in data],
        "out_names": [f"idx{j}" for j in range(k)] + [f"val{j}" for j in range(k)],
        "out_widths": [iw] * k + [lw] * k,
        "out_signed": [False] * k + [True] * k,
        "n_perf": 10,
        "timing": "row",
    }


@cocotb.test()
async def topk_router_matches_hwmath(dut: Any) -> None:
    """Every index and value bit for bit equal to topk_fixed; one logit per cycle."""
    await run_case(dut)
