"""The task heads for the host: float32 weights of every up-head in ``heads.npz``.

The accelerator runs the backbone; the board's host runs each task's M3ViT
up-head in numpy (:mod:`host.heads`; a PYNQ image has no torch). The heads are
stored with BatchNorm folded into the conv3x3 stages (eval mode: running
statistics), so a stage is conv -> ReLU. Keys: ``<task>/norm.weight``,
``<task>/norm.bias``, ``<task>/conv_<i>.weight`` (out, in, k, k) and
``<task>/conv_<i>.bias`` for the stages and the final conv1x1, plus ``meta``,
a JSON string: ``{"version", "tasks", "channels", "grid", "img_size",
"ln_eps", "num_convs", "stages"}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..model import head_stages

HEADS = "heads.npz"
HEADS_VERSION = 1


def fold_bn(conv: torch.nn.Conv2d, bn: torch.nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """conv followed by eval-mode BatchNorm as one conv: (weight, bias) in float64."""
    w = conv.weight.detach().double()
    b = conv.bias.detach().double() if conv.bias is not None else torch.zeros(w.shape[0]).double()
    scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
    bias = (b - bn.running_mean.double()) * scale + bn.bias.detach().double()
    return (w * scale[:, None, None, None]).numpy(), bias.numpy()


def write_heads(model, out_dir: str | Path) -> Path:
    """Write ``heads.npz`` (every task's up-head, BN folded, float32) into ``out_dir``."""
    cfg = model.cfg
    stages = head_stages(cfg.head_convs)
    arrays: dict[str, np.ndarray] = {}
    for task in cfg.tasks:
        head = model.decoders[task]
        arrays[f"{task}/norm.weight"] = head.norm.weight.detach().numpy()
        arrays[f"{task}/norm.bias"] = head.norm.bias.detach().numpy()
        for i in range(stages):
            w, b = fold_bn(getattr(head, f"conv_{i}"), getattr(head, f"syncbn_fc_{i}"))
            arrays[f"{task}/conv_{i}.weight"], arrays[f"{task}/conv_{i}.bias"] = w, b
        last = getattr(head, f"conv_{stages}")
        arrays[f"{task}/conv_{stages}.weight"] = last.weight.detach().numpy()
        arrays[f"{task}/conv_{stages}.bias"] = last.bias.detach().numpy()
    meta = {
        "version": HEADS_VERSION,
        "tasks": list(cfg.tasks),
        "channels": {t: int(cfg.task_channels[t]) for t in cfg.tasks},
        "grid": list(cfg.grid),
        "img_size": list(cfg.img_size),
        "ln_eps": float(cfg.ln_eps),
        "num_convs": int(cfg.head_convs),
        "stages": stages,
    }
    out = Path(out_dir) / HEADS
    np.savez(
        out,
        meta=np.array(json.dumps(meta)),
        **{k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()},
    )
    return out
