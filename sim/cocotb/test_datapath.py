"""edgemoe_datapath on its own: the whole schedule of one image behind the dp_* interface.

The shell (edgemoe_rtl_top) puts AXI masters, the control registers and the
descriptor check around the datapath; this testbench stands in for all three,
so the datapath's own behaviour is seen without them: the global descriptor
words on ``dp_gd``, the block descriptor reads served one cycle after
``dp_bd_rd_en`` from the params image, and a DDR model on the gmem_io read and
write ports and the weight ports (requests of 16-byte aligned byte addresses and
lengths in beats, beats in request order, a random latency per request and
random gaps when ``RTL_CONFIG`` asks for them).

The run's configuration (``RTL_CONFIG``, JSON): ``params`` and ``io`` (paths of
the params image and of the io image with the input written), ``task``,
``result`` (JSON written at the end), ``io_out`` (the io image after the run,
raw bytes), ``timeout`` (cycles), ``latency`` ([lo, hi] cycles per request),
``gaps`` (probability of a cycle without a beat), ``ref`` (an .npz of the C
simulation's layer traces: the checkpoints), ``dump`` (an .npz the buffers seen
at each checkpoint go to) and ``watch`` ({"cond": [signal, value], "signals":
[...], "max": n}: log those signals in the first n cycles the condition holds;
paths below the datapath, e.g. ``ln.st``).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from sim.cocotb.harness import CLOCK_NS, config

PARAMS_BASE = 0x1000_0000
IO_BASE = 0x4000_0000
BEAT = 16
M128 = (1 << 128) - 1


class Ddr:
    """Byte memory of two regions (params, io) addressed as the engine sees them."""

    def __init__(self, params: bytes, io: bytes) -> None:
        self.regions = {
            PARAMS_BASE: bytearray(params),
            IO_BASE: bytearray(io),
        }
        self.reads_outside = 0

    def _find(self, addr: int) -> tuple[bytearray, int]:
        for base, mem in self.regions.items():
            if base <= addr and addr + BEAT <= base + len(mem):
                return mem, addr - base
        raise IndexError(f"DDR access at 0x{addr:x} outside params and io")

    def read(self, addr: int) -> int:
        try:
            mem, off = self._find(addr)
        except IndexError:
            self.reads_outside += 1
            return 0
        return int.from_bytes(mem[off : off + BEAT], "little")

    def write(self, addr: int, value: int) -> None:
        mem, off = self._find(addr)
        mem[off : off + BEAT] = int(value).to_bytes(BEAT, "little")


class ReadPort:
    """One request/beat read port: requests queue, each answers after a latency."""

    def __init__(self, name: str, ddr: Ddr, rng: random.Random, lat: tuple[int, int], gaps: float):
        self.name, self.ddr, self.rng, self.lat, self.gaps = name, ddr, rng, lat, gaps
        self.queue: list[tuple[int, int, int]] = []  # (ready cycle, addr, beats)
        self.cur: tuple[int, int, int] | None = None  # (addr, beat index, beats)
        self.beats = 0

    def accept(self, cycle: int, addr: int, beats: int) -> None:
        if addr % BEAT:
            raise AssertionError(f"{self.name}: unaligned read at 0x{addr:x}")
        if beats:
            self.queue.append((cycle + self.rng.randint(*self.lat), addr, beats))

    def offer(self, cycle: int) -> tuple[int, int] | None:
        """(data, last) on this cycle, or None."""
        if self.cur is None and self.queue and self.queue[0][0] <= cycle:
            _, addr, beats = self.queue.pop(0)
            self.cur = (addr, 0, beats)
        if self.cur is None or (self.gaps and self.rng.random() < self.gaps):
            return None
        addr, i, beats = self.cur
        return self.ddr.read(addr + i * BEAT), int(i == beats - 1)

    def taken(self) -> None:
        assert self.cur is not None
        addr, i, beats = self.cur
        self.beats += 1
        self.cur = None if i + 1 == beats else (addr, i + 1, beats)


#: engine_seq's state encoding (the order of its state_t)
SEQ_STATES = (
    "IDLE DECODE EMBED PE_PATCH PE_LIN PE_CLS PE_STORE BLOCK BD_READ KV_LN KV_GO MAIN "
    "M_STORE_LN M_Q ATT_QB ATT_STEP ATT_VALUES ATT_NEXT PROJ LN2 MLP TAIL GATE ROUTE "
    "ACC_INIT EXPERTS COMBINE NEXT_MAIN OUTPUT FENCE WRITE_JOBS WAIT"
).split()


class Checkpoints:
    """Buffer contents against the reference's layer tensors when the sequencer enters a
    state (a resident model: one token block, x rows 0 .. tokens - 1)."""

    def __init__(self, dut: Any, ref: dict[str, np.ndarray], act_w: int) -> None:
        self.dut, self.ref, self.act_w = dut, ref, act_w
        self.t, self.d = ref["output"].shape
        self.heads = ref["blocks.0.attn.score"].shape[1]
        self.moe = {int(k.split(".")[1]) for k in ref if k.endswith("mlp.combine")}
        self.results: list[dict[str, Any]] = []
        self.seen: set[tuple[str, int]] = set()
        self.dumps: dict[str, np.ndarray] = {}

    def _buf(self, name: str, rows: int, cols: int, width: int) -> np.ndarray:
        buf = getattr(self.dut, name)
        ncols = int(buf.COLS.value) if hasattr(buf, "COLS") else None
        mem = buf.mem
        if ncols is None:
            ncols = len(mem) // int(buf.ROWS.value)
        out = np.zeros((rows, cols), dtype=np.int64)
        for r in range(rows):
            for c in range(cols):
                v = int(mem[r * ncols + c].value)
                out[r, c] = v - (1 << width) if v >> (width - 1) else v
        return out

    def _check(self, label: str, buf: str, key: str, ref: np.ndarray) -> None:
        got = self._buf(buf, *ref.shape, self.act_w)
        self.dumps[label.replace(" ", "_")] = got
        bad = int((got != ref).sum())
        row = {"at": label, "buffer": buf, "ref": key, "differing": bad, "of": int(ref.size)}
        if bad:
            idx = np.argwhere(got != ref)[:4].tolist()
            row["first"] = [[i, j, int(got[i, j]), int(ref[i, j])] for i, j in idx]
        self.results.append(row)
        cocotb.log.info("checkpoint %s", row)

    def _block_out(self, i: int) -> tuple[str, np.ndarray]:
        if i < 0:
            return "embed", self.ref["embed"][0]
        key = f"blocks.{i}.mlp." + ("combine" if i in self.moe else "fc2")
        return key, self.ref[key]

    def enter(self, state: str, blk: int) -> None:
        if (state, blk) in self.seen:
            return
        self.seen.add((state, blk))
        b = f"blocks.{blk}."
        if state == "BLOCK":
            key, ref = self._block_out(blk - 1)
            self._check(f"block {blk} start", "b_x", key, ref)
        elif state == "KV_GO":
            self._check(f"block {blk} norm1", "b_h", b + "norm1", self.ref[b + "norm1"])
        elif state == "MAIN":
            self._check(f"block {blk} k", "b_k", b + "attn.k", self.ref[b + "attn.k"])
            self._check(f"block {blk} v", "b_v", b + "attn.v", self.ref[b + "attn.v"])
        elif state == "ATT_QB":
            self._check(f"block {blk} q", "b_q", b + "attn.q", self.ref[b + "attn.q"])
        elif state == "PROJ":
            a = self.ref[b + "attn.out"][0].transpose(1, 0, 2).reshape(self.t, self.d)
            self._check(f"block {blk} attn", "b_a", b + "attn.out", a)
        elif state == "LN2":
            self._check(f"block {blk} proj", "b_x", b + "attn.proj", self.ref[b + "attn.proj"])
        elif state in ("MLP", "TAIL"):
            self._check(f"block {blk} norm2", "b_h", b + "norm2", self.ref[b + "norm2"])
        elif state == "NEXT_MAIN":
            key, ref = self._block_out(blk)
            self._check(f"block {blk} out", "b_x", key, ref)


def _path(dut: Any, path: str) -> Any:
    obj = dut
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _bits(sig: Any) -> int:
    return int(sig.value)


def _field(word: int, i: int, w: int) -> int:
    return (word >> (i * w)) & ((1 << w) - 1)


@cocotb.test()
async def datapath(dut: Any) -> None:
    """One image through the datapath; the io image and cycle counts into the result."""
    cfg = config()
    rng = random.Random(cfg.get("seed", 1))
    params = Path(cfg["params"]).read_bytes()
    ddr = Ddr(params, Path(cfg["io"]).read_bytes())
    lat = tuple(cfg.get("latency", [1, 1]))
    gaps = float(cfg.get("gaps", 0.0))
    ports = len(dut.dp_w_rd_req_valid)
    io_rd = ReadPort("io_rd", ddr, rng, lat, gaps)
    w_rd = [ReadPort(f"w{p}", ddr, rng, lat, gaps) for p in range(ports)]
    gd_words = [int.from_bytes(params[4 * i : 4 * i + 4], "little") for i in range(cfg["gd_count"])]
    off_blocks = cfg["off_blocks"]
    block_beats = cfg["block_beats"]

    cocotb.start_soon(Clock(dut.ap_clk, CLOCK_NS, unit="ns").start())
    dut.ap_rst_n.value = 0
    dut.dp_start.value = 0
    dut.dp_task.value = int(cfg["task"])
    dut.dp_params_addr.value = PARAMS_BASE
    dut.dp_io_addr.value = IO_BASE
    dut.dp_wgt_addr.value = sum(PARAMS_BASE << (64 * p) for p in range(ports))
    dut.dp_gd.value = sum(w << (32 * i) for i, w in enumerate(gd_words))
    dut.dp_bd_rd_data.value = 0
    dut.dp_io_rd_req_ready.value = 1
    dut.dp_io_rd_valid.value = 0
    dut.dp_io_rd_data.value = 0
    dut.dp_io_rd_last.value = 0
    dut.dp_io_wr_req_ready.value = 1
    dut.dp_io_wr_ready.value = 1
    dut.dp_io_wr_busy.value = 0
    dut.dp_w_rd_req_ready.value = (1 << ports) - 1
    dut.dp_w_rd_valid.value = 0
    dut.dp_w_rd_data.value = 0
    dut.dp_w_rd_last.value = 0
    for _ in range(5):
        await RisingEdge(dut.ap_clk)
    dut.ap_rst_n.value = 1
    await RisingEdge(dut.ap_clk)
    await FallingEdge(dut.ap_clk)
    dut.dp_start.value = 1

    wr_queue: list[tuple[int, int]] = []  # (addr, beats) of accepted write requests
    wr_beats = 0
    wr_pending = 0  # write beats not yet "acknowledged"
    bd_next: int | None = None
    cycle = 0
    t0 = time.perf_counter()
    timeout = int(cfg.get("timeout", 2_000_000))
    io_offer: tuple[int, int] | None = None
    w_offer: list[tuple[int, int] | None] = [None] * ports
    done = False
    checks = None
    if cfg.get("ref"):
        with np.load(cfg["ref"]) as z:
            checks = Checkpoints(dut, {k: z[k] for k in z.files}, int(cfg["act_w"]))
    last_st = -1
    watch = cfg.get("watch")
    if watch:
        watch["left"] = watch.get("max", 30)
    while cycle < timeout:
        # ---- drive (after the falling edge): this cycle's offers
        dut.dp_bd_rd_data.value = bd_next if bd_next is not None else 0
        io_offer = io_rd.offer(cycle)
        dut.dp_io_rd_valid.value = int(io_offer is not None)
        if io_offer is not None:
            dut.dp_io_rd_data.value = io_offer[0]
            dut.dp_io_rd_last.value = io_offer[1]
        wv = wd = wl = 0
        for p, port in enumerate(w_rd):
            w_offer[p] = port.offer(cycle)
            if w_offer[p] is not None:
                wv |= 1 << p
                wd |= w_offer[p][0] << (128 * p)
                wl |= w_offer[p][1] << p
        dut.dp_w_rd_valid.value = wv
        dut.dp_w_rd_data.value = wd
        dut.dp_w_rd_last.value = wl
        dut.dp_io_wr_ready.value = int(not gaps or rng.random() >= gaps)
        dut.dp_io_wr_busy.value = int(bool(wr_queue) or wr_pending > 0)
        # ---- sample the settled handshakes
        await ReadOnly()
        if cycle > 0 and _bits(dut.dp_start):
            pass
        if _bits(dut.dp_done):
            done = True
            break
        if watch and watch["left"] > 0 and _bits(_path(dut, watch["cond"][0])) == watch["cond"][1]:
            watch["left"] -= 1
            cocotb.log.info(
                "watch %d: %s",
                cycle,
                " ".join(f"{n}={_bits(_path(dut, n)):x}" for n in watch["signals"]),
            )
        if checks is not None:
            st = _bits(dut.seq.st)
            if st != last_st:
                last_st = st
                checks.enter(SEQ_STATES[st], _bits(dut.seq.blk))
        if _bits(dut.dp_bd_rd_en):
            blk, fld = _bits(dut.dp_bd_rd_block), _bits(dut.dp_bd_rd_field)
            off = (off_blocks + blk * block_beats) * BEAT + 4 * fld
            bd_next = int.from_bytes(params[off : off + 4], "little")
        else:
            bd_next = None
        if _bits(dut.dp_io_rd_req_valid):
            io_rd.accept(cycle, _bits(dut.dp_io_rd_req_addr), _bits(dut.dp_io_rd_req_len))
        if io_offer is not None and _bits(dut.dp_io_rd_ready):
            io_rd.taken()
        req_v, req_a, req_l = (
            _bits(dut.dp_w_rd_req_valid),
            _bits(dut.dp_w_rd_req_addr),
            _bits(dut.dp_w_rd_req_len),
        )
        w_ready = _bits(dut.dp_w_rd_ready)
        for p, port in enumerate(w_rd):
            if (req_v >> p) & 1:
                port.accept(cycle, _field(req_a, p, 64), _field(req_l, p, 32))
            if w_offer[p] is not None and (w_ready >> p) & 1:
                port.taken()
        if _bits(dut.dp_io_wr_req_valid):
            beats = _bits(dut.dp_io_wr_req_len)
            if beats:
                wr_queue.append((_bits(dut.dp_io_wr_req_addr), beats))
        if _bits(dut.dp_io_wr_valid) and _bits(dut.dp_io_wr_ready):
            if not wr_queue:
                raise AssertionError(f"cycle {cycle}: a write beat without a write request")
            addr, beats = wr_queue[0]
            ddr.write(addr, _bits(dut.dp_io_wr_data))
            wr_beats += 1
            wr_pending = 8
            wr_queue[0] = (addr + BEAT, beats - 1)
            if beats == 1:
                wr_queue.pop(0)
        elif wr_pending:
            wr_pending -= 1
        await FallingEdge(dut.ap_clk)
        if cycle == 0:
            dut.dp_start.value = 0
        cycle += 1
    wall = time.perf_counter() - t0
    cycles = None
    try:
        word = int(dut.seq.cycles.value)
        cycles = [_field(word, k, 64) for k in range(len(dut.seq.cycles) // 64)]
    except (AttributeError, ValueError):
        pass
    if checks is not None and cfg.get("dump"):
        np.savez(cfg["dump"], **checks.dumps)
    Path(cfg["io_out"]).write_bytes(bytes(ddr.regions[IO_BASE]))
    result = {
        "done": done,
        "cycles": cycle,
        "cycles_per_kind": cycles,
        "wall_s": round(wall, 2),
        "io_read_beats": io_rd.beats,
        "w_read_beats": [p.beats for p in w_rd],
        "write_beats": wr_beats,
        "reads_outside": ddr.reads_outside,
        "checkpoints": checks.results if checks is not None else [],
    }
    Path(cfg["result"]).write_text(json.dumps(result, indent=1))
    assert done, f"no dp_done within {timeout} cycles"
