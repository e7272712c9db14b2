"""Export a model to the HLS accelerator: DDR image, generated headers, manifest.

The accelerator (``hls/``) is a layer-wise engine whose model dimensions and
per-tensor fixed-point formats are *run-time data*: this module writes them
into a layer descriptor table at the start of the DDR image, followed by the
lookup tables of the arithmetic contract (:func:`pymodel.numerics.hwmath.tables`)
and every weight in its hardware format (raw little-endian integers, laid out
the way the engine streams them). Files written to ``out_dir``:

* ``params.bin``: the DDR image read through the ``params`` AXI master;
* ``edgemoe_config.h``: the generated header the HLS sources include
  (activation word width, synthesis maxima and tiling, MathSpec constants,
  descriptor field indices, status codes, AXI4-Lite register map, m_axi
  depths). It depends on the activation width and the maxima only, so every
  export with the same numerics width shares one C simulation build;
* ``manifest.json``: preset, numerics, formats, layout, register map, maxima,
  sha256 of every file;
* ``report.json`` / ``report.md``: *modelled* cycles per loop nest (trip count
  x initiation interval), not synthesis results;
* ``golden/`` (optional): an input image and the golden raw backbone output
  per task, for the C++ testbench ``hls/tb/tb_main.cpp``.

Layout conventions: the unit of every offset is one 128-bit AXI beat (16
bytes). A matrix (out, in) is stored row by row, each row padded to whole
beats, so that a tile of output rows is one contiguous burst. Weights,
biases and norm parameters are 16-bit words; the position embedding, cls
token and task features are activation words (``act_w`` = 16 or 32 bits).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import PRESETS as MODEL_PRESETS
from .config import ModelConfig
from .numerics.fixed import FixedFormat, Overflow, Quant
from .numerics.hwmath import SPEC, MathSpec, tables
from .numerics.presets import NumericsPreset, get_preset

EXPORT_FORMAT = "edgemoe-hls-export"
EXPORT_VERSION = 1
DESC_MAGIC = 0x454D4F45  # "EMOE"
BEAT_BYTES = 16
WEIGHT_W = 16
ROUTERS = {"multi": 0, "single": 1, "task": 2}
QUANT_CODES = {
    Quant.AP_TRN: 0,
    Quant.AP_TRN_ZERO: 1,
    Quant.AP_RND: 2,
    Quant.AP_RND_ZERO: 3,
    Quant.AP_RND_MIN_INF: 4,
    Quant.AP_RND_INF: 5,
    Quant.AP_RND_CONV: 6,
}
OVERFLOW_CODES = {
    Overflow.AP_WRAP: 0,
    Overflow.AP_SAT: 1,
    Overflow.AP_SAT_ZERO: 2,
    Overflow.AP_SAT_SYM: 3,
}

#: Status register values written by the kernel (generated into the header).
STATUS_CODES = {
    "OK": 1,  # ran to completion (0 means "not run")
    "BAD_MAGIC": 2,  # not an export of this format/version
    "BAD_ACT_W": 3,  # image built for another activation word width
    "OVER_MAXIMA": 4,  # a dimension exceeds the synthesis maxima
    "INCONSISTENT": 5,  # dimensions that contradict each other
    "BAD_FORMAT": 6,  # a fixed-point format the datapath cannot hold or align
    "BAD_TASK": 7,  # task index out of range
    "BAD_LAYOUT": 8,  # an offset or region outside the declared image sizes
}

GLOBAL_FIELDS: tuple[str, ...] = (
    "magic",
    "version",
    "act_w",
    "params_beats",
    "io_beats",
    "tokens",
    "patches",
    "dim",
    "heads",
    "head_dim",
    "mlp_hidden",
    "expert_hidden",
    "experts",
    "top_k",
    "tasks",
    "depth",
    "in_chans",
    "patch",
    "img_h",
    "img_w",
    "grid_h",
    "grid_w",
    "patch_in",
    "router",
    "gate_in",
    "renorm",
    "fmt_input",
    "fmt_patch_w",
    "fmt_patch_b",
    "fmt_pos",
    "fmt_cls",
    "fmt_embed",
    "off_patch_w",
    "off_patch_b",
    "off_cls",
    "off_pos",
    "off_exp2",
    "off_recip",
    "off_rsqrt_even",
    "off_rsqrt_odd",
    "off_gelu",
    "off_log2e",
    "off_blocks",
    "block_beats",
    "io_in",
    "io_x",
    "io_h",
    "io_q",
    "io_k",
    "io_v",
    "io_a",
    "io_u",
    "io_g",
    "io_y",
)

_BLOCK_FMTS = (
    "norm1_w",
    "norm1_b",
    "norm1_z",
    "norm1",
    "q_w",
    "q_b",
    "q",
    "k_w",
    "k_b",
    "k",
    "v_w",
    "v_b",
    "v",
    "score",
    "prob",
    "attn",
    "proj_w",
    "proj_b",
    "proj",
    "norm2_w",
    "norm2_b",
    "norm2_z",
    "norm2",
    "fc1_w",
    "fc1_b",
    "fc1",
    "gelu",
    "fc2_w",
    "fc2_b",
    "fc2",
    "gate",
    "gate_prob",
    "htoh4_w",
    "htoh4_b",
    "htoh4",
    "egelu",
    "h4toh_w",
    "h4toh_b",
    "h4toh",
    "combine",
)
_BLOCK_OFFS = (
    "norm1_w",
    "norm1_b",
    "q_w",
    "q_b",
    "k_w",
    "k_b",
    "v_w",
    "v_b",
    "proj_w",
    "proj_b",
    "norm2_w",
    "norm2_b",
    "fc1_w",
    "fc1_b",
    "fc2_w",
    "fc2_b",
    "htoh4_w",
    "htoh4_b",
    "h4toh_w",
    "h4toh_b",
)


class HlsExportError(ValueError):
    """The model or numerics cannot run on the accelerator as synthesised (message says why)."""


@dataclass(frozen=True)
class HlsMaxima:
    """Synthesis-time maxima: on-chip buffers are sized by these; descriptors beyond are refused.

    The defaults cover every model preset (M3ViT-S on NYUD-v2 has 1201 tokens).
    """

    tokens: int = 1216
    dim: int = 384
    heads: int = 12
    head_dim: int = 64
    hidden: int = 1536  # dense MLP hidden and expert hidden
    experts: int = 16
    top_k: int = 4
    tasks: int = 5
    depth: int = 12
    patch_in: int = 768  # in_chans * patch * patch
    gate_in: int = 448  # router input (dim + task embedding for router='task')

    @property
    def k_max(self) -> int:
        """Widest input of the linear unit."""
        return max(self.dim, self.hidden, self.patch_in, self.gate_in)


@dataclass(frozen=True)
class HlsTiling:
    """Parallelism and tile sizes of the engine (synthesis parameters)."""

    ti: int = 16  # linear unit: inputs per cycle
    to: int = 16  # linear unit: outputs per cycle (TI x TO MACs)
    token_block: int = 132  # token rows held on chip: edgemoe-t (129) loads each weight once
    query_rows: int = 4  # attention: query rows sharing each streamed K/V block
    kv_block: int = 32  # attention: K/V rows per streamed block
    att_lanes: int = 8  # attention: head-dim MACs per query row per cycle
    ln_lanes: int = 1  # LayerNorm / GELU / router elements per cycle
    clock_mhz: float = 300.0


@dataclass
class Layout:
    """Where everything lives: params image (beats) and io scratch regions (beats)."""

    act_w: int
    globals: dict[str, int]
    blocks: list[dict[str, int]]
    params_beats: int
    io: dict[str, int]
    io_beats: int
    tensors: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (offset, beats)


# ------------------------------------------------------------------------- formats
def encode_format(fmt: FixedFormat) -> int:
    """Pack a format into one descriptor word.

    Bits 6:0 width, 15:8 fraction bits (int8), 16 signed, 19:17 quantisation,
    21:20 overflow, 24 present (a zero word is "no format").
    """
    if not -128 <= fmt.frac_bits <= 127:
        raise HlsExportError(f"{fmt}: fraction bits {fmt.frac_bits} outside -128..127")
    return (
        fmt.width
        | ((fmt.frac_bits & 0xFF) << 8)
        | (int(fmt.signed) << 16)
        | (QUANT_CODES[fmt.quant] << 17)
        | (OVERFLOW_CODES[fmt.overflow] << 20)
        | (1 << 24)
    )


def decode_format(word: int) -> FixedFormat:
    """Inverse of :func:`encode_format`."""
    if not (word >> 24) & 1:
        raise ValueError(f"descriptor word {word:#x} holds no format")
    width = word & 0x7F
    frac = ((word >> 8) & 0xFF) - (256 if (word >> 8) & 0x80 else 0)
    quant = {v: k for k, v in QUANT_CODES.items()}[(word >> 17) & 7]
    ovf = {v: k for k, v in OVERFLOW_CODES.items()}[(word >> 20) & 3]
    return FixedFormat(width, width - frac, bool((word >> 16) & 1), quant, ovf)


def _beats(n: int, per_beat: int) -> int:
    return -(-n // per_beat)


def act_width(preset: NumericsPreset) -> int:
    """Activation word width of a fixed-point preset: 16 or 32 bits."""
    widths = [f.width for k, f in preset.formats.items() if k not in _WEIGHT_KINDS]
    widths += [f.width for n, f in preset.overrides.items() if not _is_weight_name(n)]
    w = max(widths)
    if w > 32:
        raise HlsExportError(f"numerics {preset.name!r}: activations of {w} bits exceed 32")
    return 16 if w <= 16 else 32


_WEIGHT_KINDS = ("w", "b", "attn_b", "norm_w", "norm_b", "patch_w", "patch_b", "gate_w")


def _is_weight_name(name: str) -> bool:
    return (
        name.endswith((".w", ".b"))
        or ".mlp.gate." in name
        and name.rsplit(".", 1)[-1].isdigit()
        or name in ("cls", "pos")
    )


# ------------------------------------------------------------------------- checks
def check_config(cfg: ModelConfig, maxima: HlsMaxima, act_w: int = 32) -> None:
    """Refuse a model that the synthesised engine cannot hold (clear message per field)."""
    apw = 128 // act_w
    limits = {
        "tokens": (cfg.num_tokens, maxima.tokens),
        "dim": (cfg.dim, maxima.dim),
        "heads": (cfg.num_heads, maxima.heads),
        "head_dim": (cfg.head_dim, maxima.head_dim),
        "mlp_hidden": (cfg.mlp_hidden, maxima.hidden),
        "expert_hidden": (cfg.expert_hidden, maxima.hidden),
        "experts": (cfg.num_experts, maxima.experts),
        "top_k": (cfg.top_k, maxima.top_k),
        "tasks": (cfg.num_tasks, maxima.tasks),
        "depth": (cfg.depth, maxima.depth),
        "patch_in": (cfg.in_chans * cfg.patch_size**2, maxima.patch_in),
        "gate_in": (cfg.gate_in_dim, maxima.gate_in),
    }
    for name, (value, limit) in limits.items():
        if value > limit:
            raise HlsExportError(
                f"{cfg.name}: {name}={value} exceeds the synthesis maximum {limit} "
                f"(HlsMaxima.{_maxima_field(name)})"
            )
    if cfg.head_dim % apw:
        raise HlsExportError(
            f"{cfg.name}: head_dim={cfg.head_dim} must be a multiple of {apw} "
            f"(activation words per AXI beat at {act_w} bits): heads are beat-aligned row slices"
        )
    if cfg.patch_size % apw:
        raise HlsExportError(
            f"{cfg.name}: patch_size={cfg.patch_size} must be a multiple of {apw} "
            "(patch rows are read as whole beats)"
        )


def _maxima_field(name: str) -> str:
    return {"mlp_hidden": "hidden", "expert_hidden": "hidden"}.get(name, name)


def validate_descriptor(g: Mapping[str, int], maxima: HlsMaxima) -> None:
    """Check a global descriptor the way the kernel does; raise :class:`HlsExportError`.

    Mirrors ``check_global`` in ``hls/src/edgemoe_top.cpp`` (which reports the
    same refusals through the status register).
    """
    if g["magic"] != DESC_MAGIC or g["version"] != EXPORT_VERSION:
        raise HlsExportError("descriptor: bad magic or version")
    if g["act_w"] not in (16, 32):
        raise HlsExportError(f"descriptor: act_w={g['act_w']} is neither 16 nor 32")
    limits = {
        "tokens": maxima.tokens,
        "dim": maxima.dim,
        "heads": maxima.heads,
        "head_dim": maxima.head_dim,
        "mlp_hidden": maxima.hidden,
        "expert_hidden": maxima.hidden,
        "experts": maxima.experts,
        "top_k": maxima.top_k,
        "tasks": maxima.tasks,
        "depth": maxima.depth,
        "patch_in": maxima.patch_in,
        "gate_in": maxima.gate_in,
    }
    for name, limit in limits.items():
        if not 1 <= g[name] <= limit:
            raise HlsExportError(
                f"descriptor: {name}={g[name]} outside 1..{limit} (synthesis maximum)"
            )
    apw = 128 // g["act_w"]
    rules = [
        (g["tokens"] == g["patches"] + 1, "tokens must be patches + 1 (cls token)"),
        (g["patches"] == g["grid_h"] * g["grid_w"], "patches must be grid_h * grid_w"),
        (g["img_h"] == g["grid_h"] * g["patch"], "img_h must be grid_h * patch"),
        (g["img_w"] == g["grid_w"] * g["patch"], "img_w must be grid_w * patch"),
        (g["patch_in"] == g["in_chans"] * g["patch"] ** 2, "patch_in must be in_chans*patch^2"),
        (g["dim"] == g["heads"] * g["head_dim"], "dim must be heads * head_dim"),
        (g["head_dim"] % apw == 0, f"head_dim must be a multiple of {apw}"),
        (g["patch"] % apw == 0, f"patch must be a multiple of {apw}"),
        (g["top_k"] <= g["experts"], "top_k must not exceed experts"),
        (g["router"] in ROUTERS.values(), "unknown router kind"),
        (g["gate_in"] >= g["dim"], "gate_in must be at least dim"),
        ((g["router"] == 2) == (g["gate_in"] > g["dim"]), "gate_in > dim only with router=task"),
    ]
    for ok, what in rules:
        if not ok:
            raise HlsExportError(f"descriptor: inconsistent sizes: {what}")


# ------------------------------------------------------------------------- layout
class _Image:
    """A params image under construction: regions of whole beats, filled as bytes."""

    def __init__(self) -> None:
        self.chunks: list[tuple[int, bytes]] = []
        self.beats = 0
        self.tensors: dict[str, tuple[int, int]] = {}

    def reserve(self, beats: int, name: str = "") -> int:
        off = self.beats
        self.beats += beats
        if name:
            self.tensors[name] = (off, beats)
        return off

    def put(self, off: int, data: bytes) -> None:
        self.chunks.append((off, data))

    def tobytes(self) -> bytes:
        buf = bytearray(self.beats * BEAT_BYTES)
        for off, data in self.chunks:
            buf[off * BEAT_BYTES : off * BEAT_BYTES + len(data)] = data
        return bytes(buf)


def _pack_rows(raw: np.ndarray, width: int, fmt: FixedFormat | None = None) -> bytes:
    """(rows, n) raw integers as little-endian words of ``width`` bits, rows padded to beats."""
    raw = np.asarray(raw, dtype=np.int64)
    if raw.ndim == 1:
        raw = raw[None]
    per = 128 // width
    rows, n = raw.shape
    padded = np.zeros((rows, _beats(n, per) * per), dtype=np.int64)
    padded[:, :n] = raw
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if padded.size and (padded.min() < lo or padded.max() > hi):
        raise HlsExportError(f"raw values do not fit {width}-bit words ({fmt})")
    dtype = {16: "<i2", 32: "<i4"}[width]
    return padded.astype(dtype).tobytes()


def plan_layout(cfg: ModelConfig, act_w: int) -> tuple[Layout, _Image]:
    """Offsets of every region for ``cfg`` at activation width ``act_w`` (no data)."""
    apw, wpw = 128 // act_w, 128 // WEIGHT_W
    img = _Image()
    g: dict[str, int] = {}
    img.reserve(_beats(len(GLOBAL_FIELDS), 4), "descriptor.global")
    n_block_words = len(block_fields(HlsMaxima().tasks))
    block_beats = _beats(n_block_words, 4)
    g["off_blocks"] = img.reserve(block_beats * cfg.depth, "descriptor.blocks")
    g["block_beats"] = block_beats
    spec_tables = tables(SPEC)
    for name in ("exp2", "recip", "rsqrt_even", "rsqrt_odd", "gelu", "log2e"):
        g[f"off_{name}"] = img.reserve(_beats(len(spec_tables[name]), 4), f"table.{name}")

    def mat(name: str, rows: int, cols: int) -> int:
        return img.reserve(rows * _beats(cols, wpw), name)

    def actv(name: str, rows: int, cols: int) -> int:
        return img.reserve(rows * _beats(cols, apw), name)

    d, pin = cfg.dim, cfg.in_chans * cfg.patch_size**2
    g["off_patch_w"] = mat("patch.w", d, pin)
    g["off_patch_b"] = mat("patch.b", 1, d)
    g["off_cls"] = actv("cls", 1, d)
    g["off_pos"] = actv("pos", cfg.num_tokens, d)
    blocks: list[dict[str, int]] = []
    e, eh, hid = cfg.num_experts, cfg.expert_hidden, cfg.mlp_hidden
    n_gates = cfg.num_tasks if cfg.router == "multi" else 1
    for i in range(cfg.depth):
        p = f"blocks.{i}."
        b: dict[str, int] = {}
        for n in ("norm1_w", "norm1_b"):
            b[f"off_{n}"] = mat(p + n.replace("_", "."), 1, d)
        for n in ("q", "k", "v", "proj"):
            b[f"off_{n}_w"] = mat(p + f"attn.{n}.w", d, d)
            b[f"off_{n}_b"] = mat(p + f"attn.{n}.b", 1, d)
        for n in ("norm2_w", "norm2_b"):
            b[f"off_{n}"] = mat(p + n.replace("_", "."), 1, d)
        if i in cfg.moe_blocks:
            for t in range(n_gates):
                b[f"off_gate_w_{t}"] = mat(p + f"mlp.gate.{t}", e, cfg.gate_in_dim)
            if cfg.router == "task":
                for t in range(cfg.num_tasks):
                    b[f"off_feature_{t}"] = actv(p + f"task_feature.{t}", 1, cfg.task_embed_dim)
            b["off_htoh4_w"] = mat(p + "mlp.experts.htoh4.w", e * eh, d)
            b["off_htoh4_b"] = mat(p + "mlp.experts.htoh4.b", e, eh)
            b["off_h4toh_w"] = mat(p + "mlp.experts.h4toh.w", e * d, eh)
            b["off_h4toh_b"] = mat(p + "mlp.experts.h4toh.b", e, d)
        else:
            b["off_fc1_w"] = mat(p + "mlp.fc1.w", hid, d)
            b["off_fc1_b"] = mat(p + "mlp.fc1.b", 1, hid)
            b["off_fc2_w"] = mat(p + "mlp.fc2.w", d, hid)
            b["off_fc2_b"] = mat(p + "mlp.fc2.b", 1, d)
        blocks.append(b)
    # io scratch: every region row-major, rows padded to beats.
    t = cfg.num_tokens
    io: dict[str, int] = {}
    pos = 0

    def region(name: str, rows: int, cols: int) -> None:
        nonlocal pos
        io[name] = pos
        pos += rows * _beats(cols, apw)

    region("io_in", cfg.in_chans * cfg.img_size[0], cfg.img_size[1])
    for name in ("io_x", "io_h", "io_q", "io_k", "io_v", "io_a"):
        region(name, t, d)
    region("io_u", t, max(hid, eh))
    region("io_g", t, e)
    region("io_y", t * cfg.top_k, d)
    layout = Layout(act_w, g, blocks, img.beats, io, pos, img.tensors)
    return layout, img


def block_fields(max_tasks: int) -> tuple[str, ...]:
    """Names of the 32-bit words of one block descriptor."""
    per_task = tuple(
        f"{kind}_{t}"
        for kind in ("fmt_gate_w", "off_gate_w", "off_feature")
        for t in range(max_tasks)
    )
    return (
        ("moe", "eps1", "eps2")
        + tuple(f"fmt_{n}" for n in _BLOCK_FMTS)
        + tuple(f"off_{n}" for n in _BLOCK_OFFS)
        + per_task
    )


def image_sizes(cfg: ModelConfig, act_w: int) -> tuple[int, int]:
    """(params beats, io beats) of ``cfg`` at activation width ``act_w``."""
    layout, _ = plan_layout(cfg, act_w)
    return layout.params_beats, layout.io_beats


def axi_depths(maxima: HlsMaxima, act_w: int) -> dict[str, Any]:
    """m_axi depths (beats) for cosimulation: the largest model preset that fits the maxima."""
    best: dict[str, Any] = {"params": 0, "io": 0, "params_preset": None, "io_preset": None}
    for name, cfg in MODEL_PRESETS.items():
        try:
            check_config(cfg, maxima, act_w)
        except HlsExportError:
            continue
        p, io = image_sizes(cfg, act_w)
        if p > best["params"]:
            best.update(params=p, params_preset=name)
        if io > best["io"]:
            best.update(io=io, io_preset=name)
    if best["params_preset"] is None:
        raise HlsExportError("no model preset fits the synthesis maxima")
    return best


# ------------------------------------------------------------------ register map
def register_map() -> dict[str, int]:
    """AXI4-Lite offsets of the top function's ports, in Vitis HLS's order and spacing.

    ``edgemoe_top(params, io, task, status)``: control/interrupt registers at
    0x00-0x0C, then each argument (64-bit addresses take two words and a
    reserved one); ``status`` is an output register with its ap_vld at +4.
    """
    return {
        "CTRL": 0x00,  # bit0 ap_start, bit1 ap_done, bit2 ap_idle, bit3 ap_ready
        "GIE": 0x04,
        "IER": 0x08,
        "ISR": 0x0C,
        "PARAMS_LO": 0x10,
        "PARAMS_HI": 0x14,
        "IO_LO": 0x1C,
        "IO_HI": 0x20,
        "TASK": 0x28,
        "STATUS": 0x30,
        "STATUS_CTRL": 0x34,  # bit0 status_ap_vld
    }


# ------------------------------------------------------------------------ header
def config_header(act_w: int, maxima: HlsMaxima, tiling: HlsTiling, spec: MathSpec = SPEC) -> str:
    """The generated ``edgemoe_config.h`` (depends on act_w, maxima, tiling, spec only)."""
    depths = axi_depths(maxima, act_w)
    t = tables(spec)
    lines = [
        "// Generated by pymodel.export_hls -- do not edit. One source of truth for the",
        "// descriptor layout, the synthesis maxima and the register map.",
        "#ifndef EDGEMOE_CONFIG_H",
        "#define EDGEMOE_CONFIG_H",
        "",
        f"#define EDGEMOE_ACT_W {act_w}  // activation word width (bits) in DDR and on chip",
        f"#define EDGEMOE_WEIGHT_W {WEIGHT_W}",
        f"#define DESC_MAGIC 0x{DESC_MAGIC:08X}u",
        f"#define DESC_VERSION {EXPORT_VERSION}",
        "",
        "// synthesis maxima (on-chip buffers are sized by these)",
    ]
    for k, v in asdict(maxima).items():
        lines.append(f"#define MAX_{k.upper()} {v}")
    lines.append(f"#define MAX_K {maxima.k_max}")
    lines += ["", "// tiling"]
    tile_names = {
        "ti": "TI",
        "to": "TO",
        "token_block": "TB",
        "query_rows": "QR",
        "kv_block": "KVB",
        "att_lanes": "ATT_LANES",
        "ln_lanes": "LN_LANES",
    }
    for k, name in tile_names.items():
        lines.append(f"#define {name} {getattr(tiling, k)}")
    lines += ["", "// MathSpec (pymodel.numerics.hwmath)"]
    for k, v in spec.to_dict().items():
        if isinstance(v, int):
            lines.append(f"#define SPEC_{k.upper()} {v}")
    for name in ("exp2", "recip", "rsqrt_even", "rsqrt_odd", "gelu"):
        lines.append(f"#define TABLE_{name.upper()}_LEN {len(t[name])}")
    lines += ["", "// global descriptor: 32-bit words"]
    lines.append("enum GlobalField {")
    lines += [f"  GD_{n.upper()} = {i}," for i, n in enumerate(GLOBAL_FIELDS)]
    lines += [f"  GD_COUNT = {len(GLOBAL_FIELDS)}", "};", ""]
    bf = block_fields(maxima.tasks)
    lines.append("// block descriptor: 32-bit words (per-task slots are consecutive)")
    lines.append("enum BlockField {")
    lines += [f"  BD_{n.upper()} = {i}," for i, n in enumerate(bf)]
    lines += [f"  BD_COUNT = {len(bf)}", "};", ""]
    lines.append("enum RouterKind { ROUTER_MULTI = 0, ROUTER_SINGLE = 1, ROUTER_TASK = 2 };")
    lines += ["", "// status register values"]
    for k, v in STATUS_CODES.items():
        lines.append(f"#define STATUS_{k} {v}")
    lines += ["", "// AXI4-Lite register map (byte offsets)"]
    for k, v in register_map().items():
        lines.append(f"#define REG_{k} 0x{v:02X}")
    lines += [
        "",
        "// m_axi depths in 128-bit beats, for C/RTL cosimulation: the largest preset",
        f"// that fits the maxima (params: {depths['params_preset']}, io: {depths['io_preset']})",
        f"#define PARAMS_DEPTH {depths['params']}",
        f"#define IO_DEPTH {depths['io']}",
        "",
        "#endif  // EDGEMOE_CONFIG_H",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------ export
def _format_table(cfg: ModelConfig, preset: NumericsPreset) -> dict[str, FixedFormat]:
    """Format of every tensor the engine touches, by forward.py's tensor names."""
    f: dict[str, FixedFormat] = {
        "input": preset.fmt("input", "input"),
        "patch.w": preset.fmt("patch.w", "patch_w"),
        "patch.b": preset.fmt("patch.b", "patch_b"),
        "pos": preset.fmt("pos", "pos"),
        "cls": preset.fmt("cls", "pos"),
        "embed": preset.fmt("embed", "resid"),
    }
    n_gates = cfg.num_tasks if cfg.router == "multi" else 1
    for i in range(cfg.depth):
        p = f"blocks.{i}."
        acts = {
            "norm1": "ln_out",
            "norm1.z": "ln_norm",
            "attn.q": "q",
            "attn.k": "kv",
            "attn.v": "kv",
            "attn.score": "score",
            "attn.prob": "prob",
            "attn.out": "attn",
            "attn.proj": "resid",
            "norm2": "ln_out",
            "norm2.z": "ln_norm",
        }
        weights = {
            "norm1.w": "norm_w",
            "norm1.b": "norm_b",
            "norm2.w": "norm_w",
            "norm2.b": "norm_b",
        }
        for n in ("q", "k", "v", "proj"):
            weights[f"attn.{n}.w"] = "w"
            weights[f"attn.{n}.b"] = "attn_b"
        if i in cfg.moe_blocks:
            acts.update(
                {
                    "mlp.gate": "gate_logit",
                    "mlp.gate_prob": "gate_prob",
                    "mlp.experts.htoh4": "hidden",
                    "mlp.experts.gelu": "gelu",
                    "mlp.experts.h4toh": "expert_out",
                    "mlp.combine": "resid",
                }
            )
            for t in range(n_gates):
                weights[f"mlp.gate.{t}"] = "gate_w"
            for n in ("htoh4", "h4toh"):
                weights[f"mlp.experts.{n}.w"] = "w"
                weights[f"mlp.experts.{n}.b"] = "b"
        else:
            acts.update({"mlp.fc1": "hidden", "mlp.gelu": "gelu", "mlp.fc2": "resid"})
            for n in ("fc1", "fc2"):
                weights[f"mlp.{n}.w"] = "w"
                weights[f"mlp.{n}.b"] = "b"
        for n, kind in {**acts, **weights}.items():
            f[p + n] = preset.fmt(p + n, kind)
    return f


def _check_formats(cfg: ModelConfig, fmts: Mapping[str, FixedFormat], act_w: int) -> None:
    """Refuse formats the datapath cannot store or add exactly (forward.py's NumericsErrors)."""
    probs = {n for n in fmts if n.endswith(("attn.prob", "mlp.gate_prob"))}
    for name, fmt in fmts.items():
        weight = _is_weight_name(name) and name not in ("cls", "pos")
        limit = WEIGHT_W if weight else act_w
        if fmt.width > limit:
            raise HlsExportError(f"{name}: {fmt} is wider than its {limit}-bit storage word")
        if not fmt.signed and name not in probs:
            raise HlsExportError(f"{name}: {fmt} is unsigned; only probabilities may be")
        if name in probs and not fmt.signed and fmt.width > 31:
            raise HlsExportError(f"{name}: unsigned {fmt} needs more than 32 bits on chip")

    def align(what: str, small: FixedFormat, acc_frac: int) -> None:
        if small.frac_bits > acc_frac:
            raise HlsExportError(
                f"{what} in {small} has more fraction bits than the accumulator ({acc_frac})"
            )

    acc = fmts["input"].frac_bits + fmts["patch.w"].frac_bits
    align("patch bias", fmts["patch.b"], acc)
    align("position embedding", fmts["pos"], acc)
    x = fmts["embed"]
    for i in range(cfg.depth):
        p = f"blocks.{i}."
        for ln in ("norm1", "norm2"):
            z, g, b = fmts[p + ln + ".z"], fmts[p + ln + ".w"], fmts[p + ln + ".b"]
            if b.frac_bits > z.frac_bits + g.frac_bits:
                raise HlsExportError(f"{p}{ln}: beta has more fraction bits than z * gamma")
        h1 = fmts[p + "norm1"]
        for n in ("q", "k", "v"):
            align(
                f"{p}attn.{n} bias",
                fmts[p + f"attn.{n}.b"],
                h1.frac_bits + fmts[p + f"attn.{n}.w"].frac_bits,
            )
        acc = fmts[p + "attn.out"].frac_bits + fmts[p + "attn.proj.w"].frac_bits
        align(f"{p}attn.proj bias", fmts[p + "attn.proj.b"], acc)
        align(f"{p}attn.proj residual", x, acc)
        x = fmts[p + "attn.proj"]
        h2 = fmts[p + "norm2"]
        if i in cfg.moe_blocks:
            acc = h2.frac_bits + fmts[p + "mlp.experts.htoh4.w"].frac_bits
            align(f"{p}htoh4 bias", fmts[p + "mlp.experts.htoh4.b"], acc)
            acc = fmts[p + "mlp.experts.gelu"].frac_bits + fmts[p + "mlp.experts.h4toh.w"].frac_bits
            align(f"{p}h4toh bias", fmts[p + "mlp.experts.h4toh.b"], acc)
            acc = fmts[p + "mlp.gate_prob"].frac_bits + fmts[p + "mlp.experts.h4toh"].frac_bits
            align(f"{p}mlp.combine residual", x, acc)
            x = fmts[p + "mlp.combine"]
        else:
            acc = h2.frac_bits + fmts[p + "mlp.fc1.w"].frac_bits
            align(f"{p}mlp.fc1 bias", fmts[p + "mlp.fc1.b"], acc)
            acc = fmts[p + "mlp.gelu"].frac_bits + fmts[p + "mlp.fc2.w"].frac_bits
            align(f"{p}mlp.fc2 bias", fmts[p + "mlp.fc2.b"], acc)
            align(f"{p}mlp.fc2 residual", x, acc)
            x = fmts[p + "mlp.fc2"]


def ln_eps_raw(x_frac: int, spec: MathSpec = SPEC) -> int:
    """LayerNorm epsilon in raw units of the variance, as ``layernorm_fixed`` computes it."""
    a = max(0, x_frac - spec.ln_sq_frac)
    fq = x_frac - a
    return max(1, math.floor(spec.ln_eps * 2.0 ** (2 * fq) + 0.5))


def resolve_preset(model, preset: str | NumericsPreset) -> NumericsPreset:
    """The fixed-point preset to export (a calibrated hw16 stored on the model is used)."""
    from .numerics.forward import _resolve

    p = get_preset(_resolve(model, preset))
    if p.kind != "fixed":
        raise HlsExportError(f"numerics {p.name!r} is not fixed point; export edgemoe or hw16")
    if p.needs_calibration:
        raise HlsExportError(
            f"numerics {p.name!r} needs calibration first: pymodel.calibrate(model, images, "
            f"{p.name!r}) (or edgemoe export-hls --numerics {p.name}, which calibrates)"
        )
    return p


def build_descriptor(
    cfg: ModelConfig, layout: Layout, fmts: Mapping[str, FixedFormat], maxima: HlsMaxima
) -> tuple[dict[str, int], list[dict[str, int]]]:
    """Global and per-block descriptor words (names -> values)."""
    g = dict.fromkeys(GLOBAL_FIELDS, 0)
    g.update(layout.globals)
    g.update(layout.io)
    h, w = cfg.img_size
    gh, gw = cfg.grid
    g.update(
        magic=DESC_MAGIC,
        version=EXPORT_VERSION,
        act_w=layout.act_w,
        params_beats=layout.params_beats,
        io_beats=layout.io_beats,
        tokens=cfg.num_tokens,
        patches=cfg.num_patches,
        dim=cfg.dim,
        heads=cfg.num_heads,
        head_dim=cfg.head_dim,
        mlp_hidden=cfg.mlp_hidden,
        expert_hidden=cfg.expert_hidden,
        experts=cfg.num_experts,
        top_k=cfg.top_k,
        tasks=cfg.num_tasks,
        depth=cfg.depth,
        in_chans=cfg.in_chans,
        patch=cfg.patch_size,
        img_h=h,
        img_w=w,
        grid_h=gh,
        grid_w=gw,
        patch_in=cfg.in_chans * cfg.patch_size**2,
        router=ROUTERS[cfg.router],
        gate_in=cfg.gate_in_dim,
        renorm=int(cfg.renormalize_gates),
        fmt_input=encode_format(fmts["input"]),
        fmt_patch_w=encode_format(fmts["patch.w"]),
        fmt_patch_b=encode_format(fmts["patch.b"]),
        fmt_pos=encode_format(fmts["pos"]),
        fmt_cls=encode_format(fmts["cls"]),
        fmt_embed=encode_format(fmts["embed"]),
    )
    blocks = []
    x = fmts["embed"]
    names = {
        "norm1_w": "norm1.w",
        "norm1_b": "norm1.b",
        "norm1_z": "norm1.z",
        "norm1": "norm1",
        "q_w": "attn.q.w",
        "q_b": "attn.q.b",
        "q": "attn.q",
        "k_w": "attn.k.w",
        "k_b": "attn.k.b",
        "k": "attn.k",
        "v_w": "attn.v.w",
        "v_b": "attn.v.b",
        "v": "attn.v",
        "score": "attn.score",
        "prob": "attn.prob",
        "attn": "attn.out",
        "proj_w": "attn.proj.w",
        "proj_b": "attn.proj.b",
        "proj": "attn.proj",
        "norm2_w": "norm2.w",
        "norm2_b": "norm2.b",
        "norm2_z": "norm2.z",
        "norm2": "norm2",
        "fc1_w": "mlp.fc1.w",
        "fc1_b": "mlp.fc1.b",
        "fc1": "mlp.fc1",
        "gelu": "mlp.gelu",
        "fc2_w": "mlp.fc2.w",
        "fc2_b": "mlp.fc2.b",
        "fc2": "mlp.fc2",
        "gate": "mlp.gate",
        "gate_prob": "mlp.gate_prob",
        "htoh4_w": "mlp.experts.htoh4.w",
        "htoh4_b": "mlp.experts.htoh4.b",
        "htoh4": "mlp.experts.htoh4",
        "egelu": "mlp.experts.gelu",
        "h4toh_w": "mlp.experts.h4toh.w",
        "h4toh_b": "mlp.experts.h4toh.b",
        "h4toh": "mlp.experts.h4toh",
        "combine": "mlp.combine",
    }
    n_gates = cfg.num_tasks if cfg.router == "multi" else 1
    for i in range(cfg.depth):
        p = f"blocks.{i}."
        b = dict.fromkeys(block_fields(maxima.tasks), 0)
        b.update(layout.blocks[i])
        b["moe"] = int(i in cfg.moe_blocks)
        for key, name in names.items():
            if p + name in fmts:
                b[f"fmt_{key}"] = encode_format(fmts[p + name])
        for t in range(n_gates):
            b[f"fmt_gate_w_{t}"] = encode_format(fmts[p + f"mlp.gate.{t}"]) if b["moe"] else 0
        b["eps1"] = ln_eps_raw(x.frac_bits)
        x = fmts[p + "attn.proj"]
        b["eps2"] = ln_eps_raw(x.frac_bits)
        x = fmts[p + ("mlp.combine" if b["moe"] else "mlp.fc2")]
        blocks.append(b)
    return g, blocks


def _words(values: Sequence[int]) -> bytes:
    return np.asarray([v & 0xFFFFFFFF for v in values], dtype="<u4").tobytes()


def write_params(model, preset: NumericsPreset, maxima: HlsMaxima) -> tuple[bytes, Layout, dict]:
    """Build the DDR image of ``model`` in ``preset``: (bytes, layout, formats)."""
    from .numerics.forward import FixedArith, _bank, _weight_cache
    from .numerics.qtorch import OverflowCounter

    cfg = model.cfg
    act_w = act_width(preset)
    check_config(cfg, maxima, act_w)
    fmts = _format_table(cfg, preset)
    _check_formats(cfg, fmts, act_w)
    if preset.spec != SPEC:
        raise HlsExportError("the HLS engine is generated for the default MathSpec")
    layout, img = plan_layout(cfg, act_w)
    g, blocks = build_descriptor(cfg, layout, fmts, maxima)
    validate_descriptor(g, maxima)
    img.put(0, _words([g[n] for n in GLOBAL_FIELDS]))
    bf = block_fields(maxima.tasks)
    for i, b in enumerate(blocks):
        img.put(g["off_blocks"] + i * g["block_beats"], _words([b[n] for n in bf]))
    for name, values in tables(preset.spec).items():
        img.put(g[f"off_{name}"], _words(values))
    # Weights exactly as the golden forward quantises them (shared cache with it).
    A = FixedArith(_bank(model), preset, OverflowCounter(), _weight_cache(model, preset))
    for name, (off, _) in layout.tensors.items():
        if name.startswith(("descriptor.", "table.")) or ".task_feature." in name:
            continue
        q = A.w(name)
        width = act_w if name in ("cls", "pos") else WEIGHT_W
        raw = q.raw.numpy().reshape(-1, q.raw.shape[-1]) if q.raw.dim() > 1 else q.raw.numpy()
        img.put(off, _pack_rows(raw, width, q.fmt))
    if cfg.router == "task":
        with torch.no_grad():
            for t in range(cfg.num_tasks):
                feat = model.backbone.gate_task_represent(t).double()
                for i in cfg.moe_blocks:
                    q = A.quantize(feat, fmts[f"blocks.{i}.norm2"], "task_feature")
                    off = layout.tensors[f"blocks.{i}.task_feature.{t}"][0]
                    img.put(off, _pack_rows(q.raw.numpy(), act_w, q.fmt))
                    blocks[i][f"off_feature_{t}"] = off
        for i, b in enumerate(blocks):
            img.put(g["off_blocks"] + i * g["block_beats"], _words([b[n] for n in bf]))
    return img.tobytes(), layout, fmts


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def quantize_image(image: torch.Tensor, fmt: FixedFormat) -> np.ndarray:
    """(C, H, W) float image -> raw integers in ``fmt`` (as the golden ``input`` step)."""
    x = image.detach().double().cpu().numpy()
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError("the accelerator runs batch 1: pass one (C, H, W) image")
        x = x[0]
    return fmt.from_float(x)


def export_hls(
    model,
    preset: str | NumericsPreset,
    out_dir: str | Path,
    *,
    checkpoint_info: Mapping[str, Any] | None = None,
    golden_image: torch.Tensor | None = None,
    golden_tasks: Sequence[str | int] | None = None,
    maxima: HlsMaxima | None = None,
    tiling: HlsTiling | None = None,
) -> Path:
    """Write the accelerator export of ``model`` in numerics ``preset`` to ``out_dir``.

    ``golden_image`` (C, H, W) adds ``golden/`` with the quantised input and the
    golden raw output of every task in ``golden_tasks`` (default all); the
    report then models MoE cycles with that image's routing. Returns ``out_dir``.
    Raises :class:`HlsExportError` when the model does not fit the maxima or
    the formats cannot be stored/aligned by the datapath.
    """
    from .numerics.forward import backbone_forward

    maxima = maxima or HlsMaxima()
    tiling = tiling or HlsTiling()
    p = resolve_preset(model, preset)
    cfg = model.cfg
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    params, layout, fmts = write_params(model, p, maxima)
    (out / "params.bin").write_bytes(params)
    (out / "edgemoe_config.h").write_text(config_header(layout.act_w, maxima, tiling, p.spec))
    routing = None
    if golden_image is not None:
        gdir = out / "golden"
        gdir.mkdir(exist_ok=True)
        img = golden_image[0] if golden_image.dim() == 4 else golden_image
        raw_in = quantize_image(img, fmts["input"])
        raw_in.astype("<i8").tofile(gdir / "image.bin")
        tasks = [cfg.task_index(t) for t in (golden_tasks or range(cfg.num_tasks))]
        meta = [
            f"image {cfg.in_chans} {cfg.img_size[0]} {cfg.img_size[1]} image.bin",
            f"output {cfg.num_tokens} {cfg.dim}",
        ]
        for t in tasks:
            res = backbone_forward(model, img[None], t, p)
            res.raw[0].numpy().astype("<i8").tofile(gdir / f"expected_task{t}.bin")
            meta.append(f"task {t} expected_task{t}.bin")
            if routing is None:
                routing = {k: v.numpy() for k, v in res.routing.items()}
        (gdir / "meta.txt").write_text("\n".join(meta) + "\n")
    report = cycle_report(cfg, tiling, layout.act_w, routing)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(report_markdown(report))
    files = sorted(q for q in out.rglob("*") if q.is_file() and q.name != "manifest.json")
    manifest = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "preset": cfg.name,
        "config": cfg.to_dict(),
        "numerics": p.to_dict(),
        "act_w": layout.act_w,
        "formats": {k: str(v) for k, v in fmts.items()},
        "maxima": asdict(maxima),
        "tiling": asdict(tiling),
        "params_beats": layout.params_beats,
        "io_beats": layout.io_beats,
        "io_regions": layout.io,
        "descriptor": {
            "global_fields": list(GLOBAL_FIELDS),
            "block_fields": list(block_fields(maxima.tasks)),
        },
        "register_map": register_map(),
        "status_codes": STATUS_CODES,
        "m_axi_depth": axi_depths(maxima, layout.act_w),
        "checkpoint": dict(checkpoint_info) if checkpoint_info else None,
        "files": {
            str(q.relative_to(out)): {"sha256": _sha256(q), "bytes": q.stat().st_size}
            for q in files
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def read_global_descriptor(params: bytes) -> dict[str, int]:
    """The global descriptor of a params image, by field name."""
    words = np.frombuffer(params[: len(GLOBAL_FIELDS) * 4], dtype="<u4")
    return {n: int(v) for n, v in zip(GLOBAL_FIELDS, words)}


# --------------------------------------------------------------------- cycle model
def cycle_report(
    cfg: ModelConfig,
    tiling: HlsTiling,
    act_w: int,
    routing: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """MODELLED cycles per loop nest of the engine: trip count x initiation interval.

    Mirrors the loops of ``hls/src`` (every pipelined loop at II=1):

    * linear unit, per token block: x rows load (one beat per cycle), the first
      weight tile, then per output tile max(next weight tile load, rows x
      (K/TI MAC iterations + TO epilogue iterations + residual/output beats))
      -- the ping-pong weight buffer overlaps load and compute;
    * attention, per head and group of QR query rows: pass 1 and pass 2 each
      T keys x (head_dim/ATT_LANES MAC iterations + 1 score/probability step),
      K/V block loads overlapped, plus the q load and output write;
    * LayerNorm: per row a read, the statistics pass, the output pass, a write;
    * router: per token top-k scan, softmax update and output over E experts;
    * combine: per token the residual and k expert rows read, D MACs each, a write.

    Not modelled: DDR latency and bandwidth stalls, pipeline fill, control.
    MoE queues come from ``routing`` (block -> (T, k) expert ids of a golden
    run) when given, else a balanced T*k/E tokens for every expert.
    """
    apw, wpw = 128 // act_w, 128 // WEIGHT_W
    t_tok, d, hd = cfg.num_tokens, cfg.dim, cfg.head_dim
    rows: list[dict[str, Any]] = []

    def add(layer: str, loop: str, trips: int, ii: int = 1) -> None:
        rows.append(
            {"layer": layer, "loop": loop, "trips": int(trips), "ii": ii, "cycles": int(trips * ii)}
        )

    def linear(layer: str, n_rows: int, k: int, n: int, residual: bool = False) -> None:
        tb, tiles = tiling.token_block, _beats(n, tiling.to)
        tile_load = min(tiling.to, n) * _beats(k, wpw)
        per_row = _beats(k, tiling.ti) + tiling.to + _beats(tiling.to, apw) * (1 + residual)
        x_load = tile_cycles = 0
        for b in range(_beats(n_rows, tb)):
            nb = min(tb, n_rows - b * tb)
            x_load += nb * _beats(k, apw)
            tile_cycles += tile_load + tiles * max(tile_load, nb * per_row)
        add(layer, "linear: x block load (beats)", x_load)
        add(
            layer, f"linear: {tiling.ti}x{tiling.to} MAC tiles, weight load overlapped", tile_cycles
        )

    def layernorm(layer: str) -> None:
        add(
            layer,
            "LayerNorm: read, statistics, output, write",
            t_tok * (2 * d + 2 * _beats(d, apw)),
        )

    pin = cfg.in_chans * cfg.patch_size**2
    linear("embed", cfg.num_patches, pin, d, residual=True)
    groups = _beats(t_tok, tiling.query_rows)
    per_pass = t_tok * (_beats(hd, tiling.att_lanes) + 1)
    for i in range(cfg.depth):
        p = f"blocks.{i}."
        layernorm(p + "norm1")
        for n in ("q", "k", "v"):
            linear(p + f"attn.{n}", t_tok, d, d)
        add(
            p + "attn",
            "attention pass 1: scores + online softmax",
            cfg.num_heads * groups * per_pass,
        )
        add(p + "attn", "attention pass 2: probabilities x V", cfg.num_heads * groups * per_pass)
        add(
            p + "attn",
            "attention: q load and output write (beats)",
            cfg.num_heads * 2 * t_tok * _beats(hd, apw),
        )
        linear(p + "attn.proj", t_tok, d, d, residual=True)
        layernorm(p + "norm2")
        if i in cfg.moe_blocks:
            linear(p + "mlp.gate", t_tok, cfg.gate_in_dim, cfg.num_experts)
            add(
                p + "mlp.route",
                "router: top-k, softmax update, outputs",
                3 * t_tok * cfg.num_experts,
            )
            key = f"blocks.{i}"
            if routing is not None and key in routing:
                flat = np.asarray(routing[key]).reshape(-1)
                counts = np.bincount(flat, minlength=cfg.num_experts)
            else:
                counts = np.full(cfg.num_experts, _beats(t_tok * cfg.top_k, cfg.num_experts))
            for e, c in enumerate(counts.tolist()):
                if c:
                    linear(p + f"mlp.expert{e}.htoh4", c, d, cfg.expert_hidden)
                    linear(p + f"mlp.expert{e}.h4toh", c, cfg.expert_hidden, d)
            per_tok = (cfg.top_k + 2) * _beats(d, apw) + (cfg.top_k + 2) * d
            add(p + "mlp.combine", "combine: residual + k gated expert rows", t_tok * per_tok)
        else:
            linear(p + "mlp.fc1", t_tok, d, cfg.mlp_hidden)
            linear(p + "mlp.fc2", t_tok, cfg.mlp_hidden, d, residual=True)
    total = sum(r["cycles"] for r in rows)
    per_layer: dict[str, int] = {}
    for r in rows:
        per_layer[r["layer"]] = per_layer.get(r["layer"], 0) + r["cycles"]
    return {
        "label": "MODELLED cycles (trip count x II of the HLS loop nests; not synthesis or "
        "measured results; DDR latency, stalls and pipeline fill not included)",
        "preset": cfg.name,
        "act_w": act_w,
        "tiling": asdict(tiling),
        "routing": "golden image" if routing is not None else "balanced assumption",
        "total_cycles": total,
        "modelled_ms": total / (tiling.clock_mhz * 1e3),
        "per_layer": per_layer,
        "loops": rows,
    }


def report_markdown(report: Mapping[str, Any]) -> str:
    """report.json rendered as tables: cycles per loop kind, then per layer."""
    by_loop: dict[str, list[int]] = {}
    for r in report["loops"]:
        acc = by_loop.setdefault(r["loop"], [0, 0])
        acc[0] += r["trips"]
        acc[1] += r["cycles"]
    total = max(1, report["total_cycles"])
    lines = [
        f"# Modelled cycles: {report['preset']} (act {report['act_w']}-bit)",
        "",
        f"**{report['label']}**",
        "",
        f"Total: {report['total_cycles']:,} cycles = {report['modelled_ms']:.2f} ms at "
        f"{report['tiling']['clock_mhz']:.0f} MHz (MoE routing: {report['routing']}).",
        "",
        "| loop nest (all layers) | trips x II | modelled cycles | share |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {k} | {t:,} | {c:,} | {100 * c / total:.1f}% |"
        for k, (t, c) in sorted(by_loop.items(), key=lambda kv: -kv[1][1])
    ]
    lines += ["", "| layer | modelled cycles |", "|---|---:|"]
    lines += [f"| {k} | {v:,} |" for k, v in report["per_layer"].items()]
    return "\n".join(lines) + "\n"


def prepare_model(
    preset: str,
    *,
    checkpoint: str | None = None,
    numerics: str = "hw16",
    seed: int = 0,
    calib_images: int = 4,
    data: str | None = None,
) -> tuple[Any, torch.Tensor, dict[str, Any]]:
    """Model, calibration images and provenance for an export.

    The model is loaded from ``checkpoint`` (``preset`` fills what its shapes
    cannot tell) or built with seeded random weights. hw16 is calibrated on
    ``calib_images`` images: from ``data`` (a dataset spec) when given, else
    seeded standard-normal images. Returns (model, images, checkpoint_info).
    """
    from .model import build_model
    from .numerics.forward import calibrate

    info: dict[str, Any] = {"seed": seed}
    if checkpoint:
        from .checkpoint import load_checkpoint

        hints = {"preset": preset} if preset in MODEL_PRESETS else {}
        model = load_checkpoint(checkpoint, **hints)
        path = Path(checkpoint)
        info = {"path": str(path), "sha256": _sha256(path) if path.is_file() else None}
    else:
        model = build_model(preset, seed=seed)
    cfg = model.cfg
    n = max(1, calib_images)
    if data:
        from .data import make_dataset

        ds = make_dataset(data, cfg, split="train", seed=seed, num_scenes=n)
        images = torch.stack([ds[i]["image"] for i in range(min(n, len(ds)))])
        info["calibration"] = {"data": data, "images": int(images.shape[0])}
    else:
        gen = torch.Generator().manual_seed(seed)
        images = torch.randn(n, cfg.in_chans, *cfg.img_size, generator=gen)
        info["calibration"] = {"data": "randn", "images": n, "seed": seed}
    if numerics == "hw16":
        calibrate(model, images, "hw16")
    else:
        info.pop("calibration")
    return model, images, info


def export_from_cli(
    preset: str,
    out: str | Path,
    *,
    checkpoint: str | None = None,
    numerics: str = "hw16",
    seed: int = 0,
    calib_images: int = 4,
    data: str | None = None,
    golden: bool = False,
) -> Path:
    """What ``edgemoe export-hls`` does: load or build, calibrate hw16, export.

    With ``golden`` the first calibration image and the golden output of every
    task are written to ``golden/`` (for ``hls/tb/tb_main.cpp``).
    """
    model, images, info = prepare_model(
        preset,
        checkpoint=checkpoint,
        numerics=numerics,
        seed=seed,
        calib_images=calib_images,
        data=data,
    )
    golden_image = images[0] if golden else None
    return export_hls(model, numerics, out, checkpoint_info=info, golden_image=golden_image)
