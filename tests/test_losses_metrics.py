"""Losses and metrics against hand-computed cases; delta_m; trivial baselines."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pymodel import build_model
from pymodel.data import collate
from pymodel.data.synthetic import SyntheticMultiTask
from pymodel.losses import (
    DEFAULT_WEIGHTS,
    MultiTaskLoss,
    balanced_bce_loss,
    cross_entropy_loss,
    depth_loss,
    model_loss,
    normals_loss,
    task_loss,
)
from pymodel.metrics import (
    DepthMeter,
    EdgeMeter,
    NormalsMeter,
    SaliencyMeter,
    SegmentationMeter,
    delta_m,
    edge_tolerance,
    trivial_baselines,
)

LN2 = math.log(2.0)


def _img(values, dtype=torch.float32):
    """(1, 1, 1, N) tensor from a list: N pixels in one row."""
    return torch.tensor(values, dtype=dtype).reshape(1, 1, 1, -1)


# ---------------------------------------------------------------------- losses
def test_cross_entropy_ignores_255():
    logits = torch.zeros(1, 3, 1, 2)
    logits[0, 1, 0, 0] = 2.0
    target = torch.tensor([[[1, 255]]])
    expect = -math.log(math.exp(2) / (math.exp(2) + 2))
    assert cross_entropy_loss(logits, target).item() == pytest.approx(expect, rel=1e-6)
    assert cross_entropy_loss(logits, target[:, None]).item() == pytest.approx(expect, rel=1e-6)
    assert cross_entropy_loss(logits, torch.full((1, 1, 2), 255)).item() == 0.0


def test_balanced_bce_by_hand():
    logits, labels = _img([0.0, 0.0, 2.0]), _img([1.0, 0.0, 0.0])
    big = math.log(1 + math.exp(2))
    # HED weighting: positives by the negative fraction (2/3), negatives by 1/3.
    expect = (2 / 3 * LN2 + 1 / 3 * (LN2 + big)) / 3
    assert balanced_bce_loss(logits, labels).item() == pytest.approx(expect, rel=1e-6)
    fixed = (0.95 * LN2 + 0.05 * (LN2 + big)) / 3
    assert balanced_bce_loss(logits, labels, 0.95).item() == pytest.approx(fixed, rel=1e-6)
    assert task_loss("edge", logits, labels).item() == pytest.approx(fixed, rel=1e-6)
    # An ignored pixel drops out of the sums but not of the pixel count.
    ign = balanced_bce_loss(_img([0.0, 0.0, 2.0, 5.0]), _img([1.0, 0.0, 0.0, 255.0]))
    assert ign.item() == pytest.approx(expect * 3 / 4, rel=1e-6)


def test_normals_and_depth_losses():
    pred = torch.zeros(1, 3, 1, 2)
    pred[0, 0] = 2.0  # normalised to (1, 0, 0)
    target = torch.zeros(1, 3, 1, 2)
    target[0, 1, 0, 0] = 1.0
    target[:, :, 0, 1] = 255.0
    assert normals_loss(pred, target).item() == pytest.approx(2 / 3, rel=1e-6)
    d = depth_loss(_img([1.0, 2.0, 9.0]), _img([1.5, 4.0, 255.0]))
    assert d.item() == pytest.approx((0.5 + 2.0) / 2, rel=1e-6)
    assert depth_loss(_img([1.0]), _img([255.0])).item() == 0.0


def test_multi_task_loss_weights_and_errors():
    assert DEFAULT_WEIGHTS == {
        "semseg": 1.0,
        "human_parts": 2.0,
        "sal": 5.0,
        "edge": 50.0,
        "normals": 10.0,
        "depth": 1.0,
    }
    crit = MultiTaskLoss(("sal", "depth"), {"depth": 3.0})
    batch = {"sal": _img([1.0, 0.0]), "depth": _img([2.0, 2.0])}
    total, parts = crit({"sal": _img([0.0, 0.0]), "depth": _img([1.0, 1.0])}, batch)
    assert parts["depth"].item() == pytest.approx(1.0)
    assert total.item() == pytest.approx(5.0 * parts["sal"].item() + 3.0)
    with pytest.raises(ValueError, match="unknown tasks"):
        MultiTaskLoss(("sal",), {"flow": 1.0})
    with pytest.raises(ValueError, match="not one of"):
        crit({"semseg": torch.zeros(1, 2, 1, 2)}, batch)
    with pytest.raises(ValueError, match="differ"):
        depth_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 3, 2))


def test_model_loss_adds_each_forwards_balance_loss():
    model = build_model("tiny", seed=0).train()
    ds = SyntheticMultiTask.for_config(model.cfg, num_scenes=2)
    batch = collate([ds[0], ds[1]])
    crit = MultiTaskLoss(model.cfg.tasks)
    torch.manual_seed(0)
    total, log = model_loss(model, batch, crit)
    assert set(log) == {"semseg", "depth", "balance"} and log["balance"] > 0
    weighted = sum(crit.weights[t] * log[t] for t in ("semseg", "depth"))
    assert total.item() == pytest.approx(weighted + log["balance"], rel=1e-5)
    total.backward()
    gate = model.backbone.blocks[1].mlp.gate
    assert gate[0].w_gate.grad is not None and gate[1].w_gate.grad is not None


# --------------------------------------------------------------------- metrics
def test_segmentation_miou_by_hand_and_accumulation():
    gt = torch.tensor([[[0, 0, 1, 1, 255]]])
    pred = torch.tensor([[[0, 1, 1, 1, 0]]])
    m = SegmentationMeter(3)
    m.update(pred, gt)
    r = m.compute()
    # class 0: tp 1, fn 1 -> 1/2; class 1: tp 2, fp 1 -> 2/3; class 2 absent (not averaged)
    assert r["mIoU"] == pytest.approx((1 / 2 + 2 / 3) / 2 * 100)
    assert r["pixel_acc"] == pytest.approx(75.0)
    assert r["iou"][2] is None
    split = SegmentationMeter(3)
    split.update(pred[..., :2], gt[..., :2])
    split.update(pred[..., 2:], gt[..., 2:])
    assert split.compute()["mIoU"] == pytest.approx(r["mIoU"])
    logits = torch.nn.functional.one_hot(pred.clamp(max=2), 3).permute(0, 3, 1, 2).float()
    via_logits = SegmentationMeter(3)
    via_logits.update(logits, gt)
    assert via_logits.compute()["mIoU"] == pytest.approx(r["mIoU"])
    with pytest.raises(ValueError, match="outside"):
        SegmentationMeter(2).update(pred, torch.tensor([[[0, 0, 5, 1, 1]]]))


def test_depth_and_normals_metrics_by_hand():
    d = DepthMeter()
    d.update(_img([1.0, 2.0, 7.0]), _img([2.0, 4.0, 255.0]))
    d.update(_img([3.0]), _img([3.0]))
    r = d.compute()
    assert r["rmse"] == pytest.approx(math.sqrt((1 + 4 + 0) / 3))
    assert r["abs_rel"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    n = NormalsMeter()
    pred = torch.zeros(1, 3, 1, 3)
    pred[0, 2] = 1.0
    target = torch.zeros(1, 3, 1, 3)
    target[0, 2, 0, 0] = 1.0  # 0 degrees
    target[0, 0, 0, 1] = 1.0  # 90 degrees
    target[:, :, 0, 2] = 255.0  # ignored
    n.update(pred * 5.0, target)
    r = n.compute()
    assert r["mean"] == pytest.approx(45.0, abs=1e-4)
    assert r["11.25"] == pytest.approx(50.0) and r["30"] == pytest.approx(50.0)
    assert r["rmse"] == pytest.approx(math.sqrt(90**2 / 2), abs=1e-3)


def test_saliency_max_f_and_miou():
    def logit(p):
        return math.log(p / (1 - p))

    m = SaliencyMeter(thresholds=[0.5])
    # image 1: pred {1,1,0,0}, gt {1,0,0,0}: P 1/2, R 1, IoU 1/2
    # image 2: nothing predicted, nothing salient: P 0, R 0, IoU 1 (a perfect empty match)
    pred = torch.tensor([[logit(0.9), logit(0.8), logit(0.1), logit(0.2)], [-5.0] * 4])
    gt = torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 0]])
    m.update(pred.reshape(2, 1, 1, 4), gt.reshape(2, 1, 1, 4))
    r = m.compute()
    p, rec = (0.5 + 0) / 2, (1 + 0) / 2
    assert r["maxF"] == pytest.approx(2 * p * rec / (p + rec) * 100, rel=1e-6)
    assert r["mIoU"] == pytest.approx(75.0)
    # More thresholds can only raise the maximum.
    m2 = SaliencyMeter()
    m2.update(pred.reshape(2, 1, 1, 4), gt.reshape(2, 1, 1, 4))
    assert m2.compute()["maxF"] >= r["maxF"] - 1e-9


def test_edge_f_with_tolerance():
    gt = torch.zeros(1, 1, 8, 8)
    gt[0, 0, :, 3] = 1
    shifted = torch.full((1, 1, 8, 8), -10.0)
    shifted[0, 0, :, 4] = 10.0  # one pixel off
    strict = EdgeMeter(tolerance=0)
    strict.update(shifted, gt)
    assert strict.compute()["odsF"] == 0.0
    tol = EdgeMeter(tolerance=1)
    tol.update(shifted, gt)
    assert tol.compute()["odsF"] == pytest.approx(100.0)
    half = torch.full((1, 1, 8, 8), -10.0)
    half[0, 0, :4, 3] = 10.0  # half of the edge, exactly
    m = EdgeMeter(tolerance=0)
    m.update(half, gt)
    r = m.compute()  # precision 1, recall 1/2
    assert r["odsF"] == pytest.approx(2 * 0.5 / 1.5 * 100)
    assert edge_tolerance((512, 512)) == 5 and edge_tolerance((48, 64)) == 1


def test_delta_m_definition():
    ref = {"semseg": {"mIoU": 40.0}, "depth": {"rmse": 0.4}, "normals": {"mean": 20.0}}
    res = {"semseg": {"mIoU": 50.0}, "depth": {"rmse": 0.5}, "normals": {"mean": 18.0}}
    # (+25% - 25% + 10%) / 3
    assert delta_m(res, ref) == pytest.approx(10 / 3)
    assert delta_m(ref, ref) == 0.0
    with pytest.raises(ValueError, match="no reference"):
        delta_m({"edge": {"odsF": 50.0}}, ref)


def test_trivial_baselines_are_constant_predictions():
    ds = SyntheticMultiTask(6, (32, 48), num_classes=5)
    tasks = ("semseg", "human_parts", "sal", "normals", "edge", "depth")
    channels = {"semseg": 5, "human_parts": 7}
    base = trivial_baselines(ds, tasks, channels, batch=4)
    json.dumps(base)
    depth = torch.stack([ds[i]["depth"] for i in range(6)]).double()
    # RMSE of the mean prediction is the population standard deviation.
    assert base["depth"]["rmse"] == pytest.approx(float(depth.std(unbiased=False)), rel=1e-4)
    seg = torch.stack([ds[i]["semseg"] for i in range(6)])
    majority = int(torch.bincount(seg.flatten()).argmax())
    assert base["semseg"]["constant"] == majority
    assert base["human_parts"]["constant"] == 0  # background dominates
    assert base["sal"]["constant"] == 20.0  # "everything" beats "nothing"
    sal = torch.stack([ds[i]["sal"] for i in range(6)])
    per_image = sal.flatten(1).mean(1)
    assert base["sal"]["mIoU"] == pytest.approx(float(per_image.mean()) * 100, rel=1e-5)
    assert 0 < base["edge"]["odsF"] < 60
    assert 0 < base["normals"]["mean"] < 90
    assert np.isclose(np.linalg.norm(base["normals"]["constant"]), 1.0)
