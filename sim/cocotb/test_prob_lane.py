"""prob_lane (through the ``prob_lane_stream`` wrapper): one probability per cycle from a
score, its row's maximum and 1/sum, against the rows of
:func:`pymodel.numerics.hwmath.online_softmax_fixed`.

Rows of random length with their own score fraction count and probability
format (signed or not, every mode; see ``golden.prob_format``) are computed by
the golden function; every element then goes to the lane with the row's
maximum m and 1/s = recip_fixed(s) as the softmax statistics give them, so the
lane sees a new row (and new formats) at every row boundary without a bubble.
The overflow flag of an element is the golden function's own last step
(``_requant_var`` of e * mant) on that element, checked against its row output.
"""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Elements {fmt, shift, mant, x_frac, m, x} and golden words {ovf, y}."""
    import torch

    from pymodel.numerics.hwmath import (
        SPEC,
        _online_sum,
        _requant_var,
        exp_fixed,
        online_softmax_fixed,
        recip_fixed,
    )
    from pymodel.numerics.qtorch import NumericsError, OverflowCounter
    from sim.cocotb.golden import format_word, prob_format, score_rows

    p = cfg["params"]
    x_w, xf_w, sh_w, out_w = p["X_W"], p["XF_W"], p["SHIFT_W"], p["OUT_W"]
    mw = SPEC.mant_frac + 1
    rng = random.Random(cfg["seed"])
    inputs, want, labels = [], [], []
    cov = {f"overflow {m}": 0 for m in ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")}
    cov |= {"probability 0": 0, "unsigned format": 0, "negative x_frac": 0, "rows": 0}
    pending: list[tuple[int, list[int]]] = []
    while len(inputs) < cfg["vectors"]:
        if not pending:  # a batch of rows: edge rows first (score_rows), then random ones
            xfs = [rng.randint(4, 24) if rng.random() < 0.8 else rng.randint(-4, 30)
                   for _ in range(64)]  # fmt: skip
            pending = list(zip(xfs, score_rows(rng, len(xfs), x_w, xfs, (1, 40))))[::-1]
        xf, row = pending.pop()
        x = torch.tensor([row], dtype=torch.int64)
        try:
            fmt = prob_format(rng, out_w)
            y = online_softmax_fixed(x, xf, fmt)
        except NumericsError:  # a format outside the golden's 64-bit shifts: draw again
            continue
        m, s = _online_sum(x, xf, SPEC, exact=True)
        mant, shift = recip_fixed(s, SPEC.softmax_sum_frac)
        e = exp_fixed(x - m, xf)
        frac = SPEC.exp_out_frac + SPEC.mant_frac + shift
        cov["rows"] += 1
        for j, v in enumerate(row):
            c = OverflowCounter()
            yj = _requant_var(e[:, j : j + 1] * mant, frac, fmt, c, "p")
            assert int(yj) == int(y[0, j]), "the golden's last step disagrees with its row"
            ovf = c.counts["p"]
            fields = [(v, x_w), (int(m), x_w), (xf, xf_w), (int(mant), mw), (int(shift), sh_w)]
            inputs.append(pack([*fields, (format_word(fmt), 22)]))
            want.append(pack([(int(y[0, j]), out_w), (ovf, 1)]))
            labels.append(f"x={v} m={int(m)} x_frac={xf} 1/s=({int(mant)}, {int(shift)}) {fmt}")
            cov[f"overflow {fmt.overflow.value}"] += ovf
            cov["probability 0"] += int(y[0, j]) == 0
            cov["unsigned format"] += not fmt.signed
            cov["negative x_frac"] += xf < 0
    n = cfg["vectors"]
    return {
        "in_width": 2 * x_w + xf_w + mw + sh_w + 22,
        "inputs": inputs[:n],
        "expected": want[:n],
        "inputs_per_vector": 1,
        "outputs_per_vector": 1,
        "labels": labels[:n],
        "out_names": ["y", "ovf"],
        "out_widths": [out_w, 1],
        "out_signed": [True, False],
        "n_perf": 200,
        "timing": "elementwise",
        "coverage": cov,
    }


@cocotb.test()
async def prob_lane_matches_online_softmax(dut: Any) -> None:
    """Every probability and overflow flag bit for bit equal to the golden rows; II 1."""
    await run_case(dut)
