"""The performance model of the engine: ``hls/src``'s schedule walked one loop nest at a time.

:func:`estimate` follows ``edgemoe_top``: the patch embedding per token block,
then per transformer block the K/V phase and the main phase (``run_block``),
calling the unit models of :mod:`pymodel.perf.units` with the job each C++ call
would run, and applying the overlap the code is written for. Every row of the
result names the layer, the C++ loop label and its cycles; the report adds the
compute bound (MACs at the array's peak) and the weight-streaming bound (weight
bytes at the ports' and the DDR's rate) and the ratio of the model to each.
Everything here is MODELLED.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import ModelConfig
from ..export.design import Design
from .ddr import Ddr
from .units import (
    DEPTH,
    LinearSpec,
    div_up,
    elementwise,
    expected_max_updates,
    layernorm_rows,
    layernorm_rows_io,
    linear,
    linear_jobs,
    queues,
    router,
    softmax_statistics,
    x_transfer,
)

LABEL = "MODELLED"


@dataclass
class Widths:
    """Format widths that select the datapath: MAC mode and weight words per tensor kind."""

    act_w: int = 16
    input: int = 16  # input image (patch-embedding x)
    ln_out: int = 16  # LayerNorm outputs (x of Q/K/V, fc1, router, experts)
    q: int = 16
    kv: int = 16
    prob: int = 16
    attn: int = 16  # attention output (x of the projection)
    gelu: int = 16  # GELU outputs (x of fc2 / h4toh)
    weights: int = 16  # linear and router weights

    @classmethod
    def from_formats(cls, fmts: Mapping[str, Any], act_w: int) -> Widths:
        """Widths of an export's format table (the widest tensor of each kind)."""

        def widest(suffix: str) -> int:
            ws = [f.width for n, f in fmts.items() if n.endswith(suffix)]
            return max(ws) if ws else act_w

        return cls(
            act_w=act_w,
            input=fmts["input"].width,
            ln_out=max(widest(".norm1"), widest(".norm2")),
            q=widest("attn.q"),
            kv=max(widest("attn.k"), widest("attn.v")),
            prob=widest("attn.prob"),
            attn=widest("attn.out"),
            gelu=max(widest("mlp.gelu"), widest("experts.gelu")),
            weights=max(
                [f.width for n, f in fmts.items() if _is_matrix(n)] or [16],
            ),
        )


_MATRICES = ("q.w", "k.w", "v.w", "proj.w", "fc1.w", "fc2.w", "htoh4.w", "h4toh.w", "patch.w")


def _is_matrix(name: str) -> bool:
    """A weight matrix streamed through the weight ports (not a norm or bias)."""
    tail = name.rsplit(".", 1)[-1]
    return name.endswith(_MATRICES) or (".mlp.gate." in name and tail.isdigit())


@dataclass
class Row:
    layer: str
    label: str  # the C++ loop / function label
    cycles: int
    macs: int = 0
    weight_bytes: int = 0


@dataclass
class Estimate:
    """The model's answer for one forward (one task, batch 1)."""

    cfg: ModelConfig
    design: Design
    ddr: Ddr
    widths: Widths
    rows: list[Row] = field(default_factory=list)
    routing: str = "balanced assumption"

    def add(self, layer: str, label: str, cycles: int, macs: int = 0, wbytes: int = 0) -> None:
        self.rows.append(Row(layer, label, int(cycles), int(macs), int(wbytes)))

    @property
    def cycles(self) -> int:
        return sum(r.cycles for r in self.rows)

    @property
    def latency_ms(self) -> float:
        return self.cycles / (self.design.clock_mhz * 1e3)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def weight_bytes(self) -> int:
        return sum(r.weight_bytes for r in self.rows)

    def bounds(self) -> dict[str, float]:
        """Lower bounds on this design: every MAC at the array's peak rate (packed where
        the widths allow it), every weight byte at the ports' and the DDR's rate."""
        d, ddr = self.design, self.ddr
        w = self.widths
        packed_all = max(w.ln_out, w.weights, w.q, w.kv, w.prob, w.attn, w.gelu) <= 8
        peak = d.dsp_macs * (2 if packed_all else 1)
        compute_ms = self.macs / peak / (d.clock_mhz * 1e3)
        rate = min(d.weight_ports * ddr.port_rate(), ddr.total_rate(d.clock_mhz)) * 16
        weights_ms = self.weight_bytes / rate / (d.clock_mhz * 1e3)
        return {"compute_ms": compute_ms, "weights_ms": weights_ms}

    def per_layer(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.layer] = out.get(r.layer, 0) + r.cycles
        return out

    def per_label(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.label] = out.get(r.label, 0) + r.cycles
        return out


def token_blocks(total: int, capacity: int) -> list[tuple[int, int]]:
    """Blocks of ``capacity`` rows and a remainder, as the engine's block loops:
    (first row, rows) per block."""
    return [(b, min(capacity, total - b)) for b in range(0, total, capacity)]


def _lin(est: Estimate, layer: str, label: str, spec: LinearSpec) -> int:
    c = linear(spec, est.design, est.ddr)
    est.add(layer, label, c.cycles, spec.macs, c.weight_beats * 16)
    return c.cycles


def _jobs(est: Estimate, layers: list[str], specs: list[LinearSpec], overlap: int = 0) -> None:
    """A job list (``linear_jobs``); ``overlap`` cycles of independent work (an io_x
    transfer) run beside it: the excess over the list is exposed."""
    costs = linear_jobs(specs, est.design, est.ddr)
    for layer, spec, c in zip(layers, specs, costs):
        est.add(layer, "lu_jobs", c.cycles, spec.macs, c.weight_beats * 16)
    extra = overlap - sum(c.cycles for c in costs)
    if extra > 0:
        est.add(layers[0], "x_transfer_exposed", extra)


def _expert_counts(
    cfg: ModelConfig, block: int, row0: int, rows: int, routing: Mapping[str, np.ndarray] | None
) -> list[int]:
    key = f"blocks.{block}"
    if routing is not None and key in routing:
        ids = np.asarray(routing[key]).reshape(cfg.num_tokens, cfg.top_k)[row0 : row0 + rows]
        return np.bincount(ids.reshape(-1), minlength=cfg.num_experts).tolist()
    per = div_up(rows * cfg.top_k, cfg.num_experts)
    return [per] * cfg.num_experts


def estimate(
    cfg: ModelConfig,
    design: Design | None = None,
    widths: Widths | None = None,
    *,
    ddr: Ddr | None = None,
    routing: Mapping[str, np.ndarray] | None = None,
    max_updates: float | None = None,
) -> Estimate:
    """MODELLED cycles of one forward of ``cfg`` on ``design``, following ``edgemoe_top``.

    ``routing`` (block -> (T, k) expert ids of a golden run) sizes the expert
    queues; without it every expert gets an equal share. ``max_updates`` is the
    mean number of running-max updates per score row (from a golden run);
    without it the random-order expectation H_T - 1.
    """
    d = design or Design()
    w = widths or Widths()
    ddr = ddr or Ddr()
    est = Estimate(cfg, d, ddr, w, routing="golden image" if routing is not None else "balanced")
    t_tok, dim = cfg.num_tokens, cfg.dim
    blocks = token_blocks(t_tok, d.token_block)
    nb = len(blocks)
    upd = expected_max_updates(t_tok) if max_updates is None else max_updates
    act, wb, clk = w.act_w, w.weights, d.clock_mhz

    def xfer(rows: int) -> int:
        return x_transfer(rows, dim, act, ddr, clk)

    # Descriptor decode, block checks, tables (edgemoe_top prologue).
    est.add("top", "check_blocks", ddr.burst_cycles(4 + 40 * cfg.depth) + 40 * cfg.depth)
    est.add("top", "load_tables", ddr.burst_cycles(200))
    # Patch embedding, last block first; every block but block 0 is stored.
    pin = cfg.in_chans * cfg.patch_size**2
    img_row_beats = div_up(cfg.img_size[1], 128 // act)
    for b in reversed(range(nb)):
        row0, rows = blocks[b]
        first = 1 if row0 == 0 else 0
        patch_rows = div_up(rows - first, cfg.grid[1]) + 1  # a block can straddle grid rows
        gather = cfg.in_chans * cfg.patch_size * min(patch_rows, cfg.grid[0]) * img_row_beats
        est.add("embed", "pe_gather", ddr.stream_cycles([gather], clk))
        est.add("embed", "pe_pos", xfer(rows - first))
        _lin(est, "embed", "lu_jobs", LinearSpec("embed", rows - first, pin, dim, w.input, wb))
        if b:
            est.add("embed", "x_store_rows", xfer(rows))
    est.add("embed", "pe_cls", dim + DEPTH["epilogue"])
    for i in range(cfg.depth):
        p = f"blocks.{i}."
        moe = i in cfg.moe_blocks
        # K/V phase, ascending: block b + 1 loads (and block 0 stores) under b's jobs.
        for b, (_, rows) in enumerate(blocks):
            est.add(p + "norm1", "ln_rows", layernorm_rows(rows, dim, d))
            io = (xfer(rows) if (b == 0 and nb > 1) else 0) + (
                xfer(blocks[b + 1][1]) if b + 1 < nb else 0
            )
            specs = [LinearSpec(n, rows, dim, dim, w.ln_out, wb) for n in ("k", "v")]
            _jobs(est, [p + "attn.k", p + "attn.v"], specs, overlap=io)
        # Main phase, descending.
        for b in reversed(range(nb)):
            row0, rows = blocks[b]
            streamed = b != nb - 1
            if streamed:  # store block b+1 while LayerNorm 1 streams block b
                ln = layernorm_rows_io(rows, dim, act, d, ddr)
                est.add(p + "norm1", "ln_io_rows", max(ln, xfer(blocks[b + 1][1])))
            q = _lin(est, p + "attn.q", "lu_jobs", LinearSpec("q", rows, dim, dim, w.ln_out, wb))
            if streamed and xfer(rows) > q:
                est.add(p + "attn.q", "x_transfer_exposed", xfer(rows) - q)
            _attention(est, p + "attn", rows, upd)
            spec = LinearSpec("proj", rows, dim, dim, w.attn, wb)
            _lin(est, p + "attn.proj", "lu_jobs", spec)
            est.add(p + "norm2", "ln_rows", layernorm_rows(rows, dim, d))
            if moe:
                _moe(est, p, i, row0, rows, routing)
            else:
                layers, specs = [], []
                for c0 in range(0, cfg.mlp_hidden, d.hidden_chunk):
                    hc = min(d.hidden_chunk, cfg.mlp_hidden - c0)
                    layers += [p + "mlp.fc1", p + "mlp.fc2"]
                    specs.append(LinearSpec("fc1", rows, dim, hc, w.ln_out, wb, gelu=True))
                    specs.append(
                        LinearSpec(
                            "fc2", rows, hc, dim, w.gelu, wb, accumulate=c0 + hc < cfg.mlp_hidden
                        )
                    )
                _jobs(est, layers, specs)
    est.add("output", "x_store_rows", xfer(blocks[0][1]))
    return est


def _attention(est: Estimate, layer: str, rows: int, updates: float) -> None:
    """``attention``: per query block, attn_steps s = 0 .. heads + 1, each running
    scores(s) (while the probability lanes prefill values(s - 2)'s first tile) and
    values(s - 2) on the MAC array, and statistics(s - 1) on the softmax unit: a
    step costs max(MAC work, softmax work)."""
    cfg, d, w = est.cfg, est.design, est.widths
    t_tok, hd = cfg.num_tokens, cfg.head_dim
    for _, nq in token_blocks(rows, d.query_block):
        s_spec = LinearSpec("scores", t_tok, hd, nq, w.kv, w.q, "queries", bias=False)
        v_spec = LinearSpec(
            "values", hd, t_tok, nq, w.kv, w.prob, "prob", bias=False, prefilled=True
        )
        s_cost = linear(s_spec, d, est.ddr).cycles
        v = linear(v_spec, d, est.ddr)
        prefill = v.detail["fill_per_tile"]
        stats = softmax_statistics(nq, t_tok, d, updates)
        for s in range(cfg.num_heads + 2):
            first = max(s_cost if s < cfg.num_heads else 0, prefill if s >= 2 else 0)
            mac = first + (v.cycles if s >= 2 else 0)
            sm = stats if 1 <= s <= cfg.num_heads else 0
            est.add(layer, "attn_steps", max(mac, sm), 0)
        est.rows[-1].macs += 2 * cfg.num_heads * nq * t_tok * hd


def _moe(est: Estimate, p: str, block: int, row0: int, rows: int, routing: Mapping | None) -> None:
    cfg, d, w = est.cfg, est.design, est.widths
    wb = w.weights
    spec = LinearSpec(
        "gate", rows, cfg.dim, cfg.num_experts, w.ln_out, wb, bias=False,
        in_tail=cfg.gate_in_dim - cfg.dim,
    )  # fmt: skip
    _lin(est, p + "mlp.gate", "lu_jobs", spec)
    est.add(p + "mlp.route", "moe_route", router(rows, cfg.num_experts, d))
    est.add(p + "mlp.route", "moe_count", queues(rows, cfg.top_k, cfg.num_experts))
    est.add(p + "mlp.combine", "moe_acc_init", elementwise(rows, cfg.dim, d.acc_lanes))
    layers, specs = [], []
    eh = cfg.expert_hidden
    for e, n in enumerate(_expert_counts(cfg, block, row0, rows, routing)):
        if n:
            layers += [p + f"mlp.expert{e}.htoh4", p + f"mlp.expert{e}.h4toh"]
            specs.append(LinearSpec("htoh4", n, cfg.dim, eh, w.ln_out, wb, gelu=True))
            specs.append(LinearSpec("h4toh", n, eh, cfg.dim, w.gelu, wb, accumulate=True))
    if specs:
        _jobs(est, layers, specs)
    est.add(p + "mlp.combine", "moe_combine", elementwise(rows, cfg.dim, d.acc_lanes))
