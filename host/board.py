"""The PYNQ backend: the engine's driver and the overlay around it.

The same code drives a ZCU104 and the simulated board (:mod:`host.simboard`):
it only talks to pynq (``Overlay``, the IP driver's MMIO, ``allocate``,
``flush``/``invalidate``). Register offsets come from pynq's parse of the
``.hwh``; the export's generated register map is used only to check them, and a
mismatch is refused before the first register write. Known field problems are
designed out: both words of every 64-bit address are written, inputs are
flushed before start and outputs invalidated after done, and waiting for
``ap_done`` has a timeout that reports the control registers.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
from pynq import DefaultIP, Overlay, allocate

from .bitstream import Bitstream
from .errors import BitstreamError, KernelTimeout
from .hwh import check_registers, find_engine, register_names


class EngineIP(DefaultIP):
    """pynq driver of the ``edgemoe_top`` HLS IP (ap_ctrl_hs, one s_axilite block)."""

    bindto = ["xilinx.com:hls:edgemoe_top:1.0"]

    def __init__(self, description: dict[str, Any]) -> None:
        super().__init__(description)
        self.interface: dict[str, Any] | None = None
        self._off: dict[str, int] = {}
        self.last_ctrl = 0

    def bind(self, interface: dict[str, Any]) -> None:
        """Check this IP's ``.hwh`` registers against ``interface`` and adopt its offsets."""
        problems = check_registers(self._registers or {}, interface)
        if problems:
            raise BitstreamError(
                f"{self._fullpath}: the .hwh registers differ from the register map "
                f"(another design?): {'; '.join(problems)}"
            )
        names = register_names(interface)
        self._off = {reg: self._registers[names[reg]]["address_offset"] for reg in names}
        self.interface = interface

    # ------------------------------------------------------------------ registers
    def reg(self, name: str) -> int:
        """Read a register by its register-map name (``CTRL`` reads clear ap_done)."""
        return int(self.mmio.read(self._off[name]))

    def set(self, name: str, value: int) -> None:
        self.mmio.write(self._off[name], int(value) & 0xFFFFFFFF)

    def write_args(self, values: dict[str, int]) -> None:
        """Every argument: pointers as both 32-bit words, scalars as one."""
        assert self.interface is not None, "bind() first"
        for a in self.interface["args"]:
            if a["kind"] == "scalar_out":
                continue
            value, up = int(values[a["name"]]), a["name"].upper()
            if a["kind"] == "pointer":
                self.set(f"{up}_LO", value & 0xFFFFFFFF)
                self.set(f"{up}_HI", value >> 32)
            else:
                self.set(up, value)

    def dump(self) -> dict[str, int]:
        """The control registers and arguments (CTRL as last polled: reading it clears bits)."""
        regs = {"CTRL (last poll)": self.last_ctrl}
        for name in self._off:
            if name != "CTRL" and not name.endswith("_CTRL"):
                regs[name] = self.reg(name)
        return regs

    def _bit(self, name: str) -> int:
        assert self.interface is not None
        return 1 << self.interface["ctrl_bits"][name]

    # ---------------------------------------------------------------------- run
    def execute(
        self, values: dict[str, int], timeout_s: float, poll_s: float = 1e-4, irq: bool = False
    ) -> int:
        """Write the arguments, start, wait for ap_done; return the status register.

        CTRL is read once per poll (ap_done clears when read). With ``irq`` and an
        interrupt in the design, wait on it instead of polling. Raises
        :class:`KernelTimeout` with a register dump when ap_done does not come.
        """
        ctrl = self.reg("CTRL")
        if not ctrl & self._bit("ap_idle"):
            self.last_ctrl = ctrl
            raise KernelTimeout(
                f"{self._fullpath} is busy (ap_idle=0) before start: {_fmt(self.dump())}",
                self.dump(),
            )
        self.write_args(values)
        interrupt = getattr(self, "interrupt", None) if irq else None
        if interrupt is not None:
            self.set("GIE", 1)
            self.set("IER", 1 << self.interface["irq_bits"]["ap_done"])  # type: ignore[index]
        self.set("CTRL", self._bit("ap_start"))
        deadline = time.monotonic() + timeout_s
        if interrupt is not None:
            try:
                asyncio.run(asyncio.wait_for(interrupt.wait(), timeout_s))
            except asyncio.TimeoutError:
                pass
        while True:
            self.last_ctrl = ctrl = self.reg("CTRL")
            if ctrl & self._bit("ap_done"):
                break
            if time.monotonic() > deadline:
                regs = self.dump()
                raise KernelTimeout(
                    f"{self._fullpath} did not raise ap_done within {timeout_s:g} s "
                    f"(task {values.get('task')}): {_fmt(regs)}",
                    regs,
                )
            if poll_s:
                time.sleep(poll_s)
        if interrupt is not None:
            self.set("ISR", self.reg("ISR"))  # toggle-on-write clears the raised bits
        status_out = [a for a in self.interface["args"] if a["kind"] == "scalar_out"]  # type: ignore[index]
        name = status_out[0]["name"].upper()
        if not self.reg(f"{name}_CTRL") & 1:
            regs = self.dump()
            raise KernelTimeout(
                f"{self._fullpath} raised ap_done without writing {name} (ap_vld=0): {_fmt(regs)}",
                regs,
            )
        return self.reg(name)


def _fmt(regs: dict[str, int]) -> str:
    return ", ".join(f"{k}=0x{v:08x}" for k, v in regs.items())


class Board:
    """A downloaded overlay with the engine bound and checked.

    ``device`` is the pynq device (default: pynq's active device); ``ip_name``
    picks the engine instance when the design has several.
    """

    def __init__(
        self,
        bitstream: Bitstream,
        *,
        device: Any = None,
        ip_name: str = "",
        cacheable: bool = False,
    ) -> None:
        self.bitstream = bitstream
        self.cacheable = cacheable
        self.overlay = Overlay(str(bitstream.bit), device=device)
        key = find_engine(self.overlay.ip_dict, bitstream.vlnv, ip_name)
        driver: Any = self.overlay
        for part in key.split("/"):
            driver = getattr(driver, part)
        if not isinstance(driver, EngineIP):
            raise BitstreamError(f"{key} is bound to {type(driver).__name__}, not EngineIP")
        driver.bind(bitstream.interface)
        self.ip: EngineIP = driver
        self.device = self.overlay.device

    def allocate(self, nbytes: int) -> Any:
        """A zeroed byte buffer in PS DDR (non-cacheable unless asked), flushed."""
        buf = allocate((nbytes,), np.uint8, cacheable=self.cacheable, target=self.device)
        buf[:] = 0
        buf.flush()
        return buf
