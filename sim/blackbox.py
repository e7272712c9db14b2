"""Vitis HLS RTL-blackbox descriptors (``<top>.json``) for the arithmetic units.

Schema of UG1399 "JSON File for RTL Blackbox" (``add_files -blackbox <file>``):
``c_function_name`` (= ``rtl_top_module_name``), ``c_files``, ``rtl_files``,
``c_parameters`` (``c_name``, ``c_port_direction``, ``rtl_ports``; hls::stream
arguments map to the FIFO protocol keys ``FIFO_data_read_in``/``FIFO_empty_flag``/
``FIFO_read_enable`` and ``FIFO_data_write_out``/``FIFO_full_flag``/
``FIFO_write_enable``), ``rtl_common_signal`` (clock, active-high reset, clock
enable, and the five ap_ctrl_chain signals, empty for ap_ctrl_none),
``rtl_performance`` (latency, II) and ``rtl_resource_usage``.

The descriptors name the generated package ``hwmath_pkg.sv``, so they are
written together with it (and the ``$readmemh`` tables the cores load) into
one bundle directory, never committed: a descriptor in the source tree would
have to point at a generated file. ``rtl_files`` are relative to the bundle:
the package and tables inside it, the SystemVerilog sources in ``hls/rtl/``.
The tables must be visible to the simulator/synthesis run (they are found by
file name, as ``hwmath_pkg`` spells them), e.g. added to the HLS project.

    python -m sim.blackbox [--out DIR]   # default build/hls/blackbox (+ resources.json)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from pymodel.numerics.rtl_export import PACKAGE, write_rtl_tables
from sim.rtl import REPO, UNITS, sources

#: One descriptor per engine module, described by the unit instance of that name.
BLACKBOX_UNITS = ("exp", "recip", "rsqrt", "gelu", "softmax", "layernorm", "topk", "mac_rnd_sat")
DEFAULT_OUT = REPO / "build" / "hls" / "blackbox"
RESOURCES = REPO / "build" / "sim" / "resources.json"  # written by sim.rtl_resources
REQUIRED = (
    "c_function_name",
    "rtl_top_module_name",
    "c_files",
    "rtl_files",
    "c_parameters",
    "rtl_common_signal",
    "rtl_performance",
    "rtl_resource_usage",
)
COMMON_SIGNALS = (
    "module_clock",
    "module_reset",
    "module_clock_enable",
    "ap_ctrl_chain_protocol_idle",
    "ap_ctrl_chain_protocol_start",
    "ap_ctrl_chain_protocol_ready",
    "ap_ctrl_chain_protocol_done",
    "ap_ctrl_chain_protocol_continue",
)


def descriptor(name: str, out_dir: Path, resources: dict[str, Any] | None = None) -> dict[str, Any]:
    """The blackbox JSON of unit ``name`` for a bundle in ``out_dir``."""
    u = UNITS[name]
    res = resources or {}
    rtl = [os.path.relpath(p, out_dir) for p in sources(u.top)]
    return {
        "c_function_name": u.top,
        "rtl_top_module_name": u.top,
        "c_files": [],
        "rtl_files": [f"{PACKAGE}.sv", *rtl],
        "c_parameters": [
            {
                "c_name": "in",
                "c_port_direction": "in",
                "rtl_ports": {
                    "FIFO_data_read_in": "in_dout",
                    "FIFO_empty_flag": "in_empty_n",
                    "FIFO_read_enable": "in_read",
                },
            },
            {
                "c_name": "out",
                "c_port_direction": "out",
                "rtl_ports": {
                    "FIFO_data_write_out": "out_din",
                    "FIFO_full_flag": "out_full_n",
                    "FIFO_write_enable": "out_write",
                },
            },
        ],
        "rtl_common_signal": {
            "module_clock": "ap_clk",
            "module_reset": "ap_rst",
            "module_clock_enable": "ap_ce",
            **{k: "" for k in COMMON_SIGNALS[3:]},  # ap_ctrl_none: free-running streams
        },
        "rtl_performance": {"latency": str(u.latency), "II": str(math.ceil(u.ii))},
        "rtl_resource_usage": {
            "FF": str(int(res.get("FF", 0))),
            "LUT": str(int(res.get("LUT", 0))),
            "BRAM": str(math.ceil(2 * res.get("BRAM36", 0))),  # BRAM18 units
            "URAM": "0",
            "DSP": str(int(res.get("DSP48E2", 0))),
        },
    }


def write_bundle(out_dir: str | Path = DEFAULT_OUT, resources: Path = RESOURCES) -> list[Path]:
    """Write the package, the tables and one descriptor per unit into ``out_dir``;
    resource counts from ``resources`` (Yosys) where that file exists, else 0."""
    out = Path(out_dir).resolve()
    write_rtl_tables(out)
    rows = json.loads(resources.read_text())["rows"] if resources.exists() else []
    by_name = {r["name"]: r for r in rows}
    written = []
    for name in BLACKBOX_UNITS:
        path = out / f"{UNITS[name].top}.json"
        path.write_text(json.dumps(descriptor(name, out, by_name.get(name)), indent=2) + "\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Write the bundle and list the descriptors."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="bundle directory")
    args = ap.parse_args(argv)
    for path in write_bundle(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
