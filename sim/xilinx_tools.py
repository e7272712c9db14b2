"""Finding AMD Vitis HLS and Vivado, their versions, and handing values to their tcl scripts.

The launcher of Vitis HLS changed in 2024.2: ``vitis_hls -f script.tcl -tclargs ...``
up to 2024.1, ``vitis-run --mode hls --tcl script.tcl`` from 2024.2 (``vitis_hls``
is deprecated there). Both are driven the same way here: the values a script
needs are written into a small tcl *settings* file, whose path goes in
``-tclargs`` where the launcher has it and always in the environment variable
``EDGEMOE_TCL_SETTINGS`` (which ``vitis-run`` passes through).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Exit code of every flow when a vendor tool is missing (``make`` targets print why).
MISSING = 2
SETTINGS_ENV = "EDGEMOE_TCL_SETTINGS"
INSTALL_HINT = (
    "Install AMD Vivado and Vitis (2022.2 or newer, with Zynq UltraScale+ device support) "
    "and source the settings64.sh of that installation in the shell that runs make"
)
FIRST_VITIS_RUN = (2024, 2)


class ToolMissing(RuntimeError):
    """A vendor tool the flow needs is not on PATH; the message says which and how to get it."""


@dataclass(frozen=True)
class Tool:
    """A located vendor executable and how to run a tcl script with it."""

    name: str  # vitis_hls | vitis-run | vivado
    path: str
    version: str  # e.g. "2023.2"; "unknown" if it did not say

    def command(self, script: Path, settings: Path) -> list[str]:
        """The command line that runs ``script`` with ``settings``."""
        if self.name == "vitis-run":
            return [self.path, "--mode", "hls", "--tcl", str(script)]
        if self.name == "vitis_hls":
            return [self.path, "-f", str(script), "-tclargs", str(settings)]
        if self.name == "vivado":
            return [
                self.path, "-mode", "batch", "-nojournal", "-notrace",
                "-source", str(script), "-tclargs", str(settings),
            ]  # fmt: skip
        raise ValueError(f"no tcl launcher for {self.name}")


def version_tuple(version: str) -> tuple[int, int]:
    m = re.match(r"(\d{4})\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def tool_version(exe: str, flag: str) -> str:
    """``<exe> <flag>`` parsed for a release number (2023.2); else the install path's."""
    try:
        out = subprocess.run(
            [exe, flag], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
        )
        text = out.stdout + out.stderr
    except (OSError, subprocess.TimeoutExpired):
        text = ""
    m = re.search(r"\bv?(20\d\d\.\d)\b", text) or re.search(
        r"/(20\d\d\.\d)/", os.path.realpath(exe)
    )
    return m.group(1) if m else "unknown"


def find_vitis_hls() -> Tool:
    """Vitis HLS: ``vitis_hls`` up to 2024.1, ``vitis-run`` from 2024.2 (as each reports)."""
    hls, run = shutil.which("vitis_hls"), shutil.which("vitis-run")
    if hls:
        v = tool_version(hls, "-version")
        if version_tuple(v) < FIRST_VITIS_RUN or not run:
            return Tool("vitis_hls", hls, v)
    if run:
        return Tool("vitis-run", run, tool_version(run, "--version"))
    raise ToolMissing(
        "Vitis HLS not found: neither vitis_hls (up to 2024.1) nor vitis-run (2024.2 and "
        f"later) is on PATH. {INSTALL_HINT}."
    )


def find_vivado() -> Tool:
    exe = shutil.which("vivado")
    if not exe:
        raise ToolMissing(f"vivado not found on PATH. {INSTALL_HINT}.")
    return Tool("vivado", exe, tool_version(exe, "-version"))


def run_tool(tool: Tool, script: Path, settings: Path, cwd: Path, log: Path) -> int:
    """Run ``script`` under ``tool`` in ``cwd``; output to the terminal and to ``log``."""
    env = dict(os.environ, **{SETTINGS_ENV: str(settings)})
    cmd = tool.command(script, settings)
    print(" ".join(cmd), flush=True)
    with log.open("w") as f, subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            f.write(line)
    return proc.returncode


_BARE = re.compile(r"[A-Za-z0-9_./:+=@%,-]+")


def tcl_word(value: object) -> str:
    """One tcl word for ``value`` (str, int, float, or a sequence of those as a tcl list)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[list " + " ".join(tcl_word(v) for v in value) + "]" if value else "{}"
    s = str(value)
    if _BARE.fullmatch(s):
        return s
    depth = 0
    for ch in s:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0 or ch == "\\":
            break
    if depth != 0 or "\\" in s:
        raise ValueError(f"cannot pass {s!r} to tcl safely (backslash or unbalanced braces)")
    return "{" + s + "}"


def write_settings(path: Path, values: Mapping[str, object], header: Sequence[str] = ()) -> Path:
    """Write ``set name value`` lines that a flow's tcl script sources."""
    lines = [f"# {h}" for h in header]
    lines += [f"set {k} {tcl_word(v)}" for k, v in values.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True)
class Board:
    """A target board: its part, Vivado board part and the PS slave ports for AXI masters."""

    name: str
    part: str
    board_part: str  # used when Vivado has the board files installed
    #: (PS slave interface, index n of its PSU__USE__S_AXI_GP<n> switch), in the order
    #: the IP's m_axi bundles take them: the four HP ports, then the two HPC ports.
    hp_ports: tuple[tuple[str, int], ...]


BOARDS = {
    "zcu104": Board(
        name="zcu104",
        part="xczu7ev-ffvc1156-2-e",
        board_part="xilinx.com:zcu104:part0:1.1",
        hp_ports=(
            ("S_AXI_HP0_FPD", 2),
            ("S_AXI_HP1_FPD", 3),
            ("S_AXI_HP2_FPD", 4),
            ("S_AXI_HP3_FPD", 5),
            ("S_AXI_HPC0_FPD", 0),
            ("S_AXI_HPC1_FPD", 1),
        ),
    ),
}
#: The exported HLS IP's VLNV is <vendor>:<library>:<top>:<version>.
IP_VENDOR, IP_LIBRARY, IP_VERSION = "edgemoe", "hls", "1.0"


def ip_vlnv(top: str) -> str:
    return f"{IP_VENDOR}:{IP_LIBRARY}:{top}:{IP_VERSION}"
