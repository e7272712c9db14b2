"""route_op (through the ``route_op_tb`` wrapper): router calls as the sequencer makes
them (hls/src/edgemoe_layers.cpp ``moe_route`` and ``build_queues``), every queue
entry, q_count and q_start against the golden forward's router and queues
(:meth:`pymodel.numerics.forward.FixedArith.route`: ``topk_fixed``,
``online_softmax_fixed``, optional renormalisation; then
:meth:`pymodel.numerics.forward.ExpertQueues.of`: expert-major, tokens in order).

A call (rows, lfrac, gfmt; model.experts = E, model.top_k = k, model.renorm)
reads logits G[r][j] (logit buffer row r, column j) for r < rows, j < E and
writes queue entry i (queue buffer row i) as {gate[GW], token row[16]}. Each call
has its own rows (0, TB, partial lane groups), E (1, MAX_E, random), k (1,
min(E, MAX_TOPK)), renormalisation, gate format (mostly [0, 1), sometimes coarse
or a wrapping signed [-1/2, 1/2)) and logit fraction count; its rows come from
:func:`sim.cocotb.golden.score_rows` or from small ranges (equal logits compete
for the top-k slots: ties go to the lower index). Every other buffer word holds
random values and must not be read. The arguments and model fields change after
the start cycle (route_op must hold what it sampled).

Checked: every queue entry as an integer (a missing, extra or twice-written
entry is a mismatch), mq_wadd = 0 and mq_wcol = 0, q_count and q_start of every
expert (0 and the total for e >= E) at done and until the next start, each lane's
exact read sequence (tokens l, l + RL, .., experts in order), done one cycle after
the last write (nothing read or written after it). Timing per lane: one logit per
cycle (II), plus router_rt's stall after every logit that raises a running max
(``stall``, checked against SM_RESCALE_LAT - 1); latency = the call's last logit
read -> its first queue write (calls whose last logit is not held back by a
stall). Cycles from start to done (MEASURED, RTL simulation) are recorded beside
:func:`pymodel.perf.units.router` (MODELLED) in the result's ``perf``; their
ratio is not asserted.
"""

from __future__ import annotations

import random
import time
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from sim.cocotb.harness import CLOCK_NS, config, finish, load_case, pack
from sim.cocotb.test_sm_op import _lanes, _updates, _word


def _call(
    rng: random.Random, p: dict[str, int], k_call: int
) -> tuple[dict[str, Any], dict[str, int]] | None:
    """One call (arguments, logit buffer, expected queues and reads) and its coverage
    flags; None when the golden refuses the draw (NumericsError)."""
    import torch

    from pymodel.numerics.fixed import FixedFormat
    from pymodel.numerics.forward import ExpertQueues, FixedArith, Q
    from pymodel.numerics.presets import NumericsPreset
    from pymodel.numerics.qtorch import NumericsError, OverflowCounter
    from sim.cocotb.golden import format_word, prob_format, score_rows

    act_w, rl, me, mk, tb, gw = (p[n] for n in ("ACT_W", "RL", "MAX_E", "MAX_TOPK", "TB", "GW"))
    e = [me, 1, rng.randint(1, me), min(me, 2 * mk)][k_call % 4]
    k = rng.randint(1, min(e, mk)) if k_call % 3 else min(e, mk)
    rows = [rng.randint(1, tb), tb, rng.randint(1, tb), 1, rng.randint(1, tb)][k_call % 5]
    rows = 0 if k_call == 5 else rows
    renorm = rng.random() < 0.5
    lf = rng.randint(4, 12) if rng.random() < 0.85 else rng.randint(-3, 20)
    gf = prob_format(rng, gw)
    r = rng.random()
    if r < 0.1:  # a coarse gate format: small gates round to 0
        gf = FixedFormat(gf.width, gf.width - rng.randint(0, 2), gf.signed, gf.quant, gf.overflow)
    elif r < 0.2:  # signed [-1/2, 1/2), wrapping: gates above 1/2 turn negative
        gf = FixedFormat(gf.width, 0, True, gf.quant, "AP_WRAP")
    small = rng.random() < 0.3
    shape = max(0, min(lf, act_w - 6))
    pool = score_rows(rng, 9 + rows, act_w, [shape] * (9 + rows), (e, e))
    logits = rng.sample(pool, rows)
    if small:  # equal logits compete for the slots
        logits = [[rng.randint(-3, 3) for _ in range(e)] for _ in range(rows)]
    gbuf = [[rng.getrandbits(act_w) for _ in range(me)] for _ in range(tb)]
    for t, row in enumerate(logits):
        gbuf[t][:e] = [_word(v, act_w) for v in row]
    entries: list[int] = []
    counts = [0] * me
    ties = 0
    if rows:
        arith = FixedArith(
            {}, NumericsPreset("router", "fixed", {"gate_prob": gf}), OverflowCounter()
        )
        q = Q(torch.tensor(logits, dtype=torch.int64), FixedFormat(act_w, act_w - lf))
        try:
            idx, gates = arith.route("gate", q, k, renorm)
        except NumericsError:
            return None
        queues = ExpertQueues.of(idx, e)
        flat = gates.raw.reshape(-1).tolist()
        for pair, tok in zip(queues.order.tolist(), queues.tokens.tolist()):
            entries.append(pack([(tok, 16), (_word(flat[pair], gw), gw)]))
        for ex, _, c in queues.queues:
            counts[ex] = c
        ties = sum(row.count(sorted(row, reverse=True)[k - 1]) > 1 for row in logits)
    starts = [sum(counts[:ex]) for ex in range(me)]
    lanes = []
    flags = [_updates(row) for row in logits]
    for lane in range(rl):
        ts = list(range(lane, rows, rl))
        lanes.append(
            {
                "reads": [[t, j] for t in ts for j in range(e)],
                "upd": [u for t in ts for u in flags[t]],
            }
        )
    gfmt = format_word(gf)
    call = {
        "args": {
            "rows": rows,
            "lfrac": _word(lf, 10),
            "gfmt": gfmt,
            "experts": e,
            "top_k": k,
            "renorm": int(renorm),
        },
        "gbuf": gbuf,
        "entries": entries,
        "q_count": counts,
        "q_start": starts,
        "lanes": lanes,
        "label": f"call {k_call}: rows={rows} E={e} k={k} renorm={renorm} gates {gf} lfrac={lf}",
    }
    cov = {
        "rows = 0": rows == 0,
        "rows = TB": rows == tb,
        "partial lane groups": rows % rl != 0,
        "E = 1": e == 1 and rows > 0,
        "E = MAX_E": e == me and rows > 0,
        "k = MAX_TOPK": k == mk and rows > 0,
        "k = 1": k == 1 and rows > 0,
        "renormalised": renorm and rows > 0,
        "ties in the top k": ties,
        "empty queues": rows > 0 and 0 in counts[:e],
        "max updates": sum(map(sum, flags)),
        "signed gates": gf.signed and rows > 0,
    }
    return call, {n: int(v) for n, v in cov.items()}


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """The calls (arguments, logit buffer, expected queue entries, counts, starts and
    each lane's reads with their update flags), modelled cycles and coverage."""
    from pymodel.export.design import Design
    from pymodel.numerics.rtl_export import CORE_LATENCY
    from pymodel.perf.units import router

    p = cfg["params"]
    rng = random.Random(cfg["seed"])
    design = Design(router_lanes=p["RL"])
    calls: list[dict[str, Any]] = []
    cov: dict[str, int] = {}
    while len(calls) < cfg["vectors"]:
        got = _call(rng, p, len(calls))
        if got is None:
            continue
        call, c = got
        a = call["args"]
        call["modelled_cycles"] = router(a["rows"], a["experts"], design) if a["rows"] else 0
        calls.append(call)
        for n, v in c.items():
            cov[n] = cov.get(n, 0) + v
    return {
        "calls": calls,
        "coverage": cov,
        "expected_stall": CORE_LATENCY["sm_rescale"] - 1,
        "model": f"pymodel.perf.units.router(rows, experts, Design(router_lanes={p['RL']}))",
    }


class Buffers:
    """The logit buffer (per-lane synchronous reads) and the queue writes."""

    def __init__(self, dut: Any, p: dict[str, int]) -> None:
        self.dut, self.p = dut, p
        self.gbuf: list[list[int]] = []
        self.words = [0] * p["RL"]
        self.errors: list[str] = []

    def drive(self) -> None:
        """The read ports' data of this cycle (after the falling edge)."""
        w = self.p["ACT_W"]
        self.dut.g_rdata.value = sum(v << (w * i) for i, v in enumerate(self.words))

    def sample(
        self,
        cycle: int,
        reads: list[list[tuple[int, int, int]]],
        writes: list[tuple[int, int, int]],
    ) -> None:
        """This cycle's reads (per lane: cycle, row, col) and writes (cycle, row, word)."""
        d, rl, mk = self.dut, self.p["RL"], self.p["MAX_TOPK"]
        re_ = _lanes(d.g_re.value, rl, 1)
        if None in re_:
            self.errors.append(f"cycle {cycle}: g_re = {d.g_re.value}")
        if any(re_):
            rows, cols = _lanes(d.g_rrow.value, rl, 16), _lanes(d.g_rcol.value, rl, 16)
            for j in range(rl):
                if re_[j]:
                    r, c = rows[j], cols[j]
                    if (
                        r is None
                        or c is None
                        or not (0 <= r < self.p["TB"] and 0 <= c < self.p["MAX_E"])
                    ):
                        self.errors.append(f"cycle {cycle}: read lane {j} at ({r}, {c})")
                        continue
                    self.words[j] = self.gbuf[r][c]
                    reads[j].append((cycle, r, c))
        we = _lanes(d.mq_we.value, mk, 1)
        if None in we:
            self.errors.append(f"cycle {cycle}: mq_we = {d.mq_we.value}")
        if any(we):
            rows, cols = _lanes(d.mq_wrow.value, mk, 16), _lanes(d.mq_wcol.value, mk, 16)
            data = _lanes(d.mq_wdata.value, mk, self.p["GW"] + 16)
            add = _lanes(d.mq_wadd.value, mk, 1)
            for j in range(mk):
                if we[j]:
                    if add[j] != 0 or cols[j] != 0:
                        self.errors.append(f"cycle {cycle}: port {j} wadd {add[j]} col {cols[j]}")
                    if rows[j] is None or data[j] is None:
                        self.errors.append(f"cycle {cycle}: port {j} writes X")
                    else:
                        writes.append((cycle, rows[j], data[j]))

    def queues(self) -> tuple[list[int | None], list[int | None]]:
        """q_count and q_start of every expert."""
        me = self.p["MAX_E"]
        return _lanes(self.dut.q_count.value, me, 16), _lanes(self.dut.q_start.value, me, 16)


_ARGS = ("rows", "lfrac", "gfmt", "experts", "top_k", "renorm")
_BITS = {"rows": 16, "lfrac": 10, "gfmt": 32, "experts": 16, "top_k": 16, "renorm": 16}


@cocotb.test()
async def route_op_matches_router(dut: Any) -> None:
    """Every queue entry, count and start equal to the golden router's queues; one logit
    per cycle per lane plus the fixed stall per max update; done after the last write."""
    cfg, case = config(), load_case()
    p = cfg["params"]
    rl = p["RL"]
    rng = random.Random(cfg["seed"] + 1)
    buf = Buffers(dut, p)
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.rst.value = 1
    for sig in ("start", *_ARGS, "g_rdata"):
        getattr(dut, sig).value = 0
    for _ in range(60):  # long enough to flush the (unreset) delay lines
        await FallingEdge(dut.clk)
    dut.rst.value = 0
    cycle = 0
    mismatches: list[str] = []
    extra: list[tuple[int, int]] = []
    plain_gaps: list[int] = []
    stalls: set[int] = set()
    latencies: set[int] = set()
    perf_rows = []
    held: tuple[list[int], list[int]] | None = None
    t0 = time.perf_counter()
    for call in case["calls"]:
        a = call["args"]
        buf.gbuf = call["gbuf"]
        for _ in range(rng.randint(0, 3)):  # idle cycles between calls: queues held
            await FallingEdge(dut.clk)
            buf.drive()
            cycle += 1
        if held is not None and buf.queues() != held:
            mismatches.append(f"{call['label']}: q_count/q_start changed before start")
        await FallingEdge(dut.clk)
        for sig in _ARGS:
            getattr(dut, sig).value = a[sig]
        dut.start.value = 1
        buf.drive()
        start, done_at = cycle, None
        reads: list[list[tuple[int, int, int]]] = [[] for _ in range(rl)]
        writes: list[tuple[int, int, int]] = []
        limit = 200 + 4 * a["rows"] * a["experts"]
        while done_at is None:
            await ReadOnly()
            buf.sample(cycle, reads, writes)
            if dut.done.value == 1:
                done_at = cycle
                held = buf.queues()
            cycle += 1
            await FallingEdge(dut.clk)
            dut.start.value = 0
            for sig in _ARGS:
                getattr(dut, sig).value = rng.getrandbits(_BITS[sig])  # sampled at start only
            buf.drive()
            if done_at is None and cycle - start > limit:
                mismatches.append(f"{call['label']}: no done within {limit} cycles")
                break
        tail_reads: list[list[tuple[int, int, int]]] = [[] for _ in range(rl)]
        tail: list[tuple[int, int, int]] = []
        for _ in range(20):  # nothing more may be read, written or done; queues held
            await ReadOnly()
            buf.sample(cycle, tail_reads, tail)
            if dut.done.value == 1:
                mismatches.append(f"{call['label']}: done again at cycle {cycle}")
            if held is not None and buf.queues() != held:
                mismatches.append(f"{call['label']}: q_count/q_start changed after done")
            cycle += 1
            await FallingEdge(dut.clk)
            buf.drive()
        extra += [(c, v) for c, _, v in tail]
        if any(tail_reads):
            mismatches.append(f"{call['label']}: logit reads after done")
        mismatches += [f"{call['label']}: {e}" for e in buf.errors]
        buf.errors.clear()
        if done_at is None or held is None:
            break
        # queue entries, counts, starts
        got: dict[int, int] = {}
        for _, r, v in writes:
            if r in got:
                mismatches.append(f"{call['label']}: queue entry {r} written twice")
            got[r] = v
        want = dict(enumerate(call["entries"]))
        for r in sorted(set(want) | set(got)):
            if got.get(r) != want.get(r):
                g, w = got.get(r), want.get(r)
                mismatches.append(
                    f"{call['label']}: entry {r}: got {g if g is None else hex(g)}, "
                    f"want {w if w is None else hex(w)}"
                )
        if held[0] != call["q_count"] or held[1] != call["q_start"]:
            mismatches.append(
                f"{call['label']}: q_count {held[0]} q_start {held[1]}, "
                f"want {call['q_count']} {call['q_start']}"
            )
        last = max((c for c, _, _ in writes), default=None)
        if last is not None and done_at != last + 1:
            mismatches.append(f"{call['label']}: done at {done_at}, last write at {last}")
        # each lane's reads and timing
        last_read, last_free = -1, True
        for j, lane in enumerate(call["lanes"]):
            seq = [[r, c] for _, r, c in reads[j]]
            if seq != lane["reads"]:
                mismatches.append(
                    f"{call['label']}: lane {j} read {len(seq)} words, want {len(lane['reads'])}"
                    f" (first reads {seq[:4]}, want {lane['reads'][:4]})"
                )
                continue
            ts, upd = [c for c, _, _ in reads[j]], lane["upd"]
            for i in range(1, len(ts)):
                gap = ts[i] - ts[i - 1]
                if i >= 2 and upd[i - 2]:
                    stalls.add(gap - 1)
                else:
                    plain_gaps.append(gap)
            if ts:  # the latency is taken when no lane's last logit waits for a stall
                last_free = last_free and not (len(ts) >= 2 and upd[-2])
                last_read = max(last_read, ts[-1])
        first_write = min((c for c, _, _ in writes), default=None)
        if first_write is not None and last_free:
            latencies.add(first_write - last_read)
        measured = done_at - start
        if a["rows"]:
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
                "(pymodel.perf.units.router) %d cycles",
                call["label"],
                measured,
                call["modelled_cycles"],
            )
        else:
            dut._log.info("%s: rows = 0, done after %d cycles", call["label"], measured)
    wall = time.perf_counter() - t0
    if len(latencies) > 1:
        mismatches.append(f"last read -> first queue write latency not constant: {latencies}")
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
