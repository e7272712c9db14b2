"""Data-parallel training on PyTorch's own distributed engine: torchrun, DDP, NCCL/gloo.

``torchrun --nproc-per-node N -m pymodel.cli train ...`` (or ``edgemoe train
--nproc N``, which re-runs the command through :mod:`torch.distributed.run`)
starts N processes; :func:`init` reads torchrun's environment (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``) and joins
the process group: NCCL when training on CUDA (one GPU per process, the
``LOCAL_RANK``-th), gloo on CPU. Every rank holds the whole model (every
expert: M³ViT-S fits one GPU), wrapped in DistributedDataParallel, which
all-reduces (averages) the gradients of experts, routers and everything else.

What makes N processes compute what one process computes on the same global
batch (up to float rounding; ``tests/test_train_ddp.py`` checks it):

* data order (:class:`GlobalBatches`): each epoch is the permutation of
  :class:`~torch.utils.data.DistributedSampler` (``set_epoch(e)``, seeded with
  ``seed + e``); rank r takes every N-th sample (the sampler's split), so the
  global batch of a step is the same set of samples at any world size, and a
  run resumes at its step with another world size;
* augmentation (:func:`pymodel.recipe.augment_batch`): drawn per sample from
  (seed, epoch, dataset index);
* router noise (:class:`RouterNoise`): drawn for the whole global micro-batch
  from a generator seeded with (seed, step, micro-step) on every rank, each
  rank keeping its samples' rows;
* the load-balancing loss (:func:`global_stats`): the per-expert importance and
  load are summed over all ranks before the cv^2;
* the heads' BatchNorm (:func:`sync_batchnorm`): statistics over the global
  batch (torch's SyncBatchNorm on CUDA; on CPU, where SyncBatchNorm refuses
  to run, :class:`GlobalBatchNorm2d` all-reduces them with torch's
  differentiable functional all_reduce).

The task losses are each rank's means, averaged by DDP (as in every DDP
setup, the official M³ViT code included): equal to the global-batch loss when
every image has the same number of valid pixels (synthetic data), close to it
otherwise. Dropout masks (dropout is 0 in every preset) are drawn per rank.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DistributedSampler, Sampler

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


class DistributedError(ValueError):
    """A distributed run that cannot start as asked; the message says why."""


@dataclass(frozen=True)
class Context:
    """This process's place in the run (one process: rank 0 of 1, no backend)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False  # init() created the process group (and shutdown() ends it)

    @property
    def distributed(self) -> bool:
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, logs and the progress bar."""
        return self.rank == 0


def under_torchrun() -> bool:
    """Whether this process was started by torchrun (its environment is set)."""
    return all(k in os.environ for k in TORCHRUN_ENV)


def init(device: torch.device) -> tuple[Context, torch.device]:
    """Join the process group torchrun describes (or reuse an initialised one).

    Outside torchrun this is a single process (rank 0 of 1). Under torchrun
    with CUDA, each process takes GPU ``LOCAL_RANK`` and NCCL; on CPU, gloo.
    Returns the context and the device this rank computes on.
    """
    if dist.is_available() and dist.is_initialized():
        backend = dist.get_backend()
        local = int(os.environ.get("LOCAL_RANK", 0))
        ctx = Context(dist.get_rank(), dist.get_world_size(), local, backend)
        return ctx, _rank_device(device, local)
    if not under_torchrun():
        return Context(), device
    if not dist.is_available():
        raise DistributedError("this PyTorch build has no torch.distributed")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ["LOCAL_RANK"])
    dev = _rank_device(device, local)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if backend == "nccl" and not dist.is_nccl_available():
        raise DistributedError("training on CUDA needs NCCL, which this PyTorch build lacks")
    if backend == "gloo" and not dist.is_gloo_available():
        raise DistributedError("training on CPU needs gloo, which this PyTorch build lacks")
    kwargs: dict[str, Any] = {}
    if backend == "nccl":
        kwargs["device_id"] = dev  # binds the communicator to this rank's GPU
    dist.init_process_group(backend, rank=rank, world_size=world, **kwargs)
    return Context(rank, world, local, backend, owns_group=True), dev


def _rank_device(device: torch.device, local_rank: int) -> torch.device:
    if device.type != "cuda":
        return device
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise DistributedError(
            f"local rank {local_rank} needs GPU {local_rank} but only {count} CUDA device(s) "
            "are visible: start at most that many processes per node (--nproc)"
        )
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def shutdown(ctx: Context, barrier: bool = False) -> None:
    """Leave the process group if :func:`init` created it (after a barrier: every rank
    has finished its collectives, so none leaves while another still needs it)."""
    if ctx.owns_group and dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()


def launch(argv: Sequence[str], nproc: int, master_port: int | None = None) -> int:
    """Re-run ``python -m pymodel.cli ARGV`` in ``nproc`` processes through torchrun.

    Single node; ``master_port`` None lets torchrun's standalone rendezvous
    pick a free port. Returns 0, or 1 when a worker failed (torchrun has
    printed which one and why).
    """
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    if nproc < 1:
        raise DistributedError(f"--nproc must be >= 1, got {nproc}")
    opts = [f"--nproc-per-node={nproc}"]
    if master_port is None:
        opts.append("--standalone")
    else:
        opts += ["--nnodes=1", "--master-addr=127.0.0.1", f"--master-port={master_port}"]
    try:
        torchrun.main([*opts, "-m", "pymodel.cli", *argv])
    except ChildFailedError:
        return 1
    return 0


def strip_options(argv: Sequence[str], names: Sequence[str]) -> list[str]:
    """``argv`` without the options ``names`` and their values (``--x V`` or ``--x=V``)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in names:
            skip = True
            continue
        if any(a.startswith(n + "=") for n in names):
            continue
        out.append(a)
    return out


# ------------------------------------------------------------------------ data order
def micro_batch(batch: int, world_size: int, accum: int) -> int:
    """Images per rank and micro-step of a global ``batch``; a clear error if not whole."""
    if accum < 1:
        raise DistributedError(f"accum must be >= 1, got {accum}")
    per_step = world_size * accum
    if batch < per_step or batch % per_step:
        raise DistributedError(
            f"the global batch {batch} is not divisible by world size {world_size} "
            f"x accum {accum}: each rank needs the same whole number of images per micro-step"
        )
    return batch // per_step


class GlobalBatches:
    """Which samples each rank trains on at each (optimizer step, micro-step).

    ``batch`` is the global batch of one optimizer step: ``world_size`` ranks
    times ``accum`` micro-steps times ``micro`` images. An epoch has
    ``len(dataset) // batch`` steps (the last partial batch is dropped, as
    M³ViT's loader does). Epoch e's order is DistributedSampler's (shuffled,
    seed ``seed + e``, drop_last), whose split gives rank r the r-th of every
    ``world_size`` samples: micro-step m of a step covers the same global
    positions at any world size, so a run resumes with another one.
    """

    def __init__(self, dataset: Any, batch: int, accum: int, ctx: Context, seed: int) -> None:
        self.n = len(dataset)
        self.dataset, self.batch, self.accum, self.ctx, self.seed = dataset, batch, accum, ctx, seed
        self.micro = micro_batch(batch, ctx.world_size, accum)
        self.steps_per_epoch = self.n // batch
        if self.steps_per_epoch == 0:
            raise DistributedError(
                f"the training set has {self.n} images, fewer than one global batch of {batch}"
            )
        self._epoch: int | None = None
        self._order: list[int] = []

    def epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch

    def epochs_at(self, step: int) -> float:
        """Passes over the training set after ``step`` optimizer steps."""
        return step * self.batch / self.n

    def local_order(self, epoch: int) -> list[int]:
        """This rank's dataset indices for ``epoch`` (DistributedSampler with set_epoch)."""
        if self._epoch != epoch:
            sampler = DistributedSampler(
                self.dataset,
                num_replicas=self.ctx.world_size,
                rank=self.ctx.rank,
                shuffle=True,
                seed=self.seed,
                drop_last=True,
            )
            sampler.set_epoch(epoch)
            self._epoch, self._order = epoch, list(sampler)
        return self._order

    def indices(self, step: int, micro_step: int) -> list[int]:
        """This rank's dataset indices for micro-step ``micro_step`` of optimizer step ``step``."""
        epoch, within = divmod(step, self.steps_per_epoch)
        start = (within * self.accum + micro_step) * self.micro
        return self.local_order(epoch)[start : start + self.micro]

    def sampler(self, start: int, end: int) -> Sampler[list[int]]:
        """Batch sampler for a DataLoader: the micro-batches of steps ``start..end-1``."""
        return _MicroBatches(self, start, end)


class _MicroBatches(Sampler[list[int]]):
    def __init__(self, stream: GlobalBatches, start: int, end: int) -> None:
        self.stream, self.start, self.end = stream, start, end

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.end):
            for m in range(self.stream.accum):
                yield self.stream.indices(step, m)

    def __len__(self) -> int:
        return (self.end - self.start) * self.stream.accum


# ---------------------------------------------------------------------- MoE hooks
class RouterNoise:
    """Router noise as a function of (seed, step, micro-step, place in the global batch).

    :meth:`reseed` before each micro-step with the same value on every rank;
    each call draws standard normal noise for the whole global micro-batch
    (``world_size`` times the local images) and returns this rank's rows: the
    rows of its r-th of every ``world_size`` images, the samples
    :class:`GlobalBatches` gave it. One process draws the same numbers for the
    same global batch.
    """

    def __init__(self, tokens: int, ctx: Context, device: torch.device) -> None:
        self.tokens, self.ctx = tokens, ctx
        self.gen = torch.Generator(device=device)

    def reseed(self, value: int) -> None:
        self.gen.manual_seed(int(value))

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        n, experts = logits.shape
        if n % self.tokens:
            raise ValueError(f"{n} router rows are not whole images of {self.tokens} tokens")
        images = n // self.tokens
        w, r = self.ctx.world_size, self.ctx.rank
        noise = torch.randn(
            (images * w, self.tokens, experts),
            generator=self.gen,
            device=self.gen.device,
            dtype=torch.float32,
        )
        if w > 1:
            noise = noise[r::w]
        return noise.reshape(n, experts).to(device=logits.device, dtype=logits.dtype)


def global_stats(ctx: Context):
    """A ``stats_fn`` for :class:`~pymodel.moe.MoE`: sums (2, E) importance/load over ranks.

    The value is the global sum; the gradient flows into this rank's own part,
    scaled by the world size: every rank computes the same cv^2 of the global
    sums, and DDP averages the ranks' gradients, so the average is the
    gradient one process computes on the global batch (no collective in the
    backward pass).
    """

    def reduce(stats: torch.Tensor) -> torch.Tensor:
        total = stats.detach().clone()
        dist.all_reduce(total)
        return total + ctx.world_size * (stats - stats.detach())

    return reduce


def install_moe_hooks(model: nn.Module, ctx: Context, noise: RouterNoise) -> None:
    """Route every MoE layer's training noise through ``noise``; global stats when N > 1."""
    stats = global_stats(ctx) if ctx.world_size > 1 else None
    for _, m in model.backbone.moe_layers():
        m.noise_fn, m.stats_fn = noise, stats


def remove_moe_hooks(model: nn.Module) -> None:
    for _, m in model.backbone.moe_layers():
        m.noise_fn = m.stats_fn = None


# ---------------------------------------------------------------------- batch norm
class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics span the batches of all ranks.

    For CPU (gloo), where :class:`torch.nn.SyncBatchNorm` refuses to run: the
    per-channel sum and the sum of squared deviations are summed across ranks
    with torch's functional all_reduce (``torch.distributed._functional_collectives``,
    what ``torch.distributed.nn`` now points to), which is differentiable (its
    backward all-reduces the gradient), so the gradient
    of every rank's loss reaches every rank's inputs, as in SyncBatchNorm.
    Same parameters and buffers as BatchNorm2d; eval mode is BatchNorm2d's.
    Every rank must pass the same batch shape.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        # Functional all_reduce: differentiable, its backward all-reduces the gradient.
        from torch.distributed import _functional_collectives as funcol

        def all_reduce(t: torch.Tensor) -> torch.Tensor:
            return funcol.all_reduce(t, "sum", dist.group.WORLD)

        self._check_input_dim(x)
        world = dist.get_world_size()
        xf = x.float()
        count = xf.numel() // xf.shape[1] * world
        mean = all_reduce(xf.sum((0, 2, 3))) / count
        centred = xf - mean[None, :, None, None]
        var = all_reduce((centred * centred).sum((0, 2, 3))) / count
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum
                factor = 1.0 / float(self.num_batches_tracked) if m is None else m
                unbiased = var * count / max(1, count - 1)
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)
        y = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y.to(x.dtype)


def sync_batchnorm(model: nn.Module, ctx: Context, device: torch.device) -> nn.Module:
    """BatchNorm with global-batch statistics when N > 1: SyncBatchNorm on CUDA, else
    :class:`GlobalBatchNorm2d`. Parameters and buffers (and so checkpoints) are unchanged."""
    if ctx.world_size <= 1:
        return model
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return _swap_bn(model)


def _swap_bn(module: nn.Module) -> nn.Module:
    if type(module) is nn.BatchNorm2d:
        new = GlobalBatchNorm2d(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
            device=module.weight.device if module.affine else None,
        )
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        return new
    for name, child in module.named_children():
        module.add_module(name, _swap_bn(child))
    return module


# ---------------------------------------------------------------------- reductions
def mean_over_ranks(values: Sequence[float], ctx: Context, device: torch.device) -> list[float]:
    """The average over ranks of a few floats (one all-reduce); the values as they are
    in a single process."""
    if not ctx.distributed or ctx.world_size == 1:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return [v / ctx.world_size for v in t.tolist()]
