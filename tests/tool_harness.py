"""Running the Vitis/Vivado flows without the tools: tclsh stand-ins and a tiny export.

``fake_tools`` puts executables named ``vitis_hls``, ``vitis-run`` and ``vivado``
on a directory for PATH; each runs tests/tcl/fake_tool.tcl under tclsh, which
sources the flow's real tcl script with the vendor commands replaced by
recorders (see that file for the STUB_* variables). Reports come from the real
tool outputs in tests/fixtures/tool_reports.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .conftest import require

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tool_reports"
FAKE_TOOL = Path(__file__).resolve().parent / "tcl" / "fake_tool.tcl"


def tclsh() -> str:
    exe = shutil.which("tclsh")
    require(exe is not None, "tclsh (Debian package tcl)")
    return exe  # type: ignore[return-value]


def command_count(script: Path) -> int:
    """Number of complete top-level tcl commands; fails (AssertionError) on an unfinished one."""
    check = (
        "set f [open [lindex $argv 0]]; set src [read $f]; close $f\n"
        "set cmd {}; set n 0\n"
        "foreach line [split $src \\n] {\n"
        "  append cmd $line \\n\n"
        "  if {[info complete $cmd]} { if {[string trim $cmd] ne {}} { incr n }; set cmd {} }\n"
        "}\n"
        "if {[string trim $cmd] ne {}} { puts INCOMPLETE; exit 1 }\n"
        'puts "COMMANDS $n"\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".tcl") as f:
        f.write(check)
        f.flush()
        proc = subprocess.run([tclsh(), f.name, str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, f"{script}: {proc.stdout}{proc.stderr}"
    return int(proc.stdout.split()[-1])


def fake_tools(bin_dir: Path, names: tuple[str, ...] = ("vitis_hls", "vivado")) -> Path:
    """Executables ``names`` in ``bin_dir`` that run the stand-in; returns ``bin_dir``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        exe = bin_dir / name
        exe.write_text(f'#!/bin/sh\nexec "{tclsh()}" "{FAKE_TOOL}" {name} "$@"\n')
        exe.chmod(0o755)
    return bin_dir


def stub_env(bin_dir: Path, log: Path, **stubs: object) -> dict[str, str]:
    """Environment with only ``bin_dir`` (and the basic system tools) on PATH, and STUB_*."""
    env = dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin", STUB_LOG=str(log))
    for k in list(env):
        if k.startswith("STUB_"):
            del env[k]
    env["STUB_LOG"] = str(log)
    env.update({f"STUB_{k.upper()}": str(v) for k, v in stubs.items()})
    return env


def calls(log: Path) -> list[list[str]]:
    """The recorded tool commands: [name, arg, ...] per call, in order."""
    if not log.is_file():
        return []
    return [
        line.split("\t")[1:] for line in log.read_text().splitlines() if line.startswith("CALL")
    ]


def run_fake(
    tool: str, script: Path, settings: Path | None, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` as ``tool`` would, under the stand-in."""
    if tool == "vivado":
        args = ["-mode", "batch", "-source", str(script)]
    elif tool == "vitis_hls":
        args = ["-f", str(script)]
    else:
        args = ["--mode", "hls", "--tcl", str(script)]
    if settings is not None and tool != "vitis-run":
        args += ["-tclargs", str(settings)]
    return subprocess.run(
        [tclsh(), str(FAKE_TOOL), tool, *args], env=env, capture_output=True, text=True, timeout=60
    )


@functools.cache
def tiny_export() -> Path:
    """One real export of the tiny preset with golden vectors, shared by the tests (~5 s)."""
    from pymodel.export import export_from_cli

    d = Path(tempfile.mkdtemp(prefix="edgemoe-tiny-export-"))
    atexit.register(shutil.rmtree, d, True)
    return export_from_cli("tiny", d / "export", golden=True)
