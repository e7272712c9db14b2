"""Per-task training losses as M3ViT uses them, and their weighted multi-task sum.

* semseg, human_parts: cross-entropy over logits, labels 255 ignored;
* sal: balanced binary cross-entropy on logits, positives weighted by the
  batch's fraction of negatives (HED-style);
* edge: balanced binary cross-entropy with a fixed positive weight 0.95
  (M3ViT's ``edge_w``), negatives 0.05;
* normals: L1 between the L2-normalised prediction and the label, over valid
  elements (label != 255);
* depth: L1 over valid pixels (label != 255; the loaders map missing depth to 255).

Balanced BCE (Vandenhende et al.'s ``BalancedCrossEntropyLoss``): with ``w`` the
positive weight, ``loss = (w * sum_pos bce + (1 - w) * sum_neg bce) / n_pixels``.
The default task weights are M3ViT's (PASCAL: semseg 1, human_parts 2, sal 5,
edge 50, normals 10; NYUD: semseg 1, depth 1, and normals 10, edge 50 in its
four-task setting). The MoE load-balancing loss,
``model.backbone.balance_loss()``, is already weighted by the model config.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

IGNORE_INDEX = 255
EDGE_POS_WEIGHT = 0.95
#: M3ViT's task loss weights (configs for PASCAL-Context and NYUD-v2 agree where they overlap).
DEFAULT_WEIGHTS: dict[str, float] = {
    "semseg": 1.0,
    "human_parts": 2.0,
    "sal": 5.0,
    "edge": 50.0,
    "normals": 10.0,
    "depth": 1.0,
}


def _check(pred: torch.Tensor, target: torch.Tensor, task: str) -> None:
    if pred.dim() != 4:
        raise ValueError(f"{task}: prediction must be (B, C, H, W), got {tuple(pred.shape)}")
    if pred.shape[0] != target.shape[0] or pred.shape[-2:] != target.shape[-2:]:
        raise ValueError(
            f"{task}: prediction {tuple(pred.shape)} and label {tuple(target.shape)} differ "
            "in batch or spatial size"
        )


def cross_entropy_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of (B, C, H, W) logits against (B, H, W) or (B, 1, H, W) class labels.

    Labels 255 are ignored; a batch with no valid pixel gives 0 (not NaN).
    """
    if target.dim() == 4:
        target = target[:, 0]
    _check(logits, target, "cross-entropy")
    target = target.long()
    if not (target != IGNORE_INDEX).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX)


def balanced_bce_loss(
    logits: torch.Tensor, target: torch.Tensor, pos_weight: float | None = None
) -> torch.Tensor:
    """Balanced binary cross-entropy of (B, 1, H, W) logits against {0, 1} labels.

    ``pos_weight`` None weights positives by the fraction of negative (valid)
    pixels in the batch, negatives by the fraction of positives; a number
    fixes the positive weight (negatives get ``1 - pos_weight``). Labels 255
    are ignored. The sum is divided by the number of pixels (valid or not),
    as the reference implementation does.
    """
    if target.dim() == 3:
        target = target[:, None]
    _check(logits, target, "balanced BCE")
    valid = (target != IGNORE_INDEX).to(logits.dtype)
    pos = (target >= 0.5).to(logits.dtype) * valid
    neg = valid - pos
    bce = F.binary_cross_entropy_with_logits(logits, pos, reduction="none")
    if pos_weight is None:
        n_valid = valid.sum()
        w = neg.sum() / n_valid.clamp_min(1.0)
    else:
        w = torch.as_tensor(float(pos_weight), dtype=logits.dtype, device=logits.device)
    total = w * (bce * pos).sum() + (1 - w) * (bce * neg).sum()
    return total / float(target.numel())


def normals_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the L2-normalised (B, 3, H, W) prediction and unit normals, valid elements.

    Elements whose label is 255 are ignored; the mean is over valid elements.
    """
    _check(pred, target, "normals")
    unit = pred / (pred.norm(dim=1, keepdim=True) + 1e-12)
    valid = target != IGNORE_INDEX
    n = valid.sum()
    if n == 0:
        return pred.sum() * 0.0
    return (unit - target).abs().masked_fill(~valid, 0.0).sum() / n


def depth_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between (B, 1, H, W) depth and its label over valid pixels (label != 255)."""
    if target.dim() == 3:
        target = target[:, None]
    _check(pred, target, "depth")
    valid = target != IGNORE_INDEX
    n = valid.sum()
    if n == 0:
        return pred.sum() * 0.0
    return (pred - target).abs().masked_fill(~valid, 0.0).sum() / n


def task_loss(task: str, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The loss of ``task`` (see the module docstring) for a prediction and its label."""
    if task in ("semseg", "human_parts"):
        return cross_entropy_loss(pred, target)
    if task == "sal":
        return balanced_bce_loss(pred, target)
    if task == "edge":
        return balanced_bce_loss(pred, target, pos_weight=EDGE_POS_WEIGHT)
    if task == "normals":
        return normals_loss(pred, target)
    if task == "depth":
        return depth_loss(pred, target)
    raise ValueError(f"no loss for task {task!r}; known: {list(DEFAULT_WEIGHTS)}")


class MultiTaskLoss:
    """Weighted sum of per-task losses: ``sum_t w_t * L_t``.

    ``weights`` overrides :data:`DEFAULT_WEIGHTS` for some tasks; a task
    without a weight is refused when called.
    """

    def __init__(self, tasks: tuple[str, ...], weights: Mapping[str, float] | None = None) -> None:
        self.tasks = tuple(tasks)
        merged = dict(DEFAULT_WEIGHTS)
        merged.update({k: float(v) for k, v in (weights or {}).items()})
        unknown = sorted(set(merged) - set(DEFAULT_WEIGHTS))
        if unknown:
            raise ValueError(f"loss weights for unknown tasks {unknown}")
        bad = {k: v for k, v in merged.items() if v < 0}
        if bad:
            raise ValueError(f"loss weights must be >= 0, got {bad}")
        self.weights = {t: merged[t] for t in self.tasks}

    def __call__(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(weighted total, unweighted per-task losses) for the tasks in ``outputs``."""
        losses = {}
        for t, pred in outputs.items():
            if t not in self.weights:
                raise ValueError(f"task {t!r} is not one of this loss's tasks {list(self.tasks)}")
            if t not in batch:
                raise ValueError(f"the batch has no label for task {t!r}")
            losses[t] = task_loss(t, pred, batch[t])
        total = sum(self.weights[t] * v for t, v in losses.items())
        return total, losses  # type: ignore[return-value]


def model_loss(
    model: torch.nn.Module,
    batch: Mapping[str, torch.Tensor],
    criterion: MultiTaskLoss,
    tasks: tuple[str, ...] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """One multi-task training objective: every task's forward, weighted losses, balance loss.

    Each task runs the backbone once with its own gates (M3ViT's multi-gate
    forward); the MoE load-balancing loss of each of those forwards is added
    (a forward overwrites the previous one's, so it is read right after each).
    Returns the total and a log of floats: each task's unweighted loss and
    ``balance``.
    """
    tasks = tuple(tasks or criterion.tasks)
    images = batch["image"]
    total = images.new_zeros(())
    log: dict[str, float] = {}
    balance = images.new_zeros(())
    for t in tasks:
        out = model(images, t)
        balance = balance + model.backbone.balance_loss()
        weighted, parts = criterion({t: out}, batch)
        total = total + weighted
        log[t] = float(parts[t].detach())
    total = total + balance
    log["balance"] = float(balance.detach())
    return total, log
