"""CPU benchmark: batch-1 backbone forward, MoE in both orders vs a dense ViT of equal MACs.

All variants of a preset are timed side by side in one run (interleaved
rounds, median per variant), so the ratios are measured under the same
conditions. Writes build/bench/forward.json and the "forward-bench" section
of docs/RESULTS.md.

    python bench/bench_forward.py [--presets tiny edgemoe-t ...] [--seconds 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from tqdm import tqdm

from pymodel import build_model
from pymodel.info import backbone_macs
from pymodel.results import REPO, machine, update_section, write_json

DEFAULT_PRESETS = ["tiny", "edgemoe-t", "m3vit-s-pascal", "m3vit-s-nyud"]
TARGET = 1.3  # expert-major MoE within 1.3x of the dense model of equal MACs


def dense_twin(model):
    """The same ViT with every MLP dense, hidden = top_k * expert_hidden (equal MACs)."""
    cfg = model.cfg
    hidden = cfg.top_k * cfg.expert_hidden
    if hidden != cfg.mlp_hidden:
        raise SystemExit(
            f"{cfg.name}: top_k*expert_hidden={hidden} differs from the dense "
            f"MLP hidden {cfg.mlp_hidden}; no single dense twin has equal MACs"
        )
    return build_model(cfg, seed=0, moe_blocks=())


def bench_preset(name: str, seconds: float, token_rounds: int) -> dict:
    model = build_model(name, seed=0)
    dense = dense_twin(model)
    x = torch.randn(1, 3, *model.cfg.img_size, generator=torch.Generator().manual_seed(0))
    variants = {
        "dense": lambda: dense.backbone(x, 0),
        "moe_expert_major": lambda: model.set_moe_path("expert").backbone(x, 0),
        "moe_token_major": lambda: model.set_moe_path("token").backbone(x, 0),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    with torch.inference_mode():
        for f in variants.values():  # warm-up
            f()
        start = time.perf_counter()
        rounds = 0
        bar = tqdm(desc=name, unit="round", leave=False, file=sys.stderr)
        while rounds < 3 or (time.perf_counter() - start < seconds and rounds < 200):
            for k, f in variants.items():
                if k == "moe_token_major" and len(times[k]) >= token_rounds:
                    continue  # the slow reference needs few samples
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
            rounds += 1
            bar.update()
        bar.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "preset": name,
        "tokens": model.cfg.num_tokens,
        "macs_moe": backbone_macs(model.cfg)["total"],
        "macs_dense": backbone_macs(dense.cfg)["total"],
        "ms": {k: v * 1e3 for k, v in med.items()},
        "samples": {k: len(v) for k, v in times.items()},
        "ratio_expert_major_vs_dense": med["moe_expert_major"] / med["dense"],
        "ratio_token_major_vs_dense": med["moe_token_major"] / med["dense"],
        "ratio_token_vs_expert_major": med["moe_token_major"] / med["moe_expert_major"],
    }


def render(data: dict) -> str:
    m = data["machine"]
    lines = [
        "## CPU forward: MoE execution orders vs a dense ViT of equal MACs",
        "",
        f"Measured by `bench/bench_forward.py` on {m['cpu']}, {m['threads']} threads, "
        f"torch {m['torch']}, {m['date']}: batch 1, backbone only, random weights, median "
        "of interleaved runs. The dense twin has every MLP dense with hidden = top-k x "
        "expert hidden, so its MACs equal the MoE model's less the router and the "
        f"gate-weighted combination. Target: expert-major within {TARGET}x of dense.",
        "",
        "| preset | tokens | GMAC MoE / dense | dense ms | expert-major ms | token-major ms "
        "| expert-major / dense | token-major / dense | meets target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["results"]:
        ms = r["ms"]
        ok = "yes" if r["ratio_expert_major_vs_dense"] <= TARGET else "no"
        lines.append(
            f"| {r['preset']} | {r['tokens']} | {r['macs_moe'] / 1e9:.3f} / "
            f"{r['macs_dense'] / 1e9:.3f} | {ms['dense']:.1f} | {ms['moe_expert_major']:.1f} | "
            f"{ms['moe_token_major']:.1f} | {r['ratio_expert_major_vs_dense']:.2f}x | "
            f"{r['ratio_token_major_vs_dense']:.2f}x | {ok} |"
        )
    lines += [
        "",
        "Token-major is the reference order (each token fetches its k experts' weights); "
        "it is slow on a CPU for the same reason it is slow on the FPGA without reordering.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=DEFAULT_PRESETS)
    p.add_argument("--seconds", type=float, default=15.0, help="time budget per preset")
    p.add_argument(
        "--token-rounds", type=int, default=3, help="samples of the slow token-major order"
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--out", default=str(REPO / "build/bench/forward.json"))
    p.add_argument("--no-docs", action="store_true", help="do not rewrite docs/RESULTS.md")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    for name in args.presets:
        r = bench_preset(name, args.seconds, args.token_rounds)
        results.append(r)
        print(
            f"{name:>15}: dense {r['ms']['dense']:8.1f} ms | expert-major "
            f"{r['ms']['moe_expert_major']:8.1f} ms ({r['ratio_expert_major_vs_dense']:.2f}x) | "
            f"token-major {r['ms']['moe_token_major']:9.1f} ms "
            f"({r['ratio_token_major_vs_dense']:.2f}x)"
        )
    data = {"machine": machine(), "target": TARGET, "results": results}
    out = write_json(args.out, data)
    print(f"wrote {out}")
    if not args.no_docs:
        doc = update_section(REPO / "docs/RESULTS.md", "forward-bench", render(data), "Results")
        print(f"updated {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
