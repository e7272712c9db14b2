"""What the datapath can hold: the format of every tensor and the refusals of an export."""

from __future__ import annotations

from collections.abc import Mapping

from ..config import ModelConfig
from ..numerics.fixed import FixedFormat
from ..numerics.presets import WEIGHT_KINDS, NumericsPreset
from .descriptor import HlsExportError
from .layout import WEIGHT_W
from .tensors import BLOCK_TENSORS, output_key

#: Global (non-block) tensors: golden name -> numerics kind.
GLOBAL_TENSORS: dict[str, str] = {
    "input": "input",
    "patch.w": "patch_w",
    "patch.b": "patch_b",
    "pos": "pos",
    "cls": "pos",
    "embed": "resid",
}
#: Global tensors held in activation words (embedding vectors added to activations).
ACT_WORD_TENSORS = ("cls", "pos")


def gate_name(block: int, task: int) -> str:
    return f"blocks.{block}.mlp.gate.{task}"


def n_gates(cfg: ModelConfig) -> int:
    """Router weight matrices per MoE block (one per task for router 'multi')."""
    return cfg.num_tasks if cfg.router == "multi" else 1


def format_table(cfg: ModelConfig, preset: NumericsPreset) -> dict[str, FixedFormat]:
    """Format of every tensor the engine touches, by the golden forward's tensor names."""
    f = {name: preset.fmt(name, kind) for name, kind in GLOBAL_TENSORS.items()}
    for i in range(cfg.depth):
        p, moe = f"blocks.{i}.", i in cfg.moe_blocks
        for t in BLOCK_TENSORS:
            if t.applies(moe):
                f[p + t.name] = preset.fmt(p + t.name, t.kind)
        if moe:
            for task in range(n_gates(cfg)):
                f[gate_name(i, task)] = preset.fmt(gate_name(i, task), "gate_w")
    return f


def weight_names(cfg: ModelConfig) -> set[str]:
    """Tensors stored in 16-bit weight words."""
    names = {
        n for n, k in GLOBAL_TENSORS.items() if k in WEIGHT_KINDS and n not in ACT_WORD_TENSORS
    }
    for i in range(cfg.depth):
        moe = i in cfg.moe_blocks
        names |= {f"blocks.{i}.{t.name}" for t in BLOCK_TENSORS if t.weight and t.applies(moe)}
        if moe:
            names |= {gate_name(i, t) for t in range(n_gates(cfg))}
    return names


def act_width(cfg: ModelConfig, preset: NumericsPreset) -> int:
    """Activation word width of a fixed-point preset: 16 or 32 bits."""
    weights = weight_names(cfg)
    w = max(fmt.width for name, fmt in format_table(cfg, preset).items() if name not in weights)
    if w > 32:
        raise HlsExportError(f"numerics {preset.name!r}: activations of {w} bits exceed 32")
    return 16 if w <= 16 else 32


def acc_width(act_w: int) -> int:
    """Bits of the MAC array's exact accumulator (``ACC_W`` in edgemoe_types.h)."""
    return 2 * act_w + 16


def check_formats(cfg: ModelConfig, fmts: Mapping[str, FixedFormat], act_w: int) -> None:
    """Refuse formats the datapath cannot store or add exactly (as the kernel's check_block).

    Every bias or residual is shifted left into the linear unit's exact
    accumulator; the shifted term must stay below 2^(ACC_W - 3) so that no sum
    can overflow it.
    """
    weights = weight_names(cfg)
    probs = {n for n in fmts if n.endswith(("attn.prob", "mlp.gate_prob"))}
    for name, fmt in fmts.items():
        limit = WEIGHT_W if name in weights else act_w
        if fmt.width > limit:
            raise HlsExportError(f"{name}: {fmt} is wider than its {limit}-bit storage word")
        if not fmt.signed and name not in probs:
            raise HlsExportError(f"{name}: {fmt} is unsigned; only probabilities may be")
    room = acc_width(act_w) - 3

    def align(what: str, small: FixedFormat, acc_frac: int, bits: int) -> None:
        shift = acc_frac - small.frac_bits
        if shift < 0:
            raise HlsExportError(
                f"{what} in {small} has more fraction bits than the accumulator ({acc_frac})"
            )
        if shift + bits > room:
            raise HlsExportError(
                f"{what} in {small} shifted by {shift} bits overflows the "
                f"{acc_width(act_w)}-bit accumulator"
            )

    acc = fmts["input"].frac_bits + fmts["patch.w"].frac_bits
    align("patch bias", fmts["patch.b"], acc, WEIGHT_W)
    align("position embedding", fmts["pos"], acc, act_w)
    x = fmts["embed"]
    for i in range(cfg.depth):
        p = f"blocks.{i}."

        def fr(name: str, p: str = p) -> int:
            return fmts[p + name].frac_bits

        def linear(
            layer: str, x_frac: int, residual: FixedFormat | None = None, p: str = p
        ) -> None:
            acc = x_frac + fr(layer + ".w")
            align(f"{p}{layer} bias", fmts[p + layer + ".b"], acc, WEIGHT_W)
            if residual is not None:
                align(f"{p}{layer} residual", residual, acc, act_w)

        for ln in ("norm1", "norm2"):
            if fr(ln + ".b") > fr(ln + ".z") + fr(ln + ".w"):
                raise HlsExportError(f"{p}{ln}: beta has more fraction bits than z * gamma")
        for n in ("q", "k", "v"):
            linear(f"attn.{n}", fr("norm1"))
        linear("attn.proj", fr("attn.out"), x)
        x = fmts[p + "attn.proj"]
        if i in cfg.moe_blocks:
            e = "mlp.experts."
            linear(e + "htoh4", fr("norm2"))
            linear(e + "h4toh", fr(e + "gelu"))
            gp, yo = fmts[p + "mlp.gate_prob"], fmts[p + e + "h4toh"]
            align(f"{p}mlp.combine residual", x, gp.frac_bits + yo.frac_bits, act_w)
            if gp.width + yo.width + 4 > room:
                raise HlsExportError(f"{p}mlp.combine: gate x expert output overflows")
        else:
            linear("mlp.fc1", fr("norm2"))
            linear("mlp.fc2", fr("mlp.gelu"), x)
        x = fmts[p + "mlp." + output_key(i in cfg.moe_blocks)]
