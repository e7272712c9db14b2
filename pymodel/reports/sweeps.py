"""Measurements behind docs/NUMERICS.md: every hardware function's error against float64.

Each fixed form runs in the formats of the sweep presets over dense sweeps of its
input; the approx forms on float grids. :func:`measure_functions` gathers them with
the parameters the contract text needs (read from :data:`SPEC`, :func:`tables` and
the presets) into the JSON that :mod:`pymodel.reports.numerics` renders.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from ..config import PRESETS as MODEL_PRESETS
from ..numerics.fixed import FixedFormat
from ..numerics.forward import FixedArith, Q, calibrate
from ..numerics.hwmath import (
    SPEC,
    MathSpec,
    approx_exp,
    approx_gelu,
    approx_layernorm,
    approx_online_softmax,
    approx_recip,
    approx_rsqrt,
    exp_fixed,
    gelu_fixed,
    layernorm_fixed,
    ln_eps_sq,
    online_softmax_fixed,
    pseudo_to_float,
    recip_fixed,
    rsqrt_fixed,
    tables,
    topk_fixed,
)
from ..numerics.presets import KINDS, PRESETS, WEIGHT_KINDS, int_bits_for
from ..numerics.qtorch import OverflowCounter
from ..results import machine
from .common import deq, error_stats, f64, gen

#: The command that regenerates docs/NUMERICS.md (named in the document).
COMMAND = "python -m pymodel.reports.numerics"
SWEEP_SEED = 0  # random parts of the function sweeps
#: The model whose sizes (tokens per row, LayerNorm width, experts) the sweeps use.
SIZES_FROM = "edgemoe-t"
#: Fixed presets whose formats the sweeps use (hw16 before calibration: its generic defaults).
SWEEP_PRESETS = ("edgemoe", "hw16")


def _grid(lo: int, hi: int, n: int, g: torch.Generator) -> torch.Tensor:
    """Every integer in [lo, hi] if there are at most ``n``; else ``n`` evenly spaced ones
    plus ``n // 16`` random ones (so that low bits are not always the same)."""
    if hi - lo + 1 <= n:
        return torch.arange(lo, hi + 1, dtype=torch.int64)
    even = torch.linspace(lo, hi, n, dtype=torch.float64).round().long()
    rand = torch.randint(lo, hi + 1, (max(1, n // 16),), generator=g)
    return torch.unique(torch.cat([even, rand]))


def _octaves(lo_exp: int, hi_exp: int, per_octave: int, g: torch.Generator) -> torch.Tensor:
    """Positive integers covering [2**lo_exp, 2**hi_exp), ``per_octave`` per octave at most."""
    parts = [_grid(1 << e, (1 << (e + 1)) - 1, per_octave, g) for e in range(lo_exp, hi_exp)]
    return torch.unique(torch.cat(parts))


def _quantise(x: torch.Tensor, fmt: FixedFormat) -> torch.Tensor:
    """Raw integers of ``x`` in ``fmt`` (ap_fixed assignment, as the forward quantises)."""
    return torch.from_numpy(fmt.from_float(f64(x).numpy())).to(torch.int64)


def _fmt_info(fmt: FixedFormat) -> dict[str, Any]:
    return {
        "format": str(fmt),
        "frac_bits": fmt.frac_bits,
        "lsb": fmt.lsb,
        "quant": fmt.quant.value,
        "overflow": fmt.overflow.value,
    }


def _sweep_formats(kind: str) -> list[tuple[str, FixedFormat]]:
    """(label, format) of ``kind`` in each sweep preset (hw16: defaults before calibration)."""
    return [(p, PRESETS[p].fmt("sweep", kind)) for p in SWEEP_PRESETS]


# ====================================================================== function sweeps
def sweep_exp(n: int, spec: MathSpec = SPEC) -> dict[str, Any]:
    """exp on [-16, 0]: fixed with the score formats' fraction bits, approx on a float grid."""
    lo = -16
    g = gen(SWEEP_SEED)
    cases = []
    for label, fmt in _sweep_formats("score"):
        f = fmt.frac_bits
        d = _grid(lo << f, 0, n, g)
        y = exp_fixed(d, f, spec)
        x = deq(d, f)
        stats = error_stats(
            deq(y, spec.exp_out_frac),
            torch.exp(x),
            lsb=2.0**-spec.exp_out_frac,
            inputs=x,
        )
        stats["exact_at_zero"] = int(y[-1]) == 1 << spec.exp_out_frac
        stats["monotonic"] = bool((y[1:] >= y[:-1]).all())
        cases.append(
            {
                "label": f"{label} score",
                "input": _fmt_info(fmt),
                "output": f"ufixed, {spec.exp_out_frac} fraction bits",
                "output_lsb": 2.0**-spec.exp_out_frac,
                **stats,
            }
        )
    x = torch.cat(
        [
            torch.linspace(lo, 0, n, dtype=torch.float64),
            lo * torch.rand(n // 16, generator=g, dtype=torch.float64),
        ]
    )
    approx = error_stats(approx_exp(x, spec), torch.exp(x), rel=True, inputs=x)
    return {
        "sweep": f"d in [{lo}, 0]: every representable d, or {n} evenly spaced plus "
        f"{n // 16} random ones; reference exp(d) in float64 at the exact input",
        "fixed": cases,
        "approx": approx,
    }


def _pseudo_sweep(
    fn: Callable[[torch.Tensor, int, MathSpec], tuple[torch.Tensor, torch.Tensor]],
    approx: Callable[[torch.Tensor, MathSpec], torch.Tensor],
    ref: Callable[[torch.Tensor], torch.Tensor],
    cases_in: Sequence[tuple[str, int, int, int]],
    per_octave: int,
    spec: MathSpec,
) -> dict[str, Any]:
    """Reciprocal / rsqrt: pseudo-float results, relative error over octaves."""
    g = gen(SWEEP_SEED)
    cases = []
    for label, frac, lo_exp, hi_exp in cases_in:
        v = _octaves(lo_exp, hi_exp, per_octave, g)
        mant, shift = fn(v, frac, spec)
        x = deq(v, frac)
        stats = error_stats(pseudo_to_float(mant, shift, spec), ref(x), rel=True, inputs=x)
        stats["mant_in_range"] = bool(
            ((mant >= 1 << (spec.mant_frac - 1)) & (mant <= 1 << spec.mant_frac)).all()
        )
        cases.append(
            {
                "label": label,
                "input": f"raw integer with {frac} fraction bits, values in "
                f"[2^{lo_exp - frac}, 2^{hi_exp - frac})",
                "output": f"pseudo-float, {spec.mant_frac}-bit mantissa fraction",
                "octaves": hi_exp - lo_exp,
                **stats,
            }
        )
    lo = min(c[2] - c[1] for c in cases_in)
    hi = max(c[3] - c[1] for c in cases_in)
    x = torch.exp2(
        lo + (hi - lo) * torch.rand(per_octave * (hi - lo), generator=g, dtype=torch.float64)
    )
    return {
        "sweep": f"{per_octave} points per octave at most (all representable values in the "
        "low octaves); reference in float64 at the exact input",
        "fixed": cases,
        "approx": {
            **error_stats(approx(x, spec), ref(x), rel=True, inputs=x),
            "range": f"[2^{lo}, 2^{hi})",
        },
    }


def sweep_recip(per_octave: int, spec: MathSpec = SPEC) -> dict[str, Any]:
    """1/s over the softmax running sum's whole range (s >= 1)."""
    f = spec.softmax_sum_frac
    cases = [("softmax running sum", f, f, f + spec.softmax_sum_int)]
    return _pseudo_sweep(recip_fixed, approx_recip, lambda x: 1.0 / x, cases, per_octave, spec)


def sweep_rsqrt(per_octave: int, spec: MathSpec = SPEC) -> dict[str, Any]:
    """1/sqrt(v) for LayerNorm variances (fraction bits 2 * min(x_frac, ln_sq_frac))."""
    cases = []
    for label, fmt in _sweep_formats("resid"):
        vf = 2 * min(fmt.frac_bits, spec.ln_sq_frac)
        cases.append((f"{label} LayerNorm variance", vf, 0, vf + 2 * (fmt.int_bits - 1)))
    return _pseudo_sweep(
        rsqrt_fixed, approx_rsqrt, lambda x: 1.0 / torch.sqrt(x), cases, per_octave, spec
    )


def sweep_gelu(n: int, spec: MathSpec = SPEC) -> dict[str, Any]:
    """GELU on [-10, 10] from the hidden format to the gelu format of each preset."""
    lim = 10
    g = gen(SWEEP_SEED)
    cases = []
    for (label, fin), (_, fout) in zip(_sweep_formats("hidden"), _sweep_formats("gelu")):
        f = fin.frac_bits
        xr = _grid(-lim << f, lim << f, n, g)
        x = deq(xr, f)
        y = gelu_fixed(xr, f, fout, spec)
        stats = error_stats(deq(y, fout.frac_bits), F.gelu(x), lsb=fout.lsb, inputs=x)
        cases.append({"label": label, "input": _fmt_info(fin), "output": _fmt_info(fout), **stats})
    x = torch.cat(
        [
            torch.linspace(-lim, lim, n, dtype=torch.float64),
            lim * (2 * torch.rand(n // 16, generator=g, dtype=torch.float64) - 1),
        ]
    )
    return {
        "sweep": f"x in [-{lim}, {lim}]: every representable x, or {n} evenly spaced plus "
        f"{n // 16} random ones; reference exact GELU (erf) in float64 at the exact input",
        "fixed": cases,
        "approx": error_stats(approx_gelu(x, spec), F.gelu(x), inputs=x),
    }


def _score_rows(rows: int, length: int, lim: float, g: torch.Generator) -> torch.Tensor:
    """Random score rows: N(0, s) with s log-uniform on [1/4, 8], clipped to the format;
    every 8th row sorted ascending (a max update at every score: the most roundings)."""
    sd = torch.exp2(-2 + 5 * torch.rand(rows, 1, generator=g, dtype=torch.float64))
    x = (torch.randn(rows, length, generator=g, dtype=torch.float64) * sd).clamp(-lim, lim)
    x[::8] = x[::8].sort(dim=-1).values
    return x


def sweep_softmax(rows: int, spec: MathSpec = SPEC) -> dict[str, Any]:
    """Online softmax over random score rows of the model's token count."""
    length = MODEL_PRESETS[SIZES_FROM].num_tokens
    g = gen(SWEEP_SEED)
    cases = []
    for (label, fin), (_, fout) in zip(_sweep_formats("score"), _sweep_formats("prob")):
        xr = _quantise(_score_rows(rows, length, fin.max_value / 2, g), fin)
        x = deq(xr, fin.frac_bits)
        p = deq(online_softmax_fixed(xr, fin.frac_bits, fout, spec), fout.frac_bits)
        stats = error_stats(p, torch.softmax(x, -1), lsb=fout.lsb)
        stats["max_row_sum_err"] = float((p.sum(-1) - 1).abs().max())
        cases.append({"label": label, "input": _fmt_info(fin), "output": _fmt_info(fout), **stats})
    x = _score_rows(rows, length, 64.0, g)
    p = approx_online_softmax(x, spec)
    approx = error_stats(p, torch.softmax(x, -1))
    approx["max_row_sum_err"] = float((p.sum(-1) - 1).abs().max())
    return {
        "sweep": f"{rows} rows of {length} scores ({SIZES_FROM} tokens), N(0, s) with s "
        "log-uniform on [2^-2, 2^3], every 8th row sorted ascending (a max update at every "
        "score); reference torch.softmax in float64 on the exact inputs",
        "fixed": cases,
        "approx": approx,
    }


def _ln_rows(rows: int, width: int, g: torch.Generator) -> torch.Tensor:
    """Rows with mean U(-4, 4) and std log-uniform on [2^-5, 2^2]: |mean| / std from 0 to
    about 2^7, the range where the one-pass variance's cancellation shows."""
    mu = (2 * torch.rand(rows, 1, generator=g, dtype=torch.float64) - 1) * 4
    sd = torch.exp2(-5 + 7 * torch.rand(rows, 1, generator=g, dtype=torch.float64))
    return mu + sd * torch.randn(rows, width, generator=g, dtype=torch.float64)


#: |mean| / std bins of the LayerNorm error breakdown (the one-pass variance depends on it).
LN_RATIO_BINS = (0.0, 1.0, 10.0, 100.0, math.inf)


def _ln_by_ratio(err: torch.Tensor, ratio: torch.Tensor) -> list[dict[str, Any]]:
    out = []
    for lo, hi in zip(LN_RATIO_BINS[:-1], LN_RATIO_BINS[1:]):
        sel = (ratio >= lo) & (ratio < hi)
        if not bool(sel.any()):
            continue
        e = err[sel]
        out.append(
            {
                "lo": lo,
                "hi": hi,
                "rows": int(sel.sum()),
                "max_abs": float(e.max()),
                "mean_abs": float(e.mean()),
            }
        )
    return out


def sweep_layernorm(rows: int, spec: MathSpec = SPEC) -> dict[str, Any]:
    """LayerNorm over random rows of the model's width, in each preset's formats."""
    width = MODEL_PRESETS[SIZES_FROM].dim
    g = gen(SWEEP_SEED)
    gamma = 1 + 0.25 * torch.randn(width, generator=g, dtype=torch.float64)
    beta = 0.25 * torch.randn(width, generator=g, dtype=torch.float64)
    rows_x = _ln_rows(rows, width, g)
    cases = []
    for label, _ in _sweep_formats("resid"):
        p = PRESETS[label]
        fx, fg, fb = (p.fmt("sweep", k) for k in ("resid", "norm_w", "norm_b"))
        fz, fo = p.fmt("sweep", "ln_norm"), p.fmt("sweep", "ln_out")
        xr = _quantise(rows_x, fx)
        gr, br = _quantise(gamma, fg), _quantise(beta, fb)
        x, gq, bq = deq(xr, fx.frac_bits), deq(gr, fg.frac_bits), deq(br, fb.frac_bits)
        y = layernorm_fixed(xr, fx.frac_bits, gr, fg.frac_bits, br, fb.frac_bits, fz, fo, spec)
        ref = F.layer_norm(x, (width,), gq, bq, spec.ln_eps)
        y = deq(y, fo.frac_bits)
        stats = error_stats(y, ref, lsb=fo.lsb)
        ratio = x.mean(-1).abs() / x.std(-1, unbiased=False)
        stats["by_mean_over_std"] = _ln_by_ratio((y - ref).abs().amax(-1), ratio)
        cases.append(
            {
                "label": label,
                "input": _fmt_info(fx),
                "gamma": _fmt_info(fg),
                "beta": _fmt_info(fb),
                "norm": _fmt_info(fz),
                "output": _fmt_info(fo),
                **stats,
            }
        )
    x = rows_x
    y = approx_layernorm(x, gamma, beta, spec)
    ref = F.layer_norm(x, (width,), gamma, beta, spec.ln_eps)
    approx = error_stats(y, ref)
    ratio = x.mean(-1).abs() / x.std(-1, unbiased=False)
    approx["by_mean_over_std"] = _ln_by_ratio((y - ref).abs().amax(-1), ratio)
    return {
        "sweep": f"{rows} rows of {width} values ({SIZES_FROM} dim), row mean uniform on "
        "[-4, 4], row std log-uniform on [2^-5, 2^2] (the same rows for every form); gamma "
        "1 + N(0, 0.25), beta N(0, 0.25); reference F.layer_norm in float64 on the exact "
        "(quantised) x, gamma, beta with the same eps",
        "fixed": cases,
        "approx": approx,
    }


def sweep_topk(rows: int) -> dict[str, Any]:
    """top-k on integer logits with many ties against a stable descending sort."""
    cfg = MODEL_PRESETS[SIZES_FROM]
    g = gen(SWEEP_SEED)
    logits = torch.randint(-3, 4, (rows, cfg.num_experts), generator=g)
    got = topk_fixed(logits, cfg.top_k)
    ref = torch.sort(logits, dim=-1, descending=True, stable=True).indices[:, : cfg.top_k]
    ties = int((logits.unsqueeze(-1) == logits.unsqueeze(-2)).sum()) - logits.numel()
    return {
        "sweep": f"{rows} rows of {cfg.num_experts} integer logits in [-3, 3] (many ties), "
        f"k = {cfg.top_k}; reference: stable descending sort",
        "rows": rows,
        "tied_pairs": ties // 2,
        "agreement_pct": 100.0 * float((got == ref).all(-1).double().mean()),
    }


def sweep_linear(rows: int) -> dict[str, Any]:
    """The linear unit (exact accumulation + bias + residual, one requantisation) and the
    MoE combine (exact scatter-add of gate x expert output), through :class:`FixedArith`.

    The reference is the float64 result on the same quantised operands, so the error is
    the single requantisation (plus float64 rounding of the reference, far below an LSB).
    """
    cfg = MODEL_PRESETS[SIZES_FROM]
    d, hidden, e, k = cfg.dim, cfg.expert_hidden, cfg.num_experts, cfg.top_k
    g = gen(SWEEP_SEED)
    w = torch.randn(hidden, d, generator=g, dtype=torch.float64) / math.sqrt(d)
    b = 0.05 * torch.randn(hidden, generator=g, dtype=torch.float64)
    w2 = torch.randn(d, hidden, generator=g, dtype=torch.float64) / math.sqrt(hidden)
    b2 = 0.05 * torch.randn(d, generator=g, dtype=torch.float64)
    bank = {"u.w": (w, "w"), "u.b": (b, "b"), "v.w": (w2, "w"), "v.b": (b2, "b")}
    lin, comb = [], []
    for label in SWEEP_PRESETS:
        p = PRESETS[label]
        A = FixedArith(bank, p, OverflowCounter())
        x = A.quantize(
            torch.randn(rows, d, generator=g, dtype=torch.float64), p.fmt("x", "ln_out"), "x"
        )
        r = A.quantize(
            torch.randn(rows, d, generator=g, dtype=torch.float64), p.fmt("r", "resid"), "r"
        )
        h = A.linear("u", x, "u.w", "u.b", "hidden")
        ref_h = x.float() @ A.w("u.w").float().T + A.w("u.b").float()
        y = A.linear("v", h, "v.w", "v.b", "resid", residual=r)
        ref_y = h.float() @ A.w("v.w").float().T + A.w("v.b").float() + r.float()
        st_h = error_stats(h.float(), ref_h, lsb=h.fmt.lsb)
        st_y = error_stats(y.float(), ref_y, lsb=y.fmt.lsb)
        lin.append(
            {
                "label": label,
                "input": _fmt_info(x.fmt),
                "weight": _fmt_info(A.w("u.w").fmt),
                "bias": _fmt_info(A.w("u.b").fmt),
                "output": _fmt_info(h.fmt),
                **st_h,
                "with_residual": {"output": _fmt_info(y.fmt), **st_y},
            }
        )
        # MoE combine: every token picks k distinct experts.
        idx = torch.rand(rows, e, generator=g).argsort(-1)[:, :k]
        gates = A.quantize(
            torch.rand(rows, k, generator=g, dtype=torch.float64) / k, p.fmt("g", "gate_prob"), "g"
        )
        parts, ref = [], r.float().clone()
        for ex in range(e):
            tok, slot = (idx == ex).nonzero(as_tuple=True)
            ye = A.quantize(
                torch.randn(len(tok), d, generator=g, dtype=torch.float64),
                p.fmt("y", "expert_out"),
                "y",
            )
            ge = Q(gates.raw[tok, slot], gates.fmt)
            parts.append((tok, ge, ye))
            ref.index_add_(0, tok, ge.float().unsqueeze(-1) * ye.float())
        out = A.combine("c", r, parts)
        again = A.combine("c", r, parts[::-1])
        comb.append(
            {
                "label": label,
                "gate": _fmt_info(gates.fmt),
                "expert_out": _fmt_info(parts[0][2].fmt),
                "output": _fmt_info(out.fmt),
                **error_stats(out.float(), ref, lsb=out.fmt.lsb),
                "order_independent": bool(torch.equal(out.raw, again.raw)),
            }
        )
    return {
        "sweep": f"{rows} tokens, {SIZES_FROM} sizes (dim {d}, hidden {hidden}, {e} experts, "
        f"top-{k}); operands N(0, 1) activations, N(0, 1/fan_in) weights, N(0, 0.05) biases, "
        "gates U(0, 1/k); reference float64 on the same quantised operands",
        "linear": lin,
        "combine": comb,
    }


def preset_formats() -> dict[str, Any]:
    """Default formats per kind of the fixed presets, and how calibration picks integer bits."""
    margin = inspect.signature(calibrate).parameters["margin"].default
    floor_bits = int_bits_for(0.0, signed=False, margin=1.0)  # the floor of max|x|
    return {
        "kinds": list(KINDS),
        "weight_kinds": list(WEIGHT_KINDS),
        "formats": {
            p: {k: _fmt_info(PRESETS[p].formats[k]) for k in (*KINDS, *WEIGHT_KINDS)}
            for p in SWEEP_PRESETS
        },
        "calibration": {
            "margin": margin,
            "min_abs_log2": floor_bits - 1,
            "examples": {str(v): int_bits_for(v, True, margin) for v in (0.5, 1.0, 3.0, 100.0)},
        },
    }


def measure_functions(quick: bool = False, spec: MathSpec = SPEC) -> dict[str, Any]:
    """Every function's error against float64 plus the parameters the contract text needs."""
    t0 = time.perf_counter()
    n = 1 << (12 if quick else 20)
    per_octave = 1 << (8 if quick else 14)
    rows = 64 if quick else 2048
    tab = tables(spec)
    # LayerNorm's eps in raw units of the variance when x keeps ln_sq_frac fraction bits.
    eps_raw = ln_eps_sq(spec.ln_sq_frac, spec)
    data = {
        "generator": COMMAND + (" --quick" if quick else ""),
        "machine": machine(),
        "quick": quick,
        "seed": SWEEP_SEED,
        "sizes_from": SIZES_FROM,
        "spec": spec.to_dict(),
        "tables": {k: {"entries": len(v), "first": v[0], "last": v[-1]} for k, v in tab.items()},
        "derived": {
            "log2e_value": tab["log2e"][0] / 2.0**spec.log2e_frac,
            "log2e_error": tab["log2e"][0] / 2.0**spec.log2e_frac - math.log2(math.e),
            "gelu_step": 2.0**-spec.gelu_step_log2,
            "gelu_table_entries": (spec.gelu_range << spec.gelu_step_log2) + 1,
            "gelu_tail_at_range": spec.gelu_range * 0.5 * math.erfc(spec.gelu_range / math.sqrt(2)),
            "exp_interp_frac": spec.mant_frac + spec.exp_in_frac - spec.exp_table_bits,
            "exp_u_bits": spec.exp_in_frac - spec.exp_table_bits,
            "norm_u_bits": spec.norm_in_frac - spec.recip_table_bits,
            "norm_interp_frac": spec.mant_frac + spec.norm_in_frac - spec.recip_table_bits,
            "softmax_sum_width": spec.softmax_sum_int + spec.softmax_sum_frac,
            "softmax_max_row": (1 << spec.softmax_sum_int) - 1,
            "ln_eps_raw_at_sq_frac": eps_raw,
            "ln_eps_value_at_sq_frac": eps_raw * 2.0 ** (-2 * spec.ln_sq_frac),
        },
        "presets": preset_formats(),
        "functions": {
            "exp": sweep_exp(n, spec),
            "recip": sweep_recip(per_octave, spec),
            "rsqrt": sweep_rsqrt(per_octave, spec),
            "gelu": sweep_gelu(n, spec),
            "softmax": sweep_softmax(rows, spec),
            "layernorm": sweep_layernorm(rows, spec),
            "topk": sweep_topk(rows * 4),
            "linear": sweep_linear(min(rows, 256)),
        },
    }
    data["runtime_s"] = time.perf_counter() - t0
    return data
