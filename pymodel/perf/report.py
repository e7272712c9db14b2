"""The performance model's answer as a result file and as Markdown.

:func:`perf_report` runs :func:`pymodel.perf.model.estimate` and the resource
model for one model on one design and board, and returns the ``perf-model``
result (the keys ``edgemoe perf --json`` prints and the export's
``report.json`` holds). Every figure is MODELLED.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..config import ModelConfig
from ..export.design import Design
from .ddr import Ddr
from .model import LABEL, Estimate, Widths, estimate
from .resources import fit, resources

NOTE = (
    "MODELLED by pymodel.perf: the engine's loop nests (trip counts, II = 1 pipelines, "
    "pipeline fill, the overlap the C++ is written for) and the DDR / HP-port model; not "
    "synthesis, cosimulation or board measurements"
)


def perf_report(
    cfg: ModelConfig,
    design: Design | None = None,
    widths: Widths | None = None,
    *,
    board: str = "zcu104",
    ddr: Ddr | None = None,
    routing: Mapping[str, np.ndarray] | None = None,
    numerics: str = "",
) -> dict[str, Any]:
    """Latency, bounds, per-layer and per-loop cycles, and resources of one forward."""
    d = design or Design()
    w = widths or Widths()
    est = estimate(cfg, d, w, ddr=ddr, routing=routing)
    return report_from(est, board=board, numerics=numerics)


def report_from(est: Estimate, *, board: str = "zcu104", numerics: str = "") -> dict[str, Any]:
    d = est.design
    usage = resources(d, est.widths.act_w, board)
    fitted = fit(usage, board)
    bounds = est.bounds()
    lat = est.latency_ms
    return {
        "kind": "perf-model",
        "label": "modelled",
        "note": NOTE,
        "model_label": LABEL,
        "preset": est.cfg.name,
        "numerics": numerics,
        "board": board,
        "clock_mhz": d.clock_mhz,
        "latency_ms": lat,
        "cycles": est.cycles,
        "fits": fitted["fits"],
        "resources": {k: fitted["used"][k] for k in ("dsp", "bram36", "uram", "lut", "ff")},
        "resource_fraction": fitted["fraction"],
        "over_budget": fitted["over"],
        "bounds": bounds,
        "ratio_to_bounds": {
            "compute": lat / bounds["compute_ms"] if bounds["compute_ms"] else None,
            "weights": lat / bounds["weights_ms"] if bounds["weights_ms"] else None,
        },
        "gmac": est.macs / 1e9,
        "weight_mb": est.weight_bytes / 1e6,
        "routing": est.routing,
        "design": d.to_dict(),
        "ddr": est.ddr.to_dict(),
        "widths": est.widths.__dict__,
        "layers": [{"name": k, "cycles": v} for k, v in est.per_layer().items()],
        "loops": [
            # ii: every modelled loop is pipelined at II = 1 (csynth reports are matched
            # on the label and compared with it)
            {"layer": r.layer, "label": r.label, "ii": 1, "cycles": r.cycles, "macs": r.macs}
            for r in est.rows
        ],
        "per_label": est.per_label(),
        "resource_items": usage.items,
    }


def report_markdown(report: Mapping[str, Any]) -> str:
    """The report as tables: totals and bounds, cycles per loop label, per layer kind."""
    ms = 1 / (report["clock_mhz"] * 1e3)
    b = report["bounds"]
    lines = [
        f"# Performance model: {report['preset']} ({report['numerics'] or 'widths given'})",
        "",
        f"**{report['model_label']}**: {report['note']}.",
        "",
        f"Latency {report['latency_ms']:.2f} ms ({report['cycles']:,} cycles at "
        f"{report['clock_mhz']:.0f} MHz), batch 1, one task, backbone; compute bound "
        f"{b['compute_ms']:.2f} ms, weight-streaming bound {b['weights_ms']:.2f} ms; MoE "
        f"routing: {report['routing']}. Resources on {report['board']}: "
        + ", ".join(
            f"{k} {v:,} ({100 * report['resource_fraction'][k]:.0f}%)"
            for k, v in report["resources"].items()
        )
        + (
            " - fits" if report["fits"] else f" - does not fit ({', '.join(report['over_budget'])})"
        ),
        "",
        "| loop (C++ label) | cycles | ms | share |",
        "|---|---:|---:|---:|",
    ]
    total = max(1, report["cycles"])
    for label, c in sorted(report["per_label"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| `{label}` | {c:,} | {c * ms:.3f} | {100 * c / total:.1f}% |")
    kinds: dict[str, int] = {}
    for row in report["layers"]:
        parts = row["name"].split(".")
        kind = ".".join(p for p in parts if not p.isdigit() and not p.startswith("expert"))
        kinds[kind] = kinds.get(kind, 0) + row["cycles"]
    lines += ["", "| layer kind (all blocks) | cycles | ms |", "|---|---:|---:|"]
    for kind, c in sorted(kinds.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {kind} | {c:,} | {c * ms:.3f} |")
    return "\n".join(lines) + "\n"
