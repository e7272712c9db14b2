"""sm_op (through the ``sm_op_tb`` wrapper): softmax statistics calls as the sequencer
makes them (hls/src/edgemoe_attention.cpp ``statistics``), every statistics word
against the online-softmax recurrence of the golden forward
(:func:`pymodel.numerics.hwmath.online_softmax_fixed`: ``_online_sum`` and
:func:`~pymodel.numerics.hwmath.recip_fixed`).

A call (slot, rows, frac; model.tokens = T) reads scores S[slot][n][j] (score
buffer row slot * QB + n, column j) for n < rows, j < T and writes the statistics
word {shift[8], mant[MANT_FRAC+1], m[ACT_W]} of row n to statistics row
slot * QB + n. Each call has its own slot, rows (0, QB, partial lane groups), T
(1, MAX_T, fewer than the lanes, random) and score fraction count (negative and
wider than the score included); its rows are drawn from
:func:`sim.cocotb.golden.score_rows` (all equal, a max update at every score,
one dominant score, both extremes, repeated maxima, random spreads). Every other
buffer word holds random values and must not be read. The arguments and
model.tokens change after the start cycle (sm_op must hold what it sampled).

The testbench models the score buffer (synchronous reads per lane, data held
while re is low, as ``ebuf``) and collects the statistics writes. Checked: every
statistics word as an integer (a missing, extra or twice-written word is a
mismatch), st_wadd = 0 and st_wcol = 0, each lane's exact read sequence (rows
l, l + SL, .., keys in order, only the call's words), done one cycle after the
last write (two after start for rows = 0), nothing read or written after done.
Timing per lane: one score per cycle (II), plus the softmax_lane stall after
every score that raises a running max (``stall``, checked against
SM_RESCALE_LAT - 1); latency = a row's last read -> its statistics write (rows
whose last score is not held back by a stall). Cycles from start to done
(MEASURED, RTL simulation) are recorded beside
:func:`pymodel.perf.units.softmax_statistics` for the same rows, T and mean max
updates per row (MODELLED), in the result's ``perf``; their ratio is not
asserted.
"""

from __future__ import annotations

import random
import time
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from sim.cocotb.harness import CLOCK_NS, config, finish, load_case, pack

MAX_T = 40  # score buffer columns (the synthesis maximum of tokens in this test)


def _word(v: int, bits: int) -> int:
    return int(v) & ((1 << bits) - 1)


def _updates(row: list[int]) -> list[int]:
    """1 for each score that raises the running max (never the first)."""
    flags, m = [], None
    for v in row:
        flags.append(int(m is not None and v > m))
        m = v if m is None else max(m, v)
    return flags


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """The calls (arguments, score buffer, expected statistics words, each lane's reads
    and update flags), the modelled cycles and the coverage counters."""
    import torch

    from pymodel.export.design import Design
    from pymodel.numerics.hwmath import SPEC, _online_sum, recip_fixed
    from pymodel.numerics.rtl_export import CORE_LATENCY
    from pymodel.perf.units import softmax_statistics
    from sim.cocotb.golden import score_rows

    p = cfg["params"]
    act_w, sl, qb = p["ACT_W"], p["SL"], p["QB"]
    rng = random.Random(cfg["seed"])
    design = Design(softmax_lanes=sl)
    mw = hwmath_mant_frac() + 1
    calls = []
    cov = {k: 0 for k in ("max updates", "rows ending in an update", "ties with the running max")}
    cov |= {k: 0 for k in ("rows = 0", "rows = QB", "partial lane groups", "T = 1", "T = MAX_T")}
    cov |= {k: 0 for k in ("T < SL", "slot 2", "negative frac", "frac > ACT_W")}
    cov |= {k: 0 for k in ("rows with both extremes", "lanes with several rows")}
    for k in range(cfg["vectors"]):
        t = [MAX_T, 1, max(1, sl - 1), rng.randint(2, MAX_T)][k % 4]
        rows = 0 if k == 5 else qb if k % 5 == 1 else rng.randint(1, qb)
        slot = k % 3 if k < 6 else rng.randrange(3)
        xf = rng.randint(0, 14)
        xf = -rng.randint(1, 6) if k % 7 == 3 else act_w + rng.randint(1, 6) if k % 7 == 6 else xf
        gf = max(0, min(xf, act_w - 6))  # the rows' shapes (scaled by 2**gf) fit ACT_W bits
        pool = score_rows(rng, 9 + rows, act_w, [gf] * (9 + rows), (t, t))
        srows = rng.sample(pool, rows)
        sbuf = [[rng.getrandbits(act_w) for _ in range(MAX_T)] for _ in range(3 * qb)]
        expected, flags = [], []
        for n, row in enumerate(srows):
            sbuf[slot * qb + n][:t] = [_word(v, act_w) for v in row]
            m, s = _online_sum(torch.tensor([row], dtype=torch.int64), xf, SPEC, exact=True)
            mant, shift = recip_fixed(s.reshape(-1), SPEC.softmax_sum_frac)
            word = pack([(int(m), act_w), (int(mant), mw), (int(shift), 8)])
            expected.append([slot * qb + n, word])
            f = _updates(row)
            flags.append(f)
            cov["max updates"] += sum(f)
            cov["rows ending in an update"] += f[-1]
            cov["ties with the running max"] += sum(
                v == max(row[:j]) for j, v in enumerate(row) if j > 0
            )
            cov["rows with both extremes"] += (
                min(row) == -(1 << (act_w - 1)) and max(row) == (1 << (act_w - 1)) - 1
            )
        # each lane's reads (row, col) and the update flag of each word, in order
        lanes = []
        for lane in range(sl):
            ns = list(range(lane, rows, sl))
            lanes.append(
                {
                    "reads": [[slot * qb + n, j] for n in ns for j in range(t)],
                    "upd": [u for n in ns for u in flags[n]],
                    "last_of_row": [n for n in ns for j in range(t) if j == t - 1],
                }
            )
            cov["lanes with several rows"] += len(ns) > 1
        upr = sum(map(sum, flags)) / rows if rows else 0.0
        calls.append(
            {
                "args": {"slot": slot, "rows": rows, "frac": _word(xf, 10), "tokens": t},
                "sbuf": sbuf,
                "expected": expected,
                "lanes": lanes,
                "modelled_cycles": softmax_statistics(rows, t, design, upr) if rows else 0,
                "updates_per_row": round(upr, 3),
                "label": f"call {k}: slot={slot} rows={rows} T={t} frac={xf}",
            }
        )
        cov["rows = 0"] += rows == 0
        cov["rows = QB"] += rows == qb
        cov["partial lane groups"] += rows % sl != 0
        cov["T = 1"] += t == 1 and rows > 0
        cov["T = MAX_T"] += t == MAX_T and rows > 0
        cov["T < SL"] += t < sl and rows > 0
        cov["slot 2"] += slot == 2 and rows > 0
        cov["negative frac"] += xf < 0 and rows > 0
        cov["frac > ACT_W"] += xf > act_w and rows > 0
    return {
        "calls": calls,
        "coverage": cov,
        "expected_stall": CORE_LATENCY["sm_rescale"] - 1,
        "model": "pymodel.perf.units.softmax_statistics(rows, tokens, "
        f"Design(softmax_lanes={sl}), the call's mean max updates per row)",
    }


def hwmath_mant_frac() -> int:
    """MANT_FRAC of hwmath_pkg (1/s mantissa fraction bits)."""
    from pymodel.numerics.hwmath import SPEC

    return SPEC.mant_frac


def _lanes(value: Any, n: int, bits: int) -> list[int | None]:
    """The ``n`` lanes of ``bits`` of a vector signal (lane 0 low); X/Z lanes are None."""
    text = str(value)
    out: list[int | None] = []
    for i in range(n):
        lane = text[len(text) - (i + 1) * bits : len(text) - i * bits]
        out.append(int(lane, 2) if set(lane) <= {"0", "1"} else None)
    return out


class Buffers:
    """The score buffer (per-lane synchronous reads) and the statistics writes."""

    def __init__(self, dut: Any, p: dict[str, int]) -> None:
        self.dut, self.p = dut, p
        self.sbuf: list[list[int]] = []
        self.words = [0] * p["SL"]
        self.stw = p["ACT_W"] + hwmath_mant_frac() + 9
        self.errors: list[str] = []

    def drive(self) -> None:
        """The read ports' data of this cycle (after the falling edge)."""
        w = self.p["ACT_W"]
        self.dut.s_rdata.value = sum(v << (w * i) for i, v in enumerate(self.words))

    def sample(
        self,
        cycle: int,
        reads: list[list[tuple[int, int, int]]],
        writes: list[tuple[int, int, int]],
    ) -> None:
        """This cycle's reads (per lane: cycle, row, col) and writes (cycle, row, word)."""
        d, sl = self.dut, self.p["SL"]
        re_ = _lanes(d.s_re.value, sl, 1)
        if None in re_:
            self.errors.append(f"cycle {cycle}: s_re = {d.s_re.value}")
        if any(re_):
            rows, cols = _lanes(d.s_rrow.value, sl, 16), _lanes(d.s_rcol.value, sl, 16)
            for j in range(sl):
                if re_[j]:
                    r, c = rows[j], cols[j]
                    if r is None or c is None or not (0 <= r < len(self.sbuf) and 0 <= c < MAX_T):
                        self.errors.append(f"cycle {cycle}: read lane {j} at ({r}, {c})")
                        continue
                    self.words[j] = self.sbuf[r][c]
                    reads[j].append((cycle, r, c))
        we = _lanes(d.st_we.value, sl, 1)
        if None in we:
            self.errors.append(f"cycle {cycle}: st_we = {d.st_we.value}")
        if any(we):
            rows, cols = _lanes(d.st_wrow.value, sl, 16), _lanes(d.st_wcol.value, sl, 16)
            data, add = _lanes(d.st_wdata.value, sl, self.stw), _lanes(d.st_wadd.value, sl, 1)
            for j in range(sl):
                if we[j]:
                    if add[j] != 0 or cols[j] != 0:
                        self.errors.append(f"cycle {cycle}: lane {j} wadd {add[j]} col {cols[j]}")
                    if rows[j] is None or data[j] is None:
                        self.errors.append(f"cycle {cycle}: lane {j} writes X")
                    else:
                        writes.append((cycle, rows[j], data[j]))


_ARGS = ("slot", "rows", "frac", "tokens")


@cocotb.test()
async def sm_op_matches_online_softmax(dut: Any) -> None:
    """Every statistics word equal to the golden recurrence's; one score per cycle per
    lane plus the fixed stall per max update; constant latency; done after the last."""
    cfg, case = config(), load_case()
    p = cfg["params"]
    sl = p["SL"]
    rng = random.Random(cfg["seed"] + 1)
    buf = Buffers(dut, p)
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.rst.value = 1
    for sig in ("start", *_ARGS, "s_rdata"):
        getattr(dut, sig).value = 0
    for _ in range(40):  # long enough to flush the (unreset) delay lines
        await FallingEdge(dut.clk)
    dut.rst.value = 0
    cycle = 0
    mismatches: list[str] = []
    extra: list[tuple[int, int]] = []
    plain_gaps: list[int] = []
    stalls: set[int] = set()
    latencies: set[int] = set()
    perf_rows = []
    t0 = time.perf_counter()
    for call in case["calls"]:
        a = call["args"]
        buf.sbuf = call["sbuf"]
        for _ in range(rng.randint(0, 3)):  # idle cycles between calls
            await FallingEdge(dut.clk)
            buf.drive()
            cycle += 1
        await FallingEdge(dut.clk)
        for sig in _ARGS:
            getattr(dut, sig).value = a[sig]
        dut.start.value = 1
        buf.drive()
        start, done_at = cycle, None
        reads: list[list[tuple[int, int, int]]] = [[] for _ in range(sl)]
        writes: list[tuple[int, int, int]] = []
        limit = 100 + 4 * a["rows"] * a["tokens"]
        while done_at is None:
            await ReadOnly()
            buf.sample(cycle, reads, writes)
            if dut.done.value == 1:
                done_at = cycle
            cycle += 1
            await FallingEdge(dut.clk)
            dut.start.value = 0
            for sig, bits in (("slot", 2), ("rows", 16), ("frac", 10), ("tokens", 16)):
                getattr(dut, sig).value = rng.getrandbits(bits)  # sampled at start only
            buf.drive()
            if done_at is None and cycle - start > limit:
                mismatches.append(f"{call['label']}: no done within {limit} cycles")
                break
        tail_reads: list[list[tuple[int, int, int]]] = [[] for _ in range(sl)]
        tail: list[tuple[int, int, int]] = []
        for _ in range(20):  # nothing more may be read, written or done
            await ReadOnly()
            buf.sample(cycle, tail_reads, tail)
            if dut.done.value == 1:
                mismatches.append(f"{call['label']}: done again at cycle {cycle}")
            cycle += 1
            await FallingEdge(dut.clk)
            buf.drive()
        extra += [(c, v) for c, _, v in tail]
        if any(tail_reads):
            mismatches.append(f"{call['label']}: score reads after done")
        mismatches += [f"{call['label']}: {e}" for e in buf.errors]
        buf.errors.clear()
        if done_at is None:
            break
        # statistics words
        want = {r: v for r, v in call["expected"]}
        got: dict[int, int] = {}
        wcycle: dict[int, int] = {}
        for c, r, v in writes:
            if r in got:
                mismatches.append(f"{call['label']}: statistics row {r} written twice")
            got[r], wcycle[r] = v, c
        for r in sorted(set(want) | set(got)):
            if got.get(r) != want.get(r):
                mismatches.append(
                    f"{call['label']}: statistics row {r}: got {got.get(r)}, want {want.get(r)}"
                )
        last = max((c for c, _, _ in writes), default=start + 1)
        if done_at != last + 1:
            mismatches.append(f"{call['label']}: done at {done_at}, last write at {last}")
        # each lane's reads and timing
        for j, lane in enumerate(call["lanes"]):
            seq = [[r, c] for _, r, c in reads[j]]
            if seq != lane["reads"]:
                want_n = len(lane["reads"])
                diff = [i for i, (x, y) in enumerate(zip(seq, lane["reads"])) if x != y]
                first = diff[0] if diff else min(len(seq), want_n)
                mismatches.append(
                    f"{call['label']}: lane {j} read {len(seq)} words, want {want_n} "
                    f"(first difference at read {first})"
                )
                continue
            ts, upd = [c for c, _, _ in reads[j]], lane["upd"]
            for i in range(1, len(ts)):
                gap = ts[i] - ts[i - 1]
                if i >= 2 and upd[i - 2]:
                    stalls.add(gap - 1)
                else:
                    plain_gaps.append(gap)
            t = a["tokens"]
            for q, n in enumerate(lane["last_of_row"]):
                i = (q + 1) * t - 1  # the row's last read
                if i >= 1 and upd[i - 1]:
                    continue  # its take waits for the stall of the word before it
                r = a["slot"] * p["QB"] + n
                if r in wcycle:
                    latencies.add(wcycle[r] - ts[i])
        if a["rows"]:
            measured = done_at - start
            perf_rows.append(
                {
                    "call": call["label"],
                    "updates_per_row": call["updates_per_row"],
                    "measured_cycles": measured,
                    "modelled_cycles": call["modelled_cycles"],
                    "ratio_measured_over_modelled": round(measured / call["modelled_cycles"], 3),
                }
            )
            dut._log.info(
                "%s: MEASURED (RTL simulation) %d cycles start -> done; MODELLED "
                "(pymodel.perf.units.softmax_statistics) %d cycles",
                call["label"],
                measured,
                call["modelled_cycles"],
            )
    wall = time.perf_counter() - t0
    if len(latencies) > 1:
        mismatches.append(f"last read -> statistics write latency not constant: {latencies}")
    if len(stalls) > 1:
        mismatches.append(f"stall after a max update not constant: {sorted(stalls)}")
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
        "calls: MEASURED (RTL simulation) %d cycles, MODELLED %d cycles, ratio %s",
        tot_m,
        tot_p,
        perf["ratio_measured_over_modelled"],
    )
    finish(
        cfg["name"],
        len(case["calls"]),
        mismatches,
        max(plain_gaps) if plain_gaps else 1,
        min(latencies) if latencies else -1,
        cycle,
        wall,
        extra,
        measured={"stall": min(stalls) if stalls else -1},
        coverage=case["coverage"],
        info={"perf": perf},
    )
