"""``make hls`` without Vitis: hls/tcl/run_hls.tcl under tclsh stand-ins, sim.hls_flow end to end.

The script runs with recording stand-ins for the Vitis HLS commands
(tests/tcl/fake_tool.tcl) on settings written by the real wrapper from a real
export of ``tiny``: stages in order, the ZCU104 part, the clock and the m_axi
depth defines from the export's manifest, only files that exist. The wrapper
picks ``vitis_hls`` or ``vitis-run`` by version, names a missing tool with exit
code 2, and reads the (real, fixture) reports back into reports.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim import hls_flow
from sim.tool_reports import parse_csynth_xml
from sim.xilinx_tools import BOARDS, MISSING, find_vitis_hls, write_settings

from .tool_harness import (
    FIXTURES,
    calls,
    command_count,
    fake_tools,
    run_fake,
    stub_env,
    tiny_export,
)

TCL = hls_flow.TCL
PART = BOARDS["zcu104"].part


def settings_for(tmp_path: Path, stages, **over) -> Path:
    """Settings as sim.hls_flow writes them for the tiny export, with ``over`` changed."""
    export_dir = tiny_export()
    values = hls_flow.hls_settings(
        hls_flow.read_manifest(export_dir), export_dir, tmp_path / "build", stages, PART
    )
    values.update(over)
    return write_settings(tmp_path / "settings.tcl", values)


def run_hls_tcl(tmp_path: Path, settings: Path | None, tool: str = "vitis_hls", **stubs):
    log = tmp_path / "calls.log"
    log.unlink(missing_ok=True)
    env = stub_env(tmp_path, log, **stubs)
    if tool == "vitis-run" and settings is not None:
        env["EDGEMOE_TCL_SETTINGS"] = str(settings)
    proc = run_fake(tool, TCL, settings, env)
    return proc.returncode, calls(log), proc.stderr


def test_script_parses():
    assert command_count(TCL) > 20


def test_all_stages_in_order_with_manifest_clock_and_depths(tmp_path):
    manifest = hls_flow.read_manifest(tiny_export())
    s = settings_for(tmp_path, ["csim", "csynth", "cosim", "export"])
    code, cl, err = run_hls_tcl(tmp_path, s)
    assert code == 0, err
    names = [c[0] for c in cl]
    assert names.index("csim_design") < names.index("csynth_design") < names.index("cosim_design")
    assert names.index("cosim_design") < names.index("export_design")
    assert ["set_part", PART] in cl
    period = f"{1000 / manifest['design']['clock_mhz']:.3f}"
    assert ["create_clock", "-period", period, "-name", "default"] in cl
    assert ["set_top", "edgemoe_top"] in cl
    added = [c for c in cl if c[0] == "add_files"]
    files = [Path(c[2] if c[1] == "-tb" else c[1]) for c in added]
    for f in files:
        assert f.is_file(), f"run_hls.tcl names a missing file: {f}"
    from sim.csim import KERNEL_SOURCES

    assert set(KERNEL_SOURCES) <= {f.name for f in files}
    assert "tb_main.cpp" in {f.name for f in files}
    # The per-export m_axi depths reach the kernel and the testbench alike.
    flagged = [c for c in added if "-cflags" in c]
    assert flagged and all(d in c[-1] for c in flagged for d in manifest["depth_defines"])
    assert {Path(c[2] if c[1] == "-tb" else c[1]).name for c in flagged} >= {"tb_main.cpp"}
    assert any(str(tiny_export()) in " ".join(c) for c in cl if c[0] == "cosim_design")
    assert ["config_export", "-format", "ip_catalog", "-rtl", "verilog", "-vendor", "edgemoe",
            "-library", "hls", "-version", "1.0"] in cl  # fmt: skip


def test_clock_follows_the_design(tmp_path):
    code, cl, err = run_hls_tcl(tmp_path, settings_for(tmp_path, ["csynth"], clock_mhz=250.0))
    assert code == 0, err
    assert ["create_clock", "-period", "4.000", "-name", "default"] in cl


def test_stage_selection(tmp_path):
    _, cl, _ = run_hls_tcl(tmp_path, settings_for(tmp_path, ["csim"]))
    names = [c[0] for c in cl]
    assert "csim_design" in names and "csynth_design" not in names
    _, cl, _ = run_hls_tcl(tmp_path, settings_for(tmp_path, ["cosim"]))
    names = [c[0] for c in cl]
    assert "csynth_design" in names and "cosim_design" in names and "csim_design" not in names


def test_vitis_run_gets_the_settings_from_the_environment(tmp_path):
    code, cl, err = run_hls_tcl(tmp_path, settings_for(tmp_path, ["csynth"]), tool="vitis-run")
    assert code == 0, err
    assert "csynth_design" in [c[0] for c in cl]


def test_bad_settings_fail_clearly(tmp_path):
    code, _, err = run_hls_tcl(tmp_path, settings_for(tmp_path, ["place"]))
    assert code == 2 and "unknown stage 'place'" in err
    s = settings_for(tmp_path, ["csim"], export_dir=str(tmp_path / "nowhere"))
    code, _, err = run_hls_tcl(tmp_path, s)
    assert code == 2 and "edgemoe_config.h missing" in err
    code, _, err = run_hls_tcl(
        tmp_path, settings_for(tmp_path, ["csim"], depth_defines=["-DPARAMS_DEPTH=x"])
    )
    assert code == 2 and "depth define" in err
    code, _, err = run_hls_tcl(tmp_path, tmp_path / "nowhere.tcl")
    assert code == 2 and "not found" in err
    code, _, err = run_hls_tcl(tmp_path, None)
    assert code == 2 and "usage" in err


@pytest.mark.parametrize(
    ("version", "names", "expect"),
    [
        ("2023.2", ("vitis_hls", "vitis-run"), "vitis_hls"),
        ("2024.1", ("vitis_hls",), "vitis_hls"),
        ("2024.2", ("vitis_hls", "vitis-run"), "vitis-run"),
        ("2025.1", ("vitis-run",), "vitis-run"),
    ],
)
def test_launcher_chosen_by_version(tmp_path, monkeypatch, version, names, expect):
    bin_dir = fake_tools(tmp_path / "bin", names)
    for k, v in stub_env(bin_dir, tmp_path / "log", version=version).items():
        monkeypatch.setenv(k, v)
    tool = find_vitis_hls()
    assert (tool.name, tool.version) == (expect, version)
    cmd = tool.command(TCL, tmp_path / "s.tcl")
    if expect == "vitis_hls":
        assert cmd[1:] == ["-f", str(TCL), "-tclargs", str(tmp_path / "s.tcl")]
    else:
        assert cmd[1:] == ["--mode", "hls", "--tcl", str(TCL)]


def test_wrapper_names_missing_vitis(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no vitis_hls, no vitis-run
    assert hls_flow.main(["--preset", "tiny"]) == MISSING == 2
    err = capsys.readouterr().err
    assert "Vitis HLS not found" in err and "vitis_hls" in err and "vitis-run" in err
    assert "settings64.sh" in err and "make csim" in err


def test_match_loops_by_label_only():
    loops = parse_csynth_xml(FIXTURES / "csynth_2022.1_topk_sort.xml").loops

    def row(layer, loop, label, trips, ii=1):
        r = {"layer": layer, "loop": loop, "trips": trips, "ii": ii, "cycles": trips * ii}
        return {**r, "label": label} if label else r

    rows = [
        row("a", "scan", "VITIS_LOOP_20_1", 10),
        row("b", "scan", "VITIS_LOOP_20_1", 5),
        row("a", "outer", "VITIS_LOOP_30_2", 3, ii=2),
        row("a", "no label yet", None, 7),
        row("a", "renamed", "gone_loop", 1),
    ]
    got = {g["label"] or g["loop"]: g for g in hls_flow.match_loops(rows, loops)}
    assert got["VITIS_LOOP_20_1"]["trips"] == 15 and got["VITIS_LOOP_20_1"]["cycles"] == 15
    assert got["VITIS_LOOP_20_1"]["csynth"]["ii"] == 1
    assert got["VITIS_LOOP_20_1"]["csynth"]["module"] == "topk_sort_Pipeline_VITIS_LOOP_20_1"
    assert got["VITIS_LOOP_20_1"]["ii_ratio"] == 1.0
    # A matched loop that is not pipelined has no II, hence no ratio.
    assert (
        got["VITIS_LOOP_30_2"]["csynth"]["ii"] is None
        and got["VITIS_LOOP_30_2"]["ii_ratio"] is None
    )
    assert got["no label yet"]["csynth"] is None and got["gone_loop"]["csynth"] is None


def test_make_hls_end_to_end_reads_reports_back(tmp_path, monkeypatch, capsys):
    """sim.hls_flow with the stand-in Vitis: settings, run, real reports -> reports.json."""
    bin_dir = fake_tools(tmp_path / "bin", ("vitis_hls",))
    env = stub_env(
        bin_dir, tmp_path / "calls.log",
        csynth=FIXTURES / "csynth_2022.1_topk_sort.xml",
        cosim=FIXTURES / "cosim_pass_crypto_aead_decrypt_c.rpt",
    )  # fmt: skip
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(hls_flow, "BUILD", tmp_path / "build")
    rc = hls_flow.main(
        ["--export-dir", str(tiny_export()), "--name", "t", "--stages", "csim", "csynth", "cosim"]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    build = tmp_path / "build" / "t"
    settings = (build / "settings.tcl").read_text()
    manifest = hls_flow.read_manifest(tiny_export())
    for d in manifest["depth_defines"]:
        assert d in settings
    rep = json.loads((build / "reports.json").read_text())
    assert rep["kind"] == "hls-reports" and rep["label"] == "measured"
    assert rep["tools"] == {"vitis_hls": "2023.2"}
    assert rep["csynth"]["latency"] == [105704, 115406]
    assert rep["csynth"]["resources"]["LUT"] == 11733
    assert rep["cosim"]["status"] == "Pass" and rep["cosim"]["latency"] == [76, 147, 221]
    model = json.loads((tiny_export() / "report.json").read_text())
    assert rep["model"]["total_cycles"] == model["cycles"]
    assert rep["cosim"]["ratio_to_model"] == pytest.approx(147 / model["cycles"])
    assert sum(g["cycles"] for g in rep["loops"]) == model["cycles"]
    assert "measured/model" in out and "csynth [estimated" in out
    assert (build / "run_hls.log").is_file()
