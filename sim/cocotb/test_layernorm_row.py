"""layernorm_row: one-pass LayerNorm against :func:`pymodel.numerics.hwmath.layernorm_fixed`
(the normalised z and the output y, plus the row sum T and rsqrt(V) pseudo-float)."""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case


def rows(n_rows: int, d: int, p: dict[str, int], seed: int) -> list[list[tuple[int, int, int]]]:
    """Rows of (x, gamma, beta). Edge rows: constant (variance 0: eps alone), both
    extremes, alternating extremes (largest variance), one outlier (z saturates),
    gamma and beta at their extremes (y saturates); then random rows with varied
    offset and spread."""
    from sim.cocotb.golden import signed_random

    rng = random.Random(seed)

    def ext(w: int) -> tuple[int, int]:
        return -(1 << (w - 1)), (1 << (w - 1)) - 1

    (xl, xh), (gl, gh), (bl, bh) = ext(p["X_W"]), ext(p["G_W"]), ext(p["B_W"])
    one_g = 1 << p["G_FRAC"]
    unit = [(one_g, 0)] * d
    edge_x = [
        [0] * d,
        [xh] * d,
        [xl] * d,
        [xh if j % 2 else xl for j in range(d)],
        [xh if j == 0 else 0 for j in range(d)],
        [xl if j == d - 1 else xh for j in range(d)],
        [j - d // 2 for j in range(d)],
    ]
    out = [[(x, g, b) for x, (g, b) in zip(r, unit)] for r in edge_x]
    out.append([(xh if j % 2 else xl, gh, bh) for j in range(d)])
    out.append([(xh if j % 2 else xl, gl, bl) for j in range(d)])
    out = out[:n_rows]
    while len(out) < n_rows:
        centre = signed_random(rng, p["X_W"], p["X_W"] - 3)
        spread = rng.choice([1, 16, 256, 1 << (p["X_W"] - 3)])
        row = []
        for _ in range(d):
            x = min(xh, max(xl, centre + rng.randint(-spread, spread)))
            g = signed_random(rng, p["G_W"], p["G_FRAC"] + 1)
            b = signed_random(rng, p["B_W"], p["B_FRAC"] + 1)
            row.append((x, g, b))
        out.append(row)
    return out


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Rows and golden words {last, k, mant, T, z, y} per value."""
    import torch

    from pymodel.numerics.hwmath import SPEC, layernorm_fixed, ln_eps_raw, rsqrt_fixed
    from sim.cocotb.golden import fmt

    p = cfg["params"]
    d, xf, gf, bf = p["D"], p["X_FRAC"], p["G_FRAC"], p["B_FRAC"]
    zfmt = fmt(p["Z_W"], p["Z_FRAC"], 1, p["Z_QUANT"], p["Z_OVF"])
    yfmt = fmt(p["OUT_W"], p["OUT_FRAC"], p["OUT_SIGNED"], p["QUANT"], p["OVF"])
    data = rows(cfg["vectors"], d, p, cfg["seed"])
    t = torch.tensor(data, dtype=torch.int64)
    x, g, b = t[..., 0], t[..., 1], t[..., 2]
    y = layernorm_fixed(x, xf, g, gf, b, bf, zfmt, yfmt)
    # z itself: gamma = 1, beta = 0 and z's own format as the output format
    ones = torch.full_like(g, 1 << gf)
    z = layernorm_fixed(x, xf, ones, gf, torch.zeros_like(b), bf, zfmt, zfmt)
    # the row statistics, by the formulas of layernorm_fixed's docstring
    a = max(0, xf - SPEC.ln_sq_frac)
    fq = xf - a
    eps = ln_eps_raw(fq)
    xs = x >> a
    tot = x.sum(-1, keepdim=True)
    v = d * (xs * xs).sum(-1, keepdim=True) - xs.sum(-1, keepdim=True) ** 2 + eps * d * d
    mant, k = rsqrt_fixed(v, 2 * fq)
    iw = max(1, (d - 1).bit_length())
    widths = [p["OUT_W"], p["Z_W"], p["X_W"] + iw + 1, SPEC.mant_frac + 1, p["SHIFT_W"], 1]
    want = []
    for r in range(len(data)):
        for j in range(d):
            f = [y[r, j], z[r, j], tot[r, 0], mant[r, 0], k[r, 0], j == d - 1]
            want.append(pack([(int(v), w) for v, w in zip(f, widths)]))
    in_fields = [p["X_W"], p["G_W"], p["B_W"]]
    return {
        "in_width": sum(in_fields),
        "inputs": [pack(list(zip(beat, in_fields))) for row in data for beat in row],
        "expected": want,
        "inputs_per_vector": d,
        "outputs_per_vector": d,
        "labels": [f"x={[v[0] for v in row]}" for row in data],
        "out_names": ["y", "z", "T", "mant", "k", "last"],
        "out_widths": widths,
        "out_signed": [bool(p["OUT_SIGNED"]), True, True, False, True, False],
        "n_perf": 10,
        "timing": "row",
        "format": f"z {zfmt}, y {yfmt}",
    }


@cocotb.test()
async def layernorm_row_matches_hwmath(dut: Any) -> None:
    """Every z, y and row statistic bit for bit equal to pymodel; constant timing."""
    await run_case(dut)
