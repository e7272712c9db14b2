"""``host.Accelerator``: one API over the ZCU104 and the simulated board.

>>> with Accelerator.open(bitstream="bitstreams/zcu104/edgemoe.bit") as acc:   # doctest: +SKIP
...     acc.load("build/export/edgemoe-t-hw16")
...     result = acc.run(image, "semseg")        # float32 (3, 128, 256), normalised
...     result.raw, result.tokens, result.head, result.timings

``Accelerator.open(backend="csim", export=DIR)`` runs the same code on the
simulated board (:mod:`host.simboard`), whose logic is the C simulation of the
export's HLS engine: there, ``timings["kernel"]`` is C-simulation wall time,
not hardware latency. ``backend="rtl"`` puts the RTL engine (hls/rtl/engine,
Verilator) behind the same simulated board: the registers and buffers the host
writes go through the engine's own AXI ports; ``acc.sim.pl.last["cycles"]`` are
the cycles of the latest run, MEASURED in RTL simulation.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Union

import numpy as np

from .bitstream import Bitstream, check_export
from .errors import HostError, KernelStatusError, KernelTimeout
from .export import BEAT_BYTES, Export
from .heads import HEADS, Heads

BACKENDS = ("board", "csim", "rtl")
#: What each kernel status means (names and codes come from the export's manifest).
STATUS_HELP = {
    "OK": "ran to completion",
    "BAD_MAGIC": "the params image is not an export of this format and version",
    "BAD_ACT_W": "the params image was built for another activation width",
    "OVER_MAXIMA": "a model dimension exceeds the synthesis maxima",
    "INCONSISTENT": "model dimensions contradict each other",
    "BAD_FORMAT": "a fixed-point format the datapath cannot hold or align",
    "BAD_TASK": "task index out of range",
    "BAD_LAYOUT": "an offset or region lies outside the declared image sizes",
}
PathLike = Union[str, Path]


@dataclass
class Result:
    """One frame: what the engine wrote and what the host made of it."""

    task: str
    raw: np.ndarray  # (tokens, dim) int64, the integers the engine wrote
    tokens: np.ndarray  # raw dequantised (float64)
    head: np.ndarray | None  # (channels, H, W) float32, or None (backbone only)
    timings: dict[str, float] = field(default_factory=dict)  # seconds
    status: str = "OK"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (shapes, timings, sha256 of the raw tokens, not the arrays)."""
        return {
            "task": self.task,
            "status": self.status,
            "tokens_shape": list(self.raw.shape),
            "raw_sha256": hashlib.sha256(self.raw.astype("<i8").tobytes()).hexdigest(),
            "head_shape": None if self.head is None else list(self.head.shape),
            "timings_s": dict(self.timings),
        }


class Accelerator:
    """The accelerator behind one API; use :meth:`open` (a context manager)."""

    def __init__(
        self,
        board: Any,
        backend: str,
        timeout_s: float,
        poll_s: float,
        irq: bool,
        cleanup: Callable[[], None],
    ) -> None:
        self.board = board
        self.bitstream: Bitstream = board.bitstream
        self.backend = backend
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.irq = irq
        self._cleanup = cleanup
        self.export: Export | None = None
        self.heads: Heads | None = None
        self.params: Any = None
        self.io: Any = None
        self._faulted = ""
        self.sim: Any = None  # the SimBoard of the csim backend

    # ------------------------------------------------------------------ open
    @classmethod
    def open(
        cls,
        bitstream: PathLike | None = None,
        *,
        backend: str | None = None,
        export: PathLike | None = None,
        pl: Any = None,
        ip_name: str = "",
        timeout_s: float = 10.0,
        poll_s: float = 1e-4,
        cacheable: bool = False,
        irq: bool = False,
    ) -> Accelerator:
        """Open the board (``bitstream=`` a ``.bit`` with its ``.hwh`` and manifest) or
        the simulated board (``backend="csim"``: the HLS engine in C simulation, or
        ``backend="rtl"``: the RTL engine in Verilator; ``export=`` the export it
        simulates).

        ``timeout_s`` bounds each wait for ap_done; ``cacheable`` allocates cacheable
        buffers (flushed/invalidated around each run; default non-cacheable);
        ``irq`` waits on the engine's interrupt where the design connects one.
        ``pl`` replaces the simulated board's logic (a callable, see
        :mod:`host.simboard`). Nothing is downloaded until every file checks out.
        """
        backend = backend or ("board" if bitstream is not None else None)
        if backend not in BACKENDS:
            raise HostError(
                f"backend {backend!r}: use one of {BACKENDS} (board needs bitstream=FILE.bit, "
                "csim and rtl need export=DIR)"
            )
        try:
            import pynq  # noqa: F401  (both backends drive the board through pynq)
        except ImportError:
            raise HostError(
                "the board and simulated-board backends need pynq: pip install pynq==4.0.0 "
                "(a PYNQ board image has it)"
            ) from None
        if backend == "board":
            if bitstream is None:
                raise HostError("the board backend needs bitstream=FILE.bit (.hwh beside it)")
            from .board import Board

            board = Board(Bitstream.open(bitstream), ip_name=ip_name, cacheable=cacheable)
            return cls(board, backend, timeout_s, poll_s, irq, lambda: None)
        if export is None:
            raise HostError("the simulated board is built from an export: pass export=DIR")
        if backend == "rtl" and pl is None:
            from .simboard import RtlPL

            pl = RtlPL(export)
        return cls._open_sim(
            Path(export), bitstream, pl, ip_name, timeout_s, poll_s, cacheable, backend
        )

    @classmethod
    def _open_sim(
        cls,
        export: Path,
        bitstream: PathLike | None,
        pl: Any,
        ip_name: str,
        timeout_s: float,
        poll_s: float,
        cacheable: bool,
        backend: str = "csim",
    ) -> Accelerator:
        from .board import Board
        from .simboard import CSimPL, SimBoard, write_bitstream

        tmp = ""
        if bitstream is None:
            ex = Export.open(export)
            tmp = tempfile.mkdtemp(prefix="edgemoe-simboard-")
            bitstream = write_bitstream(
                tmp, interface=ex.interface, design=ex.design, act_w=ex.act_w
            )
        bs = Bitstream.open(bitstream)
        sim = SimBoard(pl if pl is not None else CSimPL(export), bs.interface).activate()

        def cleanup() -> None:
            sim.deactivate()
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)

        try:
            board = Board(bs, device=sim, ip_name=ip_name, cacheable=cacheable)
        except BaseException:
            cleanup()
            raise
        acc = cls(board, backend, timeout_s, poll_s, False, cleanup)
        acc.sim = sim
        return acc

    # ------------------------------------------------------------------ load
    def load(self, export: PathLike) -> Export:
        """Verify ``export`` (files, sha256, fit to the bitstream) and copy its DDR image
        into device buffers (allocated once per export and reused by every run)."""
        ex = Export.open(export)
        check_export(ex, self.bitstream)
        self._free()
        self.params = self.board.allocate(ex.params.size)
        self.params[:] = ex.params
        self.params.flush()
        self.io = self.board.allocate(ex.io_bytes)
        self.export = ex
        self.heads = Heads.open(ex.path / HEADS) if (ex.path / HEADS).is_file() else None
        return ex

    # ------------------------------------------------------------------- run
    def run(self, image: np.ndarray, task: str | int, head: bool = True) -> Result:
        """Run one float image (C, H, W) or (1, C, H, W), normalised as in training.

        ``head`` runs the task's head on the host (when the export has heads). Bad
        input raises :class:`InputError` before anything is written to the device.
        """
        ex = self._loaded()
        t = ex.task_index(task)
        return self._run(ex.quantize(image), t, head)

    def run_raw(self, raw_image: np.ndarray, task: str | int, head: bool = False) -> Result:
        """Run an image already quantised to the input format (raw integers (C, H, W))."""
        ex = self._loaded()
        t = ex.task_index(task)
        return self._run(ex.check_raw_image(raw_image), t, head)

    def run_many(
        self,
        images: Iterable[np.ndarray],
        task: str | int,
        head: bool = False,
        progress: bool | None = None,
    ) -> list[Result]:
        """Run a sequence of images on the same buffers; a progress bar on a terminal."""
        from tqdm import tqdm

        disable = None if progress is None else not progress  # None: only on a terminal
        bar = tqdm(images, desc=f"{self.backend} frames", unit="frame", disable=disable)
        return [self.run(img, task, head=head) for img in bar]

    def _loaded(self) -> Export:
        if self._faulted:
            raise HostError(f"{self._faulted}; open the accelerator again (reloads the overlay)")
        if self.export is None:
            raise HostError("no export loaded: call load(EXPORT_DIR) first")
        return self.export

    def _region(self, buf: Any, name: str, rows: int, cols: int) -> Any:
        """The bytes of an io region (for flush/invalidate of just that region)."""
        ex = self.export
        assert ex is not None
        per_beat = 128 // ex.act_w
        nbytes = rows * -(-cols // per_beat) * BEAT_BYTES
        off = int(ex.manifest["io_regions"][name]) * BEAT_BYTES
        return buf[off : off + nbytes]

    def _run(self, raw: np.ndarray, task: int, head: bool) -> Result:
        ex = self._loaded()
        c, h, w = ex.image_shape
        tokens_n, dim = ex.token_shape
        t0 = time.perf_counter()
        ex.io_rows(self.io, "io_in", c * h, w)[:] = raw.reshape(c * h, w)
        self._region(self.io, "io_in", c * h, w).flush()
        t1 = time.perf_counter()
        addr = {"params": self.params.device_address, "io": self.io.device_address, "task": task}
        for a in self.bitstream.interface["args"]:
            if a["name"].startswith("wgt"):
                addr[a["name"]] = self.params.device_address
        try:
            status = self.board.ip.execute(addr, self.timeout_s, self.poll_s, self.irq)
        except KernelTimeout as exc:
            self._faulted = f"the engine failed earlier ({str(exc).splitlines()[0][:120]})"
            raise
        t2 = time.perf_counter()
        codes = {int(v): k for k, v in ex.manifest["status_codes"].items()}
        name = codes.get(status, "UNKNOWN")
        if name != "OK":
            raise KernelStatusError(
                f"the engine refused the run: status {status} ({name}): "
                f"{STATUS_HELP.get(name, 'not a status code of this export')}",
                status,
                name,
            )
        self._region(self.io, "io_x", tokens_n, dim).invalidate()
        out = ex.io_rows(self.io, "io_x", tokens_n, dim).astype(np.int64)
        tokens = ex.output_format.to_float(out)
        t3 = time.perf_counter()
        task_name = ex.tasks[task]
        pred = self.heads.run(tokens, task_name) if head and self.heads is not None else None
        t4 = time.perf_counter()
        timings = {"upload": t1 - t0, "kernel": t2 - t1, "download": t3 - t2, "head": t4 - t3}
        return Result(task_name, out, tokens, pred, timings, name)

    # ----------------------------------------------------------------- close
    def _free(self) -> None:
        for buf in (self.params, self.io):
            if buf is not None:
                buf.freebuffer()
        self.params = self.io = None
        self.export = None

    def close(self) -> None:
        """Free the device buffers (and, for the simulated board, restore pynq's device)."""
        self._free()
        self._cleanup()
        self._cleanup = lambda: None

    def __enter__(self) -> Accelerator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
