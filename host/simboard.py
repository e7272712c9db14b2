"""The simulated board: a ``pynq.Device`` whose programmable logic is a Python callable.

:class:`SimBoard` is registered as pynq's active device, so the unchanged host
backend (:mod:`host.board`: ``pynq.Overlay``, ``pynq.allocate``, MMIO register
writes, flush/invalidate) runs on it exactly as on a ZCU104:

* ``Overlay(bit)`` parses the ``.hwh`` with pynq's own parser and "downloads"
  the ``.bit`` (its header is checked; the simulated ``.bit`` holds no
  configuration frames);
* the PS's register space is an anonymous ``mmap``; pynq reaches it through
  the device's register bus (``REGISTER_RW``), which is what lets the engine's
  AXI4-Lite slave behave as Vitis HLS generates it: ``ap_done``/``ap_ready`` and
  ``<arg>_ap_vld`` clear when read, ISR bits toggle on write, and writing
  ``ap_start`` starts the PL;
* ``allocate`` returns real ``PynqBuffer``s at physical addresses above 4 GiB
  (so a driver that writes only the low address word fails); a cacheable buffer
  has a separate DDR copy that only ``flush``/``invalidate`` synchronise, so a
  driver that forgets either reads stale data, as on the board.

The PL is pluggable: ``pl(regs)`` is called on the rising edge of ``ap_start``
with :class:`EngineRegisters`, which reads arguments and resolves each 64-bit
address register to the DDR memory it points at, and ``regs.finish(status)``
raises ``ap_done``/``ap_idle`` (the callable may also finish later, from another
thread). :class:`CSimPL` runs the g++ C simulation of the export's HLS engine
(:mod:`sim.csim`); a cycle-level RTL engine can plug in the same way.
"""

from __future__ import annotations

import datetime
import json
import mmap
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pynq.pl_server.device import Device

from .errors import BitstreamError, HostError

PL = Callable[["EngineRegisters"], None]

PAGE = 4096
DDR_BASE = 0x8_0000_0000  # ZCU104 DDR_HIGH window: addresses need both words
PART = "xczu7ev-ffvc1156-2-e"
#: PS clock registers at boot (CRL_APB IOPLL/RPLL, CRF_APB APLL/DPLL): every PLL at
#: 33.333 MHz x 90 / 2 = 1500 MHz, so pynq's Clocks can program pl_clk0 as on a board.
PLL_1500 = (90 << 8) | (1 << 16)
PS_RESET = {0xFF5E0020: PLL_1500, 0xFF5E0030: PLL_1500, 0xFD1A0020: PLL_1500, 0xFD1A002C: PLL_1500}


class SimBusError(HostError):
    """The simulated PL addressed memory that no buffer backs (a DECERR on the board)."""


# --------------------------------------------------------------------- .bit files
def bit_header(design: str, part: str = PART, data: bytes = b"") -> bytes:
    """A Xilinx ``.bit`` container (the header pynq parses) around ``data``."""

    def field(key: bytes, text: str) -> bytes:
        raw = text.encode("ascii") + b"\0"
        return key + struct.pack(">H", len(raw)) + raw

    now = datetime.datetime.now()
    magic = bytes.fromhex("0ff00ff00ff00ff000")
    return (
        struct.pack(">H", len(magic))
        + magic
        + struct.pack(">H", 1)
        + field(b"a", f"{design};UserID=0XFFFFFFFF;Version=simulated")
        + field(b"b", part)
        + field(b"c", now.strftime("%Y/%m/%d"))
        + field(b"d", now.strftime("%H:%M:%S"))
        + b"e"
        + struct.pack(">I", len(data))
        + data
    )


# ---------------------------------------------------------------- memory and bus
@dataclass
class _Buffer:
    address: int
    nbytes: int
    host: np.ndarray  # what the CPU sees (uint8)
    ddr: np.ndarray  # what the PL sees (the same memory when coherent)
    maps: tuple[mmap.mmap, ...]


class EngineRegisters:
    """The engine's AXI4-Lite slave (ap_ctrl_hs) as Vitis HLS generates it.

    Offsets and argument kinds come from the interface dict; the register file is
    a window of the board's mmap'ed register space.
    """

    def __init__(self, board: SimBoard, interface: dict[str, Any], words: np.ndarray) -> None:
        self.board = board
        self.interface = interface
        self.words = words  # uint32 view of the slave's register space
        self.map = interface["register_map"]
        self.args = {a["name"]: a for a in interface["args"]}
        self.ctrl = interface["ctrl_bits"]
        self.irq = interface["irq_bits"]
        self._cor = {self.map[k] for k in self.map if k.endswith("_CTRL")}  # ap_vld words
        self._ro = {
            self.map[a["name"].upper()] for a in interface["args"] if a["kind"] == "scalar_out"
        }
        self._ro |= self._cor
        self.words[self.map["CTRL"] // 4] = 1 << self.ctrl["ap_idle"]
        self.lock = threading.Lock()

    def _bit(self, name: str) -> int:
        return 1 << self.ctrl[name]

    # bus side (the PS reading and writing)
    def read(self, offset: int) -> int:
        with self.lock:
            value = int(self.words[offset // 4])
            if offset == self.map["CTRL"]:
                self.words[offset // 4] = value & ~(self._bit("ap_done") | self._bit("ap_ready"))
            elif offset in self._cor:
                self.words[offset // 4] = 0
            return value

    def write(self, offset: int, value: int) -> None:
        start = False
        with self.lock:
            i = offset // 4
            if offset == self.map["CTRL"]:
                keep = int(self.words[i]) & ~(self._bit("ap_start") | self._bit("auto_restart"))
                busy = not int(self.words[i]) & self._bit("ap_idle")
                start = bool(value & self._bit("ap_start")) and not busy
                new = keep | (value & self._bit("auto_restart"))
                if start:
                    new = (new | self._bit("ap_start")) & ~self._bit("ap_idle")
                self.words[i] = new
            elif offset == self.map["ISR"]:
                self.words[i] = int(self.words[i]) ^ (value & 0x3)  # toggle on write
            elif offset not in self._ro:
                self.words[i] = value & 0xFFFFFFFF
        if start:
            self.board.pl(self)

    # PL side (the engine)
    def arg(self, name: str) -> int:
        """An argument's value; pointers are the full 64-bit address."""
        a = self.args[name]
        lo = int(self.words[a["offset"] // 4])
        if a["kind"] == "pointer":
            return lo | int(self.words[a["offset"] // 4 + 1]) << 32
        return lo

    def buffer(self, name: str) -> np.ndarray:
        """The DDR bytes from the address in pointer argument ``name`` to its buffer's end."""
        return self.board.resolve(self.arg(name))

    def finish(self, status: int) -> None:
        """Write the status (with ap_vld) and raise ap_done, ap_ready and ap_idle."""
        with self.lock:
            out = [a for a in self.interface["args"] if a["kind"] == "scalar_out"]
            for a in out:
                self.words[a["offset"] // 4] = status & 0xFFFFFFFF
                self.words[a["offset"] // 4 + 1] = 1
            c = self.map["CTRL"] // 4
            done = self._bit("ap_done") | self._bit("ap_ready") | self._bit("ap_idle")
            self.words[c] = (int(self.words[c]) & ~self._bit("ap_start")) | done
            ier = int(self.words[self.map["IER"] // 4])
            isr = self.map["ISR"] // 4
            self.words[isr] = int(self.words[isr]) | (ier & 0x3)


class SimBoard(Device):
    """A simulated ZCU104 running PYNQ; :meth:`activate` makes it pynq's active device.

    ``pl`` is the programmable logic (see the module doc) of the engine whose
    ``interface`` (the bitstream manifest's) defines its register file.
    ``allocations`` counts every ``allocate`` call; ``faults`` records bus errors.
    """

    def __init__(self, pl: PL, interface: dict[str, Any], ddr_bytes: int = 1 << 32) -> None:
        super().__init__("zcu104-sim")
        self.name = "zcu104 (simulated)"
        self.arch = "aarch64"
        self.capabilities = {"REGISTER_RW": True, "MEMORY_MAPPED": False, "CALLABLE": False}
        self.timestamp = ""
        self.bitfile_name = ""
        self._bitfile_name = ""
        self.pl = pl
        self.interface = interface
        self.allocations = 0
        self.faults: list[str] = []
        self._buffers: dict[int, _Buffer] = {}
        self._next = DDR_BASE
        self._end = DDR_BASE + ddr_bytes
        self._handle = 0
        self._pages: dict[int, np.ndarray] = {}
        self._engines: list[tuple[int, int, EngineRegisters]] = []
        self._previous: Any | None = None

    # ------------------------------------------------------------- activation
    def activate(self) -> SimBoard:
        """Make this board pynq's active device (``pynq.Device.active_device``)."""
        self._previous = Device.__dict__.get("_active_device")
        Device.active_device = self
        return self

    def deactivate(self) -> None:
        """Restore the previous active device (and drop pynq's cached clock driver)."""
        from pynq.ps import Clocks

        if Device.__dict__.get("_active_device") is self:
            if self._previous is None:
                del Device._active_device
            else:
                Device.active_device = self._previous
        if getattr(Clocks, "device", None) is self:
            Clocks.device = None
            if "_real_instance" in Clocks.__dict__:
                del Clocks._real_instance

    # --------------------------------------------------------------- bitstream
    def get_bitfile_metadata(self, bitfile_name: str, partial: bool = False) -> Any:
        from .hwh import parse_hwh

        hwh = Path(bitfile_name).with_suffix(".hwh")
        if not hwh.is_file():
            raise RuntimeError("Unable to find metadata for bitstream")
        parser = parse_hwh(hwh)
        parser.bin_data = parser.xclbin_data = parser.dtbo_data = None
        return parser

    def download(self, bitstream: Any, parser: Any = None) -> None:
        from pynq.pl_server.embedded_device import parse_bit_header

        header = parse_bit_header(Path(bitstream.bitfile_name).read_bytes())
        if header.get("part") != PART:
            raise BitstreamError(
                f"{bitstream.bitfile_name} targets {header.get('part')}, not {PART}"
            )
        self._engines.clear()
        vlnv = f"xilinx.com:hls:{self.interface['top']}:1.0"
        for ip in parser.ip_dict.values():
            if ip.get("type") == vlnv and "phys_addr" in ip:
                words = np.frombuffer(mmap.mmap(-1, ip["addr_range"]), dtype=np.uint32)
                regs = EngineRegisters(self, self.interface, words)
                self._engines.append((ip["phys_addr"], ip["addr_range"], regs))
        self._bitfile_name = bitstream.bitfile_name
        self.post_download(bitstream, parser, self.name)

    def engine(self) -> EngineRegisters:
        """The engine's register file (after the overlay is downloaded)."""
        if not self._engines:
            raise HostError("no engine on the simulated board: download an overlay first")
        return self._engines[0][2]

    # ----------------------------------------------------------- register bus
    def _target(self, address: int) -> tuple[EngineRegisters | None, int]:
        for base, size, regs in self._engines:
            if base <= address < base + size:
                return regs, address - base
        return None, address

    def _page(self, address: int) -> np.ndarray:
        base = address & ~(PAGE - 1)
        if base not in self._pages:  # other PS registers (clock controllers ...): memory
            page = np.zeros(PAGE // 4, dtype=np.uint32)
            for a, v in PS_RESET.items():
                if base <= a < base + PAGE:
                    page[(a - base) // 4] = v
            self._pages[base] = page
        return self._pages[base]

    def read_registers(self, address: int, length: int) -> bytes:
        out = bytearray()
        for a in range(address, address + length, 4):
            regs, off = self._target(a)
            value = regs.read(off) if regs else int(self._page(a)[(a % PAGE) // 4])
            out += struct.pack("<I", value)
        return bytes(out[:length])

    def write_registers(self, address: int, data: bytes) -> None:
        data = bytes(data) + b"\0" * (-len(data) % 4)
        for i in range(0, len(data), 4):
            a = address + i
            (value,) = struct.unpack("<I", data[i : i + 4])
            regs, off = self._target(a)
            if regs:
                regs.write(off, value)
            else:
                self._page(a)[(a % PAGE) // 4] = value

    # ------------------------------------------------------------------ memory
    def allocate(self, shape: Any, dtype: Any = "u4", cacheable: bool = False, **_: Any) -> Any:
        """A ``PynqBuffer`` in simulated PS DDR (above 4 GiB), page aligned."""
        from pynq.buffer import PynqBuffer

        dt = np.dtype(dtype)
        count = int(np.prod(shape))
        size = -(-max(count * dt.itemsize, 1) // PAGE) * PAGE
        if self._next + size > self._end:
            raise RuntimeError("simulated DDR exhausted")
        host_map = mmap.mmap(-1, size)
        host = np.frombuffer(host_map, dtype=np.uint8)
        maps: tuple[mmap.mmap, ...] = (host_map,)
        ddr = host
        if cacheable:  # a separate copy the PL sees: only flush/invalidate sync them
            ddr_map = mmap.mmap(-1, size)
            ddr = np.frombuffer(ddr_map, dtype=np.uint8)
            maps += (ddr_map,)
        self._handle += 1
        self._buffers[self._handle] = _Buffer(self._next, size, host, ddr, maps)
        buf = PynqBuffer(
            shape,
            dt,
            buffer=host_map,
            device_address=self._next,
            device=self,
            coherent=not cacheable,
            bo=self._handle,
        )
        # pynq's pooled-buffer protocol: freebuffer() hands the pointer back to us
        buf.memory, buf.pointer, buf.return_to = self, self._handle, self
        buf.freed = True  # the mmap belongs to the board: pynq must never munmap it
        self._next += size
        self.allocations += 1
        return buf

    def return_pointer(self, handle: int) -> None:
        self._buffers.pop(handle, None)

    def flush(self, bo: int, offset: int, vaddr: int, nbytes: int) -> None:
        b = self._buffers[bo]
        b.ddr[offset : offset + nbytes] = b.host[offset : offset + nbytes]

    def invalidate(self, bo: int, offset: int, vaddr: int, nbytes: int) -> None:
        b = self._buffers[bo]
        b.host[offset : offset + nbytes] = b.ddr[offset : offset + nbytes]

    def resolve(self, address: int) -> np.ndarray:
        """DDR bytes (as the PL sees them) from ``address`` to the end of its buffer."""
        for b in self._buffers.values():
            if b.address <= address < b.address + b.nbytes:
                return b.ddr[address - b.address :]
        self.faults.append(f"PL access to unmapped address {address:#x}")
        raise SimBusError(f"no buffer at address {address:#x}")

    @property
    def live_buffers(self) -> int:
        """Buffers allocated and not yet freed."""
        return len(self._buffers)


class CSimPL:
    """The PL of the simulated board: the HLS engine of an export, in g++ C simulation.

    Builds (or reuses from ``build/csim-cache``) the engine generated for
    ``export_dir``'s header, then on each start runs ``edgemoe_top`` on the DDR
    buffers the address registers point at and reports its status. A bus error
    (an address no buffer backs) is recorded and the engine hangs, as on a board.
    """

    def __init__(self, export_dir: str | Path) -> None:
        from sim.csim import CSim  # needs torch and g++: only the simulated board does

        self.sim = CSim(export_dir)
        self.ports = self.sim.ports

    def __call__(self, regs: EngineRegisters) -> None:
        try:
            params, io = regs.buffer("params"), regs.buffer("io")
            wgt = [regs.buffer(f"wgt{p}") for p in range(self.ports)]
        except SimBusError:
            return  # hangs: ap_done never rises
        status = self.sim.run_buffers(params, io, regs.arg("task"), wgt=wgt)
        regs.finish(status)


class RtlPL:
    """The PL of the simulated board: the RTL engine of hls/rtl/engine, in Verilator.

    On each start the DDR buffers the address registers point at are handed to
    the engine's system testbench (:mod:`sim.engine`), which loads them into its
    DDR model and drives the engine's AXI4-Lite slave with the host's register
    program (the same one :class:`host.board.EngineIP` writes here); the io image
    the engine wrote and its status register come back into the buffers and
    registers. ``last`` holds the testbench's result of the latest run (its
    ``cycles`` are MEASURED in RTL simulation). Needs Verilator, g++ and the
    repository's sim package: a simulation backend, never a board one.
    """

    def __init__(self, export_dir: str | Path, read_latency: int = 20, write_latency: int = 20):
        try:
            from sim.rtl import simulator_missing
        except ImportError as exc:  # a board image without the repository's sim package
            raise HostError(f"the rtl backend needs the repository's sim package ({exc})") from None
        why = simulator_missing("verilator")
        if why is not None:
            raise HostError(f"the rtl backend simulates the RTL engine on Verilator: {why}")
        self.export_dir = Path(export_dir)
        self.read_latency, self.write_latency = read_latency, write_latency
        self.ports = int(
            json.loads((self.export_dir / "manifest.json").read_text())["design"]["weight_ports"]
        )
        self.last: dict[str, Any] | None = None

    def __call__(self, regs: EngineRegisters) -> None:
        import tempfile

        from sim.engine import run_engine

        try:
            params, io = regs.buffer("params"), regs.buffer("io")
            wgt = [regs.buffer(f"wgt{p}") for p in range(self.ports)]
        except SimBusError:
            return  # hangs: ap_done never rises
        if any(w.ctypes.data != params.ctypes.data for w in wgt):
            # the testbench serves every weight port from the params image (as the host
            # points them): another layout is not simulated, and the engine hangs
            regs.board.faults.append("rtl backend: weight ports must point at params")
            return
        with tempfile.TemporaryDirectory(prefix="edgemoe-rtl-") as tmp:
            t = Path(tmp)
            params.tofile(t / "params.bin")
            io.tofile(t / "io.bin")
            r = run_engine(
                self.export_dir,
                regs.arg("task"),
                params_bin=t / "params.bin",
                io_bin=t / "io.bin",
                io_out=t / "io_out.bin",
                read_latency=self.read_latency,
                write_latency=self.write_latency,
                result=t / "result.json",
            )
            self.last = r
            if not r.get("ap_done"):
                return  # as the engine would: no ap_done
            after = np.fromfile(t / "io_out.bin", dtype=np.uint8)
            io[: after.size] = after[: io.size]
        regs.finish(int(r["status"]))


def write_bitstream(
    out_dir: str | Path,
    *,
    interface: dict[str, Any],
    design: dict[str, Any],
    act_w: int,
    name: str = "edgemoe_sim",
    engine: str = "hls",
) -> Path:
    """Write a simulated board's bitstream folder; return the ``.bit`` path.

    ``<name>.bit`` (a ``.bit`` header with no configuration frames: the logic is
    the simulation), ``<name>.hwh`` (:func:`host.hwh.write_hwh`) and the
    ``manifest.json`` the bitstream flow writes for real builds.
    """
    import hashlib
    import json
    import subprocess

    from .hwh import write_hwh

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clock = float(design.get("clock_mhz", 300.0))
    bit = out / f"{name}.bit"
    bit.write_bytes(bit_header(name))
    hwh = write_hwh(interface, out / f"{name}.hwh", clock_mhz=clock, bd_name=name)
    try:
        commit: str | None = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    manifest = {
        "kind": "edgemoe-bitstream",
        "engine": engine,
        "design": design,
        "act_w": act_w,
        "interface": interface,
        "clock_mhz": clock,
        "git_commit": commit,
        "tools": {"simulator": "host.simboard (sim.csim: g++ C simulation of hls/src)"},
        "utilisation": {},
        "wns_ns": None,
        "files": {
            k: {"sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
            for k, p in (("bit", bit), ("hwh", hwh))
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return bit
