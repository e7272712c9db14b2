"""The accelerator's interface: top-function arguments, AXI bundles and the AXI4-Lite map.

One owner for the interface. The HLS top ``edgemoe_top`` (generated argument
list in ``edgemoe_config.h``), the RTL engine, the host runtime (through the
export manifest), the Vivado block design (one HP port per bundle) and the
checks against a ``.hwh`` all read what these functions return.

``edgemoe_top(params, wgt0, ..., wgt<n-1>, io, task, status)``:

* ``params``: the DDR image (descriptor, tables, biases, norms, embeddings);
* ``wgt<p>``: the same image again, read by weight port ``p`` (its own AXI
  master and HP port), so weight tiles stream on ``Design.weight_ports``
  ports in parallel; the host writes the params address into every one;
* ``io``: the scratch image (input image in, tokens out);
* ``task``: the task index; ``status``: the kernel's status code (ap_vld).

Offsets follow Vitis HLS's s_axilite layout: CTRL/GIE/IER/ISR at 0x00-0x0C,
then each argument in order; a 64-bit pointer takes a low word, a high word
and a reserved word, a scalar a data word and a reserved word, an output
scalar a data word and its ap_vld control word.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

from .design import Design

#: CTRL register bits (ap_ctrl_hs).
CTRL_BITS = {"ap_start": 0, "ap_done": 1, "ap_idle": 2, "ap_ready": 3, "auto_restart": 7}
#: IER / ISR bits.
IRQ_BITS = {"ap_done": 0, "ap_ready": 1}
#: GIE bit: the master enable of the ``interrupt`` output.
GIE_BITS = {"enable": 0}


@dataclass(frozen=True)
class TopArg:
    """One argument of the top function."""

    name: str
    kind: str  # "pointer" (64-bit address), "scalar_in", "scalar_out"
    bundle: str  # m_axi bundle for pointers, "control" for scalars
    offset: int  # AXI4-Lite byte offset of its (low) data word
    role: str  # what it carries


def io_bundle() -> str:
    return "gmem_io"


def weight_bundle(port: int) -> str:
    return f"gmem_w{port}"


def top_args(design: Design) -> list[TopArg]:
    """The arguments of ``edgemoe_top`` in order, with their AXI4-Lite offsets."""
    spec = [("params", "pointer", io_bundle(), "params image: descriptor, tables, small tensors")]
    spec += [
        (f"wgt{p}", "pointer", weight_bundle(p), f"params image, weight tiles of port {p}")
        for p in range(design.weight_ports)
    ]
    spec += [
        ("io", "pointer", io_bundle(), "io scratch: input image, activations, output tokens"),
        ("task", "scalar_in", "control", "task index"),
        ("status", "scalar_out", "control", "status code of the run (pymodel.export STATUS_CODES)"),
    ]
    args, off = [], 0x10
    for name, kind, bundle, role in spec:
        args.append(TopArg(name, kind, bundle, off, role))
        off += 12 if kind == "pointer" else 8
    return args


def register_map(design: Design) -> dict[str, int]:
    """AXI4-Lite byte offsets by register name (``<ARG>_LO``/``_HI`` for pointers)."""
    regs = {"CTRL": 0x00, "GIE": 0x04, "IER": 0x08, "ISR": 0x0C}
    for a in top_args(design):
        up = a.name.upper()
        if a.kind == "pointer":
            regs[f"{up}_LO"] = a.offset
            regs[f"{up}_HI"] = a.offset + 4
        elif a.kind == "scalar_in":
            regs[up] = a.offset
        else:
            regs[up] = a.offset
            regs[f"{up}_CTRL"] = a.offset + 4  # bit 0: <arg>_ap_vld (clear on read)
    return regs


def control_addr_width(design: Design) -> int:
    """Address bits of the AXI4-Lite slave: the span up to the last register word, as
    Vitis HLS sizes ``C_S_AXI_CONTROL_ADDR_WIDTH`` (and :func:`host.hwh.write_hwh`)."""
    span = max(register_map(design).values()) + 4
    return max(4, math.ceil(math.log2(span)))


def m_axi_bundles(design: Design) -> list[dict[str, object]]:
    """Every AXI4 master of the IP: bundle name, the pointer arguments it serves, direction."""
    out: dict[str, dict[str, object]] = {}
    for a in top_args(design):
        if a.kind != "pointer":
            continue
        b = out.setdefault(a.bundle, {"bundle": a.bundle, "args": [], "write": False})
        b["args"].append(a.name)  # type: ignore[union-attr]
        b["write"] = b["write"] or a.name == "io"
    return list(out.values())


def interface(design: Design) -> dict[str, object]:
    """The interface as the manifest records it (and its hash, for bitstream checks)."""
    body = {
        "top": "edgemoe_top",
        "args": [asdict(a) for a in top_args(design)],
        "register_map": register_map(design),
        "m_axi": m_axi_bundles(design),
        "ctrl_bits": CTRL_BITS,
        "irq_bits": IRQ_BITS,
    }
    body["hash"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return body
