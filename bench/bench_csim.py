"""Benchmark: C simulation wall time of the HLS engine for one image.

Exports the preset (edgemoe-t by default) in each numerics, builds the g++ C
simulation (timed separately; cached), then times the top function on one
image (median of --repeats runs; the C simulation is single-threaded). Also
lists the *modelled* accelerator cycles of the export's report. Writes
build/bench/csim.json. Target: under 60 s per edgemoe-t image on one core.

    python bench/bench_csim.py [--preset edgemoe-t] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from pymodel.export import export_hls, prepare_model
from pymodel.results import REPO, machine, write_json
from sim.csim import CSim

TARGET_S = 60.0


def bench(preset: str, numerics: str, repeats: int) -> dict:
    model, images, info = prepare_model(preset, numerics=numerics, seed=0, calib_images=2)
    out = export_hls(model, numerics, REPO / "build" / "bench" / f"csim-{preset}-{numerics}",
                     checkpoint_info=info)  # fmt: skip
    t0 = time.perf_counter()
    sim = CSim(out)
    build_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sim.run(images[0], 0)
        times.append(time.perf_counter() - t0)
    report = json.loads((out / "report.json").read_text())
    return {
        "preset": preset,
        "numerics": numerics,
        "csim_s_median": statistics.median(times),
        "csim_s": times,
        "build_s": build_s,
        "target_s": TARGET_S,
        "modelled_cycles": report["cycles"],
        "modelled_ms_at_300mhz": report["latency_ms"],
        "modelled_label": report["label"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--preset", default="edgemoe-t")
    p.add_argument("--numerics", nargs="+", default=["edgemoe", "hw16", "hw8"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=REPO / "build" / "bench" / "csim.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    results = [bench(args.preset, n, args.repeats) for n in args.numerics]
    print(f"{'preset':<12} {'numerics':<8} {'csim s (median)':>16} {'build s':>8} "
          f"{'modelled ms @300MHz':>20}")  # fmt: skip
    for r in results:
        print(
            f"{r['preset']:<12} {r['numerics']:<8} {r['csim_s_median']:>16.2f} "
            f"{r['build_s']:>8.1f} {r['modelled_ms_at_300mhz']:>20.2f}"
        )
    print("modelled ms: the performance model of the export's design (pymodel.perf), not measured")
    ok = all(r["csim_s_median"] < TARGET_S for r in results)
    data = {"machine": machine(), "target_s": TARGET_S, "ok": ok, "results": results}
    print(f"wrote {write_json(args.out, data)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
