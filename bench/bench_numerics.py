"""CPU benchmark: the golden backbone forward in each numerics preset vs float.

Interleaved rounds (every preset once per round), so the ratios are measured
side by side: each round's time over that round's float time, median over the
rounds with the interquartile range (robust to load that drifts between
rounds). The fixed-point presets are exact integer arithmetic (float64 BLAS for
the exact products). Writes build/bench/numerics.json and the
"numerics-bench" section of docs/RESULTS.md.

    python bench/bench_numerics.py [--preset edgemoe-t] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
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
    while len(times["float"]) < 15 or (
        time.perf_counter() - start < seconds and len(times["float"]) < 100
    ):
        for p in PRESETS:
            t0 = time.perf_counter()
            backbone_forward(model, x, 0, p)
            times[p].append(time.perf_counter() - t0)
        bar.update()
    bar.close()
    med = {p: statistics.median(v) for p, v in times.items()}
    ratios = {p: [t / f for t, f in zip(times[p], times["float"])] for p in PRESETS}
    return {
        "model": model_preset,
        "threads": threads,
        "ms": {p: v * 1e3 for p, v in med.items()},
        "samples": len(times["float"]),
        "ratio_vs_float": {p: statistics.median(r) for p, r in ratios.items()},
        "ratio_iqr": {p: _quartiles(r) for p, r in ratios.items()},
    }


def _quartiles(values: list[float]) -> list[float]:
    """First and third quartile (both the value itself for a single sample)."""
    if len(values) < 2:
        return [values[0], values[0]]
    q1, _, q3 = statistics.quantiles(values, n=4)
    return [q1, q3]


def render(data: dict) -> str:
    m = data["machine"]
    lines = [
        "## Golden forward: numerics presets vs float",
        "",
        f"Measured by `bench/bench_numerics.py` on {m['cpu']}, torch {m['torch']}, "
        f"{m['date']} (1-min load average {data['load']['load_average_1min']:.1f} on "
        f"{data['load']['cpus']} CPUs at the end): batch-1 backbone forward, random weights "
        "(seed 0), interleaved "
        "rounds; times are medians, ratios the median of each round's time over that "
        "round's float time with the interquartile range in parentheses. Target: "
        f"fixed-point forward within {TARGET:g}x of float.",
        "",
        "| model | threads | rounds | float ms | approx ms | edgemoe ms | hw16 ms "
        "| edgemoe / float | hw16 / float | meets target |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["results"]:
        ms, ratio, iqr = r["ms"], r["ratio_vs_float"], r["ratio_iqr"]
        worst = max(ratio["edgemoe"], ratio["hw16"])

        def cell(p: str, ratio=ratio, iqr=iqr) -> str:
            return f"{ratio[p]:.2f}x ({iqr[p][0]:.2f}–{iqr[p][1]:.2f})"

        lines.append(
            f"| {r['model']} | {r['threads']} | {r['samples']} | {ms['float']:.1f} | "
            f"{ms['approx']:.1f} | {ms['edgemoe']:.1f} | {ms['hw16']:.1f} | "
            f"{cell('edgemoe')} | {cell('hw16')} | {'yes' if worst <= TARGET else 'no'} |"
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
    # Other processes on the machine distort wall-clock times: record how busy it was.
    load = {"load_average_1min": os.getloadavg()[0], "cpus": os.cpu_count()}
    data = {"machine": machine(), "load": load, "target": TARGET, "results": results}
    print(f"wrote {write_json(args.out, data)}")
    if not args.no_docs:
        doc = update_section(REPO / "docs/RESULTS.md", "numerics-bench", render(data), "Results")
        print(f"updated {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
