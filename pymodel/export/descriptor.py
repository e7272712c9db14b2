"""The layer descriptor table at the start of the DDR image: fields, format words, checks.

The kernel reads the global descriptor (model dimensions, formats of the
embedding, offsets of the tables and of every region) and one block
descriptor per transformer block (its tensors' formats and offsets, from
:data:`pymodel.export.tensors.BLOCK_TENSORS`). Every word is 32 bits. The
field lists here are generated into ``edgemoe_config.h`` as enums, so the C++
never hard-codes an index.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..config import ModelConfig
from ..numerics.fixed import OVERFLOW_CODES, QUANT_CODES, FixedFormat
from ..numerics.hwmath import ln_eps_raw as ln_eps_raw  # one owner of the formula
from .design import HlsMaxima
from .tensors import BLOCK_TENSORS, PER_TASK

EXPORT_FORMAT = "edgemoe-hls-export"
EXPORT_VERSION = 2
DESC_MAGIC = 0x454D4F45  # "EMOE"
ROUTERS = {"multi": 0, "single": 1, "task": 2}

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
)


class HlsExportError(ValueError):
    """The model or numerics cannot run on the accelerator as synthesised (message says why)."""


# ------------------------------------------------------------------------- formats
def encode_format(fmt: FixedFormat) -> int:
    """Pack a format into one descriptor word.

    Bits 6:0 width, 15:8 fraction bits (int8), 16 signed, 19:17 quantisation,
    21:20 overflow, 24 present (a zero word is "no format").
    """
    if not -128 <= fmt.frac_bits <= 127:
        raise HlsExportError(f"{fmt}: fraction bits {fmt.frac_bits} outside -128..127")
    if not 1 <= fmt.width <= 127:
        raise HlsExportError(f"{fmt}: width {fmt.width} does not fit the 7-bit width field")
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


def block_fields(max_tasks: int) -> tuple[str, ...]:
    """Names of the 32-bit words of one block descriptor (from the tensor table)."""
    per_task = tuple(f"{prefix}_{t}" for prefix, _ in PER_TASK for t in range(max_tasks))
    return (
        ("moe", "eps1", "eps2")
        + tuple(f"fmt_{t.key}" for t in BLOCK_TENSORS)
        + tuple(f"off_{t.key}" for t in BLOCK_TENSORS if t.stored)
        + per_task
    )


def read_global_descriptor(params: bytes) -> dict[str, int]:
    """The global descriptor of a params image, by field name."""
    words = np.frombuffer(params[: len(GLOBAL_FIELDS) * 4], dtype="<u4")
    return {n: int(v) for n, v in zip(GLOBAL_FIELDS, words)}


_DIM_LIMITS = {
    "tokens": "tokens",
    "dim": "dim",
    "heads": "heads",
    "head_dim": "head_dim",
    "mlp_hidden": "hidden",
    "expert_hidden": "hidden",
    "experts": "experts",
    "top_k": "top_k",
    "tasks": "tasks",
    "depth": "depth",
    "patch_in": "patch_in",
    "gate_in": "gate_in",
}


def config_dims(cfg: ModelConfig) -> dict[str, int]:
    """The descriptor's dimension fields of a model config."""
    return {
        "tokens": cfg.num_tokens,
        "dim": cfg.dim,
        "heads": cfg.num_heads,
        "head_dim": cfg.head_dim,
        "mlp_hidden": cfg.mlp_hidden,
        "expert_hidden": cfg.expert_hidden,
        "experts": cfg.num_experts,
        "top_k": cfg.top_k,
        "tasks": cfg.num_tasks,
        "depth": cfg.depth,
        "patch_in": cfg.in_chans * cfg.patch_size**2,
        "gate_in": cfg.gate_in_dim,
    }


def check_config(cfg: ModelConfig, maxima: HlsMaxima, act_w: int = 32) -> None:
    """Refuse a model that the synthesised engine cannot hold (clear message per field)."""
    apw = 128 // act_w
    for name, value in config_dims(cfg).items():
        limit = getattr(maxima, _DIM_LIMITS[name])
        if value > limit:
            raise HlsExportError(
                f"{cfg.name}: {name}={value} exceeds the synthesis maximum {limit} "
                f"(HlsMaxima.{_DIM_LIMITS[name]})"
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


def validate_descriptor(g: Mapping[str, int], maxima: HlsMaxima) -> None:
    """Check a global descriptor the way the kernel does; raise :class:`HlsExportError`.

    Mirrors ``check_model`` in ``hls/src/edgemoe_top.cpp`` (which reports the
    same refusals through the status register).
    """
    if g["magic"] != DESC_MAGIC or g["version"] != EXPORT_VERSION:
        raise HlsExportError("descriptor: bad magic or version")
    if g["act_w"] not in (16, 32):
        raise HlsExportError(f"descriptor: act_w={g['act_w']} is neither 16 nor 32")
    for name, limit_name in _DIM_LIMITS.items():
        limit = getattr(maxima, limit_name)
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
