"""The generated register package of the RTL engine (pymodel/export/rtl_regs.py).

``edgemoe_regs_pkg`` must say exactly what pymodel.export.regmap says for the
design it is generated for: every offset, every bit, the argument counts and
indices, and the address width the .hwh of that interface declares. Parsed
back from the text (no simulator needed). Its descriptor constants must be the
values the generated ``edgemoe_config.h`` gives the HLS C++ for the same design.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from host.hwh import write_hwh
from pymodel.export import (
    DESC_MAGIC,
    EXPORT_VERSION,
    GLOBAL_FIELDS,
    STATUS_CODES,
    Design,
    block_fields,
    config_header,
    interface,
    register_map,
    top_args,
)
from pymodel.export.regmap import CTRL_BITS, GIE_BITS, IRQ_BITS, control_addr_width
from pymodel.export.rtl_regs import ENGINE_PARAMS, PACKAGE, package_text, write_rtl_regs

DESIGNS = [Design(), Design(weight_ports=2), Design(weight_ports=1)]


def _params(text: str) -> dict[str, int]:
    """Every ``localparam int NAME = value;`` of the package (hex as 'hXX)."""
    out = {}
    for name, value in re.findall(r"localparam int (\w+) = ('h[0-9A-F]+|-?\d+);", text):
        assert name not in out, f"{name} defined twice"
        out[name] = int(value[2:], 16) if value.startswith("'h") else int(value)
    return out


def _function(text: str, name: str, addr_w: int) -> list[int]:
    """The case table of address function ``name``: the address for 0, 1, ..."""
    head = rf"function automatic logic \[ADDR_W-1:0\] {name}\(input int i\);(.*?)endfunction"
    body = re.search(head, text, re.S)
    assert body, f"no function {name}"
    cases = re.findall(rf"(\d+): \w+ = {addr_w}'h([0-9A-F]+);", body.group(1))
    assert [int(i) for i, _ in cases] == list(range(len(cases)))
    assert f"default: {name} = '1;" in body.group(1)
    return [int(v, 16) for _, v in cases]


def _hwh_addr_width(design: Design, tmp_path: Path) -> int:
    hwh = write_hwh(interface(design), tmp_path / "x.hwh")
    for p in ET.parse(hwh).iter("PARAMETER"):
        if p.get("NAME") == "C_S_AXI_CONTROL_ADDR_WIDTH":
            return int(p.get("VALUE", ""))
    raise AssertionError("no C_S_AXI_CONTROL_ADDR_WIDTH in the .hwh")


@pytest.mark.parametrize("design", DESIGNS, ids=lambda d: f"{d.weight_ports}ports")
def test_package_matches_the_register_map(design: Design, tmp_path: Path) -> None:
    text = package_text(design)
    assert f"package {PACKAGE};" in text and f"endpackage : {PACKAGE}" in text
    assert interface(design)["hash"] in text
    p = _params(text)
    regs = register_map(design)
    assert {k[4:]: v for k, v in p.items() if k.startswith("OFF_")} == regs
    assert p["LAST_OFF"] == max(regs.values())
    assert p["ADDR_W"] == control_addr_width(design) == _hwh_addr_width(design, tmp_path)
    assert (1 << p["ADDR_W"]) > p["LAST_OFF"] and p["DATA_W"] == 32
    assert {k[5:].lower(): v for k, v in p.items() if k.startswith("CTRL_")} == CTRL_BITS
    assert {k[4:].lower(): v for k, v in p.items() if k.startswith("GIE_")} == GIE_BITS
    irq = {k[4:].lower(): v for k, v in p.items() if k.startswith("IRQ_") and k[4:] in
           {b.upper() for b in IRQ_BITS}}  # fmt: skip
    assert irq == IRQ_BITS
    assert p["IRQ_MASK"] == sum(1 << b for b in IRQ_BITS.values())
    assert p["IRQ_W"] == max(IRQ_BITS.values()) + 1
    args = top_args(design)
    kinds = {"pointer": "PTR", "scalar_in": "SIN", "scalar_out": "SOUT"}
    for kind, prefix in kinds.items():
        mine = [a for a in args if a.kind == kind]
        assert p[f"N_{prefix}"] == len(mine)
        assert [p[f"{prefix}_{a.name.upper()}"] for a in mine] == list(range(len(mine)))
    ptrs = [a for a in args if a.kind == "pointer"]
    w = p["ADDR_W"]
    assert p["N_PTR"] == design.weight_ports + 2 and p["WEIGHT_PORTS"] == design.weight_ports
    assert _function(text, "ptr_lo_off", w) == [a.offset for a in ptrs]
    assert _function(text, "ptr_hi_off", w) == [regs[f"{a.name.upper()}_HI"] for a in ptrs]
    assert _function(text, "sin_off", w) == [a.offset for a in args if a.kind == "scalar_in"]
    outs = [a for a in args if a.kind == "scalar_out"]
    assert _function(text, "sout_off", w) == [a.offset for a in outs]
    assert _function(text, "sout_vld_off", w) == [regs[f"{a.name.upper()}_CTRL"] for a in outs]


def test_designs_with_other_weight_ports_get_other_offsets() -> None:
    """Two weight ports: no WGT2/WGT3, io and the scalars move down by two pointers."""
    four, two = _params(package_text(Design())), _params(package_text(Design(weight_ports=2)))
    assert "OFF_WGT2_LO" in four and "OFF_WGT2_LO" not in two and "PTR_WGT3" not in two
    assert four["OFF_IO_LO"] - two["OFF_IO_LO"] == 2 * 12
    assert four["OFF_STATUS_CTRL"] - two["OFF_STATUS_CTRL"] == 2 * 12
    assert (four["PTR_IO"], two["PTR_IO"]) == (5, 3)


def test_write_rtl_regs_writes_only_when_changed(tmp_path: Path) -> None:
    path = write_rtl_regs(tmp_path)
    assert path == tmp_path / f"{PACKAGE}.sv" and path.read_text() == package_text()
    stamp = path.stat().st_mtime_ns
    assert write_rtl_regs(tmp_path).stat().st_mtime_ns == stamp  # unchanged: not rewritten
    write_rtl_regs(tmp_path, Design(weight_ports=3))
    assert path.read_text() == package_text(Design(weight_ports=3))


def _header_values(header: str) -> dict[str, int]:
    """Every ``#define NAME int`` and every ``NAME = int`` enum entry of edgemoe_config.h."""
    out: dict[str, int] = {}
    for name, value in re.findall(
        r"^#define (\w+) (0x[0-9A-F]+u?|-?\d+)\s*(?://.*)?$", header, re.M
    ):
        out[name] = int(value.rstrip("u"), 0)
    for name, value in re.findall(r"^\s+(\w+) = (\d+),?\s*(?://.*)?$", header, re.M):
        out[name] = int(value)
    for name, value in re.findall(r"\b(ROUTER_\w+) = (\d+)", header):
        out[name] = int(value)
    return out


DESC_DESIGNS = [Design(), Design().with_(tasks=3, tokens=200, hidden=512), Design(hidden_chunk=256)]


@pytest.mark.parametrize("design", DESC_DESIGNS, ids=["default", "small-maxima", "hc256"])
def test_package_has_the_descriptor_constants_of_the_header(design: Design) -> None:
    """GD_*, BD_*, STATUS_*, DESC_MAGIC/VERSION, ROUTER_*, MAX_*, HC, WEIGHT_W and the
    table lengths: the values edgemoe_config.h gets for the same design (both
    activation widths: none of them depends on it), each name once."""
    p = _params(package_text(design))
    prefixes = ("GD_", "BD_", "STATUS_", "DESC_", "ROUTER_", "MAX_", "TABLE_")
    extra = {"BD_BLOCK_W", "BD_FIELD_W", *(n.upper() for n in ENGINE_PARAMS)}  # not in the header
    mine = {
        k: v
        for k, v in p.items()
        if (k.startswith(prefixes) or k in ("HC", "WEIGHT_W")) and k not in extra
    }
    for act_w in (16, 32):
        h = _header_values(config_header(act_w, design))
        want = {k: v for k, v in h.items() if k.startswith(prefixes) or k == "HC"}
        del want["ROUTER_LANES"]  # a design macro (router lanes), not a router kind
        want["WEIGHT_W"] = h["EDGEMOE_WEIGHT_W"]
        assert mine == want
    # and from the owners directly
    assert [p[f"GD_{n.upper()}"] for n in GLOBAL_FIELDS] == list(range(len(GLOBAL_FIELDS)))
    assert p["GD_COUNT"] == len(GLOBAL_FIELDS)
    bf = block_fields(design.maxima.tasks)
    assert [p[f"BD_{n.upper()}"] for n in bf] == list(range(len(bf))) and p["BD_COUNT"] == len(bf)
    assert {k[7:]: v for k, v in p.items() if k.startswith("STATUS_")} == STATUS_CODES
    assert (p["DESC_MAGIC"], p["DESC_VERSION"]) == (DESC_MAGIC, EXPORT_VERSION)
    assert p["MAX_TASKS"] == design.maxima.tasks and p["HC"] == design.hidden_chunk
    assert p["MAX_K"] == design.maxima.k_max
    assert 2 ** p["BD_BLOCK_W"] >= design.maxima.depth and 2 ** p["BD_FIELD_W"] >= len(bf)
    assert all(p[n.upper()] == getattr(design, n) for n in ENGINE_PARAMS)


def test_block_descriptor_size_follows_the_task_maximum() -> None:
    """Three per-task slots per task (gate format, gate offset, feature offset)."""
    five = _params(package_text(Design()))
    three = _params(package_text(Design().with_(tasks=3)))
    assert five["BD_COUNT"] - three["BD_COUNT"] == 3 * 2
    assert "BD_OFF_FEATURE_4" in five and "BD_OFF_FEATURE_3" not in three
