"""Benchmark: MODELLED latency of every preset on the default design and on Edge-MoE's
design parameters, side by side, against the published FPGA figures.

The default design is ``pymodel.export.design.Design()`` (the DSE's pick for the
ZCU104). "Edge-MoE parameters" runs the same engine with Edge-MoE's published
design parameters: a 16 x 16 linear unit (256 MACs per cycle, no row blocking,
no 8-bit packing), 4 query rows per attention step, 32-bit activations
(numerics ``edgemoe``). Published rows come from ``pymodel.reports.anchors``.
Writes ``build/bench/perf.json`` and the ``perf-bench`` section of
docs/RESULTS.md. Every figure here is MODELLED (or published), none measured.

    python bench/bench_perf.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pymodel.config import PRESETS
from pymodel.export.design import Design
from pymodel.perf.dse import widths_for
from pymodel.perf.report import perf_report
from pymodel.reports.anchors import PUBLISHED_RUNS
from pymodel.results import REPO, machine, update_section, write_json

#: Edge-MoE's published design parameters in this engine (ANCHORS.md, Edge-MoE).
EDGE_MOE_DESIGN = Design(
    mac_rows=1,
    mac_in=16,
    mac_out=16,
    query_block=4,
    softmax_lanes=4,
    prob_lanes=16,
    epilogue_lanes=16,
    acc_lanes=16,
    gelu_lanes=16,
    ln_lanes=1,
    router_lanes=1,
)

TARGETS = {("edgemoe-t", "hw16"): 8.0, ("m3vit-s-pascal", "hw8"): 70.0}


def rows() -> list[dict]:
    out = []
    for name, cfg in PRESETS.items():
        edge = perf_report(cfg, EDGE_MOE_DESIGN, widths_for("edgemoe"), numerics="edgemoe")
        for numerics in ("hw16", "hw8"):
            r = perf_report(cfg, Design(), widths_for(numerics), numerics=numerics)
            published = [
                p for p in PUBLISHED_RUNS if p.preset == name and p.role == "fpga" and p.latency_ms
            ]
            out.append(
                {
                    "preset": name,
                    "numerics": numerics,
                    "latency_ms": r["latency_ms"],
                    "compute_ms": r["bounds"]["compute_ms"],
                    "weights_ms": r["bounds"]["weights_ms"],
                    "fits": r["fits"],
                    "target_ms": TARGETS.get((name, numerics)),
                    "edge_moe_params_ms": edge["latency_ms"],
                    "speedup_vs_edge_moe_params": edge["latency_ms"] / r["latency_ms"],
                    "published": [
                        {
                            "work": p.work,
                            "model": p.model,
                            "platform": p.platform,
                            "latency_ms": p.latency_ms,
                            "note": p.note,
                        }
                        for p in published
                    ],  # fmt: skip
                }
            )
    return out


def markdown(results: list[dict], default: Design) -> str:
    lines = [
        "## Modelled latency: the default design vs Edge-MoE's design parameters",
        "",
        "Written by `bench/bench_perf.py` from `build/bench/perf.json`. **MODELLED** by "
        "`pymodel.perf` (the engine's loop nests with DDR effects, 300 MHz, batch 1, one task, "
        "backbone), not measured. *Default*: `Design()` (the DSE's ZCU104 pick: "
        f"{default.mac_rows} x {default.mac_in} x {default.mac_out} MAC array, "
        f"{default.weight_ports} weight ports). *Edge-MoE parameters*: this engine with a 16 x 16 "
        "linear unit, 4 query rows and 32-bit activations (numerics `edgemoe`). Published rows "
        "are the papers' own figures (boards and methods differ).",
        "",
        "| preset | numerics | default ms | compute bound ms | weight bound ms | target ms | "
        "Edge-MoE parameters ms | speedup | fits ZCU104 | published FPGA |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        pub = "; ".join(
            f"{p['work']} {p['latency_ms']:g} ms ({p['platform']})" for p in r["published"]
        )
        target = f"{r['target_ms']:g}" if r["target_ms"] else ""
        lines.append(
            f"| {r['preset']} | {r['numerics']} | {r['latency_ms']:.2f} | {r['compute_ms']:.2f} | "
            f"{r['weights_ms']:.2f} | {target} | {r['edge_moe_params_ms']:.1f} | "
            f"{r['speedup_vs_edge_moe_params']:.1f}x | {'yes' if r['fits'] else 'no'} | {pub} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "build" / "bench" / "perf.json")
    p.add_argument("--doc", type=Path, default=REPO / "docs" / "RESULTS.md")
    args = p.parse_args(argv)
    results = rows()
    ok = all(r["latency_ms"] <= r["target_ms"] and r["fits"] for r in results if r["target_ms"])
    write_json(args.out, {"label": "modelled", "machine": machine(), "ok": ok, "rows": results})
    update_section(args.doc, "perf-bench", markdown(results, Design()), "Results")
    for r in results:
        print(
            f"{r['preset']:<15} {r['numerics']:<5} {r['latency_ms']:8.2f} ms (MODELLED)  "
            f"Edge-MoE parameters {r['edge_moe_params_ms']:8.1f} ms  "
            f"x{r['speedup_vs_edge_moe_params']:.1f}"
        )
    print(f"targets {'met' if ok else 'NOT met'}; wrote {args.out} and {args.doc}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
