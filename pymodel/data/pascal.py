"""PASCAL-Context for multi-task learning, in the PASCAL_MT layout M3ViT trains on.

The layout of Vandenhende et al.'s multi-task benchmark (``PASCAL_MT/``)::

    JPEGImages/{id}.jpg                    RGB image
    ImageSets/Context/{train,val}.txt      image ids, one per line
    semseg/VOC12/{id}.png                  21-class labels (VOC classes), 255 = ignore;
    semseg/pascal-context/{id}.png         used where no VOC12 file exists
    human_parts/{id}.mat                   PASCAL-Part annotations (struct ``anno``)
    sal_distill/{id}.png                   distilled saliency, grey levels; > 0.5 is salient
    normals_distill/{id}.png               distilled normals, RGB uint8 -> 2 x / 255 - 1
    pascal-context/trainval/{id}.mat       full PASCAL-Context ``LabelMap`` (459 classes)

Label encodings:

* ``human_parts``: person objects (class index 15) of the PASCAL-Part ``anno``
  struct (``objects`` with ``class_ind``, ``mask``, ``parts`` of ``part_name``
  and ``mask``) grouped into 6 parts: 1 head (hair, head, ears, eyebrows,
  eyes, mouth, nose), 2 torso and neck, 3 upper arms, 4 lower arms and hands,
  5 upper legs, 6 lower legs and feet; 0 background. An image without any
  person part is all 255 (ignored), as in the benchmark.
* ``normals``: only pixels whose PASCAL-Context class also exists in NYUD-v2
  are valid (the distillation source); the rest are 255 (ignored).
* ``edge``: boundaries of the PASCAL-Context ``LabelMap``. The benchmark takes
  the non-zero Laplacian of the label map and thins it; here the label map is
  resized to ``img_size`` (nearest) and a pixel is an edge where its label
  differs from its right or lower neighbour: a one-pixel boundary that matches
  the thinned one up to a one-pixel shift.

Every sample is resized (not padded) to ``img_size``, as M3ViT's fixed
512x512 resize does: images bilinearly, labels by nearest neighbour, normals
bilinearly and renormalised. With ``native_labels`` the labels keep the
image's own size (the benchmark scores there) and only the image is resized.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from . import (
    IGNORE_INDEX,
    DatasetError,
    check_tasks,
    label_boundaries,
    normalize_image,
    read_image,
    read_label_png,
    read_mat,
    read_split,
    require_files,
    resize_nearest,
    resize_normals,
)

TASKS = ("semseg", "human_parts", "sal", "normals", "edge")
PERSON_CLASS = 15  # VOC / PASCAL-Part class index of "person"

#: PASCAL-Part person part names -> the six part groups (1..6) M3ViT uses.
HUMAN_PART_GROUPS: dict[str, int] = {
    **dict.fromkeys(
        ("hair", "head", "lear", "rear", "lebrow", "rebrow", "leye", "reye", "mouth", "nose"), 1
    ),
    **dict.fromkeys(("torso", "neck"), 2),
    **dict.fromkeys(("luarm", "ruarm"), 3),
    **dict.fromkeys(("llarm", "rlarm", "lhand", "rhand"), 4),
    **dict.fromkeys(("luleg", "ruleg"), 5),
    **dict.fromkeys(("llleg", "rlleg", "lfoot", "rfoot"), 6),
}

#: PASCAL-Context class ids whose distilled normals are valid: the classes whose
#: names also appear among NYUD-v2's labels ("unknown" excluded), plus tvmonitor.
NORMALS_VALID_CLASSES: frozenset[int] = frozenset(
    {3, 4, 6, 9, 10, 11, 13, 15, 17, 18, 22, 23, 29, 30, 33, 34, 36, 37, 38, 39, 41, 43, 46}
    | {49, 50, 51, 53, 55, 56, 59, 61, 62, 65, 66, 68, 69, 72, 73, 78, 83, 84, 85, 87, 88, 95}
    | {96, 101, 104, 105, 107, 111, 113, 115, 122, 124, 135, 141, 142, 143, 146, 150, 154, 157}
    | {158, 159, 165, 172, 174, 181, 183, 184, 191, 193, 195, 197, 199, 202, 213, 215, 216}
    | {219, 220, 223, 225, 228, 230, 232, 233, 238, 239, 242, 243, 246, 250, 251, 252, 255}
    | {260, 261, 263, 269, 272, 273, 275, 281, 283, 284, 285, 286, 287, 288, 290, 291, 292}
    | {293, 295, 304, 307, 309, 310, 314, 315, 319, 323, 329, 330, 331, 336, 342, 345, 349}
    | {350, 351, 352, 355, 357, 368, 370, 371, 374, 379, 380, 383, 384, 397, 401, 403, 405}
    | {407, 408, 411, 412, 413, 414, 417, 419, 421, 423, 427, 429, 430, 432, 440, 441, 442}
    | {443, 444, 446, 454, 457}
)


def _field(record: Any, name: str, position: int) -> Any:
    """A MATLAB struct field by name (numpy record), else by position (object arrays)."""
    names = getattr(getattr(record, "dtype", None), "names", None)
    return record[name] if names else record[position]


def read_human_parts(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 part labels of the persons in a PASCAL-Part ``anno`` file; 255 if none."""
    try:
        anno = read_mat(path, "anno")[0, 0]
        objects = np.atleast_1d(_field(anno, "objects", 1)).ravel()
        target: np.ndarray | None = None
        for obj in objects:
            cls = int(np.asarray(_field(obj, "class_ind", 1)).ravel()[0])
            parts = np.atleast_1d(_field(obj, "parts", 3)).ravel()
            if cls != PERSON_CLASS or parts.size == 0:
                continue
            if target is None:
                target = np.zeros(np.asarray(_field(obj, "mask", 2)).shape, dtype=np.uint8)
            for part in parts:
                name = str(np.asarray(_field(part, "part_name", 0)).ravel()[0])
                if name not in HUMAN_PART_GROUPS:
                    raise DatasetError(f"{path}: unknown person part name {name!r}")
                mask = np.asarray(_field(part, "mask", 1)).astype(bool)
                if mask.shape != target.shape:
                    raise DatasetError(
                        f"{path}: part mask {name!r} has shape {mask.shape}, "
                        f"the object mask {target.shape}"
                    )
                target[mask] = HUMAN_PART_GROUPS[name]
    except DatasetError:
        raise
    except (IndexError, KeyError, ValueError, TypeError) as exc:
        raise DatasetError(
            f"{path}: not a PASCAL-Part annotation (anno.objects...): {exc}"
        ) from None
    if target is None or not target.any():
        return np.full(shape, IGNORE_INDEX, dtype=np.uint8)
    return target


class PascalContextMT(Dataset):
    """PASCAL-Context multi-task samples from a ``PASCAL_MT`` directory (see module doc).

    ``tasks`` is any subset of ``semseg, human_parts, sal, normals, edge``;
    every file the requested tasks need is checked when the dataset is built,
    and the first missing one is named.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        tasks: Sequence[str] = TASKS,
        img_size: int | Sequence[int] = (512, 512),
        num_classes: int = 21,
        native_labels: bool = False,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"PASCAL_MT directory not found: {self.root}")
        self.tasks = check_tasks(tasks, TASKS)
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.num_classes = int(num_classes)
        self.native_labels = bool(native_labels)
        self.split = split
        self.ids = read_split(self.root / "ImageSets" / "Context" / f"{split}.txt")
        needed: list[Path] = []
        for i in self.ids:
            needed.append(self.image_path(i))
            if "semseg" in self.tasks:
                needed.append(self.semseg_path(i))
            if "human_parts" in self.tasks:
                needed.append(self.root / "human_parts" / f"{i}.mat")
            if "sal" in self.tasks:
                needed.append(self.root / "sal_distill" / f"{i}.png")
            if "normals" in self.tasks:
                needed.append(self.root / "normals_distill" / f"{i}.png")
            if "normals" in self.tasks or "edge" in self.tasks:
                needed.append(self.context_path(i))
        require_files(needed)

    def image_path(self, image_id: str) -> Path:
        return self.root / "JPEGImages" / f"{image_id}.jpg"

    def context_path(self, image_id: str) -> Path:
        return self.root / "pascal-context" / "trainval" / f"{image_id}.mat"

    def semseg_path(self, image_id: str) -> Path:
        """VOC12 labels where present, else the PASCAL-Context ones (as the benchmark)."""
        voc = self.root / "semseg" / "VOC12" / f"{image_id}.png"
        return voc if voc.is_file() else self.root / "semseg" / "pascal-context" / f"{image_id}.png"

    def spec(self) -> dict[str, Any]:
        """JSON-able description of this dataset (stored in checkpoints)."""
        return {"kind": "pascal", "root": str(self.root), "split": self.split}

    def __len__(self) -> int:
        return len(self.ids)

    def _check_shape(self, a: np.ndarray, shape: tuple[int, ...], path: Path) -> None:
        if a.shape[:2] != shape:
            raise DatasetError(f"{path}: label size {a.shape[:2]} differs from the image's {shape}")

    def __getitem__(self, index: int) -> dict[str, Any]:
        image_id = self.ids[index]
        image = read_image(self.image_path(image_id))
        shape = image.shape[:2]
        sample: dict[str, Any] = {"image": normalize_image(image, self.img_size)}
        size = shape if self.native_labels else self.img_size  # of the labels
        context = None
        if "normals" in self.tasks or "edge" in self.tasks:
            path = self.context_path(image_id)
            context = np.asarray(read_mat(path, "LabelMap"))
            if context.ndim != 2:
                raise DatasetError(f"{path}: LabelMap must be 2-D, got shape {context.shape}")
            self._check_shape(context, shape, path)
        if "semseg" in self.tasks:
            path = self.semseg_path(image_id)
            seg = read_label_png(path)
            self._check_shape(seg, shape, path)
            bad = (seg >= self.num_classes) & (seg != IGNORE_INDEX)
            if bad.any():
                raise DatasetError(
                    f"{path}: label {int(seg[bad].max())} outside 0..{self.num_classes - 1} "
                    f"and not {IGNORE_INDEX}"
                )
            sample["semseg"] = torch.from_numpy(resize_nearest(seg, size).astype(np.int64))
        if "human_parts" in self.tasks:
            path = self.root / "human_parts" / f"{image_id}.mat"
            parts = read_human_parts(path, shape)
            self._check_shape(parts, shape, path)
            sample["human_parts"] = torch.from_numpy(resize_nearest(parts, size).astype(np.int64))
        if "sal" in self.tasks:
            path = self.root / "sal_distill" / f"{image_id}.png"
            sal = read_label_png(path)
            self._check_shape(sal, shape, path)
            sal = (sal.astype(np.float32) / 255.0 > 0.5).astype(np.float32)
            sample["sal"] = torch.from_numpy(resize_nearest(sal, size)[None].copy())
        if "normals" in self.tasks:
            path = self.root / "normals_distill" / f"{image_id}.png"
            try:
                with Image.open(path) as im:
                    rgb = np.array(im.convert("RGB")).astype(np.float32)
            except (OSError, ValueError) as exc:
                raise DatasetError(f"cannot read normals image {path}: {exc}") from None
            self._check_shape(rgb, shape, path)
            normals = 2.0 * rgb / 255.0 - 1.0
            valid = np.isin(context, list(NORMALS_VALID_CLASSES))
            sample["normals"] = resize_normals(normals, valid, size)
        if "edge" in self.tasks:
            # Boundaries of the resized label map stay one pixel thin at any size.
            edge = label_boundaries(resize_nearest(context, size)).astype(np.float32)
            sample["edge"] = torch.from_numpy(edge[None].copy())
        sample["meta"] = {"id": image_id, "index": int(index), "im_size": tuple(shape)}
        return sample
