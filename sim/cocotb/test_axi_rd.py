"""axi_rd: the AXI4 read master against a Python AXI4 slave memory, cycle by cycle.

The slave (written here; one ID, so no reordering) accepts AR with random
delays, answers each burst after a random latency (cycles from its AR
handshake to its first beat) with random RVALID gaps, bursts in order, from
a memory of random 128-bit words. The client presents the case's requests with
random gaps and back-pressures rd_ready at random. Checked on every cycle:
ARVALID held until ARREADY with the payload stable, RVALID never waiting on
RREADY (the master's FIFO credit), every AR's fixed fields, ARLEN within
MAX_BURST, no 4 KiB crossing, each AR the next burst of the reference split
(:func:`sim.cocotb.axi_common.split`), bursts in flight <= OUTSTANDING,
rd_valid held with its data stable until rd_ready, every beat (data as an
integer, and rd_last) in request order, err low until the injected SLVERR and
high from the cycle after it.

Timing (the zero-latency, full-throughput phase): one beat per cycle within a
request (II 1), and two cycles from a request handshake to its first ARVALID
when the request finds the master idle (latency 2; later requests of a stream
wait for the bursts in flight). Throughput at zero latency and at a fixed latency is measured and
reported with the performance model's figure for the same burst length,
outstanding bursts and latency (not asserted).
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from sim.cocotb.axi_common import (
    PERF_LATENCY,
    Burst,
    Phase,
    add_to_result,
    check_fixed,
    make_case,
    modelled_rate,
    phases,
    split,
)
from sim.cocotb.harness import CLOCK_NS, config, finish, load_case

AR_FIELDS = ("addr", "len", "size", "burst", "lock", "cache", "prot", "qos", "region", "id")


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """The run's requests (see :func:`sim.cocotb.axi_common.make_case`)."""
    return make_case(cfg)


@dataclass
class SlaveBurst:
    """A burst the slave has accepted: address, beats, beats sent, first cycle it may answer."""

    addr: int
    beats: int
    ready: int
    sent: int = 0


@dataclass
class Stats:
    """What one phase measured."""

    first_beat: int = -1
    last_beat: int = -1
    beats: int = 0
    max_gap: int = 0
    latencies: set[int] | None = None


class ReadBench:
    """Slave, client and checks of axi_rd, one cycle at a time."""

    def __init__(self, dut: Any, params: dict[str, int], seed: int) -> None:
        self.dut = dut
        self.rng = random.Random(seed)
        self.mem_rng = random.Random(seed + 1)
        self.mem: dict[int, int] = {}
        self.max_burst = params["MAX_BURST"]
        self.outstanding = params["OUTSTANDING"]
        self.depth = params["DEPTH"]
        self.lat = (0, 0)  # the slave latency range of the phase
        self.received = self.popped = 0  # R beats taken, client beats taken
        self.cycle = 0
        self.timed_out = False  # a phase ran out of cycles: the rest are skipped
        self.mismatches: list[str] = []
        self.extra: list[tuple[int, int]] = []
        self.ref: deque[tuple[Burst, int]] = deque()  # reference bursts, request cycle (or -1)
        self.bursts: deque[SlaveBurst] = deque()  # accepted, not yet fully answered
        self.expect: deque[tuple[int, int]] = deque()  # (data, last) in request order
        self.ar_hold: tuple[int, ...] | None = None  # payload presented and not taken
        self.r_cur: tuple[int, int, int] | None = None  # (data, resp, last) presented
        self.rd_hold: tuple[int, int] | None = None
        self.in_req_prev = False  # the last beat seen did not end its request
        self.err_from = -1  # the cycle err must be high from (-1: must stay low)
        names = (
            "bursts split at 4 KiB",
            "bursts split at MAX_BURST",
            "cycles at OUTSTANDING bursts in flight",
            "cycles with ARVALID held by ARREADY",
            "cycles with an RVALID gap inside a burst",
            "client stall cycles (rd_valid, not rd_ready)",
            "AR held back by the FIFO credit",
            "SLVERR flagged on err",
        )
        self.cov = dict.fromkeys(names, 0)

    def word(self, addr: int) -> int:
        """The memory's 128-bit word at ``addr`` (random, drawn once)."""
        w = self.mem.get(addr)
        if w is None:
            w = self.mem[addr] = self.mem_rng.getrandbits(128)
        return w

    def bad(self, text: str) -> None:
        self.mismatches.append(f"cycle {self.cycle}: {text}")

    async def reset(self) -> None:
        """Start the clock; reset with the slave and client idle."""
        d = self.dut
        cocotb.start_soon(Clock(d.clk, CLOCK_NS, unit="ns").start())
        d.rst.value = 1
        for s in ("req_valid", "rd_ready", "m_axi_arready", "m_axi_rvalid", "m_axi_rlast"):
            getattr(d, s).value = 0
        d.req_addr.value = 0
        d.req_len.value = 0
        d.m_axi_rdata.value = 0
        d.m_axi_rresp.value = 0
        d.m_axi_rid.value = 0
        for _ in range(4):
            await FallingEdge(d.clk)
        d.rst.value = 0

    async def run(self, ph: Phase) -> Stats:
        """Run one phase until every request's beats have come back."""
        d, rng = self.dut, self.rng
        reqs = deque(ph.requests)
        req_cur: tuple[int, int] | None = None
        st = Stats(latencies=set())
        presented = 0  # R beats presented in this phase (for the SLVERR)
        start = self.cycle
        budget = 2000 + 20 * sum(n for _, n in ph.requests)
        while reqs or req_cur or self.expect or self.bursts or self.ref:
            if self.cycle - start > budget:
                self.timed_out = True
                self.bad(
                    f"{ph.name}: timeout, {len(self.expect)} beats and {len(reqs)} requests left"
                )
                break
            await FallingEdge(d.clk)
            # ---- slave: AR ready, R beat
            arready = int(rng.random() < ph.p_addr)
            if self.r_cur is None and self.bursts:
                b = self.bursts[0]
                if b.ready <= self.cycle:
                    if rng.random() < ph.p_data:
                        resp = 2 if presented == ph.err_at else 0
                        presented += 1
                        last = int(b.sent == b.beats - 1)
                        self.r_cur = (self.word(b.addr + 16 * b.sent), resp, last)
                    elif b.sent:
                        self.cov["cycles with an RVALID gap inside a burst"] += 1
            d.m_axi_arready.value = arready
            if self.r_cur is not None:
                d.m_axi_rvalid.value = 1
                d.m_axi_rdata.value, d.m_axi_rresp.value, d.m_axi_rlast.value = self.r_cur
            else:  # garbage on the data lines while RVALID is low
                d.m_axi_rvalid.value = 0
                d.m_axi_rdata.value = rng.getrandbits(128)
                d.m_axi_rresp.value = rng.getrandbits(2)
                d.m_axi_rlast.value = rng.getrandbits(1)
            # ---- client
            if req_cur is None and reqs and rng.random() < ph.p_req:
                req_cur = reqs.popleft()
            d.req_valid.value = int(req_cur is not None)
            d.req_addr.value, d.req_len.value = req_cur or (
                rng.getrandbits(64),
                rng.getrandbits(32),
            )
            rd_ready = int(rng.random() < ph.p_client)
            d.rd_ready.value = rd_ready
            await ReadOnly()
            self._ar(arready, st)
            self._r()
            if req_cur is not None and int(d.req_ready.value):
                self._request(*req_cur)
                req_cur = None
            self._client(rd_ready, st)
            self._err()
            if len(self.bursts) >= self.outstanding:
                self.cov["cycles at OUTSTANDING bursts in flight"] += 1
            self.cycle += 1
        return st

    def _request(self, addr: int, beats: int) -> None:
        for k in range(beats):
            self.expect.append((self.word(addr + 16 * k), int(k == beats - 1)))
        # the latency counts from requests that find the master idle (-1: not idle)
        idle = not self.ref and not self.bursts and self.ar_hold is None
        when = self.cycle if idle else -1
        self.ref.extend((b, when) for b in split(addr, beats, self.max_burst))

    def _ar(self, arready: int, st: Stats) -> None:
        d = self.dut
        if not int(d.m_axi_arvalid.value):
            if self.ar_hold is not None:
                self.bad("ARVALID dropped before ARREADY")
            self.ar_hold = None
            # the next burst waits for FIFO room (words in it + beats still to come)
            if self.ref and len(self.bursts) < self.outstanding:
                to_come = sum(b.beats - b.sent for b in self.bursts)
                if to_come + self.received - self.popped + self.ref[0][0].beats > self.depth:
                    self.cov["AR held back by the FIFO credit"] += 1
            return
        f = {k: int(getattr(d, f"m_axi_ar{k}").value) for k in AR_FIELDS}
        payload = tuple(f.values())
        if self.ar_hold is None:  # a new AR: the first of its request counts for the latency
            if (
                self.ref
                and self.ref[0][0].first
                and self.ref[0][1] >= 0
                and st.latencies is not None
            ):
                st.latencies.add(self.cycle - self.ref[0][1])
        elif payload != self.ar_hold:
            self.bad(
                f"AR payload changed while ARVALID and not ARREADY: {self.ar_hold} -> {payload}"
            )
        if not arready:
            self.ar_hold = payload
            self.cov["cycles with ARVALID held by ARREADY"] += 1
            return
        self.ar_hold = None
        for p in check_fixed(f, "AR", self.max_burst):
            self.bad(p)
        if not self.ref:
            self.bad(f"AR {f['addr']:#x} len {f['len']} with no request left to serve")
            return
        want, _ = self.ref.popleft()
        if (f["addr"], f["len"] + 1) != (want.addr, want.beats):
            self.bad(f"AR {f['addr']:#x} x {f['len'] + 1}, want {want.addr:#x} x {want.beats}")
        if want.reason == "4k":
            self.cov["bursts split at 4 KiB"] += 1
        elif want.reason == "max":
            self.cov["bursts split at MAX_BURST"] += 1
        lat = self.rng.randint(*self.lat)
        self.bursts.append(SlaveBurst(f["addr"], f["len"] + 1, self.cycle + 1 + lat))
        if len(self.bursts) > self.outstanding:
            self.bad(f"{len(self.bursts)} bursts in flight > OUTSTANDING {self.outstanding}")

    def _r(self) -> None:
        if self.r_cur is None:
            return
        if not int(self.dut.m_axi_rready.value):
            self.bad("RREADY low with RVALID: the R FIFO credit let a burst in without room")
            return
        resp = self.r_cur[1]
        self.r_cur = None
        b = self.bursts[0]
        b.sent += 1
        self.received += 1
        if b.sent == b.beats:
            self.bursts.popleft()
        if resp:
            self.err_from = self.cycle + 1

    def _client(self, rd_ready: int, st: Stats) -> None:
        d = self.dut
        if not int(d.rd_valid.value):
            if self.rd_hold is not None:
                self.bad("rd_valid dropped before rd_ready")
            self.rd_hold = None
            return
        beat = (d.rd_data.value.to_unsigned(), int(d.rd_last.value))
        if self.rd_hold is not None and beat != self.rd_hold:
            self.bad("rd_data / rd_last changed while rd_valid and not rd_ready")
        if not rd_ready:
            self.rd_hold = beat
            self.cov["client stall cycles (rd_valid, not rd_ready)"] += 1
            return
        self.rd_hold = None
        self.popped += 1
        if not self.expect:
            self.extra.append((self.cycle, beat[0]))
            return
        want = self.expect.popleft()
        if beat != want:
            self.bad(f"beat (data, last) {beat[0]:#x}, {beat[1]}; want {want[0]:#x}, {want[1]}")
        if st.first_beat < 0:
            st.first_beat = self.cycle
        elif self.in_req_prev:
            st.max_gap = max(st.max_gap, self.cycle - st.last_beat)
        st.last_beat = self.cycle
        st.beats += 1
        self.in_req_prev = not want[1]

    def _err(self) -> None:
        e = int(self.dut.err.value)
        if self.err_from < 0 or self.cycle < self.err_from:
            if e:
                self.bad("err high with no error response")
        elif not e:
            self.bad("err low after an SLVERR response")
        else:
            self.cov["SLVERR flagged on err"] = 1

    async def drain(self, cycles: int) -> None:
        """Idle client and slave: no AR and no beat may come."""
        d = self.dut
        for _ in range(cycles):
            await FallingEdge(d.clk)
            d.req_valid.value = 0
            d.m_axi_rvalid.value = 0
            d.m_axi_arready.value = 1
            d.rd_ready.value = 1
            await ReadOnly()
            if int(d.m_axi_arvalid.value):
                self.bad("ARVALID with every request served")
            if int(d.rd_valid.value):
                self.extra.append((self.cycle, d.rd_data.value.to_unsigned()))
            self._err()
            self.cycle += 1


def rate(st: Stats) -> float:
    """Beats per cycle from a phase's first beat to its last."""
    return round(st.beats / (st.last_beat - st.first_beat + 1), 4) if st.beats else 0.0


@cocotb.test()
async def axi_rd_random(dut: Any) -> None:
    """Every phase of :func:`sim.cocotb.axi_common.phases`, then the result."""
    cfg, case_ = config(), load_case()
    params = cfg["params"]
    bench = ReadBench(dut, params, cfg["seed"])
    await bench.reset()
    t0 = time.perf_counter()
    stats = []
    for ph in phases(case_, "err_beat"):
        bench.lat = ph.lat
        stats.append(await bench.run(ph))
        if bench.timed_out:
            break
    await bench.drain(100)
    wall = time.perf_counter() - t0
    stats += [Stats()] * (2 - len(stats))  # (a timeout in the first phase)
    fast = stats[0]
    lats = fast.latencies or {-1}
    if len(lats) != 1:
        bench.bad(f"request -> first ARVALID latency is not constant: {sorted(lats)}")
    mb, out = bench.max_burst, bench.outstanding
    info = {
        "throughput": {
            "measured in RTL simulation, zero latency": rate(stats[0]),
            f"measured in RTL simulation, latency {PERF_LATENCY}": rate(stats[1]),
            "modelled (pymodel.perf.ddr port_rate), zero latency": modelled_rate(mb, out, 0),
            f"modelled (pymodel.perf.ddr port_rate), latency {PERF_LATENCY}": modelled_rate(
                mb, out, PERF_LATENCY
            ),
            "bursts": f"{mb} beats, {out} outstanding",
        }
    }
    dut._log.info("axi_rd throughput (beats/cycle): %s", info["throughput"])
    try:
        finish(
            cfg["name"],
            len(case_["requests"]),
            bench.mismatches,
            fast.max_gap,
            min(lats),
            bench.cycle,
            wall,
            bench.extra,
            coverage=bench.cov,
        )
    finally:
        add_to_result(cfg["result"], info)
