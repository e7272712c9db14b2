"""ONNX export of one task's forward (backbone + head), routing inside the graph.

The MoE layers are exported in token-major order with static shapes: the
router's ``TopK`` picks each token's experts and ``Gather`` fetches their
weights, so the graph routes at run time like the model does. (The
expert-major order has data-dependent queue lengths, which ONNX can express
only with loops; the two orders compute the same function.)
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .model import M3ViT


class TaskForward(nn.Module):
    """``images -> model(images, task)`` for one fixed task."""

    def __init__(self, model: M3ViT, task: str | int) -> None:
        super().__init__()
        self.model = model
        self.task_id = model.cfg.task_index(task)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images, self.task_id)


@contextlib.contextmanager
def export_mode(model: M3ViT) -> Iterator[None]:
    """Token-major MoE in one chunk with the TopK operator, restored afterwards."""
    layers = [m for _, m in model.backbone.moe_layers()]
    saved = [(m.path, m.token_chunk, m.use_topk_op) for m in layers]
    try:
        for m in layers:
            m.path, m.token_chunk, m.use_topk_op = "token", 1 << 30, True
        yield
    finally:
        for m, (path, chunk, topk) in zip(layers, saved):
            m.path, m.token_chunk, m.use_topk_op = path, chunk, topk


def export_onnx(
    model: M3ViT,
    task: str | int,
    path: str | Path,
    *,
    batch: int = 1,
    opset: int = 18,
    verbose: bool = False,
) -> Path:
    """Export ``model``'s forward for ``task`` at batch ``batch`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    h, w = model.cfg.img_size
    example = torch.zeros(batch, model.cfg.in_chans, h, w)
    # The dynamo exporter reports its steps on stdout; keep the CLI's output clean.
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with export_mode(model), torch.no_grad(), quiet:
        program = torch.onnx.export(
            TaskForward(model, task).eval(),
            (example,),
            dynamo=True,
            opset_version=opset,
            input_names=["images"],
            output_names=["output"],
            verbose=verbose,
        )
    program.save(str(path))
    return path


def check_onnx(
    model: M3ViT, task: str | int, path: str | Path, *, seed: int = 0, batch: int = 1
) -> dict[str, Any]:
    """Run the exported graph in onnxruntime and compare with PyTorch on random images.

    Returns max abs difference, max abs reference value and the operator types
    found in the graph.
    """
    import onnx
    import onnxruntime as ort

    gen = torch.Generator().manual_seed(seed)
    h, w = model.cfg.img_size
    images = torch.randn(batch, model.cfg.in_chans, h, w, generator=gen)
    with torch.no_grad():
        ref = model.eval()(images, task).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {sess.get_inputs()[0].name: images.numpy()})
    graph = onnx.load(str(path), load_external_data=False)
    ops = sorted(
        {n.op_type for n in graph.graph.node} | {n.op_type for f in graph.functions for n in f.node}
    )
    return {
        "max_abs_diff": float(np.abs(out - ref).max()),
        "max_abs_ref": float(np.abs(ref).max()),
        "output_shape": list(out.shape),
        "ops": ops,
    }
