"""Training recipes (optimizer, schedule, batch, length, augmentation) and the augmentation.

``default`` is this package's short-run recipe (AdamW, warm-up then cosine).
``m3vit-s-pascal`` and ``m3vit-s-nyud`` are M³ViT's published setup, taken
from the official code (VITA-Group/M3ViT):

* ``configs/{pascal,nyud}/vit_moe/pup_moe_vit_small_multi_task_baseline.yml``:
  SGD, lr 0.002, momentum 0.9, weight decay 1e-4, the ``poly`` scheduler, 100
  epochs, ``trBatch: 8``; input 512x512 (PASCAL-Context) and 480x640 (NYUD-v2);
  PASCAL loss weights semseg 1, human_parts 2, sal 5, edge 50, normals 10
  (:data:`pymodel.losses.DEFAULT_WEIGHTS`), NYUD semseg 1, depth 1;
* ``utils/common_config.py``: ``adjust_learning_rate`` ``poly``: ``lr * (1 -
  epoch / epochs) ** 0.9``, set once per epoch; training transforms: random
  horizontal flip (p 0.5), then ``ScaleNRotate`` with rotations uniform in
  (-20, 20) degrees and scales uniform in (0.75, 1.25) for PASCAL-Context, no
  rotation and a scale drawn from {1.0, 1.2, 1.5} for NYUD-v2, then a fixed
  resize to the input size; no gradient clipping (``train/train_utils.py``);
* ``README.md``: ``torch.distributed.launch --nproc_per_node=2`` (so 2 x 8 =
  16 images per optimizer step) with ``--moe_experts 16 --moe_top_k 4
  --moe_mlp_ratio 1 --multi_gate True --vmoe_noisy_std 0``: the presets'
  experts and expert width, and no router noise (``gate_noise_std`` 0);
  ``--moe_noisy_gate_loss_weight`` keeps its default 0.01, the config's
  ``balance_loss_weight``.

Differences, by design: the augmentation runs on the already resized batch on
the training device (:func:`augment_batch`), bilinear for the image instead of
bicubic, with label pixels that leave the frame ignored (255), and normals
rotated and flipped with the image (the published transform moves normal maps
without turning the vectors). The published run starts from pretrained MoE
ViT-S weights (``--pretrained``), evaluates in the last 10 epochs and keeps the
best; here training starts from the given initialisation and evaluates at the
end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch and numpy load on first use: the CLI lists recipes without them
    import torch

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "poly")


@dataclass(frozen=True)
class Augment:
    """Random horizontal flip, rotation and scaling about the image centre, per sample.

    ``rotate``: (low, high) degrees, uniform (positive is counter-clockwise as
    displayed). ``scale``: (low, high), uniform; or ``scale_choices``, one of
    them with equal probability.
    """

    flip: float = 0.5
    rotate: tuple[float, float] = (0.0, 0.0)
    scale: tuple[float, float] = (1.0, 1.0)
    scale_choices: tuple[float, ...] | None = None

    def draw(self, seed: int, epoch: int, index: int) -> tuple[bool, float, float]:
        """(flip, angle in degrees, scale) of dataset sample ``index`` in ``epoch``: the same
        numbers at any world size and on resume."""
        import numpy as np

        rng = np.random.default_rng([seed, 52361, epoch, index])
        flip = bool(rng.random() < self.flip)
        lo, hi = self.rotate
        angle = float(rng.uniform(lo, hi)) if lo != hi else float(lo)
        if self.scale_choices:
            scale = float(self.scale_choices[int(rng.integers(len(self.scale_choices)))])
        elif self.scale[0] != self.scale[1]:
            scale = float(rng.uniform(*self.scale))
        else:
            scale = float(self.scale[0])
        return flip, angle, scale

    def to_dict(self) -> dict[str, Any]:
        return {
            "flip": self.flip,
            "rotate": list(self.rotate),
            "scale": list(self.scale),
            "scale_choices": list(self.scale_choices) if self.scale_choices else None,
        }


@dataclass(frozen=True)
class Recipe:
    """How to train: optimizer, schedule, global batch, length, augmentation.

    ``batch`` is the global batch of one optimizer step (all ranks and
    accumulation micro-steps together). ``steps`` or ``epochs`` gives the
    length (``epochs`` wins when set). ``config`` holds model-config
    overrides the published run used; ``img_size`` the input size it trained
    at (informative: the model config decides).
    """

    name: str
    optimizer: str = "adamw"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.05
    schedule: str = "cosine"
    warmup: int = 20
    poly_power: float = 0.9
    batch: int = 8
    steps: int | None = 200
    epochs: float | None = None
    grad_clip: float = 1.0
    augment: Augment | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    img_size: tuple[int, int] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r} is not one of {list(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r} is not one of {list(SCHEDULES)}")

    def with_(self, **changes: Any) -> Recipe:
        """A copy with some fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "schedule": self.schedule,
            "warmup": self.warmup,
            "poly_power": self.poly_power,
            "batch": self.batch,
            "steps": self.steps,
            "epochs": self.epochs,
            "grad_clip": self.grad_clip,
            "augment": self.augment.to_dict() if self.augment else None,
            "config": dict(self.config),
            "img_size": list(self.img_size) if self.img_size else None,
            "source": self.source,
        }


_M3VIT = "VITA-Group/M3ViT configs/*/vit_moe/pup_moe_vit_small_multi_task_baseline.yml"
RECIPES: dict[str, Recipe] = {
    "default": Recipe(name="default", source="pymodel defaults"),
    "m3vit-s-pascal": Recipe(
        name="m3vit-s-pascal",
        optimizer="sgd",
        lr=0.002,
        momentum=0.9,
        weight_decay=1e-4,
        schedule="poly",
        warmup=0,
        batch=16,
        steps=None,
        epochs=100,
        grad_clip=0.0,
        augment=Augment(flip=0.5, rotate=(-20.0, 20.0), scale=(0.75, 1.25)),
        config={"gate_noise_std": 0.0},
        img_size=(512, 512),
        source=_M3VIT + ", utils/common_config.py, README.md",
    ),
    "m3vit-s-nyud": Recipe(
        name="m3vit-s-nyud",
        optimizer="sgd",
        lr=0.002,
        momentum=0.9,
        weight_decay=1e-4,
        schedule="poly",
        warmup=0,
        batch=16,
        steps=None,
        epochs=100,
        grad_clip=0.0,
        augment=Augment(flip=0.5, scale_choices=(1.0, 1.2, 1.5)),
        config={"gate_noise_std": 0.0},
        img_size=(480, 640),
        source=_M3VIT + ", utils/common_config.py, README.md",
    ),
}


def get_recipe(spec: str | Recipe | None, preset: str | None = None) -> Recipe:
    """A recipe by name; None picks the one named like the model ``preset``, else default."""
    if isinstance(spec, Recipe):
        return spec
    if spec is None:
        return RECIPES.get(preset or "", RECIPES["default"])
    if spec not in RECIPES:
        raise ValueError(f"unknown recipe {spec!r}; recipes: {list(RECIPES)}")
    return RECIPES[spec]


def lr_at(
    step: int,
    steps: int,
    lr: float,
    warmup: int,
    schedule: str = "cosine",
    steps_per_epoch: int = 1,
    power: float = 0.9,
) -> float:
    """Learning rate of (0-based) ``step`` of ``steps``.

    ``cosine``: linear warm-up over ``warmup`` steps, then cosine to 5% of
    ``lr``. ``poly``: ``lr * (1 - epoch / epochs) ** power`` with the epoch
    index of the step (constant within an epoch, M³ViT's scheduler), after an
    optional linear warm-up.
    """
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    if schedule == "poly":
        epochs = steps / max(1, steps_per_epoch)
        epoch = step // max(1, steps_per_epoch)
        return lr * max(0.0, 1.0 - epoch / epochs) ** power
    if schedule != "cosine":
        raise ValueError(f"schedule {schedule!r} is not one of {list(SCHEDULES)}")
    span = max(1, steps - warmup)
    progress = min(1.0, (step - warmup) / span)
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(recipe: Recipe, params: Any) -> torch.optim.Optimizer:
    """The recipe's optimizer (SGD with momentum, or AdamW) over ``params``."""
    import torch

    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
        )
    return torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)


# ------------------------------------------------------------------- augmentation
_LABELS = ("semseg", "human_parts", "sal", "edge", "depth")


def augment_batch(
    batch: Mapping[str, Any],
    tasks: Sequence[str],
    aug: Augment,
    seed: int,
    epoch: int,
    indices: Sequence[int],
) -> dict[str, Any]:
    """The batch flipped, rotated and scaled per sample (:meth:`Augment.draw`).

    Image bilinear, filled with black where the frame leaves the source;
    labels nearest, 255 (ignored) there; normals bilinear, renormalised, with
    their in-plane components rotated (and x negated on a flip) with the image.
    """
    import torch
    import torch.nn.functional as F

    from .data import IGNORE_INDEX, IMAGENET_MEAN, IMAGENET_STD

    image = batch["image"]
    b, _, h, w = image.shape
    params = [aug.draw(seed, epoch, int(i)) for i in indices]
    if all(not f and a == 0.0 and s == 1.0 for f, a, s in params):
        return dict(batch)
    theta = torch.zeros(b, 2, 3, dtype=torch.float32)
    turn = torch.zeros(b, 2, 2, dtype=torch.float32)  # how normals' (x, y) turn
    for k, (flip, angle, scale) in enumerate(params):
        a = math.radians(angle)
        c, s = math.cos(a), math.sin(a)
        fx = -1.0 if flip else 1.0
        # Content map (pixel axes x right, y down): flip, then rotate by the angle and
        # scale about the centre: dst = scale * R @ F @ src, R = [[c, s], [-s, c]].
        # grid_sample needs src for each dst: F @ R^T @ dst / scale, in coordinates
        # normalised per axis (x by w/2, y by h/2).
        inv = torch.tensor([[fx * c, -fx * s], [s, c]]) / scale
        norm = torch.tensor([[1.0, h / w], [w / h, 1.0]])
        theta[k, :, :2] = inv * norm
        turn[k] = torch.tensor([[c * fx, s], [-s * fx, c]])
    dev = image.device
    theta = theta.to(dev)
    grid = F.affine_grid(theta, [b, 1, h, w], align_corners=False)

    def sample(x: torch.Tensor, mode: str) -> torch.Tensor:
        return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)

    inside = sample(torch.ones(b, 1, h, w, device=dev), "nearest") > 0.5
    out = dict(batch)
    black = torch.as_tensor(-IMAGENET_MEAN / IMAGENET_STD, device=dev)[None, :, None, None]
    out["image"] = sample(image - black, "bilinear") + black
    for t in tasks:
        y = batch[t]
        if t in _LABELS:
            spatial = y.dim() == 3
            yf = (y[:, None] if spatial else y).float()
            moved = torch.where(inside, sample(yf, "nearest"), float(IGNORE_INDEX))
            moved = moved[:, 0] if spatial else moved
            out[t] = moved.to(y.dtype)
        elif t == "normals":
            valid = (y != IGNORE_INDEX).all(1, keepdim=True)
            n = torch.where(valid, y, 0.0)
            ok = (sample(valid.float(), "nearest") > 0.5) & inside
            n = sample(n, "bilinear")
            xy = torch.einsum("bij,bjhw->bihw", turn.to(dev), n[:, :2])
            n = torch.cat([xy, n[:, 2:]], 1)
            length = n.norm(dim=1, keepdim=True)
            ok = ok & (length > 1e-6)
            out[t] = torch.where(ok, n / length.clamp_min(1e-12), float(IGNORE_INDEX))
        else:
            raise ValueError(f"no augmentation rule for task {t!r}")
    return out
