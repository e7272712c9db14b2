"""Training: exact resume, refusal of other architectures, loss going down, evaluation,
expert utilisation, the train/eval commands and the report figures and tables."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from pymodel import build_model, load_checkpoint
from pymodel.cli import main
from pymodel.data.synthetic import SyntheticMultiTask
from pymodel.distributed import Context, GlobalBatches
from pymodel.report import (
    metrics_table,
    plot_expert_utilisation,
    plot_history,
    plot_predictions,
    write_metrics_table,
)
from pymodel.train import (
    DeviceError,
    TrainError,
    evaluate,
    expert_utilisation,
    lr_at,
    resolve_device,
    train,
)

FAST = dict(data="synthetic:12", batch=4, progress=False, evaluate_at_end=False, warmup=1)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny tensors: threads only contend on shared cores


def test_schedule_and_batches_are_functions_of_the_step():
    assert lr_at(0, 100, 1e-3, 10) == pytest.approx(1e-4)
    assert lr_at(10, 100, 1e-3, 10) == pytest.approx(1e-3)
    assert lr_at(100, 100, 1e-3, 10) == pytest.approx(5e-5)
    # Each epoch is a permutation of the dataset; steps can be recomputed in any order.
    data = list(range(12))
    stream = GlobalBatches(data, 4, 1, Context(), seed=5)
    epoch = [i for s in range(3) for i in stream.indices(s, 0)]
    assert sorted(epoch) == data and stream.steps_per_epoch == 3
    assert stream.indices(7, 0) == GlobalBatches(data, 4, 1, Context(), seed=5).indices(7, 0)
    assert stream.indices(0, 0) != GlobalBatches(data, 4, 1, Context(), seed=6).indices(0, 0)
    assert stream.indices(3, 0) != stream.indices(0, 0)  # a new permutation per epoch


def test_resume_is_bitwise_exact(tmp_path):
    one = train("tiny", steps=4, out_dir=tmp_path / "one", save_every=0, **FAST)
    train("tiny", steps=4, stop_after=2, out_dir=tmp_path / "two", **FAST)
    first = torch.load(tmp_path / "two" / "last.pt", weights_only=True)
    assert first["step"] == 2
    two = train(
        None,
        steps=None,
        resume=tmp_path / "two" / "last.pt",
        out_dir=tmp_path / "two",
        **{k: v for k, v in FAST.items() if k != "data"} | {"data": None},
    )
    assert one["step"] == two["step"] == 4
    a = torch.load(one["checkpoint"], weights_only=True)
    b = torch.load(two["checkpoint"], weights_only=True)
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
    for i, s in a["optimizer"]["state"].items():
        assert torch.equal(s["exp_avg"], b["optimizer"]["state"][i]["exp_avg"])
    assert a["history"] == b["history"]
    assert a["data"] == "synthetic:12" and a["numerics"] == "float" and a["seed"] == 0
    # The parameters moved, so the comparison is not vacuous.
    init = build_model("tiny", seed=0).state_dict()
    assert not torch.equal(init["backbone.pos_embed"], a["state_dict"]["backbone.pos_embed"])


def test_resume_refuses_another_architecture(tmp_path):
    train("tiny", steps=1, out_dir=tmp_path, **FAST)
    with pytest.raises(TrainError, match=r"different architecture.*dim: 48 vs 32"):
        train("tiny", steps=2, resume=tmp_path / "last.pt", overrides={"dim": 48}, **FAST)
    with pytest.raises(TrainError, match="different architecture"):
        train("edgemoe-t", steps=2, resume=tmp_path / "last.pt", **FAST)
    torch.save({"state_dict": build_model("tiny").state_dict()}, tmp_path / "plain.pt")
    with pytest.raises(TrainError, match="not a training checkpoint"):
        train("tiny", steps=2, resume=tmp_path / "plain.pt", **FAST)
    (tmp_path / "junk.pt").write_bytes(b"\x80\x02garbage")
    with pytest.raises(TrainError, match=r"^cannot read checkpoint .*truncated or corrupt[^\n]*$"):
        train("tiny", steps=2, resume=tmp_path / "junk.pt", **FAST)


def test_cuda_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(TrainError, match="no CUDA GPU"):
        train("tiny", steps=1, device="cuda", out_dir="/nonexistent", **FAST)
    with pytest.raises(TrainError, match="no CUDA GPU"):  # checked before any process group
        train("tiny", steps=1, device="cuda", out_dir="/nonexistent", amp="fp16", **FAST)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trains_on_cuda(tmp_path):
    r = train("tiny", steps=2, device="cuda", out_dir=tmp_path, **FAST)
    assert r["device"].startswith("cuda") and r["step"] == 2


def test_short_training_reduces_the_loss(tmp_path):
    tasks = ("semseg", "human_parts", "sal", "normals", "edge", "depth")
    r = train(
        "tiny",
        "synthetic:32",
        steps=30,
        batch=8,
        lr=2e-3,
        warmup=5,
        out_dir=tmp_path,
        progress=False,
        log_every=1,
        eval_scenes=8,
        overrides={"tasks": tasks, "task_channels": {"semseg": 5}},
    )
    loss = [h["loss"] for h in r["history"]]
    assert len(loss) == 30
    assert np.mean(loss[-5:]) < 0.8 * np.mean(loss[:5]), loss
    assert set(r["eval"]) == set(tasks) == set(r["baselines"])
    json.dumps(r)
    assert json.loads((tmp_path / "metrics.json").read_text())["step"] == 30
    model = load_checkpoint(r["checkpoint"])
    assert model.cfg.tasks == tasks


def test_evaluate_and_expert_utilisation():
    model = build_model("tiny", seed=0)
    ds = SyntheticMultiTask.for_config(model.cfg, num_scenes=5, split="val")
    m = evaluate(model, ds, batch=2)
    assert set(m) == {"semseg", "depth"} and 0 <= m["semseg"]["mIoU"] <= 100
    assert evaluate(model, ds, tasks=("depth",), batch=2, max_batches=1)["depth"]["rmse"] > 0
    u = expert_utilisation(model, ds, "depth", batch=2)
    assert u["task"] == "depth" and u["images"] == 5
    assert [layer["block"] for layer in u["layers"]] == list(model.cfg.moe_blocks)
    for layer in u["layers"]:  # every token goes to top_k experts
        assert sum(layer["tokens_per_expert"]) == 5 * model.cfg.num_tokens * model.cfg.top_k
        assert sum(layer["fraction"]) == pytest.approx(1.0)
    assert not model.training


def test_cli_train_then_eval(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "tiny", "--data", "synthetic:8", "--steps", "2", "--batch", "4"]
    args += ["--out", str(out), "--eval-scenes", "4", "--set", "dim=48", "--set", "num_heads=4"]
    assert main(args) == 0
    assert "trained to step 2/2: 2 steps" in capsys.readouterr().out
    report = tmp_path / "eval.json"
    ckpt = str(out / "last.pt")
    assert main(["eval", ckpt, "--scenes", "4", "--baselines", "--json", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["data"] == "synthetic:8" and data["split"] == "val"
    assert set(data["metrics"]) == set(data["baselines"]) == {"semseg", "depth"}
    assert main(["train", "tiny", "--steps", "1", "--device", "cuda", "--out", str(out)]) == (
        0 if torch.cuda.is_available() else 2
    )
    assert main(["eval", ckpt, "--data", "pascal:" + str(tmp_path / "none")]) == 2
    assert "PASCAL_MT directory not found" in capsys.readouterr().err


def test_report_figures_and_table(tmp_path):
    tasks = ("semseg", "human_parts", "sal", "normals", "edge", "depth")
    model = build_model("tiny", seed=0, tasks=tasks, task_channels={"semseg": 5})
    ds = SyntheticMultiTask.for_config(model.cfg, num_scenes=3)
    png = plot_predictions(model, ds, tmp_path / "pred.png", num_samples=2)
    with Image.open(png) as im:
        assert im.size[0] > 500 and im.size[1] > 200
    util = {t: expert_utilisation(model, ds, t) for t in ("semseg", "depth")}
    with Image.open(plot_expert_utilisation(util, tmp_path / "experts.png")) as im:
        assert im.size[0] > 300
    plot_history(
        [{"step": 1, "loss": 2.0, "semseg": 1.0}, {"step": 2, "loss": 1.0}], tmp_path / "h.png"
    )
    assert (tmp_path / "h.png").stat().st_size > 0

    base = {
        "semseg": {"mIoU": 40.0},
        "human_parts": {"mIoU": 30.0},
        "sal": {"mIoU": 50.0, "maxF": 60.0},
        "normals": {"mean": 20.0},
        "edge": {"odsF": 50.0},
        "depth": {"rmse": 1.0},
    }
    worse = {t: {k: v * 0.9 for k, v in m.items()} for t, m in base.items()}
    results = {"float": base, "approx": base, "edgemoe": worse, "hw16": base}
    table = metrics_table(results, baselines=worse)
    lines = table.strip().splitlines()
    assert len(lines) == 2 + 4 + 1 and "Δm vs float" in lines[0]
    assert lines[2].startswith("| `float` |") and lines[2].endswith("| 0.00 |")
    # Every metric scaled by 0.9: -10% on the four higher-is-better tasks, +10% on
    # normals and depth (lower is better).
    assert lines[4].endswith(f"| {(4 * -10 + 2 * 10) / 6:.2f} |")
    assert "sal maxF ↑" in lines[0] and "depth rmse ↓" in lines[0]
    assert metrics_table({"q8": base}).splitlines()[0].endswith("Δm vs q8 (%) ↑ |")
    path = write_metrics_table(tmp_path / "table.md", results, worse)
    assert "| `hw16` |" in path.read_text()
    with pytest.raises(ValueError, match="no metrics for tasks"):
        metrics_table({"float": base, "bad": {"semseg": {"mIoU": 1.0}}})
