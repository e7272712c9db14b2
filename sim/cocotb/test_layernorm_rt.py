"""layernorm_rt: LayerNorm rows with run-time length and formats, LANES values per beat,
against :func:`pymodel.numerics.hwmath.layernorm_fixed`.

Every row has its own length D (1..MAX_D: partial last beats, one-beat rows),
x fraction count (truncated squares above LN_SQ_FRAC included), gamma and
beta fraction counts, raw epsilon (mostly the export's ``ln_eps_raw``,
sometimes any), z format and output format (random widths and modes). Edge
rows: constant (variance = eps alone), alternating extremes, one outlier (z
saturates), extreme gamma and beta (y saturates). The configuration is only
valid on a row's first beat (random elsewhere) and lanes past D carry random
values: the unit must ignore both. Rows stream back to back: the row II is
ceil(D / LANES) beats (one beat per cycle, no bubble between rows), measured on
rows of one length (a short row after a long one waits for the long one's
output, so its latency is longer).
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case

N_PERF = 12  # rows of the full-throughput phase (all of length MAX_D - 1)


def _row(
    rng: random.Random, kind: int, d: int, p: dict[str, int], xf: int, gf: int, bf: int
) -> list[list[int]]:
    """[x, gamma, beta] of one row; |xs| < 2**28 keeps the golden's sums inside int64."""
    from sim.cocotb.golden import signed_random

    a = max(0, xf - 12)
    xb = min(p["X_W"] - 1, 28 + a)
    xl, xh = -(1 << xb), (1 << xb) - 1
    gl, gh = -(1 << (p["G_W"] - 1)), (1 << (p["G_W"] - 1)) - 1
    bl, bh = -(1 << (p["B_W"] - 1)), (1 << (p["B_W"] - 1)) - 1
    if kind == 0:
        xs = [rng.randint(xl, xh)] * d
    elif kind == 1:
        xs = [xh if j % 2 else xl for j in range(d)]
    elif kind == 2:
        xs = [xh if j == 0 else 0 for j in range(d)]
    else:
        centre = rng.randint(xl // 4, xh // 4)
        spread = 1 << rng.randint(0, xb - 2)
        xs = [min(xh, max(xl, centre + rng.randint(-spread, spread))) for _ in range(d)]
    if kind == 3:
        gs, bs = [gh] * d, [bh] * d
    elif kind == 4:
        gs, bs = [gl] * d, [bl] * d
    else:
        # mostly |gamma| < 2, |beta| < 2 (in their own fraction counts), sometimes anything
        gs = [signed_random(rng, p["G_W"], min(p["G_W"] - 1, gf + 1)) for _ in range(d)]
        bs = [signed_random(rng, p["B_W"], min(p["B_W"] - 1, max(0, bf + 1))) for _ in range(d)]
    return [xs, gs, bs]


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Beats {cfg, beta, gamma, x}, golden beats {last, y}, coverage counters."""
    import torch

    from pymodel.numerics.fixed import FixedFormat
    from pymodel.numerics.hwmath import SPEC, layernorm_fixed, ln_eps_raw
    from pymodel.numerics.qtorch import NumericsError, OverflowCounter
    from sim.cocotb.golden import _OVF, _QUANT, format_word

    p = cfg["params"]
    lanes, max_d, x_w, g_w, b_w = p["LANES"], p["MAX_D"], p["X_W"], p["G_W"], p["B_W"]
    xf_w, gf_w, eps_w, out_w, z_w = p["XF_W"], p["GF_W"], p["EPS_W"], p["OUT_W"], p["Z_W"]
    dw = max(1, max_d.bit_length())
    rng = random.Random(cfg["seed"])

    def fmt(width: int, frac: int, signed: bool = True) -> FixedFormat:
        return FixedFormat(width, width - frac, signed, _QUANT[rng.randrange(7)],
                           _OVF[rng.randrange(4)])  # fmt: skip

    inputs, want, counts, outs, labels = [], [], [], [], []
    cov = {k: 0 for k in ("z overflows", "y overflows", "rows of one value", "rows of MAX_D")}
    cov |= {k: 0 for k in ("partial last beats", "truncated squares", "eps not the default")}
    cov |= {k: 0 for k in ("negative x_frac", "bsh = 0", "unsigned output")}
    r = 0
    while len(counts) < cfg["vectors"]:
        kind = r if r < 5 else 5
        r += 1
        if len(counts) < N_PERF:  # the timing phase: one row length, rows back to back
            d = max_d - 1
        else:
            d = rng.choice([1, max_d, rng.randint(1, max_d), rng.randint(1, max_d)])
        xf = rng.randint(6, 22) if rng.random() < 0.75 else rng.choice([-4, -1, 0, 30, 12, 13])
        gf, zw = rng.randint(6, 15), rng.randint(4, z_w)
        zf = zw - rng.randint(1, 8)
        bf = rng.randint(max(-8, zf + gf - p["BSH_MAX"]), zf + gf)
        ow = rng.randint(2, out_w)
        of = fmt(ow, ow - rng.randint(2, 10), rng.random() < 0.85)
        zfmt = fmt(zw, zf)
        fq = xf - max(0, xf - SPEC.ln_sq_frac)
        eps = ln_eps_raw(fq) if rng.random() < 0.7 else rng.randint(1, 1 << 20)
        x, g, b = (torch.tensor([v], dtype=torch.int64) for v in _row(rng, kind, d, p, xf, gf, bf))
        spec = replace(SPEC, ln_eps=eps / 2.0 ** (2 * fq))  # layernorm_fixed rounds it back
        counter = OverflowCounter()
        try:
            y = layernorm_fixed(x, xf, g, gf, b, bf, zfmt, of, spec, counter, "ln")[0].tolist()
        except NumericsError:
            continue
        assert max(1, math.floor(spec.ln_eps * 2.0 ** (2 * fq) + 0.5)) == eps
        xs, gs, bs = x[0].tolist(), g[0].tolist(), b[0].tolist()
        row_cfg = [(d, dw), (xf, xf_w), (gf, gf_w), (bf, gf_w), (eps, eps_w)]
        row_cfg += [(format_word(zfmt), 22), (format_word(of), 22)]
        beats = -(-d // lanes)
        for k in range(beats):
            lane = [k * lanes + j for j in range(lanes)]
            xv = [xs[i] if i < d else rng.getrandbits(x_w) for i in lane]
            gv = [gs[i] if i < d else rng.getrandbits(g_w) for i in lane]
            bv = [bs[i] if i < d else rng.getrandbits(b_w) for i in lane]
            c = row_cfg if k == 0 else [(rng.getrandbits(w), w) for _, w in row_cfg]
            fields = [(v, x_w) for v in xv] + [(v, g_w) for v in gv] + [(v, b_w) for v in bv]
            inputs.append(pack(fields + c))
            ys = [(y[i] if i < d else 0, out_w) for i in lane]
            want.append(pack([*ys, (int(k == beats - 1), 1)]))
        counts.append(beats)
        outs.append(beats)
        labels.append(f"D={d} x_frac={xf} g/b frac={gf}/{bf} eps={eps} z {zfmt} y {of} x={xs}")
        cov["z overflows"] += counter.counts["ln.z"]
        cov["y overflows"] += counter.counts["ln"]
        cov["rows of one value"] += d == 1
        cov["rows of MAX_D"] += d == max_d
        cov["partial last beats"] += d % lanes != 0
        cov["truncated squares"] += xf > SPEC.ln_sq_frac
        cov["eps not the default"] += eps != ln_eps_raw(fq)
        cov["negative x_frac"] += xf < 0
        cov["bsh = 0"] += zf + gf == bf
        cov["unsigned output"] += not of.signed
    return {
        "in_width": lanes * (x_w + g_w + b_w) + dw + xf_w + 2 * gf_w + eps_w + 44,
        "inputs": inputs,
        "expected": want,
        "vector_inputs": counts,
        "vector_outputs": outs,
        "inputs_per_vector": 1,  # unused: rows vary
        "outputs_per_vector": 1,
        "labels": labels,
        "out_names": [f"y{j}" for j in range(lanes)] + ["last"],
        "out_widths": [out_w] * lanes + [1],
        "out_signed": [True] * lanes + [False],
        "n_perf": N_PERF,
        "timing": "group",
        "coverage": cov,
    }


@cocotb.test()
async def layernorm_rt_matches_hwmath(dut: Any) -> None:
    """Every output bit for bit equal to layernorm_fixed; one beat per cycle with rows
    back to back; constant latency."""
    await run_case(dut)
