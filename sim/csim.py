"""C simulation of the HLS engine with g++: build, load through ctypes, run.

The HLS sources (``hls/src``, ``hls/include``) and the C ABI wrapper
``hls/tb/csim_api.cpp`` are compiled with g++ against the Apache-2.0 ap_types
headers into a shared library, cached under ``build/csim-cache/`` by a hash of
every source and header, the generated ``edgemoe_config.h`` of the export and
the compiler flags and version (exports with the same activation width share
one build). :class:`CSim` runs the top function on an export's DDR image:

>>> sim = CSim("build/hls/edgemoe-t-hw16")            # doctest: +SKIP
>>> raw = sim.run(image, "semseg")                     # (1+N, dim) int64, golden raw units
>>> layers = sim.run(image, "semseg", layers=True)     # dict name -> raw, forward.py names

Unit entry points (``exp``, ``recip``, ``rsqrt``, ``gelu``, ``softmax``,
``layernorm``, ``topk``, ``requant``, ``linear``) and single block stages
(``stage``) exist so that each part can be compared with the golden Python.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pymodel.export import (
    CSIM_STAGES,
    STATUS_CODES,
    TRACE_KINDS,
    encode_format,
    quantize_image,
    read_global_descriptor,
)
from pymodel.numerics.fixed import FixedFormat

ROOT = Path(__file__).resolve().parents[1]
HLS = ROOT / "hls"
CACHE = ROOT / "build" / "csim-cache"
CXXFLAGS = ["-std=c++17", "-O2", "-fPIC", "-DEDGEMOE_CSIM_TRACE"]
KERNEL_SOURCES = (
    "edgemoe_linear.cpp",
    "edgemoe_layers.cpp",
    "edgemoe_attention.cpp",
    "edgemoe_top.cpp",
)
JOBS = 2  # parallel compiles (shared machines)
STATUS_NAMES = {v: k for k, v in STATUS_CODES.items()}
STAGES = CSIM_STAGES
#: Stage buffers of the C ABI (em_chip_put / em_chip_get), by name.
CHIP_BUFFERS = {"x": 0, "h": 1, "q": 2, "k": 3, "v": 4, "a": 5, "u": 6}
_TRACE_NAMES = tuple(name for _, name in TRACE_KINDS)


class CSimError(RuntimeError):
    """The C simulation could not be built or the kernel refused to run (status code)."""


# ----------------------------------------------------------------------- toolchain
def ap_types_dir() -> Path | None:
    """The ap_types headers shipped with hls4ml (located without importing hls4ml)."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(next(iter(spec.submodule_search_locations))) / "templates" / "vivado" / "ap_types"
    return d if (d / "ap_int.h").is_file() else None


def find_cxx() -> str | None:
    """g++ on PATH (or $CXX)."""
    return os.environ.get("CXX") or shutil.which("g++")


def _toolchain() -> tuple[str, Path]:
    cxx = find_cxx()
    if cxx is None:
        raise CSimError("g++ not found: install g++ (C simulation compiles the HLS sources)")
    hdr = ap_types_dir()
    if hdr is None:
        raise CSimError("ap_types headers not found: pip install --no-deps hls4ml==1.3.0")
    return cxx, hdr


_HEADER_HASH: dict[Path, str] = {}


def _ap_types_hash(hdr: Path) -> str:
    if hdr not in _HEADER_HASH:
        h = hashlib.sha256()
        for p in sorted(hdr.rglob("*.h")):
            h.update(p.name.encode() + p.read_bytes())
        _HEADER_HASH[hdr] = h.hexdigest()
    return _HEADER_HASH[hdr]


def _common_key(cxx: str, hdr: Path, config_header: str, flags: list[str]) -> str:
    """Hash of everything every translation unit depends on."""
    h = hashlib.sha256()
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    for blob in (version, " ".join(flags), _ap_types_hash(hdr), config_header):
        h.update(blob.encode())
    for p in sorted(HLS.joinpath("include").glob("*.h")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()[:20]


def _compile(cxx: str, flags: list[str], hdr: Path, inc: Path, src: Path, obj: Path) -> None:
    if obj.is_file():
        return
    tmp = obj.with_name(obj.name + f".tmp{os.getpid()}.o")
    cmd = [cxx, *flags, "-isystem", str(hdr), "-I", str(HLS / "include"), "-I", str(inc)]
    proc = subprocess.run([*cmd, "-c", str(src), "-o", str(tmp)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise CSimError(f"g++ failed on {src.name}:\n{proc.stderr[-6000:]}")
    os.replace(tmp, obj)


def build(config_header: str, *, testbench: bool = False, exact_types: bool = False) -> Path:
    """Compile the engine for one generated header; return the shared library
    (or the testbench executable ``tb_main``).

    Each translation unit is cached as an object keyed by its source and every
    header, the generated header, flags and compiler; the library and the
    testbench share the kernel objects. At most ``JOBS`` compiles run at once.
    ``exact_types`` builds with the synthesis datapath types (``EDGEMOE_EXACT_TYPES``:
    ap_int adder trees instead of native integers), slower but type for type what
    Vitis synthesises.
    """
    cxx, hdr = _toolchain()
    flags = CXXFLAGS + (["-DEDGEMOE_EXACT_TYPES"] if exact_types else [])
    common = _common_key(cxx, hdr, config_header, flags)
    inc = CACHE / "include" / common[:20]
    inc.mkdir(parents=True, exist_ok=True)
    cfg = inc / "edgemoe_config.h"
    if not cfg.is_file():
        fd, tmp = tempfile.mkstemp(dir=inc)
        with os.fdopen(fd, "w") as f:
            f.write(config_header)
        os.replace(tmp, cfg)
    sources = [HLS / "src" / s for s in KERNEL_SOURCES]
    sources.append(HLS / "tb" / ("tb_main.cpp" if testbench else "csim_api.cpp"))
    objdir = CACHE / "obj"
    objdir.mkdir(parents=True, exist_ok=True)
    objs = [objdir / f"{s.stem}-{_digest(common.encode(), s.read_bytes())}.o" for s in sources]
    key = _digest(*(o.name.encode() for o in objs))
    target = CACHE / key / ("tb_main" if testbench else "libedgemoe_csim.so")
    if target.is_file():
        return target
    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        list(pool.map(lambda so: _compile(cxx, flags, hdr, inc, *so), zip(sources, objs)))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_target = target.with_name(target.name + f".tmp{os.getpid()}")
    link = [cxx, *(["-shared"] if not testbench else []), *map(str, objs), "-o", str(tmp_target)]
    proc = subprocess.run(link, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CSimError(f"link failed:\n{proc.stderr[-4000:]}")
    os.replace(tmp_target, target)  # atomic: a half-written binary is never cached
    return target


# ---------------------------------------------------------------------- library
_TRACE_FN = ctypes.CFUNCTYPE(
    None,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.POINTER(ctypes.c_int64),
    ctypes.c_int,
    ctypes.c_int,
)
_P = ctypes.c_void_p
_I = ctypes.c_int
_U = ctypes.c_uint32
_L = ctypes.c_int64
_LIBS: dict[Path, ctypes.CDLL] = {}


def _load(path: Path) -> ctypes.CDLL:
    if path in _LIBS:
        return _LIBS[path]
    lib = ctypes.CDLL(str(path))
    sigs: dict[str, tuple[Any, list[Any]]] = {
        "em_abi_check": (_I, []),
        "em_act_w": (_I, []),
        "em_weight_ports": (_I, []),
        "em_token_block": (_I, []),
        "em_chip_put": (_I, [_I, _P, _I, _I, _I]),
        "em_chip_get": (_I, [_I, _P, _I, _I, _I]),
        "em_pack_mul": (None, [_P, _P, _P, _I, _P, _P]),
        "em_top": (_I, [_P, _P, _P, _U]),
        "em_set_trace": (None, [_TRACE_FN]),
        "em_stage": (_I, [_P, _P, _I, _I, _I]),
        "em_load_tables": (_I, [_P]),
        "em_requant": (None, [_P, _I, _I, _U, _P]),
        "em_exp": (None, [_P, _I, _I, _P]),
        "em_recip": (None, [_P, _I, _I, _P, _P]),
        "em_rsqrt": (None, [_P, _I, _I, _P, _P]),
        "em_gelu": (None, [_P, _I, _I, _U, _P]),
        "em_softmax": (None, [_P, _I, _I, _I, _U, _P]),
        "em_layernorm": (_I, [_P, _I, _I, _I, _P, _I, _P, _I, _L, _U, _U, _P]),
        "em_topk": (None, [_P, _I, _I, _I, _P]),
        "em_linear": (_I, [_P, _I, _I, _U, _P, _I, _U, _P, _U, _P, _U, _U, _I, _U, _P]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    if lib.em_abi_check() != 1:
        raise CSimError("ap_uint<128> is not a plain little-endian 16-byte word on this compiler")
    _LIBS[path] = lib
    return lib


def _i64(a: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.int64))


def _ptr(a: np.ndarray | None) -> int | None:
    return None if a is None else a.ctypes.data


def _fmt_word(fmt: FixedFormat | str) -> int:
    return encode_format(FixedFormat.parse(fmt) if isinstance(fmt, str) else fmt)


# ------------------------------------------------------------------------- CSim
class CSim:
    """The HLS engine of one export, compiled with g++ and driven through ctypes."""

    def __init__(self, export_dir: str | Path, *, exact_types: bool = False) -> None:
        self.export_dir = Path(export_dir)
        self.manifest: dict[str, Any] = json.loads((self.export_dir / "manifest.json").read_text())
        self.params = np.fromfile(self.export_dir / "params.bin", dtype=np.uint8)
        self.desc = read_global_descriptor(self.params[:1024].tobytes())
        self.act_w = int(self.manifest["act_w"])
        self.formats = {k: FixedFormat.parse(v) for k, v in self.manifest["formats"].items()}
        self.tasks: list[str] = list(self.manifest["config"]["tasks"])
        self.ports = int(self.manifest["design"]["weight_ports"])
        header = (self.export_dir / "edgemoe_config.h").read_text()
        self.library = build(header, exact_types=exact_types)
        self.lib = _load(self.library)
        if self.lib.em_act_w() != self.act_w or self.lib.em_weight_ports() != self.ports:
            raise CSimError("library built for another activation width or weight port count")
        if self.lib.em_load_tables(_ptr(self.params)) != STATUS_CODES["OK"]:
            raise CSimError("params.bin has no valid descriptor")

    @property
    def output_format(self) -> FixedFormat:
        """Format of the backbone output (the last block's residual stream)."""
        cfg = self.manifest["config"]
        last = cfg["depth"] - 1
        return self.formats[
            f"blocks.{last}.mlp." + ("combine" if last in cfg["moe_blocks"] else "fc2")
        ]

    # ---------------------------------------------------------------- io image
    @property
    def _dtype(self) -> str:
        return {16: "<i2", 32: "<i4"}[self.act_w]

    def new_io(self) -> np.ndarray:
        """A zeroed io scratch image (bytes) of the export's size."""
        return np.zeros(self.desc["io_beats"] * 16, dtype=np.uint8)

    def _rows(self, io: np.ndarray, region: str, rows: int, cols: int) -> np.ndarray:
        apw = 128 // self.act_w
        rb = -(-cols // apw)
        off = self.desc[region] * 16
        words = io[off : off + rows * rb * 16].view(self._dtype).reshape(rows, rb * apw)
        return words[:, :cols]

    def read(self, io: np.ndarray, region: str, rows: int, cols: int) -> np.ndarray:
        """Rows of an io region (``io_x``, ``io_h`` ...) as int64."""
        return self._rows(io, region, rows, cols).astype(np.int64)

    def write(self, io: np.ndarray, region: str, raw: np.ndarray) -> None:
        """Write a (rows, cols) raw matrix into an io region (rows padded to beats)."""
        raw = np.asarray(raw, dtype=np.int64)
        lim = 1 << (self.act_w - 1)
        if raw.size and (raw.min() < -lim or raw.max() >= lim):
            raise ValueError(f"raw values do not fit {self.act_w}-bit activation words")
        self._rows(io, region, *raw.shape)[:] = raw

    def write_image(self, io: np.ndarray, raw: np.ndarray) -> None:
        """A (C, H, W) raw image in the input format into the io input region."""
        c, h, w = raw.shape
        self.write(io, "io_in", raw.reshape(c * h, w))

    def quantize(self, image: torch.Tensor | np.ndarray) -> np.ndarray:
        """Float (C, H, W) image -> raw input-format integers (the golden ``input`` step)."""
        t = torch.as_tensor(image)
        return quantize_image(t, self.formats["input"])

    # --------------------------------------------------------------------- run
    def task_index(self, task: str | int) -> int:
        """A task name or index as the index the kernel takes."""
        if isinstance(task, str):
            return self.tasks.index(task)
        return int(task)

    def run(
        self, image: torch.Tensor | np.ndarray, task: str | int, layers: bool = False
    ) -> np.ndarray | dict[str, np.ndarray]:
        """Run the top function on one float (C, H, W) image.

        Returns the raw backbone output (1+N, dim) int64, or with ``layers`` a
        dict of per-layer raw tensors named as forward.py records them (shapes
        as there with batch 1) plus ``output``, ``blocks.i.mlp.route`` (expert
        ids) and ``blocks.i.mlp.experts.y`` (expert outputs by token*k + slot).
        """
        return self.run_raw(self.quantize(image), task, layers)

    def run_raw(
        self,
        raw_image: np.ndarray,
        task: str | int,
        layers: bool = False,
        io: np.ndarray | None = None,
    ) -> np.ndarray | dict[str, np.ndarray]:
        """As :meth:`run` for an already quantised image."""
        io = self.new_io() if io is None else io
        self.write_image(io, np.asarray(raw_image, dtype=np.int64))
        record: dict[str, Any] = {}
        hook = _TRACE_FN(self._collector(record)) if layers else _TRACE_FN()
        self.lib.em_set_trace(hook)
        try:
            status = self._top(self.params, io, self.task_index(task))
        finally:
            self.lib.em_set_trace(_TRACE_FN())
        self.status = status
        if status != STATUS_CODES["OK"]:
            raise CSimError(
                f"kernel refused the descriptor: status {status} ({STATUS_NAMES.get(status)})"
            )
        out = self.read(io, "io_x", self.desc["tokens"], self.desc["dim"])
        if not layers:
            return out
        result = self._finish(record)
        result["output"] = out
        return result

    def _top(self, params: np.ndarray, io: np.ndarray, task: int, wgt=None) -> int:
        wgt = [params] * self.ports if wgt is None else list(wgt)
        if len(wgt) != self.ports:
            raise CSimError(f"{len(wgt)} weight port buffers for a {self.ports}-port design")
        ptrs = (ctypes.c_void_p * self.ports)(*(a.ctypes.data for a in wgt))
        return int(self.lib.em_top(_ptr(params), ptrs, _ptr(io), task))

    def run_buffers(
        self,
        params: np.ndarray,
        io: np.ndarray,
        task: int,
        wgt: list[np.ndarray] | None = None,
    ) -> int:
        """The top function on caller-owned memory, as a board runs it: ``params`` and
        ``io`` are the byte buffers the address registers point at (uint8, C-contiguous,
        written in place), ``wgt`` one buffer per weight port (default ``params``).
        Returns the status code (no exception: the caller decodes it)."""
        for name, a in (
            ("params", params),
            ("io", io),
            *((f"wgt{i}", w) for i, w in enumerate(wgt or [])),
        ):
            if not (isinstance(a, np.ndarray) and a.flags.c_contiguous and a.dtype == np.uint8):
                raise CSimError(f"{name}: expected a C-contiguous uint8 buffer")
        if io.nbytes < self.desc["io_beats"] * 16:
            raise CSimError(f"io buffer of {io.nbytes} bytes < {self.desc['io_beats'] * 16}")
        return self._top(params, io, int(task), wgt)

    def run_status(self, params: np.ndarray, task: int) -> tuple[int, np.ndarray]:
        """Run the top function on a (possibly modified) params image; (status, io)."""
        io = np.full(max(self.desc["io_beats"], 1) * 16, 0xA5, dtype=np.uint8)
        status = self._top(np.ascontiguousarray(params), io, task)
        return status, io

    def stage(
        self, io: np.ndarray, task: str | int, block: int, stage: str, layers: bool = False
    ) -> dict[str, np.ndarray]:
        """Run one stage (``STAGES``) of ``block`` on the stage buffers (see :meth:`set_chip`,
        :meth:`chip`); io holds the input image for ``embed``. Models of one token block.

        With ``layers`` the traced tensors of the stage are returned (as :meth:`run`).
        """
        record: dict[str, Any] = {}
        hook = _TRACE_FN(self._collector(record)) if layers else _TRACE_FN()
        self.lib.em_set_trace(hook)
        try:
            st = self.lib.em_stage(
                _ptr(self.params), _ptr(io), self.task_index(task), block, STAGES[stage]
            )
        finally:
            self.lib.em_set_trace(_TRACE_FN())
        if st != STATUS_CODES["OK"]:
            raise CSimError(f"stage {stage} of block {block}: status {st} ({STATUS_NAMES.get(st)})")
        return self._finish(record)

    def _collector(self, record: dict[str, Any]) -> Callable[..., None]:
        # The engine traces a tensor in pieces: b is the first row (token, or token *
        # top_k + slot for expert outputs) and a the head of scores / probabilities.
        def hook(kind: int, block: int, a: int, b: int, data: Any, rows: int, cols: int) -> None:
            arr = np.ctypeslib.as_array(data, shape=(rows * cols,)).reshape(rows, cols).copy()
            name = _TRACE_NAMES[kind]
            key = name if name == "embed" else f"blocks.{block}.{name}"
            record.setdefault(key, []).append((a, b, arr))

        return hook

    def _finish(self, record: dict[str, Any]) -> dict[str, np.ndarray]:
        t, d, h = self.desc["tokens"], self.desc["dim"], self.desc["heads"]
        out: dict[str, np.ndarray] = {}
        for key, pieces in record.items():
            if key.endswith(("attn.score", "attn.prob")):
                full = np.zeros((1, h, t, t), dtype=np.int64)
                for head, row0, arr in pieces:
                    full[0, head, row0 : row0 + arr.shape[0]] = arr
                out[key] = full
                continue
            rows = max(row0 + arr.shape[0] for _, row0, arr in pieces)
            full = np.zeros((rows, pieces[0][2].shape[1]), dtype=np.int64)
            for _, row0, arr in pieces:
                full[row0 : row0 + arr.shape[0]] = arr
            if key.endswith("attn.out"):
                full = full.reshape(t, h, d // h).transpose(1, 0, 2)[None].copy()
            elif key == "embed":
                full = full[None]
            out[key] = full
        return out

    # ---------------------------------------------------------- stage buffers
    def chip(self, buffer: str, rows: int, cols: int) -> np.ndarray:
        """Rows [0, rows) x cols of a stage buffer (``CHIP_BUFFERS``) as int64."""
        out = np.empty((rows, cols), dtype=np.int64)
        if self.lib.em_chip_get(CHIP_BUFFERS[buffer], _ptr(out), rows, cols, 0) != 1:
            raise CSimError(f"chip buffer {buffer}: {rows} x {cols} exceeds its size")
        return out

    def set_chip(self, buffer: str, raw: np.ndarray) -> None:
        """Fill rows [0, len(raw)) of a stage buffer with a (rows, cols) raw matrix."""
        a = _i64(raw).reshape(-1, np.shape(raw)[-1])
        if self.lib.em_chip_put(CHIP_BUFFERS[buffer], _ptr(a), a.shape[0], a.shape[1], 0) != 1:
            raise CSimError(f"chip buffer {buffer}: {a.shape} exceeds its size")

    # ------------------------------------------------------------------- units
    def requant(self, raw: Any, frac: int, fmt: FixedFormat | str) -> np.ndarray:
        x = _i64(raw)
        out = np.empty_like(x)
        self.lib.em_requant(_ptr(x), x.size, frac, _fmt_word(fmt), _ptr(out))
        return out

    def exp(self, d: Any, d_frac: int) -> np.ndarray:
        """exp_fixed: e^d for d <= 0."""
        x = _i64(d)
        out = np.empty_like(x)
        self.lib.em_exp(_ptr(x), x.size, d_frac, _ptr(out))
        return out

    def recip(self, s: Any, s_frac: int) -> tuple[np.ndarray, np.ndarray]:
        """recip_fixed: (mant, shift)."""
        x = _i64(s)
        mant, shift = np.empty_like(x), np.empty_like(x)
        self.lib.em_recip(_ptr(x), x.size, s_frac, _ptr(mant), _ptr(shift))
        return mant, shift

    def rsqrt(self, v: Any, v_frac: int) -> tuple[np.ndarray, np.ndarray]:
        """rsqrt_fixed: (mant, shift)."""
        x = _i64(v)
        mant, shift = np.empty_like(x), np.empty_like(x)
        self.lib.em_rsqrt(_ptr(x), x.size, v_frac, _ptr(mant), _ptr(shift))
        return mant, shift

    def gelu(self, x: Any, x_frac: int, fmt: FixedFormat | str) -> np.ndarray:
        a = _i64(x)
        out = np.empty_like(a)
        self.lib.em_gelu(_ptr(a), a.size, x_frac, _fmt_word(fmt), _ptr(out))
        return out

    def softmax(self, x: Any, x_frac: int, fmt: FixedFormat | str) -> np.ndarray:
        """Online softmax over the last dim of a 2-D array."""
        a = _i64(x)
        out = np.empty_like(a)
        self.lib.em_softmax(_ptr(a), a.shape[0], a.shape[1], x_frac, _fmt_word(fmt), _ptr(out))
        return out

    def layernorm(
        self,
        x: Any,
        x_frac: int,
        gamma: Any,
        g_frac: int,
        beta: Any,
        b_frac: int,
        eps: int,
        norm_fmt: FixedFormat | str,
        out_fmt: FixedFormat | str,
    ) -> np.ndarray:
        a, g, b = _i64(x), _i64(gamma), _i64(beta)
        out = np.empty_like(a)
        st = self.lib.em_layernorm(
            _ptr(a), a.shape[0], a.shape[1], x_frac, _ptr(g), g_frac, _ptr(b), b_frac, eps,
            _fmt_word(norm_fmt), _fmt_word(out_fmt), _ptr(out),
        )  # fmt: skip
        if st != STATUS_CODES["OK"]:
            raise CSimError(f"layernorm: status {st}")
        return out

    def topk(self, logits: Any, k: int) -> np.ndarray:
        a = _i64(logits)
        out = np.empty((a.shape[0], k), dtype=np.int64)
        self.lib.em_topk(_ptr(a), a.shape[0], a.shape[1], k, _ptr(out))
        return out

    def linear(
        self,
        x: Any,
        x_fmt: FixedFormat | str,
        w: Any,
        w_fmt: FixedFormat | str,
        out_fmt: FixedFormat | str,
        bias: Any | None = None,
        b_fmt: FixedFormat | str | None = None,
        residual: Any | None = None,
        r_fmt: FixedFormat | str | None = None,
        gelu_fmt: FixedFormat | str | None = None,
    ) -> np.ndarray:
        """The linear unit alone: requant(x W^T + b + residual) [-> GELU].

        Formats decide the datapath as in the engine: x and w both at most 8 bits
        wide run the MAC array in packed mode (two MACs per DSP), and such a w is
        streamed as 8-bit words.
        """
        a, wt = _i64(x), _i64(w)
        b = None if bias is None else _i64(bias)
        r = None if residual is None else _i64(residual)
        out = np.empty((a.shape[0], wt.shape[0]), dtype=np.int64)
        g = _fmt_word(gelu_fmt) if gelu_fmt is not None else 0
        bw = _fmt_word(b_fmt) if b_fmt is not None else 0
        rw = _fmt_word(r_fmt) if r_fmt is not None else 0
        st = self.lib.em_linear(
            _ptr(a), a.shape[0], a.shape[1], _fmt_word(x_fmt), _ptr(wt), wt.shape[0],
            _fmt_word(w_fmt), _ptr(b), bw, _ptr(r), rw, _fmt_word(out_fmt),
            int(gelu_fmt is not None), g, _ptr(out),
        )  # fmt: skip
        if st != STATUS_CODES["OK"]:
            raise CSimError(f"linear: status {st}")
        return out

    def pack_mul(self, x: Any, w_hi: Any, w_lo: Any) -> tuple[np.ndarray, np.ndarray]:
        """The MAC array's DSP packing: (x * w_hi, x * w_lo) from one multiplication."""
        a, h, lo = _i64(x), _i64(w_hi), _i64(w_lo)
        out_hi, out_lo = np.empty_like(a), np.empty_like(a)
        self.lib.em_pack_mul(_ptr(a), _ptr(h), _ptr(lo), a.size, _ptr(out_hi), _ptr(out_lo))
        return out_hi, out_lo


def testbench(export_dir: str | Path) -> Path:
    """Build the self-checking C++ testbench for an export's header; return the executable."""
    header = (Path(export_dir) / "edgemoe_config.h").read_text()
    return build(header, testbench=True)
