"""Checkpoints in the official M3ViT on-disk format, written from its module layout.

Independent of pymodel: key names and tensor layouts follow the official code
(VisionTransformerMoE, FMoETransformerMLP with FMoELinear experts of shape
(experts, out, in), NoisyGate_VMoE's ``w_gate`` of shape (in, experts),
VisionTransformerUpHead with SyncBN ``syncbn_fc_*``), and a functional
reference forward computes the model from those raw tensors.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F


def make_official(
    *,
    dim=32,
    depth=4,
    experts=4,
    hidden=24,
    mlp_hidden=64,
    grid=(3, 4),
    patch=16,
    tasks=(("semseg", 5), ("depth", 1)),
    router="multi",
    head=4,
    head_ch=8,
    task_dim=64,
    seed=0,
) -> dict[str, torch.Tensor]:
    """A full (merged) state dict, keys without the ``module.`` prefix."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=0.2):
        return torch.randn(*shape, generator=g) * scale

    n = grid[0] * grid[1]
    sd: dict[str, torch.Tensor] = {
        "backbone.cls_token": r(1, 1, dim),
        "backbone.pos_embed": r(1, n + 1, dim),
        "backbone.patch_embed.proj.weight": r(dim, 3, patch, patch, scale=0.05),
        "backbone.patch_embed.proj.bias": r(dim),
    }
    if router == "task":
        t = len(tasks)
        sd.update(
            {
                "backbone.gate_task_represent.fc1.weight": r(task_dim, t),
                "backbone.gate_task_represent.fc1.bias": r(task_dim),
                "backbone.gate_task_represent.fc2.weight": r(task_dim, task_dim),
                "backbone.gate_task_represent.fc2.bias": r(task_dim),
                "backbone.gate_task_represent.norm.weight": 1 + r(task_dim),
                "backbone.gate_task_represent.norm.bias": r(task_dim),
            }
        )
    for i in range(depth):
        p = f"backbone.blocks.{i}."
        sd.update(
            {
                p + "norm1.weight": 1 + r(dim),
                p + "norm1.bias": r(dim),
                p + "attn.qkv.weight": r(3 * dim, dim),
                p + "attn.qkv.bias": r(3 * dim),
                p + "attn.proj.weight": r(dim, dim),
                p + "attn.proj.bias": r(dim),
                p + "norm2.weight": 1 + r(dim),
                p + "norm2.bias": r(dim),
            }
        )
        if i % 2 == 0:
            sd.update(
                {
                    p + "mlp.fc1.weight": r(mlp_hidden, dim),
                    p + "mlp.fc1.bias": r(mlp_hidden),
                    p + "mlp.fc2.weight": r(dim, mlp_hidden),
                    p + "mlp.fc2.bias": r(dim),
                }
            )
        else:
            sd.update(
                {
                    p + "mlp.experts.htoh4.weight": r(experts, hidden, dim),
                    p + "mlp.experts.htoh4.bias": r(experts, hidden),
                    p + "mlp.experts.h4toh.weight": r(experts, dim, hidden),
                    p + "mlp.experts.h4toh.bias": r(experts, dim),
                }
            )
            gate_in = dim + (task_dim if router == "task" else 0)
            if router == "multi":
                for t in range(len(tasks)):
                    sd[p + f"mlp.gate.{t}.w_gate"] = r(dim, experts, scale=1.0)
            else:
                sd[p + "mlp.gate.w_gate"] = r(gate_in, experts, scale=1.0)
    for name, ch in tasks:
        p = f"decoders.{name}."
        sd[p + "norm.weight"], sd[p + "norm.bias"] = 1 + r(dim), r(dim)
        stages = 4 if head == 4 else 1
        for s in range(stages):
            cin = dim if s == 0 else head_ch
            sd[p + f"conv_{s}.weight"] = r(head_ch, cin, 3, 3, scale=0.1)
            sd[p + f"conv_{s}.bias"] = r(head_ch)
            sd[p + f"syncbn_fc_{s}.weight"] = 1 + r(head_ch)
            sd[p + f"syncbn_fc_{s}.bias"] = r(head_ch)
            sd[p + f"syncbn_fc_{s}.running_mean"] = r(head_ch)
            sd[p + f"syncbn_fc_{s}.running_var"] = 1 + r(head_ch).abs()
            sd[p + f"syncbn_fc_{s}.num_batches_tracked"] = torch.tensor(100)
        sd[p + f"conv_{stages}.weight"] = r(ch, head_ch, 1, 1)
        sd[p + f"conv_{stages}.bias"] = r(ch)
    return sd


def is_expert_key(k: str) -> bool:
    return ".mlp.experts." in k


def write_official_dir(sd: dict[str, torch.Tensor], root: Path, ranks: int) -> Path:
    """``root/best_model.pth.tar/{rank}.pth``: rank 0 all tensors with its expert slice,
    other ranks their expert slices only; ``module.`` prefixes and ``tam_model*`` keys."""
    d = root / "best_model.pth.tar"
    d.mkdir(parents=True)
    for rank in range(ranks):
        state = {}
        for k, v in sd.items():
            if is_expert_key(k):
                state["module." + k] = v.chunk(ranks, dim=0)[rank].clone()
            elif rank == 0:
                state["module." + k] = v
        if rank == 0:
            state["module.tam_model0.layers0.0.weight"] = torch.zeros(4, 8, 3, 3)
        torch.save({"epoch": 7, "state_dict": state}, d / f"{rank}.pth")
    return d


def reference_forward(
    sd,
    images,
    task: str,
    *,
    num_heads: int,
    top_k: int,
    grid,
    router="multi",
    tasks=("semseg", "depth"),
    head=4,
):
    """The official model's forward, computed from the raw tensors."""
    b = images.shape[0]
    task_id = list(tasks).index(task)
    x = F.conv2d(
        images,
        sd["backbone.patch_embed.proj.weight"],
        sd["backbone.patch_embed.proj.bias"],
        stride=sd["backbone.patch_embed.proj.weight"].shape[-1],
    )
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([sd["backbone.cls_token"].expand(b, -1, -1), x], 1) + sd["backbone.pos_embed"]
    dim = x.shape[-1]
    feat = None
    if router == "task":
        onehot = torch.zeros(1, len(tasks))
        onehot[0, task_id] = 1
        p = "backbone.gate_task_represent."
        h = F.gelu(onehot @ sd[p + "fc1.weight"].T + sd[p + "fc1.bias"])
        h = h @ sd[p + "fc2.weight"].T + sd[p + "fc2.bias"]
        feat = F.layer_norm(h, h.shape[-1:], sd[p + "norm.weight"], sd[p + "norm.bias"], 1e-6)
    i = 0
    while f"backbone.blocks.{i}.norm1.weight" in sd:
        p = f"backbone.blocks.{i}."
        h = F.layer_norm(x, (dim,), sd[p + "norm1.weight"], sd[p + "norm1.bias"], 1e-6)
        qkv = h @ sd[p + "attn.qkv.weight"].T + sd[p + "attn.qkv.bias"]
        qkv = qkv.reshape(b, -1, 3, num_heads, dim // num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = (q @ k.transpose(-2, -1)) * (dim // num_heads) ** -0.5
        h = (a.softmax(-1) @ v).transpose(1, 2).reshape(b, -1, dim)
        x = x + h @ sd[p + "attn.proj.weight"].T + sd[p + "attn.proj.bias"]
        h = F.layer_norm(x, (dim,), sd[p + "norm2.weight"], sd[p + "norm2.bias"], 1e-6)
        if p + "mlp.fc1.weight" in sd:
            h = F.gelu(h @ sd[p + "mlp.fc1.weight"].T + sd[p + "mlp.fc1.bias"])
            x = x + h @ sd[p + "mlp.fc2.weight"].T + sd[p + "mlp.fc2.bias"]
        else:
            flat = h.reshape(-1, dim)
            gin = flat if feat is None else torch.cat([flat, feat.expand(flat.shape[0], -1)], 1)
            w = (
                sd[p + f"mlp.gate.{task_id}.w_gate"]
                if router == "multi"
                else sd[p + "mlp.gate.w_gate"]
            )
            probs = (gin @ w).softmax(-1)
            val, idx = probs.topk(top_k, dim=-1)
            out = torch.zeros_like(flat)
            for slot in range(top_k):
                e = idx[:, slot]
                w1, b1 = sd[p + "mlp.experts.htoh4.weight"][e], sd[p + "mlp.experts.htoh4.bias"][e]
                w2, b2 = sd[p + "mlp.experts.h4toh.weight"][e], sd[p + "mlp.experts.h4toh.bias"][e]
                y = F.gelu(torch.einsum("nhd,nd->nh", w1, flat) + b1)
                y = torch.einsum("ndh,nh->nd", w2, y) + b2
                out += val[:, slot : slot + 1] * y
            x = x + out.reshape(x.shape)
        i += 1
    # Head: drop cls, LayerNorm, grid, conv stages.
    p = f"decoders.{task}."
    h = F.layer_norm(x[:, 1:], (dim,), sd[p + "norm.weight"], sd[p + "norm.bias"], 1e-6)
    h = h.transpose(1, 2).reshape(b, dim, *grid)
    stages = 4 if head == 4 else 1
    for s in range(stages):
        h = F.conv2d(h, sd[p + f"conv_{s}.weight"], sd[p + f"conv_{s}.bias"], padding=1)
        h = F.batch_norm(
            h,
            sd[p + f"syncbn_fc_{s}.running_mean"],
            sd[p + f"syncbn_fc_{s}.running_var"],
            sd[p + f"syncbn_fc_{s}.weight"],
            sd[p + f"syncbn_fc_{s}.bias"],
            False,
            0.0,
            1e-5,
        )
        h = F.relu(h)
        if head == 4 and s < 3:
            h = F.interpolate(
                h, size=(h.shape[-2] * 2, h.shape[-1] * 2), mode="bilinear", align_corners=False
            )
    h = F.conv2d(h, sd[p + f"conv_{stages}.weight"], sd[p + f"conv_{stages}.bias"])
    return F.interpolate(h, size=images.shape[-2:], mode="bilinear", align_corners=False)


def square(n: int) -> bool:
    return math.isqrt(n) ** 2 == n
