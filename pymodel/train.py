"""Multi-task training (one process or many under torchrun), evaluation, expert statistics.

Training objective: every step runs all of the model's tasks on the same
batch, each task with its own backbone pass (M3ViT's multi-gate forward: the
router of each MoE layer is the task's own), and minimises the weighted sum of
the task losses (:mod:`pymodel.losses`, M3ViT's weights unless given) plus
each forward's MoE load-balancing loss, with one optimizer step. (Sampling one
task per step would cost a fifth per step on PASCAL but update each task's
heads and gates a fifth as often; the sum is what M3ViT does.)

How to train comes from a recipe (:mod:`pymodel.recipe`): ``default``
(AdamW, linear warm-up then cosine to 5% of ``lr``, gradients clipped to
``grad_clip``) or M³ViT's published setup (``m3vit-s-pascal``,
``m3vit-s-nyud``: SGD, poly schedule, 100 epochs, global batch 16, flip /
rotate / scale augmentation), picked by the model preset's name unless
given; any argument overrides it.

Scale: under torchrun (``edgemoe train --nproc N``) the model is wrapped in
DistributedDataParallel (:mod:`pymodel.distributed`: NCCL on GPUs, gloo on
CPU). ``batch`` is always the global batch of an optimizer step: ``world
size x accum x micro-batch``; ``accum`` > 1 accumulates gradients over
micro-steps (DDP's ``no_sync`` on all but the last). Every parameter takes
part in every step (each task's gate and head run every step; the experts of
a layer are one (E, out, in) tensor, so an expert that no token chose gets a
zero gradient, not none), hence ``find_unused_parameters=False``: no extra
graph traversal per step, and DDP would report a parameter that ever went
unused. ``amp`` runs the forward in bf16 or fp16 autocast on CUDA (fp16 with
a GradScaler); on CPU bf16 autocast is used as asked and fp16 is refused.
Rank 0 alone writes checkpoints, ``metrics.json``, messages and the
progress bar.

Determinism: the global batch of step ``s`` is a function of ``(seed, s)``
(:class:`~pymodel.distributed.GlobalBatches`), as are the augmentation of a
sample (seed, epoch, index), the router noise (seed, step, micro-step, place
in the global batch) and the global torch RNG (reseeded per step and rank), so
a run resumed from a checkpoint continues bit for bit on CPU (``steps=4`` in
one go equals ``steps=4, stop_after=2`` followed by ``resume=``), N processes
compute what one does on the same global batch up to float rounding, and a
checkpoint resumes at any world size that divides its global batch.

Checkpoints (:func:`pymodel.save_checkpoint`) hold the model and its config
plus ``optimizer``, ``scaler`` (fp16), ``step``, ``epoch`` (passes over the
data), ``sampler`` (epoch index, step within it, steps per epoch),
``world_size``, ``global_batch``, ``seed``, ``data`` (the spec), ``numerics``
(``"float"``), ``train_args`` (the resolved recipe and run settings), the
loss ``history`` and the final validation ``metrics``; ``out_dir/last.pt`` is
rewritten every ``save_every`` steps and at the end, and
``out_dir/metrics.json`` holds the training log and the final evaluation.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from . import distributed as D
from .checkpoint import CheckpointError, load_checkpoint, read_file, save_checkpoint
from .config import ModelConfig, get_config
from .data import collate, make_dataset
from .evaluation import (  # noqa: F401 (evaluation's public names, also importable from here)
    DeviceError,
    evaluate,
    expert_utilisation,
    load_for_eval,
    predict,
    resolve_device,
    to_device,
)
from .losses import MultiTaskLoss, model_loss
from .metrics import trivial_baselines
from .model import M3ViT, build_model
from .recipe import Recipe, augment_batch, get_recipe, lr_at, make_optimizer
from .results import write_json

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: Run settings stored in ``train_args`` besides the recipe's fields.
_RECIPE_FIELDS = (
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "schedule",
    "warmup",
    "poly_power",
    "batch",
    "grad_clip",
)


class TrainError(ValueError):
    """Training cannot start or continue as asked; the message says why."""


def resolve_amp(amp: str | None, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``--amp`` (None, ``none``, ``bf16``, ``fp16``) on ``device``."""
    if amp in (None, "none", "fp32"):
        return None
    if amp not in AMP_DTYPES:
        raise TrainError(f"--amp {amp!r}: use bf16, fp16 or none")
    if amp == "fp16" and device.type != "cuda":
        raise TrainError(
            "--amp fp16 needs a CUDA device (fp16 autocast with a GradScaler); "
            "on CPU use --amp bf16 (CPU autocast) or no --amp"
        )
    if amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise TrainError("--amp bf16: this GPU does not support bfloat16; use --amp fp16")
    return AMP_DTYPES[amp]


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


class _WithIndex(Dataset):
    """Adds each sample's dataset index (for the augmentation's per-sample draw)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {**self.dataset[i], "index": torch.tensor(int(i))}


class _Objective(nn.Module):
    """The model and its multi-task loss as one module: one DDP forward per micro-step."""

    def __init__(self, model: M3ViT, criterion: MultiTaskLoss) -> None:
        super().__init__()
        self.model, self.criterion = model, criterion

    def forward(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        return model_loss(self.model, batch, self.criterion)


def _mix(*values: int) -> int:
    """A 63-bit seed from integers (router noise of one micro-step)."""
    return int(np.random.SeedSequence([int(v) for v in values]).generate_state(2, np.uint64)[0])


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
    recipe: str | Recipe | None = None,
    optimizer: str | None = None,
    momentum: float | None = None,
    schedule: str | None = None,
    accum: int | None = None,
    amp: str | None = None,
    augment: bool | None = None,
    workers: int = 0,
) -> dict[str, Any]:
    """Train a model on multi-task data and return (and, on rank 0, write) JSON-able results.

    ``config``: preset name, config file, dict or :class:`ModelConfig` (with
    ``overrides``), or None to take the config of ``resume``. ``data``: a spec
    (``synthetic``, ``synthetic:N``, ``pascal:DIR``, ``nyud:DIR``) or a
    dataset. ``recipe`` (name or :class:`~pymodel.recipe.Recipe`; default:
    the one named like the preset, else ``default``) supplies every setting
    not given. ``steps`` is the total number of optimizer steps (or
    ``epochs`` over the training set); ``batch`` the global batch per step;
    ``accum`` the micro-steps per step; ``stop_after`` ends this call after
    that many steps as if interrupted (the schedule still spans ``steps``).
    ``resume`` continues a checkpoint written by this function, at any world
    size: its architecture must match ``config``; unset arguments (None) come
    from the checkpoint. ``augment`` False turns the recipe's augmentation
    off. ``workers``: DataLoader worker processes per rank. Returns a dict
    with the checkpoint path, steps, timing, world size, the loss history
    and, with ``evaluate_at_end``, validation metrics and trivial baselines
    (rank 0; other ranks return the same without evaluation).
    """
    try:
        ctx, dev = D.init(resolve_device(device))
    except DeviceError as exc:
        raise TrainError(str(exc)) from None
    try:
        return _train(ctx, dev, **{k: v for k, v in locals().items() if k not in ("ctx", "dev")})
    finally:
        D.shutdown(ctx)


def _train(ctx: D.Context, dev: torch.device, **a: Any) -> dict[str, Any]:
    say = (lambda *m, **k: print(*m, **k)) if ctx.is_main else (lambda *m, **k: None)
    state: dict[str, Any] | None = None
    stored: dict[str, Any] = {}
    config, data, resume, overrides = a["config"], a["data"], a["resume"], a["overrides"]
    if resume is not None:
        state = _read_resume(Path(resume))
        stored = dict(state.get("train_args", {}))
    rec = a["recipe"] if a["recipe"] is not None else stored.get("recipe")
    base_name = None if config is None else get_config(config).name
    if state is not None and base_name is None:
        base_name = dict(state["config"]).get("name")
    try:
        recipe = get_recipe(rec, base_name)
    except ValueError as exc:
        raise TrainError(str(exc)) from None
    if state is not None:
        stored_cfg = get_config(dict(state["config"]))
        if config is None:
            cfg = stored_cfg.replace(**overrides) if overrides else stored_cfg
        else:
            cfg = get_config(config, **{**recipe.config, **dict(overrides or {})})
        diff = _arch_diff(cfg, stored_cfg)
        if diff:
            raise TrainError(
                f"cannot resume {resume}: it was trained with a different architecture "
                f"({stored_cfg.name!r}): " + "; ".join(diff)
            )
        if data is None:
            data = state.get("data", "synthetic")
        elif _data_spec(data) != state.get("data"):
            say(
                f"warning: resuming {resume} (trained on {state.get('data')!r}) on "
                f"{_data_spec(data)!r}; the run will not continue exactly",
                file=sys.stderr,
            )
    else:
        if config is None:
            raise TrainError("config is None: name a preset or config, or pass resume=")
        cfg = get_config(config, **{**recipe.config, **dict(overrides or {})})
        data = "synthetic" if data is None else data
    if recipe.img_size and tuple(recipe.img_size) != tuple(cfg.img_size):
        say(
            f"note: recipe {recipe.name!r} is published at input {tuple(recipe.img_size)}; "
            f"this model's input is {tuple(cfg.img_size)}",
            file=sys.stderr,
        )

    def pick(name: str, value: Any) -> Any:
        if value is not None:
            return value
        if name in stored:
            return stored[name]
        if name == "seed":
            return state["seed"] if state is not None and "seed" in state else 0
        return getattr(recipe, name)

    seed = int(pick("seed", a["seed"]))
    settings = {n: pick(n, a.get(n)) for n in _RECIPE_FIELDS}
    try:
        recipe = recipe.with_(**settings)
    except ValueError as exc:
        raise TrainError(str(exc)) from None
    batch, lr = int(recipe.batch), float(recipe.lr)
    accum = int(a["accum"] or stored.get("accum") or 1)
    amp = a["amp"] if a["amp"] is not None else stored.get("amp")
    amp_dtype = resolve_amp(amp, dev)
    use_aug = a["augment"] if a["augment"] is not None else stored.get("augment", True)
    aug = recipe.augment if use_aug else None
    num_scenes = a["num_scenes"] if a["num_scenes"] is not None else stored.get("num_scenes")
    loss_weights = a["loss_weights"] or stored.get("loss_weights")
    if batch < 1 or lr <= 0:
        raise TrainError(f"batch must be >= 1 and lr > 0, got batch={batch}, lr={lr}")
    if state is not None and "batch" in stored and a["batch"] is not None:
        if int(a["batch"]) != int(stored["batch"]):
            say(f"warning: global batch {stored['batch']} -> {batch}: data order changes")

    if isinstance(data, str):
        dataset = make_dataset(data, cfg, split="train", seed=seed, num_scenes=num_scenes)
    else:
        dataset = data
    if len(dataset) == 0:
        raise TrainError("the training set is empty")
    try:
        stream = D.GlobalBatches(dataset, batch, accum, ctx, seed)
    except D.DistributedError as exc:
        raise TrainError(str(exc)) from None
    spe = stream.steps_per_epoch
    steps = a["steps"]
    if steps is None and a["epochs"] is not None:
        steps = math.ceil(a["epochs"] * spe)
    if steps is None:
        steps = stored.get("steps")
    if steps is None:
        steps = math.ceil(recipe.epochs * spe) if recipe.epochs else recipe.steps
    steps = int(steps)
    if steps < 1:
        raise TrainError(f"steps must be >= 1, got {steps}")

    model = build_model(cfg, seed=seed)
    if state is not None:
        model = load_checkpoint(resume)  # type: ignore[arg-type]
    model.to(dev).train()
    model = D.sync_batchnorm(model, ctx, dev)
    noise = D.RouterNoise(cfg.num_tokens, ctx, dev)
    D.install_moe_hooks(model, ctx, noise)
    criterion = MultiTaskLoss(cfg.tasks, loss_weights)
    objective: nn.Module = _Objective(model, criterion)
    if ctx.distributed:
        objective = nn.parallel.DistributedDataParallel(
            objective,
            device_ids=[dev.index] if dev.type == "cuda" else None,
            forward_sync_buffers=False,  # BatchNorm statistics are global: buffers agree
            find_unused_parameters=False,  # see the module docstring
        )
    opt = make_optimizer(recipe, model.parameters())
    scaler = torch.amp.GradScaler(dev.type, enabled=amp == "fp16")
    start = 0
    history: list[dict[str, float]] = []
    if state is not None:
        if stored.get("optimizer", "adamw") != recipe.optimizer:
            raise TrainError(
                f"cannot resume {resume} (optimizer {stored.get('optimizer', 'adamw')!r}) with "
                f"optimizer {recipe.optimizer!r}"
            )
        try:
            opt.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as exc:
            raise TrainError(f"cannot restore the optimizer state of {resume}: {exc}") from None
        for group in opt.param_groups:
            group["weight_decay"] = recipe.weight_decay
        if "scaler" in state and scaler.is_enabled():
            scaler.load_state_dict(state["scaler"])
        start = int(state["step"])
        history = [dict(h) for h in state.get("history", [])]
        if start > steps:
            raise TrainError(f"{resume} is at step {start}, beyond steps={steps}")
    stop_after = a["stop_after"]
    end = steps if stop_after is None else min(steps, start + int(stop_after))
    out = Path(a["out_dir"])
    ckpt_path = out / "last.pt"
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
    log_every = a["log_every"] or max(1, steps // 50)
    train_args = {
        "recipe": recipe.name,
        **{n: getattr(recipe, n) for n in _RECIPE_FIELDS},
        "steps": steps,
        "accum": accum,
        "amp": amp,
        "augment": bool(use_aug),
        "augmentation": aug.to_dict() if aug else None,
        "micro_batch": stream.micro,
        "world_size": ctx.world_size,
        "loss_weights": dict(criterion.weights),
        "num_scenes": num_scenes if num_scenes is not None else len(dataset),
    }

    def save(step: int, metrics: Mapping[str, Any] | None = None) -> None:
        if not ctx.is_main:
            return
        tmp = ckpt_path.with_name(ckpt_path.name + ".tmp")
        extra = {"scaler": scaler.state_dict()} if scaler.is_enabled() else {}
        save_checkpoint(
            model,
            tmp,
            optimizer=opt.state_dict(),
            step=step,
            epoch=stream.epochs_at(step),
            sampler={
                "epoch": stream.epoch_of(step),
                "step_in_epoch": step % spe,
                "steps_per_epoch": spe,
            },
            world_size=ctx.world_size,
            global_batch=batch,
            seed=seed,
            data=_data_spec(data),
            numerics="float",
            train_args=train_args,
            history=history,
            metrics=dict(metrics or {}),
            **extra,
        )
        os.replace(tmp, ckpt_path)

    loader = DataLoader(
        _WithIndex(dataset),
        batch_sampler=stream.sampler(start, end),
        num_workers=int(a["workers"]),
        collate_fn=collate,
        pin_memory=dev.type == "cuda",
    )
    batches = iter(loader)
    autocast = (
        torch.autocast(dev.type, dtype=amp_dtype)
        if amp_dtype is not None
        else contextlib.nullcontext()
    )
    t0 = time.perf_counter()
    window: dict[str, list[float]] = {}
    bar = tqdm(
        total=steps,
        initial=start,
        disable=not (a["progress"] and ctx.is_main),
        desc="train",
        unit="step",
    )
    for step in range(start, end):
        for group in opt.param_groups:
            group["lr"] = lr_at(
                step, steps, lr, recipe.warmup, recipe.schedule, spe, recipe.poly_power
            )
        # Dropout and any other global-RNG draw: a function of (seed, step, rank).
        torch.manual_seed(seed * 1_000_003 + step + 7_919 * ctx.rank)
        opt.zero_grad(set_to_none=True)
        sums: dict[str, float] = {}
        for m in range(accum):
            noise.reseed(_mix(seed, step, m))
            b = to_device(next(batches), dev)
            if aug is not None:
                b = augment_batch(
                    b, cfg.tasks, aug, seed, stream.epoch_of(step), b["index"].tolist()
                )
            last = m == accum - 1
            sync = contextlib.nullcontext() if last or not ctx.distributed else objective.no_sync()
            with sync:
                with autocast:
                    total, log = objective(b)
                scaler.scale(total / accum).backward()
            log["loss"] = float(total.detach())
            for k, v in log.items():
                sums[k] = sums.get(k, 0.0) + v / accum
        keys = sorted(sums)
        log = dict(zip(keys, D.mean_over_ranks([sums[k] for k in keys], ctx, dev)))
        if not math.isfinite(log["loss"]):
            raise TrainError(f"loss is not finite at step {step}: {log}")
        if recipe.grad_clip > 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
        scaler.step(opt)
        scaler.update()
        for k, v in log.items():
            window.setdefault(k, []).append(v)
        done = step + 1
        if done % log_every == 0 or done == end:
            history.append({"step": done, **{k: float(np.mean(v)) for k, v in window.items()}})
            window = {}
        bar.update(1)
        bar.set_postfix(loss=f"{log['loss']:.3f}")
        if a["save_every"] and done % a["save_every"] == 0 and done != end:
            save(done)
    bar.close()
    wall = time.perf_counter() - t0
    D.remove_moe_hooks(model)
    # Training was the last collective: leave together; rank 0 saves and evaluates alone.
    D.shutdown(ctx, barrier=True)

    result: dict[str, Any] = {
        "config": cfg.to_dict(),
        "data": _data_spec(data),
        "checkpoint": str(ckpt_path),
        "step": end,
        "steps": steps,
        "seed": seed,
        "device": str(dev),
        "world_size": ctx.world_size,
        "global_batch": batch,
        "steps_run": end - start,
        "wall_s": wall,
        "s_per_step": wall / max(1, end - start),
        "train_args": train_args,
        "history": history,
    }
    if not ctx.is_main:
        model.eval()
        return result
    if a["evaluate_at_end"] and end == steps and isinstance(data, str):
        t1 = time.perf_counter()
        val = make_dataset(data, cfg, split="val", seed=seed, num_scenes=a["eval_scenes"])
        eval_batch = max(stream.micro * accum, 16)
        result["eval"] = evaluate(model, val, batch=eval_batch, device=dev)
        result["baselines"] = trivial_baselines(
            val, cfg.tasks, cfg.task_channels, stats_dataset=dataset, batch=eval_batch
        )
        result["eval_s"] = time.perf_counter() - t1
    save(end, result.get("eval"))
    write_json(out / "metrics.json", result)
    model.eval()
    return result
