"""Cycles of each unit of the engine, one function per loop nest of ``hls/src``.

Every function follows the C++ loop it names (the ``label`` of its rows is the
C++ loop label, so csynth reports can be matched to it): trip counts, II = 1
pipelines, the overlap the code is written for (ping-pong buffers, DATAFLOW
regions, independent calls in one step), pipeline fill, and DDR streaming
through :class:`~pymodel.perf.ddr.Ddr`. All figures are MODELLED.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from ..export.design import Design
from ..numerics.rtl_export import CORE_LATENCY
from .ddr import Ddr

#: Pipeline depths (cycles). The arithmetic cores' latencies are the RTL units'
#: (pymodel.numerics.rtl_export.CORE_LATENCY, asserted by their testbenches); the
#: LayerNorm row unit's measured II is D + 3 with 12 cycles from its last input to
#: its first output (docs/HARDWARE.md, the RTL timing table).
DEPTH = {
    "mac": CORE_LATENCY["mac"],
    "exp": CORE_LATENCY["exp"],
    "recip": CORE_LATENCY["recip"],
    "gelu": CORE_LATENCY["gelu"],
    "fetch": 2,  # on-chip buffer read into the row-group register
    "epilogue": 2,  # requantisation of an exact sum
    "ln_extra": 3,  # LayerNorm row II beyond its element passes
    "ln_latency": 12,
    "region": 8,  # dataflow region start and done handshakes
}
#: Cycles a softmax lane stalls at a new running max: the rescale multiply (3)
#: and the refill of the exp pipeline behind it (4).
SM_STALL = 7


def div_up(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class LinearSpec:
    """One job of the linear unit (the fields of the C++ ``LinearJob`` that cost time)."""

    name: str
    rows: int  # x rows
    in_features: int
    out_features: int
    x_bits: int  # format widths: both <= 8 selects packed mode
    w_bits: int
    w_source: str = "ddr"  # "ddr", "queries", "prob"
    gelu: bool = False
    bias: bool = True
    in_tail: int = 0
    accumulate: bool = False  # epilogue into the exact accumulators (ACC_LANES per cycle)
    prefilled: bool = False  # tile 0 filled before the job starts (overlapping other work)

    @property
    def macs(self) -> int:
        return self.rows * self.out_features * (self.in_features + self.in_tail)


@dataclass
class LinearCost:
    cycles: int
    compute_cycles: int  # n_tiles x n_groups x per-group cycles (no waits)
    weight_beats: int  # DDR beats streamed
    packed: bool
    tiles: int
    groups: int
    detail: dict = field(default_factory=dict)


def weight_row_beats(in_features: int, w_bits: int) -> int:
    """Beats of one weight row in DDR (8- or 16-bit words)."""
    return div_up(in_features, 16 if w_bits <= 8 else 8)


def _shape(spec: LinearSpec, d: Design) -> dict:
    packed = spec.x_bits <= 8 and spec.w_bits <= 8
    toe = 2 * d.mac_out if packed else d.mac_out
    kt = spec.in_features + spec.in_tail
    kpad = div_up(kt, d.mac_in) * d.mac_in
    lanes = d.gelu_lanes if spec.gelu else (d.acc_lanes if spec.accumulate else d.epilogue_lanes)
    group = max(kpad // d.mac_in, div_up(d.mac_rows * toe, lanes))
    pipe = DEPTH["fetch"] + DEPTH["mac"] + DEPTH["epilogue"] + (DEPTH["gelu"] if spec.gelu else 0)
    row_beats = weight_row_beats(kt, spec.w_bits)
    if spec.w_source == "ddr":
        fill = div_up(toe, d.weight_ports) * row_beats  # FIFOs drain a beat per port per cycle
    elif spec.w_source == "queries":
        fill = toe * kpad // d.mac_in  # TI query words per cycle
    else:  # "prob": the probability lanes
        fill = div_up(toe * kpad, d.prob_lanes) + DEPTH["exp"]
    return {
        "packed": packed,
        "toe": toe,
        "kpad": kpad,
        "tiles": div_up(spec.out_features, toe),
        "groups": div_up(spec.rows, d.mac_rows),
        "group": group,
        "tile_compute": div_up(spec.rows, d.mac_rows) * group + pipe,
        "fill": fill,
        "row_beats": row_beats,
        "port_beats": div_up(toe, d.weight_ports) * row_beats,  # busiest port, full tile
    }


def linear_jobs(specs: list[LinearSpec], d: Design, ddr: Ddr) -> list[LinearCost]:
    return list(_linear_jobs(tuple(specs), d, ddr))


@functools.lru_cache(maxsize=65536)
def _linear_jobs(specs: tuple[LinearSpec, ...], d: Design, ddr: Ddr) -> tuple[LinearCost, ...]:
    """``linear_jobs``: one DATAFLOW region for a list of jobs.

    The weight streamer issues every tile of every job back to back (latency once
    per list; a tile arrives after the beats before it at the port's sustained rate
    and the DDR's shared rate); the biases stream alongside. The compute process
    runs the jobs in order: the job's bias (a beat per cycle from its FIFO), the
    fill of tile 0 (unless prefilled), then per tile max(its groups, the fill of the
    next tile, the next tile's arrival), drained once per tile.
    """
    rate = min(ddr.port_rate(), ddr.total_rate(d.clock_mhz) / d.weight_ports)
    streamed = 0.0  # port beats issued so far (busiest port)
    clock = float(DEPTH["region"])
    out = []
    for spec in specs:
        sh = _shape(spec, d)
        start_job = clock
        clock += div_up(spec.out_features, 8) if spec.bias else 0
        arrival = []
        if spec.w_source == "ddr":
            for _ in range(sh["tiles"]):
                streamed += sh["port_beats"]
                arrival.append(ddr.latency_cycles + streamed / rate)
        ready = clock + (0 if spec.prefilled else sh["fill"])
        if arrival:
            ready = max(ready, arrival[0])
        end = clock
        for i in range(sh["tiles"]):
            start = max(end, ready)
            end = start + sh["tile_compute"]
            if i + 1 < sh["tiles"]:  # the fill of tile i+1 runs while tile i computes
                ready = start + sh["fill"]
                if arrival:
                    ready = max(ready, arrival[i + 1])
        clock = end
        out.append(
            LinearCost(
                cycles=math.ceil(clock - start_job),
                compute_cycles=sh["tiles"] * sh["groups"] * sh["group"],
                weight_beats=spec.out_features * sh["row_beats"] if spec.w_source == "ddr" else 0,
                packed=sh["packed"],
                tiles=sh["tiles"],
                groups=sh["groups"],
                detail={"fill_per_tile": sh["fill"], "per_group": sh["group"]},
            )
        )
    if out:  # the region's start and done handshakes
        out[0].cycles += DEPTH["region"]
    return tuple(out)


def linear(spec: LinearSpec, d: Design, ddr: Ddr) -> LinearCost:
    """``linear_unit``: a list of one job."""
    return linear_jobs([spec], d, ddr)[0]


def layernorm_rows_io(rows: int, dim: int, act_w: int, d: Design, ddr: Ddr) -> int:
    """``ln_io_rows``: LayerNorm 1 streamed from io_x, the slower of the burst and the rows."""
    return max(layernorm_rows(rows, dim, d), x_transfer(rows, dim, act_w, ddr, d.clock_mhz))


def layernorm_rows(rows: int, dim: int, d: Design) -> int:
    """``ln_rows``: LN_LANES elements per cycle per pass; II = passes + extra per row."""
    ii = div_up(dim, d.ln_lanes) + DEPTH["ln_extra"]
    return rows * ii + DEPTH["ln_latency"]


def softmax_statistics(nq: int, tokens: int, d: Design, updates_per_row: float) -> int:
    """``sm_row_groups`` x ``sm_keys``: SL rows at a time, one key per row per cycle,
    plus the stalls at new running maxima (the slowest lane of a group sets its pace)."""
    groups = div_up(nq, d.softmax_lanes)
    per_group = tokens + math.ceil(SM_STALL * updates_per_row) + DEPTH["exp"] + DEPTH["recip"]
    return groups * per_group


def expected_max_updates(tokens: int) -> float:
    """Running-max updates after the first key of a row in random order: H_T - 1."""
    return sum(1.0 / i for i in range(2, tokens + 1))


def router(rows: int, experts: int, d: Design) -> int:
    """``moe_route``: per token a top-k scan and the online softmax over the experts
    (ROUTER_LANES tokens in parallel), then the counting sort of the queues."""
    per_token = 3 * experts + DEPTH["exp"] + DEPTH["recip"]
    return div_up(rows, d.router_lanes) * per_token


def queues(rows: int, top_k: int, experts: int) -> int:
    """``moe_count`` + prefix sum + ``moe_place``."""
    return 2 * rows * top_k + experts


def elementwise(rows: int, dim: int, lanes: int) -> int:
    """A row loop of ``lanes`` elements per cycle (``moe_acc_init``, ``moe_combine``)."""
    return rows * div_up(dim, lanes) + DEPTH["epilogue"]


def x_transfer(rows: int, dim: int, act_w: int, ddr: Ddr, clock_mhz: float) -> int:
    """``load_x`` / ``store_x``: the block's rows of io_x as one burst sequence."""
    beats = rows * div_up(dim, 128 // act_w)
    return ddr.stream_cycles([beats], clock_mhz)
