"""RTL arithmetic units (hls/rtl/*.sv) in cocotb on Icarus Verilog and Verilator.

Every unit instance of sim.rtl.UNITS runs on both simulators with the CI
vector counts: every output compared bit for bit with pymodel.numerics, II
and latency asserted, no output word after the last expected one. A missing
simulator fails in CI and skips locally. Also here: tests that show the
checks can fail (a wrong table, a wrong core latency, an invariant broken at
elaboration, an extra output word, a changed parameter that must rebuild),
the Verilator lint, the layout rules of the RTL files, the exported tables
and the Vitis blackbox descriptors.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from pymodel.export.rtl_regs import PACKAGE as REGS_PACKAGE
from pymodel.export.rtl_regs import package_text
from pymodel.numerics.hwmath import tables
from pymodel.numerics.rtl_export import CORE_LATENCY, write_rtl_tables
from sim.blackbox import BLACKBOX_UNITS, COMMON_SIGNALS, REQUIRED, write_bundle
from sim.rtl import (
    O_CODE,
    Q_CODE,
    RTL_DIR,
    SIMULATORS,
    TB_HDL_DIR,
    UNITS,
    generated_sources,
    module_files,
    packages_used,
    run_unit,
    simulator_missing,
    sources,
)
from tests.conftest import require

pytestmark = pytest.mark.rtl


def _need(sim: str) -> None:
    why = simulator_missing(sim)
    require(why is None, f"RTL simulator {sim} ({why})")


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("name", list(UNITS))
def test_unit_bit_exact_with_timing(name: str, sim: str) -> None:
    _need(sim)
    r = run_unit(name, sim)  # builds cached under build/sim/, keyed on their inputs
    u = UNITS[name]
    assert r["mismatches"] == 0, r["first_mismatches"]
    assert r["extra_outputs"] == 0, r["first_extra_outputs"]
    assert r["vectors"] == u.ci_vectors
    assert (r["ii"], r["latency"]) == (u.ii, u.latency)


def test_instances_cover_every_mode_pair_and_the_hw16_formats() -> None:
    """All 7 x 4 quantisation/overflow pairs go through requant (requant_modes checks
    each of them for every vector), more than two pairs through the units themselves,
    hw16's unsigned probability format, and top-k with K = 1, 2 and 4."""
    assert (len(Q_CODE), len(O_CODE)) == (7, 4)
    assert any(u.top == "requant_modes" and u.params["IN_W"] >= 63 for u in UNITS.values())
    assert any(u.top == "requant_modes" and not u.params["OUT_SIGNED"] for u in UNITS.values())
    pairs = {
        (u.params[f"{p}QUANT"], u.params[f"{p}OVF"])
        for u in UNITS.values()
        for p in ("", "Z_")
        if f"{p}QUANT" in u.params
    }
    assert len(pairs) >= 6
    hw16 = UNITS["softmax_hw16"].params  # ap_ufixed<16,0,AP_RND_CONV,AP_SAT>
    assert (hw16["OUT_W"], hw16["OUT_FRAC"], hw16["OUT_SIGNED"]) == (16, 16, 0)
    assert (hw16["QUANT"], hw16["OVF"]) == (Q_CODE["RND_CONV"], O_CODE["SAT"])
    assert {u.params["K"] for u in UNITS.values() if u.top == "topk_router"} >= {1, 2, 4}


# ------------------------------------------------------------ the checks can fail
def test_wrong_table_is_caught(tmp_path: Path) -> None:
    """One exp2 entry off by one LSB must show up as mismatches (the tests can fail)."""
    _need("icarus")
    bad = list(tables()["exp2"])
    bad[37] += 1
    write_rtl_tables(tmp_path / "tables", overrides={"exp2": bad})
    r = run_unit(
        "exp",
        "icarus",
        vectors=600,
        tables_dir=tmp_path / "tables",
        build_root=tmp_path,
        check=False,
    )
    assert r["mismatches"] > 0


def test_changed_parameters_rebuild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit whose parameters change simulates the new parameters: the same instance
    name with other rounding/overflow modes gets a fresh build (Icarus only rebuilds
    when sources are newer, so a folder named by unit and simulator kept the old one)."""
    from sim.cocotb.test_mac_tile import case

    _need("icarus")
    unit = UNITS["mac_rnd_sat"]
    changed = dataclasses.replace(
        unit, params={**unit.params, "QUANT": Q_CODE["TRN"], "OVF": O_CODE["WRAP"]}
    )
    # the goldens differ, so a stale build (still rounding and saturating) would mismatch
    cfg = {"vectors": 150, "seed": 1}
    assert case({**cfg, "params": unit.params}) != case({**cfg, "params": changed.params})
    assert run_unit("mac_rnd_sat", "icarus", vectors=150, build_root=tmp_path)["mismatches"] == 0
    monkeypatch.setitem(UNITS, "mac_rnd_sat", changed)
    r = run_unit("mac_rnd_sat", "icarus", vectors=150, build_root=tmp_path, check=False)
    assert r["mismatches"] == 0, r["first_mismatches"]
    builds = [p.name for p in tmp_path.iterdir() if p.name.startswith("mac_rnd_sat_icarus_")]
    assert len(builds) == 1  # the older build of the instance was replaced, not kept


def test_extra_output_word_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit that writes one word more than expected fails the run (here: the exp
    unit with a case that expects one word fewer than it has inputs)."""
    _need("icarus")
    short = dataclasses.replace(UNITS["exp"], name="exp", test_module="tests.rtl_short_case")
    monkeypatch.setitem(UNITS, "exp", short)
    with pytest.raises(RuntimeError, match="extra output words"):
        run_unit("exp", "icarus", vectors=300)
    r = run_unit("exp", "icarus", vectors=300, check=False)
    assert r["extra_outputs"] == 1 and r["mismatches"] == 0


def test_wrong_core_latency_is_caught(tmp_path: Path) -> None:
    """A core latency in the Python owner that the RTL core does not have stops the
    simulation at elaboration, naming the core."""
    _need("icarus")
    write_rtl_tables(tmp_path / "tables", latency={"exp": CORE_LATENCY["exp"] + 1})
    with pytest.raises(RuntimeError, match="no result written"):
        run_unit("exp", "icarus", vectors=50, tables_dir=tmp_path / "tables", build_root=tmp_path)
    (log,) = tmp_path.glob("exp_icarus_*/sim.log")
    assert "exp_core has 4 stages but hwmath_pkg::EXP_LAT = 5" in log.read_text()


def test_broken_invariant_stops_elaboration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An accumulator too narrow for the aligned bias is refused at elaboration."""
    _need("icarus")
    unit = UNITS["mac_rnd_sat"]
    narrow = dataclasses.replace(unit, params={**unit.params, "ACC_W": 24})
    monkeypatch.setitem(UNITS, "mac_rnd_sat", narrow)
    with pytest.raises(RuntimeError, match="no result written"):
        run_unit("mac_rnd_sat", "icarus", vectors=20, build_root=tmp_path)
    (log,) = tmp_path.glob("mac_rnd_sat_icarus_*/sim.log")
    assert "mac_tile: ACC_W = 24 cannot hold" in log.read_text()


#: Bugs a register slave could have, each one line of ctrl_regs.sv changed.
CTRL_REGS_BUGS = {
    "start accepted while busy": (
        "n_start = ctrl_m[CTRL_AP_START] && n_idle;",
        "n_start = ctrl_m[CTRL_AP_START];",
    ),
    "ap_done cleared by a read on the edge it rises": (
        "      if (n_auto) {n_start, n_idle} = 2'b10;",
        "      if (n_auto) {n_start, n_idle} = 2'b10;\n      if (ar_hs && ra == AW'(OFF_CTRL)) "
        "{n_done, n_ready} = 2'b00;",
    ),
    "byte strobes ignored": (
        "wire [31:0] wmask = {{8{ws[3]}}",
        "wire [31:0] wmask = '1 | {{8{ws[3]}}",
    ),
}


@pytest.mark.parametrize("bug", list(CTRL_REGS_BUGS))
def test_ctrl_regs_bug_is_caught(bug: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The register slave's testbench fails a slave with one of these bugs (the
    comparison with host.simboard.EngineRegisters can fail)."""
    import sim.rtl

    _need("icarus")
    old, new = CTRL_REGS_BUGS[bug]
    good = module_files()["ctrl_regs"]
    assert good.read_text().count(old) == 1
    broken = tmp_path / "ctrl_regs.sv"
    broken.write_text(good.read_text().replace(old, new))
    monkeypatch.setattr(sim.rtl, "sources", lambda top: [broken])
    r = run_unit("ctrl_regs", "icarus", build_root=tmp_path, check=False)
    assert r["mismatches"] > 0


#: Bugs a descriptor check could have, each one line of desc_check.sv changed.
DESC_CHECK_BUGS = {
    "activation formats one bit too wide accepted": (
        "return w[16] && fwid(w) >= 2 && fwid(w) <= ACT_W;",
        "return w[16] && fwid(w) >= 2 && fwid(w) <= ACT_W + 1;",
    ),
    "region end wraps at 32 bits": (
        "return {1'b0, off} + {1'b0, beats} <= {1'b0, limit};",
        "return off + beats <= limit;",
    ),
    "task compared as a signed number": (
        "assign gf[8] = tsk >= tasks;",
        "assign gf[8] = $signed(tsk) >= tasks;",
    ),
    "maxima checked after the consistency checks": (
        "else if (gf_q[3]) glob_status = 32'(edgemoe_regs_pkg::STATUS_OVER_MAXIMA);",
        "else if (gf_q[3] && !gf_q[4]) glob_status = 32'(edgemoe_regs_pkg::STATUS_OVER_MAXIMA);",
    ),
}


@pytest.mark.parametrize("bug", list(DESC_CHECK_BUGS))
def test_desc_check_bug_is_caught(
    bug: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The descriptor check's testbench fails a check with one of these bugs (the
    comparison with the C++'s status can fail; the C simulation's statuses are cached)."""
    import sim.rtl

    _need("icarus")
    old, new = DESC_CHECK_BUGS[bug]
    good = module_files()["desc_check"]
    assert good.read_text().count(old) == 1
    broken = tmp_path / "desc_check.sv"
    broken.write_text(good.read_text().replace(old, new))
    monkeypatch.setattr(sim.rtl, "sources", lambda top: [broken])
    r = run_unit("desc_check", "icarus", build_root=tmp_path, check=False)
    assert r["mismatches"] > 0


# ------------------------------------------------------------------ lint and layout
def test_verilator_lint_wall_is_clean() -> None:
    """`verilator --lint-only -Wall` (warnings fatal) on every module and instance."""
    _need("verilator")
    from sim.rtl_lint import main

    assert main([]) == 0


_PARAM = re.compile(r"^\s*parameter\b.*$", re.M)


@pytest.mark.parametrize("path", sorted(module_files().values()), ids=lambda p: p.name)
def test_rtl_file_layout(path: Path) -> None:
    """One module per file, named after it; `default_nettype none` before it and
    `wire` restored after; a comment line above every parameter; invariants checked
    at elaboration ($error + $finish) by every module with parameters of its own."""
    text = path.read_text()
    units = re.findall(r"^(?:module|package)\s+(\w+)", text, re.M)
    assert units == [path.stem]  # one module (or package) per file
    lines = [ln.strip() for ln in text.splitlines()]
    code = [ln for ln in lines if ln and not ln.startswith("//")]
    assert code[0] == "`default_nettype none" and code[-1] == "`default_nettype wire"
    for m in _PARAM.finditer(text):
        before = text[: m.start()].rstrip().splitlines()[-1].strip()
        assert before.startswith("//"), f"{path.name}: no comment above {m.group().strip()!r}"
    # parameters are checked here, or all passed on to instances that check them
    names = re.findall(r"^\s*parameter\s+(?:int\s+|bit\s+)?(\w+)", text, re.M)
    forwarded = all(re.search(rf"\.{n}\(", text) for n in names)
    if names and not forwarded:
        assert "$error(" in text and "$finish" in text, f"{path.name}: no elaboration checks"


def test_sources_follow_instantiations() -> None:
    names = [p.stem for p in sources("softmax_row")]
    assert names[-1] == "softmax_row"
    assert {"row_buffer", "exp_core", "recip_core", "requant", "delay", "rom2r"} <= set(names)
    assert names.index("rom2r") < names.index("exp_core")  # leaves first
    assert [p.stem for p in sources("requant_modes")][-1] == "requant_modes"
    assert sources("requant_modes")[-1].parent == TB_HDL_DIR
    with pytest.raises(ValueError, match="no module"):
        sources("no_such_module")


def test_sources_bring_the_generated_register_package() -> None:
    """A module that uses edgemoe_regs_pkg:: is compiled (and linted) with the package
    generated from pymodel.export.regmap; the others only with hwmath_pkg."""
    assert packages_used("ctrl_regs") == [REGS_PACKAGE]
    regs = generated_sources("ctrl_regs")
    assert [p.stem for p in regs] == ["hwmath_pkg", REGS_PACKAGE]
    assert regs[1].read_text() == package_text()
    assert [p.stem for p in generated_sources("router_rt")] == ["hwmath_pkg"]
    assert REGS_PACKAGE not in {p.stem for p in sources("ctrl_regs")}


def test_no_descriptor_or_generated_file_in_the_source_tree() -> None:
    """Descriptors name the generated package, so they are written with it into a
    bundle (sim.blackbox), never committed beside the sources."""
    assert not list(RTL_DIR.glob("*.json")) and not list(RTL_DIR.glob("*.mem"))
    assert not (RTL_DIR / "hwmath_pkg.sv").exists()
    assert not list(RTL_DIR.rglob(f"{REGS_PACKAGE}.sv"))


# ------------------------------------------------------------- tables, descriptors
def test_exported_tables_round_trip(tmp_path: Path) -> None:
    paths = write_rtl_tables(tmp_path)
    for name, values in tables().items():
        lines = paths[name].read_text().split()
        assert [int(v, 16) for v in lines] == values
    pkg = paths["package"].read_text()
    assert f"localparam int LOG2E = {tables()['log2e'][0]};" in pkg
    assert "package hwmath_pkg;" in pkg and "function automatic longint ln_eps_raw" in pkg
    for core, cycles in CORE_LATENCY.items():
        assert f"localparam int {core.upper()}_LAT = {cycles};" in pkg
    with pytest.raises(ValueError, match="unknown core"):
        write_rtl_tables(tmp_path, latency={"fft": 3})


def _ports(top: str) -> set[str]:
    """Port names of module ``top`` (from its ANSI port list)."""
    text = module_files()[top].read_text()
    m = re.search(rf"module\s+{top}\b.*?\)\s*\((.*?)\);", text, re.S)
    assert m, f"module {top} has no ANSI port list"
    return set(re.findall(r"(\w+)\s*(?:,|$)", m.group(1), re.M))


def test_blackbox_bundle(tmp_path: Path) -> None:
    """Every descriptor has UG1399's fields, names files that exist (the package and
    tables in the bundle, the sources in hls/rtl), ports the RTL module has, and
    the II and latency the testbenches assert."""
    paths = write_bundle(tmp_path, resources=tmp_path / "absent.json")
    assert len(paths) == len(BLACKBOX_UNITS)
    assert (tmp_path / "exp2.mem").is_file()
    for name, path in zip(BLACKBOX_UNITS, paths):
        d = json.loads(path.read_text())
        for key in REQUIRED:
            assert key in d, f"{path.name}: missing {key}"
        u = UNITS[name]
        assert d["c_function_name"] == d["rtl_top_module_name"] == u.top
        assert d["rtl_files"][0] == "hwmath_pkg.sv"
        files = [(path.parent / f).resolve() for f in d["rtl_files"]]
        assert all(f.is_file() for f in files), d["rtl_files"]
        assert files[1:] == sources(u.top)
        ports = _ports(u.top)
        assert set(d["rtl_common_signal"]) == set(COMMON_SIGNALS)
        for key in COMMON_SIGNALS[:3]:
            assert d["rtl_common_signal"][key] in ports
        for p in d["c_parameters"]:
            assert p["c_port_direction"] in ("in", "out", "inout")
            assert p["rtl_ports"] and set(p["rtl_ports"].values()) <= ports
        assert int(d["rtl_performance"]["latency"]) == u.latency
        assert int(d["rtl_performance"]["II"]) >= u.ii
