"""recip_unit and rsqrt_unit: 1/s and 1/sqrt(v) as pseudo-floats (mant, shift) against
:func:`pymodel.numerics.hwmath.recip_fixed` / :func:`~pymodel.numerics.hwmath.rsqrt_fixed`.

One testbench for both units: they share the input (a positive fixed-point
value), the normalisation, the output word ``{shift, mant}`` and the edge
cases; the function and the parameter names (``S_*`` / ``V_*``) follow the
top module of the run.
"""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case

#: Per top module: the golden function's name in hwmath and the prefix of its parameters.
FUNCTIONS = {"recip_unit": ("recip_fixed", "S"), "rsqrt_unit": ("rsqrt_fixed", "V")}


def vectors(n: int, width: int, frac: int, seed: int) -> list[int]:
    """Edge cases (1, the largest input, powers of two and their neighbours, both
    sides of every table interval boundary near 1.0, 2.0 and two other octaves:
    both parities of floor(log2 v) for rsqrt), then log-uniform values."""
    from pymodel.numerics.hwmath import SPEC
    from sim.cocotb.golden import log_uniform

    rng = random.Random(seed)
    hi = (1 << width) - 1
    edge = [1, 2, 3, hi, hi - 1, 1 << frac]
    for b in range(1, width):
        edge += [(1 << b) - 1, 1 << b, (1 << b) + 1]
    intervals = 1 << SPEC.recip_table_bits
    for base in (1 << frac, 2 << frac, 1 << max(0, frac - 7), 1 << (frac + 5)):
        edge += [
            base + ((k * base) // intervals) + dd for k in range(intervals) for dd in (-1, 0, 1)
        ]
    out = [v for v in edge if 1 <= v <= hi][:n]
    while len(out) < n:
        out.append(log_uniform(rng, 1, hi))
    return out


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Vectors and golden (mant, shift) words."""
    import torch

    from pymodel.numerics import hwmath

    function, prefix = FUNCTIONS[cfg["top"]]
    p = cfg["params"]
    width, frac = p[f"{prefix}_W"], p[f"{prefix}_FRAC"]
    s = vectors(cfg["vectors"], width, frac, cfg["seed"])
    mant, shift = getattr(hwmath, function)(torch.tensor(s, dtype=torch.int64), frac)
    mw = hwmath.SPEC.mant_frac + 1
    want = [pack([(m, mw), (k, p["SHIFT_W"])]) for m, k in zip(mant.tolist(), shift.tolist())]
    return {
        "in_width": width,
        "inputs": s,
        "expected": want,
        "inputs_per_vector": 1,
        "outputs_per_vector": 1,
        "labels": [f"{prefix.lower()}={v}" for v in s],
        "out_names": ["mant", "shift"],
        "out_widths": [mw, p["SHIFT_W"]],
        "out_signed": [False, True],
        "n_perf": 200,
        "timing": "elementwise",
    }


@cocotb.test()
async def pseudo_float_unit_matches_hwmath(dut: Any) -> None:
    """Every (mant, shift) bit for bit equal to recip_fixed / rsqrt_fixed; II 1;
    constant latency."""
    await run_case(dut)
