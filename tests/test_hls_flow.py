"""The Vitis HLS script and its wrapper, checked without Vitis.

hls/tcl/run_hls.tcl is sourced by tclsh with stub procedures standing in for
the Vitis HLS commands: it must parse and run, select stages from its
arguments, name the ZCU104 part and the 300 MHz clock, and add only files that
exist. The wrapper must stop with a clear message when vitis_hls is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import require

ROOT = Path(__file__).resolve().parents[1]
TCL = ROOT / "hls" / "tcl" / "run_hls.tcl"
VITIS_COMMANDS = (
    "open_project",
    "set_top",
    "add_files",
    "open_solution",
    "set_part",
    "create_clock",
    "config_compile",
    "config_export",
    "csim_design",
    "csynth_design",
    "cosim_design",
    "export_design",
)


def run_tcl(tmp_path: Path, *args: str) -> tuple[int, list[list[str]], str]:
    """Source run_hls.tcl under tclsh with stubs; return (exit code, calls, stderr)."""
    tclsh = shutil.which("tclsh")
    require(tclsh is not None, "tclsh")
    stubs = "".join(f'proc {c} {{args}} {{ puts "CALL {c} $args" }}\n' for c in VITIS_COMMANDS)
    driver = tmp_path / "driver.tcl"
    driver.write_text(
        stubs
        + "rename exit real_exit\n"
        + "proc exit {{code 0}} { puts \"EXIT $code\"; real_exit $code }\n"
        + "set argv [list " + " ".join("{" + a + "}" for a in args) + "]\n"
        + "set argc [llength $argv]\n"
        + f"source {{{TCL}}}\n"
    )  # fmt: skip
    proc = subprocess.run([tclsh, str(driver)], capture_output=True, text=True, timeout=60)
    calls = [line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("CALL ")]
    return proc.returncode, calls, proc.stderr


@pytest.fixture()
def export_dir(tmp_path: Path) -> Path:
    d = tmp_path / "export"
    d.mkdir()
    (d / "edgemoe_config.h").write_text("// stub\n")
    (d / "params.bin").write_bytes(b"\0" * 16)
    return d


def test_every_command_parses(tmp_path):
    """Each top-level command of the script is complete Tcl (info complete)."""
    tclsh = shutil.which("tclsh")
    require(tclsh is not None, "tclsh")
    check = tmp_path / "check.tcl"
    check.write_text(
        "set f [open [lindex $argv 0]]; set src [read $f]; close $f\n"
        "set cmd {}; set n 0\n"
        "foreach line [split $src \\n] {\n"
        "  append cmd $line \\n\n"
        "  if {[info complete $cmd]} { incr n; set cmd {} }\n"
        "}\n"
        "if {[string trim $cmd] ne {}} { puts INCOMPLETE; exit 1 }\n"
        'puts "COMMANDS $n"\n'
    )
    proc = subprocess.run([tclsh, str(check), str(TCL)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert int(proc.stdout.split()[-1]) > 20


def test_all_stages_run_in_order_with_existing_sources(tmp_path, export_dir):
    code, calls, err = run_tcl(tmp_path, str(export_dir), "csim", "csynth", "cosim", "export")
    assert code == 0, err
    names = [c[0] for c in calls]
    assert names.index("csim_design") < names.index("csynth_design") < names.index("cosim_design")
    assert names.index("cosim_design") < names.index("export_design")
    assert ["set_part", "xczu7ev-ffvc1156-2-e"] in calls
    assert ["create_clock", "-period", "3.33", "-name", "default"] in calls
    assert ["set_top", "edgemoe_top"] in calls
    added = [c for c in calls if c[0] == "add_files"]
    files = [Path(c[2] if c[1] == "-tb" else c[1]) for c in added]
    assert len(files) >= 9
    for f in files:
        assert f.is_file(), f"run_hls.tcl names a missing file: {f}"
    assert {f.name for f in files} >= {"edgemoe_top.cpp", "tb_main.cpp", "edgemoe_engine.h"}
    # Every kernel source of the C simulation is in the Vitis project too.
    from sim.csim import KERNEL_SOURCES

    assert set(KERNEL_SOURCES) <= {f.name for f in files}
    assert any(str(export_dir) in " ".join(c) for c in calls if c[0] == "csim_design")


def test_stage_selection(tmp_path, export_dir):
    _, calls, _ = run_tcl(tmp_path, str(export_dir))
    names = [c[0] for c in calls]
    assert "csim_design" in names and "csynth_design" in names
    assert "cosim_design" not in names and "export_design" not in names
    _, calls, _ = run_tcl(tmp_path, str(export_dir), "cosim")
    names = [c[0] for c in calls]
    assert "csynth_design" in names and "cosim_design" in names and "csim_design" not in names


def test_bad_arguments_fail_clearly(tmp_path, export_dir):
    code, _, err = run_tcl(tmp_path, str(export_dir), "place")
    assert code != 0 and "unknown stage 'place'" in err
    code, _, err = run_tcl(tmp_path, str(tmp_path / "nowhere"), "csim")
    assert code != 0 and "edgemoe_config.h missing" in err
    code, _, err = run_tcl(tmp_path)
    assert code != 0 and "usage" in err


def test_wrapper_names_missing_vitis(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))  # no vitis_hls anywhere
    proc = subprocess.run(
        [sys.executable, "-m", "sim.hls_flow", "--preset", "tiny"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "vitis_hls not found" in proc.stderr
