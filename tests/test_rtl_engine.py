"""The whole RTL engine (edgemoe_rtl_top) on Verilator through its AXI ports.

The system testbench (sim/cocotb/test_engine.py, run by sim.engine) drives the
engine as host.board.EngineIP drives the HLS IP: registers through AXI4-Lite,
params and io in one memory behind every AXI4 master (DDR latency modelled).

Refused descriptors (a global field, a block field, both): the status register
must be the C++'s status for the same image (sim.csim), with its ap_vld set,
ap_done must rise, the io image must be byte for byte what it was, and no
write address may ever have been handshaken on gmem_io.

Full runs: the golden output of tiny for every task, with 16-bit activations
(hw16 with the multi-gate router, hw8: 8-bit weights, two MACs per DSP) and
32-bit ones (edgemoe with the task router, whose task feature is read from
params), each word compared as an integer (0 differing); one of them with slow,
narrow DDR (latency 60 cycles, half a beat per cycle over every port) to
show the schedule's overlaps do not depend on the timing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.rtl import BUILD, simulator_missing
from tests.conftest import require

pytestmark = pytest.mark.rtl

EXPORTS = BUILD / "engine_exports"
#: (numerics, router) of each export under test, and its tasks
#: (hw8 task 1 runs with slow DDR below; edgemoe's task 1 reads the second task feature)
CASES = {("hw16", "multi"): (0, 1), ("hw8", "multi"): (0,), ("edgemoe", "task"): (1,)}


def _tools() -> None:
    why = simulator_missing("verilator")
    require(why is None, f"RTL simulator verilator ({why})")
    from sim.csim import ap_types_dir, find_cxx

    require(find_cxx() is not None and ap_types_dir() is not None, "g++ and ap_types (csim)")


@pytest.fixture(scope="module")
def exports() -> dict[tuple[str, str], Path]:
    """The tiny exports (written once per session; each is deterministic)."""
    _tools()
    from sim.engine import make_export

    out: dict[tuple[str, str], Path] = {}

    def get(numerics: str, router: str) -> Path:
        key = (numerics, router)
        if key not in out:
            out[key] = make_export(
                EXPORTS / f"tiny-{numerics}-{router}", numerics=numerics, router=router
            )
        return out[key]

    return _Lazy(get)


class _Lazy(dict):
    """Exports made on first use."""

    def __init__(self, make) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: tuple[str, str]) -> Path:
        return self._make(*key)


@pytest.fixture(scope="module")
def export(exports) -> Path:
    return exports[("hw16", "multi")]


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


@pytest.mark.parametrize(
    "numerics,router,task", [(n, r, t) for (n, r), tasks in CASES.items() for t in tasks]
)
def test_full_run_is_bit_exact_with_the_golden_model(
    exports, numerics: str, router: str, task: int, tmp_path: Path
) -> None:
    from sim.engine import run_engine

    r = run_engine(exports[(numerics, router)], task, result=tmp_path / "r.json")
    assert r["ap_done"], r["problems"]
    assert r["status_name"] == "OK" and r["status_valid"] == 1
    assert r["differing"] == 0, r["first_differing"]
    assert np.asarray(r["output"]).shape == (13, 32)
    assert r["problems"] == []
    # every weight port and the io writes were used; the cycles add up per layer kind
    assert all(r["axi"][f"ar_gmem_w{p}"] > 0 for p in range(4))
    assert r["axi"]["aw_io"] > 0
    layer = r["layer_cycles"]
    assert layer["embed"] > 0 and layer["attn"] > 0 and layer["experts"] > 0, layer
    # the sequencer runs after the descriptor fetch and check, inside ap_start -> ap_done
    assert 0.5 * r["cycles"] < sum(layer.values()) < r["cycles"]


def test_full_run_with_slow_narrow_ddr(exports, tmp_path: Path) -> None:
    """hw8's other task with DDR 3x slower (60 cycles per burst) and half a beat per
    cycle for every port together: the same golden words, the run stalls on DDR."""
    from sim.engine import READ_LATENCY, run_engine

    r = run_engine(
        exports[("hw8", "multi")],
        1,
        read_latency=3 * READ_LATENCY,
        write_latency=3 * READ_LATENCY,
        bandwidth=0.5,
        result=tmp_path / "r.json",
    )
    assert r["status_name"] == "OK" and r["differing"] == 0, r["first_differing"]
    # beats moved over the run exceed what half a beat per cycle allows: impossible
    beats = sum(v for k, v in r["axi"].items() if k.startswith(("r_", "w_")))
    assert beats <= 0.5 * r["cycles"] + 8, (beats, r["cycles"])


def test_host_rtl_backend_runs_the_golden_image(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``edgemoe run --backend rtl --golden``: the host runtime (pynq's Overlay, MMIO and
    allocate on the simulated board) whose logic is the RTL engine, driven through its
    AXI ports with the buffers the host allocated. The output must equal the golden
    output word for word, and the engine's cycles of the run are reported."""
    import json

    from host.cli import main

    out = tmp_path / "run.json"
    argv = ["run", str(export), "--task", "0", "--golden", "--backend", "rtl", "--json", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "backend rtl" in text and "MEASURED in RTL simulation" in text
    payload = json.loads(out.read_text())
    assert payload["bit_exact"] is True
    assert payload["backend"] == "rtl" and payload["rtl_cycles"] > 0
    assert payload["task"] == "semseg"  # --task 0 names the export's first task


def test_hls_rtl_folder_is_checked_before_any_build(tmp_path: Path) -> None:
    """``make sim HLS_RTL=<solution>/syn/verilog``: the folder must hold the HLS top's
    Verilog; its ROM ``.dat`` files are what the simulation directory gets."""
    from sim.engine import hls_rtl_sources

    with pytest.raises(RuntimeError, match="no such directory"):
        hls_rtl_sources(tmp_path / "nope", "edgemoe_top")
    (tmp_path / "edgemoe_top_control_s_axi.v").write_text("module m; endmodule\n")
    with pytest.raises(RuntimeError, match=r"no edgemoe_top\.v"):
        hls_rtl_sources(tmp_path, "edgemoe_top")
    (tmp_path / "edgemoe_top.v").write_text("module edgemoe_top; endmodule\n")
    (tmp_path / "edgemoe_top_exp2_ROM_AUTO_1R.dat").write_text("0000\n")
    hdl, dats = hls_rtl_sources(tmp_path, "edgemoe_top")
    assert [f.name for f in hdl] == ["edgemoe_top.v", "edgemoe_top_control_s_axi.v"]
    assert [f.name for f in dats] == ["edgemoe_top_exp2_ROM_AUTO_1R.dat"]
