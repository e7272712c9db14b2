"""CPU benchmark: the golden backbone forward in each numerics preset vs float.

Interleaved rounds, median per preset, so the ratios are measured side by
side. The fixed-point presets are exact integer arithmetic (float64 BLAS for
the exact products). Writes build/bench/numerics.json and the
"numerics-bench" section of docs/RESULTS.md.

    python bench/bench_numerics.py [--preset edgemoe-t] [--seconds 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from tqdm import tqdm

from pymodel import backbone_forward, build_model, calibrate
from pymodel.results import REPO, machine, update_section, write_json

TARGET = 4.0  # fixed-point golden forward within 4x of float (issue 3)
PRESETS = ("float", "approx", "edgemoe", "hw16")


def run(model_preset: str, seconds: float, threads: int) -> dict:
    torch.set_num_threads(threads)
    model = build_model(model_preset, seed=0)
    gen = torch.Generator().manual_seed(0)
    calib = torch.randn(2, 3, *model.cfg.img_size, generator=gen)
    x = torch.randn(1, 3, *model.cfg.img_size, generator=gen)
    calibrate(model, calib, "hw16")
    times: dict[str, list[float]] = {p: [] for p in PRESETS}
    for p in PRESETS:  # warm-up: quantises and caches the weights
        backbone_forward(model, x, 0, p)
    start = time.perf_counter()
    bar = tqdm(
        desc=f"{model_preset}, {threads} thread(s)", unit="round", leave=False, file=sys.stderr
    )
    while len(times["float"]) < 3 or (
        time.perf_counter() - start < seconds and len(times["float"]) < 100
    ):
        for p in PRESETS:
            t0 = time.perf_counter()
            backbone_forward(model, x, 0, p)
            times[p].append(time.perf_counter() - t0)
        bar.update()
    bar.close()
    med = {p: statistics.median(v) for p, v in times.items()}
    return {
        "model": model_preset,
        "threads": threads,
        "ms": {p: v * 1e3 for p, v in med.items()},
        "samples": len(times["float"]),
        "ratio_vs_float": {p: med[p] / med["float"] for p in PRESETS},
    }


def render(data: dict) -> str:
    m = data["machine"]
    lines = [
        "## Golden forward: numerics presets vs float",
        "",
        f"Measured by `bench/bench_numerics.py` on {m['cpu']}, torch {m['torch']}, "
        f"{m['date']}: batch-1 backbone forward, random weights (seed 0), median of "
        f"interleaved runs. Target: fixed-point forward within {TARGET:g}x of float.",
        "",
        "| model | threads | float ms | approx ms | edgemoe ms | hw16 ms | edgemoe / float "
        "| hw16 / float | meets target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["results"]:
        ms, ratio = r["ms"], r["ratio_vs_float"]
        worst = max(ratio["edgemoe"], ratio["hw16"])
        lines.append(
            f"| {r['model']} | {r['threads']} | {ms['float']:.1f} | {ms['approx']:.1f} | "
            f"{ms['edgemoe']:.1f} | {ms['hw16']:.1f} | {ratio['edgemoe']:.2f}x | "
            f"{ratio['hw16']:.2f}x | {'yes' if worst <= TARGET else 'no'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="edgemoe-t")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--out", default=str(REPO / "build/bench/numerics.json"))
    p.add_argument("--no-docs", action="store_true")
    args = p.parse_args(argv)
    results = []
    for threads in args.threads:
        r = run(args.preset, args.seconds, threads)
        results.append(r)
        ratio = r["ratio_vs_float"]
        print(
            f"{args.preset}, {threads} thread(s): "
            + ", ".join(f"{k} {r['ms'][k]:.1f} ms ({ratio[k]:.2f}x)" for k in PRESETS)
        )
    data = {"machine": machine(), "target": TARGET, "results": results}
    print(f"wrote {write_json(args.out, data)}")
    if not args.no_docs:
        doc = update_section(REPO / "docs/RESULTS.md", "numerics-bench", render(data), "Results")
        print(f"updated {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
