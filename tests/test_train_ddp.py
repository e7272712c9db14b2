"""Training under torch.distributed (gloo on CPU): two processes compute what one process
computes on the same global batch, rank 0 alone writes, a two-process checkpoint resumes on
one process, the global batch stream is the same at any world size, and ``edgemoe train
--nproc`` goes through torchrun."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pymodel import build_model
from pymodel.cli import main
from pymodel.distributed import Context, GlobalBatches, strip_options
from pymodel.train import train

ROOT = Path(__file__).resolve().parents[1]
# Plain SGD keeps the update linear in the gradient, so float rounding of the all-reduce
# stays at rounding level (Adam divides near-zero gradients by their own size).
RUN = dict(
    config="tiny",
    data="synthetic:16",
    steps=4,
    batch=8,
    accum=2,
    optimizer="sgd",
    lr=0.05,
    seed=3,
    save_every=0,
    evaluate_at_end=False,
)
CLI_RUN = ["tiny", "--data", "synthetic:16", "--steps", "4", "--batch", "8", "--accum", "2"]
CLI_RUN += ["--optimizer", "sgd", "--lr", "0.05", "--seed", "3", "--save-every", "0", "--no-eval"]

# Loaded by every Python process of the run (site imports sitecustomize from PYTHONPATH):
# in each torchrun worker, an audit hook records file-system writes under the output
# directory, and stdout/stderr go to files per rank.
SITECUSTOMIZE = """
import atexit, json, os, sys
rank, out, logs = (os.environ.get(k) for k in ("RANK", "AUDIT_OUT", "AUDIT_LOGS"))
if rank is not None and out and logs:
    writes = []
    def audit(event, args):
        if event == "open" and isinstance(args[0], (str, os.PathLike)):
            mode = str(args[1] or "r")
            if any(c in mode for c in "wax+") and os.path.abspath(args[0]).startswith(out):
                writes.append(f"open {args[0]}")
        elif event in ("os.rename", "os.mkdir", "os.remove") and str(args[0]).startswith(out):
            writes.append(f"{event} {args[0]}")
    sys.addaudithook(audit)
    sys.stdout = open(os.path.join(logs, f"out{rank}.txt"), "w", buffering=1)
    sys.stderr = open(os.path.join(logs, f"err{rank}.txt"), "w", buffering=1)
    def dump():
        with open(os.path.join(logs, f"writes{rank}.json"), "w") as f:
            json.dump(writes, f)
    atexit.register(dump)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _edgemoe(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    cmd = [sys.executable, "-m", "pymodel.cli", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _state(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def _assert_same_run(a: dict, b: dict, init: dict) -> None:
    """Same training up to float rounding: per tensor, the difference is tiny against how
    far the weights moved from ``init`` (and against the momentum itself)."""
    for k, v in a["state_dict"].items():
        w = b["state_dict"][k]
        if not v.is_floating_point():
            assert torch.equal(v, w), k
            continue
        scale = (v - init[k]).norm() if k in init else v.norm()
        assert (w - v).norm() <= 1e-3 * scale + 1e-6, k
    for i, s in a["optimizer"]["state"].items():
        m, n = s["momentum_buffer"], b["optimizer"]["state"][i]["momentum_buffer"]
        assert (n - m).norm() <= 1e-3 * m.norm() + 1e-7, i
    assert len(a["history"]) == len(b["history"])
    for ha, hb in zip(a["history"], b["history"]):
        assert ha.keys() == hb.keys()
        for k in ha:
            assert hb[k] == pytest.approx(ha[k], rel=1e-5, abs=1e-7), k


def test_two_gloo_processes_equal_one_and_resume_on_one(tmp_path):
    torch.set_num_threads(1)  # one thread per process: no oversubscription on shared cores
    one2 = train(**RUN, stop_after=2, out_dir=tmp_path / "one2", progress=False)
    one4 = train(**RUN, out_dir=tmp_path / "one4", progress=False)

    # `edgemoe train --nproc 2` re-runs itself under torchrun: two gloo processes.
    two, logs, site = tmp_path / "two", tmp_path / "logs", tmp_path / "site"
    logs.mkdir()
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        "AUDIT_OUT": str(two.resolve()),
        "AUDIT_LOGS": str(logs),
    }
    args = ["train", *CLI_RUN, "--stop-after", "2", "--out", str(two)]
    proc = _edgemoe([*args, "--nproc", "2", "--master-port", str(_free_port())], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr + (logs / "err0.txt").read_text()

    # Rank 0 alone wrote (the checkpoint through a temporary file, metrics.json) and
    # printed (the progress bar and the summary); rank 1 wrote and printed nothing.
    w0, w1 = (json.loads((logs / f"writes{r}.json").read_text()) for r in (0, 1))
    assert w1 == []
    assert any("last.pt.tmp" in w for w in w0) and any("metrics.json" in w for w in w0), w0
    assert sorted(p.name for p in two.iterdir()) == ["last.pt", "metrics.json"]
    assert "train" in (logs / "err0.txt").read_text()
    assert "trained to step 2/4" in (logs / "out0.txt").read_text()
    assert "on 2 processes, global batch 8" in (logs / "out0.txt").read_text()
    assert (logs / "out1.txt").read_text() == ""
    assert "train" not in (logs / "err1.txt").read_text()

    ckpt = _state(two / "last.pt")
    assert ckpt["world_size"] == 2 and ckpt["global_batch"] == 8 and ckpt["step"] == 2
    assert ckpt["train_args"]["micro_batch"] == 2 and ckpt["train_args"]["accum"] == 2
    assert ckpt["sampler"] == {"epoch": 1, "step_in_epoch": 0, "steps_per_epoch": 2}
    ref = _state(Path(one2["checkpoint"]))
    assert ref["world_size"] == 1 and ref["train_args"]["micro_batch"] == 4
    init = {k: v for k, v in build_model("tiny", seed=3).state_dict().items() if "running" not in k}
    _assert_same_run(ref, ckpt, init)
    # Not vacuous: the weights moved, and the same start on other batches is told apart
    # (17 scenes: another permutation of the same first 16).
    assert max(float((ckpt["state_dict"][k] - v).abs().max()) for k, v in init.items()) > 1e-3
    other = train(
        **{**RUN, "data": "synthetic:17"}, stop_after=2, out_dir=tmp_path / "o", progress=False
    )
    with pytest.raises(AssertionError):
        _assert_same_run(ref, {**_state(Path(other["checkpoint"])), "history": []}, init)

    # The two-process checkpoint resumes on one process (same global batch, accum from
    # the checkpoint) and ends where the one-process run ends.
    resumed = train(
        None,
        None,
        resume=two / "last.pt",
        out_dir=tmp_path / "resumed",
        progress=False,
        evaluate_at_end=False,
    )
    assert resumed["step"] == 4 and resumed["world_size"] == 1
    _assert_same_run(_state(Path(one4["checkpoint"])), _state(Path(resumed["checkpoint"])), init)


@pytest.mark.parametrize("world,accum", [(1, 1), (2, 1), (2, 2), (4, 1)])
def test_global_batches_do_not_depend_on_the_world_size(world, accum):
    data = list(range(37))
    one = GlobalBatches(data, 8, accum, Context(), seed=1)
    ranks = [GlobalBatches(data, 8, accum, Context(r, world), seed=1) for r in range(world)]
    assert one.steps_per_epoch == ranks[0].steps_per_epoch == 4
    for step in (0, 3, 4, 9):
        for m in range(accum):
            # Rank r holds the r-th of every `world` samples of the micro-step's global batch.
            merged = [None] * (8 // accum)
            for r, stream in enumerate(ranks):
                merged[r::world] = stream.indices(step, m)
            assert merged == one.indices(step, m)
    with pytest.raises(ValueError, match="not divisible by world size 2 x accum 3"):
        GlobalBatches(data, 8, 3, Context(0, 2), seed=1)
    with pytest.raises(ValueError, match="fewer than one global batch"):
        GlobalBatches(data[:5], 8, 1, Context(), seed=1)


def test_strip_options():
    argv = ["train", "tiny", "--nproc", "2", "--steps=3", "--master-port=5", "--out", "x"]
    assert strip_options(argv, ["--nproc", "--master-port"]) == [
        "train",
        "tiny",
        "--steps=3",
        "--out",
        "x",
    ]


def test_cli_nproc_errors(capsys):
    # Refused before any process starts.
    assert main(["train", "tiny", "--nproc", "2", "--batch", "6", "--accum", "2"]) == 2
    assert "global batch 6 is not divisible by world size 2 x accum 2" in capsys.readouterr().err
    assert main(["train", "tiny", "--data", "synthetic", "--root", "/x"]) == 2
    assert "--root needs --data pascal or --data nyud" in capsys.readouterr().err
    if torch.cuda.device_count() < 64:
        assert main(["train", "tiny", "--nproc", "64", "--device", "cuda"]) == 2
        assert "needs 64 GPUs" in capsys.readouterr().err
