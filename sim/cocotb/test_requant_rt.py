"""requant_rt (through the ``requant_rt_stream`` wrapper): the ap_fixed assignment with
run-time formats against :mod:`pymodel.numerics.fixed` (the g++-verified emulation of
the ap_fixed headers; ``golden.assign_exact``).

Every vector has its own source value ``x`` (up to IN_W bits), source fraction
count ``x_frac`` and destination format (width 1..OUT_W, signed or not, every
quantisation and overflow mode, fraction bits -128..127), encoded as the
descriptor word the engine reads. Values and shifts are drawn so that results
near the destination range (both sides of it), exact ties, left shifts, shifts
past the clamps and the unused quantisation code 7 all occur often; the case's
coverage counters (``coverage``) prove it and tests/test_rtl.py asserts each of
them is non-zero.
"""

from __future__ import annotations

import random
from typing import Any

import cocotb

from sim.cocotb.harness import pack, run_case


def vectors(n: int, p: dict[str, int], seed: int) -> list[tuple[int, int, Any, int | None]]:
    """(x, x_frac, format, quant code override) tuples: edge cases, then random ones."""
    from pymodel.numerics.fixed import FixedFormat
    from sim.cocotb.golden import random_format

    in_w, frac_w, out_w = p["IN_W"], p["FRAC_W"], p["OUT_W"]
    lo, hi = -(1 << (in_w - 1)), (1 << (in_w - 1)) - 1
    flo, fhi = -(1 << (frac_w - 1)), (1 << (frac_w - 1)) - 1
    rng = random.Random(seed)
    out: list[tuple[int, int, Any, int | None]] = []
    for x in (0, 1, -1, lo, lo + 1, hi, hi - 1):
        for sh in (0, 1, -1, out_w, -in_w, -(in_w + 1), -(in_w + 2), out_w + 1):
            f = rng.randint(-20, 20)
            out.append((x, min(fhi, max(flo, f - sh)), random_format(rng, out_w, (f, f)), None))
    for xf in (flo, fhi):  # the extreme source fraction counts of the port
        out.append((rng.randint(lo, hi), xf, random_format(rng, out_w), None))
    while len(out) < n:
        fmt = random_format(rng, out_w)
        bits = rng.randint(0, in_w - 1)  # |x| < 2**bits, uniform in bit length
        x = rng.getrandbits(bits) if bits else 0
        x = -x if rng.random() < 0.5 else x
        r = rng.random()
        if r < 0.55:  # results near the destination range: both overflow and not
            n_shift = fmt.width - bits + rng.randint(-3, 3)
        elif r < 0.9:
            n_shift = rng.randint(-(in_w + 3), out_w + 2)
        else:
            n_shift = rng.randint(-600, 600)
        xf = min(fhi, max(flo, fmt.frac_bits - n_shift))
        rsh = xf - fmt.frac_bits
        if 1 <= rsh < in_w and rng.random() < 0.3:  # an exact tie: dropped bits 100..0
            x = (x >> rsh << rsh) | (1 << (rsh - 1))
        x = min(hi, max(lo, x))
        q7 = 7 if rng.random() < 0.02 else None  # unused code 7: rounds like AP_RND_CONV
        if q7 is not None:
            fmt = FixedFormat(fmt.width, fmt.int_bits, fmt.signed, "AP_RND_CONV", fmt.overflow)
        out.append((x, xf, fmt, q7))
    return out[:n]


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Vectors, golden words {ovf, y} and coverage counters."""
    from pymodel.numerics.fixed import OVERFLOW_CODES, QUANT_CODES
    from sim.cocotb.golden import assign_exact, format_word

    p = cfg["params"]
    in_w, frac_w, out_w = p["IN_W"], p["FRAC_W"], p["OUT_W"]
    vecs = vectors(cfg["vectors"], p, cfg["seed"])
    inputs, want, labels = [], [], []
    cov = {f"overflow {o.value}": 0 for o in OVERFLOW_CODES}
    cov |= {f"tie {q.value}": 0 for q in QUANT_CODES}
    cov |= {k: 0 for k in ("left shift", "clamped right shift", "clamped left shift")}
    cov |= {k: 0 for k in ("width 1", f"width {out_w}", "unsigned", "quant code 7")}
    for x, xf, fmt, q7 in vecs:
        y, ovf = assign_exact(x, xf, fmt, in_w)
        inputs.append(pack([(x, in_w), (xf, frac_w), (format_word(fmt, q7), 22)]))
        want.append(pack([(y, out_w), (ovf, 1)]))
        labels.append(f"x={x} x_frac={xf} fmt={fmt}{' (quant code 7)' if q7 else ''}")
        rsh = xf - fmt.frac_bits
        cov[f"overflow {fmt.overflow.value}"] += ovf
        cov[f"tie {fmt.quant.value}"] += 1 <= rsh < in_w and x % (1 << rsh) == 1 << (rsh - 1)
        cov["left shift"] += rsh < 0 and x != 0
        cov["clamped right shift"] += rsh > in_w + 1
        cov["clamped left shift"] += -rsh > out_w and x != 0
        cov["width 1"] += fmt.width == 1
        cov[f"width {out_w}"] += fmt.width == out_w
        cov["unsigned"] += not fmt.signed
        cov["quant code 7"] += q7 is not None
    return {
        "in_width": in_w + frac_w + 22,
        "inputs": inputs,
        "expected": want,
        "inputs_per_vector": 1,
        "outputs_per_vector": 1,
        "labels": labels,
        "out_names": ["y", "ovf"],
        "out_widths": [out_w, 1],
        "out_signed": [True, False],
        "n_perf": 200,
        "timing": "elementwise",
        "coverage": cov,
    }


@cocotb.test()
async def requant_rt_matches_fixedformat(dut: Any) -> None:
    """Every result and overflow flag bit for bit equal to the ap_fixed emulation; II 1."""
    await run_case(dut)
