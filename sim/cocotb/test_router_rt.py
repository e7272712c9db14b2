"""router_rt: top-k experts and their gates per token against the router of the golden
fixed-point forward, :meth:`pymodel.numerics.forward.FixedArith.route` (topk_fixed,
online_softmax_fixed over all experts, optional renormalisation).

Tokens of E = 1..2**IW logits with their own configuration (top-k 1..min(E,
K_MAX), renormalisation on or off, gate format: mostly an unsigned or signed
[0, 1) format, sometimes coarse, so that gates round to 0 and the renormalised
sum is clamped to 1; the logits' fraction count) stream back to back. Logits
are drawn from small ranges often, so that equal logits compete for the top-k
slots (ties go to the lower index). The configuration is only valid on a
token's first logit (random elsewhere). Timing: one logit per cycle plus the
softmax lane's stall after every logit that raises the running max.
"""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case
from sim.cocotb.test_softmax_lane import max_updates


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Logits {renorm, k, gate_fmt, logit_frac, last, logit}, golden {gate[], idx[]}."""
    import torch

    from pymodel.numerics.fixed import FixedFormat
    from pymodel.numerics.forward import FixedArith, Q
    from pymodel.numerics.presets import NumericsPreset
    from pymodel.numerics.qtorch import NumericsError, OverflowCounter
    from pymodel.numerics.rtl_export import CORE_LATENCY
    from sim.cocotb.golden import format_word, prob_format, score_rows

    p = cfg["params"]
    l_w, lf_w, k_max, out_w, iw = p["L_W"], p["LF_W"], p["K_MAX"], p["OUT_W"], p["IW"]
    kw = k_max.bit_length()
    e_max = 1 << iw
    rng = random.Random(cfg["seed"])
    inputs, want, counts, stall_after, labels = [], [], [], [], []
    cov = {k: 0 for k in ("renormalised", "k = 1", f"k = {k_max}", "all experts chosen")}
    cov |= {k: 0 for k in ("ties in the top k", "gate sum 0", "gate overflows")}
    cov |= {"max updates": 0, "unsigned gates": 0}
    pending: list[list[int]] = []
    while len(counts) < cfg["vectors"]:
        lf = rng.randint(4, 12) if rng.random() < 0.85 else rng.randint(-3, 20)
        if not pending:
            xfs = [lf] * 32
            pending = score_rows(rng, 32, l_w, xfs, (1, e_max))[::-1]
        row = pending.pop()
        if rng.random() < 0.3:  # small values: equal logits compete for the slots
            row = [rng.randint(-3, 3) for _ in row]
        e = len(row)
        k = rng.randint(1, min(e, k_max))
        renorm = rng.random() < 0.5
        gf = prob_format(rng, out_w)
        r = rng.random()
        if r < 0.1:  # a coarse gate format: small gates round to 0
            gf = FixedFormat(gf.width, gf.width - rng.randint(0, 2), gf.signed, gf.quant,
                             gf.overflow)  # fmt: skip
        elif r < 0.2:  # signed [-1/2, 1/2), wrapping: gates above 1/2 turn negative
            gf = FixedFormat(gf.width, 0, True, gf.quant, "AP_WRAP")  # (sums < 0: clamped to 1)
        counter = OverflowCounter()
        arith = FixedArith({}, NumericsPreset("router", "fixed", {"gate_prob": gf}), counter)
        logits = Q(torch.tensor([row], dtype=torch.int64), FixedFormat(l_w, l_w - lf))
        try:
            idx, gates = arith.route("gate", logits, k, renorm)
        except NumericsError:
            continue
        ids, gs = idx[0].tolist(), gates.raw[0].tolist()
        cfg_word = [(lf, lf_w), (format_word(gf), 22), (k, kw), (renorm, 1)]
        for j, v in enumerate(row):
            c = cfg_word if j == 0 else [(rng.getrandbits(w), w) for _, w in cfg_word]
            inputs.append(pack([(v, l_w), (j == e - 1, 1), *c]))
        slots = [(ids[s] if s < k else 0, iw) for s in range(k_max)]
        slots += [(gs[s] if s < k else 0, out_w) for s in range(k_max)]
        want.append(pack(slots))
        counts.append(e)
        flags = max_updates(row)
        stall_after += flags
        labels.append(f"k={k} renorm={renorm} gates {gf} logit_frac={lf} logits={row}")
        kth = sorted(row, reverse=True)[k - 1]
        cov["renormalised"] += renorm
        cov["k = 1"] += k == 1
        cov[f"k = {k_max}"] += k == k_max
        cov["all experts chosen"] += k == e
        cov["ties in the top k"] += row.count(kth) > 1
        cov["gate overflows"] += sum(counter.counts.values()) > 0
        cov["max updates"] += sum(flags)
        cov["unsigned gates"] += not gf.signed
        if renorm:  # the golden's gates before renormalisation: is their sum clamped to 1?
            plain = FixedArith({}, arith.preset, OverflowCounter()).route("g", logits, k, False)
            cov["gate sum 0"] += int(plain[1].raw.sum()) == 0
    return {
        "in_width": l_w + 1 + lf_w + 22 + kw + 1,
        "inputs": inputs,
        "expected": want,
        "vector_inputs": counts,
        "inputs_per_vector": 1,  # unused: tokens vary
        "outputs_per_vector": 1,
        "labels": labels,
        "out_names": [f"idx{s}" for s in range(k_max)] + [f"gate{s}" for s in range(k_max)],
        "out_widths": [iw] * k_max + [out_w] * k_max,
        "out_signed": [False] * k_max + [True] * k_max,
        "n_perf": 14,
        "timing": "stalls",
        "stall_after": stall_after,
        "expected_stall": CORE_LATENCY["sm_rescale"] - 1,
        "coverage": cov,
    }


@cocotb.test()
async def router_rt_matches_route(dut: Any) -> None:
    """Every token's experts and gates bit for bit equal to the golden router; one
    logit per cycle plus the fixed stall per running-max update; constant latency."""
    await run_case(dut)
