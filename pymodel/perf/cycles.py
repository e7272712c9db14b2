"""MODELLED cycles of the engine's loop nests (superseded by the full model in this package)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..config import ModelConfig
from ..export.design import Design
from ..export.layout import WEIGHT_W, beats


def cycle_report(
    cfg: ModelConfig,
    design: Design,
    act_w: int,
    routing: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """MODELLED cycles per loop nest of the engine: trip count x initiation interval.

    Mirrors the loops of ``hls/src`` (every pipelined loop at II=1):

    * linear unit, per token block: x rows load (one beat per cycle), the first
      weight tile, then per output tile max(next weight tile load, rows x
      (K/TI MAC iterations + TO epilogue iterations + residual/output beats))
      -- the ping-pong weight buffer overlaps load and compute;
    * attention, per head and group of QR query rows: pass 1 and pass 2 each
      T keys x (head_dim/ATT_LANES MAC iterations + 1 score/probability step),
      K/V block loads overlapped, plus the q load and output write;
    * LayerNorm: per row a read, the statistics pass, the output pass, a write;
    * router: per token top-k scan, softmax update and output over E experts;
    * combine: per token the residual and k expert rows read, D MACs each, a write.

    Not modelled: DDR latency and bandwidth stalls, pipeline fill, control.
    MoE queues come from ``routing`` (block -> (T, k) expert ids of a golden
    run) when given, else a balanced T*k/E tokens for every expert.
    """
    apw, wpw = 128 // act_w, 128 // WEIGHT_W
    t_tok, d, hd = cfg.num_tokens, cfg.dim, cfg.head_dim
    rows: list[dict[str, Any]] = []

    def add(layer: str, loop: str, trips: int, ii: int = 1) -> None:
        rows.append(
            {"layer": layer, "loop": loop, "trips": int(trips), "ii": ii, "cycles": int(trips * ii)}
        )

    def linear(layer: str, n_rows: int, k: int, n: int, residual: bool = False) -> None:
        tb, tiles = design.token_block, beats(n, design.mac_out)
        tile_load = min(design.mac_out, n) * beats(k, wpw)
        per_row = (
            beats(k, design.mac_in) + design.mac_out + beats(design.mac_out, apw) * (1 + residual)
        )
        x_load = tile_cycles = 0
        for b in range(beats(n_rows, tb)):
            nb = min(tb, n_rows - b * tb)
            x_load += nb * beats(k, apw)
            tile_cycles += tile_load + tiles * max(tile_load, nb * per_row)
        add(layer, "linear: x block load (beats)", x_load)
        add(
            layer,
            f"linear: {design.mac_in}x{design.mac_out} MAC tiles, weight load overlapped",
            tile_cycles,
        )

    def layernorm(layer: str) -> None:
        add(
            layer,
            "LayerNorm: read, statistics, output, write",
            t_tok * (2 * d + 2 * beats(d, apw)),
        )

    pin = cfg.in_chans * cfg.patch_size**2
    linear("embed", cfg.num_patches, pin, d, residual=True)
    groups = beats(t_tok, design.query_block)
    per_pass = t_tok * (beats(hd, design.mac_in) + 1)
    for i in range(cfg.depth):
        p = f"blocks.{i}."
        layernorm(p + "norm1")
        for n in ("q", "k", "v"):
            linear(p + f"attn.{n}", t_tok, d, d)
        add(
            p + "attn",
            "attention pass 1: scores + online softmax",
            cfg.num_heads * groups * per_pass,
        )
        add(p + "attn", "attention pass 2: probabilities x V", cfg.num_heads * groups * per_pass)
        add(
            p + "attn",
            "attention: q load and output write (beats)",
            cfg.num_heads * 2 * t_tok * beats(hd, apw),
        )
        linear(p + "attn.proj", t_tok, d, d, residual=True)
        layernorm(p + "norm2")
        if i in cfg.moe_blocks:
            linear(p + "mlp.gate", t_tok, cfg.gate_in_dim, cfg.num_experts)
            add(
                p + "mlp.route",
                "router: top-k, softmax update, outputs",
                3 * t_tok * cfg.num_experts,
            )
            key = f"blocks.{i}"
            if routing is not None and key in routing:
                flat = np.asarray(routing[key]).reshape(-1)
                counts = np.bincount(flat, minlength=cfg.num_experts)
            else:
                counts = np.full(cfg.num_experts, beats(t_tok * cfg.top_k, cfg.num_experts))
            for e, c in enumerate(counts.tolist()):
                if c:
                    linear(p + f"mlp.expert{e}.htoh4", c, d, cfg.expert_hidden)
                    linear(p + f"mlp.expert{e}.h4toh", c, cfg.expert_hidden, d)
            per_tok = (cfg.top_k + 2) * beats(d, apw) + (cfg.top_k + 2) * d
            add(p + "mlp.combine", "combine: residual + k gated expert rows", t_tok * per_tok)
        else:
            linear(p + "mlp.fc1", t_tok, d, cfg.mlp_hidden)
            linear(p + "mlp.fc2", t_tok, cfg.mlp_hidden, d, residual=True)
    total = sum(r["cycles"] for r in rows)
    per_layer: dict[str, int] = {}
    for r in rows:
        per_layer[r["layer"]] = per_layer.get(r["layer"], 0) + r["cycles"]
    return {
        "label": "MODELLED cycles (trip count x II of the HLS loop nests; not synthesis or "
        "measured results; DDR latency, stalls and pipeline fill not included)",
        "preset": cfg.name,
        "act_w": act_w,
        "design": design.to_dict(),
        "routing": "golden image" if routing is not None else "balanced assumption",
        "total_cycles": total,
        "modelled_ms": total / (design.clock_mhz * 1e3),
        "per_layer": per_layer,
        "loops": rows,
    }


def report_markdown(report: Mapping[str, Any]) -> str:
    """report.json rendered as tables: cycles per loop kind, then per layer."""
    by_loop: dict[str, list[int]] = {}
    for r in report["loops"]:
        acc = by_loop.setdefault(r["loop"], [0, 0])
        acc[0] += r["trips"]
        acc[1] += r["cycles"]
    total = max(1, report["total_cycles"])
    lines = [
        f"# Modelled cycles: {report['preset']} (act {report['act_w']}-bit)",
        "",
        f"**{report['label']}**",
        "",
        f"Total: {report['total_cycles']:,} cycles = {report['modelled_ms']:.2f} ms at "
        f"{report['design']['clock_mhz']:.0f} MHz (MoE routing: {report['routing']}).",
        "",
        "| loop nest (all layers) | trips x II | modelled cycles | share |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {k} | {t:,} | {c:,} | {100 * c / total:.1f}% |"
        for k, (t, c) in sorted(by_loop.items(), key=lambda kv: -kv[1][1])
    ]
    lines += ["", "| layer | modelled cycles |", "|---|---:|"]
    lines += [f"| {k} | {v:,} |" for k, v in report["per_layer"].items()]
    return "\n".join(lines) + "\n"
