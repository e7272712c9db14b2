"""The job lists of the lin_unit testbench (sim/cocotb/test_lin_unit.py) and their golden
stores, built in the runner's process (``case``; imports torch through pymodel).

A job is a ``engine_pkg::job_t`` word (:func:`pack_job`, its fields read from
engine_pkg.sv) built as hls/src/edgemoe_layers.cpp ``ddr_job`` builds a linear
layer; its weights go into the weight ports' DDR image as the export writes a
matrix (:func:`pymodel.export.layout.pack_rows`), its bias into the params
image. The expected words come from the golden forward's linear layer
(:meth:`pymodel.numerics.forward.FixedArith._linear`, then ``gelu``), applied
job by job to a model of the on-chip buffers, and the performance model's
cycles of every list from :func:`pymodel.perf.units.linear_jobs` (MODELLED).
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

ENGINE_PKG = Path(__file__).resolve().parents[2] / "hls" / "rtl" / "engine" / "engine_pkg.sv"
# engine_pkg codes used here
XS_H, XS_U = 0, 2
YS_X, YS_U = 0, 6
X_BUF = {XS_H: "h", XS_U: "u"}  # x source -> buffer
Y_BUF = {YS_X: "x", YS_U: "u"}  # sink -> buffer
BUF_ROWS = 32  # rows of every modelled buffer: the x rows of three layers fit
BAND = 10  # rows reserved for each layer's x (up to 9 rows, 3 layers)
#: DDR read latency (cycles) of the lists without back-pressure: the performance
#: model is run with the same latency.
PERF_LATENCY = 40


def job_fields() -> list[tuple[str, int]]:
    """(name, bits) of engine_pkg::job_t, first field first (the struct's top bits)."""
    text = ENGINE_PKG.read_text()
    body = re.search(r"typedef struct packed \{(.*?)\} job_t;", text, re.S)
    assert body is not None, "job_t not found in engine_pkg.sv"
    out = []
    for line in body.group(1).splitlines():
        line = line.split("//")[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"logic\s+(?:signed\s+)?(?:\[(\d+):0\]\s+)?(\w+);", line)
        assert m is not None, f"unexpected job_t field: {line!r}"
        out.append((m.group(2), int(m.group(1)) + 1 if m.group(1) else 1))
    return out


def pack_job(values: dict[str, int]) -> int:
    """The job_t word of ``values`` (missing fields zero, as blank_job())."""
    fields = job_fields()
    unknown = set(values) - {n for n, _ in fields}
    assert not unknown, f"not job_t fields: {unknown}"
    word = 0
    for name, bits in fields:
        word = (word << bits) | (int(values.get(name, 0)) & ((1 << bits) - 1))
    return word


# ------------------------------------------------------------------ golden side
def _golden() -> Any:
    """The golden forward's fixed-point arithmetic, with formats given per call."""
    from pymodel.numerics.forward import FixedArith
    from pymodel.numerics.hwmath import SPEC
    from pymodel.numerics.qtorch import OverflowCounter

    class _Formats:
        """A preset whose format for each (name, kind) is set by the caller."""

        spec = SPEC

        def __init__(self) -> None:
            self.formats: dict[str, Any] = {}

        def fmt(self, tensor: str, kind: str) -> Any:
            del tensor
            return self.formats[kind]

    preset = _Formats()
    return FixedArith({}, preset, OverflowCounter()), preset  # type: ignore[arg-type]


def _rand_fmt(rng: random.Random, width: int, frac: int, signed: bool = True) -> Any:
    from pymodel.numerics.fixed import OVERFLOW_CODES, QUANT_CODES, FixedFormat

    q = rng.choice(list(QUANT_CODES))
    o = rng.choice(list(OVERFLOW_CODES))
    return FixedFormat(width, width - frac, signed, q, o)


def _raw(rng: random.Random, f: Any, shape: tuple[int, ...]) -> Any:
    import numpy as np

    lo, hi = f.raw_min, f.raw_max
    return np.array([rng.randint(lo, hi) for _ in range(int(np.prod(shape)))]).reshape(shape)


def _beats(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 16], "little") for i in range(0, len(data), 16)]


def _word16(v: int) -> int:
    return int(v) & 0xFFFF


def _s16(w: int) -> int:
    return w - 0x10000 if w & 0x8000 else w


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Job lists, the DDR images, the buffers' initial contents, the expected stores
    (golden forward) and the performance model's cycles of every list."""
    import numpy as np
    import torch

    from pymodel.export.design import Design
    from pymodel.export.layout import beats, pack_rows
    from pymodel.numerics.forward import Q
    from pymodel.perf.ddr import Ddr
    from pymodel.perf.units import LinearSpec, linear_jobs
    from sim.cocotb.golden import format_word

    p = cfg["params"]
    r_, ti, to, kp, max_k, nj = p["R"], p["TI"], p["TO"], p["KP"], p["MAX_K"], p["NJ"]
    rng = random.Random(cfg["seed"])
    arith, preset = _golden()
    wimg: list[int] = []  # the weight ports' DDR (beats from the ports' base)
    pimg: list[int] = []  # the params image (biases)
    n_lists = cfg["vectors"]
    n_perf = max(1, n_lists // 2)
    lists = []
    cover = {"wide": 0, "packed": 0, "w8_x16": 0, "gelu": 0, "residual": 0, "window": 0}
    cover |= {"chain": 0, "no_bias": 0, "out_of_range": 0}
    design = Design(
        mac_rows=r_,
        mac_in=ti,
        mac_out=to,
        epilogue_lanes=p["EL"],
        gelu_lanes=p["GL"],
        acc_lanes=p["AL"],
        prob_lanes=p["PL"],
        query_block=p["QB"],
        weight_ports=p["PORTS"],
    )
    ddr = Ddr(latency_cycles=PERF_LATENCY)

    def buffer(cols: int) -> Any:
        return np.array(
            [[rng.randint(-(1 << 15), (1 << 15) - 1) for _ in range(cols)] for _ in range(BUF_ROWS)]
        )

    for li in range(n_lists):
        bufs = {"h": buffer(kp), "u": buffer(max(kp, max_k)), "x": buffer(max_k)}
        init = {k: [[_word16(v) for v in row] for row in b] for k, b in bufs.items()}
        chain = li % 3 == 1 and nj >= 2  # every third list an MLP
        n_jobs = 2 if chain else rng.randint(1, min(3, nj))
        jobs, specs, labels = [], [], []
        h_used: set[int] = set()
        rows = rng.randint(1, 9)
        for q in range(n_jobs):
            fc2 = chain and q == 1
            if not chain:
                rows = rng.randint(1, 9)
            mode = ("wide", "packed", "w8_x16")[(li + q) % 3]  # each mode in every 3 lists
            if fc2:  # x = fc1's output (its GELU format)
                x_src, x_fmt = XS_U, jobs[0]["g_fmt_obj"]
                in_f = jobs[0]["out"]
                mode = "packed" if x_fmt.width <= 8 else rng.choice(["wide", "w8_x16"])
            else:
                x_src = XS_H
                in_f = rng.randint(32, kp)
                xw = 8 if mode == "packed" else 16
                x_fmt = _rand_fmt(rng, xw, rng.randint(4, xw - 2), signed=True)
            out_f = rng.randint(8, min(40, max_k))
            ww = rng.randint(2, 8) if mode in ("packed", "w8_x16") else 16
            w_fmt = _rand_fmt(rng, ww, rng.randint(ww - 3, ww + 2))
            narrow = ww <= 8
            per_beat = 16 if narrow else 8
            # stored matrix: maybe a wider one of which this job reads a column window
            window = (li + q) % 4 == 0 or rng.random() < 0.2
            c0b = rng.randint(1, 3) if window else 0
            in_full = c0b * per_beat + in_f + (rng.randint(0, 20) if window else 0)
            w_full = _raw(rng, w_fmt, (out_f, in_full))
            w_raw = w_full[:, c0b * per_beat : c0b * per_beat + in_f]
            w_off = len(wimg)
            wimg += _beats(pack_rows(w_full, 8 if narrow else 16, w_fmt))
            # the x rows of the layers of a list do not overlap (each holds its own x)
            # (each layer q in its own band of BAND rows: random starts could leave no gap)
            if fc2:  # fc2 reads the rows fc1 stored
                x_row0 = jobs[0]["y_row0"]
            else:
                x_row0 = q * BAND + rng.randint(0, BAND - rows)
                assert not h_used & set(range(x_row0, x_row0 + rows))
                h_used.update(range(x_row0, x_row0 + rows))
            y_row0 = rng.randint(0, BUF_ROWS - rows)
            x_words = bufs[X_BUF[x_src]][x_row0 : x_row0 + rows, :in_f]
            x_raw = np.vectorize(_s16)(x_words & 0xFFFF) if fc2 else x_words
            if not fc2:  # the x rows hold values of x's format
                x_raw = _raw(rng, x_fmt, (rows, in_f))
                bufs["h"][x_row0 : x_row0 + rows, :in_f] = x_raw
                for r in range(rows):
                    init["h"][x_row0 + r][:in_f] = [_word16(v) for v in x_raw[r]]
            acc_frac = x_fmt.frac_bits + w_fmt.frac_bits
            bias = (li + q) % 5 != 3 and rng.random() < 0.9
            b_fmt = _rand_fmt(rng, 16, rng.randint(acc_frac - 8, acc_frac))
            b_raw = _raw(rng, b_fmt, (out_f,))
            b_off = len(pimg)
            if bias:
                pimg += _beats(pack_rows(b_raw, 16, b_fmt))
            gelu = chain and q == 0
            residual = fc2 or (not chain and (li % 3 == 2 or rng.random() < 0.2))
            sink = YS_U if gelu else (YS_X if residual or rng.random() < 0.5 else YS_U)
            r_fmt = _rand_fmt(rng, 16, rng.randint(acc_frac - 6, acc_frac))
            res_raw = bufs["x"][y_row0 : y_row0 + rows, :out_f]
            # exact sum first, to place y_fmt where the results are (some saturate)
            exact = x_raw.astype(object) @ w_raw.astype(object).T
            if bias:
                exact = exact + (b_raw.astype(object) << (acc_frac - b_fmt.frac_bits))
            if residual:
                exact = exact + (res_raw.astype(object) << (acc_frac - r_fmt.frac_bits))
            top = max(1, max(abs(int(v)) for v in exact.flat)).bit_length()
            yw = 16 if gelu or rng.random() < 0.7 else rng.randint(4, 16)
            # every other job one fraction bit more than its largest sum fits: overflows
            lift = -1 if (li + q) % 2 == 0 else rng.choice([0, 0, 1, 2])
            y_frac = acc_frac - (top - (yw - 1)) - lift
            if gelu:
                y_frac = min(30, max(0, y_frac))
            y_fmt = _rand_fmt(rng, yw, y_frac, signed=gelu or rng.random() < 0.8)
            g_fmt = None
            preset.formats["y"] = y_fmt
            y = arith._linear(
                "y",
                Q(torch.tensor(x_raw.astype(np.int64)), x_fmt),
                torch.tensor(w_raw.astype(np.int64)),
                w_fmt,
                Q(torch.tensor(b_raw.astype(np.int64)), b_fmt) if bias else None,
                "y",
                Q(torch.tensor(res_raw.astype(np.int64)), r_fmt) if residual else None,
            )
            if gelu:
                gw = 8 if rng.random() < 0.4 else 16
                g_fmt = _rand_fmt(rng, gw, y_frac - rng.randint(0, 2) - (16 - gw), signed=True)
                preset.formats["gelu"] = g_fmt
                y = arith.gelu("g", y)
            yv = y.raw.numpy()
            sh = acc_frac - y_frac  # sums outside y_fmt's range (before the overflow mode)
            scaled = [int(v) >> sh if sh >= 0 else int(v) << -sh for v in exact.flat]
            cover["out_of_range"] += sum(not y_fmt.raw_min <= v <= y_fmt.raw_max for v in scaled)
            sbuf = bufs[Y_BUF[sink]]
            sbuf[y_row0 : y_row0 + rows, :out_f] = np.vectorize(lambda v: _s16(_word16(v)))(yv)
            cover[mode] += 1
            cover["gelu"] += gelu
            cover["residual"] += residual
            cover["window"] += window
            cover["chain"] += fc2
            cover["no_bias"] += not bias
            job = {
                "rows": rows,
                "x_src": x_src,
                "x_row0": x_row0,
                "in_features": in_f,
                "x_frac": x_fmt.frac_bits,
                "x_width": x_fmt.width,
                "w_off": w_off,
                "out_features": out_f,
                "w_frac": w_fmt.frac_bits,
                "w_width": w_fmt.width,
                "w_fmt": format_word(w_fmt),
                "bias": int(bias),
                "b_off": b_off,
                "b_frac": b_fmt.frac_bits,
                "residual": int(residual),
                "r_frac": r_fmt.frac_bits,
                "w_col0_beats": c0b,
                "w_row_beats": beats(in_full, per_beat) if window else 0,
                "y_sink": sink,
                "y_row0": y_row0,
                "y_fmt": format_word(y_fmt),
                "gelu": int(gelu),
                "g_fmt": format_word(g_fmt) if g_fmt is not None else 0,
            }
            jobs.append(
                {
                    "word": pack_job(job),
                    "out": out_f,
                    "y_row0": y_row0,
                    "g_fmt_obj": g_fmt,
                    "expected": [
                        [sink, y_row0 + r, n, _word16(yv[r][n])]
                        for r in range(rows)
                        for n in range(out_f)
                    ],
                    "groups": [
                        -(-(in_f) // ti)
                        for _ in range(-(-out_f // ((2 * to) if mode == "packed" else to)))
                        for _ in range(-(-rows // r_))
                    ],
                }
            )
            labels.append(
                f"job {q}: {rows}x{in_f}->{out_f} {mode} x{x_fmt.width} w{ww}"
                + (" gelu" if gelu else "")
                + (" residual" if residual else "")
                + (f" window@{c0b}" if window else "")
                + ("" if bias else " no-bias")
                + f" -> {'U' if sink == YS_U else 'X'}"
            )
            specs.append(
                LinearSpec(
                    name=f"list{li}.job{q}",
                    rows=rows,
                    in_features=in_f,
                    out_features=out_f,
                    x_bits=x_fmt.width,
                    w_bits=ww,
                    gelu=gelu,
                    bias=bias,
                )
            )
        costs = linear_jobs(specs, design, ddr)
        lists.append(
            {
                "init": init,
                "jobs": [
                    {"word": j["word"], "expected": j["expected"], "groups": j["groups"]}
                    for j in jobs
                ],
                "label": f"list {li}: " + "; ".join(labels),
                "perf": li < n_perf,
                "modelled_cycles": sum(c.cycles for c in costs),
                "modelled_compute_cycles": sum(c.compute_cycles for c in costs),
            }
        )
    if n_lists >= 6:  # what the lists are built to cover, there in CI's six
        missing = [k for k, v in cover.items() if not v]
        assert not missing, f"no job with {missing}"
    return {
        "lists": lists,
        "wimg": wimg,
        "pimg": pimg,
        "coverage": cover,
        "perf_latency": PERF_LATENCY,
        "model": "pymodel.perf.units.linear_jobs, Design(mac_rows=R, mac_in=TI, mac_out=TO, "
        f"weight_ports=PORTS, lanes EL/GL/AL), Ddr(latency_cycles={PERF_LATENCY})",
    }
