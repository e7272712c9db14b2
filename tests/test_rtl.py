"""RTL arithmetic units (hls/rtl/*.sv) in cocotb on Icarus Verilog and Verilator.

Every unit instance of sim.rtl.UNITS runs on both simulators with the CI
vector counts: every output compared bit for bit with pymodel.numerics, II
and latency asserted. A missing simulator fails in CI and skips locally.
Also here: the exported tables, a deliberately wrong table that the
simulation must catch, and the Vitis blackbox descriptors.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pymodel.numerics.hwmath import tables
from pymodel.numerics.rtl_export import write_rtl_tables
from sim.blackbox import BLACKBOX_UNITS, COMMON_SIGNALS, REQUIRED, descriptor, path_of
from sim.rtl import RTL_DIR, SIMULATORS, UNITS, run_unit, simulator_missing
from tests.conftest import require

pytestmark = pytest.mark.rtl


def _need(sim: str) -> None:
    why = simulator_missing(sim)
    require(why is None, f"RTL simulator {sim} ({why})")


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("name", list(UNITS))
def test_unit_bit_exact_with_timing(name: str, sim: str) -> None:
    _need(sim)
    r = run_unit(name, sim)  # builds cached under build/sim/
    u = UNITS[name]
    assert r["mismatches"] == 0, r["first_mismatches"]
    assert r["vectors"] == u.ci_vectors
    assert (r["ii"], r["latency"]) == (u.ii, u.latency)


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


def test_exported_tables_round_trip(tmp_path: Path) -> None:
    paths = write_rtl_tables(tmp_path)
    for name, values in tables().items():
        lines = paths[name].read_text().split()
        assert [int(v, 16) for v in lines] == values
    pkg = paths["package"].read_text()
    assert f"localparam int LOG2E = {tables()['log2e'][0]};" in pkg
    assert "package hwmath_pkg;" in pkg and "function automatic longint ln_eps_raw" in pkg


def _ports(top: str) -> set[str]:
    """Port names of module ``top`` in hls/rtl (from its ANSI port list)."""
    for f in RTL_DIR.glob("*.sv"):
        text = f.read_text()
        m = re.search(rf"module\s+{top}\b.*?\)\s*\((.*?)\);", text, re.S)
        if m:
            return set(re.findall(r"(\w+)\s*(?:,|$)", m.group(1), re.M))
    raise AssertionError(f"module {top} not found in {RTL_DIR}")


@pytest.mark.parametrize("name", BLACKBOX_UNITS)
def test_blackbox_descriptor(name: str) -> None:
    """The committed descriptor has UG1399's fields, names files that exist and ports
    the RTL module has, and states the II and latency the testbenches assert."""
    write_rtl_tables()  # the generated package it names
    path = path_of(name)
    d = json.loads(path.read_text())
    for key in REQUIRED:
        assert key in d, f"{path.name}: missing {key}"
    assert d["c_function_name"] == d["rtl_top_module_name"] == UNITS[name].top
    assert d["rtl_files"], "no RTL files"
    for f in d["rtl_files"] + [c["c_file"] for c in d["c_files"]]:
        assert (path.parent / f).is_file(), f"{path.name} names {f}, which does not exist"
    ports = _ports(d["rtl_top_module_name"])
    assert set(d["rtl_common_signal"]) == set(COMMON_SIGNALS)
    for key in COMMON_SIGNALS[:3]:
        assert d["rtl_common_signal"][key] in ports
    for p in d["c_parameters"]:
        assert p["c_port_direction"] in ("in", "out", "inout")
        assert p["rtl_ports"] and set(p["rtl_ports"].values()) <= ports
    u = UNITS[name]
    assert d["rtl_performance"] == descriptor(name)["rtl_performance"]
    assert int(d["rtl_performance"]["latency"]) == u.latency
