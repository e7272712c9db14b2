"""Where everything lives: the params image (descriptor, tables, weights) and the io scratch.

The unit of every offset is one 128-bit AXI beat (16 bytes). A matrix (out,
in) is stored row by row, each row padded to whole beats, so that a tile of
output rows is one contiguous burst. A weight matrix whose format is at most 8
bits wide is stored as 8-bit words (16 per beat: half the DDR traffic of the
weight ports), any other as 16-bit words; biases and norm parameters are
16-bit words; the position embedding, cls token and task features are
activation words (``act_w`` = 16 or 32 bits). The io image holds the input
image (``io_in``) and the residual stream / output tokens (``io_x``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import PRESETS as MODEL_PRESETS
from ..config import ModelConfig
from ..numerics.fixed import FixedFormat
from ..numerics.hwmath import SPEC, tables
from .descriptor import GLOBAL_FIELDS, HlsExportError, block_fields, check_config
from .design import HlsMaxima
from .tensors import BLOCK_TENSORS

BEAT_BYTES = 16
WEIGHT_W = 16

#: io regions in order: the input image and the residual stream (output tokens).
IO_REGIONS = ("io_in", "io_x")


@dataclass
class Layout:
    """Offsets (beats) of the params image and of the io scratch regions."""

    act_w: int
    globals: dict[str, int]
    blocks: list[dict[str, int]]
    params_beats: int
    io: dict[str, int]
    io_beats: int
    tensors: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (offset, beats)
    matrices: set[str] = field(default_factory=set)  # weight matrices (8- or 16-bit words)


class ParamsImage:
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


def beats(n: int, per_beat: int) -> int:
    """Beats holding ``n`` words at ``per_beat`` words per beat."""
    return -(-n // per_beat)


def pack_rows(raw: np.ndarray, width: int, fmt: FixedFormat | None = None) -> bytes:
    """(rows, n) raw integers as little-endian words of ``width`` bits, rows padded to beats."""
    raw = np.asarray(raw, dtype=np.int64)
    if raw.ndim == 1:
        raw = raw[None]
    per = 128 // width
    rows, n = raw.shape
    padded = np.zeros((rows, beats(n, per) * per), dtype=np.int64)
    padded[:, :n] = raw
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if padded.size and (padded.min() < lo or padded.max() > hi):
        raise HlsExportError(f"raw values do not fit {width}-bit words ({fmt})")
    dtype = {8: "<i1", 16: "<i2", 32: "<i4"}[width]
    return padded.astype(dtype).tobytes()


def storage_bits(fmt: FixedFormat | None) -> int:
    """Word width of a weight matrix in DDR: 8 bits when its format fits, else 16."""
    return 8 if fmt is not None and fmt.width <= 8 else WEIGHT_W


def plan_layout(
    cfg: ModelConfig,
    act_w: int,
    max_tasks: int | None = None,
    fmts: Mapping[str, FixedFormat] | None = None,
) -> tuple[Layout, ParamsImage]:
    """Offsets of every region for ``cfg`` at activation width ``act_w`` (no data yet).

    ``fmts`` (tensor name -> format) decides which matrices are stored as 8-bit
    words; without it every weight is 16-bit (the largest image).
    """
    apw, wpw = 128 // act_w, 128 // WEIGHT_W
    img = ParamsImage()
    g: dict[str, int] = {}
    img.reserve(beats(len(GLOBAL_FIELDS), 4), "descriptor.global")
    block_beats = beats(len(block_fields(max_tasks or HlsMaxima().tasks)), 4)
    g["off_blocks"] = img.reserve(block_beats * cfg.depth, "descriptor.blocks")
    g["block_beats"] = block_beats
    for name, values in tables(SPEC).items():
        g[f"off_{name}"] = img.reserve(beats(len(values), 4), f"table.{name}")

    def mat(name: str, rows: int, cols: int, matrix: bool = False) -> int:
        # Weight matrices stream through the weight ports (8- or 16-bit words);
        # vectors (biases, norms) are read as 16-bit words.
        per = 128 // storage_bits((fmts or {}).get(name)) if matrix else wpw
        if matrix:
            matrices.add(name)
        return img.reserve(rows * beats(cols, per), name)

    matrices: set[str] = set()

    def actv(name: str, rows: int, cols: int) -> int:
        return img.reserve(rows * beats(cols, apw), name)

    d, pin = cfg.dim, cfg.in_chans * cfg.patch_size**2
    g["off_patch_w"] = mat("patch.w", d, pin, matrix=True)
    g["off_patch_b"] = mat("patch.b", 1, d)
    g["off_cls"] = actv("cls", 1, d)
    g["off_pos"] = actv("pos", cfg.num_tokens, d)
    blocks: list[dict[str, int]] = []
    n_gates = cfg.num_tasks if cfg.router == "multi" else 1
    for i in range(cfg.depth):
        p = f"blocks.{i}."
        moe = i in cfg.moe_blocks
        b: dict[str, int] = {}
        for t in BLOCK_TENSORS:
            if t.key == "htoh4_w" and moe:  # router tensors come before the experts
                for task in range(n_gates):
                    b[f"off_gate_w_{task}"] = mat(
                        p + f"mlp.gate.{task}", cfg.num_experts, cfg.gate_in_dim, matrix=True
                    )
                if cfg.router == "task":
                    for task in range(cfg.num_tasks):
                        b[f"off_feature_{task}"] = actv(
                            p + f"task_feature.{task}", 1, cfg.task_embed_dim
                        )
            if t.stored and t.applies(moe):
                b[f"off_{t.key}"] = mat(p + t.name, *t.shape(cfg), matrix=t.kind == "w")
        blocks.append(b)
    io: dict[str, int] = {}
    pos = 0
    for name, (rows, cols) in io_shapes(cfg).items():
        io[name] = pos
        pos += rows * beats(cols, apw)
    return Layout(act_w, g, blocks, img.beats, io, pos, img.tensors, matrices), img


def io_shapes(cfg: ModelConfig) -> dict[str, tuple[int, int]]:
    """(rows, cols) of every io scratch region; rows are padded to whole beats in DDR."""
    shapes = {
        "io_in": (cfg.in_chans * cfg.img_size[0], cfg.img_size[1]),
        "io_x": (cfg.num_tokens, cfg.dim),
    }
    assert tuple(shapes) == IO_REGIONS
    return shapes


def image_sizes(cfg: ModelConfig, act_w: int) -> tuple[int, int]:
    """(params beats, io beats) of ``cfg`` at activation width ``act_w``."""
    layout, _ = plan_layout(cfg, act_w)
    return layout.params_beats, layout.io_beats


def axi_depths(maxima: HlsMaxima, act_w: int) -> dict[str, Any]:
    """Default m_axi depths (beats): the largest model preset that fits the maxima.

    An export overrides them with its own sizes (``-DPARAMS_DEPTH=... -DIO_DEPTH=...``,
    see :func:`pymodel.export.header.depth_defines`) so that cosimulation moves
    only that model's bytes.
    """
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
