"""The golden backbone forward in any numerics preset.

One network description (:func:`run_backbone`) drives three arithmetics with the same
interface: :class:`FloatArith` (float64, exact math or the hardware
approximations; also records value ranges for calibration) and
:class:`FixedArith` (exact integer arithmetic on raw fixed-point values). The
fixed-point forward follows the hardware's dataflow: products accumulated
exactly in a wide accumulator (bias and residual added into it), each result
requantised once; expert-major MoE with exact scatter-add of gate-weighted
expert outputs. The attention scale 1/sqrt(head_dim) is folded into the query
weights and bias before quantisation (no multiplier in the datapath).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .fixed import FixedFormat
from .hwmath import (
    approx_gelu,
    approx_layernorm,
    approx_online_softmax,
    gelu_fixed,
    layernorm_fixed,
    online_softmax_fixed,
    recip_fixed,
    topk_fixed,
)
from .presets import NumericsPreset, formats_from_ranges, get_preset
from .qtorch import (
    F64_REQUANT,
    NumericsError,
    OverflowCounter,
    exact_matmul,
    f64_requant_ok,
    requant,
    requant_f64,
    requant_var,
)


@dataclass
class Q:
    """A fixed-point tensor: raw integers and their format."""

    raw: torch.Tensor
    fmt: FixedFormat
    l1: int | None = None  # weights: max over output rows of sum |raw| (exactness bound)
    overflowed: int = 0  # weights: values outside the format when quantised
    t64: torch.Tensor | None = None  # weights: raw transposed as float64 (matmul operand)
    f64: torch.Tensor | None = None  # raw as float64 when a float64 requantisation made it
    aligned: dict[int, torch.Tensor] = field(default_factory=dict)  # biases: f64 per frac

    @property
    def bound(self) -> int:
        """Largest |raw| the format allows (an a-priori exactness bound)."""
        return max(-self.fmt.raw_min, self.fmt.raw_max)

    def as_f64(self) -> torch.Tensor:
        """The raw values as float64 (exact: formats of <= 53 bits)."""
        return self.f64 if self.f64 is not None else self.raw.double()

    def view(self, reshape: Callable[[torch.Tensor], torch.Tensor]) -> Q:
        """The same values reshaped (the float64 copy, if any, alike)."""
        return Q(reshape(self.raw), self.fmt, f64=None if self.f64 is None else reshape(self.f64))

    def transposed(self) -> Q:
        """The last two dimensions swapped."""
        return self.view(lambda r: r.transpose(-1, -2))

    @property
    def frac(self) -> int:
        return self.fmt.frac_bits

    def float(self) -> torch.Tensor:
        return self.raw.double() * 2.0**-self.frac


@dataclass
class ForwardResult:
    """Output of :func:`backbone_forward`."""

    tokens: torch.Tensor  # (B, 1+N, dim) float64 (dequantised for fixed presets)
    raw: torch.Tensor | None  # (B, 1+N, dim) raw integers of the final tokens (fixed only)
    fmt: FixedFormat | None
    layers: dict[str, torch.Tensor] = field(default_factory=dict)  # raw per layer (record=True)
    overflow: dict[str, dict[str, int]] = field(default_factory=dict)
    routing: dict[str, torch.Tensor] = field(default_factory=dict)  # block -> (B*T, k) experts


@dataclass
class ExpertQueues:
    """Edge-MoE's patch reordering: the (token, slot) pairs of a layer sorted by expert.

    ``order`` holds the flat pair indices ``token * k + slot`` sorted stably by expert
    (each queue keeps token order), ``tokens`` and ``experts`` the token and expert of
    each sorted pair, ``queues`` the (expert, start, length) of each non-empty queue.
    """

    order: torch.Tensor
    tokens: torch.Tensor
    experts: torch.Tensor
    queues: list[tuple[int, int, int]]

    @classmethod
    def of(cls, idx: torch.Tensor, num_experts: int) -> ExpertQueues:
        """Queues of the router's (tokens, k) expert indices."""
        flat = idx.reshape(-1)
        order = torch.argsort(flat, stable=True)
        queues, start = [], 0
        for e, c in enumerate(torch.bincount(flat, minlength=num_experts).tolist()):
            if c:
                queues.append((e, start, c))
                start += c
        return cls(order, order // idx.shape[-1], flat.index_select(0, order), queues)


# ------------------------------------------------------------------------ weights
def weight_bank(model) -> dict[str, tuple[torch.Tensor, str]]:
    """Named float64 parameters of the backbone with their format kind.

    The attention scale is folded into the query rows of qkv.
    """
    bb, cfg = model.backbone, model.cfg
    d = cfg.dim
    scale = cfg.head_dim**-0.5
    bank: dict[str, tuple[torch.Tensor, str]] = {}

    def put(name: str, t: torch.Tensor, kind: str) -> None:
        bank[name] = (t.detach().double().clone(), kind)

    put("patch.w", bb.patch_embed.proj.weight.reshape(d, -1), "patch_w")
    put("patch.b", bb.patch_embed.proj.bias, "patch_b")
    put("cls", bb.cls_token.reshape(1, d), "pos")
    put("pos", bb.pos_embed.reshape(-1, d), "pos")
    for i, blk in enumerate(bb.blocks):
        p = f"blocks.{i}."
        put(p + "norm1.w", blk.norm1.weight, "norm_w")
        put(p + "norm1.b", blk.norm1.bias, "norm_b")
        w, b = blk.attn.qkv.weight, blk.attn.qkv.bias
        b = b if b is not None else torch.zeros(3 * d)
        put(p + "attn.q.w", w[:d] * scale, "w")
        put(p + "attn.q.b", b[:d] * scale, "attn_b")
        put(p + "attn.k.w", w[d : 2 * d], "w")
        put(p + "attn.k.b", b[d : 2 * d], "attn_b")
        put(p + "attn.v.w", w[2 * d :], "w")
        put(p + "attn.v.b", b[2 * d :], "attn_b")
        put(p + "attn.proj.w", blk.attn.proj.weight, "w")
        put(p + "attn.proj.b", blk.attn.proj.bias, "attn_b")
        put(p + "norm2.w", blk.norm2.weight, "norm_w")
        put(p + "norm2.b", blk.norm2.bias, "norm_b")
        if blk.moe:
            moe = blk.mlp
            for t in range(cfg.num_tasks if cfg.router == "multi" else 1):
                put(p + f"mlp.gate.{t}", moe.w_gate(t).T, "gate_w")  # (E, gate_in)
            put(p + "mlp.experts.htoh4.w", moe.experts.htoh4.weight, "w")
            put(p + "mlp.experts.htoh4.b", moe.experts.htoh4.bias, "b")
            put(p + "mlp.experts.h4toh.w", moe.experts.h4toh.weight, "w")
            put(p + "mlp.experts.h4toh.b", moe.experts.h4toh.bias, "b")
        else:
            put(p + "mlp.fc1.w", blk.mlp.fc1.weight, "w")
            put(p + "mlp.fc1.b", blk.mlp.fc1.bias, "b")
            put(p + "mlp.fc2.w", blk.mlp.fc2.weight, "w")
            put(p + "mlp.fc2.b", blk.mlp.fc2.bias, "b")
    return bank


# ----------------------------------------------------------------------- float
class FloatArith:
    """float64 arithmetic, exact math (``approx=False``) or the hardware approximations.

    Records max |value| per tensor name (for calibration) when ``observe`` is set.
    """

    def __init__(
        self,
        bank: dict[str, tuple[torch.Tensor, str]],
        approx: bool,
        eps: float,
        observe: dict[str, float] | None = None,
        kinds: dict[str, str] | None = None,
    ) -> None:
        self.bank, self.approx, self.eps = bank, approx, eps
        self.observe, self.kinds = observe, kinds
        self.record: dict[str, torch.Tensor] | None = None

    def _obs(self, name: str, kind: str, x: torch.Tensor, keep: bool = True) -> torch.Tensor:
        if self.observe is not None and x.numel():
            self.observe[name] = max(self.observe.get(name, 0.0), float(x.abs().max()))
            self.kinds[name] = kind
        if keep and self.record is not None:
            self.keep(name, x)
        return x

    def keep(self, name: str, value: torch.Tensor) -> None:
        """Store a layer's value while recording (a hook for subclasses that keep more)."""
        assert self.record is not None
        self.record[name] = value

    def keep_expert(self, name: str, e: int, tokens: torch.Tensor, value: torch.Tensor) -> None:
        """Store expert ``e``'s rows (for ``tokens``) of a per-expert layer while recording;
        by default the last active expert's rows are what ``record`` keeps."""
        self.keep(name, value)

    def w(self, name: str) -> torch.Tensor:
        return self.bank[name][0]

    def input(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return self._obs(name, "input", x.double())

    def patch_embed(self, name: str, patches: torch.Tensor) -> torch.Tensor:
        b, n, _ = patches.shape
        x = patches @ self.w("patch.w").T + self.w("patch.b") + self.w("pos")[1:]
        cls = (self.w("cls") + self.w("pos")[:1]).expand(b, 1, -1)
        return self._obs(name, "resid", torch.cat([cls, x], dim=1))

    def linear(
        self,
        name: str,
        x: torch.Tensor,
        w: torch.Tensor | str,
        b: str | None,
        kind: str,
        residual: torch.Tensor | None = None,
    ) -> torch.Tensor:
        wt = self.w(w) if isinstance(w, str) else w
        y = x @ wt.transpose(-1, -2)
        if b is not None:
            y = y + self.w(b)
        if residual is not None:
            y = y + residual
        return self._obs(name, kind, y)

    def layernorm(self, name: str, x: torch.Tensor, g: str, b: str) -> torch.Tensor:
        gamma, beta = self.w(g), self.w(b)
        mean = x.mean(-1, keepdim=True)
        var = ((x * x).mean(-1, keepdim=True) - mean * mean).clamp(min=0)
        if self.observe is not None:
            self._obs(name + ".z", "ln_norm", (x - mean) / torch.sqrt(var + self.eps))
        if self.approx:
            y = approx_layernorm(x, gamma, beta)
        else:
            y = F.layer_norm(x, x.shape[-1:], gamma, beta, self.eps)
        return self._obs(name, "ln_out", y)

    def attention(
        self, name: str, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        s = self._obs(name + ".score", "score", q @ k.transpose(-1, -2))
        p = approx_online_softmax(s) if self.approx else torch.softmax(s, dim=-1)
        self._obs(name + ".prob", "prob", p)
        return self._obs(name + ".out", "attn", p @ v)

    def gelu(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return self._obs(name, "gelu", self._gelu(x))

    def _gelu(self, x: torch.Tensor) -> torch.Tensor:
        return approx_gelu(x) if self.approx else F.gelu(x)

    def route(
        self, name: str, logits: torch.Tensor, k: int, renorm: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        _, idx = torch.sort(logits, dim=-1, descending=True, stable=True)
        idx = idx[:, :k]
        probs = approx_online_softmax(logits) if self.approx else torch.softmax(logits, -1)
        gates = probs.gather(1, idx)
        if renorm:
            gates = gates / gates.sum(-1, keepdim=True)
        return idx, self._obs(name, "gate_prob", gates)

    def concat_feature(self, x: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, feature.double().expand(x.shape[0], -1)], dim=-1)

    def experts(
        self, prefix: str, h: torch.Tensor, gates: torch.Tensor, queues: ExpertQueues
    ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Expert-major MLPs: each active expert on its queue of tokens; returns the
        (tokens, gates, outputs) parts that :meth:`combine` scatter-adds."""
        w1, b1 = self.w(prefix + "htoh4.w"), self.w(prefix + "htoh4.b")
        w2, b2 = self.w(prefix + "h4toh.w"), self.w(prefix + "h4toh.b")
        flat_gates = gates.reshape(-1)
        parts = []
        for e, start, count in queues.queues:
            sel = queues.order[start : start + count]
            tokens = queues.tokens[start : start + count]
            u = h.index_select(0, tokens) @ w1[e].T + b1[e]
            self._obs(prefix + "htoh4", "hidden", u, keep=False)
            g = self._obs(prefix + "gelu", "gelu", self._gelu(u), keep=False)
            y = self._obs(prefix + "h4toh", "expert_out", g @ w2[e].T + b2[e], keep=False)
            if self.record is not None:
                for layer, value in (("htoh4", u), ("gelu", g), ("h4toh", y)):
                    self.keep_expert(prefix + layer, e, tokens, value)
            parts.append((tokens, flat_gates[sel], y))
        return parts

    def combine(self, name: str, residual: torch.Tensor, parts: list) -> torch.Tensor:
        acc = residual.clone()
        for tokens, gates, y in parts:
            acc.index_add_(0, tokens, gates.unsqueeze(-1) * y)
        return self._obs(name, "resid", acc)

    def split_heads(self, x: torch.Tensor, b: int, heads: int) -> torch.Tensor:
        return x.reshape(b, -1, heads, x.shape[-1] // heads).transpose(1, 2)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, h, t, d = x.shape
        return x.transpose(1, 2).reshape(b * t, h * d)

    def flatten(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, x.shape[-1])

    def unflatten(self, x: torch.Tensor, b: int) -> torch.Tensor:
        return x.reshape(b, -1, x.shape[-1])


# ----------------------------------------------------------------------- fixed
class FixedArith:
    """Exact integer arithmetic on :class:`Q` values in the formats of ``preset``."""

    def __init__(
        self,
        bank: dict[str, tuple[torch.Tensor, str]],
        preset: NumericsPreset,
        counter: OverflowCounter,
        weights: dict[str, Q] | None = None,
    ) -> None:
        self.bank, self.preset, self.counter = bank, preset, counter
        self.spec = preset.spec
        self.cache: dict[str, Q] = weights if weights is not None else {}
        self.seen: set[str] = set()
        self.record: dict[str, torch.Tensor] | None = None

    def _fmt(self, name: str, kind: str) -> FixedFormat:
        return self.preset.fmt(name, kind)

    def _out(self, name: str, q: Q) -> Q:
        if self.record is not None:
            self.keep(name, q.raw)
        return q

    def keep(self, name: str, raw: torch.Tensor) -> None:
        """Store a layer's raw value while recording (a hook for subclasses that keep more)."""
        assert self.record is not None
        self.record[name] = raw

    def keep_expert(self, name: str, e: int, tokens: torch.Tensor, raw: torch.Tensor) -> None:
        """Store expert ``e``'s rows (for ``tokens``) of a per-expert layer while recording;
        by default the last active expert's rows are what ``record`` keeps."""
        self.keep(name, raw)

    def quantize(self, t: torch.Tensor, fmt: FixedFormat, name: str, count: bool = True) -> Q:
        raw = fmt.from_float(t.detach().cpu().numpy().astype(np.float64))
        out = Q(torch.from_numpy(np.ascontiguousarray(raw)).to(torch.int64), fmt)
        out.overflowed = int(((t.double() > fmt.max_value) | (t.double() < fmt.min_value)).sum())
        if count:
            self.counter.add(name, out.overflowed, t.numel())
        return out

    def w(self, name: str) -> Q:
        if name not in self.cache:  # weights are quantised once per model and preset
            t, kind = self.bank[name]
            q = self.quantize(t, self._fmt(name, kind), name, count=False)
            if q.raw.dim() >= 2:
                q.l1 = int(q.raw.abs().sum(dim=-1).max())
            self.cache[name] = q
        q = self.cache[name]
        if name not in self.seen:  # report weight saturation in every forward, not once
            self.seen.add(name)
            self.counter.add(name, q.overflowed, q.raw.numel())
        return q

    def _align(self, q: Q, frac: int, what: str) -> torch.Tensor:
        return q.raw << self._shift_to(q, frac, what)

    def _shift_to(self, q: Q, frac: int, what: str) -> int:
        """Left shift that aligns ``q`` to ``frac`` fraction bits (an error if it is negative)."""
        if q.frac > frac:
            raise NumericsError(
                f"{what} in {q.fmt} has more fraction bits than the accumulator ({frac}); "
                "choose formats so it can be added exactly"
            )
        return frac - q.frac

    def input(self, name: str, x: torch.Tensor) -> Q:
        return self._out(name, self.quantize(x, self._fmt(name, "input"), name))

    def patch_embed(self, name: str, patches: Q) -> Q:
        w, b, pos, cls = self.w("patch.w"), self.w("patch.b"), self.w("pos"), self.w("cls")
        frac = patches.frac + w.frac
        acc = exact_matmul(patches.raw, w.raw.T) + self._align(b, frac, "patch bias")
        acc = acc + self._align(Q(pos.raw[1:], pos.fmt), frac, "position embedding")
        fmt = self._fmt(name, "resid")
        x = requant(acc, frac, fmt, self.counter, name)
        cf = max(cls.frac, pos.frac)  # align both to the finer format, add exactly
        c_acc = (cls.raw << (cf - cls.frac)) + (pos.raw[:1] << (cf - pos.frac))
        c = requant(c_acc, cf, fmt, self.counter, name)
        c = c.unsqueeze(0).expand(x.shape[0], 1, -1)
        return self._out(name, Q(torch.cat([c, x], dim=1), fmt))

    def linear(
        self, name: str, x: Q, w: str, b: str | None, kind: str, residual: Q | None = None
    ) -> Q:
        wq = self.w(w)
        b_q = self.w(b) if b else None
        w64 = _transposed_f64(wq)
        return self._linear(name, x, wq.raw, wq.fmt, b_q, kind, residual, wq.l1, w64)

    def _linear(
        self,
        name: str,
        x: Q,
        w_raw: torch.Tensor,
        w_fmt: FixedFormat,
        b: Q | None,
        kind: str,
        residual: Q | None = None,
        w_l1: int | None = None,
        w_t64: torch.Tensor | None = None,
    ) -> Q:
        frac = x.frac + w_fmt.frac_bits
        fmt = self._fmt(name, kind)
        b_sh = None if b is None else self._shift_to(b, frac, f"{name} bias")
        r_sh = None if residual is None else self._shift_to(residual, frac, f"{name} residual")
        if w_t64 is not None and w_l1 is not None and f64_requant_ok(frac, fmt):
            out = self._linear_f64(name, x, w_t64, w_l1, frac, b, residual, fmt)
            if out is not None:
                return self._out(name, out)
        acc = exact_matmul(x.raw, w_raw.T, w_l1, w_t64)
        if b is not None:
            acc = acc + (b.raw << b_sh)
        if residual is not None:
            acc = acc + (residual.raw << r_sh)
        return self._out(name, Q(requant(acc, frac, fmt, self.counter, name), fmt))

    def _linear_f64(
        self,
        name: str,
        x: Q,
        w_t64: torch.Tensor,
        w_l1: int,
        frac: int,
        b: Q | None,
        residual: Q | None,
        fmt: FixedFormat,
    ) -> Q | None:
        """The linear unit accumulated and requantised in float64 (no int64 round trip).

        Exact when every partial sum is an integer below 2**52: the bound is taken from
        the formats, else from the data; None when even that is too large.
        """
        b_bound = 0 if b is None else b.bound << (frac - b.frac)
        r_bound = 0 if residual is None else residual.bound << (frac - residual.frac)
        if x.bound * w_l1 + b_bound + r_bound >= F64_REQUANT:
            x_max = int(x.raw.abs().max()) if x.raw.numel() else 0
            if residual is not None and residual.raw.numel():
                r_bound = int(residual.raw.abs().max()) << (frac - residual.frac)
            if x_max * w_l1 + b_bound + r_bound >= F64_REQUANT:
                return None
        acc = torch.matmul(x.as_f64(), w_t64)
        if b is not None:
            acc += _aligned_f64(b, frac)
        if residual is not None:
            acc.add_(residual.as_f64(), alpha=2.0 ** (frac - residual.frac))
        raw, raw64 = requant_f64(acc, frac, fmt, self.counter, name)
        return Q(raw, fmt, f64=raw64)

    def layernorm(self, name: str, x: Q, g: str, b: str) -> Q:
        gq, bq = self.w(g), self.w(b)
        out = self._fmt(name, "ln_out")
        y = layernorm_fixed(
            x.raw,
            x.frac,
            gq.raw,
            gq.frac,
            bq.raw,
            bq.frac,
            self._fmt(name + ".z", "ln_norm"),
            out,
            self.spec,
            self.counter,
            name,
        )
        return self._out(name, Q(y, out))

    def attention(self, name: str, q: Q, k: Q, v: Q) -> Q:
        sfmt = self._fmt(name + ".score", "score")
        s = self._product(name + ".score", q, k.transposed(), sfmt)
        pfmt = self._fmt(name + ".prob", "prob")
        p = online_softmax_fixed(
            s.raw, sfmt.frac_bits, pfmt, self.spec, self.counter, name + ".prob"
        )
        out = self._product(name + ".out", Q(p, pfmt), v, self._fmt(name + ".out", "attn"))
        if self.record is not None:
            self.keep(name + ".score", s.raw)
            self.keep(name + ".prob", p)
        return self._out(name + ".out", out)

    def _product(self, name: str, a: Q, b: Q, fmt: FixedFormat) -> Q:
        """``a @ b`` of two activations, exact, requantised once to ``fmt``: in float64
        when every partial sum is an integer below 2**52 (bound from the formats, else
        from the data), else in int64 (:func:`exact_matmul`)."""
        frac = a.frac + b.frac
        if f64_requant_ok(frac, fmt):
            inner = a.raw.shape[-1]
            ok = a.bound * inner * b.bound < F64_REQUANT
            if not ok and a.raw.numel() and b.raw.numel():
                b_colsum = int(b.raw.abs().sum(dim=-2).max())
                ok = int(a.raw.abs().max()) * b_colsum < F64_REQUANT
            if ok:
                acc = torch.matmul(a.as_f64(), b.as_f64())
                raw, raw64 = requant_f64(acc, frac, fmt, self.counter, name)
                return Q(raw, fmt, f64=raw64)
        return Q(requant(exact_matmul(a.raw, b.raw), frac, fmt, self.counter, name), fmt)

    def gelu(self, name: str, x: Q) -> Q:
        fmt = self._fmt(name, "gelu")
        return self._out(
            name, Q(gelu_fixed(x.raw, x.frac, fmt, self.spec, self.counter, name), fmt)
        )

    def route(self, name: str, logits: Q, k: int, renorm: bool) -> tuple[torch.Tensor, Q]:
        idx = topk_fixed(logits.raw, k)
        fmt = self._fmt(name, "gate_prob")
        probs = online_softmax_fixed(logits.raw, logits.frac, fmt, self.spec, self.counter, name)
        gates = probs.gather(1, idx)
        if renorm:
            mant, sh = recip_fixed(
                gates.sum(-1, keepdim=True).clamp(min=1), fmt.frac_bits, self.spec
            )
            gates = requant_var(
                gates * mant,
                fmt.frac_bits + self.spec.mant_frac + sh,
                fmt,
                self.counter,
                name + ".renorm",
            )
        return idx, self._out(name, Q(gates, fmt))

    def concat_feature(self, x: Q, feature: torch.Tensor) -> Q:
        f = self.quantize(feature, x.fmt, "task_feature")
        return Q(torch.cat([x.raw, f.raw.expand(x.raw.shape[0], -1)], dim=-1), x.fmt)

    def experts(
        self, prefix: str, h: Q, gates: Q, queues: ExpertQueues
    ) -> list[tuple[torch.Tensor, Q, Q]]:
        """Expert-major MLPs of every active expert at once: the rows of all queues are
        gathered in queue order, each expert's rows multiplied by its own weights, and
        bias, GELU and requantisation applied to all rows together (every expert shares
        the layer's formats, so this is the per-expert computation, row for row).
        Returns one (tokens, gates, outputs) part for :meth:`combine`."""
        x = Q(h.raw.index_select(0, queues.tokens), h.fmt)
        u = self._expert_linear(prefix + "htoh4", x, prefix + "htoh4", queues, "hidden")
        gname = prefix + "gelu"
        gfmt = self._fmt(gname, "gelu")
        g = Q(gelu_fixed(u.raw, u.frac, gfmt, self.spec, self.counter, gname), gfmt)
        y = self._expert_linear(prefix + "h4toh", g, prefix + "h4toh", queues, "expert_out")
        if self.record is not None:
            for e, start, count in queues.queues:
                tokens = queues.tokens[start : start + count]
                for name, value in (("htoh4", u), ("gelu", g), ("h4toh", y)):
                    self.keep_expert(prefix + name, e, tokens, value.raw[start : start + count])
        gate = Q(gates.raw.reshape(-1).index_select(0, queues.order), gates.fmt)
        return [(queues.tokens, gate, y)]

    def _expert_linear(self, name: str, x: Q, weights: str, queues: ExpertQueues, kind: str) -> Q:
        """One per-expert linear layer over the rows of all queues (rows in queue order)."""
        wq, bq = self.w(weights + ".w"), self.w(weights + ".b")
        frac = x.frac + wq.frac
        b_sh = self._shift_to(bq, frac, f"{name} bias")
        fmt = self._fmt(name, kind)
        w64 = _transposed_f64(wq)
        n, out = x.raw.shape[0], wq.raw.shape[-2]
        rest = bq.bound << b_sh if f64_requant_ok(frac, fmt) else None
        x_max = x.bound
        if rest is not None and x_max * wq.l1 + rest >= F64_REQUANT and n:
            x_max = int(x.raw.abs().max())
        if rest is not None and x_max * wq.l1 + rest < F64_REQUANT:
            # Every partial sum of every expert is an integer below 2**52: accumulate,
            # add the bias and requantise in float64.
            x64, acc = x.as_f64(), torch.empty(n, out, dtype=torch.float64)
            for e, start, count in queues.queues:
                torch.matmul(x64[start : start + count], w64[e], out=acc[start : start + count])
            acc += _aligned_f64(bq, frac).index_select(0, queues.experts)
            raw, raw64 = requant_f64(acc, frac, fmt, self.counter, name)
            return Q(raw, fmt, f64=raw64)
        acc = torch.empty(n, out, dtype=torch.int64)
        for e, start, count in queues.queues:
            rows = slice(start, start + count)
            acc[rows] = exact_matmul(x.raw[rows], wq.raw[e].T, wq.l1, w64[e])
        bias = (bq.raw << b_sh).index_select(0, queues.experts)
        return Q(requant(acc + bias, frac, fmt, self.counter, name), fmt)

    def combine(self, name: str, residual: Q, parts: list) -> Q:
        if not parts:
            return residual
        gfmt, yfmt = parts[0][1].fmt, parts[0][2].fmt
        frac = gfmt.frac_bits + yfmt.frac_bits
        acc = self._align(residual, frac, f"{name} residual").clone()
        for tokens, gates, y in parts:
            acc.index_add_(0, tokens, gates.raw.unsqueeze(-1) * y.raw)
        fmt = self._fmt(name, "resid")
        return self._out(name, Q(requant(acc, frac, fmt, self.counter, name), fmt))

    def split_heads(self, x: Q, b: int, heads: int) -> Q:
        return x.view(lambda r: r.reshape(b, -1, heads, r.shape[-1] // heads).transpose(1, 2))

    def merge_heads(self, x: Q) -> Q:
        b, h, t, d = x.raw.shape
        return x.view(lambda r: r.transpose(1, 2).reshape(b * t, h * d))

    def flatten(self, x: Q) -> Q:
        return x.view(lambda r: r.reshape(-1, r.shape[-1]))

    def unflatten(self, x: Q, b: int) -> Q:
        return x.view(lambda r: r.reshape(b, -1, r.shape[-1]))


# -------------------------------------------------------------------- network
def run_backbone(model, images: torch.Tensor, task_id: int, A: Any, routing: dict) -> Any:
    """The backbone as the hardware executes it, in arithmetic ``A``.

    ``A`` is a :class:`FloatArith` or :class:`FixedArith` (or a subclass that records
    more); ``routing`` receives each MoE block's (B*T, k) expert indices. Returns
    ``A``'s value of the output tokens (B, T, D).
    """
    cfg = model.cfg
    b = images.shape[0]
    p = cfg.patch_size
    patches = images.double().unfold(2, p, p).unfold(3, p, p)  # (B, C, gh, gw, p, p)
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(b, cfg.num_patches, -1)
    x = A.patch_embed("embed", A.input("input", patches))
    x = A.flatten(x)
    feature = None
    if cfg.router == "task":
        with torch.no_grad():
            feature = model.backbone.gate_task_represent(task_id).double()
    for i, blk in enumerate(model.backbone.blocks):
        n = f"blocks.{i}."
        h = A.layernorm(n + "norm1", x, n + "norm1.w", n + "norm1.b")
        q = A.linear(n + "attn.q", h, n + "attn.q.w", n + "attn.q.b", "q")
        k = A.linear(n + "attn.k", h, n + "attn.k.w", n + "attn.k.b", "kv")
        v = A.linear(n + "attn.v", h, n + "attn.v.w", n + "attn.v.b", "kv")
        heads = cfg.num_heads
        a = A.attention(
            n + "attn", *(A.split_heads(A.unflatten(t, b), b, heads) for t in (q, k, v))
        )
        x = A.linear(
            n + "attn.proj",
            A.merge_heads(a),
            n + "attn.proj.w",
            n + "attn.proj.b",
            "resid",
            residual=x,
        )
        h = A.layernorm(n + "norm2", x, n + "norm2.w", n + "norm2.b")
        if not blk.moe:
            u = A.linear(n + "mlp.fc1", h, n + "mlp.fc1.w", n + "mlp.fc1.b", "hidden")
            u = A.gelu(n + "mlp.gelu", u)
            x = A.linear(n + "mlp.fc2", u, n + "mlp.fc2.w", n + "mlp.fc2.b", "resid", residual=x)
            continue
        gate_in = A.concat_feature(h, feature) if feature is not None else h
        gate = n + f"mlp.gate.{task_id if cfg.router == 'multi' else 0}"
        logits = A.linear(n + "mlp.gate", gate_in, gate, None, "gate_logit")
        idx, gates = A.route(n + "mlp.gate_prob", logits, cfg.top_k, cfg.renormalize_gates)
        routing[f"blocks.{i}"] = idx
        queues = ExpertQueues.of(idx, cfg.num_experts)
        parts = A.experts(n + "mlp.experts.", h, gates, queues)
        x = A.combine(n + "mlp.combine", x, parts)
    return A.unflatten(x, b)


def _aligned_f64(b: Q, frac: int) -> torch.Tensor:
    """A bias aligned to ``frac`` fraction bits as float64 (cached per ``frac``)."""
    if frac not in b.aligned:
        b.aligned[frac] = (b.raw << (frac - b.frac)).double()
    return b.aligned[frac]


def _transposed_f64(w: Q) -> torch.Tensor:
    """The weight's raw values transposed as float64 (cached: the matmul's right operand)."""
    if w.t64 is None:
        w.t64 = w.raw.double().transpose(-1, -2).contiguous()
    return w.t64


# ---------------------------------------------------------------------- public
def backbone_forward(
    model,
    images: torch.Tensor,
    task: str | int,
    preset: str | NumericsPreset = "float",
    *,
    record: bool = False,
) -> ForwardResult:
    """Run ``model``'s backbone on ``images`` for ``task`` in a numerics preset.

    ``record`` keeps each layer's output (raw integers for fixed presets, float64
    otherwise). A fixed preset's quantised weights are cached on the model.
    """
    preset = get_preset(_resolve(model, preset))
    task_id = model.cfg.task_index(task)
    if preset.kind == "float":
        with torch.no_grad():
            tokens = model.backbone(images, task_id).double()
        return ForwardResult(tokens=tokens, raw=None, fmt=None)
    if preset.needs_calibration:
        raise ValueError(
            f"numerics preset {preset.name!r} needs calibration first: "
            "pymodel.calibrate(model, images, 'hw16')"
        )
    bank = model_bank(model)
    routing: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        if preset.kind == "approx":
            A = FloatArith(bank, approx=True, eps=model.cfg.ln_eps)
            A.record = {} if record else None
            out = run_backbone(model, images, task_id, A, routing)
            return ForwardResult(
                tokens=out, raw=None, fmt=None, layers=A.record or {}, routing=routing
            )
        counter = OverflowCounter()
        cache = _weight_cache(model, preset)
        A = FixedArith(bank, preset, counter, cache)
        A.record = {} if record else None
        out = run_backbone(model, images, task_id, A, routing)
    return ForwardResult(
        tokens=out.float(),
        raw=out.raw,
        fmt=out.fmt,
        layers=A.record or {},
        overflow=counter.to_dict(),
        routing=routing,
    )


def model_preset(model, preset: str | NumericsPreset) -> NumericsPreset:
    """The preset ``numerics=preset`` runs for ``model`` (its calibrated copy when stored)."""
    return get_preset(_resolve(model, preset))


def fixed_arith(model, preset: NumericsPreset, counter: OverflowCounter | None = None):
    """A :class:`FixedArith` over ``model``'s weights in ``preset``, sharing the forward's
    cache of quantised weights (what an export writes is what the golden forward uses)."""
    return FixedArith(
        model_bank(model), preset, counter or OverflowCounter(), _weight_cache(model, preset)
    )


def model_bank(model) -> dict[str, tuple[torch.Tensor, str]]:
    """:func:`weight_bank` of ``model``, cached on it until its parameters change."""
    key = _param_version(model)
    cached = getattr(model, "_numerics_bank", None)
    if cached is None or cached[0] != key:
        cached = (key, weight_bank(model))
        model._numerics_bank = cached
    return cached[1]


def _weight_cache(model, preset: NumericsPreset) -> dict[str, Q]:
    """Quantised weights of ``model`` in ``preset``, kept per preset until parameters change."""
    caches = model.__dict__.setdefault("_numerics_weights", {})
    key, version = (preset.name, id(preset)), _param_version(model)
    entry = caches.get(key)
    if entry is None or entry[0] != version:
        entry = caches[key] = (version, {})
    return entry[1]


def _param_version(model) -> tuple:
    # Parameters change in training: key caches on their in-place version counters.
    return tuple(p._version for p in model.parameters())


def _resolve(model, preset: str | NumericsPreset) -> str | NumericsPreset:
    if isinstance(preset, str):
        calibrated = getattr(model, "numerics_presets", {}).get(preset)
        if calibrated is not None:
            return calibrated
    return preset


def calibrate(
    model,
    images: torch.Tensor | list[torch.Tensor],
    preset: str = "hw16",
    tasks: list[str | int] | None = None,
    margin: float = 1.25,
) -> NumericsPreset:
    """Choose per-tensor formats from the float forward on calibration images.

    Weights get integer bits from their own range, activations from the
    largest |value| seen over ``images`` and ``tasks`` (default: all) times
    ``margin``. The calibrated preset is stored on the model
    (``model.numerics_presets[name]``) so ``numerics=name`` finds it.
    """
    base = get_preset(preset)
    if base.kind != "fixed":
        raise ValueError(f"only fixed-point presets are calibrated, not {base.name!r}")
    batches = images if isinstance(images, list) else [images]
    bank = model_bank(model)
    ranges: dict[str, float] = {}
    kinds: dict[str, str] = {}
    for name, (t, kind) in bank.items():
        ranges[name] = float(t.abs().max()) if t.numel() else 0.0
        kinds[name] = kind
    for task in tasks if tasks is not None else list(range(model.cfg.num_tasks)):
        for batch in batches:
            A = FloatArith(bank, approx=False, eps=model.cfg.ln_eps, observe=ranges, kinds=kinds)
            with torch.no_grad():
                run_backbone(model, batch, model.cfg.task_index(task), A, {})
    calibrated = align_to_accumulators(model.cfg, formats_from_ranges(ranges, kinds, base, margin))
    model.__dict__.setdefault("numerics_presets", {})[base.name] = calibrated
    return calibrated


def align_to_accumulators(cfg, preset: NumericsPreset) -> NumericsPreset:
    """Give every bias and residual at most the fraction bits of the accumulator it is
    added into (so that it aligns exactly), by moving its binary point left.

    Calibration picks each format from its own range; with 8-bit operands (hw8) an
    accumulator has few fraction bits (x.frac + w.frac) and a small bias would get
    more. The walk follows :func:`run_backbone`'s linear layers in order; a residual stream
    format is capped by every accumulator it enters (projection, fc2 / combine).
    """
    over = dict(preset.overrides)

    def fmt(name: str, kind: str) -> FixedFormat:
        return over.get(name, preset.fmt(name, kind))

    def cap(name: str, kind: str, acc_frac: int) -> None:
        f = fmt(name, kind)
        if f.frac_bits > acc_frac:
            over[name] = FixedFormat(f.width, f.width - acc_frac, f.signed, f.quant, f.overflow)

    acc = fmt("input", "input").frac_bits + fmt("patch.w", "patch_w").frac_bits
    cap("patch.b", "patch_b", acc)
    cap("pos", "pos", acc)
    x_name, x_kind = "embed", "resid"
    for i in range(cfg.depth):
        p = f"blocks.{i}."
        h1 = fmt(p + "norm1", "ln_out").frac_bits
        for n in ("q", "k", "v"):
            cap(p + f"attn.{n}.b", "attn_b", h1 + fmt(p + f"attn.{n}.w", "w").frac_bits)
        acc = fmt(p + "attn.out", "attn").frac_bits + fmt(p + "attn.proj.w", "w").frac_bits
        cap(p + "attn.proj.b", "attn_b", acc)
        cap(x_name, x_kind, acc)
        x_name = p + "attn.proj"
        h2 = fmt(p + "norm2", "ln_out").frac_bits
        if i in cfg.moe_blocks:
            e = p + "mlp.experts."
            cap(e + "htoh4.b", "b", h2 + fmt(e + "htoh4.w", "w").frac_bits)
            cap(
                e + "h4toh.b",
                "b",
                fmt(e + "gelu", "gelu").frac_bits + fmt(e + "h4toh.w", "w").frac_bits,
            )
            acc = (
                fmt(p + "mlp.gate_prob", "gate_prob").frac_bits
                + fmt(e + "h4toh", "expert_out").frac_bits
            )
            cap(x_name, x_kind, acc)
            x_name = p + "mlp.combine"
        else:
            cap(p + "mlp.fc1.b", "b", h2 + fmt(p + "mlp.fc1.w", "w").frac_bits)
            acc = fmt(p + "mlp.gelu", "gelu").frac_bits + fmt(p + "mlp.fc2.w", "w").frac_bits
            cap(p + "mlp.fc2.b", "b", acc)
            cap(x_name, x_kind, acc)
            x_name = p + "mlp.fc2"
    return replace(preset, overrides=over)
