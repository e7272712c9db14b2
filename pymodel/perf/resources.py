"""Resource model of a design point against the budgets of ZCU104, ZCU102 and KV260.

An estimate, not synthesis: every on-chip buffer of ``hls/include/edgemoe_engine.h``
and ``hls/src`` is listed with its size and the bits it must deliver per cycle
(from the partitioning the datapath needs); its block-RAM or UltraRAM count is the
larger of the capacity bound and the port-bandwidth bound (two ports of 72 bits
per BRAM36 or URAM288; 4096 x 72 bits per URAM, 512 x 72 per BRAM36). Multipliers
are counted per operator from their operand widths (a DSP48E2 is 27 x 18); LUT
and FF counts use per-operator coefficients calibrated on the Yosys numbers of
the RTL units (docs/HARDWARE.md). Everything here is MODELLED.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ..export.design import Design


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    dsp: int
    bram36: int
    uram: int
    lut: int
    ff: int


BOARDS: dict[str, Board] = {
    "zcu104": Board("zcu104", "xczu7ev-ffvc1156-2-e", 1728, 312, 96, 230400, 460800),
    "zcu102": Board("zcu102", "xczu9eg-ffvb1156-2-e", 2520, 912, 0, 274080, 548160),
    "kv260": Board("kv260", "xck26-sfvc784-2LV-c", 1248, 144, 64, 117120, 234240),
}

URAM_BITS = 4096 * 72
BRAM_BITS = 512 * 72
PORT_BITS = 2 * 72  # two 72-bit ports per block (BRAM36 in SDP mode, URAM288)


@dataclass
class Buffer:
    name: str
    bits: int  # total bits held
    access_bits: int  # bits read + written per cycle at the datapath's peak
    kind: str = "auto"  # "uram", "bram", "lutram" or "auto"
    word_bits: int = 16  # element width (packing efficiency into 72-bit words)


@dataclass
class Usage:
    dsp: int = 0
    bram36: int = 0
    uram: int = 0
    lut: int = 0
    ff: int = 0
    items: list[dict] = field(default_factory=list)

    def add(self, what: str, **res: int) -> None:
        for k, v in res.items():
            setattr(self, k, getattr(self, k) + int(v))
        self.items.append({"what": what, **{k: int(v) for k, v in res.items()}})

    def totals(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("dsp", "bram36", "uram", "lut", "ff")}


def dsp_per_mult(a_bits: int, b_bits: int) -> int:
    """DSP48E2 slices of an a x b signed multiplier (27 x 18 per slice)."""
    a, b = max(a_bits, b_bits), min(a_bits, b_bits)
    if b <= 18 and a <= 27:
        return 1
    return math.ceil(a / 26) * math.ceil(b / 17)


def _packing(word_bits: int) -> float:
    per72 = max(1, 72 // word_bits)
    return per72 * word_bits / 72


def map_buffer(buf: Buffer, board: Board) -> dict[str, int]:
    """Blocks of one buffer: LUTRAM for small ones, URAM for large ones (BRAM without URAM)."""
    eff = _packing(buf.word_bits)
    kind = buf.kind
    if kind == "auto":
        kind = "lutram" if buf.bits <= 4096 else ("uram" if buf.bits >= 1_000_000 else "bram")
    if kind == "uram" and board.uram == 0:
        kind = "bram"
    if kind == "lutram":  # 64 bits per LUT6 (RAM64X1S), one more copy per extra read port
        return {"lut": math.ceil(buf.bits / 64)}
    if kind == "uram":
        cap = math.ceil(buf.bits / (URAM_BITS * eff))
        return {"uram": max(cap, math.ceil(buf.access_bits / PORT_BITS), 1)}
    cap = math.ceil(buf.bits / (BRAM_BITS * eff))
    return {"bram36": max(cap, math.ceil(buf.access_bits / PORT_BITS), 1)}


def buffers(d: Design, act_w: int = 16) -> list[Buffer]:
    """Every on-chip buffer of the engine with its size and peak access width."""
    m = d.maxima
    acc_w = 2 * act_w + 16
    mw, r, ti, to = act_w + 1, d.mac_rows, d.mac_in, d.mac_out  # w: probabilities unsigned
    k_pad = -(-max(m.k_max, m.tokens) // ti) * ti
    x_words = r * ti  # MAC x operand words per cycle
    epi = d.epilogue_lanes
    tb, qb = d.token_block, d.query_block
    return [
        Buffer("kv.k", m.tokens * m.dim * act_w, x_words * act_w + epi * act_w, "uram", act_w),
        Buffer("kv.v", m.tokens * m.dim * act_w, x_words * act_w + epi * act_w, "uram", act_w),
        Buffer("x", tb * m.dim * act_w, 2 * epi * act_w, "auto", act_w),
        Buffer("h", tb * m.dim * act_w, x_words * act_w + d.ln_lanes * act_w, "auto", act_w),
        Buffer("q", tb * m.dim * act_w, ti * act_w + epi * act_w, "auto", act_w),
        Buffer("a", tb * m.dim * act_w, x_words * act_w + epi * act_w, "auto", act_w),
        Buffer(
            "u",
            tb * max(d.hidden_chunk, m.patch_in) * act_w,
            x_words * act_w + epi * act_w,
            "bram",
            act_w,
        ),
        Buffer("acc", tb * m.dim * acc_w, 2 * d.acc_lanes * acc_w, "auto", acc_w),
        # Three score slots, each written by the epilogue or read by the softmax or the
        # probability lanes at a time: BRAM, for the port count.
        Buffer(
            "s",
            3 * qb * m.tokens * act_w,
            3 * max(epi, d.softmax_lanes, d.prob_lanes) * act_w,
            "bram",
            act_w,
        ),  # fmt: skip
        # The tile and row-group registers are partitioned into TI-wide banks of a few
        # hundred words each (ARRAY_PARTITION in edgemoe_linear.cpp): LUTRAM.
        Buffer("wt", 2 * 2 * to * k_pad * mw, 2 * to * ti * mw, "lutram", mw),
        Buffer("xg", 2 * r * k_pad * act_w, x_words * act_w * 2, "lutram", act_w),
        Buffer("vt.fifo", d.weight_ports * 256 * 128, d.weight_ports * 2 * 128, "bram", 128),
        Buffer("bias", m.k_max * 16, epi * 16, "lutram"),
        Buffer("ln.params", 2 * m.dim * 16, 2 * d.ln_lanes * 16, "lutram"),
        Buffer("router", tb * (m.experts * act_w + m.top_k * 64), d.router_lanes * 64, "auto"),
    ]


#: LUT / FF per operator instance (calibrated on the Yosys counts of the RTL units).
LUT = {"mac_lane": 28, "requant": 180, "exp": 350, "recip": 290, "rsqrt": 460, "gelu": 700}
FF = {"mac_lane": 40, "requant": 60, "exp": 160, "recip": 100, "rsqrt": 140, "gelu": 100}
#: Control, AXI masters and descriptor logic (fixed cost per design).
LUT_FIXED, FF_FIXED = 25_000, 40_000
LUT_PER_PORT, FF_PER_PORT = 2_500, 3_500


def resources(d: Design, act_w: int = 16, board: str = "zcu104") -> Usage:
    """Estimated resources of design ``d`` built for ``act_w``-bit activations."""
    b = BOARDS[board]
    u = Usage()
    # MAC array: one DSP per (row, input, column); two 8-bit MACs share it.
    mult = dsp_per_mult(act_w, act_w + 1)
    u.add(
        "mac array", dsp=d.dsp_macs * mult, lut=d.dsp_macs * LUT["mac_lane"],
        ff=d.dsp_macs * FF["mac_lane"],
    )  # fmt: skip
    lanes = d.epilogue_lanes + d.acc_lanes
    u.add("epilogue", lut=lanes * LUT["requant"], ff=lanes * FF["requant"])
    u.add(
        "gelu lanes", dsp=d.gelu_lanes, lut=d.gelu_lanes * LUT["gelu"], ff=d.gelu_lanes * FF["gelu"]
    )
    # Softmax lanes: an exp (d * log2e) and the rescale multiply; probability lanes: an
    # exp and the multiply by 1/sum.
    # The rescale multiply (30 x 17 bits) runs over two cycles of one DSP: a lane
    # stalls at a new running max anyway.
    u.add(
        "softmax lanes", dsp=d.softmax_lanes * 2,
        lut=d.softmax_lanes * (LUT["exp"] + 200), ff=d.softmax_lanes * (FF["exp"] + 120),
    )  # fmt: skip
    u.add(
        "probability lanes", dsp=d.prob_lanes * 2, lut=d.prob_lanes * (LUT["exp"] + LUT["requant"]),
        ff=d.prob_lanes * (FF["exp"] + FF["requant"]),
    )  # fmt: skip
    # LayerNorm lanes: squares, the centred x rsqrt product and z x gamma.
    # (D * x - sum x) is at most 16 + log2(D) + 1 bits: one DSP against the mantissa.
    u.add(
        "layernorm lanes", dsp=d.ln_lanes * 3,
        lut=d.ln_lanes * 2 * LUT["requant"] + LUT["rsqrt"], ff=d.ln_lanes * 2 * FF["requant"],
    )  # fmt: skip
    u.add(
        "router lanes", dsp=d.router_lanes * 2, lut=d.router_lanes * (LUT["exp"] + LUT["recip"]),
        ff=d.router_lanes * (FF["exp"] + FF["recip"]),
    )  # fmt: skip
    u.add(
        "control and AXI", lut=LUT_FIXED + LUT_PER_PORT * (d.weight_ports + 1),
        ff=FF_FIXED + FF_PER_PORT * (d.weight_ports + 1),
    )  # fmt: skip
    for buf in buffers(d, act_w):
        u.add(f"buffer {buf.name}", **map_buffer(buf, b))
    return u


def fit(usage: Usage, board: str = "zcu104", margin: float = 0.10) -> dict:
    """Usage against a board: fractions used and whether ``margin`` of each is left."""
    b = BOARDS[board]
    budget = {"dsp": b.dsp, "bram36": b.bram36, "uram": b.uram, "lut": b.lut, "ff": b.ff}
    used = usage.totals()
    frac = {k: (used[k] / budget[k] if budget[k] else (0.0 if used[k] == 0 else math.inf))
            for k in budget}  # fmt: skip
    over = [k for k, f in frac.items() if f > 1 - margin]
    return {
        "board": b.name,
        "part": b.part,
        "budget": budget,
        "used": used,
        "fraction": frac,
        "fits": not over,
        "over": over,
        "margin": margin,
    }


def board_dict(name: str) -> dict:
    return asdict(BOARDS[name])
