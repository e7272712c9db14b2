"""sim.tool_reports on real Vitis HLS and Vivado outputs (tests/fixtures/tool_reports/README.md)."""

from __future__ import annotations

import pytest

from sim.tool_reports import (
    ReportError,
    check_ip_interface,
    parse_cosim_rpt,
    parse_csynth_xml,
    parse_hwh,
    parse_timing_summary,
    parse_utilization,
    violated_paths,
)

from .tool_harness import FIXTURES


def test_csynth_2020_labelled_loops_on_the_zcu104_part():
    r = parse_csynth_xml(FIXTURES / "csynth_2020.2_gaussian.xml")
    assert (r.version, r.part, r.top) == ("2020.2", "xczu7ev-ffvc1156-2-e", "gaussian")
    assert (r.target_clock_ns, r.estimated_clock_ns) == (10.0, 6.427)
    assert r.latency == (262673, 262673) and r.interval == (262674, 262674)
    assert r.resources == {"BRAM_18K": 3, "FF": 973, "LUT": 1870, "DSP": 0, "URAM": 0}
    assert r.available["DSP"] == 1728 and r.available["URAM"] == 96
    loops = {lp.name: lp for lp in r.loops}
    assert list(loops) == ["buf_x1", "buf_x2", "win_y_win_x", "for_y_for_x"]
    main = loops["for_y_for_x"]
    assert (main.trip_count, main.latency, main.ii, main.depth) == (
        (262144, 262144), (262146, 262146), 1, (4, 4)
    )  # fmt: skip
    assert main.module == "gaussian"


def test_csynth_2022_pipelined_loops_live_in_their_own_modules():
    r = parse_csynth_xml(FIXTURES / "csynth_2022.1_topk_sort.xml")
    assert r.version == "2022.1" and r.latency == (105704, 115406)
    loops = {lp.name: lp for lp in r.loops}
    # The top-level summary and the top module list the same two loops: kept once.
    assert sorted(loops) == [
        "VITIS_LOOP_20_1", "VITIS_LOOP_30_2", "VITIS_LOOP_36_3",
        "VITIS_LOOP_57_4", "VITIS_LOOP_58_5", "VITIS_LOOP_70_6",
    ]  # fmt: skip
    assert len(r.loops) == 6
    piped = loops["VITIS_LOOP_58_5"]
    assert piped.module == "topk_sort_Pipeline_VITIS_LOOP_58_5"
    assert (piped.ii, piped.trip_count, piped.latency) == (1, (1, 99), (1, 99))
    outer = loops["VITIS_LOOP_57_4"]
    assert outer.ii is None  # PipelineType no
    assert outer.latency == (495, 10197) and outer.iteration_latency == (5, 103)


def test_cosim_reports_pass_fail_and_both_layouts():
    r = parse_cosim_rpt(FIXTURES / "cosim_pass_crypto_aead_decrypt_c.rpt")["Verilog"]
    assert r.status == "Pass" and r.latency == (76, 147, 221) and r.interval == (77, 148, 216)
    assert r.total_cycles == 162128
    fail = parse_cosim_rpt(FIXTURES / "cosim_fail_crypto_aead_encrypt.rpt")
    assert fail["VHDL"].status == "Fail" and fail["Verilog"].status == "NA"
    assert fail["VHDL"].latency == (None, None, None)
    old = parse_cosim_rpt(FIXTURES / "cosim_pass_c_mnist.rpt")["Verilog"]
    assert old.latency == (4642865,) * 3 and old.interval == (None,) * 3
    assert old.total_cycles is None


def test_utilisation_ultrascale_and_7series_layouts():
    u = parse_utilization(FIXTURES / "utilization_placed_2023.1_xczu3eg.rpt")
    assert u["header"]["version"] == "2023.1" and u["header"]["device"] == "xczu3eg-sfvc784-1-e"
    s = u["summary"]
    assert s["LUT"] == {"used": 3061, "available": 70560, "percent": 4.34}
    assert s["FF"] == {"used": 4163, "available": 141120, "percent": 2.95}
    assert s["BRAM36"]["available"] == 216 and s["DSP"]["available"] == 360
    assert "URAM" not in s  # the xczu3eg has none
    assert u["rows"]["PS8"]["used"] == 1
    old = parse_utilization(FIXTURES / "utilization_placed_2018.2_7z010.rpt")["summary"]
    assert old["LUT"] == {"used": 448, "available": 17600, "percent": 2.55}
    assert old["FF"]["used"] == 640 and old["DSP"]["available"] == 80


def test_timing_summary_met_and_violated():
    bad = parse_timing_summary(FIXTURES / "timing_summary_2023.1_fail.rpt")
    assert (bad["wns_ns"], bad["tns_ns"], bad["tns_failing"]) == (-2.804, -60.953, 22)
    assert bad["whs_ns"] == 0.009 and bad["met"] is False
    assert bad["clocks"]["clk_pl_0"] == {"period_ns": 10.0, "mhz": 100.0}
    assert bad["clocks"]["clk_out3_design_1_clk_wiz_0_0"]["mhz"] == 520.0
    good = parse_timing_summary(FIXTURES / "timing_summary_2023.1_pass.rpt")
    assert good["wns_ns"] == 5.464 and good["met"] is True and good["tns_failing"] == 0


def test_violated_paths_are_extracted():
    paths = violated_paths(FIXTURES / "timing_paths_2023.1_violated.rpt")
    assert len(paths) == 2
    assert all(p.startswith("Slack (VIOLATED) :        -2.804ns") for p in paths)
    assert "Source:" in paths[0] and "slack" in paths[0].splitlines()[-1]
    assert violated_paths(FIXTURES / "timing_summary_2023.1_pass.rpt") == []


def test_hwh_hls_ip_on_zynq_ultrascale():
    h = parse_hwh(FIXTURES / "design_1_2022.1_kv260.hwh")
    assert h.vivado_version == "2022.1" and h.board == "xilinx.com:kv260_som:part0:1.3"
    assert h.modules["zynq_ultra_ps_e_0"].startswith("xilinx.com:ip:zynq_ultra_ps_e")
    ip = h.ip("conv_kernel")
    assert ip.vlnv == "xilinx.com:hls:conv_kernel:1.0" and ip.instance == "conv_kernel_0"
    assert (ip.base_address, ip.address_range) == (0xA000_0000, 0x1_0000)
    assert ip.registers["CTRL"] == 0 and ip.registers["act_mem_host_1"] == 0x10
    assert ip.registers["act_mem_host_2"] == 0x14 and ip.registers["weight_mem_1"] == 0x1C
    m = ip.masters["m_axi_gmem0"]
    assert m.targets == ["S_AXI_HP0_FPD"]
    assert m.blocks == ["HP0_DDR_LOW", "HP0_QSPI", "HP0_DDR_HIGH"]
    assert ip.clock_hz == 99_999_001 and ip.interrupt == []
    with pytest.raises(ReportError, match="no IP of type 'edgemoe_top'"):
        h.ip("edgemoe_top")


def _interface(pointers, bundles):
    args, off = [], 0x10
    for name in pointers:
        args.append({"name": name, "kind": "pointer", "offset": off})
        off += 12
    return {"args": args, "m_axi": [{"bundle": b} for b in bundles]}


def test_interface_check_against_a_real_hwh():
    ip = parse_hwh(FIXTURES / "design_1_2022.1_kv260.hwh").ip("conv_kernel")
    iface = _interface(["act_mem_host", "weight_mem", "bn_weight_mem"], ["gmem0"])
    # The layout matches; only the interrupt is not wired in that design.
    assert check_ip_interface(ip, iface, clock_mhz=100.0) == [
        "the interrupt of conv_kernel_0 is not connected to the PS (pl_ps_irq)"
    ]
    # Each kind of disagreement is named.
    moved = _interface(["weight_mem", "act_mem_host"], ["gmem0", "gmem1"])
    problems = "\n".join(check_ip_interface(ip, moved, clock_mhz=300.0))
    assert "register weight_mem_1 is at 0x1C, the interface says 0x10" in problems
    assert "m_axi_gmem1 is not connected to any memory" in problems
    assert "ap_clk is 99.999 MHz, the design says 300.0 MHz" in problems
    fewer = _interface(["act_mem_host"], [])
    assert "m_axi_gmem0 is a master the interface does not declare" in check_ip_interface(ip, fewer)


def test_our_interface_is_not_that_ip():
    from pymodel.export import Design, interface

    ip = parse_hwh(FIXTURES / "design_1_2022.1_kv260.hwh").ip("conv_kernel")
    problems = check_ip_interface(ip, interface(Design(weight_ports=2)), clock_mhz=300.0)
    assert "m_axi_gmem_io is not connected to any memory" in problems
    assert "m_axi_gmem_w1 is not connected to any memory" in problems
    assert any(p.startswith("register params_1") for p in problems)


@pytest.mark.parametrize(
    ("parser", "fixture"),
    [
        (parse_csynth_xml, "design_1_2022.1_kv260.hwh"),
        (parse_hwh, "csynth_2022.1_topk_sort.xml"),
        (parse_cosim_rpt, "utilization_placed_2023.1_xczu3eg.rpt"),
        (parse_utilization, "timing_summary_2023.1_pass.rpt"),
        (parse_timing_summary, "utilization_placed_2023.1_xczu3eg.rpt"),
    ],
)
def test_wrong_report_kind_is_refused(parser, fixture):
    with pytest.raises(ReportError):
        parser(FIXTURES / fixture)


def test_missing_report_is_named(tmp_path):
    with pytest.raises(ReportError, match="no such report"):
        parse_utilization(tmp_path / "utilization.rpt")
