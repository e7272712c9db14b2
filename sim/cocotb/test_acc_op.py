"""acc_op (through the ``acc_op_tb`` wrapper): the MoE accumulator init and combine as
the sequencer calls them (hls/src/edgemoe_layers.cpp ``moe_acc_init`` and
``moe_combine``), every written word against the golden forward's arithmetic
(:meth:`pymodel.numerics.forward.FixedArith.combine`: the residual aligned by a left
shift, :func:`pymodel.numerics.qtorch.requant` of the exact sums).

Calls come in pairs, as in a MoE block: an init call (combine = 0) with rows
(0..ROWS_MAX), D = ``model.dim`` (1..MAX_D: partial beats, rows shorter than one
beat), the residual's alignment ``shift`` (0 .. min(ACC_W - 3, 62) - ACT_W: the
descriptor check's range, inside the golden's int64) and x rows of random ACT_W-bit
words; then a combine call (combine = 1) on the same rows whose accumulators are the
init's golden result plus random scatter-add terms (the experts' gated outputs, sums
kept below 2**(ACC_W - 3) and 2**62), with the accumulators' fraction count ``frac``
and an output format word ``fmt`` (widths 1..ACT_W, signed or not, every rounding and
overflow mode, fraction counts near ``frac`` and far from it, so that saturation,
wrapping and left shifts occur; left shifts below 62 bits, where qtorch.requant's
int64 shift is exact). Each combine golden is also checked against
:meth:`pymodel.numerics.fixed.FixedFormat.convert` (the ap_fixed emulation).
combine and every argument are changed after the start cycle (acc_op must hold what
it sampled).

The testbench models the x buffer and the accumulators (synchronous reads per lane,
data held while re is low, as ``ebuf``) and collects the writes to both. Every
written word is compared as an integer (ACC_W bits for the accumulators, ACT_W for
x); a write the golden model does not make (including any write to the buffer the
mode does not write, or with ``wadd`` set), a word written twice or one never
written is a mismatch. Words outside the call's rows and columns hold random values.

Timing: II = the largest gap between consecutive read beats of a call (one beat of
AL words per cycle); latency = a combine call's first read beat -> its first x
write (constant); an init call's must be exactly 2. Cycles from start to done
(MEASURED, RTL simulation) are recorded beside :func:`pymodel.perf.units.elementwise`
for the same rows, D and lanes (MODELLED: ``moe_acc_init`` / ``moe_combine`` in
pymodel.perf.model), in the result's ``perf``; nothing is asserted about their ratio.
"""

from __future__ import annotations

import random
import time
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from sim.cocotb.harness import CLOCK_NS, config, finish, load_case

BUF_ROWS = 12  # rows of the x buffer and of the accumulators
ROWS_MAX = 10  # rows of one call
MAX_D = 37  # longest row (D = MAX_D has a partial last beat for 4 and 8 lanes)
INIT_LATENCY = 2  # init: read beat -> its accumulator write


def _word(v: int, bits: int) -> int:
    return int(v) & ((1 << bits) - 1)


def _signed(rng: random.Random, bits: int) -> int:
    """A signed integer below 2**bits in magnitude, uniform in bit length."""
    b = rng.randint(0, bits)
    v = rng.getrandbits(b) if b else 0
    return -v if rng.random() < 0.5 else v


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """The calls (arguments, buffer contents, expected writes), the modelled cycles and
    the coverage counters of what the calls contain."""
    import torch

    from pymodel.export.descriptor import encode_format
    from pymodel.numerics.fixed import FixedFormat, Overflow
    from pymodel.numerics.qtorch import OverflowCounter, requant
    from pymodel.perf.units import elementwise
    from sim.cocotb.golden import _OVF, _QUANT

    p = cfg["params"]
    act_w, al, max_d = p["ACT_W"], p["AL"], MAX_D
    acc_w = p.get("ACC_W", 2 * act_w + 16)
    bound = min(acc_w - 3, 62)  # |aligned residual|, |sums| < 2**bound
    rng = random.Random(cfg["seed"])
    calls: list[dict[str, Any]] = []
    cov = {f"overflows {o.value}": 0 for o in Overflow}
    cov |= {k: 0 for k in ("init calls", "combine calls", "rows = 0", "D = MAX_D", "D < AL")}
    cov |= {k: 0 for k in ("partial last beats", "shift = 0", "left-shift formats")}
    cov |= {k: 0 for k in ("unsigned formats", "width 1", f"width {act_w}", "negative sums")}

    def rand_buf(bits: int) -> list[list[int]]:
        return [[rng.getrandbits(bits) for _ in range(max_d)] for _ in range(BUF_ROWS)]

    k = 0
    while len(calls) < cfg["vectors"]:
        d = [max_d, 1, al - 1 if al > 1 else 2, rng.randint(1, max_d)][k % 4]
        d = max(1, min(max_d, d))
        rows = 0 if k == 9 else rng.randint(1, ROWS_MAX)
        shift = 0 if k % 5 == 1 else rng.randint(0, bound - act_w)
        xs = torch.tensor(
            [[_signed(rng, act_w - 1) for _ in range(d)] for _ in range(rows)], dtype=torch.int64
        ).reshape(rows, d)
        acc0 = xs << shift  # FixedArith._align
        # the experts' scatter-add: a few gated terms per value, sums kept in range
        terms = torch.tensor(
            [[_signed(rng, bound - 2) for _ in range(d)] for _ in range(rows)], dtype=torch.int64
        ).reshape(rows, d)
        if k % 6 == 0:
            terms = terms * 0  # no expert chose these tokens: the residual alone
        acc = (acc0 + terms).clamp(-(1 << bound) + 1, (1 << bound) - 1)
        frac = rng.randint(0, 90)
        width = {3: 1, 5: act_w}.get(k % 8, rng.randint(2, act_w))
        signed = k % 8 != 6 and rng.random() < 0.85
        if k % 3 != 2:  # results near the format's range: saturation and wrapping
            top = max(1, int(acc.abs().max()).bit_length()) if rows else bound
            ffrac = width - (top - frac) + rng.randint(0, 4)  # the largest overflows
        elif k % 6 == 2:
            ffrac = frac + rng.randint(1, 6)  # more fraction bits: a left shift
        else:
            ffrac = rng.randint(-128, 127)
        # left shifts below 62 bits: qtorch.requant's int64 shift is exact there (from 64
        # bits on torch shifts to 0, so a negative sum would not saturate to the minimum)
        ffrac = max(-128, min(127, frac + 61, ffrac))
        fmt = FixedFormat(width, width - ffrac, signed, _QUANT[rng.randrange(7)],
                          _OVF[k % 4])  # fmt: skip
        counter = OverflowCounter()
        label = f"pair {k}: D={d} rows={rows}"
        y = requant(acc, frac, fmt, counter, "combine")
        if rows:  # the forward's requant agrees with the ap_fixed emulation
            conv = fmt.convert(acc.numpy(), FixedFormat(64, 64 - frac, True))
            assert [int(v) for v in conv.ravel()] == y.ravel().tolist(), label
        xbuf, accbuf = rand_buf(act_w), rand_buf(acc_w)
        for i in range(rows):
            xbuf[i][:d] = [_word(v, act_w) for v in xs[i].tolist()]
        args = {"dim": d, "rows": rows, "shift": shift, "frac": frac, "fmt": encode_format(fmt)}
        calls.append(
            {
                "args": args | {"combine": 0},
                "xbuf": xbuf,
                "accbuf": accbuf,
                "expected_acc": [
                    [i, c, _word(int(acc0[i, c]), acc_w)] for i in range(rows) for c in range(d)
                ],
                "expected_x": [],
                "modelled_cycles": elementwise(rows, d, al),
                "label": f"{label} init shift={shift}",
            }
        )
        xbuf, accbuf = rand_buf(act_w), rand_buf(acc_w)
        for i in range(rows):
            accbuf[i][:d] = [_word(v, acc_w) for v in acc[i].tolist()]
        calls.append(
            {
                "args": args | {"combine": 1},
                "xbuf": xbuf,
                "accbuf": accbuf,
                "expected_acc": [],
                "expected_x": [
                    [i, c, _word(int(y[i, c]), act_w)] for i in range(rows) for c in range(d)
                ],
                "modelled_cycles": elementwise(rows, d, al),
                "label": f"{label} combine frac={frac} fmt {fmt}",
            }
        )
        cov["init calls"] += rows > 0
        cov["combine calls"] += rows > 0
        cov[f"overflows {fmt.overflow.value}"] += counter.counts.get("combine", 0)
        cov["rows = 0"] += rows == 0
        cov["D = MAX_D"] += d == max_d and rows > 0
        cov["D < AL"] += d < al and rows > 0
        cov["partial last beats"] += d % al != 0 and rows > 0
        cov["shift = 0"] += shift == 0 and rows > 0
        cov["left-shift formats"] += ffrac > frac and rows > 0
        cov["unsigned formats"] += not signed and rows > 0
        cov["width 1"] += width == 1 and rows > 0
        cov[f"width {act_w}"] += width == act_w and rows > 0
        cov["negative sums"] += bool((acc < 0).any()) if rows else 0
        k += 1
    return {
        "calls": calls[: cfg["vectors"]],
        "acc_w": acc_w,
        "coverage": cov,
        "model": f"pymodel.perf.units.elementwise(rows, D, lanes={al}) "
        "(moe_acc_init / moe_combine of pymodel.perf.model)",
    }


def _lanes(value: Any, n: int, bits: int) -> list[int | None]:
    """The ``n`` lanes of ``bits`` of a vector signal (lane 0 low); X/Z lanes are None."""
    text = str(value)
    out: list[int | None] = []
    for i in range(n):
        lane = text[len(text) - (i + 1) * bits : len(text) - i * bits]
        out.append(int(lane, 2) if set(lane) <= {"0", "1"} else None)
    return out


class Buffers:
    """The x buffer and the accumulators: synchronous reads per lane, writes collected."""

    def __init__(self, dut: Any, p: dict[str, int], acc_w: int) -> None:
        self.dut, self.al, self.max_d = dut, p["AL"], MAX_D
        self.w = {"x": p["ACT_W"], "acc": acc_w}
        self.bufs: dict[str, list[list[int]]] = {"x": [], "acc": []}
        self.words = {"x": [0] * self.al, "acc": [0] * self.al}
        self.errors: list[str] = []

    def drive(self) -> None:
        """Read data of this cycle (after the falling edge)."""
        for b in ("x", "acc"):
            data = sum(v << (self.w[b] * i) for i, v in enumerate(self.words[b]))
            getattr(self.dut, f"{b}_rdata").value = data

    def sample(self, cycle: int, writes: dict[str, list[tuple[int, int, int | None]]]) -> int:
        """This cycle's reads (ReadOnly; returns the lanes read) and writes (appended)."""
        d, al = self.dut, self.al
        n_read = 0
        for b in ("x", "acc"):
            re_ = _lanes(getattr(d, f"{b}_re").value, al, 1)
            if None in re_:
                self.errors.append(f"cycle {cycle}: {b}_re = {getattr(d, f'{b}_re').value}")
            if any(re_):
                rows = _lanes(getattr(d, f"{b}_rrow").value, al, 16)
                cols = _lanes(getattr(d, f"{b}_rcol").value, al, 16)
                for j in range(al):
                    if re_[j]:
                        n_read += 1
                        r, c = rows[j], cols[j]
                        if (
                            r is None
                            or c is None
                            or not (0 <= r < BUF_ROWS and 0 <= c < self.max_d)
                        ):
                            self.errors.append(f"cycle {cycle}: {b} read lane {j} at ({r}, {c})")
                        else:
                            self.words[b][j] = self.bufs[b][r][c]
            we = _lanes(getattr(d, f"{b}_we").value, al, 1)
            if None in we:
                self.errors.append(f"cycle {cycle}: {b}_we = {getattr(d, f'{b}_we').value}")
            if any(we):
                rows = _lanes(getattr(d, f"{b}_wrow").value, al, 16)
                cols = _lanes(getattr(d, f"{b}_wcol").value, al, 16)
                data = _lanes(getattr(d, f"{b}_wdata").value, al, self.w[b])
                add = _lanes(getattr(d, f"{b}_wadd").value, al, 1)
                for j in range(al):
                    if we[j]:
                        if add[j] != 0:
                            self.errors.append(f"cycle {cycle}: {b}_wadd set on lane {j}")
                        r, c = rows[j], cols[j]
                        if r is None or c is None:
                            self.errors.append(f"cycle {cycle}: {b} write lane {j} at ({r}, {c})")
                        else:
                            writes[b].append((r, c, data[j]))
        return n_read


_ARGS = ("rows", "shift", "frac", "fmt")
_BITS = {"shift": 10, "frac": 10, "fmt": 32}  # port widths (the others 16 bits)


@cocotb.test()
async def acc_op_matches_combine(dut: Any) -> None:
    """Every accumulator and x word equal to the golden's; one beat per cycle; constant
    latency per mode."""
    cfg, case = config(), load_case()
    p = cfg["params"]
    rng = random.Random(cfg["seed"] + 1)
    mem = Buffers(dut, p, case["acc_w"])
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.rst.value = 1
    for sig in ("start", "combine", "dim", *_ARGS):
        getattr(dut, sig).value = 0
    mem.drive()
    for _ in range(10):
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
        mem.bufs = {"x": call["xbuf"], "acc": call["accbuf"]}
        await FallingEdge(dut.clk)
        for sig in ("dim", "combine", *_ARGS):
            getattr(dut, sig).value = _word(a[sig], _BITS.get(sig, 16))
        dut.start.value = 1
        mem.drive()
        start, done_at = cycle, None
        writes: dict[str, list[tuple[int, int, int | None]]] = {"x": [], "acc": []}
        reads: list[int] = []
        first_write = None
        limit = 100 + 2 * a["rows"] * a["dim"]
        while done_at is None:
            await ReadOnly()
            if mem.sample(cycle, writes):
                reads.append(cycle)
            if (writes["x"] or writes["acc"]) and first_write is None:
                first_write = cycle
            if dut.done.value == 1:
                done_at = cycle
            cycle += 1
            if cycle - start > limit:
                mismatches.append(f"{call['label']}: no done within {limit} cycles")
                break
            await FallingEdge(dut.clk)
            if cycle == start + 1:  # sampled at start only
                dut.start.value = 0
                dut.combine.value = 1 - a["combine"]
                for sig in _ARGS:
                    getattr(dut, sig).value = rng.getrandbits(10)
            mem.drive()
        tail: dict[str, list[tuple[int, int, int | None]]] = {"x": [], "acc": []}
        for _ in range(10):  # nothing more may be read or written
            await ReadOnly()
            if mem.sample(cycle, tail):
                mismatches.append(f"{call['label']}: a read after done")
            cycle += 1
            await FallingEdge(dut.clk)
            mem.drive()
        extra += [(cycle, v or 0) for b in tail for *_, v in tail[b]]
        if done_at is None:
            break
        for b in ("x", "acc"):
            want = {(r, c): v for r, c, v in call[f"expected_{b}"]}
            got: dict[tuple[int, int], int | None] = {}
            for r, c, v in writes[b]:
                if (r, c) in got:
                    mismatches.append(f"{call['label']}: {b} ({r}, {c}) written twice")
                got[(r, c)] = v
            for key in sorted(set(want) | set(got)):
                if got.get(key) != want.get(key):
                    mismatches.append(
                        f"{call['label']}: {b} row {key[0]} col {key[1]}: got {got.get(key)}, "
                        f"want {want.get(key)}"
                    )
        mismatches += [f"{call['label']}: {e}" for e in mem.errors]
        mem.errors.clear()
        beats = -(-a["dim"] // p["AL"])
        if len(reads) != a["rows"] * beats:
            mismatches.append(f"{call['label']}: {len(reads)} read beats, want {a['rows'] * beats}")
        elif reads:
            gaps += [y - x for x, y in zip(reads, reads[1:])]
            if first_write is not None:
                lat = first_write - reads[0]
                if a["combine"]:
                    latencies.add(lat)
                elif lat != INIT_LATENCY:
                    mismatches.append(f"{call['label']}: init latency {lat}, want {INIT_LATENCY}")
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
            "(pymodel.perf.units.elementwise) %d cycles",
            call["label"],
            measured,
            call["modelled_cycles"],
        )
    wall = time.perf_counter() - t0
    if len(latencies) > 1:
        mismatches.append(f"combine latency not constant: {sorted(latencies)}")
    tot_m = sum(r["measured_cycles"] for r in perf_rows)
    tot_p = sum(r["modelled_cycles"] for r in perf_rows)
    perf = {
        "model": case["model"],
        "calls": perf_rows,
        "measured_cycles_total": tot_m,
        "modelled_cycles_total": tot_p,
        "ratio_measured_over_modelled": round(tot_m / tot_p, 3) if tot_p else None,
    }
    dut._log.info(
        "all calls: MEASURED (RTL simulation) %d cycles, MODELLED %d cycles, ratio %s",
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
        coverage=dict(case["coverage"]),
        info={"perf": perf},
    )
