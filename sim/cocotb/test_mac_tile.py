"""mac_tile: exact dot products plus bias and residual, one requantisation, against
:func:`pymodel.numerics.qtorch.requant` (the linear unit of pymodel.numerics.forward)."""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Dot products of 1..6 beats; bias and residual on the first beat only (later
    beats carry random garbage there, which must be ignored). Edge cases: zeros,
    every operand at its maximum or minimum (output overflow), and products that
    land exactly on half an output LSB (the rounding modes differ there)."""
    import torch

    from pymodel.numerics.qtorch import requant
    from sim.cocotb.golden import fmt, signed_random

    p = cfg["params"]
    ti, to = p["TI"], p["TO"]
    xw, ww, bw, rw = p["X_W"], p["W_W"], p["B_W"], p["R_W"]
    af = p["X_FRAC"] + p["W_FRAC"]
    bsh, rsh = af - p["B_FRAC"], af - p["R_FRAC"]
    out = fmt(p["OUT_W"], p["OUT_FRAC"], p["OUT_SIGNED"], p["QUANT"], p["OVF"])
    rng = random.Random(cfg["seed"])

    def ext(w: int) -> tuple[int, int]:
        return -(1 << (w - 1)), (1 << (w - 1)) - 1

    groups: list[list[dict[str, Any]]] = []
    specials = ["zero", "max", "min", "minmax", "half", "half_neg"]
    while len(groups) < cfg["vectors"]:
        kind = specials[len(groups)] if len(groups) < len(specials) else "random"
        n_beats = 1 if kind != "random" else rng.randint(1, 6)
        beats = []
        for _ in range(n_beats):
            if kind == "zero":
                x, w = [0] * ti, [[0] * ti for _ in range(to)]
            elif kind in ("max", "min", "minmax"):
                xv = ext(xw)[1] if kind == "max" else ext(xw)[0]
                wv = (
                    ext(ww)[0]
                    if kind == "minmax"
                    else (ext(ww)[1] if kind == "max" else ext(ww)[0])
                )
                x, w = [xv] * ti, [[wv] * ti for _ in range(to)]
            elif kind.startswith("half"):
                # outputs of +-0.5 and +-1.5 output LSBs: both rounding parities
                sgn = -1 if kind == "half_neg" else 1
                h = 1 << (af - p["OUT_FRAC"] - 1)  # half an output LSB
                x = [sgn, 3 * sgn] + [0] * (ti - 2)
                w = [[h * (o % 2 == 0), h * (o % 2 == 1)] + [0] * (ti - 2) for o in range(to)]
            else:
                scale = rng.choice([None, xw - 4, xw - 8])
                x = [signed_random(rng, xw, scale) for _ in range(ti)]
                w = [
                    [signed_random(rng, ww, rng.choice([None, ww - 6])) for _ in range(ti)]
                    for _ in range(to)
                ]
            beats.append({"x": x, "w": w})
        zero_bias = kind in ("zero", "half", "half_neg")
        groups.append(
            [
                {
                    **bt,
                    "b": [0 if zero_bias else signed_random(rng, bw) for _ in range(to)],
                    "r": [0 if zero_bias else signed_random(rng, rw) for _ in range(to)],
                }
                for bt in beats
            ]
        )
    inputs, want, counts, labels = [], [], [], []
    for g in groups:
        acc = [(g[0]["b"][o] << bsh) + (g[0]["r"][o] << rsh) for o in range(to)]
        for j, bt in enumerate(g):
            for o in range(to):
                acc[o] += sum(bt["x"][i] * bt["w"][o][i] for i in range(ti))
            fields = [(v, xw) for v in bt["x"]]
            fields += [(bt["w"][o][i], ww) for o in range(to) for i in range(ti)]
            fields += [(v, bw) for v in bt["b"]] + [(v, rw) for v in bt["r"]]
            fields.append((int(j == len(g) - 1), 1))
            inputs.append(pack(fields))
        y = requant(torch.tensor(acc, dtype=torch.int64), af, out).tolist()
        want.append(pack([(v, p["OUT_W"]) for v in y]))
        counts.append(len(g))
        labels.append(f"acc={acc}")
    return {
        "in_width": ti * xw + to * ti * ww + to * bw + to * rw + 1,
        "inputs": inputs,
        "expected": want,
        "inputs_per_vector": 1,
        "vector_inputs": counts,
        "outputs_per_vector": 1,
        "labels": labels,
        "out_names": [f"y{o}" for o in range(to)],
        "out_widths": [p["OUT_W"]] * to,
        "out_signed": [bool(p["OUT_SIGNED"])] * to,
        "n_perf": 40,
        "timing": "group",
        "format": str(out),
    }


@cocotb.test()
async def mac_tile_matches_qtorch(dut: Any) -> None:
    """Every output bit for bit equal to requant of the exact sum; one beat per cycle."""
    await run_case(dut)
