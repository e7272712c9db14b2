"""Checkpoints: the official M3ViT format, plain state dicts, and our own.

:func:`load_checkpoint` accepts

(a) the official on-disk format: a directory (named like ``best_model.pth.tar``)
    of per-rank files ``0.pth``, ``1.pth``, ... each a dict with a
    ``state_dict`` whose keys carry a ``module.`` prefix. Rank 0 holds every
    tensor but only its slice of the experts (``mlp.experts.htoh4/h4toh``);
    the other ranks hold their expert slices, concatenated on dim 0 in rank
    order. ``tam_model*`` keys are training-only and dropped.
(b) a single-file state dict (optionally inside ``{"state_dict": ...}``), with
    or without the ``module.`` prefix;
(c) our own checkpoint (:func:`save_checkpoint`), which stores its config.

Everything the tensor shapes determine is inferred (dim, depth, MoE blocks,
experts, expert hidden, tasks and head channels, router kind, head layout,
token count); what they cannot is asked for as keyword hints (``num_heads``,
``top_k``, ``img_size=(H, W)`` where the grid is not square, ``tasks=[...]``
where the checkpoint has no heads to name them), or taken from ``preset=``.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .config import HEAD_LAYOUTS, PRESETS, ConfigError, ModelConfig, get_config
from .model import M3ViT, resize_pos_embed

FORMAT = "edgemoe-checkpoint"
FORMAT_VERSION = 1
_EXPERT_KEY = re.compile(r"^backbone\.blocks\.(\d+)\.mlp\.experts\.(htoh4|h4toh)\.(weight|bias)$")
_HINTS_NOT_FIELDS = {"preset", "pos_grid", "allow_pickle"}


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message says why."""


# --------------------------------------------------------------------- saving
def save_checkpoint(model: M3ViT, path: str | Path, **extra: Any) -> Path:
    """Save ``model`` with its config (format (c)); ``extra`` entries are stored alongside
    (e.g. ``numerics=``, ``optimizer=``, ``epoch=``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "config": model.cfg.to_dict(),
        "state_dict": model.state_dict(),
        **extra,
    }
    torch.save(payload, path)
    return path


# -------------------------------------------------------------------- reading
def read_file(path: str | Path, allow_pickle: bool = False) -> Any:
    """``torch.load`` of one file on the CPU, failing with a one-line :class:`CheckpointError`
    (missing, empty, not a PyTorch file, truncated or corrupt, or holding pickled objects
    that ``allow_pickle=False`` refuses) instead of torch's multi-paragraph message."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of junk files
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except Exception as exc:  # torch raises several types for corrupt or unsafe pickles
        reason = _load_failure(path, exc, allow_pickle)
        raise CheckpointError(f"cannot read checkpoint {path}: {reason}") from None


_UNSAFE_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")


def _load_failure(path: Path, exc: Exception, allow_pickle: bool) -> str:
    """One line saying why ``torch.load`` failed (its own messages run to paragraphs)."""
    unsafe = _UNSAFE_GLOBAL.search(str(exc))
    if unsafe and not allow_pickle:
        return (
            f"it holds a non-tensor object ({unsafe.group(1)}); "
            "if you trust the file, pass allow_pickle=True"
        )
    with path.open("rb") as f:
        head = f.read(2)
    if not head:
        return "the file is empty"
    # torch.save writes a zip archive (torch >= 1.6) or, legacy, a pickle (first byte 0x80).
    if head != b"PK" and head[:1] != b"\x80":
        return "not a PyTorch checkpoint (neither a zip archive nor a pickle)"
    text = str(exc)
    _, marker, after = text.partition("WeightsUnpickler error:")
    lines = [ln.strip() for ln in (after if marker else text).splitlines() if ln.strip()]
    detail = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    if len(detail) > 100:
        detail = detail[:97] + "..."
    return f"truncated or corrupt ({detail})"


def _state_dict_of(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    if isinstance(obj, Mapping) and "model" in obj and isinstance(obj["model"], Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"{path} holds no state dict")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: state dict entries that are not tensors: {bad[:5]}")
    return OrderedDict((str(k), v) for k, v in obj.items())


def _strip(sd: Mapping[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """Drop the DataParallel ``module.`` prefix and training-only ``tam_model*`` keys."""
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for k, v in sd.items():
        k = k[len("module.") :] if k.startswith("module.") else k
        if k.startswith("tam_model"):
            continue
        out[k] = v
    return out


def _merge_ranks(
    rank_dicts: list[OrderedDict[str, torch.Tensor]], files: list[Path]
) -> OrderedDict[str, torch.Tensor]:
    """Rank 0's tensors, with each expert tensor concatenated over ranks on dim 0.

    Non-expert tensors on other ranks are replicas of rank 0's and are ignored.
    """
    merged = OrderedDict(rank_dicts[0])
    expert_keys = [k for k in merged if _EXPERT_KEY.match(k)]
    for rank, (sd, f) in enumerate(zip(rank_dicts[1:], files[1:]), start=1):
        missing = [k for k in expert_keys if k not in sd]
        if missing:
            raise CheckpointError(f"rank {rank} ({f}) lacks expert tensors: {missing[:4]}")
        extra = [k for k in sd if _EXPERT_KEY.match(k) and k not in merged]
        if extra:
            raise CheckpointError(f"rank {rank} ({f}) has expert tensors rank 0 lacks: {extra[:4]}")
    for k in expert_keys:
        parts = [sd[k] for sd in rank_dicts]
        shapes = {tuple(p.shape[1:]) for p in parts}
        if len(shapes) != 1:
            raise CheckpointError(
                f"expert tensor {k} has different shapes across ranks: "
                f"{[tuple(p.shape) for p in parts]}"
            )
        merged[k] = torch.cat(parts, dim=0)
    return merged


def read_state_dict(
    path: str | Path, allow_pickle: bool = False
) -> tuple[OrderedDict[str, torch.Tensor], dict[str, Any] | None]:
    """Read any supported format into (state dict without prefixes, stored config or None)."""
    path = Path(path)
    if path.is_dir():
        ranks = {}
        for f in path.iterdir():
            if re.fullmatch(r"\d+\.pth", f.name):
                ranks[int(f.stem)] = f
        if not ranks:
            raise CheckpointError(
                f"{path} is a directory without rank files 0.pth, 1.pth, ... "
                "(the official M3ViT checkpoint layout)"
            )
        if sorted(ranks) != list(range(len(ranks))):
            raise CheckpointError(
                f"{path}: rank files are not numbered 0..{len(ranks) - 1}: "
                f"{sorted(f.name for f in ranks.values())}"
            )
        files = [ranks[r] for r in range(len(ranks))]
        dicts = [_strip(_state_dict_of(read_file(f, allow_pickle), f)) for f in files]
        return _merge_ranks(dicts, files), None
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    obj = read_file(path, allow_pickle)
    if isinstance(obj, Mapping) and obj.get("format") == FORMAT:
        if obj.get("version") != FORMAT_VERSION:
            raise CheckpointError(
                f"{path}: checkpoint format version {obj.get('version')} is not supported "
                f"(this package reads version {FORMAT_VERSION})"
            )
        return _strip(_state_dict_of(obj, path)), dict(obj["config"])
    return _strip(_state_dict_of(obj, path)), None


# ------------------------------------------------------------------ inference
def infer_config(sd: Mapping[str, torch.Tensor], **hints: Any) -> ModelConfig:
    """Config of a state dict (keys without ``module.``): shapes plus hints.

    Hints are :class:`ModelConfig` fields and ``preset=``. A hint that
    contradicts a shape is refused with both values named.
    """

    def need(key: str) -> torch.Tensor:
        if key not in sd:
            raise CheckpointError(f"checkpoint lacks {key!r}; is it an M3ViT model?")
        return sd[key]

    inferred: dict[str, Any] = {}
    source: dict[str, str] = {}

    def put(name: str, value: Any, key: str) -> None:
        inferred[name], source[name] = value, key

    cls = need("backbone.cls_token")
    put("dim", int(cls.shape[-1]), "backbone.cls_token")
    pw = need("backbone.patch_embed.proj.weight")
    put("patch_size", int(pw.shape[-1]), "backbone.patch_embed.proj.weight")
    put("in_chans", int(pw.shape[1]), "backbone.patch_embed.proj.weight")
    blocks = sorted(
        {int(m.group(1)) for k in sd if (m := re.match(r"^backbone\.blocks\.(\d+)\.", k))}
    )
    if not blocks or blocks != list(range(len(blocks))):
        raise CheckpointError(f"checkpoint blocks are not numbered 0..n-1: {blocks}")
    put("depth", len(blocks), "backbone.blocks.*")
    moe = [b for b in blocks if f"backbone.blocks.{b}.mlp.experts.htoh4.weight" in sd]
    put("moe_blocks", tuple(moe), "backbone.blocks.*.mlp.experts")
    put("qkv_bias", "backbone.blocks.0.attn.qkv.bias" in sd, "backbone.blocks.0.attn.qkv.bias")
    dense = [b for b in blocks if b not in moe]
    if dense:
        key = f"backbone.blocks.{dense[0]}.mlp.fc1.weight"
        put("mlp_ratio", need(key).shape[0] / inferred["dim"], key)
    n_gates = 0
    if moe:
        b = moe[0]
        key = f"backbone.blocks.{b}.mlp.experts.htoh4.weight"
        put("expert_hidden", int(sd[key].shape[1]), key)
        put("num_experts", int(sd[key].shape[0]), key)
        prefix = f"backbone.blocks.{b}.mlp.gate."
        gate_keys = [k for k in sd if k.startswith(prefix) and k.endswith("w_gate")]
        multi = sorted(
            int(m.group(1))
            for k in gate_keys
            if (m := re.match(re.escape(prefix) + r"(\d+)\.w_gate$", k))
        )
        if multi:
            put("router", "multi", prefix + "0.w_gate")
            n_gates = len(multi)
            w = sd[prefix + "0.w_gate"]
        elif prefix + "w_gate" in sd:
            w = sd[prefix + "w_gate"]
            router = "task" if "backbone.gate_task_represent.fc1.weight" in sd else "single"
            put("router", router, prefix + "w_gate")
        else:
            raise CheckpointError(f"MoE block {b} has no gate weights ({prefix}[t.]w_gate)")
        if w.shape[1] != inferred["num_experts"]:
            raise CheckpointError(
                f"{prefix}w_gate has {w.shape[1]} experts but {key} has "
                f"{inferred['num_experts']} (missing expert ranks?)"
            )
    if inferred.get("router") == "task":
        fc1 = sd["backbone.gate_task_represent.fc1.weight"]
        put("task_embed_dim", int(fc1.shape[0]), "backbone.gate_task_represent.fc1.weight")
        n_gates = int(fc1.shape[1])

    # Heads: task names in key order, channels and layout from the conv shapes.
    head_tasks: list[str] = []
    for k in sd:
        m = re.match(r"^decoders\.([^.]+)\.", k)
        if m and m.group(1) not in head_tasks:
            head_tasks.append(m.group(1))
    channels, layouts = {}, set()
    for t in head_tasks:
        p = f"decoders.{t}."
        if p + "conv_4.weight" in sd:
            layouts.add((4, 4))
            channels[t] = int(sd[p + "conv_4.weight"].shape[0])
        elif p + "conv_1.weight" in sd and p + "conv_2.weight" not in sd:
            layouts.add((2, 1))
            channels[t] = int(sd[p + "conv_1.weight"].shape[0])
        else:
            raise CheckpointError(
                f"head {t!r} has an unsupported layout (expected conv_0..conv_4 or "
                f"conv_0..conv_1); supported (convs, upsamples): {list(HEAD_LAYOUTS)}"
            )
        put("head_channels", int(need(p + "conv_0.weight").shape[0]), p + "conv_0.weight")
    if len(layouts) > 1:
        raise CheckpointError(f"heads use different layouts: {sorted(layouts)}")
    if layouts:
        convs, ups = layouts.pop()
        put("head_convs", convs, "decoders.*.conv_*")
        put("head_upsamples", ups, "decoders.*.conv_*")

    # Start from the preset (if any), then shapes, then the user's hints.
    preset = hints.pop("preset", None)
    pos_grid = hints.pop("pos_grid", None)
    hints.pop("allow_pickle", None)
    base = get_config(preset).to_dict() if preset else {}
    for name, value in hints.items():
        if name in inferred and not _same(value, inferred[name]):
            raise CheckpointError(
                f"hint {name}={value!r} contradicts the checkpoint: {name}="
                f"{inferred[name]!r} from {source[name]}"
            )
    fields = {**base, **inferred, **hints}

    if "tasks" not in hints:
        if head_tasks:
            fields["tasks"] = tuple(head_tasks)
        elif not (preset and n_gates in (0, len(base.get("tasks", ())))):
            raise CheckpointError(
                "the checkpoint has no task heads to name its tasks: pass the hint "
                f"tasks=[...] ({n_gates or 'any number of'} names, in gate order)"
            )
    tasks = tuple(fields["tasks"]) if not isinstance(fields["tasks"], str) else (fields["tasks"],)
    if head_tasks and set(tasks) != set(head_tasks):
        raise CheckpointError(
            f"hint tasks={list(tasks)} does not match the checkpoint's heads {head_tasks}"
        )
    if n_gates and len(tasks) != n_gates:
        raise CheckpointError(
            f"the checkpoint routes {n_gates} tasks but tasks={list(tasks)} names {len(tasks)}"
        )
    if channels:
        fields["task_channels"] = {t: channels[t] for t in tasks}
    else:
        fields["task_channels"] = {
            t: c for t, c in base.get("task_channels", {}).items() if t in tasks
        }

    # Tokens: the checkpoint fixes the patch count, not the grid's aspect.
    n_patches = int(need("backbone.pos_embed").shape[1]) - 1
    square = math.isqrt(n_patches) ** 2 == n_patches
    if "img_size" not in hints and not preset:
        if not square:
            raise CheckpointError(
                f"the checkpoint has {n_patches} patch positions, not a square grid: pass the "
                "hint img_size=(H, W)"
            )
        side = math.isqrt(n_patches) * fields["patch_size"]
        fields["img_size"] = (side, side)
    for name, needed in (("num_heads", True), ("top_k", bool(moe))):
        if needed and name not in fields:
            raise CheckpointError(
                f"tensor shapes do not determine {name}: pass the hint {name}=... "
                f"(or preset=, one of {list(PRESETS)})"
            )
    fields.pop("name", None)
    fields["name"] = preset or "checkpoint"
    try:
        cfg = ModelConfig(**{k: v for k, v in fields.items() if k not in _HINTS_NOT_FIELDS})
    except TypeError as exc:
        raise CheckpointError(f"unknown hint: {exc}") from None
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint with these hints is not a valid model: {exc}") from None
    if cfg.num_patches != n_patches and pos_grid is None and not square:
        raise CheckpointError(
            f"pos_embed has {n_patches} positions but img_size {cfg.img_size} needs "
            f"{cfg.num_patches}; pass pos_grid=(rows, cols) of the checkpoint's grid to resize"
        )
    return cfg


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


# -------------------------------------------------------------------- loading
def load_checkpoint(path: str | Path, **hints: Any) -> M3ViT:
    """Load any supported checkpoint format into an :class:`M3ViT` in eval mode.

    Hints: ``num_heads``, ``top_k``, ``img_size=(H, W)``, ``tasks=[...]``,
    ``preset=`` (fills every field the shapes do not determine), any other
    :class:`ModelConfig` field, ``pos_grid=(rows, cols)`` for a non-square
    checkpoint grid that must be resized, ``allow_pickle=True`` for trusted
    files holding non-tensor objects. The position embedding is bilinearly
    resized (cls position kept) when ``img_size`` gives another patch grid.
    """
    allow_pickle = bool(hints.get("allow_pickle", False))
    sd, stored = read_state_dict(path, allow_pickle)
    if stored is not None:
        cfg = get_config(stored)
        overrides = {k: v for k, v in hints.items() if k not in _HINTS_NOT_FIELDS}
        if overrides:
            cfg = cfg.replace(**overrides)
        pos_grid = hints.get("pos_grid")
    else:
        cfg = infer_config(sd, **hints)
        pos_grid = hints.get("pos_grid")
    model = M3ViT(cfg)
    pe = sd.get("backbone.pos_embed")
    if pe is not None and pe.shape[1] != cfg.num_tokens:
        n = pe.shape[1] - 1
        src = tuple(pos_grid) if pos_grid is not None else (math.isqrt(n), math.isqrt(n))
        sd["backbone.pos_embed"] = resize_pos_embed(pe, src, cfg.grid)
    _load_strict(model, sd)
    return model.eval()


def _load_strict(model: M3ViT, sd: Mapping[str, torch.Tensor]) -> None:
    """Load every tensor; on any mismatch name the keys and shapes."""
    own = model.state_dict()
    missing = [k for k in own if k not in sd and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in sd if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:8]}" + (" ..." if len(missing) > 8 else ""))
        if unexpected:
            parts.append(
                f"unexpected keys {unexpected[:8]}" + (" ..." if len(unexpected) > 8 else "")
            )
        if shapes:
            parts.append("shape mismatches: " + "; ".join(shapes[:8]))
        raise CheckpointError("checkpoint does not match the model: " + " | ".join(parts))
    full = {k: sd.get(k, own[k]) for k in own}
    model.load_state_dict(full, strict=True)
