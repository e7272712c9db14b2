"""The RTL units under test: one :class:`RtlUnit` per instance (top module, parameters,
cocotb test module, expected initiation interval and latency, vector counts) in
:data:`UNITS`, the table every RTL runner, report, lint and synthesis harness reads
(:mod:`sim.rtl` runs it).

Latencies come from the one owner of the core latencies,
:data:`pymodel.numerics.rtl_export.CORE_LATENCY` (generated into ``hwmath_pkg``),
so the RTL, the testbenches and this table cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymodel.export import DEFAULT_DESIGN, block_fields
from pymodel.numerics.fixed import OVERFLOW_CODES, QUANT_CODES, Overflow, Quant
from pymodel.numerics.rtl_export import CORE_LATENCY

Q_CODE = {q.name[3:]: code for q, code in QUANT_CODES.items()}  # "RND_CONV" -> 6
O_CODE = {o.name[3:]: code for o, code in OVERFLOW_CODES.items()}  # "SAT" -> 1
RND_CONV, SAT = QUANT_CODES[Quant.AP_RND_CONV], OVERFLOW_CODES[Overflow.AP_SAT]
TRN, WRAP = QUANT_CODES[Quant.AP_TRN], OVERFLOW_CODES[Overflow.AP_WRAP]


@dataclass(frozen=True, kw_only=True)
class RtlUnit:
    """One unit instance under test."""

    name: str  # instance name (results, build folders, docs)
    top: str  # top module (= file name in hls/rtl or sim/hdl)
    params: dict[str, int]  # HDL parameters of the instance
    test_module: str  # cocotb module: case(cfg) builds vectors, its @cocotb.test runs them
    ii: float  # expected initiation interval, cycles per `per` (steady-state mean)
    latency: int  # expected latency in cycles (see `latency_def`)
    per: str  # what one initiation is
    latency_def: str  # from which handshake to which the latency is counted
    ci_vectors: int  # vectors in `make test` (CI)
    full_vectors: int  # vectors in `make sim`
    notes: str = ""


_ELEM = "input handshake -> output handshake"
_ROW = "last input of a row -> first output of the row"
_LAT = CORE_LATENCY
#: Row units: cycles from a row's last input to its first output (stages in the SV headers).
SOFTMAX_LATENCY = 2 * _LAT["exp"] + _LAT["recip"] + 5
LAYERNORM_LATENCY = _LAT["rsqrt"] + 8
#: layernorm_rt: a row's last beat -> its first output beat: sums and statistics (6 + rsqrt),
#: the row FIFO (1), the output pipeline (buffer read, D x - T, product, requant_rt of z,
#: z gamma + beta, requant_rt of y) and its output register.
LAYERNORM_RT_LATENCY = 6 + _LAT["rsqrt"] + 1 + 3 + 2 * _LAT["requant_rt"] + 1
#: softmax_lane: a row's last score -> its result (exp, rescale loop, 1/s, output register).
SOFTMAX_LANE_LATENCY = _LAT["exp"] + _LAT["sm_rescale"] + _LAT["recip"] + 1
#: router_rt: a token's last logit -> its gates: the softmax lane, then the gate pipeline
#: (probabilities, their sum, 1/sum, the products, requant_rt, the output register).
ROUTER_RT_LATENCY = SOFTMAX_LANE_LATENCY + _LAT["prob"] + 1 + _LAT["recip"] + 1
ROUTER_RT_LATENCY += _LAT["requant_rt"] + 1
#: lin_unit: a job's first row group, its last MAC beat -> the job's first store: the x
#: fetch (issue, buffer read, into the MAC FIFO: 3), the MAC array, the sums FIFO (1), the
#: epilogue's E0 and E1 (2), requant_rt and the GELU stage (a delay line without GELU).
LIN_UNIT_LATENCY = 3 + _LAT["mac"] + 1 + 2 + _LAT["requant_rt"] + _LAT["gelu_rt"]

#: desc_check: start -> done of a global refusal (latch, evaluate, decide), and the cycles
#: each block adds (one read per block descriptor field, the last word, evaluate, decide).
DESC_GLOBAL_CYCLES = 3
DESC_BLOCK_CYCLES = len(block_fields(DEFAULT_DESIGN.maxima.tasks)) + 3

#: MAC tile geometry and formats shared by the rounding/overflow instances.
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
_GELU_PARAMS = {"X_W": 16, "X_FRAC": 10, "OUT_W": 16, "OUT_FRAC": 12, "OUT_SIGNED": 1}


def _modes(quant: str, ovf: str, prefix: str = "") -> dict[str, int]:
    """Mode parameters {prefix}QUANT / {prefix}OVF of a requantisation, from C++ names."""
    return {f"{prefix}QUANT": Q_CODE[quant], f"{prefix}OVF": O_CODE[ovf]}


def _elem(
    name: str, *, top: str, params: dict[str, int], test: str, core: str, **kw: Any
) -> RtlUnit:
    """An element unit: II 1, the latency of its core."""
    return RtlUnit(
        name=name,
        top=top,
        params=params,
        test_module=f"sim.cocotb.{test}",
        ii=1,
        latency=_LAT[core],
        per="element",
        latency_def=_ELEM,
        ci_vectors=kw.pop("ci_vectors", 3000),
        full_vectors=kw.pop("full_vectors", 20000),
        **kw,
    )


def _gelu(name: str, *, quant: str, ovf: str, ci_vectors: int = 3000) -> RtlUnit:
    return _elem(
        name,
        top="gelu_unit",
        params={**_GELU_PARAMS, **_modes(quant, ovf)},
        test="test_gelu_unit",
        core="gelu",
        ci_vectors=ci_vectors,
        notes=f"ap_fixed<16,4,AP_{quant},AP_{ovf}> output",
    )


def _softmax(
    name: str, *, x_frac: int, out_w: int, out_frac: int, out_signed: int, notes: str
) -> RtlUnit:
    return RtlUnit(
        name=name,
        top="softmax_row",
        params={
            "N": 24,
            "X_W": 16,
            "X_FRAC": x_frac,
            "OUT_W": out_w,
            "OUT_FRAC": out_frac,
            "OUT_SIGNED": out_signed,
            **_modes("RND_CONV", "SAT"),
            "SHIFT_W": 8,
        },
        test_module="sim.cocotb.test_softmax_row",
        ii=28.5,
        latency=SOFTMAX_LATENCY,
        per="row of N",
        latency_def=_ROW,
        ci_vectors=400,
        full_vectors=3000,
        notes=notes + "; two-bank buffer: rows alternate N and N + 9 cycles",
    )


def _layernorm(name: str, *, z: tuple[str, str], y: tuple[str, str]) -> RtlUnit:
    return RtlUnit(
        name=name,
        top="layernorm_row",
        params={
            "D": 20,
            "X_W": 16,
            "X_FRAC": 13,
            "G_W": 16,
            "G_FRAC": 12,
            "B_W": 16,
            "B_FRAC": 12,
            "Z_W": 16,
            "Z_FRAC": 11,
            **_modes(*z, prefix="Z_"),
            "OUT_W": 16,
            "OUT_FRAC": 10,
            "OUT_SIGNED": 1,
            **_modes(*y),
            "SHIFT_W": 8,
        },
        test_module="sim.cocotb.test_layernorm_row",
        ii=23.0,
        latency=LAYERNORM_LATENCY,
        per="row of D",
        latency_def=_ROW,
        ci_vectors=300,
        full_vectors=3000,
        notes=f"x ap_fixed<16,3>, z ap_fixed<16,5,AP_{z[0]},AP_{z[1]}>, "
        f"y ap_fixed<16,6,AP_{y[0]},AP_{y[1]}>",
    )


def _topk(name: str, *, k: int) -> RtlUnit:
    return RtlUnit(
        name=name,
        top="topk_router",
        params={"E": 16, "K": k, "L_W": 16},
        test_module="sim.cocotb.test_topk_router",
        ii=16,
        latency=1,
        per="row of E logits",
        latency_def=_ROW,
        ci_vectors=1000,
        full_vectors=10000,
        notes=f"top-{k} of 16 experts",
    )


def _mac(name: str, *, quant: str, ovf: str) -> RtlUnit:
    return RtlUnit(
        name=name,
        top="mac_tile",
        params={**_MAC_PARAMS, **_modes(quant, ovf)},
        test_module="sim.cocotb.test_mac_tile",
        ii=1,
        latency=_LAT["mac"],
        per="beat of TI inputs x TO outputs",
        latency_def="last beat of a dot product -> its TO outputs",
        ci_vectors=1000,
        full_vectors=10000,
        notes=f"ap_fixed<16,6,AP_{quant},AP_{ovf}> outputs",
    )


def _requant(
    name: str, *, in_w: int, out_w: int, out_signed: int, lsh_max: int, **kw: Any
) -> RtlUnit:
    u = "" if out_signed else "u"
    return RtlUnit(
        name=name,
        top="requant_modes",
        params={
            "IN_W": in_w,
            "OUT_W": out_w,
            "OUT_SIGNED": out_signed,
            "SH_W": 8,
            "LSH_MAX": lsh_max,
        },
        test_module="sim.cocotb.test_requant_modes",
        ii=1,
        latency=1,
        per="value, all 28 modes",
        latency_def=_ELEM,
        notes=f"ap_fixed<{in_w}, {in_w} - rsh> (rsh in [{-lsh_max}, {in_w + 2}]) assigned to "
        f"ap_{u}fixed<{out_w}, {out_w}, Q, O> for all 7 x 4 quantisation/overflow modes (Q, O)"
        + (", every x with every rsh" if in_w <= 10 else ""),
        **kw,
    )


def _requant_rt(name: str, *, in_w: int, out_w: int, lat: int, **kw: Any) -> RtlUnit:
    return RtlUnit(
        name=name,
        top="requant_rt_stream",
        params={"IN_W": in_w, "FRAC_W": 10, "OUT_W": out_w, "LAT": lat},
        test_module="sim.cocotb.test_requant_rt",
        ii=1,
        latency=lat,
        per="value",
        latency_def=_ELEM,
        notes=f"ap_int<{in_w}> x with a run-time fraction count into a run-time format "
        f"(descriptor word) of width 1..{out_w}, every mode, per vector",
        **kw,
    )


UNITS: dict[str, RtlUnit] = {
    u.name: u
    for u in [
        _elem(
            "exp",
            top="exp_unit",
            params={"D_W": 24, "D_FRAC": 10},
            test="test_exp_unit",
            core="exp",
        ),
        _elem(
            "recip",
            top="recip_unit",
            params={"S_W": 30, "S_FRAC": 16, "SHIFT_W": 8},
            test="test_recip_rsqrt_unit",
            core="recip",
        ),
        _elem(
            "rsqrt",
            top="rsqrt_unit",
            params={"V_W": 32, "V_FRAC": 24, "SHIFT_W": 8},
            test="test_recip_rsqrt_unit",
            core="rsqrt",
        ),
        _gelu("gelu", quant="RND_CONV", ovf="SAT"),
        _gelu("gelu_trn_wrap", quant="TRN", ovf="WRAP", ci_vectors=2000),
        _gelu("gelu_rnd_zero_sat_sym", quant="RND_ZERO", ovf="SAT_SYM", ci_vectors=2000),
        _softmax(
            "softmax",
            x_frac=8,
            out_w=12,
            out_frac=11,
            out_signed=1,
            notes="scores ap_fixed<16,8>, probabilities ap_fixed<12,1,AP_RND_CONV,AP_SAT>",
        ),
        _softmax(
            "softmax_hw16",
            x_frac=9,
            out_w=16,
            out_frac=16,
            out_signed=0,
            notes="scores ap_fixed<16,7>, probabilities ap_ufixed<16,0,AP_RND_CONV,AP_SAT> "
            "(hw16's)",
        ),
        _layernorm("layernorm", z=("RND_CONV", "SAT"), y=("RND_CONV", "SAT")),
        _layernorm("layernorm_modes", z=("RND_MIN_INF", "SAT_SYM"), y=("TRN_ZERO", "SAT_ZERO")),
        _topk("topk", k=2),
        _topk("topk_k1", k=1),
        _topk("topk_k4", k=4),
        RtlUnit(
            name="mac_array",
            top="mac_array",
            params={"R": 2, "TI": 4, "TO": 2, "X_W": 16, "W_W": 17, "ACC_W": 48},
            test_module="sim.cocotb.test_mac_array",
            ii=1,
            latency=_LAT["mac"],
            per="beat of R x TI inputs x TO DSP columns",
            latency_def="last beat of a dot product -> its R x 2TO sums",
            ci_vectors=600,
            full_vectors=6000,
            notes="the engine's MAC array, wide and packed (two 8-bit MACs per DSP)",
        ),
        _mac("mac_rnd_sat", quant="RND_CONV", ovf="SAT"),
        _mac("mac_trn_wrap", quant="TRN", ovf="WRAP"),
        _mac("mac_rnd_inf_sat_zero", quant="RND_INF", ovf="SAT_ZERO"),
        _requant(
            "requant_s63",
            in_w=63,
            out_w=16,
            out_signed=1,
            lsh_max=0,
            ci_vectors=3000,
            full_vectors=20000,
        ),
        _requant(
            "requant_u16",
            in_w=24,
            out_w=16,
            out_signed=0,
            lsh_max=2,
            ci_vectors=3000,
            full_vectors=20000,
        ),
        # exhaustive: every x with every shift in [-LSH_MAX, IN_W + 2]
        _requant(
            "requant_s4_all",
            in_w=9,
            out_w=4,
            out_signed=1,
            lsh_max=2,
            ci_vectors=512 * 14,
            full_vectors=512 * 14,
        ),
        _requant(
            "requant_u3_all",
            in_w=8,
            out_w=3,
            out_signed=0,
            lsh_max=1,
            ci_vectors=256 * 12,
            full_vectors=256 * 12,
        ),
        # ---- the RTL engine's units: formats are run-time data, random per vector / row
        _requant_rt("requant_rt", in_w=80, out_w=32, lat=3, ci_vectors=3000, full_vectors=20000),
        _requant_rt(
            "requant_rt_narrow", in_w=10, out_w=6, lat=1, ci_vectors=4000, full_vectors=20000
        ),
        RtlUnit(
            name="softmax_lane",
            top="softmax_lane",
            params={"X_W": 32, "XF_W": 8, "SHIFT_W": 8, "SIDE_W": 12},
            test_module="sim.cocotb.test_softmax_lane",
            ii=1,
            latency=SOFTMAX_LANE_LATENCY,
            per=f"score, plus {_LAT['sm_rescale'] - 1} stall cycles per running-max update",
            latency_def=_ROW,
            ci_vectors=300,
            full_vectors=3000,
            notes="rows of 1..48 32-bit scores, each with its own fraction count, back to back",
        ),
        RtlUnit(
            name="router_rt",
            top="router_rt",
            params={"L_W": 32, "LF_W": 8, "K_MAX": 4, "OUT_W": 32, "IW": 4, "SHIFT_W": 10},
            test_module="sim.cocotb.test_router_rt",
            ii=1,
            latency=ROUTER_RT_LATENCY,
            per=f"logit, plus {_LAT['sm_rescale'] - 1} stall cycles per running-max update",
            latency_def="last logit of a token -> its gates",
            ci_vectors=300,
            full_vectors=3000,
            notes="tokens of 1..16 32-bit logits, top-1..4, gates with or without "
            "renormalisation into a per-token gate format",
        ),
        RtlUnit(
            name="layernorm_rt",
            top="layernorm_rt",
            params={
                "LANES": 4,
                "MAX_D": 40,
                "X_W": 32,
                "XF_W": 8,
                "G_W": 16,
                "B_W": 16,
                "GF_W": 8,
                "Z_W": 32,
                "OUT_W": 32,
                "EPS_W": 32,
                "BSH_MAX": 32,
                "SHIFT_W": 9,
            },
            test_module="sim.cocotb.test_layernorm_rt",
            ii=1,
            latency=LAYERNORM_RT_LATENCY,
            per="beat of LANES values; rows back to back (row II = ceil(D / LANES))",
            latency_def="last beat of a row -> its first output beat",
            ci_vectors=250,
            full_vectors=2000,
            notes="rows of 1..40 32-bit values, 4 per beat, each row with its own D, fraction "
            "counts, eps, z and output formats",
        ),
        _elem(
            "gelu_rt",
            top="gelu_rt_stream",
            params={"X_W": 32, "XF_W": 8, "XF_MAX": 32, "OUT_W": 32},
            test="test_gelu_rt",
            core="gelu_rt",
            notes="x ap_fixed<32, 32 - x_frac>, x_frac in [-13, 32], into a random output "
            "format (descriptor word) per vector",
        ),
        _elem(
            "prob_lane",
            top="prob_lane_stream",
            params={"X_W": 32, "XF_W": 8, "SHIFT_W": 8, "OUT_W": 32},
            test="test_prob_lane",
            core="prob",
            notes="32-bit scores of rows with their own fraction count and probability "
            "format (descriptor word), one element per cycle across row boundaries",
        ),
        RtlUnit(
            name="ctrl_regs",
            top="ctrl_regs",
            params={},
            test_module="sim.cocotb.test_ctrl_regs",
            ii=1,
            latency=1,
            per="register access (AXI4-Lite read or write), back to back",
            latency_def="last address/data handshake -> RVALID / BVALID",
            ci_vectors=1500,
            full_vectors=20000,
            notes="the AXI4-Lite slave of edgemoe_regs_pkg (the default design's register "
            "map) against host.simboard.EngineRegisters under random host programs, "
            "channel orders, strobes and back-pressure, with a fake engine",
        ),
        *(
            RtlUnit(
                name=name,
                top="desc_check",
                params={"ACT_W": act_w},
                test_module="sim.cocotb.test_desc_check",
                ii=DESC_BLOCK_CYCLES,
                latency=DESC_GLOBAL_CYCLES,
                per="block descriptor read and checked (one field read per cycle)",
                latency_def="start -> done of a descriptor refused by the global checks",
                ci_vectors=640,
                full_vectors=3000,
                notes=f"mutated descriptors of a tiny {numerics} export (router {router}): "
                "the status of the HLS C++ (g++ C simulation) for every one",
            )
            for name, act_w, numerics, router in (
                ("desc_check", 16, "hw16", "multi"),
                ("desc_check_32", 32, "edgemoe", "task"),
            )
        ),
        _elem(
            "exp_recip_rsqrt_rt",
            top="exp_recip_rsqrt_rt",
            params={"D_W": 33, "S_W": 48, "V_W": 62, "FRAC_W": 8, "SHIFT_W": 10},
            test="test_exp_recip_rsqrt_rt",
            core="exp",
            notes="exp_core, recip_core and rsqrt_core side by side, every vector with its own "
            "fraction counts (int8 range)",
        ),
        *(
            RtlUnit(
                name=name,
                top=f"axi_{d}",
                params={
                    "MAX_BURST": 16,
                    "OUTSTANDING": o,
                    **({"DEPTH": 16 * o} if d == "rd" else {}),
                },
                test_module=f"sim.cocotb.test_axi_{d}",
                ii=1,
                latency=2,
                per="beat within a request (zero-latency slave, no back-pressure)",
                latency_def=f"request handshake -> its first A{d[0].upper()}VALID",
                ci_vectors=45,
                full_vectors=600,
                notes=f"AXI4 {dict(rd='read', wr='write')[d]} master, bursts of <= 16 beats, {o} "
                "outstanding, against a Python AXI4 slave with random latency and gaps",
            )
            for d in ("rd", "wr")
            for name, o in ((f"axi_{d}", 8), (f"axi_{d}_o2", 2))
        ),
        RtlUnit(
            name="lin_unit",
            top="lin_unit_tb",
            params={
                "R": 2,
                "TI": 8,
                "TO": 8,
                "PORTS": 2,
                "EL": 32,
                "GL": 8,
                "AL": 8,
                "PL": 16,
                "QB": 8,
                "MAX_K": 64,
                "KP": 96,
                "NJ": 4,
                "TAILN": 8,
            },
            test_module="sim.cocotb.test_lin_unit",
            ii=1,
            latency=LIN_UNIT_LATENCY,
            per="MAC beat of a row group (its K/TI beats back to back)",
            latency_def="a job's first row group: last MAC beat -> the job's first store",
            ci_vectors=6,
            full_vectors=40,
            notes="the engine's linear unit on lists of DDR-weight jobs (one vector = one list: "
            "1..3 layers, or fc1 + GELU -> fc2 + residual), wide, packed and 8-bit weights "
            "with 16-bit x, column windows of wider stored matrices; weight ports, bias client "
            "and buffers modelled in Python (DDR latency 20..60 cycles, random back-pressure)",
        ),
        RtlUnit(
            name="ln_op",
            top="ln_op_tb",
            params={"ACT_W": 16, "LL": 4, "MAX_D": 40},
            test_module="sim.cocotb.test_ln_op",
            ii=1,
            # the x read, the unit's input register, layernorm_rt, the h write register
            latency=LAYERNORM_RT_LATENCY + 2,
            per="x-read beat of LL values (rows back to back once gamma and beta are in)",
            latency_def="a call's first row: last x-read beat -> its first h write",
            ci_vectors=12,
            full_vectors=60,
            notes="the engine's LayerNorm operator on calls of 0..10 rows of D = 1..40 16-bit "
            "values from the x buffer into h, gamma and beta from the params image (DDR "
            "latency 1..60 cycles, random back-pressure), random formats and eps per call; "
            "every third call with src_io = 1 (rows streamed from the io image)",
        ),
        RtlUnit(
            name="ln_op_w32",
            top="ln_op_tb",
            params={"ACT_W": 32, "LL": 8, "MAX_D": 24},
            test_module="sim.cocotb.test_ln_op",
            ii=1,
            latency=LAYERNORM_RT_LATENCY + 2,
            per="x-read beat of LL values (rows back to back once gamma and beta are in)",
            latency_def="a call's first row: last x-read beat -> its first h write",
            ci_vectors=12,
            full_vectors=60,
            notes="ln_op with 32-bit activations (four per io beat) and eight lanes (more than "
            "an io beat holds), D = 1..24",
        ),
        RtlUnit(
            name="acc_op",
            top="acc_op_tb",
            params={"ACT_W": 16, "AL": 4},
            test_module="sim.cocotb.test_acc_op",
            ii=1,
            # the buffer read, requant_rt (its output register is the x write)
            latency=_LAT["requant_rt"] + 1,
            per="read beat of AL values (x for init, accumulators for combine)",
            latency_def="a combine call's first accumulator read -> its first x write "
            "(an init call's read -> accumulator write is checked to be 2)",
            ci_vectors=24,
            full_vectors=80,
            notes="the MoE accumulator operator: pairs of calls, init (x aligned by shift "
            "into the 48-bit accumulators) then combine (accumulators plus random scatter-add "
            "terms requantised into x), 0..10 rows of D = 1..37 16-bit values, random "
            "output formats (all rounding and overflow modes, widths 1..16)",
        ),
        RtlUnit(
            name="acc_op_w32",
            top="acc_op_tb",
            params={"ACT_W": 32, "AL": 8},
            test_module="sim.cocotb.test_acc_op",
            ii=1,
            latency=_LAT["requant_rt"] + 1,
            per="read beat of AL values (x for init, accumulators for combine)",
            latency_def="a combine call's first accumulator read -> its first x write "
            "(an init call's read -> accumulator write is checked to be 2)",
            ci_vectors=24,
            full_vectors=80,
            notes="acc_op with 32-bit activations, 80-bit accumulators (sums below 2**62, "
            "the golden's int64) and eight lanes",
        ),
        RtlUnit(
            name="sm_op",
            top="sm_op_tb",
            params={"ACT_W": 16, "SL": 3, "QB": 8},
            test_module="sim.cocotb.test_sm_op",
            ii=1,
            # the score read, then softmax_lane
            latency=SOFTMAX_LANE_LATENCY + 1,
            per=f"score per lane, plus {_LAT['sm_rescale'] - 1} stall cycles per running-max "
            "update",
            latency_def="a row's last score read -> its statistics write",
            ci_vectors=12,
            full_vectors=80,
            notes="the engine's softmax statistics operator on calls of 0..8 rows of T = 1..40 "
            "16-bit scores of a slot of the score buffer (3 lanes: partial lane groups), a "
            "score fraction count per call; every statistics word {shift, mant, m}",
        ),
        RtlUnit(
            name="sm_op_w32",
            top="sm_op_tb",
            params={"ACT_W": 32, "SL": 4, "QB": 6},
            test_module="sim.cocotb.test_sm_op",
            ii=1,
            latency=SOFTMAX_LANE_LATENCY + 1,
            per=f"score per lane, plus {_LAT['sm_rescale'] - 1} stall cycles per running-max "
            "update",
            latency_def="a row's last score read -> its statistics write",
            ci_vectors=12,
            full_vectors=80,
            notes="sm_op with 32-bit scores, four lanes and six rows per slot",
        ),
        RtlUnit(
            name="route_op",
            top="route_op_tb",
            params={"ACT_W": 16, "RL": 3, "MAX_E": 8, "MAX_TOPK": 2, "TB": 10, "GW": 32},
            test_module="sim.cocotb.test_route_op",
            ii=1,
            # the logit read, router_rt, the count, the prefix sums, the placement register
            latency=ROUTER_RT_LATENCY + 4,
            per=f"logit per lane, plus {_LAT['sm_rescale'] - 1} stall cycles per running-max "
            "update",
            latency_def="a call's last logit read -> its first queue write",
            ci_vectors=12,
            full_vectors=80,
            notes="the engine's router operator on calls of 0..10 tokens of E = 1..8 16-bit "
            "logits (3 lanes: partial lane groups), top-1..2, gates with or without "
            "renormalisation into a per-call gate format; every queue entry {gate, token}, "
            "q_count and q_start",
        ),
        RtlUnit(
            name="route_op_w32",
            top="route_op_tb",
            params={"ACT_W": 32, "RL": 2, "MAX_E": 16, "MAX_TOPK": 4, "TB": 8, "GW": 32},
            test_module="sim.cocotb.test_route_op",
            ii=1,
            latency=ROUTER_RT_LATENCY + 4,
            per=f"logit per lane, plus {_LAT['sm_rescale'] - 1} stall cycles per running-max "
            "update",
            latency_def="a call's last logit read -> its first queue write",
            ci_vectors=12,
            full_vectors=80,
            notes="route_op with 32-bit logits, two lanes, 16 experts and top-1..4",
        ),
    ]
}
