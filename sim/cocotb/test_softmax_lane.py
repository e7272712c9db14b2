"""softmax_lane: the online max and sum of rows of scores and 1/sum, against the
recurrence of :func:`pymodel.numerics.hwmath.online_softmax_fixed` (``_online_sum``)
and :func:`~pymodel.numerics.hwmath.recip_fixed`.

Rows of 1..48 scores (edge rows first: all equal, a max update at every score,
one dominant score, extremes), each with its own score fraction count and a
random side word, stream back to back. The fraction count is only valid on a
row's first score and the side word only on its last (random garbage elsewhere,
which the lane must ignore). Timing: one score per cycle, plus a fixed stall
after every score that raises the running max (measured and checked against
the stall the performance model is told: ``expected_stall``).
"""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case

MAX_LEN = 48


def max_updates(row: list[int]) -> list[int]:
    """1 for each score that raises the running max (never the first)."""
    flags, m = [], None
    for v in row:
        flags.append(int(m is not None and v > m))
        m = v if m is None else max(m, v)
    return flags


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Scores {side, x_frac, last, x}, golden rows {side, shift, mant, m}, stall flags."""
    import torch

    from pymodel.numerics.hwmath import SPEC, _online_sum, recip_fixed
    from pymodel.numerics.rtl_export import CORE_LATENCY
    from sim.cocotb.golden import score_rows

    p = cfg["params"]
    x_w, xf_w, sh_w, side_w = p["X_W"], p["XF_W"], p["SHIFT_W"], p["SIDE_W"]
    rng = random.Random(cfg["seed"])
    n_rows = cfg["vectors"]
    xfs = [rng.randint(0, 14) if rng.random() < 0.8 else rng.randint(-6, 24) for _ in range(n_rows)]
    rows = score_rows(rng, n_rows, x_w, xfs, (1, MAX_LEN))
    mw = SPEC.mant_frac + 1
    inputs, want, stall_after, labels = [], [], [], []
    cov = {"max updates": 0, "rows of one score": 0, "rows ending in an update": 0}
    cov |= {"ties with the running max": 0, "negative x_frac": 0}
    for row, xf in zip(rows, xfs):
        x = torch.tensor([row], dtype=torch.int64)
        m, s = _online_sum(x, xf, SPEC, exact=True)
        mant, shift = recip_fixed(s.reshape(-1), SPEC.softmax_sum_frac)
        side = rng.getrandbits(side_w)
        n = len(row)
        for j, v in enumerate(row):
            last = j == n - 1
            f = xf if j == 0 else rng.randint(-(1 << (xf_w - 1)), (1 << (xf_w - 1)) - 1)
            sd = side if last else rng.getrandbits(side_w)
            inputs.append(pack([(v, x_w), (last, 1), (f, xf_w), (sd, side_w)]))
        fields = [(int(m), x_w), (int(mant), mw), (int(shift), sh_w), (side, side_w)]
        want.append(pack(fields))
        flags = max_updates(row)
        stall_after += flags
        labels.append(f"x_frac={xf} row={row}")
        cov["max updates"] += sum(flags)
        cov["rows of one score"] += n == 1
        cov["rows ending in an update"] += flags[-1]
        cov["ties with the running max"] += sum(
            v == max(row[:j]) for j, v in enumerate(row) if j > 0
        )
        cov["negative x_frac"] += xf < 0
    return {
        "in_width": x_w + 1 + xf_w + side_w,
        "inputs": inputs,
        "expected": want,
        "vector_inputs": [len(r) for r in rows],
        "inputs_per_vector": MAX_LEN,  # unused with vector_inputs (rows vary)
        "outputs_per_vector": 1,
        "labels": labels,
        "out_names": ["m", "mant", "shift", "side"],
        "out_widths": [x_w, mw, sh_w, side_w],
        "out_signed": [True, False, True, False],
        "n_perf": 14,
        "timing": "stalls",
        "stall_after": stall_after,
        "expected_stall": CORE_LATENCY["sm_rescale"] - 1,
        "coverage": cov,
    }


@cocotb.test()
async def softmax_lane_matches_hwmath(dut: Any) -> None:
    """Every row's max, 1/sum and side word bit for bit equal to the golden recurrence;
    one score per cycle plus the fixed stall per max update; constant latency."""
    await run_case(dut)
