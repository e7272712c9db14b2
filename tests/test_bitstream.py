"""``make bitstream`` without Vivado: hls/tcl/vivado_zcu104.tcl and hls/tcl/package_rtl_ip.tcl
under tclsh stand-ins, the flow end to end (ENGINE=hls and rtl), the bitstream manifest's
schema and the missing-tool messages.

The Vivado scripts run on settings written by the real sim.bitstream_flow from
real export manifests; the stand-in (tests/tcl/fake_tool.tcl) records every
Vivado command and copies real Vivado reports (tests/fixtures/tool_reports)
where the script asks for them. No test here has run a real Vivado.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pymodel.numerics.hwmath import SPEC, tables
from sim import bitstream_flow as bf
from sim import rtl
from sim.hls_flow import read_manifest
from sim.xilinx_tools import BOARDS, MISSING, ip_vlnv, write_settings

from .tool_harness import (
    FIXTURES,
    ROOT,
    calls,
    command_count,
    fake_tools,
    run_fake,
    stub_env,
    tiny_export,
)

ZCU104 = BOARDS["zcu104"]
TIMING_PASS = FIXTURES / "timing_summary_2023.1_pass.rpt"
TIMING_FAIL = FIXTURES / "timing_summary_2023.1_fail.rpt"
PATHS = FIXTURES / "timing_paths_2023.1_violated.rpt"
UTIL = FIXTURES / "utilization_placed_2023.1_xczu3eg.rpt"


def design_manifest(weight_ports: int = 1, clock_mhz: float = 300.0) -> dict:
    """The manifest keys the Vivado flow reads, from pymodel.export's own owners."""
    from pymodel.export import Design, interface

    d = Design(weight_ports=weight_ports, clock_mhz=clock_mhz)
    return {"design": d.to_dict(), "interface": interface(d), "act_w": 16}


def run_vivado(tmp_path: Path, manifest: dict, board_parts: str = ZCU104.board_part, **stubs):
    """vivado_zcu104.tcl under the stand-in; returns (process, calls, out_dir)."""
    repo = tmp_path / "ip_repo"
    repo.mkdir(exist_ok=True)
    out = tmp_path / "out"
    values = bf.vivado_settings(manifest, ZCU104, tmp_path / "build", repo, out, jobs=2)
    settings = write_settings(tmp_path / "vivado_settings.tcl", values)
    log = tmp_path / "calls.log"
    log.unlink(missing_ok=True)
    stubs = {"util": UTIL, "timing": TIMING_PASS, "paths": PATHS, **stubs}
    env = stub_env(tmp_path, log, board_parts=board_parts, **stubs)
    proc = run_fake("vivado", bf.VIVADO_TCL, settings, env)
    return proc, calls(log), out


def dict_props(cl: list[list[str]]) -> dict[str, str]:
    """CONFIG.* values of every ``set_property -dict`` call, in order (later wins)."""
    props: dict[str, str] = {}
    for c in cl:
        if c[0] == "set_property" and c[1] == "-dict":
            props.update(w.split("=", 1) for w in c[2:-1])
    return props


def test_vivado_script_parses():
    assert command_count(bf.VIVADO_TCL) > 60


@pytest.mark.parametrize("weight_ports", [1, 3])
def test_one_hp_port_per_bundle_from_the_manifest(tmp_path, weight_ports):
    m = design_manifest(weight_ports)
    bundles = [b["bundle"] for b in m["interface"]["m_axi"]]
    assert bundles == ["gmem_io"] + [f"gmem_w{p}" for p in range(weight_ports)]
    proc, cl, out = run_vivado(tmp_path, m)
    assert proc.returncode == 0, proc.stderr
    props = dict_props(cl)
    ports = ZCU104.hp_ports[: len(bundles)]
    for _, gp in ports:
        assert props[f"CONFIG.PSU__USE__S_AXI_GP{gp}"] == "1"
        assert props[f"CONFIG.PSU__SAXIGP{gp}__DATA_WIDTH"] == "128"
    enabled = [
        k for k, v in props.items() if k.startswith("CONFIG.PSU__USE__S_AXI_GP") and v == "1"
    ]
    assert len(enabled) == len(bundles)
    intf = [c[1:] for c in cl if c[0] == "connect_bd_intf_net"]
    for bundle, (port, _) in zip(bundles, ports):
        assert [f"edgemoe_top_0/m_axi_{bundle}", f"smc_{bundle}/S00_AXI"] in intf
        assert [f"smc_{bundle}/M00_AXI", f"zynq_ultra_ps_e_0/{port}"] in intf
    assert ["zynq_ultra_ps_e_0/M_AXI_HPM0_FPD", "ctrl_smc/S00_AXI"] in intf
    assert ["ctrl_smc/M00_AXI", "edgemoe_top_0/s_axi_control"] in intf
    nets = [c[1:] for c in cl if c[0] == "connect_bd_net"]
    assert ["edgemoe_top_0/interrupt", "zynq_ultra_ps_e_0/pl_ps_irq0"] in nets
    assert ["zynq_ultra_ps_e_0/pl_clk0", "edgemoe_top_0/ap_clk"] in nets
    clocked = {p for n in nets if n[0] == "zynq_ultra_ps_e_0/pl_clk0" for p in n[1:]}
    for port, _ in ports:
        assert f"zynq_ultra_ps_e_0/saxi{port.split('_')[2].lower()}_fpd_aclk" in clocked
    assert props["CONFIG.PSU__USE__M_AXI_GP0"] == "1" and props["CONFIG.PSU__USE__M_AXI_GP1"] == "0"
    assert ["create_bd_cell", "-type", "ip", "-vlnv", ip_vlnv("edgemoe_top"), "edgemoe_top_0"] in cl
    names = [c[0] for c in cl]
    assert names.index("assign_bd_address") < names.index("validate_bd_design")
    assert names.index("validate_bd_design") < names.index("launch_runs")
    assert ["launch_runs", "impl_1", "-to_step", "write_bitstream", "-jobs", "2"] in cl
    # The board preset when the board files are there; the utilisation report.
    assert any(c[0] == "apply_bd_automation" and "apply_board_preset" in c[-2] for c in cl)
    assert ["set_property", "board_part", ZCU104.board_part, "edgemoe_zcu104"] in cl
    assert (out / "utilization.rpt").read_bytes() == UTIL.read_bytes()
    assert (out / "edgemoe.bit").is_file() and (out / "edgemoe.hwh").is_file()


def test_pl_clock_is_the_design_clock(tmp_path):
    proc, cl, _ = run_vivado(tmp_path, design_manifest(clock_mhz=250.0))
    assert proc.returncode == 0, proc.stderr
    assert dict_props(cl)["CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"] == "250.0"
    assert "timing met at 250.0 MHz" in proc.stdout


@pytest.mark.parametrize(
    ("version", "where"), [("2019.2", "srcs"), ("2020.2", "gen"), ("2023.1", "gen")]
)
def test_hwh_found_where_each_vivado_writes_it(tmp_path, version, where):
    proc, _, out = run_vivado(
        tmp_path, design_manifest(), version=version, hwh=FIXTURES / "design_1_2022.1_kv260.hwh"
    )
    assert proc.returncode == 0, proc.stderr
    proj = tmp_path / "build" / "vivado"
    hwh = (
        proj
        / f"edgemoe_zcu104.{where}"
        / "sources_1"
        / "bd"
        / "edgemoe_bd"
        / "hw_handoff"
        / "edgemoe_bd.hwh"
    )
    assert hwh.is_file()
    other = "gen" if where == "srcs" else "srcs"
    assert not (proj / f"edgemoe_zcu104.{other}").exists()
    assert (out / "edgemoe.hwh").read_bytes() == hwh.read_bytes()
    bit = proj / "edgemoe_zcu104.runs" / "impl_1" / "edgemoe_bd_wrapper.bit"
    assert (out / "edgemoe.bit").read_bytes() == bit.read_bytes()


def test_negative_slack_fails_with_the_path_report(tmp_path):
    proc, cl, out = run_vivado(tmp_path, design_manifest(), wns="-2.804", timing=TIMING_FAIL)
    assert proc.returncode == 1
    assert "timing not met at 300.0 MHz: WNS = -2.804 ns" in proc.stderr
    assert "Slack (VIOLATED)" in proc.stdout  # the failing paths are printed
    assert any(c[0] == "report_timing" and "-file" in c for c in cl)
    assert (out / "timing_paths.rpt").is_file() and not (out / "edgemoe.bit").exists()


def test_without_board_files_the_script_configures_the_ps(tmp_path):
    proc, cl, _ = run_vivado(tmp_path, design_manifest(), board_parts="")
    assert proc.returncode == 0, proc.stderr
    assert "board files for xilinx.com:zcu104:part0:1.1 are not installed" in proc.stdout
    assert not any(c[0] == "apply_bd_automation" for c in cl)
    props = dict_props(cl)
    assert (
        props["CONFIG.PSU__DDRC__BUS_WIDTH"] == "64 Bit" and props["CONFIG.PSU__DDRC__CL"] == "15"
    )
    assert props["CONFIG.PSU__USE__S_AXI_GP2"] == "1"


def test_a_master_that_cannot_reach_ddr_fails(tmp_path):
    proc, _, _ = run_vivado(tmp_path, design_manifest(), no_ddr=1)
    assert proc.returncode == 1 and "m_axi_gmem_io cannot reach DDR" in proc.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hp_ports": ["S_AXI_HP0_FPD", "S_AXI_HP0_FPD"]}, "share a PS port"),
        ({"hp_gp": [2]}, "differ in length"),
        ({"hp_ports": ["S_AXI_ACP_FPD", "S_AXI_HP1_FPD"]}, "not a Zynq UltraScale+ PS slave port"),
        ({"bundles": [], "hp_ports": [], "hp_gp": []}, "no m_axi bundles"),
    ],
)
def test_bad_settings_are_refused(tmp_path, change, message):
    (tmp_path / "repo").mkdir()
    values = bf.vivado_settings(
        design_manifest(1), ZCU104, tmp_path, tmp_path / "repo", tmp_path, 1
    )
    values.update(change)
    settings = write_settings(tmp_path / "s.tcl", values)
    proc = run_fake("vivado", bf.VIVADO_TCL, settings, stub_env(tmp_path, tmp_path / "log"))
    assert proc.returncode == 2 and message in proc.stderr


def test_more_masters_than_ps_ports_is_refused():
    assert [p for _, p, _ in bf.assign_ports(["a", "b"], ZCU104)] == [
        "S_AXI_HP0_FPD",
        "S_AXI_HP1_FPD",
    ]
    with pytest.raises(ValueError, match=r"7 AXI masters .* has 6 slave ports .*S_AXI_HPC1_FPD"):
        bf.assign_ports([f"m{i}" for i in range(7)], ZCU104)


# ------------------------------------------------------- RTL IP packaging
def rtl_settings(tmp_path: Path, manifest: dict | None = None) -> dict:
    """What sim.bitstream_flow writes for package_rtl_ip.tcl from the tiny export."""
    m = manifest if manifest is not None else read_manifest(tiny_export())
    return bf.rtl_ip_settings(m, tmp_path / "build", tmp_path / "build" / "rtl_ip", ZCU104)


def run_package(tmp_path: Path, change: dict | None = None, **stubs):
    """package_rtl_ip.tcl under the stand-in; returns (process, calls, settings values)."""
    values = {**rtl_settings(tmp_path), **(change or {})}
    settings = write_settings(tmp_path / "rtl_settings.tcl", values)
    log = tmp_path / "calls.log"
    log.unlink(missing_ok=True)
    proc = run_fake("vivado", bf.RTL_PACKAGE_TCL, settings, stub_env(tmp_path, log, **stubs))
    return proc, calls(log), values


ALL_BUSIFS = ["s_axi_control", *(f"m_axi_{b}" for b in ["gmem_io", "gmem_w0", "gmem_w1",
              "gmem_w2", "gmem_w3"]), "ap_clk", "ap_rst_n", "interrupt"]  # fmt: skip


def test_package_script_parses():
    assert command_count(bf.RTL_PACKAGE_TCL) > 40


def test_rtl_ip_packages_every_source_in_order_with_the_hls_vlnv(tmp_path):
    proc, cl, values = run_package(tmp_path)
    assert proc.returncode == 0, proc.stderr
    adds = [c for c in cl if c[0] == "add_files"]
    assert [c[1:4] for c in adds] == [["-norecurse", "-fileset", "sources_1"]] * 2
    # sim.rtl's own list: the generated packages, then the engine leaves first.
    gen = rtl.generated_sources(bf.RTL_TOP, tmp_path / "build" / "rtl_gen")
    expected = [str(p.resolve()) for p in gen + rtl.sources(bf.RTL_TOP)]
    assert adds[0][4].split(" ") == expected
    names = [Path(p).name for p in expected]
    assert names[:2] == ["hwmath_pkg.sv", "edgemoe_regs_pkg.sv"]
    assert names[-1] == "edgemoe_rtl_top.sv" and "rom2r.sv" in names
    # Every table hwmath_pkg names, beside the generated package.
    mems = [Path(p) for p in adds[1][4].split(" ")]
    assert sorted(p.name for p in mems) == sorted(f"{t}.mem" for t in tables(SPEC))
    assert all(p.parent == Path(gen[0]).parent and p.stat().st_size > 0 for p in mems)
    assert ["set_property", "top", "edgemoe_rtl_top", "sources_1"] in cl
    assert ["set_property", "generic", "ACT_W=16", "sources_1"] in cl
    assert ["set_property", "value", "16", "user_parameter/ACT_W"] in cl
    assert ["set_property", "value", "16", "hdl_parameter/ACT_W"] in cl
    repo = tmp_path / "build" / "rtl_ip"
    pkg = next(c for c in cl if c[0] == "ipx::package_project")
    assert pkg[pkg.index("-root_dir") + 1] == str(repo.resolve()) and "-import_files" in pkg
    assert (pkg[pkg.index("-vendor") + 1], pkg[pkg.index("-library") + 1]) == ("edgemoe", "hls")
    assert ["set_property", "name", "edgemoe_top", "core"] in cl
    assert ["set_property", "version", "1.0", "core"] in cl
    # The same VLNV as the HLS IP, which vivado_zcu104.tcl instantiates.
    hls_vlnv = bf.vivado_settings(
        read_manifest(tiny_export()), ZCU104, tmp_path, repo, tmp_path, 1
    )["ip_vlnv"]
    assert hls_vlnv == ip_vlnv("edgemoe_top") == values["ip_vlnv"]
    component = ET.parse(repo / "component.xml").getroot()
    assert component.get("vlnv") == hls_vlnv
    assert not any(c[0] == "ipx::add_file" for c in cl)  # packaging kept the tables
    order = [c[0] for c in cl]
    assert order.index("ipx::package_project") < order.index("ipx::infer_bus_interface")
    assert order.index("ipx::check_integrity") < order.index("ipx::save_core")
    assert f"as {hls_vlnv}" in proc.stdout


def test_rtl_ip_interfaces_are_those_of_the_hls_ip(tmp_path):
    proc, cl, values = run_package(tmp_path)
    assert proc.returncode == 0, proc.stderr
    m = read_manifest(tiny_export())
    bundles = [b["bundle"] for b in m["interface"]["m_axi"]]
    assert values["bundles"] == bundles and len(bundles) == 5
    inferred = [c[1:3] for c in cl if c[0] == "ipx::infer_bus_interface"]
    aximm = "xilinx.com:interface:aximm_rtl:1.0"
    assert inferred == [
        ["s_axi_control_*", aximm],
        *([f"m_axi_{b}_*", aximm] for b in bundles),
        ["ap_clk", "xilinx.com:signal:clock_rtl:1.0"],
        ["ap_rst_n", "xilinx.com:signal:reset_rtl:1.0"],
        ["interrupt", "xilinx.com:signal:interrupt_rtl:1.0"],
    ]
    assoc = [c[1:] for c in cl if c[0] == "ipx::associate_bus_interfaces"]
    busifs = ["s_axi_control", *(f"m_axi_{b}" for b in bundles)]
    assert assoc == [["-busif", b, "-clock", "ap_clk", "core"] for b in busifs] + [
        ["-clock", "ap_clk", "-reset", "ap_rst_n", "core"]
    ]
    assert ["set_property", "value", "ACTIVE_LOW", "ap_rst_n/POLARITY"] in cl
    assert ["set_property", "value", "LEVEL_HIGH", "interrupt/SENSITIVITY"] in cl
    saved = ET.parse(tmp_path / "build" / "rtl_ip" / "component.xml").getroot()
    assert saved.get("busifs").split() == ALL_BUSIFS


def test_interfaces_packaging_inferred_are_kept(tmp_path):
    """Vivado infers the interfaces from the port names itself: none is inferred twice."""
    proc, cl, _ = run_package(tmp_path, auto_busifs=" ".join(ALL_BUSIFS))
    assert proc.returncode == 0, proc.stderr
    assert not any(c[0] == "ipx::infer_bus_interface" for c in cl)
    assert len([c for c in cl if c[0] == "ipx::associate_bus_interfaces"]) == 7


def test_tables_left_out_by_packaging_are_added_as_memory_files(tmp_path):
    proc, cl, values = run_package(tmp_path, mem_left_out=1)
    assert proc.returncode == 0, proc.stderr
    added = [c[1:] for c in cl if c[0] == "ipx::add_file"]
    names = [Path(f).name for f in values["mem_files"]]
    assert added == [[f"src/{n}", "xilinx_anylanguagesynthesis"] for n in names]
    assert [c for c in cl if c[:2] == ["set_property", "type"]] == [
        ["set_property", "type", "mem", f"src/{n}"] for n in names
    ]
    src = tmp_path / "build" / "rtl_ip" / "src"
    for f in values["mem_files"]:
        assert (src / Path(f).name).read_bytes() == Path(f).read_bytes()


def test_act_w_comes_from_the_export(tmp_path):
    m = {**read_manifest(tiny_export()), "act_w": 32}
    proc, cl, _ = run_package(tmp_path, change=rtl_settings(tmp_path, m))
    assert proc.returncode == 0, proc.stderr
    assert ["set_property", "generic", "ACT_W=32", "sources_1"] in cl
    assert ["set_property", "value", "32", "user_parameter/ACT_W"] in cl


def test_rtl_ip_refuses_an_export_of_another_design(tmp_path):
    m = {**read_manifest(tiny_export()), **design_manifest(weight_ports=1)}
    with pytest.raises(bf.FlowError, match=r"default design .*\['weight_ports'\]"):
        rtl_settings(tmp_path, m)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sources": "EXTRA"}, "missing.sv not found"),
        ({"sources": []}, "no sources"),
        ({"bundles": []}, "no m_axi bundles"),
        ({"bundles": ["gmem_io", "gmem_io"]}, "listed twice"),
        ({"mem_files": []}, "no ROM table files"),
        ({"act_w": 12}, "act_w 12 is not 8, 16 or 32"),
        ({"ip_vlnv": "edgemoe:hls:edgemoe_top"}, "is not vendor:library:name:version"),
        ({"top": None}, "does not set 'top'"),
    ],
)
def test_bad_rtl_settings_are_refused(tmp_path, change, message):
    values = rtl_settings(tmp_path)
    if change.get("sources") == "EXTRA":
        change = {"sources": [*values["sources"], str(tmp_path / "missing.sv")]}
    values.update(change)
    values = {k: v for k, v in values.items() if v is not None}
    settings = write_settings(tmp_path / "s.tcl", values)
    log = tmp_path / "log"
    proc = run_fake("vivado", bf.RTL_PACKAGE_TCL, settings, stub_env(tmp_path, log))
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert [c[0] for c in calls(log)] == ["exit"]  # nothing was started


@pytest.mark.parametrize(
    ("stubs", "message"),
    [
        ({"mode_m_axi_gmem_io": "slave"}, "m_axi_gmem_io was packaged as slave"),
        ({"no_act_w": 1}, "no ACT_W parameter"),
        ({"integrity_fail": 1}, "fails Vivado's integrity check"),
    ],
)
def test_packaging_problems_fail(tmp_path, stubs, message):
    proc, cl, _ = run_package(tmp_path, **stubs)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert not any(c[0] == "ipx::save_core" for c in cl)


# ------------------------------------------------------------------ the flow
def standin_hwh(path: Path, manifest: dict, ports, clock_hz: float = 299_997_000) -> Path:
    """What Vivado's .hwh holds about our IP when the design is right (a stand-in, not a
    fixture: the parsers are tested on real .hwh files in test_tool_reports)."""
    iface = manifest["interface"]
    root = ET.Element("EDKSYSTEM", VIVADOVERSION="2023.2")
    ET.SubElement(root, "SYSTEMINFO", ARCH="zynquplus", DEVICE="xczu7ev", BOARD=ZCU104.board_part)
    mods = ET.SubElement(root, "MODULES")
    ipm = ET.SubElement(mods, "MODULE", INSTANCE="edgemoe_top_0", MODTYPE="edgemoe_top",
                        VLNV=ip_vlnv("edgemoe_top"))  # fmt: skip
    regs = ET.SubElement(
        ET.SubElement(ET.SubElement(ipm, "ADDRESSBLOCKS"), "ADDRESSBLOCK"), "REGISTERS"
    )

    def reg(name, off):
        r = ET.SubElement(regs, "REGISTER", NAME=name)
        ET.SubElement(r, "PROPERTY", NAME="ADDRESS_OFFSET", VALUE=str(off))

    reg("CTRL", 0)
    for a in iface["args"]:
        if a["kind"] == "pointer":
            reg(f"{a['name']}_1", a["offset"])
            reg(f"{a['name']}_2", a["offset"] + 4)
        else:
            reg(a["name"], a["offset"])
    pts = ET.SubElement(ipm, "PORTS")
    ET.SubElement(pts, "PORT", NAME="ap_clk", DIR="I", SIGIS="clk", CLKFREQUENCY=str(int(clock_hz)))
    irq = ET.SubElement(
        ET.SubElement(pts, "PORT", NAME="interrupt", DIR="O", SIGIS="INTERRUPT"), "CONNECTIONS"
    )
    ET.SubElement(irq, "CONNECTION", INSTANCE="zynq_ultra_ps_e_0", PORT="pl_ps_irq0")
    mm = ET.SubElement(ipm, "MEMORYMAP")
    for bundle, port, _ in ports:
        hp = port.split("_")[2]
        for blk in ("DDR_LOW", "DDR_HIGH"):
            attrs = {"ADDRESSBLOCK": f"{hp}_{blk}", "INSTANCE": "zynq_ultra_ps_e_0"}
            attrs.update(MASTERBUSINTERFACE=f"m_axi_{bundle}", SLAVEBUSINTERFACE=port)
            ET.SubElement(mm, "MEMRANGE", MEMTYPE="MEMORY", **attrs)
    ps = ET.SubElement(mods, "MODULE", INSTANCE="zynq_ultra_ps_e_0", MODTYPE="zynq_ultra_ps_e")
    ctrl = {"INSTANCE": "edgemoe_top_0", "SLAVEBUSINTERFACE": "s_axi_control"}
    ctrl.update(BASEVALUE="0xA0000000", HIGHVALUE="0xA000FFFF")
    ET.SubElement(ET.SubElement(ps, "MEMORYMAP"), "MEMRANGE", MEMTYPE="REGISTER", **ctrl)
    ET.ElementTree(root).write(path)
    return path


@pytest.fixture()
def flow(tmp_path, monkeypatch):
    """sim.bitstream_flow with stand-in vitis_hls and vivado; bitstreams/ and build/ in tmp."""
    manifest = read_manifest(tiny_export())
    ports = bf.assign_ports([b["bundle"] for b in manifest["interface"]["m_axi"]], ZCU104)
    hwh = standin_hwh(tmp_path / "standin.hwh", manifest, ports)
    bin_dir = fake_tools(tmp_path / "bin", ("vitis_hls", "vivado"))

    def run(name="t", engine="hls", **stubs):
        defaults = {"hwh": hwh, "util": UTIL, "timing": TIMING_PASS, "paths": PATHS, "wns": "5.464"}
        env = stub_env(
            bin_dir, tmp_path / "calls.log", board_parts=ZCU104.board_part, **{**defaults, **stubs}
        )
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setattr(bf, "BITSTREAMS", tmp_path / "bitstreams")
        monkeypatch.setattr(bf, "BUILD", tmp_path / "build" / "hls")
        args = ["--engine", engine, "--export-dir", str(tiny_export()), "--name", name]
        return bf.main([*args, "--jobs", "1"])

    return run, tmp_path


def test_make_bitstream_end_to_end(flow, capsys):
    run, tmp = flow
    assert run() == 0, capsys.readouterr()
    out = tmp / "bitstreams" / "t"
    assert sorted(p.name for p in out.iterdir()) == [
        "edgemoe.bit", "edgemoe.hwh", "manifest.json", "timing_summary.rpt", "utilization.rpt"
    ]  # fmt: skip
    m = bf.verify_bitstream_dir(out)
    export = read_manifest(tiny_export())
    assert m["kind"] == "edgemoe-bitstream" and m["engine"] == "hls"
    assert m["design"] == export["design"] and m["interface"] == export["interface"]
    assert m["act_w"] == export["act_w"] and m["clock_mhz"] == export["design"]["clock_mhz"]
    assert m["tools"] == {"vitis_hls": "2023.2", "vivado": "2023.2"}
    assert m["wns_ns"] == 5.464 and m["utilisation"]["LUT"]["used"] == 3061
    assert m["ip"] == {"vlnv": "edgemoe:hls:edgemoe_top:1.0", "instance": "edgemoe_top_0",
                       "base_address": 0xA0000000}  # fmt: skip
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    assert m["git_commit"] == head.stdout.strip()
    assert bf.export_matches(m, export) == []
    assert [p.name for p in (tmp / "bitstreams").iterdir()] == ["t"]  # no staging left
    printed = capsys.readouterr().out
    assert "measured (Vivado): WNS 5.464 ns at 300.0 MHz" in printed
    # The HLS stage ran csynth and export with the manifest's settings.
    hls = (tmp / "build" / "bitstream" / "t" / "hls_settings.tcl").read_text()
    assert "set stages [list csynth export]" in hls


def test_make_bitstream_rtl_end_to_end(flow, capsys):
    """ENGINE=rtl: the RTL engine packaged by Vivado, then the same block design."""
    run, tmp = flow
    (tmp / "bin" / "vitis_hls").unlink()  # Vivado alone builds the RTL engine
    assert run(engine="rtl") == 0, capsys.readouterr()
    m = bf.verify_bitstream_dir(tmp / "bitstreams" / "t")
    export = read_manifest(tiny_export())
    assert m["engine"] == "rtl" and m["tools"] == {"vivado": "2023.2"}
    assert m["interface"] == export["interface"] and bf.export_matches(m, export) == []
    assert m["ip"]["vlnv"] == "edgemoe:hls:edgemoe_top:1.0"
    build = tmp / "build" / "bitstream" / "t"
    assert (build / "rtl_ip" / "component.xml").is_file()
    assert "set top edgemoe_rtl_top" in (build / "rtl_settings.tcl").read_text()
    assert not (build / "hls_settings.tcl").exists()
    cl = calls(tmp / "calls.log")
    names = [c[0] for c in cl]
    assert names.index("ipx::save_core") < names.index("create_bd_cell")
    assert ["set_property", "ip_repo_paths", str((build / "rtl_ip").resolve()),
            "edgemoe_zcu104"] in cl  # fmt: skip
    assert ["create_bd_cell", "-type", "ip", "-vlnv", ip_vlnv("edgemoe_top"), "edgemoe_top_0"] in cl


def test_make_bitstream_rtl_stops_when_packaging_fails(flow, capsys):
    run, tmp = flow
    assert run(engine="rtl", integrity_fail=1) == 1
    err = capsys.readouterr().err
    assert "the rtl IP was not built (exit 1)" in err and "package_rtl_ip.log" in err
    assert not (tmp / "bitstreams" / "t").exists()
    assert "create_bd_design" not in [c[0] for c in calls(tmp / "calls.log")]


def test_failed_timing_writes_nothing_and_keeps_the_old_build(flow, capsys):
    run, tmp = flow
    assert run() == 0
    before = (tmp / "bitstreams" / "t" / "manifest.json").read_text()
    capsys.readouterr()
    assert run(wns="-2.804", timing=TIMING_FAIL) == 1
    err = capsys.readouterr().err
    assert "timing not met at 300.0 MHz: WNS = -2.804 ns" in err and "Slack (VIOLATED)" in err
    assert (tmp / "bitstreams" / "t" / "manifest.json").read_text() == before
    assert [p.name for p in (tmp / "bitstreams").iterdir()] == ["t"]
    assert run(name="u", wns="-2.804", timing=TIMING_FAIL) == 1
    assert not (tmp / "bitstreams" / "u").exists()


def test_a_block_design_that_disagrees_with_the_interface_is_refused(flow, capsys):
    run, tmp = flow
    assert run(hwh=FIXTURES / "design_1_2022.1_kv260.hwh") == 1
    assert "no IP of type 'edgemoe_top'" in capsys.readouterr().err
    assert not (tmp / "bitstreams" / "t").exists()


def test_missing_tools_are_named_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bf, "BITSTREAMS", tmp_path / "bitstreams")
    monkeypatch.setenv("PATH", str(fake_tools(tmp_path / "bin", ("vitis_hls",))))
    assert bf.main(["--preset", "tiny"]) == MISSING
    err = capsys.readouterr().err
    assert (
        "vivado not found on PATH" in err
        and "settings64.sh" in err
        and "Vitis" not in err.split(".")[0]
    )
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert bf.main(["--preset", "tiny"]) == MISSING
    err = capsys.readouterr().err
    assert "Vitis HLS not found" in err and "vivado not found" in err
    assert not (tmp_path / "bitstreams").exists()


def test_rtl_engine_names_its_missing_packaging_script(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bf, "RTL_PACKAGE_TCL", tmp_path / "package_rtl_ip.tcl")
    monkeypatch.setattr(bf, "ROOT", tmp_path)
    assert bf.main(["--engine", "rtl"]) == MISSING
    err = capsys.readouterr().err
    assert "ENGINE=rtl needs package_rtl_ip.tcl" in err and "missing from this checkout" in err


def test_cli_without_vivado(tmp_path):
    """The real command line (what `make bitstream` runs) on a machine without the tools."""
    proc = subprocess.run(
        [sys.executable, "-m", "sim.bitstream_flow"], cwd=ROOT, capture_output=True, text=True,
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "make bitstream: " in proc.stderr and "vivado not found" in proc.stderr
    # ENGINE=rtl needs Vivado only (its packaging script is in the checkout).
    assert bf.RTL_PACKAGE_TCL.is_file()
    proc = subprocess.run(
        [sys.executable, "-m", "sim.bitstream_flow", "--engine", "rtl"], cwd=ROOT,
        capture_output=True, text=True, env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "vivado not found on PATH" in proc.stderr and "Vitis HLS not found" not in proc.stderr


def test_make_target_passes_engine_and_board():
    out = subprocess.run(
        ["make", "-n", "bitstream", "ENGINE=rtl", "BOARD=zcu104", "PRESET=tiny"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "-m sim.bitstream_flow --engine rtl --board zcu104 --preset tiny" in out
