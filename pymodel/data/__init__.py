"""Multi-task datasets: synthetic scenes, PASCAL-Context (PASCAL_MT) and NYUD-v2 (NYUD_MT).

Every dataset returns per sample a dict with ``image`` (3, H, W) float32
normalised with the ImageNet mean/std, one entry per requested task, and
``meta``::

    semseg, human_parts   (H, W) int64, 255 = ignore
    depth                 (1, H, W) float32, metres, 255 = invalid
    normals               (3, H, W) float32, unit vectors, 255 (all channels) = invalid
    sal, edge             (1, H, W) float32 in {0, 1}

Images are resized to the model's input with bilinear interpolation, labels
with nearest neighbour; normals bilinearly, then renormalised (their validity
mask by nearest neighbour). :func:`make_dataset` builds a dataset from a data
spec string (``synthetic``, ``synthetic:N``, ``pascal:DIR``, ``nyud:DIR``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

IGNORE_INDEX = 255
TASKS = ("semseg", "human_parts", "sal", "normals", "edge", "depth")
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class DatasetError(ValueError):
    """A missing or malformed dataset file or an impossible dataset setting; names the file."""


def check_tasks(tasks: Sequence[str], supported: Sequence[str] = TASKS) -> tuple[str, ...]:
    """Validate a task list against ``supported``; clear error otherwise."""
    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    if not tasks:
        raise DatasetError("tasks must name at least one task")
    bad = [t for t in tasks if t not in supported]
    if bad:
        raise DatasetError(f"unsupported task(s) {bad}; this dataset provides {list(supported)}")
    return tasks


def collate(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack samples into a batch: tensors of one shape stacked on dim 0; tensors of
    different shapes (labels at each image's own size) and ``meta`` kept as lists."""
    if not samples:
        raise DatasetError("cannot collate an empty list of samples")
    out: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        same = isinstance(values[0], torch.Tensor) and all(
            v.shape == values[0].shape for v in values
        )
        out[key] = torch.stack(values) if same else values
    return out


# ------------------------------------------------------------------ file readers
def read_image(path: Path) -> np.ndarray:
    """An RGB image as (H, W, 3) uint8; error naming the file if missing or unreadable."""
    try:
        with Image.open(path) as im:
            return np.array(im.convert("RGB"))
    except FileNotFoundError:
        raise DatasetError(f"missing image file {path}") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from None


def read_label_png(path: Path) -> np.ndarray:
    """A single-channel PNG (palette indices or grey levels) as an (H, W) array."""
    try:
        with Image.open(path) as im:
            a = np.array(im)
    except FileNotFoundError:
        raise DatasetError(f"missing label file {path}") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read label image {path}: {exc}") from None
    if a.ndim == 3:
        a = a[..., 0]
    if a.ndim != 2:
        raise DatasetError(f"{path}: expected a single-channel label image, got shape {a.shape}")
    return a


def read_npy(path: Path, ndim: int | tuple[int, ...]) -> np.ndarray:
    """A .npy array with ``ndim`` dimensions (an int or the allowed ones)."""
    try:
        a = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DatasetError(f"missing file {path}") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if a.ndim not in allowed or not np.issubdtype(a.dtype, np.number):
        raise DatasetError(
            f"{path}: expected a numeric array with {' or '.join(map(str, allowed))} "
            f"dimensions, got {a.dtype} {a.shape}"
        )
    return a


def read_mat(path: Path, key: str) -> Any:
    """Entry ``key`` of a MATLAB .mat file (struct arrays kept as numpy records)."""
    import scipy.io

    try:
        data = scipy.io.loadmat(path)
    except FileNotFoundError:
        raise DatasetError(f"missing file {path}") from None
    except Exception as exc:  # scipy raises several types for corrupt files
        raise DatasetError(f"cannot read MATLAB file {path}: {exc}") from None
    if key not in data:
        found = sorted(k for k in data if not k.startswith("__"))
        raise DatasetError(f"{path}: no variable {key!r} (found {found})")
    return data[key]


def read_split(path: Path) -> list[str]:
    """Image ids of a split file, one per line (blank lines skipped)."""
    try:
        ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        raise DatasetError(f"missing split file {path}") from None
    if not ids:
        raise DatasetError(f"split file {path} lists no images")
    return ids


def require_files(paths: Sequence[Path]) -> None:
    """Raise naming the first missing file (and how many are missing)."""
    missing = [p for p in paths if not p.is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more missing files)" if len(missing) > 1 else ""
        raise DatasetError(f"missing dataset file {missing[0]}{more}")


# ---------------------------------------------------------------------- resizing
def normalize_image(image: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, h, w) float32: bilinear resize, then ImageNet normalisation."""
    h, w = size
    if image.shape[:2] != (h, w):
        image = np.array(Image.fromarray(image).resize((w, h), Image.BILINEAR))
    x = (image.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


def resize_nearest(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of the first two axes (pixel centres aligned), any dtype."""
    h, w = a.shape[:2]
    oh, ow = size
    if (h, w) == (oh, ow):
        return a
    rows = np.minimum(((np.arange(oh) + 0.5) * h / oh).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(ow) + 0.5) * w / ow).astype(np.int64), w - 1)
    return a[rows[:, None], cols[None, :]]


def resize_normals(n: np.ndarray, valid: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """(H, W, 3) normals and (H, W) validity -> (3, h, w): bilinear, renormalised, 255 invalid."""
    t = torch.from_numpy(np.where(valid[..., None], n, 0.0).astype(np.float32))
    t = t.permute(2, 0, 1)
    if tuple(t.shape[-2:]) != tuple(size):
        t = torch.nn.functional.interpolate(
            t[None], size=tuple(size), mode="bilinear", align_corners=False
        )[0]
        valid = resize_nearest(valid, size)
    norm = t.norm(dim=0, keepdim=True)
    ok = torch.from_numpy(np.ascontiguousarray(valid)).bool() & (norm[0] > 1e-6)
    t = t / norm.clamp_min(1e-12)
    return torch.where(ok[None], t, torch.full_like(t, float(IGNORE_INDEX)))


def resize_binary(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a thin binary mask (edges) without losing it: when shrinking, an output
    pixel is set if any source pixel in its footprint is; otherwise nearest neighbour."""
    h, w = mask.shape
    oh, ow = size
    if (h, w) == (oh, ow):
        return mask.astype(bool)
    if oh <= h and ow <= w:
        t = torch.from_numpy(mask.astype(np.float32))[None, None]
        return torch.nn.functional.adaptive_max_pool2d(t, (oh, ow))[0, 0].numpy() > 0.5
    return resize_nearest(mask, size).astype(bool)


def label_boundaries(labels: np.ndarray) -> np.ndarray:
    """One-pixel boundary mask: the label differs from the right or the lower neighbour."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return edge


# -------------------------------------------------------------------- data specs
def parse_data_spec(spec: str) -> tuple[str, str | None]:
    """``synthetic``, ``synthetic:N``, ``pascal:DIR`` or ``nyud:DIR`` -> (kind, argument)."""
    kind, _, arg = str(spec).partition(":")
    kind = kind.strip().lower()
    if kind not in ("synthetic", "pascal", "nyud"):
        raise DatasetError(f"unknown data spec {spec!r}; use synthetic[:N], pascal:DIR or nyud:DIR")
    if kind != "synthetic" and not arg:
        raise DatasetError(f"data spec {spec!r} needs a directory: {kind}:DIR")
    if kind == "synthetic" and arg and not arg.isdigit():
        raise DatasetError(f"data spec {spec!r}: synthetic:N takes a number of scenes")
    return kind, arg or None


def make_dataset(
    spec: str,
    cfg: Any,
    split: str = "train",
    seed: int = 0,
    num_scenes: int | None = None,
    cache: str | Path | None = "memory",
    native_labels: bool = False,
) -> torch.utils.data.Dataset:
    """The dataset named by ``spec`` shaped for model config ``cfg`` (input size, tasks,
    classes). Synthetic scenes: ``num_scenes`` sets how many; else ``N`` of
    ``synthetic:N`` (or 512) for the train split and 64 for the others; ``cache``
    applies to them only. ``native_labels``: PASCAL/NYUD labels at each image's own
    size (for evaluation at the benchmark's resolution), not resized to the input."""
    kind, arg = parse_data_spec(spec)
    if kind == "synthetic":
        if num_scenes is not None:
            n = int(num_scenes)
        else:
            n = (int(arg) if arg else 512) if split == "train" else 64
        from .synthetic import SyntheticMultiTask

        return SyntheticMultiTask.for_config(cfg, num_scenes=n, split=split, seed=seed, cache=cache)
    if kind == "pascal":
        from .pascal import PascalContextMT

        return PascalContextMT(
            Path(arg),
            split=split,
            tasks=cfg.tasks,
            img_size=cfg.img_size,  # type: ignore[arg-type]
            native_labels=native_labels,
        )
    from .nyud import NYUDMT

    return NYUDMT(
        Path(arg),  # type: ignore[arg-type]
        split=split,
        tasks=cfg.tasks,
        img_size=cfg.img_size,
        num_classes=int(cfg.task_channels.get("semseg", 40)),
        native_labels=native_labels,
    )


__all__ = [
    "IGNORE_INDEX",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TASKS",
    "DatasetError",
    "check_tasks",
    "collate",
    "label_boundaries",
    "make_dataset",
    "parse_data_spec",
]


_LAZY = {
    "SyntheticMultiTask": "synthetic",
    "PascalContextMT": "pascal",
    "NYUDMT": "nyud",
}


def __getattr__(name: str) -> Any:
    # The dataset classes import this module's helpers, so they load on first use.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
