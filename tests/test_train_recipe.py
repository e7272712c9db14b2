"""Training recipes (M³ViT's published setup), the poly schedule, the augmentation's
geometry and determinism, mixed precision, and the GPU paths (marked gpu)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pymodel.data import IGNORE_INDEX, IMAGENET_MEAN, IMAGENET_STD
from pymodel.recipe import RECIPES, Augment, augment_batch, get_recipe, lr_at
from pymodel.train import TrainError, train

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(data="synthetic:8", batch=4, progress=False, evaluate_at_end=False, save_every=0)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny tensors: threads only contend on shared cores


def test_m3vit_recipes_are_the_published_config():
    for name, size in (("m3vit-s-pascal", (512, 512)), ("m3vit-s-nyud", (480, 640))):
        r = get_recipe(None, name)
        assert r.name == name and r.img_size == size
        assert (r.optimizer, r.lr, r.momentum, r.weight_decay) == ("sgd", 0.002, 0.9, 1e-4)
        assert (r.schedule, r.poly_power, r.epochs, r.batch, r.grad_clip) == (
            "poly",
            0.9,
            100,
            16,
            0.0,
        )
        assert r.config == {"gate_noise_std": 0.0} and r.augment.flip == 0.5
    assert RECIPES["m3vit-s-pascal"].augment.rotate == (-20.0, 20.0)
    assert RECIPES["m3vit-s-pascal"].augment.scale == (0.75, 1.25)
    assert RECIPES["m3vit-s-nyud"].augment.scale_choices == (1.0, 1.2, 1.5)
    assert get_recipe(None, "tiny").name == get_recipe(None, None).name == "default"
    with pytest.raises(ValueError, match="unknown recipe 'nope'"):
        get_recipe("nope")


def test_poly_schedule_is_set_once_per_epoch():
    steps, spe = 1000, 10  # 100 epochs of 10 steps
    assert lr_at(0, steps, 0.002, 0, "poly", spe) == pytest.approx(0.002)
    assert lr_at(9, steps, 0.002, 0, "poly", spe) == pytest.approx(0.002)
    e1 = 0.002 * (1 - 1 / 100) ** 0.9
    assert lr_at(10, steps, 0.002, 0, "poly", spe) == pytest.approx(e1)
    assert lr_at(19, steps, 0.002, 0, "poly", spe) == pytest.approx(e1)
    assert lr_at(999, steps, 0.002, 0, "poly", spe) == pytest.approx(0.002 * 0.01**0.9)
    assert lr_at(2, steps, 0.002, 5, "poly", spe) == pytest.approx(0.002 * 3 / 5)  # warm-up


def _batch(h=8, w=8):
    torch.manual_seed(0)
    seg = torch.randint(0, 5, (2, h, w))
    normals = torch.zeros(2, 3, h, w)
    normals[:, 0] = 1.0  # every surface faces right
    return {
        "image": torch.randn(2, 3, h, w),
        "semseg": seg,
        "depth": torch.rand(2, 1, h, w) + 1,
        "normals": normals,
        "edge": (torch.rand(2, 1, h, w) > 0.5).float(),
    }


TASKS = ("semseg", "depth", "normals", "edge")


def test_augmentation_geometry():
    b = _batch()
    same = augment_batch(b, TASKS, Augment(flip=0.0), 0, 0, [0, 1])
    assert all(torch.equal(same[k], b[k]) for k in b)

    flip = augment_batch(b, TASKS, Augment(flip=1.0), 0, 0, [0, 1])
    torch.testing.assert_close(flip["image"], b["image"].flip(-1))
    assert torch.equal(flip["semseg"], b["semseg"].flip(-1))
    assert torch.equal(flip["edge"], b["edge"].flip(-1))
    assert torch.allclose(flip["normals"][:, 0], torch.tensor(-1.0))  # x mirrored

    # 90 degrees counter-clockwise (as displayed) about the centre of a square image:
    # pixel centres land on pixel centres, so nearest resampling is exact.
    rot = augment_batch(b, TASKS, Augment(flip=0.0, rotate=(90.0, 90.0)), 0, 0, [0, 1])
    assert torch.equal(rot["semseg"], torch.rot90(b["semseg"], 1, (-2, -1)))
    assert torch.equal(rot["depth"], torch.rot90(b["depth"], 1, (-2, -1)))
    n = rot["normals"]  # facing right, turned a quarter counter-clockwise: facing up (-y)
    torch.testing.assert_close(
        n[:, :2],
        torch.tensor([0.0, -1.0])[None, :, None, None].expand(2, 2, 8, 8),
        atol=1e-6,
        rtol=0,
    )

    # Zooming out leaves the border outside the source: labels ignored, image black.
    out = augment_batch(b, TASKS, Augment(flip=0.0, scale=(0.5, 0.5)), 0, 0, [0, 1])
    assert torch.all(out["semseg"][:, 0] == IGNORE_INDEX)
    assert torch.all(out["depth"][:, :, 0] == IGNORE_INDEX)
    assert torch.all(out["normals"][:, :, 0] == IGNORE_INDEX)
    black = torch.as_tensor(-IMAGENET_MEAN / IMAGENET_STD)
    torch.testing.assert_close(out["image"][:, :, 0, 0], black[None].expand(2, 3).float())
    assert set(out["semseg"].unique().tolist()) <= set(b["semseg"].unique().tolist()) | {255}


def test_augmentation_draws_depend_on_seed_epoch_and_index_only():
    aug = RECIPES["m3vit-s-pascal"].augment
    a = aug.draw(1, 2, 3)
    assert a == aug.draw(1, 2, 3)
    assert a != aug.draw(1, 2, 4) and a != aug.draw(1, 3, 3)
    draws = [aug.draw(0, 0, i) for i in range(400)]
    assert 0.4 < sum(f for f, _, _ in draws) / 400 < 0.6
    assert all(-20 <= ang <= 20 and 0.75 <= s <= 1.25 for _, ang, s in draws)
    nyud = {RECIPES["m3vit-s-nyud"].augment.draw(0, 0, i)[2] for i in range(100)}
    assert nyud == {1.0, 1.2, 1.5}


def test_m3vit_recipe_trains_and_is_recorded(tmp_path, capsys):
    r = train("tiny", recipe="m3vit-s-pascal", steps=2, out_dir=tmp_path, **FAST)
    assert "published at input (512, 512)" in capsys.readouterr().err
    args = r["train_args"]
    assert args["recipe"] == "m3vit-s-pascal" and args["optimizer"] == "sgd"
    assert args["augmentation"]["rotate"] == [-20.0, 20.0] and r["config"]["gate_noise_std"] == 0
    ckpt = torch.load(r["checkpoint"], weights_only=True)
    assert "momentum_buffer" in next(iter(ckpt["optimizer"]["state"].values()))
    with pytest.raises(TrainError, match="optimizer 'sgd'.*with optimizer 'adamw'"):
        train(None, resume=r["checkpoint"], optimizer="adamw", out_dir=tmp_path, **FAST)
    # Epochs count whole global batches: 8 scenes, batch 4 -> 2 steps per epoch.
    assert train("tiny", epochs=1.5, out_dir=tmp_path / "e", **FAST)["steps"] == 3


def test_mixed_precision_on_cpu(tmp_path):
    r = train("tiny", steps=1, amp="bf16", out_dir=tmp_path, **FAST)
    assert r["train_args"]["amp"] == "bf16" and math.isfinite(r["history"][-1]["loss"])
    with pytest.raises(TrainError, match="--amp fp16 needs a CUDA device"):
        train("tiny", steps=1, amp="fp16", out_dir=tmp_path, **FAST)
    with pytest.raises(TrainError, match="use bf16, fp16 or none"):
        train("tiny", steps=1, amp="fp8", out_dir=tmp_path, **FAST)


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_cuda_amp_and_resume(tmp_path, amp):
    r = train(
        "tiny", steps=4, stop_after=2, amp=amp, accum=2, device="cuda", out_dir=tmp_path, **FAST
    )
    ckpt = torch.load(r["checkpoint"], weights_only=True)
    assert ("scaler" in ckpt) == (amp == "fp16")
    r = train(None, resume=r["checkpoint"], device="cuda", out_dir=tmp_path, **FAST)
    assert r["step"] == 4 and math.isfinite(r["history"][-1]["loss"])


@pytest.mark.gpu
@needs_cuda
def test_nccl_under_torchrun(tmp_path):
    """torchrun with one process per GPU, NCCL; with two GPUs, the same global batch as
    one GPU (SyncBatchNorm, global router statistics)."""
    gpus = min(2, torch.cuda.device_count())
    common = ["train", "tiny", "--data", "synthetic:16", "--steps", "2", "--batch", "8"]
    common += ["--optimizer", "sgd", "--lr", "0.05", "--device", "cuda", "--no-eval"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={gpus}"]
    cmd += ["--standalone", "-m", "pymodel.cli", *common, "--out", str(tmp_path / "n")]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    multi = torch.load(tmp_path / "n" / "last.pt", weights_only=True)
    assert multi["world_size"] == gpus and multi["global_batch"] == 8
    single = train(
        "tiny",
        "synthetic:16",
        steps=2,
        batch=8,
        optimizer="sgd",
        lr=0.05,
        device="cuda",
        out_dir=tmp_path / "s",
        progress=False,
        evaluate_at_end=False,
    )
    ref = torch.load(single["checkpoint"], weights_only=True)
    for a, b in zip(ref["history"], multi["history"]):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-3)
