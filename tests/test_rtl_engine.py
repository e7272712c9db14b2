"""The whole RTL engine (edgemoe_rtl_top) on Verilator through its AXI ports.

The system testbench (sim/cocotb/test_engine.py, run by sim.engine) drives the
engine as host.board.EngineIP drives the HLS IP: registers through AXI4-Lite,
params and io in one memory behind every AXI4 master (DDR latency modelled).

Refused descriptors (a global field, a block field, both): the status register
must be the C++'s status for the same image (sim.csim), with its ap_vld set,
ap_done must rise, the io image must be byte for byte what it was, and no
write address may ever have been handshaken on gmem_io.

The full run (the golden output of tiny hw16, task 0) cannot pass until
edgemoe_datapath is debugged: it is marked xfail (not strict).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.rtl import BUILD, simulator_missing
from tests.conftest import require

pytestmark = pytest.mark.rtl

EXPORT = BUILD / "engine_exports" / "tiny-hw16"


@pytest.fixture(scope="module")
def export() -> Path:
    why = simulator_missing("verilator")
    require(why is None, f"RTL simulator verilator ({why})")
    from sim.csim import ap_types_dir, find_cxx

    require(find_cxx() is not None and ap_types_dir() is not None, "g++ and ap_types (csim)")
    from sim.engine import make_export

    return make_export(EXPORT)


@pytest.mark.parametrize("case", ["global_magic", "block_fmt_absent", "global_and_block"])
def test_refused_descriptor_leaves_io_untouched(export: Path, case: str, tmp_path: Path) -> None:
    from host.export import Export
    from sim.engine import refused_cases, run_engine

    params = refused_cases(Export.open(export).params)[case]
    pfile = tmp_path / "params.bin"
    params.tofile(pfile)
    r = run_engine(export, 0, params_bin=pfile, max_cycles=50_000, result=tmp_path / "r.json")
    assert r["ap_done"], r["problems"]
    assert r["status_name"] != "OK"
    assert r["status"] == r["cpp_status"], (r["status_name"], r["cpp_status_name"])
    assert r["status_valid"] == 1
    assert r["io_changed_bytes"] == 0
    assert r["axi"]["aw_io"] == 0 and r["axi"]["w_io"] == 0
    # only params reads: the global descriptor, and for a block refusal every block
    assert r["axi"]["ar_gmem_io"] > 0
    assert all(r["axi"][f"ar_gmem_w{p}"] == 0 for p in range(4))
    assert r["problems"] == []


@pytest.mark.xfail(
    strict=False,
    reason="edgemoe_datapath is not yet simulated/debugged (hls/rtl/engine/README.md)",
)
def test_full_run_is_bit_exact_with_the_golden_model(export: Path, tmp_path: Path) -> None:
    from sim.engine import run_engine

    r = run_engine(export, 0, result=tmp_path / "r.json")
    assert r["ap_done"], r["problems"]
    assert r["status_name"] == "OK" and r["status_valid"] == 1
    assert r["differing"] == 0, r["first_differing"]
    assert np.asarray(r["output"]).shape == (13, 32)
