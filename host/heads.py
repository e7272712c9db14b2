"""M3ViT's task up-heads in numpy, from the export's ``heads.npz`` (the board has no torch).

The same computation as ``pymodel.model.UpHead`` in eval mode: drop the cls
token, LayerNorm, reshape to the patch grid, conv3x3 stages (BatchNorm folded
into them by the export) with ReLU and bilinear x2 upsampling between them
(align_corners=False), a conv1x1 to the task's channels and a last bilinear
step to the input size. float32 throughout, as PyTorch computes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ExportError

HEADS = "heads.npz"


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis (biased variance, as torch)."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + np.float32(eps)) * weight + bias


def conv2d(x: np.ndarray, taps: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Stride-1 'same' convolution of (C, H, W); ``taps`` = weight.transpose(2, 3, 0, 1)
    (k, k, O, C), contiguous so that each of the k*k matmuls runs in BLAS."""
    k, _, out_c, _ = taps.shape
    c, h, w = x.shape
    p = k // 2
    xp = np.pad(x, ((0, 0), (p, p), (p, p))) if p else x
    out = np.zeros((out_c, h * w), dtype=np.float32)
    for dy in range(k):
        for dx in range(k):
            patch = np.ascontiguousarray(xp[:, dy : dy + h, dx : dx + w]).reshape(c, h * w)
            out += taps[dy, dx] @ patch
    out += bias[:, None]
    return out.reshape(out_c, h, w)


def _axis_weights(n_in: int, n_out: int) -> tuple:
    """Source indices and weights of bilinear resampling, align_corners=False."""
    scale = n_in / n_out
    src = np.maximum((np.arange(n_out, dtype=np.float64) + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac = (src - i0).astype(np.float32)
    return i0, i1, frac


def resize_bilinear(x: np.ndarray, size: tuple) -> np.ndarray:
    """(C, H, W) -> (C, *size), bilinear with align_corners=False (torch's interpolate)."""
    _, h, w = x.shape
    oh, ow = size
    if (h, w) == (oh, ow):
        return x
    y0, y1, fy = _axis_weights(h, oh)
    x0, x1, fx = _axis_weights(w, ow)
    rows = x[:, y0, :] * (1 - fy)[None, :, None] + x[:, y1, :] * fy[None, :, None]
    return rows[:, :, x0] * (1 - fx)[None, None, :] + rows[:, :, x1] * fx[None, None, :]


class Heads:
    """Every task's head of one export (see :meth:`open`); ``run(tokens, task)``."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.arrays = arrays
        self.meta = meta
        self.tasks = list(meta["tasks"])

    @classmethod
    def open(cls, path: str | Path) -> Heads:
        """Read ``heads.npz`` (written by ``pymodel.export.heads``)."""
        path = Path(path)
        if path.is_dir():
            path = path / HEADS
        if not path.is_file():
            raise ExportError(f"{path} not found: re-export to get the task heads")
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop("meta")))
        if meta.get("version") != 1:
            raise ExportError(f"{path}: heads version {meta.get('version')} is not supported")
        for k, v in arrays.items():
            v = v.astype(np.float32)
            arrays[k] = np.ascontiguousarray(v.transpose(2, 3, 0, 1)) if v.ndim == 4 else v
        return cls(arrays, meta)

    def run(self, tokens: np.ndarray, task: str) -> np.ndarray:
        """Final tokens (1+N, D) -> the task's prediction (channels, H, W), float32."""
        if task not in self.tasks:
            raise ExportError(f"no head for task {task!r} (heads: {self.tasks})")
        a = self.arrays
        m = self.meta
        gh, gw = m["grid"]
        x = np.asarray(tokens, dtype=np.float32)[1:]
        if x.shape[0] != gh * gw:
            raise ValueError(f"tokens {tokens.shape}: expected 1 + {gh}x{gw} rows")
        x = layer_norm(x, a[f"{task}/norm.weight"], a[f"{task}/norm.bias"], m["ln_eps"])
        x = np.ascontiguousarray(x.T.reshape(-1, gh, gw))
        stages = m["stages"]
        upsample = m["num_convs"] == 4
        for i in range(stages):
            x = np.maximum(conv2d(x, a[f"{task}/conv_{i}.weight"], a[f"{task}/conv_{i}.bias"]), 0)
            if upsample and i < stages - 1:
                x = resize_bilinear(x, (2 * x.shape[1], 2 * x.shape[2]))
        x = conv2d(x, a[f"{task}/conv_{stages}.weight"], a[f"{task}/conv_{stages}.bias"])
        if upsample:
            x = resize_bilinear(x, (2 * x.shape[1], 2 * x.shape[2]))
        return resize_bilinear(x, tuple(m["img_size"])).astype(np.float32)
