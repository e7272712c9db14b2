"""axi_wr: the AXI4 write master against a Python AXI4 slave memory, cycle by cycle.

The slave (written here; one ID, so no reordering) accepts AW with random
delays and W beats with random WREADY gaps (W may come before its AW, as
AXI4 allows), writes each burst into its memory once it has the burst's AW
and all its beats, and answers B a random latency after the later of the two,
with random BVALID gaps, in order. The client presents the case's requests
with random gaps and each accepted request's beats (random 128-bit words)
with random wr_valid gaps. Checked on every cycle: AWVALID / WVALID held
until AWREADY / WREADY with their payload stable, BREADY, every AW's fixed
fields, AWLEN within MAX_BURST, no 4 KiB crossing, each AW the next burst of
the reference split (:func:`sim.cocotb.axi_common.split`), WSTRB all ones,
WLAST on exactly the last beat of each burst, bursts awaiting B <=
OUTSTANDING, done exactly the cycle after the B of each request's last burst,
err low until the injected SLVERR and high from the cycle after it; at the
end, every word of the memory (as an integer) against what the client sent,
and no W beat left over.

Timing (the zero-latency, full-throughput phase): one client beat per cycle
within a request (II 1), and two cycles from a request handshake to its first
AWVALID when the request finds the master idle (latency 2). Throughput (client
beats per cycle) at zero latency and at a fixed latency is measured and
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

AW_FIELDS = ("addr", "len", "size", "burst", "lock", "cache", "prot", "qos", "region", "id")


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """The run's requests (see :func:`sim.cocotb.axi_common.make_case`)."""
    return make_case(cfg)


@dataclass
class AwBurst:
    """A burst whose AW the slave has taken: address, beats, handshake cycle, final flag."""

    addr: int
    beats: int
    cycle: int
    final: bool


@dataclass
class Stats:
    """What one phase measured (client beats)."""

    first_beat: int = -1
    last_beat: int = -1
    beats: int = 0
    max_gap: int = 0
    latencies: set[int] | None = None


class WriteBench:
    """Slave, client and checks of axi_wr, one cycle at a time."""

    def __init__(self, dut: Any, params: dict[str, int], seed: int) -> None:
        self.dut = dut
        self.rng = random.Random(seed)
        self.max_burst = params["MAX_BURST"]
        self.outstanding = params["OUTSTANDING"]
        self.lat = (0, 0)  # the slave latency range of the phase
        self.cycle = 0
        self.timed_out = False  # a phase ran out of cycles: the rest are skipped
        self.mismatches: list[str] = []
        self.mem: dict[int, int] = {}  # what the slave wrote
        self.want: dict[int, int] = {}  # what the client sent
        self.ref: deque[tuple[Burst, int]] = deque()  # reference bursts, request cycle (or -1)
        self.aw: deque[AwBurst] = deque()  # AW taken, beats not all here yet
        self.w: deque[tuple[int, int, int]] = deque()  # W beats taken: data, last, cycle
        self.b: deque[tuple[int, bool]] = deque()  # B owed: first cycle it may come, final
        self.awaiting = 0  # bursts whose AW was taken and whose B was not
        self.beats: deque[int] = deque()  # client beats of accepted requests, not yet taken
        self.aw_hold: tuple[int, ...] | None = None
        self.w_hold: tuple[int, int, int] | None = None
        self.wr_cur: int | None = None  # the client beat presented
        self.b_cur: tuple[bool, int] | None = None  # the B presented: final, resp
        self.in_req: deque[int] = deque()  # beats left per accepted request (client side)
        self.same_req = False  # the last client beat did not end its request
        self.done_at: set[int] = set()  # cycles done must be high
        self.dones = 0
        self.resp_no = 0  # B responses presented in the phase
        self.err_from = -1
        names = (
            "bursts split at 4 KiB",
            "bursts split at MAX_BURST",
            "cycles at OUTSTANDING bursts awaiting B",
            "cycles with AWVALID held by AWREADY",
            "cycles with WVALID held by WREADY",
            "W beats before their AW",
            "cycles with a B gap (BVALID owed, low)",
            "client stall cycles (wr_valid, not wr_ready)",
            "client gap cycles (no wr_valid, beats owed)",
            "SLVERR flagged on err",
        )
        self.cov = dict.fromkeys(names, 0)

    def bad(self, text: str) -> None:
        self.mismatches.append(f"cycle {self.cycle}: {text}")

    async def reset(self) -> None:
        """Start the clock; reset with the slave and client idle."""
        d = self.dut
        cocotb.start_soon(Clock(d.clk, CLOCK_NS, unit="ns").start())
        d.rst.value = 1
        for s in ("req_valid", "wr_valid", "m_axi_awready", "m_axi_wready", "m_axi_bvalid"):
            getattr(d, s).value = 0
        d.req_addr.value = 0
        d.req_len.value = 0
        d.wr_data.value = 0
        d.m_axi_bresp.value = 0
        d.m_axi_bid.value = 0
        for _ in range(4):
            await FallingEdge(d.clk)
        d.rst.value = 0

    def busy(self) -> bool:
        return bool(
            self.ref or self.aw or self.w or self.b or self.b_cur or self.beats or self.done_at
        )

    async def run(self, ph: Phase) -> Stats:
        """Run one phase until every request is written and reported done."""
        d, rng = self.dut, self.rng
        reqs = deque(ph.requests)
        req_cur: tuple[int, int] | None = None
        st = Stats(latencies=set())
        self.resp_no = 0
        start = self.cycle
        budget = 2000 + 20 * sum(n for _, n in ph.requests)
        while reqs or req_cur or self.busy():
            if self.cycle - start > budget:
                self.timed_out = True
                self.bad(f"{ph.name}: timeout, {len(reqs)} requests left, {len(self.b)} B owed")
                break
            await FallingEdge(d.clk)
            # ---- slave
            awready = int(rng.random() < ph.p_addr)
            wready = int(rng.random() < ph.p_data)
            if self.b_cur is None and self.b and self.b[0][0] <= self.cycle:
                if rng.random() < ph.p_resp:
                    _, final = self.b.popleft()
                    resp = 2 if self.resp_no == ph.err_at else 0
                    self.resp_no += 1
                    self.b_cur = (final, resp)
                else:
                    self.cov["cycles with a B gap (BVALID owed, low)"] += 1
            d.m_axi_awready.value = awready
            d.m_axi_wready.value = wready
            d.m_axi_bvalid.value = int(self.b_cur is not None)
            d.m_axi_bresp.value = self.b_cur[1] if self.b_cur else rng.getrandbits(2)
            # ---- client
            if req_cur is None and reqs and rng.random() < ph.p_req:
                req_cur = reqs.popleft()
            d.req_valid.value = int(req_cur is not None)
            d.req_addr.value, d.req_len.value = req_cur or (
                rng.getrandbits(64),
                rng.getrandbits(32),
            )
            if self.wr_cur is None and self.beats:
                if rng.random() < ph.p_client:
                    self.wr_cur = self.beats.popleft()
                else:
                    self.cov["client gap cycles (no wr_valid, beats owed)"] += 1
            d.wr_valid.value = int(self.wr_cur is not None)
            d.wr_data.value = self.wr_cur if self.wr_cur is not None else rng.getrandbits(128)
            await ReadOnly()
            self._aw(awready, st)
            self._w(wready)
            self._match()
            self._b()
            if req_cur is not None and int(d.req_ready.value):
                self._request(*req_cur)
                req_cur = None
            self._client(st)
            self._done_err()
            if self.awaiting >= self.outstanding:
                self.cov["cycles at OUTSTANDING bursts awaiting B"] += 1
            self.cycle += 1
        return st

    def _request(self, addr: int, beats: int) -> None:
        idle = not self.ref and not self.aw and not self.awaiting and self.aw_hold is None
        when = self.cycle if idle else -1
        self.ref.extend((b, when) for b in split(addr, beats, self.max_burst))
        for k in range(beats):
            data = self.rng.getrandbits(128)
            self.beats.append(data)
            self.want[addr + 16 * k] = data
        self.in_req.append(beats)

    def _aw(self, awready: int, st: Stats) -> None:
        d = self.dut
        if not int(d.m_axi_awvalid.value):
            if self.aw_hold is not None:
                self.bad("AWVALID dropped before AWREADY")
            self.aw_hold = None
            return
        f = {k: int(getattr(d, f"m_axi_aw{k}").value) for k in AW_FIELDS}
        payload = tuple(f.values())
        if self.aw_hold is None:
            if (
                self.ref
                and self.ref[0][0].first
                and self.ref[0][1] >= 0
                and st.latencies is not None
            ):
                st.latencies.add(self.cycle - self.ref[0][1])
        elif payload != self.aw_hold:
            self.bad(
                f"AW payload changed while AWVALID and not AWREADY: {self.aw_hold} -> {payload}"
            )
        if not awready:
            self.aw_hold = payload
            self.cov["cycles with AWVALID held by AWREADY"] += 1
            return
        self.aw_hold = None
        for p in check_fixed(f, "AW", self.max_burst):
            self.bad(p)
        if not self.ref:
            self.bad(f"AW {f['addr']:#x} len {f['len']} with no request left to serve")
            return
        want, _ = self.ref.popleft()
        if (f["addr"], f["len"] + 1) != (want.addr, want.beats):
            self.bad(f"AW {f['addr']:#x} x {f['len'] + 1}, want {want.addr:#x} x {want.beats}")
        if want.reason == "4k":
            self.cov["bursts split at 4 KiB"] += 1
        elif want.reason == "max":
            self.cov["bursts split at MAX_BURST"] += 1
        if sum(a.beats for a in self.aw) < len(self.w):
            self.cov["W beats before their AW"] += 1
        self.aw.append(AwBurst(f["addr"], f["len"] + 1, self.cycle, want.last))
        self.awaiting += 1
        if self.awaiting > self.outstanding:
            self.bad(f"{self.awaiting} bursts awaiting B > OUTSTANDING {self.outstanding}")

    def _w(self, wready: int) -> None:
        d = self.dut
        if not int(d.m_axi_wvalid.value):
            if self.w_hold is not None:
                self.bad("WVALID dropped before WREADY")
            self.w_hold = None
            return
        beat = (int(d.m_axi_wdata.value), int(d.m_axi_wlast.value), int(d.m_axi_wstrb.value))
        if self.w_hold is not None and beat != self.w_hold:
            self.bad("W payload changed while WVALID and not WREADY")
        if not wready:
            self.w_hold = beat
            self.cov["cycles with WVALID held by WREADY"] += 1
            return
        self.w_hold = None
        if beat[2] != 0xFFFF:
            self.bad(f"WSTRB {beat[2]:#x}, want all ones")
        self.w.append((beat[0], beat[1], self.cycle))

    def _match(self) -> None:
        """Write every burst that has its AW and all its beats; owe its B."""
        while self.aw and len(self.w) >= self.aw[0].beats:
            a = self.aw.popleft()
            beats = [self.w.popleft() for _ in range(a.beats)]
            lasts = [k for k, (_, last, _) in enumerate(beats) if last]
            if lasts != [a.beats - 1]:
                self.bad(f"burst {a.addr:#x} x {a.beats}: WLAST on beats {lasts}")
            for k, (data, _, _) in enumerate(beats):
                self.mem[a.addr + 16 * k] = data
            ready = max(a.cycle, beats[-1][2]) + 1 + self.rng.randint(*self.lat)
            self.b.append((ready, a.final))

    def _b(self) -> None:
        d = self.dut
        if self.b_cur is None:
            return
        if not int(d.m_axi_bready.value):
            self.bad("BREADY low with BVALID")
            return
        final, resp = self.b_cur
        self.b_cur = None
        self.awaiting -= 1
        if final:
            self.done_at.add(self.cycle + 1)
        if resp:
            self.err_from = self.cycle + 1

    def _client(self, st: Stats) -> None:
        d = self.dut
        if self.wr_cur is None:
            return
        if not int(d.wr_ready.value):
            self.cov["client stall cycles (wr_valid, not wr_ready)"] += 1
            return
        self.wr_cur = None
        if st.first_beat < 0:
            st.first_beat = self.cycle
        elif self.same_req:
            st.max_gap = max(st.max_gap, self.cycle - st.last_beat)
        st.last_beat = self.cycle
        st.beats += 1
        self.in_req[0] -= 1
        self.same_req = self.in_req[0] != 0
        if not self.same_req:
            self.in_req.popleft()

    def _done_err(self) -> None:
        d = self.dut
        if int(d.done.value):
            if self.cycle in self.done_at:
                self.done_at.discard(self.cycle)
                self.dones += 1
            else:
                self.bad("done high with no request finished on B")
        elif self.cycle in self.done_at:
            self.bad("done low the cycle after a request's last B")
            self.done_at.discard(self.cycle)
        e = int(d.err.value)
        if self.err_from < 0 or self.cycle < self.err_from:
            if e:
                self.bad("err high with no error response")
        elif not e:
            self.bad("err low after an SLVERR response")
        else:
            self.cov["SLVERR flagged on err"] = 1

    async def drain(self, cycles: int) -> None:
        """Idle client and slave: no AW, W or done may come."""
        d = self.dut
        for _ in range(cycles):
            await FallingEdge(d.clk)
            d.req_valid.value = 0
            d.wr_valid.value = 0
            d.m_axi_bvalid.value = 0
            d.m_axi_awready.value = 1
            d.m_axi_wready.value = 1
            await ReadOnly()
            if int(d.m_axi_awvalid.value) or int(d.m_axi_wvalid.value):
                self.bad("AWVALID or WVALID with every request written")
            self._done_err()
            self.cycle += 1


def rate(st: Stats) -> float:
    """Client beats per cycle from a phase's first beat to its last."""
    return round(st.beats / (st.last_beat - st.first_beat + 1), 4) if st.beats else 0.0


@cocotb.test()
async def axi_wr_random(dut: Any) -> None:
    """Every phase of :func:`sim.cocotb.axi_common.phases`, then the memory and the result."""
    cfg, case_ = config(), load_case()
    bench = WriteBench(dut, cfg["params"], cfg["seed"])
    await bench.reset()
    t0 = time.perf_counter()
    stats = []
    all_phases = phases(case_, "err_burst")
    for ph in all_phases:
        bench.lat = ph.lat
        stats.append(await bench.run(ph))
        if bench.timed_out:
            break
    await bench.drain(100)
    wall = time.perf_counter() - t0
    if bench.w:
        bench.bad(f"{len(bench.w)} W beats beyond the bursts' AWLEN")
    n_req = sum(len(ph.requests) for ph in all_phases)
    if bench.dones != n_req:
        bench.bad(f"{bench.dones} done pulses for {n_req} requests")
    wrong = [a for a in bench.want if bench.mem.get(a) != bench.want[a]]
    bench.mismatches += [
        f"memory {a:#x}: {bench.mem.get(a, 0):#x}, want {bench.want[a]:#x}" for a in wrong[:20]
    ]
    if wrong[20:]:
        bench.mismatches.append(f"... {len(wrong) - 20} more wrong words")
    stray = sorted(set(bench.mem) - set(bench.want))
    if stray:
        bench.bad(f"{len(stray)} words written outside every request, first {stray[0]:#x}")
    stats += [Stats()] * (2 - len(stats))  # (a timeout in the first phase)
    fast = stats[0]
    lats = fast.latencies or {-1}
    if len(lats) != 1:
        bench.bad(f"request -> first AWVALID latency is not constant: {sorted(lats)}")
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
        },
        "words_compared": len(bench.want),
    }
    dut._log.info("axi_wr throughput (client beats/cycle): %s", info["throughput"])
    try:
        finish(
            cfg["name"],
            len(case_["requests"]),
            bench.mismatches,
            fast.max_gap,
            min(lats),
            bench.cycle,
            wall,
            coverage=bench.cov,
        )
    finally:
        add_to_result(cfg["result"], info)
