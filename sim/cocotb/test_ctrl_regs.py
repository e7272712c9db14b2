"""ctrl_regs: the engine's AXI4-Lite slave against host.simboard.EngineRegisters.

A plain AXI4-Lite master (written here: one driver per channel, random valid
and ready gaps, AW before W, W before AW or both together, random byte
strobes, garbage on the data lines while valid is low) runs host-like
programs: write the pointer words and the task, enable interrupts, start,
poll CTRL until ap_done, read the status and its ap_vld word, acknowledge
ISR; mixed with random accesses: CTRL writes while busy (refused starts),
ISR toggles, writes to read-only words, reserved and unmapped words, and runs
with auto_restart. A fake engine takes ap_start, runs a random number of
cycles and pulses ap_done with a random status.

The reference is the host's own model of the Vitis HLS slave,
:class:`host.simboard.EngineRegisters`, on a stand-in board (its ``pl`` records
each start), plus one step it does not model: Vitis's auto-restart (a run
ends with auto_restart set: the next starts at once). Every bus event is
applied to it on the clock edge the RTL acts on it (the read, then the
write, then ap_done), and the test compares, integer for integer: every read
value, the interrupt line and ap_start after every edge, and the pointer and
task values the engine sees at every start. Reserved and unmapped words
(which the model, a window of memory, would keep) must read 0.

Timing (the full-throughput phase first): back-to-back writes and reads at
one per cycle (II 1), and one cycle from a transaction's last handshake to
BVALID/RVALID (latency 1). Coverage counters (refused starts, clear-on-read
hits, ISR toggles, interrupt edges, channel orders, ...) must all be non-zero.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from host.simboard import EngineRegisters
from sim.cocotb.harness import CLOCK_NS, config, finish, load_case

Op = tuple[Any, ...]
Program = Generator[Op, Any, None]


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """The interface of the default design (the one the package is generated for)."""
    from pymodel.export import DEFAULT_DESIGN, interface
    from pymodel.export.regmap import GIE_BITS, control_addr_width

    return {
        "interface": interface(DEFAULT_DESIGN),
        "addr_w": control_addr_width(DEFAULT_DESIGN),
        "gie_enable": GIE_BITS["enable"],
        "ops": cfg["vectors"],
    }


class StandInBoard:
    """What EngineRegisters needs of a SimBoard: ``pl(regs)``, called on an accepted start.
    Records the argument values the engine must see at each start."""

    def __init__(self) -> None:
        self.starts: list[dict[str, int]] = []

    def pl(self, regs: EngineRegisters) -> None:
        args = [a for a in regs.interface["args"] if a["kind"] != "scalar_out"]
        self.starts.append({a["name"]: regs.arg(a["name"]) for a in args})


class Reference(EngineRegisters):
    """EngineRegisters with Vitis's auto-restart: a run that finishes while
    auto_restart is set starts the next one at once (ap_start stays set, ap_idle clear)."""

    def finish(self, status: int) -> None:
        super().finish(status)
        c = self.map["CTRL"] // 4
        word = int(self.words[c])
        if word & self._bit("auto_restart"):
            self.words[c] = (word | self._bit("ap_start")) & ~self._bit("ap_idle")
            self.board.pl(self)

    def peek(self, offset: int) -> int:
        """A word without the side effects of a read."""
        return int(self.words[offset // 4])


@dataclass
class Channel:
    """One master channel: entries (ready cycle, payload) and the one being presented."""

    queue: deque[tuple[int, Any]] = field(default_factory=deque)
    cur: Any = None


@dataclass
class PendingWrite:
    """A write's address and the cycles of its AW and W handshakes."""

    addr: int
    aw_cycle: int | None = None
    w_cycle: int | None = None


class Bench:
    """The AXI4-Lite master, the fake engine and the reference, one cycle at a time."""

    def __init__(self, dut: Any, case: dict[str, Any], seed: int) -> None:
        self.dut = dut
        self.rng = random.Random(seed)
        iface = case["interface"]
        self.addr_w = case["addr_w"]
        self.gie_bit = case["gie_enable"]
        self.board = StandInBoard()
        words = np.zeros((1 << self.addr_w) // 4, dtype=np.uint32)
        self.ref = Reference(self.board, iface, words)  # type: ignore[arg-type]
        self.map: dict[str, int] = iface["register_map"]
        self.ctrl_bits: dict[str, int] = iface["ctrl_bits"]
        self.args = iface["args"]
        self.ptrs = [a["name"] for a in self.args if a["kind"] == "pointer"]
        self.sins = [a["name"] for a in self.args if a["kind"] == "scalar_in"]
        self.mapped = set(self.map.values())
        self.readonly = {
            self.map[a["name"].upper()] for a in self.args if a["kind"] == "scalar_out"
        }
        self.readonly |= {v for k, v in self.map.items() if k.endswith("_CTRL")}
        self.irq_mask = sum(1 << b for b in iface["irq_bits"].values())
        self.cycle = 0
        self.pre: dict[str, int] | None = None  # what the next edge acts on
        self.aw, self.w, self.ar = Channel(), Channel(), Channel()
        self.p_valid, self.p_ready = 1.0, 1.0
        self.bready = self.rready = 0
        self.pend_aw: deque[PendingWrite] = deque()  # AW handshakes not yet written
        self.pend_w: deque[tuple[int, int, int]] = deque()  # (data, strb, cycle)
        self.b_owed = 0  # writes performed whose response is not yet taken
        self.r_expect: deque[tuple[int, int, int, int]] = deque()  # addr, value, tag, AR cycle
        self.read_results: dict[int, int] = {}
        self.outstanding_w = 0
        self.outstanding_r = 0
        # the engine
        self.busy = False
        self.countdown = 0
        self.done_now = 0
        self.starts_taken = 0
        self.irq_prev = 0
        # what the checks saw
        self.mismatches: list[str] = []
        self.extra: list[tuple[int, int]] = []
        self.ops = 0  # bus transactions issued (the "vectors" of the run)
        self.limit = case["ops"]
        self.write_done_cycles: list[int] = []
        self.ar_cycles: list[int] = []
        self.latencies: set[int] = set()
        self.measure = False
        names = (
            "starts",
            "starts refused while busy",
            "CTRL writes while busy",
            "ap_done cleared on read",
            "ap_vld cleared on read",
            "ISR toggles",
            "interrupt rises",
            "interrupt falls",
            "AW before W",
            "W before AW",
            "AW with W",
            "partial strobes",
            "writes to read-only words",
            "reserved or unmapped accesses",
            "auto restarts",
            "B back-pressure cycles",
            "R back-pressure cycles",
            "done with a bus access",
            "done with a CTRL read",
            "unaligned addresses",
        )
        self.cov = dict.fromkeys(names, 0)

    # ------------------------------------------------------------ clock and reset
    async def reset(self) -> None:
        """Start the clock, hold reset with every master output low, check the widths."""
        d = self.dut
        cocotb.start_soon(Clock(d.clk, CLOCK_NS, unit="ns").start())
        d.rst.value = 1
        for sig in ("s_axi_awvalid", "s_axi_wvalid", "s_axi_arvalid", "ap_done"):
            getattr(d, sig).value = 0
        d.s_axi_bready.value = 0
        d.s_axi_rready.value = 0
        d.s_axi_awaddr.value = 0
        d.s_axi_araddr.value = 0
        d.s_axi_wdata.value = 0
        d.s_axi_wstrb.value = 0
        d.status.value = 0
        for _ in range(4):
            await FallingEdge(d.clk)
        d.rst.value = 0
        if len(d.s_axi_awaddr) != self.addr_w or len(d.ptr) != 64 * len(self.ptrs):
            raise AssertionError("ctrl_regs was built with another edgemoe_regs_pkg than the case")

    # ------------------------------------------------------------ one cycle
    async def tick(self) -> None:
        """Process the last edge (outputs are settled at the falling edge), drive the
        inputs for the next one, and sample what that edge will act on."""
        d = self.dut
        await FallingEdge(d.clk)
        self._edge()
        self._drive()
        await ReadOnly()
        self.pre = {
            "aw": int(d.s_axi_awvalid.value) & int(d.s_axi_awready.value),
            "w": int(d.s_axi_wvalid.value) & int(d.s_axi_wready.value),
            "ar": int(d.s_axi_arvalid.value) & int(d.s_axi_arready.value),
            "b": int(d.s_axi_bvalid.value) & self.bready,
            "r": int(d.s_axi_rvalid.value) & self.rready,
            "bvalid": int(d.s_axi_bvalid.value),
            "rvalid": int(d.s_axi_rvalid.value),
            "rdata": d.s_axi_rdata.value.to_unsigned(),
            "bresp": d.s_axi_bresp.value.to_unsigned(),
            "rresp": d.s_axi_rresp.value.to_unsigned(),
            "done": self.done_now,
            "status": d.status.value.to_unsigned(),
        }
        self.cycle += 1

    def _mismatch(self, text: str) -> None:
        self.mismatches.append(f"cycle {self.cycle}: {text}")

    def _edge(self) -> None:
        """Apply the events of the edge just passed to the reference, in the RTL's order
        (read, write, ap_done), and check the outputs after it."""
        pre = self.pre
        d, ref = self.dut, self.ref
        if pre is None:
            return
        c = self.cycle - 1  # the cycle whose edge this is
        # AXI: a response stays valid, and its data stable, until it is taken
        if pre["bvalid"] and not pre["b"] and not int(d.s_axi_bvalid.value):
            self._mismatch("BVALID dropped before BREADY")
        rv, rd = int(d.s_axi_rvalid.value), d.s_axi_rdata.value.to_unsigned()
        if pre["rvalid"] and not pre["r"] and not (rv and rd == pre["rdata"]):
            self._mismatch("RVALID dropped or RDATA changed before RREADY")
        if pre["bvalid"] and not self.bready:
            self.cov["B back-pressure cycles"] += 1
        if pre["rvalid"] and not self.rready:
            self.cov["R back-pressure cycles"] += 1
        if pre["aw"]:
            pw = self.aw.cur
            pw.aw_cycle = c
            self.pend_aw.append(pw)
            self.aw.cur = None
        if pre["w"]:
            data, strb = self.w.cur
            self.pend_w.append((data, strb, c))
            self.w.cur = None
        if pre["r"]:  # a read response taken: its value was computed on an earlier edge
            if not self.r_expect:
                self.extra.append((c, pre["rdata"]))
            else:
                addr, want, tag, _ = self.r_expect.popleft()
                if pre["rdata"] != want or pre["rresp"] != 0:
                    self._mismatch(
                        f"read {addr:#04x}: got {pre['rdata']:#010x} resp {pre['rresp']}, "
                        f"want {want:#010x}"
                    )
                self.read_results[tag] = pre["rdata"]
                self.outstanding_r -= 1
        if pre["b"]:
            if self.b_owed == 0:
                self.extra.append((c, -1))
            else:
                self.b_owed -= 1
                self.outstanding_w -= 1
            if pre["bresp"] != 0:
                self._mismatch(f"BRESP {pre['bresp']}")
        bus = False
        if pre["ar"]:
            addr, tag = self.ar.cur
            self.ar.cur = None
            self.ar_cycles.append(c)
            self._apply_read(addr, tag)
            bus = True
        bvalid = int(d.s_axi_bvalid.value)
        if bvalid and (not pre["bvalid"] or pre["b"]):  # a new response: a write this edge
            if not self.pend_aw or not self.pend_w:
                self._mismatch("BVALID without a complete write")
            else:
                pw = self.pend_aw.popleft()
                data, strb, wc = self.pend_w.popleft()
                pw.w_cycle = wc
                self._apply_write(pw, data, strb, c)
                self.b_owed += 1
                bus = True
        if pre["done"]:
            if bus:
                self.cov["done with a bus access"] += 1
            if pre["ar"] and self.r_expect[-1][0] == self.map["CTRL"]:
                self.cov["done with a CTRL read"] += 1
            n = len(self.board.starts)
            ref.finish(pre["status"])
            self.cov["auto restarts"] += len(self.board.starts) - n
            self.busy = False
        rvalid = int(d.s_axi_rvalid.value)
        if rvalid and (not pre["rvalid"] or pre["r"]) and self.measure and self.r_expect:
            # a new read response: from its AR handshake to the cycle it is visible
            self.latencies.add(c + 1 - self.r_expect[0][3])
        # outputs after the edge
        words = ref.words
        gie = int(words[self.map["GIE"] // 4]) >> self.gie_bit & 1
        irq = gie & int(int(words[self.map["ISR"] // 4]) != 0)
        if int(d.interrupt.value) != irq:
            self._mismatch(f"interrupt {int(d.interrupt.value)}, want {irq}")
        if irq and not self.irq_prev:
            self.cov["interrupt rises"] += 1
        if self.irq_prev and not irq:
            self.cov["interrupt falls"] += 1
        self.irq_prev = irq
        start_bit = ref.peek(self.map["CTRL"]) >> self.ctrl_bits["ap_start"] & 1
        if int(d.ap_start.value) != start_bit:
            self._mismatch(f"ap_start {int(d.ap_start.value)}, want {start_bit}")
        # the engine: takes ap_start while idle
        if not self.busy and int(d.ap_start.value):
            if self.starts_taken >= len(self.board.starts):
                self._mismatch("the engine saw ap_start without an accepted start")
            else:
                want = self.board.starts[self.starts_taken]
                got = self._engine_args()
                if got != want:
                    self._mismatch(f"arguments at start {self.starts_taken}: {got} != {want}")
            self.starts_taken += 1
            self.busy = True
            self.countdown = self.rng.choice([0, 1, 2, 5, 10, 20, 40, 60])
        if self.starts_taken != len(self.board.starts):
            self._mismatch(
                f"{len(self.board.starts)} starts accepted, the engine saw {self.starts_taken}"
            )
            self.starts_taken = len(self.board.starts)

    def _engine_args(self) -> dict[str, int]:
        ptr = self.dut.ptr.value.to_unsigned()
        sca = self.dut.scalars.value.to_unsigned()
        out = {n: (ptr >> (64 * i)) & (2**64 - 1) for i, n in enumerate(self.ptrs)}
        out |= {n: (sca >> (32 * i)) & (2**32 - 1) for i, n in enumerate(self.sins)}
        return out

    def _apply_read(self, addr: int, tag: int) -> None:
        off = addr & ~3
        if off != addr:
            self.cov["unaligned addresses"] += 1
        if off not in self.mapped:
            self.cov["reserved or unmapped accesses"] += 1
            value = 0  # reserved words read 0 (the model would return what was written)
        else:
            value = self.ref.read(off)
            if off == self.map["CTRL"] and value >> self.ctrl_bits["ap_done"] & 1:
                self.cov["ap_done cleared on read"] += 1
            if off in self.readonly and off != self.map["STATUS"] and value & 1:
                self.cov["ap_vld cleared on read"] += 1
        self.r_expect.append((off, value, tag, self.cycle - 1))

    def _apply_write(self, pw: PendingWrite, data: int, strb: int, c: int) -> None:
        ref = self.ref
        off = pw.addr & ~3
        if off != pw.addr:
            self.cov["unaligned addresses"] += 1
        assert pw.aw_cycle is not None and pw.w_cycle is not None
        order = (
            "AW with W"
            if pw.aw_cycle == pw.w_cycle
            else "AW before W"
            if pw.aw_cycle < pw.w_cycle
            else "W before AW"
        )
        self.cov[order] += 1
        if self.measure:
            self.write_done_cycles.append(c)
            self.latencies.add(c + 1 - max(pw.aw_cycle, pw.w_cycle))
        mask = sum(0xFF << (8 * i) for i in range(4) if strb >> i & 1)
        if strb != 0xF:
            self.cov["partial strobes"] += 1
        if off not in self.mapped:
            self.cov["reserved or unmapped accesses"] += 1
            return
        if off in self.readonly:
            self.cov["writes to read-only words"] += 1
        if off == self.map["ISR"]:
            if data & mask & self.irq_mask:
                self.cov["ISR toggles"] += 1
            ref.write(off, data & mask)
            return
        if off == self.map["CTRL"]:
            busy = not ref.peek(off) >> self.ctrl_bits["ap_idle"] & 1
            self.cov["CTRL writes while busy"] += busy
            merged = (ref.peek(off) & ~mask) | (data & mask)
            if busy and merged >> self.ctrl_bits["ap_start"] & 1:
                self.cov["starts refused while busy"] += 1
            n = len(self.board.starts)
            ref.write(off, merged)
            self.cov["starts"] += len(self.board.starts) - n
            return
        ref.write(off, (ref.peek(off) & ~mask) | (data & mask))

    # ------------------------------------------------------------ drive
    def _present(self, ch: Channel) -> Any:
        if ch.cur is None and ch.queue and ch.queue[0][0] <= self.cycle:
            if self.p_valid >= 1.0 or self.rng.random() < self.p_valid:
                ch.cur = ch.queue.popleft()[1]
        return ch.cur

    def _drive(self) -> None:
        d, rng = self.dut, self.rng
        aw = self._present(self.aw)
        d.s_axi_awvalid.value = int(aw is not None)
        d.s_axi_awaddr.value = aw.addr if aw is not None else rng.getrandbits(self.addr_w)
        w = self._present(self.w)
        d.s_axi_wvalid.value = int(w is not None)
        d.s_axi_wdata.value = w[0] if w is not None else rng.getrandbits(32)
        d.s_axi_wstrb.value = w[1] if w is not None else rng.getrandbits(4)
        ar = self._present(self.ar)
        d.s_axi_arvalid.value = int(ar is not None)
        d.s_axi_araddr.value = ar[0] if ar is not None else rng.getrandbits(self.addr_w)
        self.bready = int(self.p_ready >= 1.0 or rng.random() < self.p_ready)
        self.rready = int(self.p_ready >= 1.0 or rng.random() < self.p_ready)
        d.s_axi_bready.value = self.bready
        d.s_axi_rready.value = self.rready
        # the engine: ap_done after its countdown
        # (often early, on the edge of a read handshake: a poll of CTRL meets ap_done)
        self.done_now = 0
        ar_next = ar is not None and (not int(d.s_axi_rvalid.value) or self.rready)
        if self.busy:
            if self.countdown == 0 or (ar_next and rng.random() < 0.2):
                self.done_now = 1
            else:
                self.countdown -= 1
        d.ap_done.value = self.done_now
        d.status.value = self._status() if self.done_now else rng.getrandbits(32)

    def _status(self) -> int:
        r = self.rng.random()
        return self.rng.randint(0, 8) if r < 0.5 else self.rng.getrandbits(32)

    # ------------------------------------------------------------ host programs
    def issue_write(
        self, addr: int, data: int, strb: int = 0xF, skew: int = 0, count: bool = True
    ) -> None:
        """Queue a write: ``skew`` > 0 holds W back that many cycles, < 0 holds AW back."""
        pw = PendingWrite(addr)
        self.aw.queue.append((self.cycle + max(0, -skew), pw))
        self.w.queue.append((self.cycle + max(0, skew), (data & 0xFFFFFFFF, strb)))
        self.outstanding_w += 1
        self.ops += count

    def issue_read(self, addr: int) -> int:
        tag = self.ops
        self.ar.queue.append((self.cycle, (addr, tag)))
        self.outstanding_r += 1
        self.ops += 1
        return tag

    async def run(self, program: Program, max_w: int = 1, max_r: int = 1) -> None:
        """Run a host program: ("w", addr, data, strb, skew) posts a write (at most
        ``max_w`` outstanding), ("r", addr) blocks until the value is back (it is
        sent into the program), ("rn", addr) posts a read (at most ``max_r``),
        ("idle", n) waits n cycles."""
        self.budget = self.cycle + 20000
        value: Any = None
        try:
            op = program.send(None)
            while self.ops < self.limit:
                kind = op[0]
                if kind == "w":
                    await self.until(lambda: self.outstanding_w < max_w, op)
                    self.issue_write(*op[1:])
                    value = None
                elif kind == "rn":
                    await self.until(lambda: self.outstanding_r < max_r, op)
                    self.issue_read(op[1])
                    value = None
                elif kind == "r":
                    tag = self.issue_read(op[1])
                    await self.until(lambda t=tag: t in self.read_results, op)
                    value = self.read_results.pop(tag)
                else:
                    for _ in range(op[1]):
                        await self.tick()
                    value = None
                op = program.send(value)
        except StopIteration:
            pass

    async def until(self, cond: Callable[[], bool], what: Any) -> None:
        """Tick until ``cond()``; fail once the program's cycle budget is spent."""
        while not cond():
            if self.cycle > self.budget:
                raise AssertionError(f"the bus is stuck (cycle {self.cycle}) at {what}")
            await self.tick()

    async def drain(self) -> None:
        """Wait until every transaction has completed and the engine is idle (clearing
        auto_restart first: a write that is not one of the run's counted accesses)."""
        self.budget = self.cycle + 5000
        await self.until(lambda: not (self.outstanding_w or self.outstanding_r), "drain")
        if self.ref.peek(self.map["CTRL"]) >> self.ctrl_bits["auto_restart"] & 1:
            self.issue_write(self.map["CTRL"], 0, count=False)
        await self.until(
            lambda: not (self.outstanding_w or self.outstanding_r or self.busy), "drain"
        )
        for _ in range(8):  # nothing may follow
            await self.tick()


# ---------------------------------------------------------------- host programs
def _skew(rng: random.Random) -> int:
    return rng.choice([0, 0, 1, 2, 3, -1, -2, -3])


def fast_program(b: Bench) -> Program:
    """Back-to-back writes then back-to-back reads (the timing phase)."""
    rw = [v for k, v in b.map.items() if k.endswith(("_LO", "_HI")) or k in ("TASK", "IER")]
    for i in range(24):
        yield ("w", rw[i % len(rw)], b.rng.getrandbits(32), 0xF, 0)
    for i in range(24):
        yield ("rn", rw[i % len(rw)])


def run_program(b: Bench) -> Program:
    """The host driver's run (host.board): CTRL read (clears a stale ap_done), arguments,
    interrupts, start, poll CTRL until ap_done, acknowledge ISR, ap_vld and status."""
    rng, m, bit = b.rng, b.map, {k: 1 << v for k, v in b.ctrl_bits.items()}
    yield ("r", m["CTRL"])
    for name in b.ptrs:
        addr = 0x8_0000_0000 + rng.getrandbits(32) * 64
        addr = addr if rng.random() < 0.8 else rng.getrandbits(64)
        yield ("w", m[f"{name.upper()}_LO"], addr & 0xFFFFFFFF, 0xF, _skew(rng))
        yield ("w", m[f"{name.upper()}_HI"], addr >> 32, 0xF, _skew(rng))
    yield ("w", m["TASK"], rng.randint(0, 4), 0xF, _skew(rng))
    if rng.random() < 0.6:
        yield ("w", m["IER"], rng.choice([1, 2, 3, 3]), 0xF, _skew(rng))
        yield ("w", m["GIE"], rng.choice([1, 1, 0, 0xFFFF0001]), 0xF, _skew(rng))
    auto = rng.random() < 0.15
    yield ("w", m["CTRL"], bit["ap_start"] | (bit["auto_restart"] if auto else 0), 0xF, 0)
    if auto:  # let it restart a few times, then clear auto_restart
        yield ("idle", rng.randint(5, 60))
        yield ("w", m["CTRL"], 0, 0xF, 0)
    for _ in range(200):  # poll ap_done
        ctrl = yield ("r", m["CTRL"])
        if ctrl & bit["ap_done"]:
            break
        if rng.random() < 0.2:  # a start while busy: refused
            yield ("w", m["CTRL"], bit["ap_start"], 0xF, _skew(rng))
    isr = yield ("r", m["ISR"])
    if isr:
        yield ("w", m["ISR"], isr, 0xF, _skew(rng))  # acknowledge: toggle the bits set
    yield ("r", m["ISR"])
    yield ("r", m["STATUS_CTRL"])
    if rng.random() < 0.5:
        yield ("r", m["STATUS_CTRL"])  # cleared by the first read
    yield ("r", m["STATUS"])


def random_program(b: Bench, n: int) -> Program:
    """Random single accesses anywhere in the slave's address space."""
    rng = b.rng
    offsets = list(b.map.values())
    span = 1 << b.addr_w
    for _ in range(n):
        r = rng.random()
        if r < 0.15:
            addr = rng.randrange(0, span, 4)  # reserved or unmapped, often
        elif r < 0.3:
            addr = rng.choice([b.map["CTRL"], b.map["ISR"], b.map["STATUS_CTRL"]])
        else:
            addr = rng.choice(offsets)
        if rng.random() < 0.05:
            addr |= rng.randint(1, 3)  # unaligned: the low bits are ignored
        if rng.random() < 0.5:
            yield ("r", addr)
        else:
            data = rng.getrandbits(32)
            if addr & ~3 == b.map["CTRL"]:
                data = rng.choice([0, 1, 0x80, 0x81, data])
            strb = 0xF if rng.random() < 0.7 else rng.getrandbits(4)
            yield ("w", addr, data, strb, _skew(rng))
        if rng.random() < 0.1:
            yield ("idle", rng.randint(1, 10))


@cocotb.test()
async def ctrl_regs_against_engine_registers(dut: Any) -> None:
    cfg, case_ = config(), load_case()
    b = Bench(dut, case_, cfg["seed"])
    await b.reset()
    t0 = time.perf_counter()
    ii = latency = 0
    try:
        # timing phase: every valid and ready high
        b.measure = True
        await b.run(fast_program(b), max_w=4, max_r=4)
        await b.drain()
        b.measure = False
        gaps = [y - x for x, y in zip(b.write_done_cycles, b.write_done_cycles[1:])]
        gaps += [y - x for x, y in zip(b.ar_cycles, b.ar_cycles[1:])]
        ii = max(gaps) if gaps else 0
        if len(b.latencies) != 1:
            raise AssertionError(f"response latency is not constant: {sorted(b.latencies)}")
        latency = b.latencies.pop()
        # the host programs, with random valid and ready gaps
        while b.ops < b.limit:
            b.p_valid = b.rng.choice([1.0, 0.8, 0.5, 0.3])
            b.p_ready = b.rng.choice([1.0, 0.8, 0.5, 0.2])
            max_w = b.rng.randint(1, 3)
            if b.rng.random() < 0.5:
                await b.run(run_program(b), max_w=max_w)
            else:
                await b.run(random_program(b, b.rng.randint(5, 30)), max_w=max_w)
        await b.drain()
    except AssertionError as e:  # a stuck bus: recorded as a mismatch, the result written
        b.mismatches.append(f"cycle {b.cycle}: {e}")
    wall = time.perf_counter() - t0
    finish(
        cfg["name"],
        b.ops,
        b.mismatches,
        ii,
        latency,
        b.cycle,
        wall,
        b.extra,
        coverage=b.cov,
    )
