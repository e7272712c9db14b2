"""ln_op (through the ``ln_op_tb`` wrapper): LayerNorm calls as the sequencer makes them
(hls/src/edgemoe_layers.cpp ``layernorm_rows``), every h word against
:func:`pymodel.numerics.hwmath.layernorm_fixed`.

A call normalises ``rows`` rows of D = ``model.dim`` values from the x buffer
(rows ``row0 ..``) into h rows ``0 ..``: gamma and beta come from the params
image as the export stores norm vectors (:func:`pymodel.export.layout.pack_rows`,
16-bit words, eight per beat), each call with its own D (1..MAX_D: partial
beats, rows shorter than one beat, vectors of a partial parameter beat), rows
(0..ROWS_MAX), x fraction count (truncated squares, negative), gamma and beta
fraction counts, raw eps (mostly ``ln_eps_raw``), z and output formats
(random widths up to ACT_W, all rounding and overflow modes); x values keep
|x >> a| < 2**28 (the int64 sum of squares of the golden and of the C++).
Every third
call has src_io = 1 (LayerNorm 1 streamed from io_x, ``layernorm_rows_io``):
its rows come from the io image instead (rows of ceil(D / APW) beats from
``io_x``, written as the export writes activation rows, ``pack_rows`` at
ACT_W bits) and the x buffer must not be read. src_io is inverted after the
start cycle (ln_op must hold the value it sampled).

The testbench models the gmem_io read client cycle by cycle (requests
accepted under random back-pressure and held until accepted, beats returned
in order after 1..60 cycles, with gaps), the params and io images, the x
buffer (synchronous reads per lane, data held while re is low, as ``ebuf``)
and the h buffer (every write collected). Every h write is compared as an
integer (the ACT_W-bit word); a write the golden model does not make, a word
written twice, or one never written is a mismatch. Words of x rows outside
the call's and x columns past D hold random values.

Timing (x-buffer calls): II = the largest gap between consecutive x-read beats
of a call (one per cycle once gamma and beta are in); latency = the first
row's last x read -> its first h write (constant: the unit's output side is
idle then). Cycles from start to done (MEASURED, RTL simulation) of the first
half of the calls
(no back-pressure, DDR latency ``PERF_LATENCY``) are recorded beside
:func:`pymodel.perf.units.layernorm_rows` (``layernorm_rows_io`` for io calls)
for the same rows (MODELLED; the model leaves out the gamma and beta reads),
in the result's ``perf``; nothing is asserted about their ratio.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import replace
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from sim.cocotb.harness import CLOCK_NS, config, finish, load_case

BUF_ROWS = 12  # x and h buffer rows
IO_ROWS = 20  # rows of the io image's x region
ROWS_MAX = 10  # rows of one call (> 2 NS: io rows arrive faster than LL = 4 reads them)
PERF_LATENCY = 40  # DDR latency of the calls without back-pressure (and of the model)


def _word(v: int, bits: int) -> int:
    return int(v) & ((1 << bits) - 1)


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """The calls (arguments, x buffer contents), the params image, the expected h words,
    the modelled cycles and the coverage counters of what the calls contain."""
    import numpy as np
    import torch

    from pymodel.export.descriptor import encode_format
    from pymodel.export.design import Design
    from pymodel.export.layout import pack_rows
    from pymodel.numerics.fixed import FixedFormat
    from pymodel.numerics.hwmath import SPEC, layernorm_fixed, ln_eps_raw
    from pymodel.numerics.qtorch import NumericsError, OverflowCounter
    from pymodel.perf.ddr import Ddr
    from pymodel.perf.units import layernorm_rows, layernorm_rows_io
    from sim.cocotb.golden import _OVF, _QUANT, signed_random

    p = cfg["params"]
    act_w, ll, max_d = p["ACT_W"], p["LL"], p["MAX_D"]
    rng = random.Random(cfg["seed"])
    design = Design(ln_lanes=ll)
    n_perf = max(1, cfg["vectors"] // 2)

    def fmt(width: int, frac: int, signed: bool = True) -> FixedFormat:
        return FixedFormat(width, width - frac, signed, _QUANT[rng.randrange(7)],
                           _OVF[rng.randrange(4)])  # fmt: skip

    ddr = Ddr(latency_cycles=PERF_LATENCY)
    pimg: list[int] = []
    ioimg: list[int] = []
    calls = []
    cov = {k: 0 for k in ("z overflows", "y overflows", "D = MAX_D", "D < LL", "rows = 0")}
    cov |= {k: 0 for k in ("partial last beats", "partial parameter beats", "row0 > 0")}
    cov |= {k: 0 for k in ("truncated squares", "eps not the default", "negative x_frac")}
    cov |= {k: 0 for k in ("unsigned output", "bsh = 0", "rows of one value", "io-sourced calls")}
    while len(calls) < cfg["vectors"]:
        k = len(calls)
        d = [max_d, 1, ll - 1 if ll > 1 else 2, rng.randint(1, max_d)][k % 4]
        d = max(1, min(max_d, d))
        rows = 0 if k == 5 else rng.randint(1, ROWS_MAX)
        io = k % 3 == 1
        row0 = rng.randint(0, (IO_ROWS if io else BUF_ROWS) - max(rows, 1))
        xf = rng.randint(4, act_w - 2) if rng.random() < 0.75 else rng.choice([-3, 0, 14, 20])
        xf = -rng.randint(1, 4) if k % 6 == 4 else xf
        gf = rng.randint(6, 15)
        zw = rng.randint(4, 32)
        zf = zw - (1 if k % 6 == 0 else rng.randint(1, 8))  # z in [-1, 1): it saturates
        bf = zf + gf if k % 5 == 2 else rng.randint(max(-8, zf + gf - 32), zf + gf)
        ow = rng.randint(2, act_w)
        of = fmt(ow, ow - rng.randint(2, 10), rng.random() < 0.85)
        zfmt = fmt(zw, zf)
        fq = xf - max(0, xf - SPEC.ln_sq_frac)
        eps = ln_eps_raw(fq) if rng.random() < 0.7 else rng.randint(1, 1 << 20)
        # |xs| < 2**28 keeps the sum of squares inside the int64 of the golden (and of
        # the C++ layernorm_row: wider inputs are outside the engine's range)
        xb = min(act_w - 1, 28 + xf - fq)
        xs = []
        for _ in range(rows):
            kind = rng.randrange(6)
            if kind == 0:  # one value: the variance is eps alone
                xs.append([rng.randint(-(1 << xb), (1 << xb) - 1)] * d)
            elif kind == 1:  # extremes
                xs.append([(1 << xb) - 1 if j % 2 else -(1 << xb) for j in range(d)])
            else:
                c = rng.randint(-(1 << (xb - 2)), 1 << (xb - 2))
                s = 1 << rng.randint(0, xb - 2)
                xs.append([max(-(1 << xb), min((1 << xb) - 1, c + rng.randint(-s, s)))
                           for _ in range(d)])  # fmt: skip
        gs = [signed_random(rng, 16, min(15, gf + 1)) for _ in range(d)]
        bs = [signed_random(rng, 16, min(15, max(0, bf + 1))) for _ in range(d)]
        if k % 7 == 3:  # extreme gains: y saturates
            gs, bs = [(1 << 15) - 1] * d, [(1 << 15) - 1] * d
        spec = replace(SPEC, ln_eps=eps / 2.0 ** (2 * fq))
        counter = OverflowCounter()
        y: list[list[int]] = []
        if rows:
            try:
                y = layernorm_fixed(
                    torch.tensor(xs, dtype=torch.int64), xf,
                    torch.tensor([gs], dtype=torch.int64), gf,
                    torch.tensor([bs], dtype=torch.int64), bf,
                    zfmt, of, spec, counter, "ln",
                ).tolist()  # fmt: skip
            except NumericsError:
                continue
        assert max(1, math.floor(spec.ln_eps * 2.0 ** (2 * fq) + 0.5)) == eps
        pimg += [rng.getrandbits(128) for _ in range(rng.randint(0, 2))]  # other parameters
        g_off = len(pimg)
        pimg += _beats(pack_rows(np.array(gs), 16))
        b_off = len(pimg)
        pimg += _beats(pack_rows(np.array(bs), 16))
        xbuf = [[rng.getrandbits(act_w) for _ in range(max_d)] for _ in range(BUF_ROWS)]
        io_x = 0
        if io:  # the rows in io_x (other rows random), the x buffer random
            lo, hi = -(1 << (act_w - 1)), (1 << (act_w - 1)) - 1
            region = np.array([[rng.randint(lo, hi) for _ in range(d)] for _ in range(IO_ROWS)])
            region[row0 : row0 + rows] = np.array(xs, dtype=np.int64).reshape(rows, d)
            ioimg += [rng.getrandbits(128) for _ in range(rng.randint(0, 3))]
            io_x = len(ioimg)
            ioimg += _beats(pack_rows(region, act_w))
        else:
            for r in range(rows):
                xbuf[row0 + r][:d] = [_word(v, act_w) for v in xs[r]]
        calls.append(
            {
                "args": {
                    "dim": d,
                    "src_io": int(io),
                    "io_x": io_x,
                    "rows": rows,
                    "row0": row0,
                    "x_frac": _word(xf, 10),
                    "g_off": g_off,
                    "b_off": b_off,
                    "g_fmt": encode_format(FixedFormat(16, 16 - gf)),  # descriptor words
                    "b_fmt": encode_format(FixedFormat(16, 16 - bf)),
                    "z_fmt": encode_format(zfmt),
                    "o_fmt": encode_format(of),
                    "eps": eps,
                },
                "xbuf": xbuf,
                "expected": [[r, c, _word(y[r][c], act_w)] for r in range(rows) for c in range(d)],
                "perf": k < n_perf,
                "modelled_cycles": layernorm_rows_io(rows, d, act_w, design, ddr)
                if io
                else layernorm_rows(rows, d, design),
                "label": f"call {k}: {'io' if io else 'x'} D={d} rows={rows} row0={row0} "
                f"x_frac={xf} g/b frac={gf}/{bf} eps={eps} z {zfmt} y {of}",
            }
        )
        cov["io-sourced calls"] += io and rows > 0
        cov["z overflows"] += counter.counts.get("ln.z", 0)
        cov["y overflows"] += counter.counts.get("ln", 0)
        cov["D = MAX_D"] += d == max_d
        cov["D < LL"] += d < ll
        cov["rows = 0"] += rows == 0
        cov["partial last beats"] += d % ll != 0
        cov["partial parameter beats"] += d % 8 != 0
        cov["row0 > 0"] += row0 > 0 and rows > 0
        cov["truncated squares"] += xf > SPEC.ln_sq_frac
        cov["eps not the default"] += eps != ln_eps_raw(fq)
        cov["negative x_frac"] += xf < 0
        cov["unsigned output"] += not of.signed
        cov["bsh = 0"] += zf + gf == bf
        cov["rows of one value"] += any(len(set(r)) == 1 for r in xs)
    return {
        "calls": calls,
        "pimg": pimg,
        "ioimg": ioimg,
        "coverage": cov,
        "perf_latency": PERF_LATENCY,
        "model": "pymodel.perf.units.layernorm_rows (x) and layernorm_rows_io (io), "
        f"Design(ln_lanes={ll}), Ddr(latency_cycles={PERF_LATENCY})",
    }


def _beats(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 16], "little") for i in range(0, len(data), 16)]


def _lanes(value: Any, n: int, bits: int) -> list[int | None]:
    """The ``n`` lanes of ``bits`` of a vector signal (lane 0 low); X/Z lanes are None."""
    text = str(value)
    out: list[int | None] = []
    for i in range(n):
        lane = text[len(text) - (i + 1) * bits : len(text) - i * bits]
        out.append(int(lane, 2) if set(lane) <= {"0", "1"} else None)
    return out


class Memories:
    """The gmem_io read client's DDR (params and io images) and the x and h buffers."""

    def __init__(self, dut: Any, case: dict[str, Any], p: dict[str, int], seed: int) -> None:
        self.dut, self.p = dut, p
        self.imgs = {0: case["pimg"], 1: case["ioimg"]}
        self.rng = random.Random(seed)
        self.q: list[tuple[int, int]] = []  # (due cycle, beat)
        self.last_due = 0
        self.drove = False
        self.ready = 0
        self.pending: tuple[int, int] | None = None
        self.xbuf: list[list[int]] = []
        self.x_words = [0] * p["LL"]
        self.errors: list[str] = []
        self.lat = (PERF_LATENCY, PERF_LATENCY)
        self.p_ready = self.p_valid = 1.0
        self.refused = 0  # requests refused a cycle (back-pressure seen)

    def drive(self, cycle: int) -> None:
        """Inputs of this cycle (after the falling edge)."""
        d, rng = self.dut, self.rng
        self.ready = int(self.p_ready >= 1.0 or rng.random() < self.p_ready)
        d.rd_req_ready.value = self.ready
        go = bool(self.q) and self.q[0][0] <= cycle
        self.drove = go and (self.p_valid >= 1.0 or rng.random() < self.p_valid)
        d.rd_valid.value = int(self.drove)
        d.rd_data.value = self.q[0][1] if self.drove else 0
        w = self.p["ACT_W"]
        d.x_rdata.value = sum(v << (w * i) for i, v in enumerate(self.x_words))

    def sample(self, cycle: int, writes: list[tuple[int, int, int | None]], io: int) -> int:
        """Outputs of this cycle (ReadOnly): the request, the x reads (lanes read, returned)
        and the h writes (appended to ``writes``); ``io``: the call reads the io image."""
        d, ll, w = self.dut, self.p["LL"], self.p["ACT_W"]
        valid = d.rd_req_valid.value == 1
        req = (
            (int(d.rd_req_io.value), d.rd_req_beat.value.to_unsigned(),
             d.rd_req_len.value.to_unsigned()) if valid else None
        )  # fmt: skip
        if self.pending is not None and req != self.pending:
            self.errors.append(f"cycle {cycle}: request {self.pending} withdrawn or changed")
        self.pending = req if valid and not self.ready else None
        self.refused += int(valid and not self.ready)
        if valid and self.ready and req is not None:
            src, a, n = req
            if src and not io:
                self.errors.append(f"cycle {cycle}: a request to the io image")
            img = self.imgs[src]
            t = max(cycle + self.rng.randint(*self.lat), self.last_due + 1)
            for k in range(n):
                ok = a + k < len(img)
                if not ok:
                    self.errors.append(f"cycle {cycle}: read of beat {a + k} past image {src}")
                self.q.append((t + k, img[a + k] if ok else 0))
            self.last_due = t + n - 1
        if self.drove:
            if d.rd_ready.value == 1:
                self.q.pop(0)
            else:
                self.errors.append(f"cycle {cycle}: a returned beat not taken (rd_ready low)")
        re_ = _lanes(d.x_re.value, ll, 1)
        if None in re_:
            self.errors.append(f"cycle {cycle}: x_re = {d.x_re.value}")
        n_read = 0
        if any(re_):
            rows, cols = _lanes(d.x_rrow.value, ll, 16), _lanes(d.x_rcol.value, ll, 16)
            for j in range(ll):
                if re_[j]:
                    n_read += 1
                    r, c = rows[j], cols[j]
                    if (
                        r is None
                        or c is None
                        or not (0 <= r < BUF_ROWS and 0 <= c < self.p["MAX_D"])
                    ):
                        self.errors.append(f"cycle {cycle}: x read lane {j} at ({r}, {c})")
                    else:
                        self.x_words[j] = self.xbuf[r][c]
        we = _lanes(d.h_we.value, ll, 1)
        if None in we:
            self.errors.append(f"cycle {cycle}: h_we = {d.h_we.value}")
        if any(we):
            rows, cols = _lanes(d.h_wrow.value, ll, 16), _lanes(d.h_wcol.value, ll, 16)
            data, add = _lanes(d.h_wdata.value, ll, w), _lanes(d.h_wadd.value, ll, 1)
            for j in range(ll):
                if we[j]:
                    if add[j] != 0:
                        self.errors.append(f"cycle {cycle}: h_wadd set on lane {j}")
                    r, c = rows[j], cols[j]
                    if r is None or c is None:
                        self.errors.append(f"cycle {cycle}: h write lane {j} at ({r}, {c})")
                    else:
                        writes.append((r, c, data[j]))
        return n_read


_ARGS = ("rows", "row0", "x_frac", "g_off", "b_off", "g_fmt", "b_fmt", "z_fmt", "o_fmt", "eps")


@cocotb.test()
async def ln_op_matches_layernorm_fixed(dut: Any) -> None:
    """Every h word equal to layernorm_fixed's; x reads back to back; constant latency."""
    cfg, case = config(), load_case()
    p = cfg["params"]
    mem = Memories(dut, case, p, cfg["seed"])
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.rst.value = 1
    for sig in ("start", "src_io", "dim", "io_x", "rd_req_ready", "rd_valid", "rd_data"):
        getattr(dut, sig).value = 0
    for sig in _ARGS:
        getattr(dut, sig).value = 0
    dut.x_rdata.value = 0
    for _ in range(40):  # long enough to flush the (unreset) delay lines
        await FallingEdge(dut.clk)
    dut.rst.value = 0
    cycle = 0
    mismatches: list[str] = []
    extra: list[tuple[int, int]] = []
    gaps: list[int] = []
    latencies: set[int] = set()
    perf_rows = []
    t0 = time.perf_counter()
    for call in case["calls"]:
        a = call["args"]
        mem.xbuf = call["xbuf"]
        if call["perf"]:
            mem.lat, mem.p_ready, mem.p_valid = (PERF_LATENCY, PERF_LATENCY), 1.0, 1.0
        else:
            mem.lat, mem.p_ready, mem.p_valid = (1, 60), cfg["p_ready"], cfg["p_valid"]
        await FallingEdge(dut.clk)
        for sig in ("dim", "src_io", "io_x"):
            getattr(dut, sig).value = a[sig]
        for sig in _ARGS:
            getattr(dut, sig).value = a[sig]
        dut.start.value = 1
        mem.drive(cycle)
        start, done_at = cycle, None
        writes: list[tuple[int, int, int | None]] = []
        reads: list[int] = []  # cycles of x-read beats
        first_write = None
        limit = 400 + 4 * a["rows"] * a["dim"]
        while done_at is None:
            await ReadOnly()
            if mem.sample(cycle, writes, a["src_io"]):
                reads.append(cycle)
            if writes and first_write is None:
                first_write = cycle
            if dut.done.value == 1:
                done_at = cycle
            cycle += 1
            if cycle - start > limit:
                mismatches.append(f"{call['label']}: no done within {limit} cycles")
                break
            await FallingEdge(dut.clk)
            dut.start.value = 0
            dut.src_io.value = 1 - a["src_io"]  # sampled at start only
            mem.drive(cycle)
        tail: list[tuple[int, int, int | None]] = []
        for _ in range(30):  # nothing more may be written or read
            await ReadOnly()
            if mem.sample(cycle, tail, a["src_io"]):
                mismatches.append(f"{call['label']}: x read after done")
            cycle += 1
            await FallingEdge(dut.clk)
            mem.drive(cycle)
        extra += [(cycle, v or 0) for *_, v in tail]
        if mem.q:
            mismatches.append(f"{call['label']}: {len(mem.q)} requested beats never taken")
            mem.q = []
        if done_at is None:
            break
        want = {(r, c): v for r, c, v in call["expected"]}
        got: dict[tuple[int, int], int | None] = {}
        for r, c, v in writes:
            if (r, c) in got:
                mismatches.append(f"{call['label']}: h ({r}, {c}) written twice")
            got[(r, c)] = v
        for key in sorted(set(want) | set(got)):
            if got.get(key) != want.get(key):
                mismatches.append(
                    f"{call['label']}: h row {key[0]} col {key[1]}: got {got.get(key)}, "
                    f"want {want.get(key)}"
                )
        mismatches += [f"{call['label']}: {e}" for e in mem.errors]
        mem.errors.clear()
        rows, d, ll = a["rows"], a["dim"], p["LL"]
        beats = -(-d // ll)
        want_reads = 0 if a["src_io"] else rows * beats
        if len(reads) != want_reads:
            mismatches.append(f"{call['label']}: {len(reads)} x-read beats, want {want_reads}")
        elif want_reads:
            gaps += [y - x for x, y in zip(reads, reads[1:])]
            if first_write is not None:
                latencies.add(first_write - reads[beats - 1])
        if call["perf"]:
            measured = done_at - start
            perf_rows.append(
                {
                    "call": call["label"],
                    "measured_cycles": measured,
                    "modelled_cycles": call["modelled_cycles"],
                    "ratio_measured_over_modelled": round(measured / call["modelled_cycles"], 3),
                }
            )
            dut._log.info(
                "%s: MEASURED (RTL simulation) %d cycles start -> done; MODELLED "
                "(pymodel.perf.units.layernorm_rows) %d cycles",
                call["label"],
                measured,
                call["modelled_cycles"],
            )
    wall = time.perf_counter() - t0
    if len(latencies) > 1:
        mismatches.append(f"first-write latency not constant: {sorted(latencies)}")
    cov = dict(case["coverage"])
    cov["requests refused (back-pressure)"] = mem.refused
    tot_m = sum(r["measured_cycles"] for r in perf_rows)
    tot_p = sum(r["modelled_cycles"] for r in perf_rows)
    perf = {
        "model": case["model"],
        "ddr_latency": case["perf_latency"],
        "calls": perf_rows,
        "measured_cycles_total": tot_m,
        "modelled_cycles_total": tot_p,
        "ratio_measured_over_modelled": round(tot_m / tot_p, 3) if tot_p else None,
    }
    dut._log.info(
        "perf calls: MEASURED (RTL simulation) %d cycles, MODELLED %d cycles, ratio %s",
        tot_m,
        tot_p,
        perf["ratio_measured_over_modelled"],
    )
    finish(
        cfg["name"],
        len(case["calls"]),
        mismatches,
        max(gaps) if gaps else 1,
        min(latencies) if latencies else -1,
        cycle,
        wall,
        extra,
        coverage=cov,
        info={"perf": perf},
    )
