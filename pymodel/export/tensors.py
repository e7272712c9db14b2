"""Every tensor of a transformer block the engine touches: one declarative row each.

This table is the one place that names them. It drives

* the block descriptor's words (``fmt_<key>`` for every row, ``off_<key>`` for
  rows stored in the params image) -- :func:`pymodel.export.descriptor.block_fields`;
* the format table (golden tensor name -> numerics kind) --
  :func:`pymodel.export.checks.format_table`;
* the params layout (shape and storage word of each stored tensor) --
  :func:`pymodel.export.layout.plan_layout`.

Per-task tensors (router weights ``mlp.gate.<t>``, task features) have one
descriptor slot per task up to the synthesis maximum and are listed in
:data:`PER_TASK`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ModelConfig


@dataclass(frozen=True)
class BlockTensor:
    """One tensor of block ``i``, named ``blocks.<i>.<name>`` in the golden forward."""

    key: str  # descriptor field suffix (fmt_<key>, off_<key>)
    name: str  # golden tensor name below ``blocks.<i>.``
    kind: str  # numerics kind (pymodel.numerics.presets.KINDS / WEIGHT_KINDS)
    where: str = "all"  # "all" blocks, "dense" blocks or "moe" blocks
    rows: str = ""  # stored in params: rows (a ModelConfig dimension, "1" for a vector) ...
    cols: str = ""  # ... and columns; empty: an activation format only, nothing stored
    per_expert: bool = False  # one (rows, cols) matrix per expert

    @property
    def stored(self) -> bool:
        return bool(self.cols)

    @property
    def weight(self) -> bool:
        """Held in 16-bit weight words (every stored block tensor is)."""
        return self.stored

    def applies(self, moe: bool) -> bool:
        return self.where == "all" or (self.where == "moe") == moe

    def shape(self, cfg: ModelConfig) -> tuple[int, int]:
        """(rows, cols) of the stored matrix (rows include the experts)."""
        dims = _dims(cfg)
        rows = dims[self.rows] * (cfg.num_experts if self.per_expert else 1)
        return rows, dims[self.cols]


def _dims(cfg: ModelConfig) -> dict[str, int]:
    return {
        "1": 1,
        "dim": cfg.dim,
        "mlp_hidden": cfg.mlp_hidden,
        "expert_hidden": cfg.expert_hidden,
        "experts": cfg.num_experts,
        "gate_in": cfg.gate_in_dim,
        "task_embed": cfg.task_embed_dim,
    }


def _w(
    key: str, name: str, kind: str, rows: str, cols: str, where: str = "all", **kw
) -> BlockTensor:
    return BlockTensor(key, name, kind, where, rows, cols, **kw)


def _a(key: str, name: str, kind: str, where: str = "all") -> BlockTensor:
    return BlockTensor(key, name, kind, where)


#: In dataflow order. Stored rows are laid out in this order in the params image.
BLOCK_TENSORS: tuple[BlockTensor, ...] = (
    _w("norm1_w", "norm1.w", "norm_w", "1", "dim"),
    _w("norm1_b", "norm1.b", "norm_b", "1", "dim"),
    _a("norm1_z", "norm1.z", "ln_norm"),
    _a("norm1", "norm1", "ln_out"),
    _w("q_w", "attn.q.w", "w", "dim", "dim"),
    _w("q_b", "attn.q.b", "attn_b", "1", "dim"),
    _a("q", "attn.q", "q"),
    _w("k_w", "attn.k.w", "w", "dim", "dim"),
    _w("k_b", "attn.k.b", "attn_b", "1", "dim"),
    _a("k", "attn.k", "kv"),
    _w("v_w", "attn.v.w", "w", "dim", "dim"),
    _w("v_b", "attn.v.b", "attn_b", "1", "dim"),
    _a("v", "attn.v", "kv"),
    _a("score", "attn.score", "score"),
    _a("prob", "attn.prob", "prob"),
    _a("attn", "attn.out", "attn"),
    _w("proj_w", "attn.proj.w", "w", "dim", "dim"),
    _w("proj_b", "attn.proj.b", "attn_b", "1", "dim"),
    _a("proj", "attn.proj", "resid"),
    _w("norm2_w", "norm2.w", "norm_w", "1", "dim"),
    _w("norm2_b", "norm2.b", "norm_b", "1", "dim"),
    _a("norm2_z", "norm2.z", "ln_norm"),
    _a("norm2", "norm2", "ln_out"),
    _w("fc1_w", "mlp.fc1.w", "w", "mlp_hidden", "dim", "dense"),
    _w("fc1_b", "mlp.fc1.b", "b", "1", "mlp_hidden", "dense"),
    _a("fc1", "mlp.fc1", "hidden", "dense"),
    _a("gelu", "mlp.gelu", "gelu", "dense"),
    _w("fc2_w", "mlp.fc2.w", "w", "dim", "mlp_hidden", "dense"),
    _w("fc2_b", "mlp.fc2.b", "b", "1", "dim", "dense"),
    _a("fc2", "mlp.fc2", "resid", "dense"),
    _a("gate", "mlp.gate", "gate_logit", "moe"),
    _a("gate_prob", "mlp.gate_prob", "gate_prob", "moe"),
    _w("htoh4_w", "mlp.experts.htoh4.w", "w", "expert_hidden", "dim", "moe", per_expert=True),
    _w("htoh4_b", "mlp.experts.htoh4.b", "b", "1", "expert_hidden", "moe", per_expert=True),
    _a("htoh4", "mlp.experts.htoh4", "hidden", "moe"),
    _a("egelu", "mlp.experts.gelu", "gelu", "moe"),
    _w("h4toh_w", "mlp.experts.h4toh.w", "w", "dim", "expert_hidden", "moe", per_expert=True),
    _w("h4toh_b", "mlp.experts.h4toh.b", "b", "1", "dim", "moe", per_expert=True),
    _a("h4toh", "mlp.experts.h4toh", "expert_out", "moe"),
    _a("combine", "mlp.combine", "resid", "moe"),
)

BY_KEY = {t.key: t for t in BLOCK_TENSORS}

#: Per-task descriptor slots: (field prefix, what it holds).
PER_TASK: tuple[tuple[str, str], ...] = (
    ("fmt_gate_w", "format of the router weights mlp.gate.<t> (router 'multi': one per task)"),
    ("off_gate_w", "offset of the router weights mlp.gate.<t>, (experts, gate_in)"),
    ("off_feature", "offset of the task feature of router 'task', (1, task_embed) act words"),
)


def output_key(moe: bool) -> str:
    """Descriptor key of the residual stream leaving a block."""
    return "combine" if moe else "fc2"
