"""Multi-task training, evaluation and expert-utilisation statistics.

Training objective: every step runs all of the model's tasks on the same
batch, each task with its own backbone pass (M3ViT's multi-gate forward: the
router of each MoE layer is the task's own), and minimises the weighted sum of
the task losses (:mod:`pymodel.losses`, M3ViT's weights unless given) plus
each forward's MoE load-balancing loss, with one AdamW step. (Sampling one
task per step would cost a fifth per step on PASCAL but update each task's
heads and gates a fifth as often; the sum is what M3ViT does.)

Learning rate: linear warm-up over ``warmup`` steps, then cosine decay to 5%
of ``lr`` at ``steps``. Gradients are clipped to norm ``grad_clip``.

Determinism: the batch of step ``s`` is a pure function of ``(seed, s)``
(one permutation of the dataset per epoch) and the global torch RNG (router
noise) is reseeded from ``(seed, s)`` at every step, so a run resumed from a
checkpoint continues bit for bit on CPU: ``steps=4`` in one go equals
``steps=4, stop_after=2`` followed by ``steps=4, resume=...``.

Checkpoints (:func:`pymodel.save_checkpoint`) hold the model and its config
plus ``optimizer``, ``step``, ``epoch``, ``seed``, ``data`` (the spec),
``numerics`` (``"float"``), ``train_args``, the loss ``history`` and the final
validation ``metrics``; ``out_dir/last.pt`` is
rewritten every ``save_every`` steps and at the end, and ``out_dir/metrics.json``
holds the training log and the final evaluation.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from .checkpoint import CheckpointError, load_checkpoint, read_file, save_checkpoint
from .config import ModelConfig, get_config
from .data import collate, make_dataset
from .losses import MultiTaskLoss, model_loss
from .metrics import MultiTaskMeter, trivial_baselines
from .model import M3ViT, build_model
from .results import write_json

DEFAULTS: dict[str, Any] = {
    "steps": 200,
    "lr": 1e-3,
    "batch": 8,
    "seed": 0,
    "weight_decay": 0.05,
    "warmup": 20,
    "grad_clip": 1.0,
}


class TrainError(ValueError):
    """Training cannot start or continue as asked; the message says why."""


def resolve_device(device: str | torch.device) -> torch.device:
    """A torch device; asking for CUDA without a usable GPU is a clear error."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise TrainError(
            f"device {str(device)!r} requested but no CUDA GPU is available "
            "(torch.cuda.is_available() is False); use --device cpu"
        )
    if dev.type not in ("cpu", "cuda"):
        raise TrainError(f"unsupported device {str(device)!r}; use cpu or cuda")
    return dev


def lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    """Learning rate of (0-based) ``step``: linear warm-up, then cosine to 5% of ``lr``."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    span = max(1, steps - warmup)
    progress = min(1.0, (step - warmup) / span)
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def batch_indices(step: int, batch: int, n: int, seed: int) -> list[int]:
    """Dataset indices of ``step``: consecutive slices of one permutation per epoch."""
    out, perms = [], {}
    for g in range(step * batch, (step + 1) * batch):
        epoch, pos = divmod(g, n)
        if epoch not in perms:
            perms[epoch] = np.random.default_rng([seed, 7919, epoch]).permutation(n)
        out.append(int(perms[epoch][pos]))
    return out


def _to(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _data_spec(data: Any) -> Any:
    if isinstance(data, str):
        return data
    spec = getattr(data, "spec", None)
    return spec() if callable(spec) else type(data).__name__


def _arch_diff(a: ModelConfig, b: ModelConfig) -> list[str]:
    da, db = a.to_dict(), b.to_dict()
    return [f"{k}: {da[k]!r} vs {db[k]!r}" for k in da if k != "name" and da[k] != db.get(k)]


def _read_resume(path: Path) -> dict[str, Any]:
    if not Path(path).is_file():
        raise TrainError(f"checkpoint to resume not found: {path}")
    try:
        ckpt = read_file(path)
    except CheckpointError as exc:  # one line: missing, corrupt, unsafe pickle
        raise TrainError(str(exc)) from None
    if not isinstance(ckpt, Mapping) or "optimizer" not in ckpt or "step" not in ckpt:
        raise TrainError(
            f"{path} is not a training checkpoint (no optimizer state and step); "
            "only checkpoints written by train() can be resumed"
        )
    return dict(ckpt)


def train(
    config: str | Path | Mapping[str, Any] | ModelConfig | None = "tiny",
    data: str | torch.utils.data.Dataset | None = "synthetic",
    *,
    steps: int | None = None,
    epochs: float | None = None,
    lr: float | None = None,
    batch: int | None = None,
    seed: int | None = None,
    device: str = "cpu",
    out_dir: str | Path = "build/train",
    resume: str | Path | None = None,
    save_every: int = 100,
    stop_after: int | None = None,
    weight_decay: float | None = None,
    warmup: int | None = None,
    grad_clip: float | None = None,
    loss_weights: Mapping[str, float] | None = None,
    num_scenes: int | None = None,
    evaluate_at_end: bool = True,
    eval_scenes: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    progress: bool = True,
    log_every: int | None = None,
) -> dict[str, Any]:
    """Train a model on multi-task data and return (and write) JSON-able results.

    ``config``: preset name, config file, dict or :class:`ModelConfig` (with
    ``overrides``), or None to take the config of ``resume``. ``data``: a spec
    (``synthetic``, ``synthetic:N``, ``pascal:DIR``, ``nyud:DIR``) or a
    dataset. ``steps`` is the total number of optimizer steps (or ``epochs``
    over the training set); ``stop_after`` ends this call after that many
    steps as if interrupted (the schedule still spans ``steps``). ``resume``
    continues a checkpoint written by this function: its architecture must
    match ``config``; unset arguments (None) come from the checkpoint.
    Returns a dict with the checkpoint path, steps, timing, the loss history
    and, with ``evaluate_at_end``, validation metrics and trivial baselines.
    """
    dev = resolve_device(device)
    state: dict[str, Any] | None = None
    stored: dict[str, Any] = {}
    if resume is not None:
        state = _read_resume(Path(resume))
        stored = dict(state.get("train_args", {}))
        stored_cfg = get_config(dict(state["config"]))
        if config is None:
            cfg = stored_cfg.replace(**overrides) if overrides else stored_cfg
        else:
            cfg = get_config(config, **dict(overrides or {}))
        diff = _arch_diff(cfg, stored_cfg)
        if diff:
            raise TrainError(
                f"cannot resume {resume}: it was trained with a different architecture "
                f"({stored_cfg.name!r}): " + "; ".join(diff)
            )
        if data is None:
            data = state.get("data", "synthetic")
        elif _data_spec(data) != state.get("data"):
            print(
                f"warning: resuming {resume} (trained on {state.get('data')!r}) on "
                f"{_data_spec(data)!r}; the run will not continue exactly",
                file=sys.stderr,
            )
    else:
        if config is None:
            raise TrainError("config is None: name a preset or config, or pass resume=")
        cfg = get_config(config, **dict(overrides or {}))
        data = "synthetic" if data is None else data

    def pick(name: str, value: Any) -> Any:
        if value is not None:
            return value
        if name in stored:
            return stored[name]
        if name == "seed" and state is not None and "seed" in state:
            return state["seed"]
        return DEFAULTS[name]

    seed = int(pick("seed", seed))
    batch = int(pick("batch", batch))
    lr = float(pick("lr", lr))
    weight_decay = float(pick("weight_decay", weight_decay))
    warmup = int(pick("warmup", warmup))
    grad_clip = float(pick("grad_clip", grad_clip))
    if num_scenes is None:
        num_scenes = stored.get("num_scenes")
    if loss_weights is None:
        loss_weights = stored.get("loss_weights")
    if batch < 1 or lr <= 0:
        raise TrainError(f"batch must be >= 1 and lr > 0, got batch={batch}, lr={lr}")

    if isinstance(data, str):
        dataset = make_dataset(data, cfg, split="train", seed=seed, num_scenes=num_scenes)
    else:
        dataset = data
    if len(dataset) == 0:
        raise TrainError("the training set is empty")
    if steps is None and epochs is not None:
        steps = math.ceil(epochs * len(dataset) / batch)
    steps = int(pick("steps", steps))
    if steps < 1:
        raise TrainError(f"steps must be >= 1, got {steps}")

    model = build_model(cfg, seed=seed)
    if state is not None:
        model = load_checkpoint(resume)  # type: ignore[arg-type]
    model.to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    start = 0
    history: list[dict[str, float]] = []
    if state is not None:
        try:
            opt.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as exc:
            raise TrainError(f"cannot restore the optimizer state of {resume}: {exc}") from None
        for group in opt.param_groups:
            group["weight_decay"] = weight_decay
        start = int(state["step"])
        history = [dict(h) for h in state.get("history", [])]
        if start > steps:
            raise TrainError(f"{resume} is at step {start}, beyond steps={steps}")
    criterion = MultiTaskLoss(cfg.tasks, loss_weights)
    end = steps if stop_after is None else min(steps, start + int(stop_after))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "last.pt"
    log_every = log_every or max(1, steps // 50)
    train_args = {
        "steps": steps,
        "lr": lr,
        "batch": batch,
        "weight_decay": weight_decay,
        "warmup": warmup,
        "grad_clip": grad_clip,
        "loss_weights": dict(criterion.weights),
        "num_scenes": num_scenes if num_scenes is not None else len(dataset),
    }

    def save(step: int, metrics: Mapping[str, Any] | None = None) -> None:
        tmp = ckpt_path.with_name(ckpt_path.name + ".tmp")
        save_checkpoint(
            model,
            tmp,
            optimizer=opt.state_dict(),
            step=step,
            epoch=step * batch / len(dataset),
            seed=seed,
            data=_data_spec(data),
            numerics="float",
            train_args=train_args,
            history=history,
            metrics=dict(metrics or {}),
        )
        os.replace(tmp, ckpt_path)

    t0 = time.perf_counter()
    window: dict[str, list[float]] = {}
    bar = tqdm(total=steps, initial=start, disable=not progress, desc="train", unit="step")
    for step in range(start, end):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr, warmup)
        torch.manual_seed(seed * 1_000_003 + step)  # router noise: a function of (seed, step)
        idx = batch_indices(step, batch, len(dataset), seed)
        b = _to(collate([dataset[i] for i in idx]), dev)
        total, log = model_loss(model, b, criterion)
        if not torch.isfinite(total):
            raise TrainError(f"loss is not finite at step {step}: {log}")
        opt.zero_grad(set_to_none=True)
        total.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        log["loss"] = float(total.detach())
        for k, v in log.items():
            window.setdefault(k, []).append(v)
        done = step + 1
        if done % log_every == 0 or done == end:
            history.append({"step": done, **{k: float(np.mean(v)) for k, v in window.items()}})
            window = {}
        bar.update(1)
        bar.set_postfix(loss=f"{log['loss']:.3f}")
        if save_every and done % save_every == 0 and done != end:
            save(done)
    bar.close()
    wall = time.perf_counter() - t0

    result: dict[str, Any] = {
        "config": cfg.to_dict(),
        "data": _data_spec(data),
        "checkpoint": str(ckpt_path),
        "step": end,
        "steps": steps,
        "seed": seed,
        "device": str(dev),
        "steps_run": end - start,
        "wall_s": wall,
        "s_per_step": wall / max(1, end - start),
        "train_args": train_args,
        "history": history,
    }
    if evaluate_at_end and end == steps and isinstance(data, str):
        t1 = time.perf_counter()
        val = make_dataset(data, cfg, split="val", seed=seed, num_scenes=eval_scenes)
        result["eval"] = evaluate(model, val, batch=max(batch, 16), device=dev)
        result["baselines"] = trivial_baselines(
            val, cfg.tasks, cfg.task_channels, stats_dataset=dataset, batch=max(batch, 16)
        )
        result["eval_s"] = time.perf_counter() - t1
    save(end, result.get("eval"))
    write_json(out / "metrics.json", result)
    model.eval()
    return result


@torch.no_grad()
def predict(
    model: M3ViT, images: torch.Tensor, tasks: Sequence[str], numerics: Any = None
) -> dict[str, torch.Tensor]:
    """Raw head outputs of ``tasks`` for a batch of images; ``numerics`` (a preset name
    or object) is passed to the model's forward when given."""
    if numerics is None:
        return {t: model(images, t) for t in tasks}
    return {t: model(images, t, numerics=numerics) for t in tasks}


@torch.no_grad()
def evaluate(
    model: M3ViT,
    dataset: Any,
    tasks: Sequence[str] | None = None,
    batch: int = 16,
    device: str | torch.device = "cpu",
    max_batches: int | None = None,
    numerics: Any = None,
) -> dict[str, dict[str, Any]]:
    """Metrics per task (:mod:`pymodel.metrics`) of ``model`` in eval mode on ``dataset``.

    ``numerics`` selects the backbone arithmetic (e.g. ``"approx"``) where the
    model's forward supports it; None is the float model.
    """
    dev = resolve_device(device)
    tasks = tuple(tasks or model.cfg.tasks)
    was_training = model.training
    model.to(dev).eval()
    meter = MultiTaskMeter(tasks, model.cfg.task_channels)
    try:
        for k, start in enumerate(range(0, len(dataset), batch)):
            if max_batches is not None and k >= max_batches:
                break
            idx = range(start, min(start + batch, len(dataset)))
            b = _to(collate([dataset[i] for i in idx]), dev)
            meter.update(predict(model, b["image"], tasks, numerics), b)
    finally:
        model.train(was_training)
    return meter.compute()


@torch.no_grad()
def expert_utilisation(
    model: M3ViT,
    dataset: Any,
    task: str | int,
    batch: int = 16,
    device: str | torch.device = "cpu",
    max_images: int | None = None,
) -> dict[str, Any]:
    """Tokens routed to each expert, per MoE layer, for ``task`` over ``dataset``.

    Returns ``{"task", "images", "layers": [{"block", "tokens_per_expert",
    "fraction"}]}``; each token counts once per expert among its top-k.
    """
    dev = resolve_device(device)
    name = model.cfg.tasks[model.cfg.task_index(task)]
    was_training = model.training
    model.to(dev).eval()
    n = len(dataset) if max_images is None else min(len(dataset), max_images)
    counts: dict[int, np.ndarray] = {}
    try:
        for start in range(0, n, batch):
            b = collate([dataset[i] for i in range(start, min(start + batch, n))])
            stats = model.routing(b["image"].to(dev), name)
            for layer in stats.layers:
                c = np.asarray(layer.tokens_per_expert, dtype=np.int64)
                counts[layer.block] = counts.get(layer.block, 0) + c
    finally:
        model.train(was_training)
    layers = [
        {
            "block": blk,
            "tokens_per_expert": c.tolist(),
            "fraction": (c / max(1, c.sum())).tolist(),
        }
        for blk, c in sorted(counts.items())
    ]
    return {"task": name, "images": n, "layers": layers}


def load_for_eval(path: str | Path) -> tuple[M3ViT, dict[str, Any]]:
    """A checkpoint's model (eval mode) and its stored training entries (data, seed, ...)."""
    try:
        model = load_checkpoint(path)
    except CheckpointError as exc:
        raise TrainError(str(exc)) from None
    extra: dict[str, Any] = {}
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(ckpt, Mapping):
            extra = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer")}
    except Exception:  # an official checkpoint directory has no training entries
        pass
    return model, extra
