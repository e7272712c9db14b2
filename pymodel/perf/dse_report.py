"""The design-space exploration's result: JSON, a Markdown table and the Pareto plot."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..export.design import Design

SWEPT = ("mac_rows", "mac_in", "mac_out", "query_block", "softmax_lanes", "prob_lanes",
         "ln_lanes", "weight_ports")  # fmt: skip


def _row(p: dict[str, Any]) -> dict[str, Any]:
    d: Design = p["design"]
    return {
        "design": d.to_dict(),
        "latency_ms": p["latency_ms"],
        "resources": p["resources"],
        "fits": p["fits"],
        "meets": p["meets"],
    }


def write_dse(result: dict[str, Any], out: Path) -> Path:
    """``dse.json`` (every point), ``dse.md`` (front and pick) and ``pareto.png``."""
    out.mkdir(parents=True, exist_ok=True)
    key = result["primary"]
    body = {
        "kind": "dse",
        "label": "modelled",
        "board": result["board"],
        "primary": key,
        "workloads": result["workloads"],
        "points": [_row(p) for p in result["evaluated"]],
        "front": [_row(p) for p in result["front"]],
        "pick": _row(result["pick"]) if result["pick"] else None,
        "default_is_pick": bool(result["pick"]) and result["pick"]["design"] == Design(),
    }
    (out / "dse.json").write_text(json.dumps(body, indent=2) + "\n")
    names = [w["name"] for w in result["workloads"]]
    head = (
        "| "
        + " | ".join(SWEPT)
        + " | "
        + " | ".join(f"{n} ms" for n in names)
        + " | DSP | BRAM36 | URAM | LUT |"
    )
    lines = [
        f"# Design-space exploration ({result['board']}, MODELLED)",
        "",
        f"{len(result['evaluated'])} design points, {len(result['fitting'])} fit with 10% of "
        f"every resource free. Pareto front of {key} latency vs DSP; the pick is the fastest "
        f"fitting point on {key} that meets the other limits "
        + ", ".join(f"{w['name']} <= {w['limit_ms']} ms" for w in result["workloads"][1:])
        + ".",
        "",
        head,
        "|" + "---|" * (len(SWEPT) + len(names) + 4),
    ]
    rows = result["front"] + ([result["pick"]] if result["pick"] not in result["front"] else [])
    for p in rows:
        d = asdict(p["design"])
        mark = " **pick**" if p is result["pick"] else ""
        lines.append(
            "| " + " | ".join(str(d[k]) for k in SWEPT) + " | "
            + " | ".join(f"{p['latency_ms'][n]:.2f}" for n in names)
            + f" | {p['resources']['dsp']}{mark} | {p['resources']['bram36']} | "
            f"{p['resources']['uram']} | {p['resources']['lut']:,} |"
        )  # fmt: skip
    (out / "dse.md").write_text("\n".join(lines) + "\n")
    fig = Figure(figsize=(6.5, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    fit_pts = result["fitting"]
    ax.scatter([p["resources"]["dsp"] for p in fit_pts], [p["latency_ms"][key] for p in fit_pts],
               s=8, c="0.7", label="fits")  # fmt: skip
    front = result["front"]
    ax.plot([p["resources"]["dsp"] for p in front], [p["latency_ms"][key] for p in front], "o-",
            c="C0", ms=4, label="Pareto front")  # fmt: skip
    if result["pick"]:
        pk = result["pick"]
        ax.scatter([pk["resources"]["dsp"]], [pk["latency_ms"][key]], s=60, c="C3", marker="*",
                   label="pick", zorder=3)  # fmt: skip
    ax.set_xlabel("DSP48E2")
    ax.set_ylabel(f"{key} latency, ms (MODELLED)")
    ax.set_title(f"Design points that fit the {result['board']}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    FigureCanvasAgg(fig).print_png(str(out / "pareto.png"))
    return out
