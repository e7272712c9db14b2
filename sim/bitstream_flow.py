"""``make bitstream``: the engine's IP -> Vivado block design -> ``bitstreams/<name>/``.

    python -m sim.bitstream_flow [--engine hls|rtl] [--board zcu104] [--preset P] [--name N]

1. an export of ``--preset`` (or ``--export-dir``) fixes the design: maxima,
   activation width, clock, the AXI masters and the register map;
2. ENGINE=hls: Vitis HLS synthesises and exports the IP (hls/tcl/run_hls.tcl,
   stages csynth export); ENGINE=rtl: Vivado packages the RTL engine
   (hls/tcl/package_rtl_ip.tcl: the sources of hls/rtl/engine/edgemoe_rtl_top.sv
   in sim.rtl's order, the ROM tables, ACT_W = the export's act_w) as an IP with
   the HLS IP's VLNV and ports: only for exports of the default design, which
   the RTL's generated register package is written for (:func:`rtl_ip_settings`).
   The packaging script has run under the tclsh stand-ins of the tests only,
   never in a real Vivado;
3. Vivado builds the block design, synthesises, implements and writes the
   bitstream (hls/tcl/vivado_zcu104.tcl), with one PS slave port per AXI master;
4. the reports are read back: timing must be met (WNS >= 0; else the failing
   paths are printed and nothing is written), the ``.hwh`` must match the
   export's interface (registers, masters reaching DDR, interrupt, clock);
5. ``bitstreams/<name>/`` gets ``<stem>.bit``, ``<stem>.hwh`` (same stem, as
   PYNQ needs) and ``manifest.json`` (schema: :func:`check_manifest`).

Everything is written into a staging directory and moved into place at the end:
a failed or interrupted build leaves no half-written ``bitstreams/<name>/``.
Without the tools: a message naming what is missing, exit code 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pymodel.export.design import DEFAULT_DESIGN, Design
from pymodel.export.rtl_regs import package_text as regs_package_text
from pymodel.numerics.rtl_export import write_rtl_tables
from sim import rtl
from sim.hls_flow import BUILD, hls_settings, read_manifest, report_paths
from sim.hls_flow import TCL as HLS_TCL
from sim.tool_reports import (
    check_ip_interface,
    parse_hwh,
    parse_timing_summary,
    parse_utilization,
    violated_paths,
)
from sim.xilinx_tools import (
    BOARDS,
    INSTALL_HINT,
    MISSING,
    Board,
    Tool,
    ToolMissing,
    find_vitis_hls,
    find_vivado,
    ip_vlnv,
    run_tool,
    write_settings,
)

ROOT = Path(__file__).resolve().parents[1]
BITSTREAMS = ROOT / "bitstreams"
VIVADO_TCL = ROOT / "hls" / "tcl" / "vivado_zcu104.tcl"
RTL_PACKAGE_TCL = ROOT / "hls" / "tcl" / "package_rtl_ip.tcl"
RTL_TOP = "edgemoe_rtl_top"  # hls/rtl/engine/edgemoe_rtl_top.sv: the HLS top's ports
ENGINES = ("hls", "rtl")
KIND = "edgemoe-bitstream"
STEM = "edgemoe"
UTILISATION_KEYS = ("LUT", "FF", "BRAM36", "URAM", "DSP")


class FlowError(RuntimeError):
    """A build step failed; the message says which and where its log is."""


def assign_ports(bundles: Sequence[str], board: Board) -> list[tuple[str, str, int]]:
    """(bundle, PS slave port, GP index) for every AXI master: one port each, in board order."""
    if len(bundles) > len(board.hp_ports):
        ports = ", ".join(p for p, _ in board.hp_ports)
        raise ValueError(
            f"the IP has {len(bundles)} AXI masters ({', '.join(bundles)}) but the {board.name} PS "
            f"has {len(board.hp_ports)} slave ports for them ({ports}): lower Design.weight_ports"
        )
    return [(b, p, gp) for b, (p, gp) in zip(bundles, board.hp_ports)]


def vivado_settings(
    manifest: Mapping[str, Any],
    board: Board,
    build_dir: Path,
    ip_repo: Path,
    out_dir: Path,
    jobs: int,
) -> dict[str, object]:
    """The values hls/tcl/vivado_zcu104.tcl reads (bundles and clock from the manifest)."""
    top = manifest["interface"]["top"]
    ports = assign_ports([b["bundle"] for b in manifest["interface"]["m_axi"]], board)
    return {
        "proj_dir": str((build_dir / "vivado").resolve()),
        "proj_name": f"edgemoe_{board.name}",
        "bd_name": "edgemoe_bd",
        "part": board.part,
        "board_part": board.board_part,
        "ip_repo": str(ip_repo.resolve()),
        "ip_vlnv": ip_vlnv(top),
        "ip_instance": f"{top}_0",
        "bundles": [b for b, _, _ in ports],
        "hp_ports": [p for _, p, _ in ports],
        "hp_gp": [gp for _, _, gp in ports],
        "port_bits": int(manifest["design"]["port_bits"]),
        "clock_mhz": float(manifest["design"]["clock_mhz"]),
        "out_dir": str(out_dir.resolve()),
        "stem": STEM,
        "jobs": jobs,
    }


# ------------------------------------------------------------------ manifest
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_commit(root: Path = ROOT) -> tuple[str, bool]:
    """(HEAD commit, uncommitted changes?); ("unknown", True) outside a git checkout."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        return sha, bool(dirty)
    except (OSError, subprocess.CalledProcessError):
        return "unknown", True


def bitstream_manifest(
    export: Mapping[str, Any],
    engine: str,
    board: Board,
    tools: Mapping[str, str],
    utilisation: Mapping[str, Any],
    timing: Mapping[str, Any],
    bit: Path,
    hwh: Path,
    ip: Mapping[str, Any],
) -> dict[str, Any]:
    """The manifest beside a built bitstream (what the host runtime checks an export against)."""
    commit, dirty = git_commit()
    return {
        "kind": KIND,
        "engine": engine,
        "board": board.name,
        "part": board.part,
        "design": export["design"],
        "act_w": export["act_w"],
        "interface": export["interface"],
        "clock_mhz": float(export["design"]["clock_mhz"]),
        "git_commit": commit,
        "git_dirty": dirty,
        "tools": dict(tools),
        "utilisation": {k: dict(v) for k, v in utilisation.items() if k in UTILISATION_KEYS},
        "wns_ns": timing["wns_ns"],
        "whs_ns": timing.get("whs_ns"),
        "ip": dict(ip),
        "files": {
            "bit": {"path": bit.name, "sha256": _sha256(bit)},
            "hwh": {"path": hwh.name, "sha256": _sha256(hwh)},
        },
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


#: Required manifest keys and their types (extra keys are allowed).
MANIFEST_SCHEMA: dict[str, type | tuple[type, ...]] = {
    "kind": str,
    "engine": str,
    "design": dict,
    "act_w": int,
    "interface": dict,
    "clock_mhz": (int, float),
    "git_commit": str,
    "tools": dict,
    "utilisation": dict,
    "wns_ns": (int, float),
    "files": dict,
}


def check_manifest(m: Mapping[str, Any]) -> list[str]:
    """Problems with a bitstream manifest (empty list: valid). Checks types and consistency."""
    problems = []
    for key, typ in MANIFEST_SCHEMA.items():
        if key not in m:
            problems.append(f"missing key '{key}'")
        elif not isinstance(m[key], typ) or isinstance(m[key], bool):
            problems.append(f"'{key}' is {type(m[key]).__name__}, expected {typ}")
    if problems:
        return problems
    if m["kind"] != KIND:
        problems.append(f"kind is {m['kind']!r}, expected {KIND!r}")
    if m["engine"] not in ENGINES:
        problems.append(f"engine is {m['engine']!r}, expected one of {ENGINES}")
    d = m["design"]
    if not isinstance(d.get("maxima"), dict) or "clock_mhz" not in d:
        problems.append("design lacks 'maxima' or 'clock_mhz' (not an export's design dict)")
    elif float(d["clock_mhz"]) != float(m["clock_mhz"]):
        problems.append(
            f"clock_mhz {m['clock_mhz']} differs from design.clock_mhz {d['clock_mhz']}"
        )
    for key in ("hash", "register_map", "m_axi", "args", "top"):
        if key not in m["interface"]:
            problems.append(f"interface lacks '{key}'")
    if m["act_w"] not in (8, 16, 32):
        problems.append(f"act_w {m['act_w']} is not 8, 16 or 32")
    for tool in ("vivado",) + (("vitis_hls",) if m["engine"] == "hls" else ()):
        if not isinstance(m["tools"].get(tool), str):
            problems.append(f"tools lacks the {tool} version")
    for key in ("LUT", "FF", "DSP", "BRAM36"):
        u = m["utilisation"].get(key)
        if not isinstance(u, dict) or not isinstance(u.get("used"), (int, float)):
            problems.append(f"utilisation lacks {key} (used/available/percent)")
    if m["wns_ns"] < 0:
        problems.append(f"wns_ns {m['wns_ns']} < 0: timing was not met")
    stems = set()
    for key in ("bit", "hwh"):
        f = m["files"].get(key)
        sha = f.get("sha256", "") if isinstance(f, dict) else ""
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            problems.append(f"files.{key}.sha256 is not a sha256 hex digest")
        if isinstance(f, dict) and "path" in f:
            stems.add(Path(f["path"]).stem)
    if len(stems) > 1:
        problems.append(f"the .bit and .hwh have different stems {sorted(stems)} (PYNQ needs one)")
    return problems


def verify_bitstream_dir(directory: str | Path) -> dict[str, Any]:
    """Load ``<dir>/manifest.json``, check its schema and the files' sha256; return it."""
    d = Path(directory)
    path = d / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: not a bitstream directory (make bitstream)")
    m = json.loads(path.read_text())
    problems = check_manifest(m)
    for key in ("bit", "hwh"):
        f = m.get("files", {}).get(key, {})
        p = d / f.get("path", f"{STEM}.{key}")
        if not p.is_file():
            problems.append(f"{p} missing")
        elif _sha256(p) != f.get("sha256"):
            problems.append(f"{p} does not match the sha256 in the manifest")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return m


def export_matches(bitstream: Mapping[str, Any], export: Mapping[str, Any]) -> list[str]:
    """Why an export cannot run on a bitstream (empty: it can).

    The export's descriptors and DDR image are laid out for one design: the
    same synthesis parameters and maxima, the same activation width and the
    same interface (its hash covers arguments, register offsets and bundles).
    The model preset may differ: every preset within the maxima runs.
    """
    problems = []
    if export.get("interface", {}).get("hash") != bitstream["interface"]["hash"]:
        problems.append(
            f"interface hash {export.get('interface', {}).get('hash')} != bitstream's "
            f"{bitstream['interface']['hash']} (different ports or register map)"
        )
    if export.get("act_w") != bitstream["act_w"]:
        problems.append(f"act_w {export.get('act_w')} != bitstream's {bitstream['act_w']}")
    if export.get("design") != bitstream["design"]:
        ed, bd = export.get("design") or {}, bitstream["design"]
        diff = sorted(k for k in set(ed) | set(bd) if ed.get(k) != bd.get(k))
        problems.append(f"design parameters differ: {diff}")
    return problems


# ---------------------------------------------------------------------- flow
def check_tools(engine: str) -> dict[str, Tool]:
    """Every tool the engine's flow needs, found before anything is built."""
    if engine == "rtl" and not RTL_PACKAGE_TCL.is_file():
        raise ToolMissing(
            f"ENGINE=rtl needs {_shown(RTL_PACKAGE_TCL)} (packages the RTL engine of "
            "hls/rtl/engine as a Vivado IP with the HLS top's ports), which is missing from "
            "this checkout. ENGINE=hls (the default) builds the HLS engine."
        )
    tools: dict[str, Tool] = {}
    missing = []
    finders = {"vitis_hls": find_vitis_hls} if engine == "hls" else {}
    for key, find in {**finders, "vivado": find_vivado}.items():
        try:
            tools[key] = find()
        except ToolMissing as e:
            missing.append(str(e).split(". ", 1)[0])
    if missing:
        raise ToolMissing(f"{'; '.join(missing)}. {INSTALL_HINT}.")
    return tools


def _shown(path: Path) -> str:
    """``path`` relative to the checkout where it lies inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def rtl_ip_settings(
    manifest: Mapping[str, Any], build_dir: Path, ip_repo: Path, board: Board
) -> dict[str, object]:
    """The values hls/tcl/package_rtl_ip.tcl reads: the RTL engine's sources in compile
    order (sim.rtl's lists), its ROM tables, ACT_W and the bundles (the export manifest).

    The generated packages and tables are written into ``build_dir/rtl_gen``. The
    engine is compiled with ``edgemoe_regs_pkg`` of the default design
    (:func:`sim.rtl.generated_sources`): an export of another design is refused.
    """
    export_design = Design.from_dict(manifest["design"])
    if regs_package_text(export_design) != regs_package_text(DEFAULT_DESIGN):
        ours, theirs = DEFAULT_DESIGN.to_dict(), export_design.to_dict()
        diff = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
        raise FlowError(
            f"the RTL engine is generated for the default design (pymodel.export.Design()); "
            f"the export's design differs in {diff}: export with the default design or "
            "use ENGINE=hls"
        )
    tables = write_rtl_tables(build_dir / "rtl_gen")
    generated = rtl.generated_sources(RTL_TOP, tables["package"].parent)
    return {
        "proj_dir": str((build_dir / "rtl_ip_project").resolve()),
        "part": board.part,
        "sources": [str(p.resolve()) for p in generated + rtl.sources(RTL_TOP)],
        "mem_files": [str(p.resolve()) for k, p in tables.items() if k != "package"],
        "top": RTL_TOP,
        "act_w": int(manifest["act_w"]),
        "bundles": [b["bundle"] for b in manifest["interface"]["m_axi"]],
        "ip_repo": str(ip_repo.resolve()),
        "ip_vlnv": ip_vlnv(manifest["interface"]["top"]),
    }


def build_ip(engine: str, tools: Mapping[str, Tool], manifest, export_dir, build_dir, board):
    """Synthesise and package the engine's IP; return its IP repository."""
    if engine == "hls":
        settings = write_settings(
            build_dir / "hls_settings.tcl",
            hls_settings(manifest, export_dir, build_dir, ["csynth", "export"], board.part),
            header=["written by python -m sim.bitstream_flow"],
        )
        log = build_dir / "run_hls.log"
        rc = run_tool(tools["vitis_hls"], HLS_TCL, settings, build_dir, log)
        repo = report_paths(build_dir, manifest["interface"]["top"])["ip_repo"]
    else:
        repo = build_dir / "rtl_ip"
        settings = write_settings(
            build_dir / "rtl_settings.tcl",
            rtl_ip_settings(manifest, build_dir, repo, board),
            header=[f"written by python -m sim.bitstream_flow from {export_dir}/manifest.json"],
        )
        log = build_dir / "package_rtl_ip.log"
        rc = run_tool(tools["vivado"], RTL_PACKAGE_TCL, settings, build_dir, log)
    if rc or not repo.is_dir():
        raise FlowError(f"the {engine} IP was not built (exit {rc}); see {log}")
    return repo


def build_bitstream(
    engine: str,
    board: Board,
    export_dir: Path,
    name: str,
    tools: Mapping[str, Tool],
    jobs: int,
    out_root: Path,
    build_dir: Path,
) -> Path:
    """Build ``out_root/<name>/`` from an export in ``build_dir`` (see the module docstring)."""
    manifest = read_manifest(export_dir)
    assign_ports([b["bundle"] for b in manifest["interface"]["m_axi"]], board)  # refuse early
    build_dir.mkdir(parents=True, exist_ok=True)
    ip_repo = build_ip(engine, tools, manifest, export_dir, build_dir, board)
    out_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{name}-", dir=out_root))
    try:
        settings = write_settings(
            build_dir / "vivado_settings.tcl",
            vivado_settings(manifest, board, build_dir, ip_repo, staging, jobs),
            header=[f"written by python -m sim.bitstream_flow from {export_dir}/manifest.json"],
        )
        log = build_dir / "vivado_zcu104.log"  # the tool's own vivado.log is beside it
        rc = run_tool(tools["vivado"], VIVADO_TCL, settings, build_dir, log)
        timing_rpt = staging / "timing_summary.rpt"
        if timing_rpt.is_file():
            timing = parse_timing_summary(timing_rpt)
            if timing["wns_ns"] is None or timing["wns_ns"] < 0:
                paths = staging / "timing_paths.rpt"
                shown = violated_paths(paths if paths.is_file() else timing_rpt)
                raise FlowError(
                    f"timing not met at {manifest['design']['clock_mhz']} MHz: WNS = "
                    f"{timing['wns_ns']} ns\n" + "\n\n".join(shown)
                )
        if rc:
            raise FlowError(f"Vivado exited with {rc}; see {log}")
        bit, hwh = staging / f"{STEM}.bit", staging / f"{STEM}.hwh"
        for f in (bit, hwh, timing_rpt, staging / "utilization.rpt"):
            if not f.is_file():
                raise FlowError(f"Vivado finished but {f.name} is missing; see {log}")
        timing = parse_timing_summary(timing_rpt)
        util = parse_utilization(staging / "utilization.rpt")["summary"]
        ip = parse_hwh(hwh).ip(manifest["interface"]["top"])
        problems = check_ip_interface(ip, manifest["interface"], manifest["design"]["clock_mhz"])
        if problems:
            raise FlowError(
                "the block design does not match the export's interface:\n  - "
                + "\n  - ".join(problems)
            )
        m = bitstream_manifest(
            manifest, engine, board, {k: t.version for k, t in tools.items()}, util, timing,
            bit, hwh, {"vlnv": ip.vlnv, "instance": ip.instance, "base_address": ip.base_address},
        )  # fmt: skip
        problems = check_manifest(m)
        if problems:
            raise FlowError("bitstream manifest invalid: " + "; ".join(problems))
        (staging / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")
        final = out_root / name
        old = out_root / f".old-{name}-{os.getpid()}"
        if final.exists():
            final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m sim.bitstream_flow", description=__doc__.split("\n")[0]
    )
    p.add_argument("--engine", default="hls", choices=ENGINES)
    p.add_argument("--board", default="zcu104", choices=sorted(BOARDS))
    p.add_argument("--preset", default="edgemoe-t", help="model whose export fixes the design")
    p.add_argument("--numerics", default="hw16", choices=("hw16", "edgemoe"))
    p.add_argument("--checkpoint", help="weights for the export (default: seeded random)")
    p.add_argument("--export-dir", type=Path, help="use this export instead of writing one")
    p.add_argument("--name", help="bitstreams/<name> (default <engine>-<board>)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        tools = check_tools(args.engine)
    except ToolMissing as e:
        print(f"make bitstream: {e}", file=sys.stderr)
        return MISSING
    board = BOARDS[args.board]
    name = args.name or f"{args.engine}-{board.name}"
    build_dir = BUILD.parent / "bitstream" / name
    export_dir = args.export_dir
    if export_dir is None:
        from pymodel.export import export_from_cli

        export_dir = build_dir / "export"
        export_from_cli(
            args.preset, export_dir, checkpoint=args.checkpoint, numerics=args.numerics,
            seed=args.seed, golden=True,
        )  # fmt: skip
    try:
        out = build_bitstream(
            args.engine, board, export_dir, name, tools, args.jobs, BITSTREAMS, build_dir
        )
    except (FlowError, ValueError, FileNotFoundError) as e:
        print(f"make bitstream: {e}", file=sys.stderr)
        return 1
    m = json.loads((out / "manifest.json").read_text())
    util = ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in m["utilisation"].items())
    print(f"wrote {out}/: {STEM}.bit, {STEM}.hwh, manifest.json")
    print(f"  measured (Vivado): WNS {m['wns_ns']} ns at {m['clock_mhz']} MHz; {util}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
