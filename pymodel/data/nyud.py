"""NYUD-v2 for multi-task learning, in the NYUD_MT layout M3ViT trains on.

The layout of Vandenhende et al.'s multi-task benchmark (``NYUD_MT/``)::

    images/{id}.jpg             RGB image (480 x 640)
    gt_sets/{train,val}.txt     image ids, one per line
    segmentation/{id}.png       40 classes as 1..40, 0 = unlabelled
    depth/{id}.npy              (H, W) float depth in metres, 0 = missing
    normals/{id}.npy            (H, W, 3) float normals in [-1, 1], zero vector = missing
    edge/{id}.npy               (H, W) boundary mask in {0, 1}

Label encodings returned: semseg 0..39 (the file's value minus one) with the
unlabelled 0 mapped to 255 (ignored, as the benchmark does); depth with 0 (and
non-finite values) mapped to 255 (invalid); normals with zero vectors mapped
to 255 in all channels. Samples are resized to ``img_size`` (the NYUD preset's
480x640 is the native size): images bilinearly, semseg and depth by nearest
neighbour, normals bilinearly and renormalised, edges so that no boundary
pixel is lost when shrinking (see :func:`pymodel.data.resize_binary`). With
``native_labels`` the labels keep the image's own size and only the image is
resized.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from . import (
    IGNORE_INDEX,
    DatasetError,
    check_tasks,
    normalize_image,
    read_image,
    read_label_png,
    read_npy,
    read_split,
    require_files,
    resize_binary,
    resize_nearest,
    resize_normals,
)

TASKS = ("semseg", "depth", "normals", "edge")
_DIRS = {"semseg": "segmentation", "depth": "depth", "normals": "normals", "edge": "edge"}
_EXT = {"semseg": ".png", "depth": ".npy", "normals": ".npy", "edge": ".npy"}


class NYUDMT(Dataset):
    """NYUD-v2 multi-task samples from an ``NYUD_MT`` directory (see module doc).

    ``tasks`` is any subset of ``semseg, depth, normals, edge``; every file the
    requested tasks need is checked when the dataset is built, and the first
    missing one is named.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        tasks: Sequence[str] = ("semseg", "depth"),
        img_size: int | Sequence[int] = (480, 640),
        num_classes: int = 40,
        native_labels: bool = False,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"NYUD_MT directory not found: {self.root}")
        self.tasks = check_tasks(tasks, TASKS)
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.num_classes = int(num_classes)
        self.native_labels = bool(native_labels)
        self.split = split
        self.ids = read_split(self.root / "gt_sets" / f"{split}.txt")
        require_files(
            [self.path("image", i) for i in self.ids]
            + [self.path(t, i) for i in self.ids for t in self.tasks]
        )

    def path(self, what: str, image_id: str) -> Path:
        """File of ``what`` ("image" or a task) for ``image_id``."""
        if what == "image":
            return self.root / "images" / f"{image_id}.jpg"
        return self.root / _DIRS[what] / f"{image_id}{_EXT[what]}"

    def spec(self) -> dict[str, Any]:
        """JSON-able description of this dataset (stored in checkpoints)."""
        return {"kind": "nyud", "root": str(self.root), "split": self.split}

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        image_id = self.ids[index]
        image = read_image(self.path("image", image_id))
        shape = image.shape[:2]
        sample: dict[str, Any] = {"image": normalize_image(image, self.img_size)}
        size = shape if self.native_labels else self.img_size  # of the labels

        def check(a: np.ndarray, path: Path) -> None:
            if a.shape[:2] != shape:
                raise DatasetError(
                    f"{path}: label size {a.shape[:2]} differs from the image's {shape}"
                )

        if "semseg" in self.tasks:
            path = self.path("semseg", image_id)
            raw = read_label_png(path).astype(np.int64)
            check(raw, path)
            if raw.max() > self.num_classes:
                raise DatasetError(
                    f"{path}: label {int(raw.max())} outside 0..{self.num_classes} "
                    "(1..N classes, 0 unlabelled)"
                )
            seg = np.where(raw == 0, IGNORE_INDEX, raw - 1)
            sample["semseg"] = torch.from_numpy(resize_nearest(seg, size))
        if "depth" in self.tasks:
            path = self.path("depth", image_id)
            depth = read_npy(path, (2, 3)).astype(np.float32)
            if depth.ndim == 3:
                if depth.shape[2] != 1:
                    raise DatasetError(
                        f"{path}: depth must be (H, W) or (H, W, 1), got {depth.shape}"
                    )
                depth = depth[..., 0]
            check(depth, path)
            if np.any(depth < 0):
                raise DatasetError(f"{path}: negative depth values")
            depth = np.where(np.isfinite(depth) & (depth > 0), depth, float(IGNORE_INDEX))
            sample["depth"] = torch.from_numpy(resize_nearest(depth, size)[None].copy())
        if "normals" in self.tasks:
            path = self.path("normals", image_id)
            normals = read_npy(path, 3).astype(np.float32)
            if normals.shape[2] != 3:
                raise DatasetError(f"{path}: normals must be (H, W, 3), got {normals.shape}")
            check(normals, path)
            if np.nanmax(np.abs(normals)) > 1.5:
                raise DatasetError(f"{path}: normals must lie in [-1, 1] (found values beyond 1.5)")
            norm = np.linalg.norm(np.nan_to_num(normals), axis=2)
            valid = np.isfinite(normals).all(axis=2) & (norm > 1e-6)
            sample["normals"] = resize_normals(np.nan_to_num(normals), valid, size)
        if "edge" in self.tasks:
            path = self.path("edge", image_id)
            edge = read_npy(path, 2)
            check(edge, path)
            edge = resize_binary(edge > 0.5, size).astype(np.float32)
            sample["edge"] = torch.from_numpy(edge[None].copy())
        sample["meta"] = {"id": image_id, "index": int(index), "im_size": tuple(shape)}
        return sample
