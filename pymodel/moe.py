"""Task-gated mixture of experts: routers, two execution orders, routing statistics.

Routing follows M3ViT's ``NoisyGate_VMoE``: ``p = softmax(x @ w_gate)`` over all
experts, the top-k probabilities are kept *without* renormalisation (optional),
``y = sum_k p_k * expert_k(x)``, no capacity limit and no token dropping.

Two execution orders compute the same function:

* ``"token"`` (token-major, the reference): every token applies its own k
  experts, as hardware without reordering would, fetching expert weights per
  token;
* ``"expert"`` (expert-major, Edge-MoE's *patch reordering*): the router builds
  a queue of token ids per expert; each active expert's weights are used once,
  its tokens gathered, computed and scatter-added with their gate value.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

MOE_PATHS = ("expert", "token")


def topk_lower_index(
    x: torch.Tensor, k: int, use_op: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k along the last dim; equal values are ordered by lower index first.

    ``torch.topk`` does not promise an order for ties, so a stable descending sort
    is used. ``use_op`` selects ``torch.topk`` for ONNX export, where it becomes
    the ``TopK`` operator, whose specification breaks ties toward the lower index.
    """
    if use_op:
        return torch.topk(x, k, dim=-1)
    values, indices = torch.sort(x, dim=-1, descending=True, stable=True)
    return values[..., :k], indices[..., :k]


class ExpertLinear(nn.Module):
    """E independent linear layers stored as one tensor, FastMoE's layout.

    ``weight`` is (E, out, in) and ``bias`` (E, out), as in the official
    checkpoints (``mlp.experts.htoh4`` / ``h4toh``).
    """

    def __init__(self, num_experts: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_experts, out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(num_experts, out_features))
        nn.init.trunc_normal_(self.weight, std=0.02)

    def weight_in_out(self) -> torch.Tensor:
        """The weight as a contiguous (E, in, out) tensor, for inference products.

        Small per-expert products run markedly faster on this layout than on the
        transposed view; the copy is cached until the weight changes (its version).
        """
        key = (self.weight._version, self.weight.data_ptr())
        cached = self.__dict__.get("_weight_in_out")
        if cached is None or cached[0] != key:
            with torch.inference_mode(False), torch.no_grad():
                cached = (key, self.weight.transpose(1, 2).contiguous())
            self.__dict__["_weight_in_out"] = cached
        return cached[1]


class Experts(nn.Module):
    """The E expert MLPs (in -> hidden -> GELU -> in) of one MoE layer."""

    def __init__(self, num_experts: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.htoh4 = ExpertLinear(num_experts, dim, hidden)
        self.h4toh = ExpertLinear(num_experts, hidden, dim)

    def expert(self, e: int, x: torch.Tensor) -> torch.Tensor:
        """Apply expert ``e`` to rows ``x`` (n, dim)."""
        h = F.linear(x, self.htoh4.weight[e], self.htoh4.bias[e])
        return F.linear(F.gelu(h), self.h4toh.weight[e], self.h4toh.bias[e])


class Gate(nn.Module):
    """One router: ``w_gate`` of shape (in, experts), stored (in, out) as M3ViT does."""

    def __init__(self, in_dim: int, num_experts: int) -> None:
        super().__init__()
        self.w_gate = nn.Parameter(torch.empty(in_dim, num_experts))
        # The official gate's init (fan-in taken from the expert axis of (in, E)).
        nn.init.kaiming_uniform_(self.w_gate, a=5**0.5)


@dataclass
class Routing:
    """The router's decision for one MoE layer (tokens flattened over the batch)."""

    indices: torch.Tensor  # (n_tokens, k) expert ids, highest probability first
    gates: torch.Tensor  # (n_tokens, k) gate values used to weight the experts
    probs: torch.Tensor  # (n_tokens, E) router probabilities (before top-k)


@dataclass
class LayerRouting:
    """Routing statistics of one MoE layer for a batch (summed over images)."""

    block: int
    tokens_per_expert: list[int]
    active_experts: int  # summed over images: expert weight sets that expert-major loads
    expert_bytes: int  # bytes of one expert's weights and biases
    bytes_expert_major: int
    bytes_token_major: int
    cache_experts: int


@dataclass
class RoutingStats:
    """Per-layer routing statistics of a forward pass (see :class:`LayerRouting`)."""

    layers: list[LayerRouting] = field(default_factory=list)

    @property
    def bytes_expert_major(self) -> int:
        return sum(layer.bytes_expert_major for layer in self.layers)

    @property
    def bytes_token_major(self) -> int:
        return sum(layer.bytes_token_major for layer in self.layers)

    @property
    def traffic_saving(self) -> float:
        """Token-major expert-weight bytes divided by expert-major bytes."""
        return self.bytes_token_major / max(1, self.bytes_expert_major)

    def to_dict(self) -> dict:
        return {
            "layers": [vars(layer) for layer in self.layers],
            "bytes_expert_major": self.bytes_expert_major,
            "bytes_token_major": self.bytes_token_major,
            "traffic_saving": self.traffic_saving,
        }


def lru_loads(sequence: list[int], capacity: int) -> int:
    """Number of loads when ``sequence`` of expert ids is served by an LRU cache."""
    if capacity <= 0:
        return len(sequence)
    cache: OrderedDict[int, None] = OrderedDict()
    loads = 0
    for e in sequence:
        if e in cache:
            cache.move_to_end(e)
            continue
        loads += 1
        cache[e] = None
        if len(cache) > capacity:
            cache.popitem(last=False)
    return loads


class MoE(nn.Module):
    """An MoE MLP layer: router(s), E experts, and the two execution orders.

    ``router='multi'`` keeps one :class:`Gate` per task in ``gate`` (a
    ModuleList, keys ``gate.{t}.w_gate``); ``'task'`` and ``'single'`` keep one
    gate (``gate.w_gate``); for ``'task'`` its input is the token concatenated
    with the task embedding.
    """

    def __init__(
        self,
        dim: int,
        hidden: int,
        num_experts: int,
        top_k: int,
        router: str,
        num_tasks: int,
        gate_in_dim: int,
        renormalize: bool = False,
        noise_std: float = 1.0,
    ) -> None:
        super().__init__()
        self.dim, self.hidden = dim, hidden
        self.num_experts, self.top_k = num_experts, top_k
        self.router, self.renormalize, self.noise_std = router, renormalize, noise_std
        self.experts = Experts(num_experts, dim, hidden)
        if router == "multi":
            self.gate = nn.ModuleList(Gate(gate_in_dim, num_experts) for _ in range(num_tasks))
        else:
            self.gate = Gate(gate_in_dim, num_experts)
        self.path = "expert"
        self.token_chunk = 256  # token-major: tokens per gathered-weight batch (bounds memory)
        self.use_topk_op = False  # torch.topk instead of the stable sort (ONNX export)
        # expert-major: mean queue length up to which queues are batched (see forward)
        self.batched_queue_limit = 64
        self.aux_loss: torch.Tensor | None = None
        self.last_routing: Routing | None = None
        # Training hooks (pymodel.distributed sets them; None = local behaviour):
        # noise_fn(logits) -> standard-normal noise shaped like logits (router noise that
        # depends on the sample's place in the global batch, not on the rank), and
        # stats_fn(stats) -> the (2, E) importance/load summed over the global batch.
        self.noise_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
        self.stats_fn: Callable[[torch.Tensor], torch.Tensor] | None = None

    # ---------------------------------------------------------------- routing
    def w_gate(self, task_id: int) -> torch.Tensor:
        return self.gate[task_id].w_gate if self.router == "multi" else self.gate.w_gate

    def route(
        self, x: torch.Tensor, task_id: int, task_feature: torch.Tensor | None = None
    ) -> Routing:
        """Router decision for rows ``x`` (n, dim)."""
        gate_in = x
        if self.router == "task":
            if task_feature is None:
                raise ValueError("router='task' needs the task embedding")
            gate_in = torch.cat([x, task_feature.expand(x.shape[0], -1)], dim=-1)
        logits = gate_in @ self.w_gate(task_id)
        noisy = self.training and self.noise_std > 0 and self.top_k < self.num_experts
        noise_std = self.noise_std / self.num_experts
        if noisy:
            noise = self.noise_fn(logits) if self.noise_fn else torch.randn_like(logits)
            noisy_logits = logits + noise * noise_std
        else:
            noisy_logits = logits
        probs = torch.softmax(noisy_logits, dim=-1)
        gates, indices = topk_lower_index(probs, self.top_k, self.use_topk_op)
        if self.renormalize:
            gates = gates / gates.sum(dim=-1, keepdim=True)
        if self.training:
            self.aux_loss = self._balance_loss(
                probs, gates, indices, logits, noisy_logits, noise_std if noisy else 0.0
            )
        return Routing(indices=indices, gates=gates, probs=probs)

    def _balance_loss(
        self,
        probs: torch.Tensor,
        gates: torch.Tensor,
        indices: torch.Tensor,
        clean: torch.Tensor,
        noisy: torch.Tensor,
        noise_std: float,
    ) -> torch.Tensor:
        """cv^2(importance) + cv^2(load), Shazeer et al.'s load-balancing loss.

        With noise, load is the smooth probability of each expert being in the
        top k (thresholds taken on the noisy logits; the official code mixes
        logits and probabilities here); without noise, the token count. With
        ``stats_fn`` set (data-parallel training), importance and load are
        summed over the global batch before the cv^2.
        """
        dense = torch.zeros_like(probs).scatter(1, indices, gates)
        importance = dense.sum(0)
        if noise_std > 0:
            top, _ = topk_lower_index(noisy, self.top_k + 1)
            thr_in = top[:, self.top_k : self.top_k + 1]
            thr_out = top[:, self.top_k - 1 : self.top_k]
            normal = torch.distributions.Normal(0.0, 1.0)
            is_in = noisy > thr_in
            p_in = normal.cdf((clean - thr_in) / noise_std)
            p_out = normal.cdf((clean - thr_out) / noise_std)
            load = torch.where(is_in, p_in, p_out).sum(0)
        else:
            load = (dense > 0).float().sum(0)
        stats = torch.stack([importance.float(), load.float()])
        if self.stats_fn is not None:
            stats = self.stats_fn(stats)
        return _cv_squared(stats[0]) + _cv_squared(stats[1])

    # ---------------------------------------------------------------- forward
    def forward(
        self, x: torch.Tensor, task_id: int, task_feature: torch.Tensor | None = None
    ) -> torch.Tensor:
        shape = x.shape
        flat = x.reshape(-1, self.dim)
        routing = self.route(flat, task_id, task_feature)
        self.last_routing = routing
        if self.path == "expert":
            out = self.forward_expert_major(flat, routing)
        elif self.path == "token":
            out = self.forward_token_major(flat, routing)
        else:
            raise ValueError(f"unknown MoE path {self.path!r}; use one of {MOE_PATHS}")
        return out.reshape(shape)

    def forward_token_major(self, x: torch.Tensor, routing: Routing) -> torch.Tensor:
        """Reference order: each token applies its k experts (gathered weights)."""
        w1, b1 = self.experts.htoh4.weight, self.experts.htoh4.bias
        w2, b2 = self.experts.h4toh.weight, self.experts.h4toh.bias
        n, k = routing.indices.shape
        chunk = max(1, self.token_chunk // k)
        outs = []
        for start in range(0, n, chunk):
            idx = routing.indices[start : start + chunk]  # (c, k)
            xs = x[start : start + chunk]
            c = xs.shape[0]
            flat_idx = idx.reshape(-1)
            xk = xs.unsqueeze(1).expand(c, k, self.dim).reshape(c * k, self.dim, 1)
            h = torch.bmm(w1[flat_idx], xk).squeeze(-1) + b1[flat_idx]
            y = torch.bmm(w2[flat_idx], F.gelu(h).unsqueeze(-1)).squeeze(-1) + b2[flat_idx]
            y = y.reshape(c, k, self.dim) * routing.gates[start : start + chunk].unsqueeze(-1)
            outs.append(y.sum(dim=1))
        return torch.cat(outs, dim=0)

    def forward_expert_major(self, x: torch.Tensor, routing: Routing) -> torch.Tensor:
        """Patch reordering: per-expert token queues, each active expert's weights used once.

        The (token, slot) pairs are sorted by expert (stably, so each queue keeps
        token order). Inference (no autograd) writes each expert's rows straight into
        one buffer per layer, GELU once over all rows: no padding, no concatenation.
        Training computes short queues together as one batched product over the
        experts, queues padded to the longest (less dispatch overhead), and long
        queues one expert at a time (no padding waste).
        """
        n, k = routing.indices.shape
        flat_expert = routing.indices.reshape(-1)
        order = torch.argsort(flat_expert, stable=True)
        counts = torch.bincount(flat_expert, minlength=self.num_experts)
        token_of = order // k
        gate_of = routing.gates.reshape(-1)[order].unsqueeze(-1)
        if not torch.is_grad_enabled():
            y = self._queues_in_place(x, token_of, flat_expert[order], counts)
        elif n * k <= self.batched_queue_limit * int((counts > 0).sum()):
            y = self._batched_queues(x, token_of, flat_expert[order], counts)
        else:
            y = torch.cat(
                [
                    self.experts.expert(e, x.index_select(0, token_of[s : s + c]))
                    for e, s, c in _queues(counts)
                ]
            )
        # .to: under autocast the expert products may come out in a narrower dtype than x.
        return torch.zeros_like(x).index_add_(0, token_of, (y * gate_of).to(x.dtype))

    def _queues_in_place(
        self, x: torch.Tensor, token_of: torch.Tensor, expert_of: torch.Tensor, counts: torch.Tensor
    ) -> torch.Tensor:
        """Inference: every queue through its expert with (E, in, out) weights; one padded
        batched product when the queues are balanced (padding below half the rows), else
        each queue written into one shared buffer (``out=``, no autograd)."""
        e1, e2 = self.experts.htoh4, self.experts.h4toh
        w1, w2 = e1.weight_in_out(), e2.weight_in_out()
        active = int((counts > 0).sum())
        padded_ok = self.batched_queue_limit > 0  # 0: never pad (exact MAC counts)
        if padded_ok and 2 * active * int(counts.max()) <= 3 * token_of.numel():
            return self._batched_queues(x, token_of, expert_of, counts, w1, w2)
        xs = x.index_select(0, token_of)
        queues = _queues(counts)
        h = x.new_empty(xs.shape[0], self.hidden)
        for e, s, c in queues:
            torch.addmm(e1.bias[e], xs[s : s + c], w1[e], out=h[s : s + c])
        h = F.gelu(h)
        y = x.new_empty(xs.shape[0], self.dim)
        for e, s, c in queues:
            torch.addmm(e2.bias[e], h[s : s + c], w2[e], out=y[s : s + c])
        return y

    def _batched_queues(
        self,
        x: torch.Tensor,
        token_of: torch.Tensor,
        expert_of: torch.Tensor,
        counts: torch.Tensor,
        w1: torch.Tensor | None = None,
        w2: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Every queue in one padded batched product; rows returned in queue order.

        ``w1``/``w2`` may give the weights as (E, in, out) (:meth:`ExpertLinear.weight_in_out`).
        """
        active = torch.nonzero(counts).squeeze(1)
        e1, e2 = self.experts.htoh4, self.experts.h4toh
        b1, b2 = e1.bias, e2.bias
        w1 = e1.weight.transpose(1, 2) if w1 is None else w1
        w2 = e2.weight.transpose(1, 2) if w2 is None else w2
        if active.numel() < self.num_experts:  # only active experts' weights take part
            rank = torch.cumsum(counts > 0, 0) - 1
            w1, b1, w2, b2 = w1[active], b1[active], w2[active], b2[active]
            counts, expert_of = counts[active], rank[expert_of]
        longest = int(counts.max())
        starts = torch.cumsum(counts, 0) - counts
        slot = (
            expert_of * longest
            + torch.arange(expert_of.numel(), device=x.device)
            - starts[expert_of]
        )
        buf = x.new_zeros(counts.numel() * longest, self.dim)
        buf.index_copy_(0, slot, x.index_select(0, token_of))
        buf = buf.view(counts.numel(), longest, self.dim)
        h = torch.baddbmm(b1.unsqueeze(1), buf, w1)
        y = torch.baddbmm(b2.unsqueeze(1), F.gelu(h), w2)
        return y.view(-1, self.dim).index_select(0, slot)

    # ------------------------------------------------------------- statistics
    def routing_stats(
        self, block: int, batch: int, weight_bytes: float = 2.0, cache_experts: int = 1
    ) -> LayerRouting:
        """Statistics of the last forward: queues, and expert-weight traffic of both orders.

        Token-major traffic walks tokens in order (each token's experts in gate
        order) through an LRU cache of ``cache_experts`` experts; expert-major
        loads each active expert once per image.
        """
        if self.last_routing is None:
            raise RuntimeError("routing_stats() needs a forward pass first")
        idx = self.last_routing.indices.detach().cpu()
        per_image = idx.reshape(batch, -1, self.top_k)
        expert_params = 2 * self.dim * self.hidden + self.hidden + self.dim
        expert_bytes = int(round(expert_params * weight_bytes))
        counts = torch.bincount(idx.reshape(-1), minlength=self.num_experts)
        active = token_loads = 0
        for img in per_image:
            active += int(torch.unique(img).numel())
            token_loads += lru_loads(img.reshape(-1).tolist(), cache_experts)
        return LayerRouting(
            block=block,
            tokens_per_expert=counts.tolist(),
            active_experts=active,
            expert_bytes=expert_bytes,
            bytes_expert_major=active * expert_bytes,
            bytes_token_major=token_loads * expert_bytes,
            cache_experts=cache_experts,
        )


def _queues(counts: torch.Tensor) -> list[tuple[int, int, int]]:
    """(expert, start, length) of each non-empty queue in the expert-sorted pair list."""
    out, start = [], 0
    for e, c in enumerate(counts.tolist()):
        if c:
            out.append((e, start, c))
            start += c
    return out


def _cv_squared(x: torch.Tensor) -> torch.Tensor:
    """Squared coefficient of variation (0 for a single expert)."""
    if x.numel() <= 1:
        return x.new_zeros(())
    x = x.float()
    return x.var() / (x.mean() ** 2 + 1e-10)
