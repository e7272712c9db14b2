"""`edgemoe train` / `edgemoe eval` on PASCAL-Context and NYUD-v2 in their on-disk layouts
(tiny fake datasets): the recipe on real-layout data, metrics at each image's own
resolution, every numerics preset, and Δm against M³ViT's single-task references."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from pymodel import build_model, save_checkpoint
from pymodel.cli import main
from pymodel.data import collate, make_dataset
from pymodel.evaluation import NUMERICS, evaluate
from pymodel.metrics import SINGLE_TASK_REFERENCES, delta_m
from tests.test_data import H, W, nyud_root, pascal_root  # noqa: F401 (fixtures)

PASCAL_TASKS = ["semseg", "human_parts", "sal", "normals", "edge"]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny tensors: threads only contend on shared cores


def _with_val(root, split_dir):
    (root / split_dir / "val.txt").write_text((root / split_dir / "train.txt").read_text())
    return root


def _constant_semseg(model, cls=0):
    """Heads whose semseg logits favour ``cls`` everywhere."""
    conv = model.decoders["semseg"].conv_4
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.bias[cls] = 10.0
    return model


def test_native_resolution_scoring(pascal_root):  # noqa: F811
    root = _with_val(pascal_root, "ImageSets/Context")
    model = _constant_semseg(
        build_model(
            "tiny", seed=0, img_size=(32, 48), tasks=["semseg"], task_channels={"semseg": 6}
        )
    )
    native = make_dataset(f"pascal:{root}", model.cfg, split="val", native_labels=True)
    s = native[0]
    assert s["image"].shape == (3, 32, 48) and s["semseg"].shape == (H, W)
    resized = make_dataset(f"pascal:{root}", model.cfg, split="val")
    assert resized[0]["semseg"].shape == (32, 48)
    b = collate([native[0], native[1]])
    assert b["image"].shape == (2, 3, 32, 48) and b["semseg"].shape == (2, H, W)
    odd = collate([{"y": torch.zeros(H, W)}, {"y": torch.zeros(W, H)}])["y"]
    assert isinstance(odd, list) and [t.shape for t in odd] == [(H, W), (W, H)]
    # Labels: class 0 on the left half, 5 on the right, one ignored pixel per image; the
    # model says 0 everywhere: IoU(0) = left / all valid, IoU(5) = 0, at the image's size.
    m = evaluate(model, native, tasks=["semseg"], batch=2)["semseg"]
    left, valid = H * (W // 2) - 1, H * W - 1
    assert m["mIoU"] == pytest.approx(100 * left / valid / 2)
    assert m["pixel_acc"] == pytest.approx(100 * left / valid)
    assert evaluate(model, resized, tasks=["semseg"], batch=2)["semseg"]["mIoU"] != m["mIoU"]


def test_train_and_eval_on_pascal_layout(pascal_root, tmp_path, capsys):  # noqa: F811
    root = _with_val(pascal_root, "ImageSets/Context")
    out = tmp_path / "run"
    args = ["train", "tiny", "--data", "pascal", "--root", str(root), "--recipe", "m3vit-s-pascal"]
    args += ["--set", f"tasks={PASCAL_TASKS}", "--set", "task_channels={semseg: 21}"]
    args += ["--steps", "1", "--batch", "2", "--no-eval", "--out", str(out)]
    assert main(args) == 0
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["data"] == f"pascal:{root}" and ckpt["train_args"]["recipe"] == "m3vit-s-pascal"
    assert ckpt["train_args"]["augmentation"]["rotate"] == [-20.0, 20.0]
    capsys.readouterr()

    report = tmp_path / "eval.json"
    assert main(["eval", str(out / "last.pt"), "--numerics", "all", "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "single-task" in printed and "M3ViT-S paper" in printed and "Δm over" in printed
    data = json.loads(report.read_text())
    assert data["resolution"] == "native" and data["images"] == 2
    assert list(data["numerics"]) == list(NUMERICS)
    refs = SINGLE_TASK_REFERENCES["pascal"]
    assert data["references"]["single_task"] == refs
    assert data["published"]["M3ViT-S"]["semseg"]["mIoU"] == 72.8
    for name, run in data["numerics"].items():
        assert set(run["metrics"]) == set(PASCAL_TASKS), name
        # Edge has no single-task reference in M3ViT's Δm.
        assert run["delta_m_tasks"] == ["semseg", "human_parts", "sal", "normals"]
        expect = delta_m({t: run["metrics"][t] for t in run["delta_m_tasks"]}, refs)
        assert run["delta_m"] == pytest.approx(expect)
    # By hand for float: mean of signed relative differences (normals: lower is better).
    m = data["numerics"]["float"]["metrics"]
    rel = [
        (m["semseg"]["mIoU"] - 66.2) / 66.2,
        (m["human_parts"]["mIoU"] - 59.9) / 59.9,
        (m["sal"]["mIoU"] - 66.3) / 66.3,
        -(m["normals"]["mean"] - 13.9) / 13.9,
    ]
    assert data["numerics"]["float"]["delta_m"] == pytest.approx(100 * sum(rel) / 4)
    # The fixed-point numerics change the backbone's arithmetic, so the metrics move.
    assert data["numerics"]["edgemoe"]["metrics"] != data["numerics"]["float"]["metrics"]
    assert data["metrics"] == data["numerics"]["float"]["metrics"]


def test_eval_on_nyud_layout(nyud_root, tmp_path, capsys):  # noqa: F811
    root = _with_val(nyud_root, "gt_sets")
    cfg = dict(img_size=(32, 48), tasks=("semseg", "depth"), task_channels={"semseg": 40})
    ckpt = save_checkpoint(build_model("tiny", seed=0, **cfg), tmp_path / "m.pt")
    report = tmp_path / "eval.json"
    args = ["eval", str(ckpt), "--data", "nyud", "--root", str(root), "--json", str(report)]
    assert main([*args, "--numerics", "float,hw16"]) == 0
    data = json.loads(report.read_text())
    assert list(data["numerics"]) == ["float", "hw16"]
    run = data["numerics"]["float"]
    assert run["delta_m_tasks"] == ["semseg", "depth"]
    refs = SINGLE_TASK_REFERENCES["nyud"]
    assert refs["depth"] == {"rmse": 0.585} and refs["semseg"] == {"mIoU": 43.9}
    assert run["delta_m"] == pytest.approx(
        100
        * (
            (run["metrics"]["semseg"]["mIoU"] - 43.9) / 43.9
            - (run["metrics"]["depth"]["rmse"] - 0.585) / 0.585
        )
        / 2
    )
    assert main([*args, "--numerics", "float,fp8"]) == 2
    assert "unknown numerics ['fp8']" in capsys.readouterr().err
    shutil.rmtree(root / "depth")
    assert main(args) == 2
    assert "depth/0003.npy" in capsys.readouterr().err
