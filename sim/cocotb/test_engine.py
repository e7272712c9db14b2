"""The system testbench of the RTL engine (edgemoe_rtl_top), driven as the host drives the IP.

Memory: one sparse memory shared by every AXI4 master of the engine
(cocotbext-axi ``AxiRam`` on gmem_io, ``AxiRamRead`` on each gmem_w<p>, all
given the same ``mem`` object), so a weight port reads the very bytes the
params pointer addresses. The params image of the export (or a modified one:
the refused-descriptor cases) is placed at :data:`PARAMS_BASE`, the io scratch
at :data:`IO_BASE`, filled with :data:`IO_FILL` and the raw input image
written into its ``io_in`` region as ``host.accelerator`` does
(``Export.io_rows``). Every weight pointer is the params address, as the host
writes it.

DDR model: every AR waits ``read_latency`` cycles from its handshake to its
first R beat, every write burst's B ``write_latency`` cycles after its last
W beat, both pipelined (bursts overlap); ``bandwidth`` (beats per cycle, 0:
none) is one shared limit over every R and W channel together: a credit
that grows by ``bandwidth`` each cycle and pays one per beat, and while it
is below one beat every R and W channel pauses (cocotbext-axi pause
generators).

The host program is ``host.board.EngineIP.execute``'s, with the register
offsets of the export's ``interface`` (manifest): CTRL read (ap_idle must be
set), every argument but the status (pointers as _LO/_HI words, the task),
CTRL = ap_start, CTRL polled until ap_done (a cycle limit), the status's
ap_vld word, the status. Then the io image is read back.

Expected values: the C++'s status of the same buffers (``sim.csim.CSim``
``run_buffers``, the top function on this params image and this io image);
the expected output words are the export's golden output
(``golden/expected_task<t>.bin``, the golden pymodel forward) when the image
is the export's golden image and the params image is the export's, else the C
simulation's output of the same buffers (bit-exact with the golden model,
tests/test_csim.py), or ``expected_npy`` when given.

Result (JSON at cfg["result"]): status (and its name and ap_vld), the C++'s
status, cycles from ap_start to ap_done (the ctrl_regs handshake inside the
shell), the output words, ``differing`` (words different from the expected),
``io_changed_bytes`` (every byte of io compared with the image before the
run), AXI handshake counts per port (``aw_io`` is 0 for a
refused descriptor), and the sequencer's cycle counters per layer kind
(``dut.dp.seq.cycles``, names from engine_pkg's K_* constants).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, FallingEdge, RisingEdge

REPO = Path(__file__).resolve().parents[2]
CLOCK_NS = 10
PARAMS_BASE = 0x1000_0000
IO_BASE = 0x4000_0000
IO_FILL = 0xA5  # io bytes before the run (a refused run must leave every one)
CREDIT_CAP = 4.0  # beats of DDR bandwidth that may accumulate while idle


def layer_kinds() -> list[str]:
    """The sequencer's layer kinds in counter order (engine_pkg.sv K_* constants)."""
    text = (REPO / "hls" / "rtl" / "engine" / "engine_pkg.sv").read_text()
    kinds = {int(i): n.lower() for n, i in re.findall(r"\bK_(\w+)\s*=\s*4'd(\d+)", text)}
    return [kinds[i] for i in range(len(kinds))]


# ------------------------------------------------------------------ DDR model
class Clocked:
    """Cycle counter and per-cycle AXI monitor (sampled at the falling edge, when
    every handshake the next rising edge acts on has settled)."""

    def __init__(self, dut: Any, ports: list[str], bandwidth: float) -> None:
        self.dut = dut
        self.cycle = 0
        self.bandwidth = bandwidth
        self.credit = CREDIT_CAP
        self.paused = False
        self.counts = {f"{k}_{p}": 0 for p in ports for k in ("ar", "r")}
        self.counts.update(aw_io=0, w_io=0, b_io=0)
        self.ports = ports
        self.start_cycle: int | None = None
        self.done_cycle: int | None = None

    def _pair(self, prefix: str, ch: str) -> tuple[Any, Any]:
        d = self.dut
        return getattr(d, f"{prefix}_{ch}VALID"), getattr(d, f"{prefix}_{ch}READY")

    async def run(self) -> None:
        d = self.dut
        # (counter, VALID, READY, counts toward the bandwidth), handles looked up once:
        # this loop runs every cycle and dominates the testbench's own time
        watch = []
        for p in self.ports:
            pre = f"m_axi_{p}"
            watch.append((f"ar_{p}", *self._pair(pre, "AR"), False))
            watch.append((f"r_{p}", *self._pair(pre, "R"), True))
        watch.append(("aw_io", *self._pair("m_axi_gmem_io", "AW"), False))
        watch.append(("w_io", *self._pair("m_axi_gmem_io", "W"), True))
        watch.append(("b_io", *self._pair("m_axi_gmem_io", "B"), False))
        counts, clock, start, done = self.counts, d.ap_clk, d.ap_start, d.ap_done
        edge = FallingEdge(clock)
        while True:
            await edge
            self.cycle += 1
            beats = 0
            for name, valid, ready, data in watch:
                if valid.value and ready.value:
                    counts[name] += 1
                    beats += data
            if self.bandwidth > 0:
                self.credit = min(CREDIT_CAP, self.credit + self.bandwidth - beats)
                self.paused = self.credit < 1.0
            if self.start_cycle is None and start.value:
                self.start_cycle = self.cycle
            if self.done_cycle is None and self.start_cycle is not None and done.value:
                self.done_cycle = self.cycle

    def pauses(self) -> Iterator[bool]:
        """A pause generator for one channel: the shared bandwidth limit."""
        while True:
            yield self.paused


class Delayed:
    """A channel of a cocotbext-axi slave with a pipelined delay: ``recv`` (an AR
    sink) hands a transaction over ``cycles`` after it arrived, ``send`` (a B
    source) puts it on the bus ``cycles`` after it was produced; in order.
    Everything else is the wrapped channel's."""

    def __init__(self, chan: Any, clock: Any, clk: Clocked, cycles: int, sink: bool) -> None:
        self._chan, self._clock, self._clk, self._cycles = chan, clock, clk, cycles
        self._q: deque[tuple[int, Any]] = deque()
        self._ev = Event()
        cocotb.start_soon(self._stamp() if sink else self._sender())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chan, name)

    async def _stamp(self) -> None:
        while True:
            t = await self._chan.recv()
            self._q.append((self._clk.cycle + self._cycles, t))
            self._ev.set()

    async def recv(self) -> Any:
        while not self._q:
            self._ev.clear()
            await self._ev.wait()
        due, t = self._q.popleft()
        while self._clk.cycle < due:
            await RisingEdge(self._clock)
        return t

    async def send(self, t: Any) -> None:
        self._q.append((self._clk.cycle + self._cycles, t))
        self._ev.set()

    async def _sender(self) -> None:
        while True:
            while not self._q:
                self._ev.clear()
                await self._ev.wait()
            due, t = self._q[0]
            while self._clk.cycle < due:
                await RisingEdge(self._clock)
            self._q.popleft()
            await self._chan.send(t)

    def clear(self) -> None:
        self._q.clear()
        self._chan.clear()


def _drop_lock(bus: Any, ch: str) -> None:
    """Vitis's m_axi has two AxLOCK bits (AXI3); cocotbext-axi checks for one: the
    slave never reads it, so it is left off the bus object."""
    name = f"{ch}lock"
    if hasattr(bus, name):
        delattr(bus, name)
        bus._signals.pop(name, None)


def attach_memory(dut: Any, clk: Clocked, cfg: dict[str, Any], ports: list[str]) -> Any:
    """The shared memory and one cocotbext-axi slave per master; returns the memory."""
    from cocotbext.axi import AxiBus, AxiRam, AxiRamRead, AxiReadBus
    from cocotbext.axi.sparse_memory import SparseMemory

    mem = SparseMemory(2**40)  # len() of the memory must fit a Py_ssize_t
    rams = []
    for p in ports:
        if p == "gmem_io":
            bus = AxiBus.from_prefix(dut, f"m_axi_{p}")
            _drop_lock(bus.write.aw, "aw")
            _drop_lock(bus.read.ar, "ar")
            ram = AxiRam(bus, dut.ap_clk, dut.ap_rst_n, reset_active_level=False, mem=mem)
            rd, wr = ram.read_if, ram.write_if
            wr.b_channel = Delayed(wr.b_channel, dut.ap_clk, clk, cfg["write_latency"], False)
            if clk.bandwidth > 0:
                wr.w_channel.set_pause_generator(clk.pauses())
        else:
            bus = AxiReadBus.from_prefix(dut, f"m_axi_{p}")
            _drop_lock(bus.ar, "ar")
            rd = AxiRamRead(bus, dut.ap_clk, dut.ap_rst_n, reset_active_level=False, mem=mem)
            ram = rd
        rd.ar_channel = Delayed(rd.ar_channel, dut.ap_clk, clk, cfg["read_latency"], True)
        if clk.bandwidth > 0:
            rd.r_channel.set_pause_generator(clk.pauses())
        rams.append(ram)
    return mem


# ------------------------------------------------------------------ the case
def _inputs(cfg: dict[str, Any]) -> dict[str, Any]:
    """Params image, raw image, io image before the run, expected output and the
    C++'s status for these exact buffers."""
    from host.export import Export
    from sim.csim import CSim

    ex = Export.open(cfg["export"])
    task = int(cfg["task"])
    params = ex.params.copy()
    modified = cfg.get("params_bin") is not None
    if modified:
        params = np.fromfile(cfg["params_bin"], dtype=np.uint8)
    golden = ex.golden(task)
    c, h, w = ex.image_shape
    if cfg.get("io_bin"):  # a whole io image as a host left it (the rtl host backend)
        io = np.fromfile(cfg["io_bin"], dtype=np.uint8)
        if io.size < ex.io_bytes:
            raise ValueError(f"{cfg['io_bin']}: {io.size} bytes, the io image is {ex.io_bytes}")
        raw = ex.io_rows(io, "io_in", c * h, w).astype(np.int64).reshape(c, h, w)
        source = "io_bin"
    elif cfg.get("image_npy"):
        raw, source = np.load(cfg["image_npy"]).astype(np.int64), "image_npy"
    elif cfg.get("image_seed") is not None:
        rng = np.random.default_rng(int(cfg["image_seed"]))
        f = ex.input_format
        raw = rng.integers(f.raw_min, f.raw_max + 1, size=ex.image_shape, dtype=np.int64)
        source = f"seed {cfg['image_seed']}"
    elif golden is not None:
        raw, source = golden[0], "golden"
    else:
        raise ValueError(f"{cfg['export']} has no golden/ image: give image_npy or image_seed")
    raw = ex.check_raw_image(raw)
    if source != "io_bin":
        io = np.full(max(ex.io_bytes, 16), IO_FILL, dtype=np.uint8)
        ex.io_rows(io, "io_in", c * h, w)[:] = raw.reshape(c * h, w)
    io_before = io.copy()
    cpp_io = io.copy()
    cpp_status = CSim(ex.path).run_buffers(np.ascontiguousarray(params), cpp_io, task)
    tokens, dim = ex.token_shape
    if cfg.get("expected_npy"):
        expected, exp_src = np.load(cfg["expected_npy"]).astype(np.int64), "expected_npy"
    elif source == "golden" and not modified and golden is not None:
        expected, exp_src = golden[1], f"golden/expected_task{task}.bin (pymodel golden forward)"
    else:
        expected = ex.io_rows(cpp_io, "io_x", tokens, dim).astype(np.int64)
        exp_src = "sim.csim C simulation of the same buffers"
    return {
        "ex": ex,
        "task": task,
        "params": params,
        "io": io_before,
        "image_source": source,
        "cpp_status": int(cpp_status),
        "expected": expected,
        "expected_source": exp_src,
    }


def _layer_cycles(dut: Any) -> dict[str, int] | None:
    """The sequencer's per-kind cycle counters, if the build exposes them."""
    for path in (("dp", "seq", "cycles"), ("dp", "cycles")):
        h = dut
        try:
            for name in path:
                h = getattr(h, name)
            v = int(h.value)
        except (AttributeError, ValueError, TypeError):
            continue
        kinds = layer_kinds()
        return {k: (v >> (64 * i)) & ((1 << 64) - 1) for i, k in enumerate(kinds)}
    return None


@cocotb.test()
async def engine_run(dut: Any) -> None:
    """One run of the engine as the host runs it; the result JSON for sim.engine."""
    from cocotbext.axi import AxiLiteBus, AxiLiteMaster

    cfg = json.loads(os.environ["RTL_CONFIG"])
    t0 = time.perf_counter()
    inp = _inputs(cfg)
    ex, task = inp["ex"], inp["task"]
    iface = ex.interface
    regs, bits = iface["register_map"], iface["ctrl_bits"]
    ports = [str(b["bundle"]) for b in iface["m_axi"]]
    codes = {int(v): k for k, v in ex.manifest["status_codes"].items()}

    # cocotbext-axi logs every AXI4-Lite transfer at INFO (the ap_done polls: megabytes
    # per run, and the formatting costs simulation time); warnings and errors remain
    logging.getLogger(f"cocotb.{dut._name}").setLevel(logging.WARNING)
    clk = Clocked(dut, ports, float(cfg["bandwidth"]))
    cocotb.start_soon(Clock(dut.ap_clk, CLOCK_NS, unit="ns").start())
    dut.ap_rst_n.value = 0
    mem = attach_memory(dut, clk, cfg, ports)
    lite = AxiLiteMaster(
        AxiLiteBus.from_prefix(dut, "s_axi_control"),
        dut.ap_clk,
        dut.ap_rst_n,
        reset_active_level=False,
    )
    cocotb.start_soon(clk.run())
    mem.write(PARAMS_BASE, inp["params"].tobytes())
    mem.write(IO_BASE, inp["io"].tobytes())
    await ClockCycles(dut.ap_clk, 8)
    dut.ap_rst_n.value = 1
    await ClockCycles(dut.ap_clk, 4)

    # ---- host.board.EngineIP.execute
    def bit(name: str) -> int:
        return 1 << int(bits[name])

    problems: list[str] = []
    ctrl = await lite.read_dword(regs["CTRL"])
    if not ctrl & bit("ap_idle"):
        problems.append(f"not idle before start: CTRL {ctrl:#x}")
    values = {"params": PARAMS_BASE, "io": IO_BASE, "task": task}
    for a in iface["args"]:
        if a["name"].startswith("wgt"):
            values[a["name"]] = PARAMS_BASE
    for a in iface["args"]:
        if a["kind"] == "scalar_out":
            continue
        v, up = int(values[a["name"]]), a["name"].upper()
        if a["kind"] == "pointer":
            await lite.write_dword(regs[f"{up}_LO"], v & 0xFFFFFFFF)
            await lite.write_dword(regs[f"{up}_HI"], v >> 32)
        else:
            await lite.write_dword(regs[up], v)
    await lite.write_dword(regs["CTRL"], bit("ap_start"))
    poll_start = clk.cycle
    done = False
    while clk.cycle - poll_start < int(cfg["max_cycles"]):
        ctrl = await lite.read_dword(regs["CTRL"])
        if ctrl & bit("ap_done"):
            done = True
            break
    status = vld = None
    if done:
        out_arg = [a for a in iface["args"] if a["kind"] == "scalar_out"][0]["name"].upper()
        vld = (await lite.read_dword(regs[f"{out_arg}_CTRL"])) & 1
        status = await lite.read_dword(regs[out_arg])
    else:
        problems.append(f"no ap_done within {cfg['max_cycles']} cycles")
    await ClockCycles(dut.ap_clk, 4)

    # ---- io back
    io_after = np.frombuffer(bytes(mem.read(IO_BASE, inp["io"].size)), dtype=np.uint8).copy()
    if cfg.get("io_out"):
        io_after.tofile(cfg["io_out"])
    tokens, dim = ex.token_shape
    out = ex.io_rows(io_after, "io_x", tokens, dim).astype(np.int64)
    exp = inp["expected"]
    diff = np.argwhere(out != exp)
    cycles = (
        clk.done_cycle - clk.start_cycle
        if clk.done_cycle is not None and clk.start_cycle is not None
        else None
    )
    result = {
        "export": cfg["export"],
        "task": task,
        "status": status,
        "status_name": codes.get(status, "UNKNOWN") if status is not None else None,
        "status_valid": vld,
        "cpp_status": inp["cpp_status"],
        "cpp_status_name": codes.get(inp["cpp_status"], "UNKNOWN"),
        "ap_done": done,
        "cycles": cycles,
        "cycles_note": "MEASURED in RTL simulation: ap_start (ctrl_regs) -> ap_done",
        "read_latency": cfg["read_latency"],
        "write_latency": cfg["write_latency"],
        "bandwidth": cfg["bandwidth"],
        "image_source": inp["image_source"],
        "expected_source": inp["expected_source"],
        "differing": int(len(diff)),
        "first_differing": [
            [int(r), int(c), int(out[r, c]), int(exp[r, c])] for r, c in diff[:8].tolist()
        ],
        "output": out.tolist(),
        "io_changed_bytes": int(np.count_nonzero(io_after != inp["io"])),
        "axi": clk.counts,
        "layer_cycles": _layer_cycles(dut),
        "problems": problems,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    Path(cfg["result"]).write_text(json.dumps(result, indent=1))
    assert not problems, problems
