"""CPU benchmark: batch-1 backbone forward, MoE in both orders vs a dense ViT of equal MACs.

The dense twin and expert-major MoE of a preset are timed side by side
(interleaved rounds, at least --min-rounds of them and until the time budget is
spent), so their ratio is measured under the same conditions; the median and
the interquartile range of each are reported. The slow token-major reference
is sampled afterwards, outside the budget (--token-rounds samples). Writes
build/bench/forward.json and the "forward-bench" section of docs/RESULTS.md.

    python bench/bench_forward.py [--presets tiny edgemoe-t ...] [--seconds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

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


def sample(
    variants: dict[str, Callable[[], object]],
    seconds: float,
    min_rounds: int,
    max_rounds: int = 200,
    clock: Callable[[], float] = time.perf_counter,
    desc: str = "",
) -> dict[str, list[float]]:
    """Seconds per call of each variant, interleaved round by round: at least
    ``min_rounds`` rounds, then more while the ``seconds`` budget lasts."""
    times: dict[str, list[float]] = {k: [] for k in variants}
    start = clock()
    bar = tqdm(desc=desc, unit="round", leave=False, file=sys.stderr, disable=not desc)
    rounds = 0
    while rounds < min_rounds or (clock() - start < seconds and rounds < max_rounds):
        for k, f in variants.items():
            t0 = clock()
            f()
            times[k].append(clock() - t0)
        rounds += 1
        bar.update()
    bar.close()
    return times


def spread(values: list[float]) -> dict[str, float]:
    """Median, quartiles and extremes of a sample, in milliseconds."""
    q1, med, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return {
        "median": statistics.median(values) * 1e3,
        "q1": q1 * 1e3,
        "q3": q3 * 1e3,
        "min": min(values) * 1e3,
        "max": max(values) * 1e3,
        "n": len(values),
    }


def bench_preset(name: str, seconds: float, min_rounds: int, token_rounds: int) -> dict:
    model = build_model(name, seed=0)
    dense = dense_twin(model)
    x = torch.randn(1, 3, *model.cfg.img_size, generator=torch.Generator().manual_seed(0))
    compared = {
        "dense": lambda: dense.backbone(x, 0),
        "moe_expert_major": lambda: model.set_moe_path("expert").backbone(x, 0),
    }
    token = {"moe_token_major": lambda: model.set_moe_path("token").backbone(x, 0)}
    with torch.inference_mode():
        for f in (*compared.values(), *token.values()):  # warm-up
            f()
        times = sample(compared, seconds, min_rounds, desc=name)
        # The slow reference order: a few samples, outside the budget of the compared pair.
        times.update(sample(token, 0.0, token_rounds, desc=f"{name} token-major"))
    stats = {k: spread(v) for k, v in times.items()}
    med = {k: s["median"] for k, s in stats.items()}
    # The compared pair ran back to back in each round: the median of per-round ratios
    # is robust to load that drifts between rounds.
    per_round = [e / d for e, d in zip(times["moe_expert_major"], times["dense"])]
    q1, _, q3 = statistics.quantiles(per_round, n=4) if len(per_round) > 1 else per_round * 3
    return {
        "preset": name,
        "tokens": model.cfg.num_tokens,
        "macs_moe": backbone_macs(model.cfg)["total"],
        "macs_dense": backbone_macs(dense.cfg)["total"],
        "ms": med,
        "spread_ms": stats,
        "samples": {k: len(v) for k, v in times.items()},
        "ratio_expert_major_vs_dense": statistics.median(per_round),
        "ratio_expert_major_vs_dense_iqr": [q1, q3],
        "ratio_token_major_vs_dense": med["moe_token_major"] / med["dense"],
        "ratio_token_vs_expert_major": med["moe_token_major"] / med["moe_expert_major"],
    }


def _cell(s: dict) -> str:
    return f"{s['median']:.1f} ({s['q1']:.1f}–{s['q3']:.1f})"


def render(data: dict) -> str:
    m = data["machine"]
    lines = [
        "## CPU forward: MoE execution orders vs a dense ViT of equal MACs",
        "",
        f"Measured by `bench/bench_forward.py` on {m['cpu']}, {m['threads']} threads, "
        f"torch {m['torch']}, {m['date']} (1-min load average "
        f"{data['load']['load_average_1min']:.1f} on {data['load']['cpus']} CPUs at the end): "
        "batch 1, backbone only, random weights. Dense and "
        "expert-major are timed in interleaved rounds (samples per preset in the last "
        "column); token-major is sampled after them. Times are medians in ms with the "
        "interquartile range in parentheses; expert-major / dense is the median of the "
        "per-round ratios (IQR in parentheses). The dense twin has every MLP dense with hidden "
        "= top-k x expert hidden, so its MACs equal the MoE model's less the router and the "
        f"gate-weighted combination. Target: expert-major within {TARGET}x of dense.",
        "",
        "| preset | tokens | GMAC MoE / dense | dense ms | expert-major ms | token-major ms "
        "| expert-major / dense | token-major / dense | meets target | samples |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["results"]:
        sp, n, iqr = r["spread_ms"], r["samples"], r["ratio_expert_major_vs_dense_iqr"]
        ok = "yes" if r["ratio_expert_major_vs_dense"] <= TARGET else "no"
        lines.append(
            f"| {r['preset']} | {r['tokens']} | {r['macs_moe'] / 1e9:.3f} / "
            f"{r['macs_dense'] / 1e9:.3f} | {_cell(sp['dense'])} | "
            f"{_cell(sp['moe_expert_major'])} | {_cell(sp['moe_token_major'])} | "
            f"{r['ratio_expert_major_vs_dense']:.2f}x ({iqr[0]:.2f}–{iqr[1]:.2f}) | "
            f"{r['ratio_token_major_vs_dense']:.2f}x | {ok} | "
            f"{n['dense']} / {n['moe_token_major']} |"
        )
    lines += [
        "",
        "Samples: dense and expert-major each / token-major. Token-major is the reference "
        "order (each token fetches its k experts' weights); it is slow on a CPU for the same "
        "reason it is slow on the FPGA without reordering.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=DEFAULT_PRESETS)
    p.add_argument(
        "--seconds", type=float, default=15.0, help="time budget per preset (dense + expert-major)"
    )
    p.add_argument("--min-rounds", type=int, default=15, help="interleaved rounds, at least")
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
        r = bench_preset(name, args.seconds, args.min_rounds, args.token_rounds)
        results.append(r)
        sp = r["spread_ms"]
        print(
            f"{name:>15}: dense {_cell(sp['dense'])} ms | expert-major "
            f"{_cell(sp['moe_expert_major'])} ms ({r['ratio_expert_major_vs_dense']:.2f}x) | "
            f"token-major {_cell(sp['moe_token_major'])} ms "
            f"({r['ratio_token_major_vs_dense']:.2f}x) | {r['samples']['dense']} rounds"
        )
    # Other processes on the machine distort wall-clock times: record how busy it was.
    load = {"load_average_1min": os.getloadavg()[0], "cpus": os.cpu_count()}
    data = {"machine": machine(), "load": load, "target": TARGET, "results": results}
    out = write_json(args.out, data)
    print(f"wrote {out}")
    if not args.no_docs:
        doc = update_section(REPO / "docs/RESULTS.md", "forward-bench", render(data), "Results")
        print(f"updated {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
