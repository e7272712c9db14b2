"""lin_unit (through the ``lin_unit_tb`` wrapper): lists of plain DDR-weight linear jobs,
every output word against the golden fixed-point forward's linear layer.

The jobs are built as the C++ engine builds a block's linear layers
(hls/src/edgemoe_layers.cpp ``ddr_job``): x rows from a buffer (XS_H, or XS_U
for the second layer of an MLP), the weight matrix streamed from DDR in the
layout the export writes (:func:`pymodel.export.layout.pack_rows`: rows padded
to whole 128-bit beats, 16-bit words or, for formats of at most 8 bits, 8-bit
words), a bias from the params image, one requantisation into ``y_fmt``, and
optionally GELU (``g_fmt``) or the residual x added into the exact sum. Some
jobs read a column window of a wider stored matrix (``w_col0_beats``,
``w_row_beats``: the MLP's hidden chunks). Formats are random per job (wide
16-bit, packed 8 x 8-bit: two MACs per DSP, and 16-bit x with 8-bit weights);
a list is 1..3 independent layers, or fc1 + GELU into U followed by fc2 +
residual reading U (the MLP: the second job reads what the first stored).

The expected words (built by :mod:`sim.cocotb.lin_unit_case`) come from
:class:`pymodel.numerics.forward.FixedArith` (``_linear``: exact matmul, bias
and residual aligned into the sum, one requantisation; ``gelu``: the
tabulated GELU), applied job by job to a model of the on-chip buffers. The
testbench models the memories cycle by cycle: the weight ports and the bias
client (requests accepted under random back-pressure, beats returned in order
after a latency of 20..60 cycles, with gaps), the x operand and residual reads
(synchronous, data the cycle after the address, as ``ebuf``) and the stores.
Every store is compared as an integer (the buffer word); a store the golden
model does not make, or one it makes that never comes, is a mismatch.

Timing: II = the largest gap between MAC beats of one row group (its K/TI
beats issue back to back); latency = a job's first group's last MAC beat ->
the job's first store (the epilogue is idle at a job's start, so this is
fixed). Cycles from list_start to list_done (MEASURED, RTL simulation) are
recorded next to the performance model's cycles for the same jobs
(:func:`pymodel.perf.units.linear_jobs`, MODELLED) for the first half of the
lists, run without back-pressure at the DDR latency the model is given
(``PERF_LATENCY``); the result's ``perf`` holds both and their ratio, and
nothing is asserted about it.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from sim.cocotb.harness import CLOCK_NS, config, finish, load_case
from sim.cocotb.lin_unit_case import BUF_ROWS, PERF_LATENCY, X_BUF, Y_BUF, case

__all__ = ["case"]  # the runner builds the vectors with it


def _lanes(value: Any, n: int, bits: int) -> list[int | None]:
    """The ``n`` lanes of ``bits`` of a vector signal, lane 0 in the low bits; a lane
    with X or Z bits (Icarus: lanes no process has driven yet) is None."""
    try:
        word = value.to_unsigned()
    except ValueError:
        text = str(value)  # MSB first
        out: list[int | None] = []
        for i in range(n):
            lane = text[len(text) - (i + 1) * bits : len(text) - i * bits]
            out.append(int(lane, 2) if set(lane) <= {"0", "1"} else None)
        return out
    m = (1 << bits) - 1
    return [(word >> (i * bits)) & m for i in range(n)]


class Memories:
    """The DDR read paths (weight ports, bias client) and the on-chip buffers."""

    def __init__(self, dut: Any, case: dict[str, Any], p: dict[str, int], seed: int) -> None:
        self.dut, self.p = dut, p
        self.rng = random.Random(seed)
        self.wimg, self.pimg = case["wimg"], case["pimg"]
        self.ports = p["PORTS"]
        self.wq: list[list[tuple[int, int]]] = [[] for _ in range(self.ports)]  # (due, data)
        self.bq: list[tuple[int, int]] = []
        self.w_last = [0] * self.ports
        self.b_last = 0
        self.w_drove = [False] * self.ports
        self.b_drove = False
        self.req_ready = 0
        self.b_ready = 0
        self.w_pending: list[tuple[int, int] | None] = [None] * self.ports  # refused requests
        self.b_pending: tuple[int, int] | None = None
        self.bufs: dict[str, list[list[int]]] = {}
        self.xf_words = [0] * (p["R"] * p["TI"])
        self.ex_words = [0] * p["EL"]
        self.errors: list[str] = []
        self.lat = (PERF_LATENCY, PERF_LATENCY)
        self.p_ready = 1.0
        self.p_valid = 1.0

    def _due(self, last: int, cycle: int, n: int) -> tuple[list[int], int]:
        lat = self.rng.randint(*self.lat)
        out, t = [], max(cycle + lat, last + 1)
        for _ in range(n):
            out.append(t)
            t += 1
        return out, t - 1

    def drive(self, cycle: int) -> None:
        """Inputs of this cycle (after the falling edge)."""
        d, rng = self.dut, self.rng
        ready = 0
        for q in range(self.ports):
            if self.p_ready >= 1.0 or rng.random() < self.p_ready:
                ready |= 1 << q
        self.req_ready = ready
        d.w_req_ready.value = ready
        valid, data = 0, 0
        for q in range(self.ports):
            head = self.wq[q][0] if self.wq[q] else None
            go = head is not None and head[0] <= cycle
            go = go and (self.p_valid >= 1.0 or rng.random() < self.p_valid)
            self.w_drove[q] = go
            if go:
                valid |= 1 << q
                data |= head[1] << (128 * q)
        d.w_rd_valid.value = valid
        d.w_rd_data.value = data
        self.b_ready = int(self.p_ready >= 1.0 or rng.random() < self.p_ready)
        d.b_req_ready.value = self.b_ready
        go = bool(self.bq) and self.bq[0][0] <= cycle
        go = go and (self.p_valid >= 1.0 or rng.random() < self.p_valid)
        self.b_drove = go
        d.b_rd_valid.value = int(go)
        d.b_rd_data.value = self.bq[0][1] if go else 0
        d.xf_data.value = sum(w << (16 * i) for i, w in enumerate(self.xf_words))
        d.ex_data.value = sum(w << (16 * i) for i, w in enumerate(self.ex_words))

    def _mask(self, value: Any, what: str, cycle: int) -> int:
        """An enable vector; X or Z bits are an error (and read as 0)."""
        try:
            return value.to_unsigned()
        except ValueError:
            self.errors.append(f"cycle {cycle}: {what} = {value} (X or Z bits)")
            return int(re.sub("[^01]", "0", str(value)), 2)

    def _read(self, buf: str, row: int | None, col: int | None, what: str) -> int:
        b = self.bufs.get(buf)
        if row is None or col is None:
            self.errors.append(f"{what} read with an undefined address")
            return 0
        if b is None or not (0 <= row < len(b) and 0 <= col < len(b[0])):
            self.errors.append(f"{what} read outside buffer {buf}: ({row}, {col})")
            return 0
        return b[row][col]

    def sample(self, cycle: int, stores: list[tuple[int, int, int, int, int | None]]) -> None:
        """Outputs of this cycle (ReadOnly): requests, reads and stores."""
        d, p = self.dut, self.p
        valid = d.w_req_valid.value.to_unsigned()
        rv = valid & self.req_ready
        beats_w = d.w_req_beat.value.to_unsigned() if valid else 0
        lens = d.w_req_len.value.to_unsigned() if valid else 0
        # a request, once valid, holds until it is accepted (AXI AR channel rule)
        for q in range(self.ports):
            req = (beats_w >> (32 * q) & 0xFFFFFFFF, lens >> (32 * q) & 0xFFFFFFFF)
            held = self.w_pending[q]
            if held is not None and (not valid >> q & 1 or req != held):
                self.errors.append(f"cycle {cycle}: port {q} request {held} withdrawn or changed")
            self.w_pending[q] = req if valid >> q & 1 and not rv >> q & 1 else None
        if rv:
            for q in range(self.ports):
                if rv >> q & 1:
                    a = (beats_w >> (32 * q)) & 0xFFFFFFFF
                    n = (lens >> (32 * q)) & 0xFFFFFFFF
                    dues, self.w_last[q] = self._due(self.w_last[q], cycle, n)
                    for k, t in enumerate(dues):
                        if a + k >= len(self.wimg):
                            self.errors.append(f"port {q} reads beat {a + k} past the image")
                        self.wq[q].append((t, self.wimg[a + k] if a + k < len(self.wimg) else 0))
        rr = d.w_rd_ready.value.to_unsigned()
        for q in range(self.ports):
            if self.w_drove[q] and rr >> q & 1:
                self.wq[q].pop(0)
        b_valid = d.b_req_valid.value == 1
        b_req = (
            (d.b_req_beat.value.to_unsigned(), d.b_req_len.value.to_unsigned()) if b_valid else None
        )
        if self.b_pending is not None and b_req != self.b_pending:
            self.errors.append(f"cycle {cycle}: bias request {self.b_pending} withdrawn or changed")
        self.b_pending = b_req if b_valid and not self.b_ready else None
        if self.b_ready and b_req is not None:
            a, n = b_req
            dues, self.b_last = self._due(self.b_last, cycle, n)
            for k, t in enumerate(dues):
                ok = a + k < len(self.pimg)
                if not ok:
                    self.errors.append(f"bias reads beat {a + k} past the image")
                self.bq.append((t, self.pimg[a + k] if ok else 0))
        if self.b_drove and d.b_rd_ready.value == 1:
            self.bq.pop(0)
        n_x = p["R"] * p["TI"]
        re_ = self._mask(d.xf_re.value, "xf_re", cycle)
        if re_:
            buf = X_BUF.get(d.xf_src.value.to_unsigned(), "?")
            rows = _lanes(d.xf_row.value, n_x, 16)
            cols = _lanes(d.xf_col.value, n_x, 16)
            for i in range(n_x):
                if re_ >> i & 1:
                    self.xf_words[i] = self._read(buf, rows[i], cols[i], "x")
        el = p["EL"]
        re_ = self._mask(d.ex_re.value, "ex_re", cycle)
        if re_:
            rows = _lanes(d.ex_row.value, el, 16)
            cols = _lanes(d.ex_col.value, el, 16)
            for i in range(el):
                if re_ >> i & 1:
                    self.ex_words[i] = self._read("x", rows[i], cols[i], "residual")
        we = self._mask(d.y_we.value, "y_we", cycle)
        if we:
            sink = d.y_sink.value.to_unsigned()
            add = d.y_add.value.to_unsigned()
            rows = _lanes(d.y_row.value, el, 16)
            cols = _lanes(d.y_col.value, el, 16)
            data = _lanes(d.y_data.value, el, p["ACC_W"])
            for i in range(el):
                if we >> i & 1:
                    if add >> i & 1:
                        self.errors.append(f"cycle {cycle}: y_add set for sink {sink}")
                    v = data[i]
                    word = None if v is None else v & 0xFFFF  # the buffer word
                    stores.append((cycle, sink, rows[i], cols[i], word))
            for _, s, r, c, v in stores[-bin(we).count("1") :]:  # the buffer write (after reads)
                buf = Y_BUF.get(s)
                if v is None or r is None or c is None:
                    self.errors.append(f"store with undefined bits: sink {s} ({r}, {c}) = {v}")
                elif buf is None or not (0 <= r < BUF_ROWS and 0 <= c < len(self.bufs[buf][0])):
                    self.errors.append(f"store outside the sink buffers: sink {s} ({r}, {c})")
                else:
                    self.bufs[buf][r][c] = v


@cocotb.test()
async def lin_unit_matches_golden_linear(dut: Any) -> None:
    """Every stored word equal to the golden forward's; cycles measured per list."""
    cfg, case = config(), load_case()
    p = {**cfg["params"], "ACC_W": cfg["params"].get("ACC_W", 48)}
    mem = Memories(dut, case, p, cfg["seed"])
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.rst.value = 1
    for sig in ("job_we", "job_waddr", "job_wdata", "list_start", "n_jobs", "w_req_ready"):
        getattr(dut, sig).value = 0
    for sig in ("w_rd_valid", "w_rd_data", "b_req_ready", "b_rd_valid", "b_rd_data"):
        getattr(dut, sig).value = 0
    dut.xf_data.value = 0
    dut.ex_data.value = 0
    for _ in range(16):  # long enough to flush the (unreset) delay lines
        await FallingEdge(dut.clk)
    dut.rst.value = 0
    cycle = 0
    mismatches: list[str] = []
    extra: list[tuple[int, int]] = []
    gaps: list[int] = []
    latencies: set[int] = set()
    perf_rows = []
    t0 = time.perf_counter()
    prev_beats = 0
    for lst in case["lists"]:
        mem.bufs = {k: [list(r) for r in v] for k, v in lst["init"].items()}
        mem.xf_words = [0] * len(mem.xf_words)
        if lst["perf"]:
            mem.lat, mem.p_ready, mem.p_valid = (PERF_LATENCY, PERF_LATENCY), 1.0, 1.0
        else:
            mem.lat, mem.p_ready, mem.p_valid = (20, 60), cfg["p_ready"], cfg["p_valid"]
        jobs = lst["jobs"]
        # write the job registers, then start the list
        for q, job in enumerate(jobs):
            await FallingEdge(dut.clk)
            mem.drive(cycle)
            dut.job_we.value = 1
            dut.job_waddr.value = q
            dut.job_wdata.value = job["word"]
            await ReadOnly()
            cycle += 1
        await FallingEdge(dut.clk)
        dut.job_we.value = 0
        dut.list_start.value = 1
        dut.n_jobs.value = len(jobs)
        mem.drive(cycle)
        start = cycle
        stores: list[tuple[int, int, int, int, int | None]] = []
        issues: list[int] = []
        done_at = None
        beats0 = prev_beats
        limit = 40000
        while done_at is None:
            await ReadOnly()
            mem.sample(cycle, stores)
            b = dut.mac_beats.value.to_unsigned()
            issues += [cycle - 1] * (b - prev_beats)
            prev_beats = b
            if dut.list_done.value == 1:
                done_at = cycle
            cycle += 1
            if cycle - start > limit:
                mismatches.append(f"{lst['label']}: no list_done within {limit} cycles")
                break
            await FallingEdge(dut.clk)
            dut.list_start.value = 0
            mem.drive(cycle)
        # a few idle cycles: nothing more may be stored
        tail: list[tuple[int, int, int, int, int | None]] = []
        for _ in range(40):
            await ReadOnly()
            mem.sample(cycle, tail)
            b = dut.mac_beats.value.to_unsigned()
            if b != prev_beats:
                mismatches.append(f"{lst['label']}: MAC beats after list_done")
                prev_beats = b
            cycle += 1
            await FallingEdge(dut.clk)
            mem.drive(cycle)
        extra += [(c, v) for c, *_, v in tail]
        left = sum(map(len, mem.wq)) + len(mem.bq)
        if left:  # every beat the unit asked for is taken by the end of the list
            mismatches.append(f"{lst['label']}: {left} requested beats never taken")
            mem.wq, mem.bq = [[] for _ in mem.wq], []
        if done_at is None:
            break
        # every store against the golden ones (as integers: the buffer words)
        want = {}
        for job in jobs:
            for s, r, n, v in job["expected"]:
                want[(s, r, n)] = v  # a later job's store to the same word wins
        got: dict[tuple[int, int, int], int] = {}
        for _, s, r, n, v in stores:
            got[(s, r, n)] = v
        n_expected_stores = sum(len(j["expected"]) for j in jobs)
        if len(stores) != n_expected_stores:
            mismatches.append(f"{lst['label']}: {len(stores)} stores, expected {n_expected_stores}")
        for key in sorted(set(want) | set(got), key=str):
            if got.get(key) != want.get(key):
                mismatches.append(
                    f"{lst['label']}: sink {key[0]} row {key[1]} col {key[2]}: "
                    f"got {got.get(key)}, want {want.get(key)}"
                )
        mismatches += [f"{lst['label']}: {e}" for e in mem.errors]
        dut._log.info("%s: %d mismatches so far", lst["label"], len(mismatches))
        mem.errors.clear()
        # timing: MAC beats per row group, first group -> first store of each job
        groups = [g for job in jobs for g in job["groups"]]
        if sum(groups) != len(issues):
            mismatches.append(f"{lst['label']}: {len(issues)} MAC beats, expected {sum(groups)}")
        else:
            pos, store_cycles = 0, sorted(c for c, *_ in stores)
            for job in jobs:
                first_last = issues[pos + job["groups"][0] - 1]
                after = [c for c in store_cycles if c > first_last]
                if after:
                    latencies.add(after[0] - first_last)
                for g in job["groups"]:
                    beats_g = issues[pos : pos + g]
                    gaps += [b - a for a, b in zip(beats_g, beats_g[1:])]
                    pos += g
        if lst["perf"]:
            measured = done_at - start
            perf_rows.append(
                {
                    "list": lst["label"],
                    "measured_cycles": measured,
                    "modelled_cycles": lst["modelled_cycles"],
                    "ratio_measured_over_modelled": round(measured / lst["modelled_cycles"], 3),
                    "mac_beats": prev_beats - beats0,
                    "modelled_compute_cycles": lst["modelled_compute_cycles"],
                }
            )
            dut._log.info(
                "%s: MEASURED (RTL simulation) %d cycles list_start -> list_done, %d MAC beats; "
                "MODELLED (pymodel.perf) %d cycles, %d compute cycles; measured/modelled %.3f",
                lst["label"],
                measured,
                prev_beats - beats0,
                lst["modelled_cycles"],
                lst["modelled_compute_cycles"],
                measured / lst["modelled_cycles"],
            )
    wall = time.perf_counter() - t0
    ii = max(gaps) if gaps else 1
    if len(latencies) > 1:
        mismatches.append(f"first-store latency not constant: {sorted(latencies)}")
    latency = min(latencies) if latencies else -1
    tot_m = sum(r["measured_cycles"] for r in perf_rows)
    tot_p = sum(r["modelled_cycles"] for r in perf_rows)
    perf = {
        "model": case["model"],
        "ddr_latency": case["perf_latency"],
        "lists": perf_rows,
        "measured_cycles_total": tot_m,
        "modelled_cycles_total": tot_p,
        "ratio_measured_over_modelled": round(tot_m / tot_p, 3) if tot_p else None,
    }
    dut._log.info(
        "perf lists: MEASURED (RTL simulation) %d cycles, MODELLED %d cycles, ratio %s",
        tot_m,
        tot_p,
        perf["ratio_measured_over_modelled"],
    )
    finish(
        cfg["name"],
        len(case["lists"]),
        mismatches,
        ii,
        latency,
        cycle,
        wall,
        extra,
        info={"perf": perf},
    )
