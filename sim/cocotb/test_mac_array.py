"""mac_array: exact R x 2TO dot products in wide and packed (two MACs per DSP) mode,
against integer sums of the same operands (edgemoe_linear.cpp mac_group)."""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Dot products of 1..5 beats, wide and packed mode. Wide: x and w across their
    whole widths; packed: 8-bit x (signed) against w in the signed 8-bit range or
    the unsigned one (probabilities), the extremes -128 * -128 and -128 * 255
    included. In wide mode the upper outputs are zero; garbage in w rows
    TO..2TO-1 of a wide beat must be ignored."""
    from sim.cocotb.golden import signed_random

    p = cfg["params"]
    r_, ti, to = p["R"], p["TI"], p["TO"]
    xw, ww, aw = p["X_W"], p["W_W"], p["ACC_W"]
    rng = random.Random(cfg["seed"])
    inputs, want, counts, labels = [], [], [], []
    packed_dots = 0
    for v in range(cfg["vectors"]):
        packed = v % 2 == 1
        extreme = v in (1, 3)
        n_beats = 1 if extreme else rng.randint(1, 5)
        acc = [[0] * (2 * to) for _ in range(r_)]
        for j in range(n_beats):
            if packed:
                unsigned = rng.random() < 0.5 or v == 3
                lo, hi = (0, 255) if unsigned else (-128, 127)
                x = [[-128 if extreme else rng.randint(-128, 127) for _ in range(ti)]
                     for _ in range(r_)]  # fmt: skip
                w = [[(hi if v == 3 else lo) if extreme else rng.randint(lo, hi)
                      for _ in range(ti)] for _ in range(2 * to)]  # fmt: skip
            else:
                x = [[signed_random(rng, xw) for _ in range(ti)] for _ in range(r_)]
                w = [[signed_random(rng, ww) for _ in range(ti)] for _ in range(2 * to)]
            for r in range(r_):
                for o in range(2 * to if packed else to):
                    acc[r][o] += sum(x[r][i] * w[o][i] for i in range(ti))
            fields = [(x[r][i], xw) for r in range(r_) for i in range(ti)]
            fields += [(w[o][i], ww) for o in range(2 * to) for i in range(ti)]
            fields += [(int(packed), 1), (int(j == 0), 1), (int(j == n_beats - 1), 1)]
            inputs.append(pack(fields))
        packed_dots += packed
        want.append(pack([(acc[r][o], aw) for r in range(r_) for o in range(2 * to)]))
        counts.append(n_beats)
        labels.append(f"{'packed' if packed else 'wide'} beats={n_beats}")
    assert packed_dots > 0
    return {
        "in_width": r_ * ti * xw + 2 * to * ti * ww + 3,
        "inputs": inputs,
        "expected": want,
        "inputs_per_vector": 1,
        "vector_inputs": counts,
        "outputs_per_vector": 1,
        "labels": labels,
        "out_names": [f"acc{r}_{o}" for r in range(r_) for o in range(2 * to)],
        "out_widths": [aw] * (r_ * 2 * to),
        "out_signed": [True] * (r_ * 2 * to),
        "n_perf": 40,
        "timing": "group",
        "format": "exact sums",
    }


@cocotb.test()
async def mac_array_matches_integer_sums(dut: Any) -> None:
    """Every accumulator bit for bit equal to the exact sum; one beat per cycle."""
    await run_case(dut)
