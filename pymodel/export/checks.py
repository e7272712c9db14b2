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


def check_formats(cfg: ModelConfig, fmts: Mapping[str, FixedFormat], act_w: int) -> None:
    """Refuse formats the datapath cannot store or add exactly (forward.py's NumericsErrors)."""
    weights = weight_names(cfg)
    probs = {n for n in fmts if n.endswith(("attn.prob", "mlp.gate_prob"))}
    for name, fmt in fmts.items():
        limit = WEIGHT_W if name in weights else act_w
        if fmt.width > limit:
            raise HlsExportError(f"{name}: {fmt} is wider than its {limit}-bit storage word")
        if not fmt.signed and name not in probs:
            raise HlsExportError(f"{name}: {fmt} is unsigned; only probabilities may be")
        if name in probs and not fmt.signed and fmt.width > 31:
            raise HlsExportError(f"{name}: unsigned {fmt} needs more than 32 bits on chip")

    def align(what: str, small: FixedFormat, acc_frac: int) -> None:
        if small.frac_bits > acc_frac:
            raise HlsExportError(
                f"{what} in {small} has more fraction bits than the accumulator ({acc_frac})"
            )

    acc = fmts["input"].frac_bits + fmts["patch.w"].frac_bits
    align("patch bias", fmts["patch.b"], acc)
    align("position embedding", fmts["pos"], acc)
    x = fmts["embed"]
    for i in range(cfg.depth):
        p = f"blocks.{i}."

        def fr(name: str, p: str = p) -> int:
            return fmts[p + name].frac_bits

        for ln in ("norm1", "norm2"):
            if fr(ln + ".b") > fr(ln + ".z") + fr(ln + ".w"):
                raise HlsExportError(f"{p}{ln}: beta has more fraction bits than z * gamma")
        for n in ("q", "k", "v"):
            align(f"{p}attn.{n} bias", fmts[p + f"attn.{n}.b"], fr("norm1") + fr(f"attn.{n}.w"))
        acc = fr("attn.out") + fr("attn.proj.w")
        align(f"{p}attn.proj bias", fmts[p + "attn.proj.b"], acc)
        align(f"{p}attn.proj residual", x, acc)
        x = fmts[p + "attn.proj"]
        if i in cfg.moe_blocks:
            e = "mlp.experts."
            align(f"{p}htoh4 bias", fmts[p + e + "htoh4.b"], fr("norm2") + fr(e + "htoh4.w"))
            align(f"{p}h4toh bias", fmts[p + e + "h4toh.b"], fr(e + "gelu") + fr(e + "h4toh.w"))
            align(f"{p}mlp.combine residual", x, fr("mlp.gate_prob") + fr(e + "h4toh"))
        else:
            align(f"{p}mlp.fc1 bias", fmts[p + "mlp.fc1.b"], fr("norm2") + fr("mlp.fc1.w"))
            acc = fr("mlp.gelu") + fr("mlp.fc2.w")
            align(f"{p}mlp.fc2 bias", fmts[p + "mlp.fc2.b"], acc)
            align(f"{p}mlp.fc2 residual", x, acc)
        x = fmts[p + "mlp." + output_key(i in cfg.moe_blocks)]
