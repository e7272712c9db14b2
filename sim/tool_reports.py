"""Vitis HLS and Vivado reports read back into plain data.

* ``csynth.xml`` (Vitis HLS synthesis): latency, interval, clock estimate,
  resources, and every loop (trip count, latency, II) of every module;
* ``<top>_cosim.rpt`` (C/RTL cosimulation): status and measured latency and
  interval per RTL language;
* ``report_utilization`` (Vivado): LUT, FF, BRAM36, URAM and DSP used/available;
* ``report_timing_summary`` (Vivado): WNS/TNS/WHS/THS and the clocks, plus the
  violated paths of any timing report;
* ``.hwh`` (Vivado hardware handoff, what PYNQ reads): an IP's base address,
  registers, AXI masters with the PS port and address blocks they reach, its
  clock and interrupt.

Only the standard library: these run on a build machine without the model's
dependencies. Formats change between tool versions (2018.2 ... 2023.2 are
covered by the fixtures in tests/fixtures/tool_reports/); values the tool
reports as ``undef``/``NA`` come back as ``None``, ranges as ``(min, max)``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Range = tuple[int, int]


class ReportError(ValueError):
    """A report file is missing or not in the expected format."""


def _read(path: str | Path) -> str:
    p = Path(path)
    if not p.is_file():
        raise ReportError(f"{p}: no such report")
    return p.read_text(errors="replace").replace("\r\n", "\n")


def _xml(path: str | Path) -> ET.Element:
    p = Path(path)
    if not p.is_file():
        raise ReportError(f"{p}: no such report")
    try:
        return ET.fromstring(p.read_bytes())  # bytes: honours the encoding and a BOM
    except ET.ParseError as e:
        raise ReportError(f"{p}: not XML ({e})") from e


def _int(text: str | None) -> int | None:
    t = (text or "").strip().replace(",", "")
    return int(t) if re.fullmatch(r"-?\d+", t) else None


def _range(el: ET.Element | None) -> Range | None:
    """``123``, ``1 ~ 99`` or ``<range><min>1</min><max>99</max></range>``; ``undef`` -> None."""
    if el is None:
        return None
    r = el.find("range")
    if r is not None:
        lo, hi = _int(r.findtext("min")), _int(r.findtext("max"))
        return (lo, hi) if lo is not None and hi is not None else None
    parts = [_int(p) for p in (el.text or "").split("~")]
    if not parts or any(p is None for p in parts):
        return None
    return (parts[0], parts[-1])  # type: ignore[return-value]


# ------------------------------------------------------------------ csynth.xml
@dataclass(frozen=True)
class CsynthLoop:
    """One loop of the synthesised design (nested loops have a dotted ``path``)."""

    name: str  # the C++ label (Vitis names unlabelled loops VITIS_LOOP_<line>_<n>)
    module: str  # RTL module holding it (pipelined loops get <top>_Pipeline_<label>)
    path: str  # outer.inner within the module
    trip_count: Range | None
    latency: Range | None  # cycles of the whole loop
    iteration_latency: Range | None
    ii: int | None  # achieved initiation interval; None when not pipelined
    depth: Range | None  # pipeline depth


@dataclass(frozen=True)
class CsynthReport:
    version: str
    part: str
    top: str
    target_clock_ns: float | None
    estimated_clock_ns: float | None
    latency: Range | None  # cycles, best ~ worst case
    interval: Range | None
    resources: dict[str, int]  # BRAM_18K, DSP, FF, LUT, URAM used
    available: dict[str, int]
    loops: list[CsynthLoop] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_LOOP_FIELDS = {
    "Name", "Slack", "TripCount", "Latency", "AbsoluteTimeLatency", "IterationLatency",
    "PipelineII", "PipelineDepth", "PipelineType", "InstanceList",
}  # fmt: skip


def _loops(summary: ET.Element, module: str, prefix: str = "") -> Iterator[CsynthLoop]:
    for el in summary:
        if el.tag in _LOOP_FIELDS or (el.find("TripCount") is None and el.find("Latency") is None):
            continue
        name = (el.findtext("Name") or el.tag).strip()
        path = f"{prefix}.{name}" if prefix else name
        ii = _int(el.findtext("PipelineII"))
        yield CsynthLoop(
            name=name,
            module=module,
            path=path,
            trip_count=_range(el.find("TripCount")),
            latency=_range(el.find("Latency")),
            iteration_latency=_range(el.find("IterationLatency")),
            ii=ii if el.findtext("PipelineType", "yes").strip() != "no" else None,
            depth=_range(el.find("PipelineDepth")),
        )
        yield from _loops(el, module, path)


def parse_csynth_xml(path: str | Path) -> CsynthReport:
    """Read ``solution1/syn/report/csynth.xml``: the top's figures and every module's loops."""
    root = _xml(path)
    if root.tag != "profile" or root.find("PerformanceEstimates") is None:
        raise ReportError(f"{path}: not a Vitis HLS csynth.xml (no <profile>/PerformanceEstimates)")
    ua = root.find("UserAssignments")
    top = (ua.findtext("TopModelName") if ua is not None else "") or ""
    perf = root.find("PerformanceEstimates")
    over = perf.find("SummaryOfOverallLatency") if perf is not None else None

    def num(parent: ET.Element | None, tag: str) -> float | None:
        t = parent.findtext(tag) if parent is not None else None
        try:
            return float(t) if t is not None else None
        except ValueError:
            return None

    def cycles(lo: str, hi: str) -> Range | None:
        a = _int(over.findtext(lo)) if over is not None else None
        b = _int(over.findtext(hi)) if over is not None else None
        return (a, b) if a is not None and b is not None else None

    area = root.find("AreaEstimates")
    timing = perf.find("SummaryOfTimingAnalysis") if perf is not None else None

    def res(tag: str) -> dict[str, int]:
        el = area.find(tag) if area is not None else None
        return {c.tag: v for c in (el if el is not None else []) if (v := _int(c.text)) is not None}

    loops: dict[tuple[str, str], CsynthLoop] = {}
    sources = [(top, perf.find("SummaryOfLoopLatency"))] if perf is not None else []
    for m in root.iterfind("ModuleInformation/Module"):
        sources.append(
            (m.findtext("Name", "").strip(), m.find("PerformanceEstimates/SummaryOfLoopLatency"))
        )
    for module, summary in sources:
        if summary is not None:
            for lp in _loops(summary, module):
                loops.setdefault((lp.module, lp.path), lp)
    return CsynthReport(
        version=root.findtext("ReportVersion/Version", "").strip(),
        part=(ua.findtext("Part") if ua is not None else "") or "",
        top=top,
        target_clock_ns=num(ua, "TargetClockPeriod"),
        estimated_clock_ns=num(timing, "EstimatedClockPeriod"),
        latency=cycles("Best-caseLatency", "Worst-caseLatency"),
        interval=cycles("Interval-min", "Interval-max"),
        resources=res("Resources"),
        available=res("AvailableResources"),
        loops=list(loops.values()),
    )


# ------------------------------------------------------------------ cosim.rpt
@dataclass(frozen=True)
class CosimResult:
    rtl: str  # Verilog | VHDL
    status: str  # Pass | Fail | NA
    latency: tuple[int | None, int | None, int | None]  # min, avg, max cycles per transaction
    interval: tuple[int | None, int | None, int | None]
    total_cycles: int | None  # whole testbench run (Vitis 2021+)


def parse_cosim_rpt(path: str | Path) -> dict[str, CosimResult]:
    """Read ``solution1/sim/report/<top>_cosim.rpt``: one result per RTL language."""
    out: dict[str, CosimResult] = {}
    for line in _read(path).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 8 or cells[0] not in ("Verilog", "VHDL", "SystemC"):
            continue
        v = [_int(c) for c in cells[2:]]
        out[cells[0]] = CosimResult(
            rtl=cells[0],
            status=cells[1],
            latency=(v[0], v[1], v[2]),
            interval=(v[3], v[4], v[5]),
            total_cycles=v[6] if len(v) > 6 else None,
        )
    if not out:
        raise ReportError(f"{path}: no RTL result rows (not a cosim report?)")
    return out


# ------------------------------------------------------------ Vivado headers
def vivado_header(text: str) -> dict[str, str]:
    """``| Tool Version : Vivado v.2023.1 ...`` lines of any Vivado report."""
    out: dict[str, str] = {}
    for m in re.finditer(
        r"^\| (Tool Version|Design|Device|Design State)\s*: (.*?)\s*$", text, re.M
    ):
        out[m.group(1).lower().replace(" ", "_")] = m.group(2)
    v = re.search(r"v\.?(\d{4}\.\d+(?:\.\d+)?)", out.get("tool_version", ""))
    if v:
        out["version"] = v.group(1)
    return out


# ----------------------------------------------------------- utilisation
#: report_utilization site types behind each summary key (UltraScale+ name, then 7-series).
UTILISATION_ROWS = {
    "LUT": ("CLB LUTs", "Slice LUTs"),
    "FF": ("CLB Registers", "Slice Registers"),
    "BRAM36": ("Block RAM Tile",),
    "URAM": ("URAM",),
    "DSP": ("DSPs",),
}


def _number(text: str) -> int | float | None:
    t = text.strip()
    if re.fullmatch(r"-?\d+", t):
        return int(t)
    try:
        return float(t)
    except ValueError:
        return None


def parse_utilization(path: str | Path) -> dict[str, Any]:
    """Read Vivado's ``report_utilization``: every table row, and a summary by resource.

    Returns ``{"header": {...}, "rows": {site type: {used, available, percent}},
    "summary": {LUT|FF|BRAM36|URAM|DSP: {used, available, percent}}}``; a
    resource the device lacks (URAM on a 7-series part) is absent.
    """
    text = _read(path)
    if "Utilization Design Information" not in text:
        raise ReportError(f"{path}: not a Vivado utilization report")
    rows: dict[str, dict[str, Any]] = {}
    cols: dict[str, int] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            if not line.startswith("+"):
                cols = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == "Site Type":
            cols = {c: i for i, c in enumerate(cells)}
            continue
        if cols is None or not {"Used", "Available"} <= cols.keys() or cells[0] in rows:
            continue
        pct = cols.get("Util%")
        rows[cells[0]] = {
            "used": _number(cells[cols["Used"]]),
            "available": _number(cells[cols["Available"]]),
            "percent": _number(cells[pct]) if pct is not None and pct < len(cells) else None,
        }
    summary = {}
    for key, names in UTILISATION_ROWS.items():
        for n in names:
            if n in rows:
                summary[key] = rows[n]
                break
    if "LUT" not in summary:
        raise ReportError(f"{path}: no LUT row in the utilization tables")
    return {"header": vivado_header(text), "rows": rows, "summary": summary}


# ---------------------------------------------------------------- timing
def parse_timing_summary(path: str | Path) -> dict[str, Any]:
    """Read Vivado's ``report_timing_summary``: the Design Timing Summary row and the clocks.

    Returns ``{"header", "wns_ns", "tns_ns", "tns_failing", "whs_ns", "ths_ns",
    "ths_failing", "wpws_ns", "met", "clocks": {name: {"period_ns", "mhz"}}}``;
    ``met`` is Vivado's own verdict ("All user specified timing constraints are met.").
    """
    text = _read(path)
    m = re.search(
        r"\| Design Timing Summary\n.*?\n\s*(WNS\(ns\).*?)\n\s*-[- ]+\n(.*?)\n", text, re.S
    )
    if not m:
        raise ReportError(f"{path}: no Design Timing Summary table (not report_timing_summary?)")
    names = re.split(r"\s{2,}", m.group(1).strip())
    values = m.group(2).split()
    row = dict(zip(names, values))

    def f(key: str) -> float | None:
        try:
            return float(row[key])
        except (KeyError, ValueError):
            return None

    clocks: dict[str, dict[str, float]] = {}
    c = re.search(r"\| Clock Summary\n.*?\nClock\s+Waveform.*?\n-+.*?\n(.*?)\n\n", text, re.S)
    for line in c.group(1).splitlines() if c else []:
        parts = line.split()
        if len(parts) >= 5:  # name {rise fall} period freq
            clocks[parts[0]] = {"period_ns": float(parts[-2]), "mhz": float(parts[-1])}
    return {
        "header": vivado_header(text),
        "wns_ns": f("WNS(ns)"),
        "tns_ns": f("TNS(ns)"),
        "tns_failing": _int(row.get("TNS Failing Endpoints")),
        "whs_ns": f("WHS(ns)"),
        "ths_ns": f("THS(ns)"),
        "ths_failing": _int(row.get("THS Failing Endpoints")),
        "wpws_ns": f("WPWS(ns)"),
        "met": "All user specified timing constraints are met." in text,
        "clocks": clocks,
    }


def violated_paths(path: str | Path, limit: int = 3) -> list[str]:
    """The first ``limit`` ``Slack (VIOLATED)`` path reports of a Vivado timing report."""
    blocks = re.split(r"\n(?=Slack(?: \(\w+\))?\s*:)", _read(path))
    return [b.strip("\n") for b in blocks if b.startswith("Slack (VIOLATED)")][:limit]


# ------------------------------------------------------------------- .hwh
@dataclass(frozen=True)
class HwhMaster:
    """One AXI master interface of an IP as the block design wired it."""

    interface: str  # m_axi_<bundle>
    targets: list[str]  # PS slave interfaces reached (S_AXI_HP0_FPD, ...)
    blocks: list[str]  # address blocks mapped (HP0_DDR_LOW, HP0_DDR_HIGH, ...)


@dataclass(frozen=True)
class HwhIp:
    instance: str
    vlnv: str
    base_address: int | None  # of s_axi_control, as the PS sees it
    address_range: int | None
    registers: dict[str, int]  # name -> byte offset (pynq's register map)
    masters: dict[str, HwhMaster]
    clock_hz: float | None  # ap_clk
    interrupt: list[str]  # "instance/port" the interrupt output drives


@dataclass(frozen=True)
class Hwh:
    vivado_version: str
    device: str
    board: str
    modules: dict[str, str]  # instance -> VLNV

    root: ET.Element = field(repr=False, compare=False)

    def ip(self, top: str) -> HwhIp:
        """The IP whose module type is ``top`` (an HLS IP is named after its top function)."""
        for m in self.root.iterfind("MODULES/MODULE"):
            if m.get("MODTYPE") == top:
                return _hwh_ip(self.root, m)
        known = sorted(self.modules.values())
        raise ReportError(f"no IP of type {top!r} in the .hwh (modules: {known})")


def parse_hwh(path: str | Path) -> Hwh:
    """Read a Vivado hardware handoff file (``<bd>.hwh``)."""
    root = _xml(path)
    if root.tag != "EDKSYSTEM":
        raise ReportError(f"{path}: not a .hwh (root <{root.tag}>, expected <EDKSYSTEM>)")
    info = root.find("SYSTEMINFO")
    info_get = info.get if info is not None else (lambda k, d="": d)
    return Hwh(
        vivado_version=root.get("VIVADOVERSION", ""),
        device=info_get("DEVICE", "") + info_get("PACKAGE", "") + info_get("SPEEDGRADE", ""),
        board=info_get("BOARD", ""),
        modules={m.get("INSTANCE", ""): m.get("VLNV", "") for m in root.iterfind("MODULES/MODULE")},
        root=root,
    )


def _hwh_ip(root: ET.Element, m: ET.Element) -> HwhIp:
    inst = m.get("INSTANCE", "")
    regs: dict[str, int] = {}
    for r in m.iterfind("ADDRESSBLOCKS/ADDRESSBLOCK/REGISTERS/REGISTER"):
        off = r.find("PROPERTY[@NAME='ADDRESS_OFFSET']")
        if off is not None:
            regs[r.get("NAME", "")] = int(off.get("VALUE", "0"), 0)
    base = high = None
    for mr in root.iterfind(".//MEMRANGE"):
        if mr.get("INSTANCE") == inst and mr.get("MEMTYPE") == "REGISTER":
            base, high = int(mr.get("BASEVALUE", "0"), 16), int(mr.get("HIGHVALUE", "0"), 16)
            break
    masters: dict[str, HwhMaster] = {}
    for mr in m.iterfind("MEMORYMAP/MEMRANGE"):
        name = mr.get("MASTERBUSINTERFACE", "")
        hm = masters.setdefault(name, HwhMaster(name, [], []))
        if mr.get("SLAVEBUSINTERFACE", "") not in hm.targets:
            hm.targets.append(mr.get("SLAVEBUSINTERFACE", ""))
        hm.blocks.append(mr.get("ADDRESSBLOCK", ""))
    clock = None
    irq: list[str] = []
    for p in m.iterfind("PORTS/PORT"):
        if p.get("NAME") == "ap_clk" and p.get("CLKFREQUENCY"):
            clock = float(p.get("CLKFREQUENCY", "0"))
        if p.get("SIGIS") == "INTERRUPT" and p.get("DIR") == "O":
            for c in p.iterfind("CONNECTIONS/CONNECTION"):
                irq.append(f"{c.get('INSTANCE')}/{c.get('PORT')}")
    return HwhIp(
        instance=inst,
        vlnv=m.get("VLNV", ""),
        base_address=base,
        address_range=None if base is None or high is None else high - base + 1,
        registers=regs,
        masters=masters,
        clock_hz=clock,
        interrupt=irq,
    )


def check_ip_interface(
    ip: HwhIp, interface: Mapping[str, Any], clock_mhz: float | None = None, tolerance: float = 0.01
) -> list[str]:
    """What in a built block design disagrees with the interface the export declares.

    ``interface`` is the manifest's ``interface`` (args with offsets, m_axi
    bundles). Checked: every register where the interface puts it (pynq's names:
    ``<ptr>_1``/``<ptr>_2`` for a pointer's low/high word), every bundle's master
    present and reaching DDR, no two bundles on one PS port, no unexpected
    master, the interrupt wired to the PS, the clock within ``tolerance``.
    Returns the problems (empty: it matches).
    """
    problems: list[str] = []
    expect = {"CTRL": 0}
    for a in interface["args"]:
        if a["kind"] == "pointer":
            expect[f"{a['name']}_1"], expect[f"{a['name']}_2"] = a["offset"], a["offset"] + 4
        else:
            expect[a["name"]] = a["offset"]
    for name, off in expect.items():
        got = ip.registers.get(name)
        if got is None:
            problems.append(f"register {name} (0x{off:02X}) is not in the IP's register map")
        elif got != off:
            problems.append(f"register {name} is at 0x{got:02X}, the interface says 0x{off:02X}")
    wanted = {f"m_axi_{b['bundle']}" for b in interface["m_axi"]}
    port_of: dict[str, str] = {}
    for name in sorted(wanted):
        m = ip.masters.get(name)
        if m is None:
            problems.append(f"{name} is not connected to any memory")
            continue
        if not any("DDR_LOW" in blk for blk in m.blocks):
            problems.append(f"{name} does not reach DDR (address blocks: {m.blocks})")
        for t in m.targets:
            if t in port_of:
                problems.append(f"{name} and {port_of[t]} share the PS port {t}")
            port_of[t] = name
    for name in sorted(set(ip.masters) - wanted):
        problems.append(f"{name} is a master the interface does not declare")
    if not any(c.rsplit("/", 1)[-1].startswith("pl_ps_irq") for c in ip.interrupt):
        problems.append(f"the interrupt of {ip.instance} is not connected to the PS (pl_ps_irq)")
    if clock_mhz and ip.clock_hz and abs(ip.clock_hz / 1e6 - clock_mhz) > tolerance * clock_mhz:
        problems.append(f"ap_clk is {ip.clock_hz / 1e6:.3f} MHz, the design says {clock_mhz} MHz")
    return problems
