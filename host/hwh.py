"""Vivado hardware handoff (``.hwh``) files of the engine: write one, read and check one.

:func:`write_hwh` writes the ``.hwh`` of a ZCU104 block design holding the
engine IP (``xilinx.com:hls:edgemoe_top:1.0``) and the Zynq UltraScale+ PS
from the export's ``interface`` (arguments, register map, AXI bundles), in the
schema Vivado writes. The simulated board loads it through ``pynq.Overlay``;
the bitstream flow's tests reuse it. The schema follows real files: the PS
module (parameters, ``M_AXI_HPM0_FPD`` memory map, HP slave ports) of
``boards/ZCU104/base/base.hwh`` in Xilinx/PYNQ (commit 7d7426e1, Vivado
2018.3), and the register block of an HLS IP (CTRL/GIER/IP_IER/IP_ISR with
their fields, then one register per argument word) of
``pynqmetadata/tests/hwhs/resizer.hwh`` (Xilinx PYNQ-Metadata, Vivado 2019.2).
Vitis HLS names a 64-bit pointer's words ``<arg>_1``/``<arg>_2`` and an
output scalar's ap_vld word ``<arg>_ctrl``.

:func:`read_engine` parses a ``.hwh`` with pynq's own parser
(``pynqmetadata``, what ``pynq.Overlay`` uses) and :func:`check_registers`
compares the engine's registers with the export's register map.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence
from xml.etree import ElementTree as ET

from .errors import BitstreamError

#: HP slave ports of the ZCU104 PS in the order bundles take them (HP0..HP3, then HPC0).
HP_PORTS = (
    ("S_AXI_HP0_FPD", "saxigp2"),
    ("S_AXI_HP1_FPD", "saxigp3"),
    ("S_AXI_HP2_FPD", "saxigp4"),
    ("S_AXI_HP3_FPD", "saxigp5"),
    ("S_AXI_HPC0_FPD", "saxigp0"),
)
#: What every HP port reaches: PS DDR low (2 GiB) and the high DDR window.
DDR_RANGES = (("DDR_LOW", 0x0, 0x7FFFFFFF), ("DDR_HIGH", 0x800000000, 0x87FFFFFFF))


def _signals(spec: str) -> tuple[tuple[str, str, int], ...]:
    """``"NAME:DIR:WIDTH ..."`` -> ((name, direction seen by the IP, width), ...)."""
    return tuple((n, d, int(w)) for n, d, w in (item.split(":") for item in spec.split()))


#: AXI4-Lite signals of the s_axi_control slave (width 0: the address width).
AXILITE = _signals(
    "AWADDR:I:0 AWVALID:I:1 AWREADY:O:1 WDATA:I:32 WSTRB:I:4 WVALID:I:1 WREADY:O:1 "
    "BRESP:O:2 BVALID:O:1 BREADY:I:1 ARADDR:I:0 ARVALID:I:1 ARREADY:O:1 RDATA:O:32 "
    "RRESP:O:2 RVALID:O:1 RREADY:I:1"
)
#: AXI4 signals of an m_axi master (width 0: the address width).
AXI4 = _signals(
    "AWADDR:O:0 AWLEN:O:8 AWSIZE:O:3 AWBURST:O:2 AWCACHE:O:4 AWPROT:O:3 AWVALID:O:1 "
    "AWREADY:I:1 WDATA:O:128 WSTRB:O:16 WLAST:O:1 WVALID:O:1 WREADY:I:1 BRESP:I:2 "
    "BVALID:I:1 BREADY:O:1 ARADDR:O:0 ARLEN:O:8 ARSIZE:O:3 ARBURST:O:2 ARCACHE:O:4 "
    "ARPROT:O:3 ARVALID:O:1 ARREADY:I:1 RDATA:I:128 RRESP:I:2 RLAST:I:1 RVALID:I:1 "
    "RREADY:O:1"
)
CONTROL_REGS = {"CTRL": "CTRL", "GIE": "GIER", "IER": "IP_IER", "ISR": "IP_ISR"}


@dataclass
class HwhRegister:
    """One register of the engine's s_axilite block as a ``.hwh`` lists it."""

    name: str
    offset: int
    access: str  # read-write | read-only | write-only
    description: str
    fields: list[tuple[str, int, int, str, str]] = field(default_factory=list)
    # (name, bit offset, bit width, access, description)


def register_names(interface: dict[str, Any]) -> dict[str, str]:
    """Register map name (``PARAMS_LO``, ``STATUS_CTRL`` ...) -> ``.hwh`` register name."""
    names = dict(CONTROL_REGS)
    for a in interface["args"]:
        up, n = a["name"].upper(), a["name"]
        if a["kind"] == "pointer":
            names[f"{up}_LO"], names[f"{up}_HI"] = f"{n}_1", f"{n}_2"
        elif a["kind"] == "scalar_in":
            names[up] = n
        else:
            names[up], names[f"{up}_CTRL"] = n, f"{n}_ctrl"
    return names


def engine_registers(interface: dict[str, Any]) -> list[HwhRegister]:
    """The registers Vitis HLS lists for the top function's s_axilite block."""
    ro, rw, wo = "read-only", "read-write", "write-only"
    ctrl = [
        (k.upper(), b, 1, rw if k in ("ap_start", "auto_restart") else ro,
         f"Control signal Register for '{k}'.")
        for k, b in sorted(interface["ctrl_bits"].items(), key=lambda kv: kv[1])
    ]  # fmt: skip
    irq = sorted(interface["irq_bits"].items(), key=lambda kv: kv[1])
    enable = [(f"CHAN{b}_INT_EN", b, 1, rw, f"Enable Channel {b} ({k}) Interrupt.") for k, b in irq]
    status = [(f"CHAN{b}_INT_ST", b, 1, ro, f"Channel {b} ({k}) Interrupt Status.") for k, b in irq]
    regs = [
        HwhRegister("CTRL", 0x00, rw, "Control signals", ctrl),
        HwhRegister("GIER", 0x04, rw, "Global Interrupt Enable Register",
                    [("Enable", 0, 1, rw, "Master enable for the device interrupt output")]),
        HwhRegister("IP_IER", 0x08, rw, "IP Interrupt Enable Register", enable),
        HwhRegister("IP_ISR", 0x0C, rw, "IP Interrupt Status Register", status),
    ]  # fmt: skip

    def data(name: str, off: int, access: str, what: str, lo: int = 0, hi: int = 31) -> None:
        field = (what, 0, 32, access, f"Bit {hi} to {lo} Data signal of {what}")
        regs.append(HwhRegister(name, off, access, f"Data signal of {what}", [field]))

    for a in interface["args"]:
        n, off = a["name"], a["offset"]
        if a["kind"] == "pointer":  # a 64-bit address: low word, high word
            data(f"{n}_1", off, wo, n)
            data(f"{n}_2", off + 4, wo, n, 32, 63)
        elif a["kind"] == "scalar_in":
            data(n, off, wo, n)
        else:  # an output scalar and its ap_vld word (clear on read)
            data(n, off, ro, n)
            vld = (f"{n}_ap_vld", 0, 1, ro, f"Control signal {n}_ap_vld")
            regs.append(HwhRegister(f"{n}_ctrl", off + 4, ro, f"Control signal of {n}", [vld]))
    return regs


# ------------------------------------------------------------------------ writing
def _sub(parent: ET.Element, tag: str, **attrs: Any) -> ET.Element:
    return ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})


def _params(parent: ET.Element, params: Sequence[tuple[str, Any]]) -> None:
    block = _sub(parent, "PARAMETERS")
    for name, value in params:
        _sub(block, "PARAMETER", NAME=name, VALUE=value)


def _port(
    parent: ET.Element,
    name: str,
    direction: str,
    width: int,
    signame: str,
    peer: tuple[str, str],
    **extra: Any,
) -> None:
    attrs = {"DIR": direction, "NAME": name, "SIGIS": extra.pop("SIGIS", "undef")}
    if width > 1:
        attrs.update(LEFT=width - 1, RIGHT=0)
    if signame:
        attrs["SIGNAME"] = signame
    attrs.update(extra)
    p = _sub(parent, "PORT", **attrs)
    if signame:
        _sub(_sub(p, "CONNECTIONS"), "CONNECTION", INSTANCE=peer[0], PORT=peer[1])


def _bus(
    parent: ET.Element,
    busname: str,
    name: str,
    kind: str,
    vlnv: str,
    signals: Sequence[tuple[str, str]],
    params: Sequence[tuple[str, Any]] = (),
) -> None:
    b = _sub(parent, "BUSINTERFACE", BUSNAME=busname, NAME=name, TYPE=kind, VLNV=vlnv)
    for pname, value in params:
        _sub(b, "PARAMETER", NAME=pname, VALUE=value)
    maps = _sub(b, "PORTMAPS")
    for logical, physical in signals:
        _sub(maps, "PORTMAP", LOGICAL=logical, PHYSICAL=physical)


def _memrange(
    parent: ET.Element,
    block: str,
    base: int,
    high: int,
    instance: str,
    master: str,
    memtype: str,
    slave: str,
    basename: str = "C_BASEADDR",
) -> None:
    _sub(
        parent,
        "MEMRANGE",
        ADDRESSBLOCK=block,
        BASENAME=basename,
        BASEVALUE=f"0x{base:08X}",
        HIGHNAME=basename.replace("BASE", "HIGH"),
        HIGHVALUE=f"0x{high:08X}",
        INSTANCE=instance,
        IS_DATA="TRUE",
        IS_INSTRUCTION="TRUE",
        MASTERBUSINTERFACE=master,
        MEMTYPE=memtype,
        SLAVEBUSINTERFACE=slave,
    )


def _indent(e: ET.Element, level: int = 0) -> None:
    pad = "\n" + "  " * (level + 1)
    if len(e):
        e.text = pad
        for child in e:
            _indent(child, level + 1)
            child.tail = pad
        e[-1].tail = "\n" + "  " * level


def write_hwh(
    interface: dict[str, Any],
    path: str | Path,
    *,
    instance: str = "edgemoe_top_0",
    clock_mhz: float = 300.0,
    base_address: int = 0xA0000000,
    bd_name: str = "edgemoe",
    vivado_version: str = "2023.2",
) -> Path:
    """Write the ``.hwh`` of a ZCU104 design with the engine IP described by ``interface``.

    The IP's s_axi_control sits at ``base_address`` (64 KiB) behind the PS's
    ``M_AXI_HPM0_FPD``; each m_axi bundle is wired to its own HP port (in the order
    of ``interface["m_axi"]``) reaching PS DDR; ``ap_clk`` runs on ``pl_clk0`` at
    ``clock_mhz``. The interrupt output is left unconnected (the host polls).
    """
    top, ps = interface["top"], "zynq_ultra_ps_e_0"
    bundles = [b["bundle"] for b in interface["m_axi"]]
    if len(bundles) > len(HP_PORTS):
        raise ValueError(f"{len(bundles)} AXI masters but the ZCU104 PS has {len(HP_PORTS)}")
    span = max(interface["register_map"].values()) + 4
    addr_w = max(4, math.ceil(math.log2(span)))
    root = ET.Element(
        "EDKSYSTEM",
        EDWVERSION="1.2",
        TIMESTAMP=time.strftime("%a %b %d %H:%M:%S %Y"),
        VIVADOVERSION=vivado_version,
    )
    _sub(
        root,
        "SYSTEMINFO",
        ARCH="zynquplus",
        BOARD="xilinx.com:zcu104:part0:1.1",
        DEVICE="xczu7ev",
        NAME=bd_name,
        PACKAGE="ffvc1156",
        SPEEDGRADE="-2",
    )
    _sub(root, "EXTERNALPORTS")
    _sub(root, "EXTERNALINTERFACES")
    mods = _sub(root, "MODULES")

    # ---- the engine IP
    ip = _sub(
        mods,
        "MODULE",
        FULLNAME=f"/{instance}",
        HWVERSION="1.0",
        INSTANCE=instance,
        IPTYPE="PERIPHERAL",
        IS_ENABLE="1",
        MODCLASS="PERIPHERAL",
        MODTYPE=top,
        VLNV=f"xilinx.com:hls:{top}:1.0",
    )
    _sub(ip, "DOCUMENTS")
    block = _sub(
        _sub(ip, "ADDRESSBLOCKS"),
        "ADDRESSBLOCK",
        ACCESS="read-write",
        INTERFACE="s_axi_control",
        NAME="Reg",
        RANGE=65536,
        USAGE="register",
    )
    regs = _sub(block, "REGISTERS")
    for r in engine_registers(interface):
        reg = _sub(regs, "REGISTER", NAME=r.name)
        for pname, value in (
            ("DESCRIPTION", r.description),
            ("ADDRESS_OFFSET", r.offset),
            ("SIZE", 32),
            ("ACCESS", r.access),
            ("IS_ENABLED", "true"),
            ("RESET_VALUE", 0),
        ):
            _sub(reg, "PROPERTY", NAME=pname, VALUE=value)
        flds = _sub(reg, "FIELDS")
        for fname, bit, width, access, desc in r.fields:
            f = _sub(flds, "FIELD", NAME=fname)
            for pname, value in (
                ("DESCRIPTION", desc),
                ("ADDRESS_OFFSET", bit),
                ("ACCESS", access),
                ("MODIFIED_READ_VALUES", ""),
                ("WRITE_CONSTRAINT", 0),
                ("READ_ACTION", ""),
                ("BIT_OFFSET", bit),
                ("BIT_WIDTH", width),
            ):
                _sub(f, "PROPERTY", NAME=pname, VALUE=value)
    high = base_address + 0xFFFF
    ip_params = [("C_S_AXI_CONTROL_ADDR_WIDTH", addr_w), ("C_S_AXI_CONTROL_DATA_WIDTH", 32)]
    for b in bundles:
        up = b.upper()
        ip_params += [(f"C_M_AXI_{up}_ADDR_WIDTH", 64), (f"C_M_AXI_{up}_DATA_WIDTH", 128)]
    ip_params += [
        ("Component_Name", f"{bd_name}_{instance}"),
        ("clk_period", f"{1e3 / clock_mhz:g}"),
        ("machine", 64),
        ("combinational", 0),
        ("latency", "undef"),
        ("II", "x"),
        ("EDK_IPTYPE", "PERIPHERAL"),
        ("C_S_AXI_CONTROL_BASEADDR", f"0x{base_address:08X}"),
        ("C_S_AXI_CONTROL_HIGHADDR", f"0x{high:08X}"),
    ]
    _params(ip, ip_params)
    ports = _sub(ip, "PORTS")
    buses = []
    for sig, d, w in AXILITE:
        phys = f"s_axi_control_{sig}"
        _port(
            ports,
            phys,
            d,
            w or addr_w,
            f"{ps}_M_AXI_HPM0_FPD_{sig.lower()}",
            (ps, f"maxigp0_{sig.lower()}"),
        )
    buses.append(
        (
            "s_axi_control",
            "SLAVE",
            [(s, f"s_axi_control_{s}") for s, _, _ in AXILITE],
            f"{ps}_M_AXI_HPM0_FPD",
            [("PROTOCOL", "AXI4LITE"), ("DATA_WIDTH", 32)],
        )
    )
    for b, (_hp, prefix) in zip(bundles, HP_PORTS):
        for sig, d, w in AXI4:
            _port(
                ports,
                f"m_axi_{b}_{sig}",
                d,
                w or 64,
                f"{instance}_m_axi_{b}_{sig.lower()}",
                (ps, f"{prefix}_{sig.lower()}"),
            )
        buses.append(
            (
                f"m_axi_{b}",
                "MASTER",
                [(s, f"m_axi_{b}_{s}") for s, _, _ in AXI4],
                f"{instance}_m_axi_{b}",
                [("PROTOCOL", "AXI4"), ("DATA_WIDTH", 128)],
            )
        )
    clk = f"{ps}_pl_clk0"
    _port(
        ports,
        "ap_clk",
        "I",
        1,
        clk,
        (ps, "pl_clk0"),
        SIGIS="clk",
        CLKFREQUENCY=int(clock_mhz * 1e6),
    )
    _port(ports, "ap_rst_n", "I", 1, f"{ps}_pl_resetn0", (ps, "pl_resetn0"), SIGIS="rst")
    _port(ports, "interrupt", "O", 1, "", ("", ""), SIGIS="INTERRUPT", SENSITIVITY="LEVEL_HIGH")
    bifs = _sub(ip, "BUSINTERFACES")
    for name, kind, sigs, busname, params in buses:
        _bus(bifs, busname, name, kind, "xilinx.com:interface:aximm:1.0", sigs, params)
    _bus(
        bifs,
        "__NOC__",
        "interrupt",
        "INITIATOR",
        "xilinx.com:signal:interrupt:1.0",
        [("INTERRUPT", "interrupt")],
        [("SENSITIVITY", "LEVEL_HIGH")],
    )
    mm = _sub(ip, "MEMORYMAP")
    for b, (hp, _) in zip(bundles, HP_PORTS):
        for name, lo, hi in DDR_RANGES:
            _memrange(mm, f"{hp[6:9]}_{name}", lo, hi, ps, f"m_axi_{b}", "MEMORY", hp)

    # ---- the processing system
    mod = _sub(
        mods,
        "MODULE",
        CONFIGURABLE="TRUE",
        FULLNAME=f"/{ps}",
        HWVERSION="3.5",
        INSTANCE=ps,
        IPTYPE="PERIPHERAL",
        IS_ENABLE="1",
        IS_PL="FALSE",
        MODTYPE="zynq_ultra_ps_e",
        VLNV="xilinx.com:ip:zynq_ultra_ps_e:3.5",
    )
    _sub(mod, "DOCUMENTS")
    ps_params: list[tuple[str, Any]] = [("C_MAXIGP0_DATA_WIDTH", 128)]
    ps_params += [(f"C_SAXIGP{p[-1]}_DATA_WIDTH", 128) for _, p in HP_PORTS[: len(bundles)]]
    divisor = max(1, round(1500.0 / clock_mhz))  # RPLL at 1500 MHz
    for i in range(4):
        ps_params += [
            (f"PSU__FPGA_PL{i}_ENABLE", int(i == 0)),
            (f"PSU__CRL_APB__PL{i}_REF_CTRL__DIVISOR0", divisor if i == 0 else 4),
            (f"PSU__CRL_APB__PL{i}_REF_CTRL__DIVISOR1", 1),
            (f"PSU__CRL_APB__PL{i}_REF_CTRL__SRCSEL", "RPLL" if i == 0 else "IOPLL"),
        ]
    ps_params += [
        ("PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ", f"{clock_mhz:g}"),
        ("PSU__CRL_APB__PL0_REF_CTRL__ACT_FREQMHZ", f"{1500.0 / divisor:.6f}"),
        ("PSU__USE__M_AXI_GP0", 1),
    ]
    _params(mod, ps_params)
    ports = _sub(mod, "PORTS")
    flip = {"I": "O", "O": "I"}
    for sig, d, w in AXILITE:
        _port(
            ports,
            f"maxigp0_{sig.lower()}",
            flip[d],
            w or 40,
            f"{ps}_M_AXI_HPM0_FPD_{sig.lower()}",
            (instance, f"s_axi_control_{sig}"),
        )
    for b, (_hp, prefix) in zip(bundles, HP_PORTS):
        for sig, d, w in AXI4:
            _port(
                ports,
                f"{prefix}_{sig.lower()}",
                flip[d],
                w or 49,
                f"{instance}_m_axi_{b}_{sig.lower()}",
                (instance, f"m_axi_{b}_{sig}"),
            )
    _port(
        ports,
        "pl_clk0",
        "O",
        1,
        clk,
        (instance, "ap_clk"),
        SIGIS="clk",
        CLKFREQUENCY=int(clock_mhz * 1e6),
    )
    _port(ports, "pl_resetn0", "O", 1, f"{ps}_pl_resetn0", (instance, "ap_rst_n"), SIGIS="rst")
    bifs = _sub(mod, "BUSINTERFACES")
    _bus(
        bifs,
        f"{ps}_M_AXI_HPM0_FPD",
        "M_AXI_HPM0_FPD",
        "MASTER",
        "xilinx.com:interface:aximm:1.0",
        [(s, f"maxigp0_{s.lower()}") for s, _, _ in AXILITE],
        [("PROTOCOL", "AXI4"), ("DATA_WIDTH", 128), ("ADDR_WIDTH", 40)],
    )
    for b, (hp, prefix) in zip(bundles, HP_PORTS):
        _bus(
            bifs,
            f"{instance}_m_axi_{b}",
            hp,
            "SLAVE",
            "xilinx.com:interface:aximm:1.0",
            [(s, f"{prefix}_{s.lower()}") for s, _, _ in AXI4],
            [("PROTOCOL", "AXI4"), ("DATA_WIDTH", 128), ("ADDR_WIDTH", 49)],
        )
    mm = _sub(mod, "MEMORYMAP")
    _memrange(
        mm,
        "Reg",
        base_address,
        high,
        instance,
        "M_AXI_HPM0_FPD",
        "REGISTER",
        "s_axi_control",
        "C_S_AXI_CONTROL_BASEADDR",
    )
    _sub(_sub(mod, "PERIPHERALS"), "PERIPHERAL", INSTANCE=instance)

    _indent(root)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ET.tostring(root, encoding="unicode")
    path.write_text('<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n' + text + "\n")
    return path


# ------------------------------------------------------------------------ reading
def parse_hwh(path: str | Path) -> Any:
    """Parse a ``.hwh`` with pynq's runtime metadata parser (what ``pynq.Overlay`` uses)."""
    path = Path(path)
    if not path.is_file():
        raise BitstreamError(f"{path} does not exist")
    try:
        from pynqmetadata.frontends import Metadata
        from pynqmetadata.views.runtime import RuntimeMetadataParser
    except ImportError:
        raise BitstreamError(
            "reading a .hwh needs the pynq package: pip install pynq==4.0.0"
        ) from None
    try:
        return RuntimeMetadataParser(Metadata(input=path))
    except Exception as exc:  # the parser raises many types on malformed files
        raise BitstreamError(f"{path}: not a hardware handoff pynq can parse ({exc})") from exc


def find_engine(ip_dict: dict[str, Any], vlnv: str, name: str = "") -> str:
    """The ip_dict key of the engine: the IP of type ``vlnv`` (or the one named ``name``)."""
    if name:
        if name not in ip_dict:
            raise BitstreamError(f"no IP named {name!r} in the design (IPs: {sorted(ip_dict)})")
        if ip_dict[name].get("type") != vlnv:
            raise BitstreamError(f"IP {name!r} is a {ip_dict[name].get('type')}, not {vlnv}")
        return name
    hits = [k for k, v in ip_dict.items() if v.get("type") == vlnv]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        found = ", ".join(f"{k} ({v.get('type')})" for k, v in sorted(ip_dict.items()))
        raise BitstreamError(f"no IP of type {vlnv} in the design (it has: {found or 'none'})")
    raise BitstreamError(f"several IPs of type {vlnv} ({hits}): name the one to use")


def read_engine(path: str | Path, vlnv: str, name: str = "") -> tuple[str, dict[str, Any]]:
    """(instance, its ip_dict entry) of the engine in the ``.hwh`` at ``path``."""
    parser = parse_hwh(path)
    key = find_engine(parser.ip_dict, vlnv, name)
    return key, parser.ip_dict[key]


def check_registers(registers: dict[str, dict[str, Any]], interface: dict[str, Any]) -> list[str]:
    """Differences between a ``.hwh``'s engine registers and the interface's register map.

    ``registers`` is the ``registers`` entry of the engine in pynq's ip_dict. Empty
    when every register of the map is in the ``.hwh`` at the same offset and the
    ``.hwh`` has no register the map lacks.
    """
    problems = []
    names = register_names(interface)
    for reg, offset in interface["register_map"].items():
        hwh_name = names[reg]
        if hwh_name not in registers:
            problems.append(f"register {hwh_name} ({reg}) is not in the .hwh")
        elif registers[hwh_name]["address_offset"] != offset:
            problems.append(
                f"register {hwh_name} ({reg}) is at {registers[hwh_name]['address_offset']:#x} "
                f"in the .hwh, at {offset:#x} in the export's register map"
            )
    extra = sorted(set(registers) - set(names.values()))
    if extra:
        problems.append(f"the .hwh has registers the export does not know: {extra}")
    return problems
