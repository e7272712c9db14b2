"""``make hls``: export a preset, run the Vitis HLS flow, read its reports back.

    python -m sim.hls_flow --preset tiny --stages csim csynth cosim

Layout under ``build/hls/<name>/`` (name: ``<preset>-<numerics>`` unless given):
``export/`` (the export, with ``--golden`` vectors for the testbench),
``settings.tcl`` (what hls/tcl/run_hls.tcl reads: part, clock and the m_axi depth
defines, all from the export's manifest), ``prj/`` (the Vitis project),
``run_hls.log`` (the run's output; Vitis writes its own log beside it) and
``reports.json``: the csynth figures (estimated latency, II per loop,
resources), the cosimulation result (measured cycles of the real export on the
generated RTL) and both beside the performance model's figures (modelled, from
the export's report.json) with their ratios.

Stops with a message naming the missing tool, and exit code 2, when neither
``vitis_hls`` nor ``vitis-run`` is on PATH (bit-exact C simulation without
Vitis: ``make csim``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sim.tool_reports import CsynthLoop, ReportError, parse_cosim_rpt, parse_csynth_xml
from sim.xilinx_tools import (
    BOARDS,
    IP_LIBRARY,
    IP_VENDOR,
    IP_VERSION,
    MISSING,
    Tool,
    ToolMissing,
    find_vitis_hls,
    run_tool,
    write_settings,
)

ROOT = Path(__file__).resolve().parents[1]
TCL = ROOT / "hls" / "tcl" / "run_hls.tcl"
BUILD = ROOT / "build" / "hls"
STAGES = ("csim", "csynth", "cosim", "export")


def read_manifest(export_dir: Path) -> dict[str, Any]:
    """The export's manifest.json (clear error when the directory is not an export)."""
    path = export_dir / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} missing: {export_dir} is not an export (edgemoe export-hls --golden --out DIR)"
        )
    manifest = json.loads(path.read_text())
    for key in ("design", "interface", "depth_defines"):
        if key not in manifest:
            raise ValueError(f"{path}: no '{key}' (export written by an older pymodel.export?)")
    return manifest


def hls_settings(
    manifest: Mapping[str, Any], export_dir: Path, build_dir: Path, stages: Sequence[str], part: str
) -> dict[str, object]:
    """The values hls/tcl/run_hls.tcl reads, every one taken from the export's manifest."""
    return {
        "export_dir": str(export_dir.resolve()),
        "proj_dir": str((build_dir / "prj").resolve()),
        "part": part,
        "top": manifest["interface"]["top"],
        "clock_mhz": float(manifest["design"]["clock_mhz"]),
        "depth_defines": list(manifest["depth_defines"]),
        "stages": list(stages),
        "ip_vendor": IP_VENDOR,
        "ip_library": IP_LIBRARY,
        "ip_version": IP_VERSION,
    }


def report_paths(build_dir: Path, top: str) -> dict[str, Path]:
    sol = build_dir / "prj" / "solution1"
    return {
        "csynth": sol / "syn" / "report" / "csynth.xml",
        "cosim": sol / "sim" / "report" / f"{top}_cosim.rpt",
        "ip_repo": sol / "impl" / "ip",
    }


def match_loops(
    model_rows: Sequence[Mapping[str, Any]], loops: Sequence[CsynthLoop]
) -> list[dict[str, Any]]:
    """The model's loops (summed over layers) beside the csynth loop of the same C++ label.

    A model row carries ``label`` (the loop label in hls/src, e.g. ``mac_k``) once
    the performance model knows it; rows without one, or whose label csynth did
    not report, get no csynth figures (printed ``-``). ``ii_ratio`` = achieved II
    / modelled II.
    """
    by_label: dict[str, CsynthLoop] = {}
    for lp in loops:
        by_label.setdefault(lp.name, lp)
    groups: dict[str, dict[str, Any]] = {}
    for r in model_rows:
        label = r.get("label")
        loop = r.get("loop", label or r.get("layer", "?"))
        g = groups.setdefault(
            label or loop,
            {"loop": loop, "label": label, "trips": 0, "cycles": 0, "ii": r.get("ii")},
        )
        g["trips"] += int(r.get("trips", 0))
        g["cycles"] += int(r.get("cycles", 0))
    out = []
    for g in groups.values():
        lp = by_label.get(g["label"]) if g["label"] else None
        g["csynth"] = (
            None
            if lp is None
            else {
                "module": lp.module,
                "ii": lp.ii,
                "trip_count": lp.trip_count,
                "latency": lp.latency,
            }
        )
        g["ii_ratio"] = lp.ii / g["ii"] if lp is not None and lp.ii and g["ii"] else None
        out.append(g)
    return out


def collect_reports(
    build_dir: Path, manifest: Mapping[str, Any], model: Mapping[str, Any], tool: Tool | None
) -> dict[str, Any]:
    """Parse whatever reports the run left and set them beside the model's figures."""
    top = manifest["interface"]["top"]
    paths = report_paths(build_dir, top)
    out: dict[str, Any] = {
        "kind": "hls-reports",
        "label": "modelled",
        "source": "python -m sim.hls_flow",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "preset": manifest.get("preset"),
        "design": manifest["design"],
        "interface_hash": manifest["interface"].get("hash"),
        "tools": {tool.name: tool.version} if tool else {},
        "model": {
            "label": "modelled (pymodel.perf, the export's report.json)",
            "total_cycles": model.get("cycles"),
            "latency_ms": model.get("latency_ms"),
        },
        "csynth": None,
        "cosim": None,
        "loops": [],
    }
    loops: list[CsynthLoop] = []
    if paths["csynth"].is_file():
        cs = parse_csynth_xml(paths["csynth"])
        loops = cs.loops
        out["csynth"] = {"label": "estimated (Vitis HLS synthesis)", **cs.to_dict()}
    if paths["cosim"].is_file():
        res = parse_cosim_rpt(paths["cosim"]).get("Verilog")
        if res is not None:
            total = model.get("cycles")
            avg = res.latency[1]
            out["cosim"] = {
                "label": "measured (C/RTL cosimulation of this export)",
                "status": res.status,
                "latency": list(res.latency),
                "interval": list(res.interval),
                "total_cycles": res.total_cycles,
                "ratio_to_model": avg / total if avg and total else None,
            }
            out["label"] = "measured"
    out["loops"] = match_loops(model.get("loops", []), loops)
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, (list, tuple)):
        lo, hi = v[0], v[-1]
        return _fmt(lo) if lo == hi else f"{_fmt(lo)}~{_fmt(hi)}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return f"{v:,}" if isinstance(v, int) else str(v)


ROW = "  {:44} {:>8} {:>9} {:>6} {:>14}"


def format_reports(rep: Mapping[str, Any]) -> str:
    """The reports as text: synthesis and cosimulation, then the loops against the model."""
    tools = ", ".join(f"{k} {v}" for k, v in rep["tools"].items())
    lines = [f"HLS reports for {rep.get('preset')} ({tools})"]
    cs, co, model = rep.get("csynth"), rep.get("cosim"), rep["model"]
    if cs:
        res = " ".join(f"{k} {v}/{cs['available'].get(k, '?')}" for k, v in cs["resources"].items())
        lines += [
            f"  csynth [{cs['label']}]: clock {_fmt(cs['estimated_clock_ns'])} ns "
            f"(target {_fmt(cs['target_clock_ns'])}), latency {_fmt(cs['latency'])} cycles, "
            f"interval {_fmt(cs['interval'])}",
            f"    resources: {res}",
        ]
    else:
        lines.append("  csynth: no csynth.xml (stage not run or failed)")
    if co:
        lat = "/".join(_fmt(x) for x in co["latency"])
        lines.append(
            f"  cosim [{co['label']}]: {co['status']}, latency min/avg/max {lat} cycles; "
            f"model {_fmt(model['total_cycles'])} cycles [modelled]: "
            f"measured/model {_fmt(co['ratio_to_model'])}"
        )
    lines.append(
        ROW.format(
            "loop (model label or description)", "model II", "csynth II", "ratio", "model cycles"
        )
    )
    for g in rep["loops"]:
        c = g["csynth"] or {}
        name = (g["label"] or g["loop"])[:44]
        lines.append(
            ROW.format(
                name, _fmt(g["ii"]), _fmt(c.get("ii")), _fmt(g["ii_ratio"]), _fmt(g["cycles"])
            )
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.hls_flow", description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="tiny", help="model preset (default tiny: cosim is slow)")
    p.add_argument("--numerics", default="hw16", choices=("hw16", "edgemoe"))
    p.add_argument("--checkpoint", help="weights (default: seeded random)")
    p.add_argument("--stages", nargs="+", default=["csim", "csynth"], choices=STAGES)
    p.add_argument("--export-dir", type=Path, help="use this export instead of writing one")
    p.add_argument("--name", help="build/hls/<name> (default <preset>-<numerics>)")
    p.add_argument("--board", default="zcu104", choices=sorted(BOARDS))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        tool = find_vitis_hls()
    except ToolMissing as e:
        print(
            f"make hls: {e} Without it, `make csim` runs the bit-exact C simulation with g++.",
            file=sys.stderr,
        )
        return MISSING
    build_dir = BUILD / (args.name or f"{args.preset}-{args.numerics}")
    export_dir = args.export_dir or build_dir / "export"
    if not args.export_dir:
        from pymodel.export import export_from_cli

        export_from_cli(
            args.preset, export_dir, checkpoint=args.checkpoint, numerics=args.numerics,
            seed=args.seed, golden=True,
        )  # fmt: skip
        print(f"exported {args.preset} ({args.numerics}) to {export_dir}")
    manifest = read_manifest(export_dir)
    settings = write_settings(
        build_dir / "settings.tcl",
        hls_settings(manifest, export_dir, build_dir, args.stages, BOARDS[args.board].part),
        header=[f"written by python -m sim.hls_flow from {export_dir}/manifest.json"],
    )
    rc = run_tool(tool, TCL, settings, build_dir, build_dir / "run_hls.log")
    model = json.loads((export_dir / "report.json").read_text())
    try:
        rep = collect_reports(build_dir, manifest, model, tool)
    except ReportError as e:
        print(f"make hls: could not read the reports: {e}", file=sys.stderr)
        return rc or 1
    (build_dir / "reports.json").write_text(json.dumps(rep, indent=2) + "\n")
    print(format_reports(rep))
    print(f"wrote {build_dir / 'reports.json'}")
    if rc:
        print(
            f"make hls: Vitis HLS exited with {rc}; see {build_dir / 'run_hls.log'}",
            file=sys.stderr,
        )
    return rc


if __name__ == "__main__":
    sys.exit(main())
