"""The AXI4 master testbenches can fail: each fails a master with one bug.

tests/test_rtl.py runs axi_rd and axi_wr (sim.rtl.UNITS) on both simulators;
here each bug is one line of axi_rd.sv / axi_wr.sv changed, simulated on
Icarus with the unit's CI case, and the run must report mismatches (the
protocol checks or the data comparison of sim/cocotb/test_axi_{rd,wr}.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.rtl import module_files, run_unit, simulator_missing
from tests.conftest import require

pytestmark = pytest.mark.rtl

#: unit -> bug -> (line of the good RTL, its replacement)
BUGS: dict[str, dict[str, tuple[str, str]]] = {
    "axi_rd": {
        "no 4 KiB rule": (
            "wire [8:0] to_4k = 9'd256 - 9'(a[11:4]);",
            "wire [8:0] to_4k = 9'd256;",
        ),
        "err not sticky": (
            "if (r_hs && m_axi_rresp != 2'b00) err <= 1'b1;",
            "err <= r_hs && m_axi_rresp != 2'b00;",
        ),
        "rd_last on every burst's last beat": (
            ".in_data({m_axi_rlast && tag_valid && tag_final, m_axi_rdata}),",
            ".in_data({m_axi_rlast, m_axi_rdata}),",
        ),
    },
    "axi_rd_o2": {
        "no outstanding limit": (
            "wire load = rem != 0 && ar_free && int'(nout) < OUTSTANDING &&",
            "wire load = rem != 0 && ar_free &&",
        ),
        "no FIFO credit": (
            "int'(credit) + int'(blen) <= DEPTH;",
            "1'b1;",
        ),
    },
    "axi_wr": {
        "WLAST on the first beat": (
            "m_axi_wlast <= take_last;",
            "m_axi_wlast <= wcnt == 8'd0;",
        ),
        "done on every B": (
            "if (b_hs && fin_valid && fin) done <= 1'b1;",
            "if (b_hs) done <= 1'b1;",
        ),
        "AWLEN one beat long": (
            "m_axi_awlen <= 8'(blen - 9'd1);",
            "m_axi_awlen <= 8'(blen);",
        ),
    },
}


@pytest.mark.parametrize(
    ("unit", "bug"), [(u, b) for u, bugs in BUGS.items() for b in bugs], ids=lambda x: x
)
def test_axi_master_bug_is_caught(
    unit: str, bug: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.rtl

    why = simulator_missing("icarus")
    require(why is None, f"RTL simulator icarus ({why})")
    top = sim.rtl.UNITS[unit].top
    old, new = BUGS[unit][bug]
    files = module_files()
    good = files[top].read_text()
    assert good.count(old) == 1, f"{top}.sv no longer has {old!r}"
    broken = tmp_path / f"{top}.sv"
    broken.write_text(good.replace(old, new))
    monkeypatch.setattr(sim.rtl, "sources", lambda _top: [files["sfifo"], broken])
    r = run_unit(unit, "icarus", build_root=tmp_path, check=False)
    assert r["mismatches"] > 0, r["first_mismatches"]
