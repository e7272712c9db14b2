"""Model summary: parameters, multiply-accumulates per image, weight bytes.

MACs follow the convention under which the official M3ViT-S counts are
31.80 G (backbone) + 51.99 G (semseg head) on PASCAL-Context and 39.20 G +
61.30 G on NYUD-v2: every matrix product and convolution (biases, norms,
softmax, GELU and interpolation not counted), attention's two products, the
router's ``x @ w_gate``, each token's k experts (no capacity limit), and the
gate-weighted combination of the k expert outputs (k*dim per token).
"""

from __future__ import annotations

from typing import Any

import torch

from .config import ModelConfig, get_config
from .model import M3ViT, head_stages


def backbone_macs(cfg: ModelConfig) -> dict[str, int]:
    """MACs of one image through the backbone, by part."""
    t, d = cfg.num_tokens, cfg.dim
    patch = cfg.num_patches * cfg.in_chans * cfg.patch_size**2 * d
    attn_one = t * d * 3 * d + 2 * t * t * d + t * d * d
    dense_one = 2 * t * d * cfg.mlp_hidden
    gate_one = t * cfg.gate_in_dim * cfg.num_experts
    experts_one = t * cfg.top_k * 2 * d * cfg.expert_hidden
    combine_one = t * cfg.top_k * d
    n_moe = len(cfg.moe_blocks)
    task_embed = 0
    if cfg.router == "task":
        e = cfg.task_embed_dim
        task_embed = cfg.num_tasks * e + e * e
    parts = {
        "patch_embed": patch,
        "attention": cfg.depth * attn_one,
        "dense_mlp": (cfg.depth - n_moe) * dense_one,
        "router": n_moe * gate_one + task_embed,
        "experts": n_moe * experts_one,
        "combine": n_moe * combine_one,
    }
    parts["total"] = sum(parts.values())
    return parts


def head_macs(cfg: ModelConfig, task: str) -> int:
    """MACs of one image through ``task``'s up-head."""
    h, w = cfg.grid
    c, d, out = cfg.head_channels, cfg.dim, cfg.task_channels[task]
    stages = head_stages(cfg.head_convs)
    total, pixels = 0, h * w
    for i in range(stages):
        total += pixels * c * (d if i == 0 else c) * 9
        if cfg.head_convs == 4 and i < stages - 1:
            pixels *= 4
    return total + pixels * c * out


def summary(spec: str | ModelConfig, bytes_per_weight: float = 2.0) -> dict[str, Any]:
    """Parameters, MACs per image per task (backbone, head, total) and weight bytes.

    Parameters are counted on the real module tree (built on the meta device, so
    no memory is used); weight bytes assume ``bytes_per_weight`` per parameter
    (2: 16-bit weights).
    """
    cfg = get_config(spec)
    with torch.device("meta"):
        model = M3ViT(cfg)
    backbone = sum(p.numel() for p in model.backbone.parameters())
    heads = {t: sum(p.numel() for p in model.decoders[t].parameters()) for t in cfg.tasks}
    experts = sum(p.numel() for _, m in model.backbone.moe_layers() for p in m.experts.parameters())
    bb = backbone_macs(cfg)
    macs = {}
    for t in cfg.tasks:
        hm = head_macs(cfg, t)
        macs[t] = {"backbone": bb["total"], "head": hm, "total": bb["total"] + hm}
    return {
        "preset": cfg.name,
        "config": cfg.to_dict(),
        "tokens": cfg.num_tokens,
        "params": backbone + sum(heads.values()),
        "params_by_part": {"backbone": backbone, "experts": experts, "heads": heads},
        "macs": macs,
        "backbone_macs_by_part": bb,
        "bytes_per_weight": bytes_per_weight,
        "weight_bytes": int(round((backbone + sum(heads.values())) * bytes_per_weight)),
        "backbone_weight_bytes": int(round(backbone * bytes_per_weight)),
        "expert_weight_bytes": int(round(experts * bytes_per_weight)),
    }


def format_summary(info: dict[str, Any]) -> str:
    """Human-readable table of :func:`summary`."""
    cfg = info["config"]
    lines = [
        f"preset {info['preset']}: img {cfg['img_size'][0]}x{cfg['img_size'][1]}, "
        f"{info['tokens']} tokens, dim {cfg['dim']}, heads {cfg['num_heads']}, "
        f"depth {cfg['depth']}, MoE blocks {cfg['moe_blocks']}, "
        f"{cfg['num_experts']} experts top-{cfg['top_k']} (hidden {cfg['expert_hidden']}), "
        f"router {cfg['router']}",
        f"parameters: {info['params']:,} (backbone {info['params_by_part']['backbone']:,}, "
        f"of which experts {info['params_by_part']['experts']:,})",
        f"weight bytes at {info['bytes_per_weight']:g} B/weight: all {_mb(info['weight_bytes'])}, "
        f"backbone {_mb(info['backbone_weight_bytes'])}, "
        f"experts {_mb(info['expert_weight_bytes'])}",
        "",
    ]
    big = max(m["total"] for m in info["macs"].values()) >= 1e8
    unit, scale = ("GMAC", 1e9) if big else ("MMAC", 1e6)
    lines.append(
        f"{'task':<12} {'channels':>8} {'backbone ' + unit:>14} {'head ' + unit:>10} "
        f"{'total ' + unit:>11}"
    )
    for t, m in info["macs"].items():
        lines.append(
            f"{t:<12} {cfg['task_channels'][t]:>8} {m['backbone'] / scale:>14.2f} "
            f"{m['head'] / scale:>10.2f} {m['total'] / scale:>11.2f}"
        )
    return "\n".join(lines)


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"
