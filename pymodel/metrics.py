"""Evaluation metrics of the multi-task benchmark, as accumulators, plus trivial baselines.

Each meter takes batches with ``update(pred, target)`` (raw head outputs:
logits for semseg/human_parts/sal/edge, values for depth and normals) and
returns JSON-able floats from ``compute()``. Percentages are in 0..100.

* semseg, human_parts: ``mIoU`` from the confusion matrix accumulated over the
  dataset, averaged over the classes that occur (in labels or predictions;
  the benchmark averages over all classes, the same on the full PASCAL/NYUD
  sets, where every class occurs); ``pixel_acc``. Labels 255 are ignored.
* depth: ``rmse`` over valid pixels (label != 255) of the whole dataset (the
  benchmark's definition), ``log_rmse`` and ``abs_rel``.
* normals: angle in degrees between the normalised prediction and the label
  over valid pixels: ``mean`` (exact), ``median`` (from a 0.05-degree
  histogram), ``rmse`` and the percentages within 11.25, 22.5 and 30 degrees.
* sal: the benchmark's definitions over 15 thresholds in [0.2, 0.9] of the
  sigmoid: per-image IoU, precision and recall, averaged over images;
  ``maxF`` = max over thresholds of the F-measure of mean precision and mean
  recall, ``mIoU`` = max over thresholds of the mean IoU.
* edge: ``odsF``, an approximation of the optimal-dataset-scale F-measure of
  the seism/BSDS benchmark: for each of 99 thresholds of the sigmoid, a
  predicted edge pixel is correct if a label edge lies within ``tolerance``
  pixels (Chebyshev distance; default 0.0075 of the image diagonal, at least
  1, the BSDS ``maxDist``) and a label edge is recalled if a prediction lies
  within it; counts are summed over the dataset and the best F over
  thresholds is reported (with ``threshold``). Unlike the benchmark there is
  no one-to-one matching (slightly optimistic) and no thinning of the
  prediction (pessimistic for thick responses).

:func:`delta_m` is the multi-task performance of Maninis et al. /
Vandenhende et al.: ``mean_t (-1)^{l_t} (M_t - M_st,t) / M_st,t * 100`` over
the primary metric of each task (:data:`PRIMARY`), ``l_t = 1`` where lower is
better. :func:`trivial_baselines` gives each task's score of a constant
prediction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

IGNORE_INDEX = 255
#: Primary metric of each task and whether higher is better (used by delta_m and tables).
PRIMARY: dict[str, tuple[str, bool]] = {
    "semseg": ("mIoU", True),
    "human_parts": ("mIoU", True),
    "sal": ("mIoU", True),
    "normals": ("mean", False),
    "edge": ("odsF", True),
    "depth": ("rmse", False),
}
#: The single-task references M³ViT's Δm is computed against, as the official code lists
#: them (VITA-Group/M3ViT, ``evaluation/evaluate_utils.py``, ``eval_all_results``:
#: ``single_task_test_dict``; mIoU there as fractions, here in percent). The code also
#: names PASCAL edge odsF 0.688 but leaves it out of Δm (commented out); like the code,
#: :func:`delta_m_vs_single_task` averages over the model's tasks that have a reference.
SINGLE_TASK_REFERENCES: dict[str, dict[str, dict[str, float]]] = {
    "pascal": {
        "semseg": {"mIoU": 66.2},
        "human_parts": {"mIoU": 59.9},
        "sal": {"mIoU": 66.3},
        "normals": {"mean": 13.9},
    },
    "nyud": {"semseg": {"mIoU": 43.9}, "depth": {"rmse": 0.585}, "normals": {"mean": 19.763}},
}
REFERENCES_SOURCE = "VITA-Group/M3ViT evaluation/evaluate_utils.py (single_task_test_dict)"
#: M³ViT-S as published (NeurIPS 2022, accuracy table; /work/shared/ANCHORS.md), for
#: comparison rows.
PUBLISHED_M3VIT_S: dict[str, dict[str, dict[str, float]]] = {
    "pascal": {
        "semseg": {"mIoU": 72.8},
        "human_parts": {"mIoU": 62.1},
        "sal": {"mIoU": 66.3},
        "normals": {"mean": 14.5},
        "edge": {"odsF": 71.7},
    },
    "nyud": {"semseg": {"mIoU": 45.6}, "depth": {"rmse": 0.589}},
}
SAL_THRESHOLDS = np.linspace(0.2, 0.9, 15)
EDGE_THRESHOLDS = np.linspace(0.01, 0.99, 99)


class Meter:
    """Accumulates a task's statistics over batches; ``compute()`` gives the metrics."""

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:  # pragma: no cover
        raise NotImplementedError

    def compute(self) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError


def _spatial(target: torch.Tensor) -> torch.Tensor:
    """(B, H, W) view of a (B, H, W) or (B, 1, H, W) label."""
    return target[:, 0] if target.dim() == 4 else target


class SegmentationMeter(Meter):
    """Confusion-matrix mIoU and pixel accuracy for ``num_classes`` classes (255 ignored)."""

    def __init__(self, num_classes: int) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = int(num_classes)
        self.confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """``pred``: (B, C, H, W) logits or (B, H, W) class ids; ``target``: class ids."""
        labels = pred.argmax(1) if pred.dim() == 4 else pred
        target = _spatial(target).long()
        if labels.shape != target.shape:
            raise ValueError(f"prediction {tuple(labels.shape)} vs label {tuple(target.shape)}")
        valid = target != IGNORE_INDEX
        t, p = target[valid].cpu(), labels[valid].long().cpu()
        if t.numel() and (t.min() < 0 or t.max() >= self.num_classes):
            raise ValueError(
                f"label {int(t.max())} outside 0..{self.num_classes - 1} (and not {IGNORE_INDEX})"
            )
        idx = t * self.num_classes + p.clamp(0, self.num_classes - 1)
        self.confusion += torch.bincount(idx, minlength=self.num_classes**2).reshape(
            self.num_classes, self.num_classes
        )

    def compute(self) -> dict[str, Any]:
        cm = self.confusion.double()
        tp = cm.diag()
        union = cm.sum(0) + cm.sum(1) - tp
        present = union > 0
        iou = torch.where(present, tp / union.clamp_min(1), torch.full_like(tp, float("nan")))
        total = cm.sum()
        return {
            "mIoU": float(iou[present].mean() * 100) if present.any() else float("nan"),
            "pixel_acc": float(tp.sum() / total * 100) if total > 0 else float("nan"),
            "iou": [None if math.isnan(v) else float(v * 100) for v in iou.tolist()],
        }


class DepthMeter(Meter):
    """RMSE, log-RMSE and absolute relative error over valid pixels of the dataset."""

    def __init__(self) -> None:
        self.sq = self.log_sq = self.abs_rel = 0.0
        self.n = 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        pred, target = _spatial(pred).float(), _spatial(target).float()
        if pred.shape != target.shape:
            raise ValueError(f"prediction {tuple(pred.shape)} vs label {tuple(target.shape)}")
        valid = (target != IGNORE_INDEX) & (target > 0)
        p, t = pred[valid], target[valid]
        self.sq += float(((p - t) ** 2).sum())
        # Only positive depths are possible: clamp as the benchmark does before the log.
        self.log_sq += float(((torch.log(p.clamp_min(1e-9)) - torch.log(t)) ** 2).sum())
        self.abs_rel += float(((p - t).abs() / t).sum())
        self.n += int(valid.sum())

    def compute(self) -> dict[str, Any]:
        if self.n == 0:
            return {"rmse": float("nan"), "log_rmse": float("nan"), "abs_rel": float("nan")}
        return {
            "rmse": math.sqrt(self.sq / self.n),
            "log_rmse": math.sqrt(self.log_sq / self.n),
            "abs_rel": self.abs_rel / self.n,
        }


class NormalsMeter(Meter):
    """Angular error (degrees) between normalised predictions and unit labels."""

    BIN = 0.05  # histogram resolution (degrees) for the median

    def __init__(self) -> None:
        self.hist = torch.zeros(int(round(180 / self.BIN)), dtype=torch.float64)
        self.sum = self.sum_sq = 0.0
        self.within = {"11.25": 0, "22.5": 0, "30": 0}
        self.n = 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        if pred.shape != target.shape or pred.dim() != 4 or pred.shape[1] != 3:
            raise ValueError(
                f"normals must be (B, 3, H, W) for both, got {tuple(pred.shape)} and "
                f"{tuple(target.shape)}"
            )
        valid = (target != IGNORE_INDEX).all(dim=1)
        p = F.normalize(pred.float(), dim=1, eps=1e-12).permute(0, 2, 3, 1)[valid]
        t = F.normalize(target.float(), dim=1, eps=1e-12).permute(0, 2, 3, 1)[valid]
        deg = torch.rad2deg(torch.acos((p * t).sum(-1).clamp(-1, 1))).double().cpu()
        self.sum += float(deg.sum())
        self.sum_sq += float((deg**2).sum())
        for k in self.within:
            self.within[k] += int((deg < float(k)).sum())
        bins = (deg / self.BIN).long().clamp(0, self.hist.numel() - 1)
        self.hist += torch.bincount(bins, minlength=self.hist.numel()).double()
        self.n += deg.numel()

    def compute(self) -> dict[str, Any]:
        if self.n == 0:
            nan = float("nan")
            return {"mean": nan, "median": nan, "rmse": nan, "11.25": nan, "22.5": nan, "30": nan}
        cum = torch.cumsum(self.hist, 0)
        median_bin = int(torch.searchsorted(cum, torch.tensor([self.n / 2.0], dtype=cum.dtype)))
        return {
            "mean": self.sum / self.n,
            "median": (median_bin + 0.5) * self.BIN,
            "rmse": math.sqrt(self.sum_sq / self.n),
            **{k: v / self.n * 100 for k, v in self.within.items()},
        }


class SaliencyMeter(Meter):
    """maxF and max mIoU over thresholds of per-image precision, recall and IoU."""

    def __init__(self, thresholds: Sequence[float] = SAL_THRESHOLDS) -> None:
        self.thresholds = torch.as_tensor(np.asarray(thresholds, dtype=np.float64))
        self.jac: list[torch.Tensor] = []
        self.prec: list[torch.Tensor] = []
        self.rec: list[torch.Tensor] = []

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """``pred``: (B, 1, H, W) logits; ``target``: {0, 1} labels (255 ignored)."""
        prob = torch.sigmoid(_spatial(pred).double()).cpu()
        target = _spatial(target).cpu()
        if prob.shape != target.shape:
            raise ValueError(f"prediction {tuple(prob.shape)} vs label {tuple(target.shape)}")
        valid = target != IGNORE_INDEX
        gt = (target >= 0.5) & valid
        pb = (prob[None] > self.thresholds[:, None, None, None]) & valid  # (T, B, H, W)
        tp = (pb & gt).flatten(2).sum(-1).double()
        fp = (pb & ~gt).flatten(2).sum(-1).double()
        fn = (~pb & gt & valid).flatten(2).sum(-1).double()
        union = tp + fp + fn
        # An image with neither label nor predicted positives is a perfect match.
        self.jac.append(torch.where(union > 0, tp / union.clamp_min(1), torch.ones_like(tp)).T)
        self.prec.append((tp / (tp + fp + 1e-12)).T)
        self.rec.append((tp / (tp + fn + 1e-12)).T)

    def compute(self) -> dict[str, Any]:
        if not self.jac:
            return {"maxF": float("nan"), "mIoU": float("nan")}
        miou = torch.cat(self.jac).mean(0)
        p, r = torch.cat(self.prec).mean(0), torch.cat(self.rec).mean(0)
        f = 2 * p * r / (p + r + 1e-12)
        return {
            "maxF": float(f.max() * 100),
            "mIoU": float(miou.max() * 100),
            "threshold_F": float(self.thresholds[int(f.argmax())]),
        }


def edge_tolerance(img_size: tuple[int, int], fraction: float = 0.0075) -> int:
    """Matching radius in pixels: ``fraction`` of the image diagonal, at least 1."""
    return max(1, int(round(fraction * math.hypot(*img_size))))


class EdgeMeter(Meter):
    """Dataset-wide best F over thresholds with a distance tolerance (see module doc)."""

    def __init__(
        self, thresholds: Sequence[float] = EDGE_THRESHOLDS, tolerance: int | None = None
    ) -> None:
        self.thresholds = [float(t) for t in thresholds]
        self.tolerance = tolerance
        n = len(self.thresholds)
        self.match_pred = np.zeros(n)
        self.n_pred = np.zeros(n)
        self.match_gt = np.zeros(n)
        self.n_gt = 0.0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """``pred``: (B, 1, H, W) logits; ``target``: {0, 1} edge labels (255 ignored)."""
        prob = torch.sigmoid(_spatial(pred).float())[:, None]
        target = _spatial(target)[:, None].to(prob.device)
        if prob.shape != target.shape:
            raise ValueError(f"prediction {tuple(prob.shape)} vs label {tuple(target.shape)}")
        r = self.tolerance if self.tolerance is not None else edge_tolerance(prob.shape[-2:])
        valid = target != IGNORE_INDEX
        gt = ((target >= 0.5) & valid).float()
        near_gt = F.max_pool2d(gt, 2 * r + 1, stride=1, padding=r) > 0
        self.n_gt += float(gt.sum())
        for i, thr in enumerate(self.thresholds):
            pb = (prob > thr) & valid
            near_pred = F.max_pool2d(pb.float(), 2 * r + 1, stride=1, padding=r) > 0
            self.n_pred[i] += float(pb.sum())
            self.match_pred[i] += float((pb & near_gt).sum())
            self.match_gt[i] += float(((gt > 0) & near_pred).sum())

    def compute(self) -> dict[str, Any]:
        prec = np.where(self.n_pred > 0, self.match_pred / np.maximum(self.n_pred, 1), 0.0)
        rec = self.match_gt / self.n_gt if self.n_gt > 0 else np.zeros_like(prec)
        f = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0.0)
        i = int(np.argmax(f))
        return {
            "odsF": float(f[i] * 100),
            "precision": float(prec[i] * 100),
            "recall": float(rec[i] * 100),
            "threshold": self.thresholds[i],
        }


def make_meter(task: str, channels: int | None = None) -> Meter:
    """The meter of ``task``; ``channels`` is the class count of semseg/human_parts."""
    if task in ("semseg", "human_parts"):
        if channels is None:
            raise ValueError(f"{task} needs its number of classes")
        return SegmentationMeter(channels)
    meters = {"depth": DepthMeter, "normals": NormalsMeter, "sal": SaliencyMeter, "edge": EdgeMeter}
    if task not in meters:
        raise ValueError(f"no metric for task {task!r}; known: {list(PRIMARY)}")
    return meters[task]()


class MultiTaskMeter:
    """One meter per task; ``update(outputs, batch)`` with dicts keyed by task."""

    def __init__(self, tasks: Sequence[str], channels: Mapping[str, int]) -> None:
        self.meters = {t: make_meter(t, channels.get(t)) for t in tasks}

    def update(self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, Any]) -> None:
        for t, pred in outputs.items():
            self.meters[t].update(pred.detach(), batch[t])

    def compute(self) -> dict[str, dict[str, Any]]:
        return {t: m.compute() for t, m in self.meters.items()}


def primary(task: str, metrics: Mapping[str, Any]) -> float:
    """The primary metric of ``task`` from its metrics dict."""
    name, _ = PRIMARY[task]
    return float(metrics[name])


def delta_m(
    results: Mapping[str, Mapping[str, Any]], references: Mapping[str, Mapping[str, Any]]
) -> float:
    """Multi-task performance in percent against single-task (or any) references.

    ``mean_t (-1)^{l_t} (M_t - M_ref,t) / M_ref,t * 100`` over the tasks of
    ``results``, with ``M`` the primary metric (:data:`PRIMARY`) and ``l_t = 1``
    where lower is better. Positive is better than the references.
    """
    if not results:
        raise ValueError("delta_m needs at least one task")
    missing = [t for t in results if t not in references]
    if missing:
        raise ValueError(f"no reference metrics for tasks {missing}")
    total = 0.0
    for t, metrics in results.items():
        _, higher = PRIMARY[t]
        m, ref = primary(t, metrics), primary(t, references[t])
        if ref == 0:
            raise ValueError(f"reference {PRIMARY[t][0]} of {t} is 0; delta_m is undefined")
        rel = (m - ref) / ref
        total += rel if higher else -rel
    return total / len(results) * 100.0


def delta_m_vs_single_task(
    results: Mapping[str, Mapping[str, Any]], benchmark: str
) -> tuple[float | None, list[str]]:
    """Δm (percent) of ``results`` against :data:`SINGLE_TASK_REFERENCES` of ``benchmark``
    (``pascal`` or ``nyud``) over the tasks both have, and those tasks; (None, []) when
    there is no reference (e.g. synthetic data)."""
    refs = SINGLE_TASK_REFERENCES.get(benchmark, {})
    tasks = [t for t in results if t in refs]
    if not tasks:
        return None, []
    return delta_m({t: results[t] for t in tasks}, refs), tasks


def _batches(dataset: Any, batch: int) -> Iterable[dict[str, Any]]:
    from .data import collate

    for start in range(0, len(dataset), batch):
        yield collate([dataset[i] for i in range(start, min(start + batch, len(dataset)))])


def trivial_baselines(
    dataset: Any,
    tasks: Sequence[str],
    channels: Mapping[str, int],
    stats_dataset: Any | None = None,
    batch: int = 16,
) -> dict[str, dict[str, Any]]:
    """Metrics of constant predictions on ``dataset`` (statistics from ``stats_dataset``,
    by default ``dataset`` itself, e.g. the training set):

    semseg/human_parts: the majority class everywhere; depth: the mean valid
    depth; normals: the normalised mean normal; sal/edge: the better (by the
    primary metric) of "everything" and "nothing".
    """
    stats = stats_dataset if stats_dataset is not None else dataset
    counts = {t: torch.zeros(channels[t], dtype=torch.float64) for t in tasks if t in channels}
    depth_sum = depth_n = 0.0
    normal_sum = torch.zeros(3, dtype=torch.float64)
    for b in _batches(stats, batch):
        for t in tasks:
            y = b[t]
            if t in ("semseg", "human_parts"):
                v = y[y != IGNORE_INDEX].long()
                counts[t] += torch.bincount(v, minlength=channels[t])[: channels[t]].double()
            elif t == "depth":
                v = y[(y != IGNORE_INDEX) & (y > 0)]
                depth_sum += float(v.double().sum())
                depth_n += v.numel()
            elif t == "normals":
                valid = (y != IGNORE_INDEX).all(dim=1)
                normal_sum += y.permute(0, 2, 3, 1)[valid].double().sum(0)
    consts: dict[str, list[Any]] = {}
    for t in tasks:
        if t in ("semseg", "human_parts"):
            consts[t] = [int(counts[t].argmax())]
        elif t == "depth":
            consts[t] = [depth_sum / max(depth_n, 1)]
        elif t == "normals":
            n = normal_sum / normal_sum.norm().clamp_min(1e-12)
            consts[t] = [n.tolist() if normal_sum.norm() > 0 else [0.0, 0.0, -1.0]]
        elif t in ("sal", "edge"):
            consts[t] = [20.0, -20.0]  # logits: "everything", "nothing"
        else:
            raise ValueError(f"no trivial baseline for task {t!r}")
    meters = {t: [make_meter(t, channels.get(t)) for _ in consts[t]] for t in tasks}
    for b in _batches(dataset, batch):
        for t in tasks:
            y = b[t]
            shape = (y.shape[0], *y.shape[-2:])
            for c, meter in zip(consts[t], meters[t]):
                if t in ("semseg", "human_parts"):
                    pred = torch.full(shape, c, dtype=torch.long)
                elif t == "normals":
                    pred = torch.tensor(c, dtype=torch.float32)[None, :, None, None].expand(
                        shape[0], 3, *shape[1:]
                    )
                else:
                    pred = torch.full((shape[0], 1, *shape[1:]), float(c))
                meter.update(pred, y)
    out: dict[str, dict[str, Any]] = {}
    for t in tasks:
        scores = [m.compute() for m in meters[t]]
        _, higher = PRIMARY[t]
        key = [primary(t, s) for s in scores]
        best = int(np.nanargmax(key) if higher else np.nanargmin(key))
        out[t] = {**scores[best], "constant": consts[t][best]}
    return out
