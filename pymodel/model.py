"""The float golden model of M3ViT: ViT backbone with task-gated MoE, and up-heads.

Module and parameter names follow the official M3ViT code, so an official
state dict (less its ``module.`` prefix) loads as it is:
``backbone.patch_embed.proj``, ``backbone.cls_token``, ``backbone.pos_embed``,
``backbone.blocks.{i}.{norm1,attn.qkv,attn.proj,norm2}``, dense
``mlp.fc1/fc2``, MoE ``mlp.experts.htoh4/h4toh`` and ``mlp.gate[.{t}].w_gate``,
``backbone.gate_task_represent.*`` and ``decoders.{task}.{norm,conv_i,syncbn_fc_i}``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig, get_config
from .moe import MOE_PATHS, MoE, RoutingStats


class PatchEmbed(nn.Module):
    """Conv stem: patch x patch convolution with stride patch."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.img_size = cfg.img_size
        self.proj = nn.Conv2d(cfg.in_chans, cfg.dim, cfg.patch_size, stride=cfg.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.img_size:
            raise ValueError(
                f"input image size {tuple(x.shape[-2:])} does not match the model's "
                f"img_size {self.img_size}"
            )
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with a qkv bias."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=cfg.qkv_bias)
        self.proj = nn.Linear(cfg.dim, cfg.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = (
            self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        )
        x = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(d)) v
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    """Dense MLP: fc1 -> GELU -> fc2."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class TaskEmbedding(nn.Module):
    """M3ViT's task representation: one-hot -> Linear -> GELU -> Linear -> LayerNorm."""

    def __init__(self, num_tasks: int, dim: int, eps: float) -> None:
        super().__init__()
        self.num_tasks = num_tasks
        self.fc1 = nn.Linear(num_tasks, dim)
        self.fc2 = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, task_id: int) -> torch.Tensor:
        onehot = torch.zeros(1, self.num_tasks, device=self.fc1.weight.device)
        onehot[0, task_id] = 1.0
        return self.norm(self.fc2(F.gelu(self.fc1(onehot))))


class Block(nn.Module):
    """Pre-norm transformer block; its MLP is dense or a mixture of experts."""

    def __init__(self, cfg: ModelConfig, moe: bool) -> None:
        super().__init__()
        self.moe = moe
        self.norm1 = nn.LayerNorm(cfg.dim, eps=cfg.ln_eps)
        self.attn = Attention(cfg)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=cfg.ln_eps)
        self.drop = nn.Dropout(cfg.dropout)
        self.mlp: nn.Module
        if moe:
            self.mlp = MoE(
                cfg.dim,
                cfg.expert_hidden,
                cfg.num_experts,
                cfg.top_k,
                cfg.router,
                cfg.num_tasks,
                cfg.gate_in_dim,
                cfg.renormalize_gates,
                cfg.gate_noise_std,
            )
        else:
            self.mlp = Mlp(cfg.dim, cfg.mlp_hidden)

    def forward(
        self, x: torch.Tensor, task_id: int, task_feature: torch.Tensor | None
    ) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x)))
        h = self.norm2(x)
        h = self.mlp(h, task_id, task_feature) if self.moe else self.mlp(h)
        return x + self.drop(h)


class Backbone(nn.Module):
    """ViT backbone with MoE blocks; returns the final tokens (no final norm)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_tokens, cfg.dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.pos_drop = nn.Dropout(cfg.dropout)
        if cfg.router == "task":
            self.gate_task_represent = TaskEmbedding(cfg.num_tasks, cfg.task_embed_dim, cfg.ln_eps)
        moe = set(cfg.moe_blocks)
        self.blocks = nn.ModuleList(Block(cfg, i in moe) for i in range(cfg.depth))
        for name, m in self.named_modules():
            if isinstance(m, nn.Linear) and not name.startswith("gate_task_represent"):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def moe_layers(self) -> list[tuple[int, MoE]]:
        return [(i, b.mlp) for i, b in enumerate(self.blocks) if b.moe]

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Patch embedding, cls token and position embedding: (B, 1+N, dim)."""
        x = self.patch_embed(images)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.pos_drop(x + self.pos_embed)

    def forward(self, images: torch.Tensor, task: str | int = 0) -> torch.Tensor:
        """Final tokens (B, 1+N, dim) for ``task`` (name or index)."""
        task_id = self.cfg.task_index(task)
        feature = self.gate_task_represent(task_id) if self.cfg.router == "task" else None
        x = self.embed(images)
        for blk in self.blocks:
            x = blk(x, task_id, feature)
        return x

    def balance_loss(self) -> torch.Tensor:
        """Weighted sum of the MoE load-balancing losses of the last training forward."""
        losses = [m.aux_loss for _, m in self.moe_layers() if m.aux_loss is not None]
        if not losses:
            return self.pos_embed.new_zeros(())
        return self.cfg.balance_loss_weight * torch.stack(losses).sum()


class UpHead(nn.Module):
    """M3ViT's ``VisionTransformerUpHead`` with (conv stages, upsampling steps) = (4, 4) or (2, 1).

    (4, 4): drop cls, LayerNorm, reshape to the patch grid, four conv3x3-BN-ReLU
    stages with bilinear x2 between them, conv1x1 to the task's channels,
    bilinear x2 (x16 in all). (2, 1): LayerNorm, conv3x3 -> BN -> ReLU, conv1x1,
    one bilinear upsample to the input size. Bilinear uses align_corners=False.
    """

    def __init__(self, cfg: ModelConfig, out_channels: int) -> None:
        super().__init__()
        self.grid, self.img_size = cfg.grid, cfg.img_size
        self.num_convs = cfg.head_convs
        ch = cfg.head_channels
        self.norm = nn.LayerNorm(cfg.dim, eps=cfg.ln_eps)
        # num_conv=4 in the official head means four conv3x3-BN stages plus the
        # final conv1x1 (conv_0..conv_4); num_conv=2 means one stage plus conv_1.
        stages = head_stages(cfg.head_convs)
        for i in range(stages):
            setattr(self, f"conv_{i}", nn.Conv2d(cfg.dim if i == 0 else ch, ch, 3, padding=1))
            setattr(self, f"syncbn_fc_{i}", nn.BatchNorm2d(ch))
        setattr(self, f"conv_{stages}", nn.Conv2d(ch, out_channels, 1))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.norm(tokens[:, 1:])
        b, _, c = x.shape
        x = x.transpose(1, 2).reshape(b, c, *self.grid)
        stages = head_stages(self.num_convs)
        for i in range(stages):
            x = F.relu(getattr(self, f"syncbn_fc_{i}")(getattr(self, f"conv_{i}")(x)))
            if self.num_convs == 4 and i < stages - 1:
                x = _up2(x)
        x = getattr(self, f"conv_{stages}")(x)
        if self.num_convs == 4:
            return _up2(x)
        return F.interpolate(x, size=self.img_size, mode="bilinear", align_corners=False)


def head_stages(num_convs: int) -> int:
    """conv3x3-BN-ReLU stages of the official up-head with ``num_conv`` = 4 or 2."""
    return 4 if num_convs == 4 else 1


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class M3ViT(nn.Module):
    """Multi-task M3ViT: shared MoE backbone, one up-head per task.

    ``model(images, task)`` returns that task's prediction (B, C, H, W) at the
    input resolution; ``model.backbone(images, task)`` the final tokens.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = Backbone(cfg)
        self.decoders = nn.ModuleDict({t: UpHead(cfg, cfg.task_channels[t]) for t in cfg.tasks})

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.cfg.tasks

    def set_moe_path(self, path: str) -> M3ViT:
        """Choose the MoE execution order: ``"expert"`` (default) or ``"token"``."""
        if path not in MOE_PATHS:
            raise ValueError(f"unknown MoE path {path!r}; use one of {MOE_PATHS}")
        for _, m in self.backbone.moe_layers():
            m.path = path
        return self

    def forward(
        self, images: torch.Tensor, task: str | int = 0, numerics: Any = None
    ) -> torch.Tensor:
        """Task prediction at the input resolution.

        ``numerics`` (a preset name or :class:`~pymodel.numerics.NumericsPreset`)
        runs the backbone in that arithmetic (``float``, ``approx``,
        ``edgemoe``, ``hw16``); the head then runs in float on its output.
        """
        name = self.cfg.tasks[self.cfg.task_index(task)]
        if numerics is None or numerics == "float":
            tokens = self.backbone(images, task)
        else:
            from .numerics.forward import backbone_forward

            tokens = backbone_forward(self, images, task, numerics).tokens.to(images.dtype)
        out = self.decoders[name](tokens)
        if tuple(out.shape[-2:]) != tuple(images.shape[-2:]):
            out = F.interpolate(out, size=images.shape[-2:], mode="bilinear", align_corners=False)
        return out

    @torch.no_grad()
    def routing(
        self,
        images: torch.Tensor,
        task: str | int = 0,
        *,
        weight_bytes: float = 2.0,
        cache_experts: int = 1,
    ) -> RoutingStats:
        """Run the backbone and return its routing statistics per MoE layer.

        ``weight_bytes`` is the storage per expert parameter (2 for 16-bit);
        ``cache_experts`` the on-chip expert cache of the token-major order.
        """
        self.backbone(images, task)
        return RoutingStats(
            [
                m.routing_stats(i, images.shape[0], weight_bytes, cache_experts)
                for i, m in self.backbone.moe_layers()
            ]
        )

    def config_dict(self) -> dict[str, Any]:
        return self.cfg.to_dict()


def build_model(
    spec: str | ModelConfig | dict = "tiny", *, seed: int | None = None, **overrides: Any
) -> M3ViT:
    """Build a randomly initialised model from a preset name, a config file, a dict
    or a :class:`ModelConfig`, with optional field overrides.

    ``seed`` makes the initialisation reproducible without touching global RNG state.
    """
    cfg = get_config(spec, **overrides)
    if seed is None:
        return M3ViT(cfg).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return M3ViT(cfg).eval()


def perturb_untrained(model: M3ViT, seed: int) -> M3ViT:
    """Give an untrained model non-trivial biases, norm gains, embeddings and
    BatchNorm statistics, in place (seeded; returns ``model``).

    The default initialisation has zero biases, unit LayerNorm gains and zero
    embeddings, which hide alignment and rounding bugs in an export; tests,
    ``make csim`` and the simulated board use this instead of the bare init.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            if name.endswith("bias"):
                p.copy_(0.05 * r)
            elif ("norm" in name or "syncbn" in name) and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * r)
            elif name.endswith(("cls_token", "pos_embed")):
                p.copy_(0.1 * r)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.1 * torch.randn(b.shape, generator=g))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))
    return model


def resize_pos_embed(
    pos_embed: torch.Tensor, src_grid: tuple[int, int], dst_grid: tuple[int, int]
) -> torch.Tensor:
    """Bilinearly resize a (1, 1+h*w, D) position embedding to another grid, cls kept."""
    if tuple(src_grid) == tuple(dst_grid):
        return pos_embed
    cls, grid = pos_embed[:, :1], pos_embed[:, 1:]
    d = grid.shape[-1]
    if grid.shape[1] != src_grid[0] * src_grid[1]:
        raise ValueError(
            f"pos_embed has {grid.shape[1]} patch positions, not {src_grid[0]}x{src_grid[1]}"
        )
    grid = grid.reshape(1, *src_grid, d).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=tuple(dst_grid), mode="bilinear", align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, -1, d).to(pos_embed.dtype)
    return torch.cat([cls, grid], dim=1)
