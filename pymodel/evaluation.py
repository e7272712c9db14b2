"""Evaluation: metrics of a model on a dataset, in float or a numerics preset; the benchmark
report of ``edgemoe eval`` (M³ViT's metrics and Δm against the single-task references);
expert utilisation.

On PASCAL-Context and NYUD-v2 the benchmark scores at each image's own
resolution, as M³ViT's evaluation does (it resizes every prediction to the
image's size before scoring): the model sees the image resized to its input,
its prediction is resized back to the label's size (segmentation: the class
map, nearest; other tasks: bilinear), and the labels are the dataset's,
unresized (``native_labels=True`` of the loaders).

Numerics other than ``float`` run the backbone in the golden model's
arithmetic (:mod:`pymodel.numerics`), on the CPU; ``hw16`` is first
calibrated on training images.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .checkpoint import load_checkpoint
from .data import collate, make_dataset, parse_data_spec
from .metrics import (
    PUBLISHED_M3VIT_S,
    REFERENCES_SOURCE,
    SINGLE_TASK_REFERENCES,
    MultiTaskMeter,
    delta_m_vs_single_task,
)
from .model import M3ViT

NUMERICS = ("float", "approx", "edgemoe", "hw16")
_SEGMENTATION = ("semseg", "human_parts")


class DeviceError(ValueError):
    """A device that cannot be used; the message says why."""


def resolve_device(device: str | torch.device) -> torch.device:
    """A torch device; asking for CUDA without a usable GPU is a clear error."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            f"device {str(device)!r} requested but no CUDA GPU is available "
            "(torch.cuda.is_available() is False); use --device cpu"
        )
    if dev.type not in ("cpu", "cuda"):
        raise DeviceError(f"unsupported device {str(device)!r}; use cpu or cuda")
    return dev


def to_device(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    """The batch with its tensors on ``device`` (other entries as they are)."""
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
        for k, v in batch.items()
    }


@torch.no_grad()
def predict(
    model: M3ViT, images: torch.Tensor, tasks: Sequence[str], numerics: Any = None
) -> dict[str, torch.Tensor]:
    """Raw head outputs of ``tasks`` for a batch of images; ``numerics`` (a preset name
    or object) is passed to the model's forward when given."""
    if numerics is None:
        return {t: model(images, t) for t in tasks}
    return {t: model(images, t, numerics=numerics) for t in tasks}


def to_label_size(task: str, pred: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A (1, C, h, w) prediction at a label's size: segmentation as the class map
    (nearest, (1, H, W)), other tasks bilinearly (raw outputs)."""
    if task in _SEGMENTATION:
        labels = pred.argmax(1, keepdim=True).float()
        return F.interpolate(labels, size=size, mode="nearest")[:, 0].long()
    return F.interpolate(pred.float(), size=size, mode="bilinear", align_corners=False)


@torch.no_grad()
def evaluate(
    model: M3ViT,
    dataset: Any,
    tasks: Sequence[str] | None = None,
    batch: int = 16,
    device: str | torch.device = "cpu",
    max_batches: int | None = None,
    numerics: Any = None,
    progress: bool = False,
) -> dict[str, dict[str, Any]]:
    """Metrics per task (:mod:`pymodel.metrics`) of ``model`` in eval mode on ``dataset``.

    ``numerics`` selects the backbone arithmetic (e.g. ``"approx"``) where the
    model's forward supports it; None is the float model. Labels whose size
    differs from the prediction's (native-resolution datasets) are scored
    per image with the prediction resized to them (:func:`to_label_size`).
    """
    dev = resolve_device(device)
    tasks = tuple(tasks or model.cfg.tasks)
    was_training = model.training
    model.to(dev).eval()
    meter = MultiTaskMeter(tasks, model.cfg.task_channels)
    starts = list(range(0, len(dataset), batch))[:max_batches]
    try:
        for start in tqdm(starts, desc="eval", unit="batch", disable=not progress):
            idx = range(start, min(start + batch, len(dataset)))
            b = to_device(collate([dataset[i] for i in idx]), dev)
            out = predict(model, b["image"], tasks, numerics)
            if all(
                isinstance(b[t], torch.Tensor) and b[t].shape[-2:] == out[t].shape[-2:]
                for t in tasks
            ):
                meter.update(out, b)
                continue
            for i in range(len(idx)):  # labels at the images' own sizes: one at a time
                labels = {t: b[t][i][None] for t in tasks}
                size = {t: tuple(labels[t].shape[-2:]) for t in tasks}
                pred = {t: to_label_size(t, out[t][i : i + 1], size[t]) for t in tasks}
                meter.update(pred, labels)
    finally:
        model.train(was_training)
    return meter.compute()


def benchmark(
    model: M3ViT,
    data: str,
    *,
    split: str = "val",
    numerics: Sequence[str] = ("float",),
    calib_images: int = 16,
    batch: int = 16,
    device: str | torch.device = "cpu",
    seed: int = 0,
    num_scenes: int | None = None,
    native: bool = True,
    max_batches: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """The report of ``edgemoe eval``: metrics in each numerics preset, with Δm against
    M³ViT's single-task references on PASCAL-Context / NYUD-v2.

    Returns ``{data, split, images, resolution, numerics: {preset: {metrics,
    delta_m, delta_m_tasks, eval_s}}, references, published}``; ``published``
    holds M³ViT-S's published metrics (comparison rows). ``hw16`` is
    calibrated on the first ``calib_images`` images of the training split.
    """
    bad = [n for n in numerics if n not in NUMERICS]
    if bad:
        raise ValueError(f"unknown numerics {bad}; use some of {list(NUMERICS)}")
    kind, _ = parse_data_spec(data)
    cfg = model.cfg
    native = native and kind != "synthetic"  # synthetic labels are made at the input size
    dataset = make_dataset(
        data, cfg, split=split, seed=seed, num_scenes=num_scenes, native_labels=native
    )
    if "hw16" in numerics:
        from .numerics import calibrate

        train_set = make_dataset(data, cfg, split="train", seed=seed, num_scenes=num_scenes)
        n = min(calib_images, len(train_set))
        calibrate(model.cpu(), collate([train_set[i] for i in range(n)])["image"], "hw16")
    runs: dict[str, Any] = {}
    for preset in numerics:
        t0 = time.perf_counter()
        metrics = evaluate(
            model,
            dataset,
            batch=batch,
            # The golden model's fixed-point forward computes on the CPU.
            device=device if preset == "float" else "cpu",
            numerics=None if preset == "float" else preset,
            max_batches=max_batches,
            progress=progress,
        )
        dm, dm_tasks = delta_m_vs_single_task(metrics, kind)
        runs[preset] = {
            "metrics": metrics,
            "delta_m": dm,
            "delta_m_tasks": dm_tasks,
            "eval_s": time.perf_counter() - t0,
        }
    refs = SINGLE_TASK_REFERENCES.get(kind)
    published = PUBLISHED_M3VIT_S.get(kind)
    return {
        "data": data,
        "split": split,
        "images": len(dataset),
        "resolution": "native" if native else "model input",
        "numerics": runs,
        "references": {"single_task": refs, "source": REFERENCES_SOURCE} if refs else None,
        "published": {"M3ViT-S": published, "source": "M3ViT (NeurIPS 2022)"}
        if published
        else None,
    }


@torch.no_grad()
def expert_utilisation(
    model: M3ViT,
    dataset: Any,
    task: str | int,
    batch: int = 16,
    device: str | torch.device = "cpu",
    max_images: int | None = None,
) -> dict[str, Any]:
    """Tokens routed to each expert, per MoE layer, for ``task`` over ``dataset``.

    Returns ``{"task", "images", "layers": [{"block", "tokens_per_expert",
    "fraction"}]}``; each token counts once per expert among its top-k.
    """
    dev = resolve_device(device)
    name = model.cfg.tasks[model.cfg.task_index(task)]
    was_training = model.training
    model.to(dev).eval()
    n = len(dataset) if max_images is None else min(len(dataset), max_images)
    counts: dict[int, np.ndarray] = {}
    try:
        for start in range(0, n, batch):
            b = collate([dataset[i] for i in range(start, min(start + batch, n))])
            stats = model.routing(b["image"].to(dev), name)
            for layer in stats.layers:
                c = np.asarray(layer.tokens_per_expert, dtype=np.int64)
                counts[layer.block] = counts.get(layer.block, 0) + c
    finally:
        model.train(was_training)
    layers = [
        {
            "block": blk,
            "tokens_per_expert": c.tolist(),
            "fraction": (c / max(1, c.sum())).tolist(),
        }
        for blk, c in sorted(counts.items())
    ]
    return {"task": name, "images": n, "layers": layers}


def load_for_eval(path: str | Path, **hints: Any) -> tuple[M3ViT, dict[str, Any]]:
    """A checkpoint's model (eval mode) and its stored training entries (data, seed, ...);
    ``hints`` go to :func:`~pymodel.checkpoint.load_checkpoint` (e.g. ``preset=``)."""
    model = load_checkpoint(path, **hints)
    extra: dict[str, Any] = {}
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(ckpt, Mapping):
            extra = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer")}
    except Exception:  # an official checkpoint directory has no training entries
        pass
    return model, extra
