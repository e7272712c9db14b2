"""The register map of :mod:`.regmap` as a SystemVerilog package for the RTL engine.

:func:`write_rtl_regs` writes ``edgemoe_regs_pkg.sv`` (next to ``hwmath_pkg.sv``
in ``build/rtl``) for a :class:`~.design.Design`: the AXI4-Lite address width,
the byte offset of CTRL/GIE/IER/ISR and of every argument word, the CTRL,
GIE and IER/ISR bit positions, how many pointer, scalar-input and
scalar-output arguments there are, the index of each argument among its
kind, and functions from such an index to its word addresses. The RTL slave
(``hls/rtl/engine/ctrl_regs.sv``) repeats none of these numbers, so the RTL
engine's register map is the HLS top's by construction.

It also carries what the descriptor check (``hls/rtl/engine/desc_check.sv``)
shares with ``edgemoe_top.cpp``, with the values ``edgemoe_config.h`` gets for
the same design (:func:`.header.config_header`): the global descriptor word
indices ``GD_*`` and ``GD_COUNT``, the block descriptor field indices ``BD_*``
and ``BD_COUNT`` (the per-task slots depend on ``HlsMaxima.tasks``), the
status codes ``STATUS_*``, ``DESC_MAGIC``/``DESC_VERSION``, the router kinds,
the synthesis maxima ``MAX_*``, the hidden chunk ``HC``, ``WEIGHT_W`` and the
lookup-table lengths ``TABLE_*_LEN`` (the layout check covers the tables).

    python -m pymodel.export.rtl_regs      # writes build/rtl/edgemoe_regs_pkg.sv
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from pymodel.numerics.rtl_export import DEFAULT_DIR, write_if_changed

from ..numerics.hwmath import SPEC, tables
from .descriptor import (
    DESC_MAGIC,
    EXPORT_VERSION,
    GLOBAL_FIELDS,
    ROUTERS,
    STATUS_CODES,
    block_fields,
)
from .design import DEFAULT_DESIGN, Design
from .layout import WEIGHT_W
from .regmap import (
    CTRL_BITS,
    GIE_BITS,
    IRQ_BITS,
    control_addr_width,
    interface,
    register_map,
    top_args,
)

PACKAGE = "edgemoe_regs_pkg"
#: Argument kinds of :func:`.regmap.top_args` and their prefix in the package.
KIND_PREFIX = {"pointer": "PTR", "scalar_in": "SIN", "scalar_out": "SOUT"}


#: Design fields the RTL engine's datapath is sized by (their values: the Design's).
ENGINE_PARAMS = (
    "mac_rows",
    "mac_in",
    "mac_out",
    "token_block",
    "hidden_chunk",
    "query_block",
    "softmax_lanes",
    "prob_lanes",
    "epilogue_lanes",
    "acc_lanes",
    "gelu_lanes",
    "ln_lanes",
    "router_lanes",
)


def _bits(count: int) -> int:
    """Index bits for ``count`` values (at least 1)."""
    return max(1, (count - 1).bit_length())


def _hex(value: int) -> str:
    return f"'h{value:02X}"


def _function(name: str, values: list[int], addr_w: int, what: str) -> list[str]:
    """``function automatic logic [ADDR_W-1:0] name(input int i)``: the address
    ``values[i]``; all ones (not word aligned: no register) for any other ``i``."""
    lines = [f"  // {what}"]
    lines += [f"  function automatic logic [ADDR_W-1:0] {name}(input int i);", "    case (i)"]
    lines += [f"      {i}: {name} = {addr_w}{_hex(v)};" for i, v in enumerate(values)]
    lines += [f"      default: {name} = '1;", "    endcase", "  endfunction"]
    return lines


#: The lookup tables whose regions the descriptor check bounds (header.config_header's).
TABLES = ("exp2", "recip", "rsqrt_even", "rsqrt_odd", "gelu")


def descriptor_lines(design: Design = DEFAULT_DESIGN) -> list[str]:
    """The descriptor part of the package: the constants ``edgemoe_config.h`` gives
    ``edgemoe_top.cpp``'s descriptor checks, from the same Python owners."""
    maxima = design.maxima
    lines = ["  // ---- descriptor (pymodel.export.descriptor; edgemoe_config.h's values)"]
    lines.append(f"  localparam int DESC_MAGIC = 'h{DESC_MAGIC:08X};  // global word GD_MAGIC")
    lines.append(f"  localparam int DESC_VERSION = {EXPORT_VERSION};  // global word GD_VERSION")
    lines.append("  // global descriptor: 32-bit words (descriptor.GLOBAL_FIELDS)")
    lines += [f"  localparam int GD_{n.upper()} = {i};" for i, n in enumerate(GLOBAL_FIELDS)]
    lines.append(f"  localparam int GD_COUNT = {len(GLOBAL_FIELDS)};  // words")
    bf = block_fields(maxima.tasks)
    lines.append("  // block descriptor: 32-bit words (descriptor.block_fields(MAX_TASKS))")
    lines += [f"  localparam int BD_{n.upper()} = {i};" for i, n in enumerate(bf)]
    lines.append(f"  localparam int BD_COUNT = {len(bf)};  // words")
    lines.append(f"  localparam int BD_BLOCK_W = {_bits(maxima.depth)};  // block index bits")
    lines.append(f"  localparam int BD_FIELD_W = {_bits(len(bf))};  // field index bits")
    lines.append("  // status register values (descriptor.STATUS_CODES)")
    lines += [f"  localparam int STATUS_{k} = {v};" for k, v in STATUS_CODES.items()]
    lines.append("  // router kinds (descriptor.ROUTERS)")
    lines += [f"  localparam int ROUTER_{k.upper()} = {v};" for k, v in ROUTERS.items()]
    lines.append("  // synthesis maxima (design.HlsMaxima) and what else the checks bound")
    lines += [f"  localparam int MAX_{k.upper()} = {v};" for k, v in asdict(maxima).items()]
    lines.append(f"  localparam int MAX_K = {maxima.k_max};  // widest linear-unit input")
    lines.append(f"  localparam int HC = {design.hidden_chunk};  // hidden chunk: expert hidden")
    lines.append(f"  localparam int WEIGHT_W = {WEIGHT_W};  // weight word bits in DDR")
    lines.append("  // synthesis parameters of the engine (design.Design)")
    lines += [f"  localparam int {n.upper()} = {getattr(design, n)};" for n in ENGINE_PARAMS]
    t = tables(SPEC)
    lines += [f"  localparam int TABLE_{n.upper()}_LEN = {len(t[n])};" for n in TABLES]
    return lines


def package_text(design: Design = DEFAULT_DESIGN) -> str:
    """The text of ``edgemoe_regs_pkg.sv`` for ``design``."""
    regs = register_map(design)
    args = top_args(design)
    by_kind = {k: [a for a in args if a.kind == k] for k in KIND_PREFIX}
    ptr, sin, sout = by_kind["pointer"], by_kind["scalar_in"], by_kind["scalar_out"]
    irq_w = max(IRQ_BITS.values()) + 1
    lines = [
        "// Generated by pymodel/export/rtl_regs.py from pymodel.export.regmap and",
        "// pymodel.export.descriptor / design (the values of edgemoe_config.h);",
        "// do not edit: run `python -m pymodel.export.rtl_regs` (or any RTL test).",
        f"// Design: weight_ports = {design.weight_ports}; interface hash "
        f"{interface(design)['hash']}.",
        "// Every unit uses a subset of these constants, so Verilator's -Wall would flag",
        "// the rest of them as unused in each unit: that warning is off for this file only.",
        "/* verilator lint_off UNUSEDPARAM */",
        f"package {PACKAGE};",
        "  // ---- the AXI4-Lite slave (s_axi_control)",
        f"  localparam int ADDR_W = {control_addr_width(design)};  // address bits",
        "  localparam int DATA_W = 32;  // data bits",
        f"  localparam int LAST_OFF = {_hex(max(regs.values()))};  // the last register word",
        "  // ---- byte offset of every register (regmap.register_map)",
    ]
    lines += [f"  localparam int OFF_{name} = {_hex(off)};" for name, off in regs.items()]
    lines.append("  // ---- CTRL bits (ap_ctrl_hs, regmap.CTRL_BITS)")
    lines += [f"  localparam int CTRL_{k.upper()} = {b};" for k, b in CTRL_BITS.items()]
    lines.append("  // ---- GIE bits (regmap.GIE_BITS)")
    lines += [f"  localparam int GIE_{k.upper()} = {b};" for k, b in GIE_BITS.items()]
    lines.append("  // ---- IER / ISR bits (regmap.IRQ_BITS)")
    lines += [f"  localparam int IRQ_{k.upper()} = {b};" for k, b in IRQ_BITS.items()]
    lines.append(f"  localparam int IRQ_W = {irq_w};  // ISR bits 0 .. IRQ_W-1")
    mask = sum(1 << b for b in IRQ_BITS.values())
    lines.append(f"  localparam int IRQ_MASK = {_hex(mask)};  // the ISR bits that exist")
    lines.append("  // ---- the arguments of edgemoe_top by kind, in order (regmap.top_args)")
    lines.append(f"  localparam int WEIGHT_PORTS = {design.weight_ports};")
    lines.append(f"  localparam int N_PTR = {len(ptr)};  // pointers: 64-bit address, LO/HI words")
    lines.append(f"  localparam int N_SIN = {len(sin)};  // scalar inputs: one data word")
    lines.append(f"  localparam int N_SOUT = {len(sout)};  // scalar outputs: data and ap_vld word")
    for kind, prefix in KIND_PREFIX.items():
        for i, a in enumerate(by_kind[kind]):
            lines.append(f"  localparam int {prefix}_{a.name.upper()} = {i};  // {a.role}")
    addr_w = control_addr_width(design)
    lines += _function("ptr_lo_off", [a.offset for a in ptr], addr_w, "pointer i: its low word")
    his = [regs[f"{a.name.upper()}_HI"] for a in ptr]
    lines += _function("ptr_hi_off", his, addr_w, "pointer i: its high word")
    lines += _function("sin_off", [a.offset for a in sin], addr_w, "scalar input i: its word")
    lines += _function("sout_off", [a.offset for a in sout], addr_w, "scalar output i: its word")
    lines += _function(
        "sout_vld_off",
        [regs[f"{a.name.upper()}_CTRL"] for a in sout],
        addr_w,
        "scalar output i: its ap_vld word (bit 0, clear on read)",
    )
    lines += descriptor_lines(design)
    lines.append(f"endpackage : {PACKAGE}")
    lines.append("/* verilator lint_on UNUSEDPARAM */")
    return "\n".join(lines) + "\n"


def write_rtl_regs(out_dir: str | Path = DEFAULT_DIR, design: Design = DEFAULT_DESIGN) -> Path:
    """Write ``edgemoe_regs_pkg.sv`` for ``design`` into ``out_dir`` (unless it already
    holds that text, which keeps simulator builds cached); return its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_if_changed(out / f"{PACKAGE}.sv", package_text(design))


def main() -> None:
    """Write the package of the default design under ``build/rtl/``."""
    print(write_rtl_regs())


if __name__ == "__main__":
    main()
