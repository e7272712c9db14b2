"""Generated numerics documents: the arithmetic contract and the accuracy of the presets.

``python -m pymodel.numerics.report [--quick] [--checkpoint PATH]`` measures, then renders:

* ``build/numerics/functions.json`` -> ``docs/NUMERICS.md``: the contract of every
  hardware function in words and formulas (parameters read from :data:`SPEC`,
  :func:`tables` and the presets, never typed by hand) and each function's error
  against float64 over dense sweeps, fixed-point and approx forms;
* ``build/numerics/accuracy.json`` -> ``docs/ACCURACY.md``: per model, numerics
  preset and layer, the activation error against the float64 forward, overflow
  counts, head-output and routing agreement.

Measurements go to JSON first; the markdown is rendered from the JSON alone, so
every number in the documents can be traced to a result file.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..config import PRESETS as MODEL_PRESETS
from ..results import REPO, machine, update_section, write_json
from .fixed import FixedFormat
from .forward import FixedArith, FloatArith, Q, _bank, _run, calibrate
from .hwmath import (
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
from .presets import KINDS, PRESETS, WEIGHT_KINDS, NumericsPreset, int_bits_for
from .qtorch import OverflowCounter

OUT_DIR = REPO / "build" / "numerics"
DOCS_DIR = REPO / "docs"
FUNCTIONS_JSON, ACCURACY_JSON = "functions.json", "accuracy.json"
NUMERICS_MD, ACCURACY_MD = "NUMERICS.md", "ACCURACY.md"
SECTION = "numerics-report"

SWEEP_SEED = 0  # random parts of the function sweeps
MODEL_SEED, IMAGE_SEED, CALIB_SEED = 0, 1, 2  # random weights, evaluated images, hw16 calibration
#: The model whose sizes (tokens per row, LayerNorm width, experts) the sweeps use.
SIZES_FROM = "edgemoe-t"
#: Fixed presets whose formats the sweeps use (hw16 before calibration: its generic defaults).
SWEEP_PRESETS = ("edgemoe", "hw16")
REPORT_PRESETS = ("approx", "edgemoe", "hw16")
EXPERT_LAYER = ".mlp.experts."


# ============================================================================ helpers
def num(x: Any) -> str:
    """The one number formatter of both documents (the tests re-derive numbers with it)."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return format(float(x), ".4g")


def _f64(t: torch.Tensor) -> torch.Tensor:
    return t.detach().double()


def error_stats(
    got: torch.Tensor,
    ref: torch.Tensor,
    *,
    rel: bool = False,
    lsb: float | None = None,
    inputs: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Max / mean absolute (and relative) error of ``got`` against ``ref`` (float64).

    ``lsb`` adds the max error in output LSBs; ``inputs`` the input at the worst point.
    """
    got, ref = _f64(got).reshape(-1), _f64(ref).reshape(-1)
    err = (got - ref).abs()
    i = int(err.argmax())
    out: dict[str, Any] = {
        "n": err.numel(),
        "max_abs": float(err[i]),
        "mean_abs": float(err.mean()),
        "rms": float(err.square().mean().sqrt()),
        "max_rel": None,
        "mean_rel": None,
        "max_lsb": None if lsb is None else float(err[i]) / lsb,
        "worst_input": None if inputs is None else float(_f64(inputs).reshape(-1)[i]),
    }
    if rel:
        r = err / ref.abs()
        out["max_rel"], out["mean_rel"] = float(r.max()), float(r.mean())
    return out


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


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
    return torch.from_numpy(fmt.from_float(_f64(x).numpy())).to(torch.int64)


def _deq(raw: torch.Tensor, frac: int) -> torch.Tensor:
    return raw.double() * 2.0**-frac


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
    g = _gen(SWEEP_SEED)
    cases = []
    for label, fmt in _sweep_formats("score"):
        f = fmt.frac_bits
        d = _grid(lo << f, 0, n, g)
        y = exp_fixed(d, f, spec)
        x = _deq(d, f)
        stats = error_stats(
            _deq(y, spec.exp_out_frac),
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
    g = _gen(SWEEP_SEED)
    cases = []
    for label, frac, lo_exp, hi_exp in cases_in:
        v = _octaves(lo_exp, hi_exp, per_octave, g)
        mant, shift = fn(v, frac, spec)
        x = _deq(v, frac)
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
    g = _gen(SWEEP_SEED)
    cases = []
    for (label, fin), (_, fout) in zip(_sweep_formats("hidden"), _sweep_formats("gelu")):
        f = fin.frac_bits
        xr = _grid(-lim << f, lim << f, n, g)
        x = _deq(xr, f)
        y = gelu_fixed(xr, f, fout, spec)
        stats = error_stats(_deq(y, fout.frac_bits), F.gelu(x), lsb=fout.lsb, inputs=x)
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
    g = _gen(SWEEP_SEED)
    cases = []
    for (label, fin), (_, fout) in zip(_sweep_formats("score"), _sweep_formats("prob")):
        xr = _quantise(_score_rows(rows, length, fin.max_value / 2, g), fin)
        x = _deq(xr, fin.frac_bits)
        p = _deq(online_softmax_fixed(xr, fin.frac_bits, fout, spec), fout.frac_bits)
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
    g = _gen(SWEEP_SEED)
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
        x, gq, bq = _deq(xr, fx.frac_bits), _deq(gr, fg.frac_bits), _deq(br, fb.frac_bits)
        y = layernorm_fixed(xr, fx.frac_bits, gr, fg.frac_bits, br, fb.frac_bits, fz, fo, spec)
        ref = F.layer_norm(x, (width,), gq, bq, spec.ln_eps)
        y = _deq(y, fo.frac_bits)
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
    g = _gen(SWEEP_SEED)
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
    g = _gen(SWEEP_SEED)
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
        "generator": "python -m pymodel.numerics.report" + (" --quick" if quick else ""),
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


# ======================================================================= model accuracy
class _ExpertTap:
    """Keeps every expert's rows of the per-expert layers, with their token indices.

    The plain ``record`` holds one tensor per name, so for ``mlp.experts.*`` it keeps only
    the last expert evaluated, whose tokens differ between arithmetics when routing does.
    """

    record: dict[str, torch.Tensor] | None

    def _tap_init(self) -> None:
        self.experts: dict[str, list[tuple[int, torch.Tensor, torch.Tensor]]] = {}
        self._expert, self._tokens = -1, torch.empty(0, dtype=torch.int64)

    def gather(self, x: Any, idx: torch.Tensor) -> Any:
        self._tokens = idx
        return super().gather(x, idx)  # type: ignore[misc]

    def linear_expert(self, name: str, x: Any, w: str, b: str, e: int, kind: str) -> Any:
        self._expert = e
        return super().linear_expert(name, x, w, b, e, kind)  # type: ignore[misc]

    def _tap(self, name: str) -> None:
        if self.record is not None and EXPERT_LAYER in name and name in self.record:
            value = self.record.pop(name)
            self.experts.setdefault(name, []).append((self._expert, self._tokens, value))


class _TapFloat(_ExpertTap, FloatArith):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tap_init()

    def _obs(self, name: str, kind: str, x: torch.Tensor) -> torch.Tensor:
        x = super()._obs(name, kind, x)
        self._tap(name)
        return x


class _TapFixed(_ExpertTap, FixedArith):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tap_init()

    def _out(self, name: str, q: Q) -> Q:
        q = super()._out(name, q)
        self._tap(name)
        return q


def tapped_forward(
    model: Any,
    images: torch.Tensor,
    task_id: int,
    preset: NumericsPreset | None,
    weights: dict[str, Q] | None = None,
) -> tuple[Any, _ExpertTap, dict[str, torch.Tensor], dict[str, str]]:
    """The golden forward of :func:`backbone_forward` with every layer recorded.

    ``preset`` None is the float64 reference (exact math; also returns each name's format
    kind), an ``approx`` preset the float hardware approximations, a fixed preset the
    integer datapath (``weights`` caches its quantised weights across calls). Returns
    (output, arithmetic, routing, kinds); a test checks the output equals backbone_forward's.
    """
    bank = _bank(model)
    eps = model.cfg.ln_eps
    kinds: dict[str, str] = {}
    A: _TapFloat | _TapFixed
    if preset is None:
        A = _TapFloat(bank, approx=False, eps=eps, observe={}, kinds=kinds)
    elif preset.kind == "approx":
        A = _TapFloat(bank, approx=True, eps=eps)
    else:
        A = _TapFixed(bank, preset, OverflowCounter(), weights)
    A.record = {}
    routing: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        out = _run(model, images, task_id, A, routing)
    return out, A, routing, kinds


class _Acc:
    """Running error statistics of one layer over several forwards."""

    def __init__(self) -> None:
        self.n, self.max_abs, self.sum_abs, self.sum_sq, self.sum_ref_sq = 0, 0.0, 0.0, 0.0, 0.0

    def add(self, got: torch.Tensor, ref: torch.Tensor) -> None:
        got, ref = _f64(got).reshape(-1), _f64(ref).reshape(-1)
        if not got.numel():
            return
        err = (got - ref).abs()
        self.n += err.numel()
        self.max_abs = max(self.max_abs, float(err.max()))
        self.sum_abs += float(err.sum())
        self.sum_sq += float(err.square().sum())
        self.sum_ref_sq += float(ref.square().sum())

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "max_abs": self.max_abs,
            "mean_abs": self.sum_abs / self.n if self.n else None,
            "rel_rms": math.sqrt(self.sum_sq / self.sum_ref_sq) if self.sum_ref_sq else None,
        }


def _same_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per row: the same expert *set* (order ignored)."""
    return (a.sort(-1).values == b.sort(-1).values).all(-1)


def _compare_layers(
    accs: dict[str, _Acc],
    got: _ExpertTap,
    ref: _ExpertTap,
    deq: Callable[[str, torch.Tensor], torch.Tensor],
    routing: dict[str, torch.Tensor],
    ref_routing: dict[str, torch.Tensor],
) -> None:
    """Add one forward's per-layer errors (``deq`` turns a recorded value into float64)."""
    assert got.record is not None and ref.record is not None
    for name, value in got.record.items():
        if name not in ref.record:
            continue
        r = ref.record[name]
        v = deq(name, value)
        if name.endswith(".mlp.gate_prob"):
            # Gates follow each arithmetic's own top-k: compare tokens routed identically.
            block = name.rsplit(".mlp.", 1)[0]
            same = (routing[block] == ref_routing[block]).all(-1)
            v, r = v[same], r[same]
        accs.setdefault(name, _Acc()).add(v, r)
    for name, entries in got.experts.items():
        ref_by_e = {e: (t, r) for e, t, r in ref.experts.get(name, [])}
        for e, tokens, value in entries:
            if e not in ref_by_e:
                continue
            rt, r = ref_by_e[e]
            # Both token lists are ascending (expert-major order): match the common tokens.
            accs.setdefault(name, _Acc()).add(
                deq(name, value)[torch.isin(tokens, rt)], r[torch.isin(rt, tokens)]
            )


def _images(cfg: Any, n: int, seed: int) -> torch.Tensor:
    h, w = cfg.img_size
    return torch.randn(n, cfg.in_chans, h, w, generator=_gen(seed))


def _block_of(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "blocks" else parts[0]


def _calibrated_bits(preset: NumericsPreset, kinds: Mapping[str, str], bank: Mapping) -> dict:
    """Integer bits chosen by calibration, per kind: min, max and number of tensors."""
    out: dict[str, dict[str, int]] = {}
    for name, fmt in preset.overrides.items():
        kind = kinds.get(name) or (bank[name][1] if name in bank else "?")
        s = out.setdefault(kind, {"min": fmt.int_bits, "max": fmt.int_bits, "tensors": 0})
        s["min"], s["max"] = min(s["min"], fmt.int_bits), max(s["max"], fmt.int_bits)
        s["tensors"] += 1
    return dict(sorted(out.items()))


def measure_model(
    model: Any,
    label: str,
    source: str,
    n_images: int,
    n_calib: int,
    presets: Iterable[str] = REPORT_PRESETS,
) -> dict[str, Any]:
    """Per-layer activation errors, overflow, output and routing agreement of one model."""
    t0 = time.perf_counter()
    cfg = model.cfg
    x = _images(cfg, n_images, IMAGE_SEED)
    calib = _images(cfg, n_calib, CALIB_SEED)
    bank = _bank(model)
    refs = {}
    kinds: dict[str, str] = {}
    for t in range(cfg.num_tasks):
        out, A, routing, k = tapped_forward(model, x, t, None)
        refs[t] = (A, routing)
        kinds.update(k)
    with torch.no_grad():
        heads = {t: model(x, t).double() for t in cfg.tasks}
    result: dict[str, Any] = {
        "model": label,
        "source": source,
        "config": {
            "img_size": list(cfg.img_size),
            "tokens": cfg.num_tokens,
            "dim": cfg.dim,
            "depth": cfg.depth,
            "heads": cfg.num_heads,
            "moe_blocks": list(cfg.moe_blocks),
            "experts": cfg.num_experts,
            "top_k": cfg.top_k,
            "tasks": list(cfg.tasks),
        },
        "images": n_images,
        "image_seed": IMAGE_SEED,
        "calibration_images": n_calib,
        "calibration_seed": CALIB_SEED,
        "presets": {},
    }
    for pname in presets:
        preset = PRESETS[pname]
        if preset.kind == "fixed" and preset.needs_calibration:
            preset = calibrate(model, calib)
            result["hw16_int_bits"] = _calibrated_bits(preset, kinds, bank)
        accs: dict[str, _Acc] = {}
        overflow: dict[str, dict[str, int]] = {}
        weights: dict[str, Q] = {}
        tasks: dict[str, Any] = {}
        routing_agree: dict[str, dict[str, float]] = {}
        for t, tname in enumerate(cfg.tasks):
            out, A, routing, _ = tapped_forward(model, x, t, preset, weights)
            ref_A, ref_routing = refs[t]
            if isinstance(A, _TapFixed):

                def deq(name: str, raw: torch.Tensor, p: NumericsPreset = preset) -> torch.Tensor:
                    return _deq(raw, p.fmt(name, kinds[name]).frac_bits)

                for name, c in A.counter.to_dict().items():
                    o = overflow.setdefault(name, {"overflow": 0, "values": 0})
                    o["overflow"] += c["overflow"]
                    o["values"] += c["values"]
            else:

                def deq(name: str, v: torch.Tensor) -> torch.Tensor:
                    return v

            _compare_layers(accs, A, ref_A, deq, routing, ref_routing)
            with torch.no_grad():
                y = model(x, tname, numerics=preset).double()
            ref_y = heads[tname]
            if tname == "semseg":
                agree = 100.0 * float((y.argmax(1) == ref_y.argmax(1)).double().mean())
                tasks[tname] = {"metric": "argmax agreement %", "value": agree}
            else:
                rel = float((y - ref_y).norm() / ref_y.norm())
                tasks[tname] = {"metric": "relative RMS error", "value": rel}
            routing_agree[tname] = {
                b: 100.0 * float(_same_rows(idx, ref_routing[b]).double().mean())
                for b, idx in routing.items()
            }
        layers = {n: {"kind": kinds.get(n, "?"), **a.to_dict()} for n, a in accs.items()}
        if preset.kind == "fixed":
            for n, d in layers.items():
                d["format"] = str(preset.fmt(n, d["kind"]))
                o = overflow.get(n)
                d["overflow"] = o["overflow"] if o else 0
        result["presets"][pname] = {
            "layers": layers,
            "blocks": _block_summary(layers),
            "overflow": _overflow_summary(overflow, bank) if preset.kind == "fixed" else None,
            "tasks": tasks,
            "routing": routing_agree,
        }
    result["runtime_s"] = time.perf_counter() - t0
    return result


def _block_summary(layers: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per block: the error of its output (last layer recorded) and its worst layer."""
    blocks: dict[str, dict[str, Any]] = {}
    for name, d in layers.items():  # recording order: the block's output comes last
        if d["rel_rms"] is None or EXPERT_LAYER in name:
            continue
        b = blocks.setdefault(_block_of(name), {"worst": name, "worst_rel_rms": d["rel_rms"]})
        b["output"], b["output_rel_rms"], b["output_max_abs"] = name, d["rel_rms"], d["max_abs"]
        if d["rel_rms"] > b["worst_rel_rms"]:
            b["worst"], b["worst_rel_rms"] = name, d["rel_rms"]
    for name, d in layers.items():  # the expert layers can be the worst (not the output)
        if EXPERT_LAYER in name and d["rel_rms"] is not None:
            b = blocks[_block_of(name)]
            if d["rel_rms"] > b["worst_rel_rms"]:
                b["worst"], b["worst_rel_rms"] = name, d["rel_rms"]
    return blocks


def _overflow_summary(overflow: Mapping[str, Mapping[str, int]], bank: Mapping) -> dict:
    """Overflowed values of weights (counted once, when quantised) and of activations
    (summed over every forward), with the tensors that overflowed."""
    out: dict[str, Any] = {}
    for what, sel in (("weights", True), ("activations", False)):
        items = {n: c for n, c in overflow.items() if (n in bank) == sel}
        out[what] = {
            "overflow": sum(c["overflow"] for c in items.values()),
            "values": sum(c["values"] for c in items.values()),
            "tensors": {
                n: c
                for n, c in sorted(items.items(), key=lambda kv: -kv[1]["overflow"])
                if c["overflow"]
            },
        }
    return out


def measure_accuracy(
    models: Sequence[str] = ("tiny", "edgemoe-t"),
    checkpoints: Sequence[str | Path] = (),
    n_images: int = 2,
    n_calib: int = 2,
    generator: str = "python -m pymodel.numerics.report",
) -> dict[str, Any]:
    """Accuracy of every report preset on random-weight models and on checkpoints
    (``generator``: the command line named in the document)."""
    from .. import build_model, load_checkpoint

    t0 = time.perf_counter()
    results = []
    for name in models:
        model = build_model(name, seed=MODEL_SEED)
        results.append(
            measure_model(model, name, f"random weights, seed {MODEL_SEED}", n_images, n_calib)
        )
    for path in checkpoints:
        model = load_checkpoint(path)
        results.append(
            measure_model(model, Path(path).name, f"checkpoint {path}", n_images, n_calib)
        )
    return {
        "generator": generator,
        "machine": machine(),
        "seeds": {"model": MODEL_SEED, "images": IMAGE_SEED, "calibration": CALIB_SEED},
        "inputs": "images drawn from N(0, 1) per pixel (torch.Generator seeded as stated)",
        "reference": "float64 forward with exact math (FloatArith) for layers; the PyTorch "
        "float32 model for head outputs and its routing from the float64 forward",
        "models": results,
        "runtime_s": time.perf_counter() - t0,
    }


# ============================================================================ rendering
def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(c if isinstance(c, str) else num(c) for c in r) + " |" for r in rows
    ]
    return "\n".join(lines)


def _measured_line(data: Mapping[str, Any]) -> str:
    m = data["machine"]
    return (
        f"Measured here by `{data['generator']}` on {m['date']}: {m['cpu']}, "
        f"{m['threads']} torch thread(s), torch {m['torch']}, Python {m['python']}; "
        f"runtime {num(data['runtime_s'])} s."
    )


def _contract(d: Mapping[str, Any]) -> str:
    """The contract in words and formulas; every parameter is read from ``d``."""
    s, t, x = d["spec"], d["tables"], d["derived"]
    cal = d["presets"]["calibration"]
    B_e, B_r, B_s = s["exp_table_bits"], s["recip_table_bits"], s["rsqrt_table_bits"]
    M, Fe, Fo, Fl = s["mant_frac"], s["exp_in_frac"], s["exp_out_frac"], s["log2e_frac"]
    N, S, R, G = s["norm_in_frac"], s["gelu_step_log2"], s["gelu_range"], s["gelu_frac"]
    Ss, Si, Q2 = s["softmax_sum_frac"], s["softmax_sum_int"], s["ln_sq_frac"]
    ue, un = x["exp_u_bits"], x["norm_u_bits"]
    defs = {
        "exp2": (f"`rnd(2^(i/2^{B_e}) · 2^{M})`, i = 0..2^{B_e}", M),
        "recip": (f"`rnd(1/(1 + i/2^{B_r}) · 2^{M})`", M),
        "rsqrt_even": (f"`rnd(1/sqrt(1 + i/2^{B_s}) · 2^{M})`", M),
        "rsqrt_odd": (f"`rnd(1/sqrt(2 (1 + i/2^{B_s})) · 2^{M})`", M),
        "gelu": (f"`rnd(d(i · 2^-{S}) · 2^{G})`, i = 0..{R}·2^{S}", G),
        "log2e": (f"`L = rnd(log2(e) · 2^{Fl})`", Fl),
    }
    tables_md = _table(
        ["table", "entries", "definition", "fraction bits", "first raw", "last raw"],
        [
            (f"`{k}`", t[k]["entries"], dk, fk, t[k]["first"], t[k]["last"])
            for k, (dk, fk) in defs.items()
        ],
    )
    formats = d["presets"]["formats"]
    formats_md = _table(
        ["kind", *(f"`{p}`" for p in formats)],
        [
            (f"`{k}`", *(f"`{formats[p][k]['format']}`" for p in formats))
            for k in (*d["presets"]["kinds"], *d["presets"]["weight_kinds"])
        ],
    )
    params_md = _table(["field", "value"], [(f"`{k}`", v) for k, v in s.items()])
    return f"""
## Conventions

* A fixed-point value is a raw integer `r` with `f` fraction bits: value `r · 2^-f`. A
  format `ap_fixed<W,I,Q,O>` has `W` bits, `I` integer bits (sign included), `F = W - I`
  fraction bits, a rounding mode `Q` and an overflow mode `O` (`ap_ufixed`: unsigned).
* **Requantisation** assigns an exact wide value to a format with the format's `Q` and
  `O` (ap_fixed assignment semantics, `qtorch.requant`); values out of range are counted
  per tensor (`OverflowCounter`).
* Inside the math units the one rounding is **half up**: `rnd(v) = floor(v + 1/2)`.
* **Pseudo-float**: the reciprocal and rsqrt return `(mant, shift)` with value
  `mant · 2^-({M} + shift)` and `mant` in `[2^{M - 1}, 2^{M}]`. Consumers multiply by
  `mant` exactly and requantise the product once with `frac + {M} + shift` fraction bits
  (per row: `_requant_var`).
* Parameters are `MathSpec` fields (`hwmath.SPEC`); tables come from `hwmath.tables()`,
  which also generates the HLS headers and RTL memory files.

## Parameters (`SPEC.to_dict()`)

{params_md}

## Tables (`tables()`)

{tables_md}

`L` represents log2(e) as {num(x["log2e_value"])} (error {num(x["log2e_error"])}).

## exp (`exp_fixed`, `approx_exp`)

Input `d <= 0` (raw, `f_d` fraction bits: in softmax the score difference `x - max`);
`d > 0` is refused. Output `e^d` as an unsigned value with {Fo} fraction bits
(`ufixed<{Fo + 1},1>`, in [0, 1]).

1. `t = rnd(d · L / 2^(f_d + {Fl} - {Fe}))`: `t = d · log2(e)` with {Fe} fraction bits
   (a left shift, exact, when `f_d + {Fl} - {Fe} <= 0`).
2. `n = floor(t / 2^{Fe})` (an arithmetic shift, `n <= 0`), `u = t - n · 2^{Fe}` in
   `[0, 2^{Fe})`: `2^t = 2^n · 2^(u / 2^{Fe})`.
3. `i` = the top {B_e} bits of `u`, `v` = its low {ue} bits;
   `y = exp2[i] · 2^{ue} + (exp2[i+1] - exp2[i]) · v` — linear interpolation, exact, with
   {x["exp_interp_frac"]} fraction bits.
4. `e^d = (y + 2^(s-1)) >> s` with `s = {x["exp_interp_frac"]} - {Fo} - n` (capped to stay
   within int64, where the result is 0): the factor `2^n` and the rounding to {Fo} bits are
   one shift, rounded half up once.
   `e^0 = 1` exactly; results are monotonic.

`approx_exp`: `t = d · L / 2^{Fl}` in float64 (the same quantised constant), `n = floor(t)`,
the table interpolated at `t - n` in float64, times `2^n`; no rounding.

## Reciprocal and rsqrt (`recip_fixed`, `rsqrt_fixed`, `approx_recip`, `approx_rsqrt`)

Input `v > 0` (raw, `f_v` fraction bits; `v <= 0` is refused).

1. **Normalise**: `p = floor(log2 v_raw)` (exact bit length), `m` = the {N} bits below the
   leading one (lower bits truncated, zeros appended when there are fewer), i.e.
   `v = (1 + m/2^{N}) · 2^E` with `E = p - f_v`.
2. **Interpolate** with `i` = the top {B_r} bits of `m` and `w` = its low {un} bits:
   `y = T[i] · 2^{un} + (T[i+1] - T[i]) · w` ({x["norm_interp_frac"]} fraction bits, exact).
3. **Round** once, half up, to {M} fraction bits: `mant = rnd(y / 2^{un})`.
4. Reciprocal: `T = recip`, `shift = E`, so `1/v = mant · 2^-({M} + E)`.
   rsqrt: `k = floor(E/2)`; `T = rsqrt_odd` (`1/sqrt(2m)`) when `E - 2k = 1`, else
   `rsqrt_even` (`1/sqrt(m)`); `shift = k`, so `1/sqrt(v) = mant · 2^-({M} + k)`.

Approx forms: the same tables interpolated in float64 at the exact mantissa (no truncation
of `m`, no rounding), times `2^-E` (`2^-k`).

## GELU (`gelu_fixed`, `approx_gelu`)

`GELU(x) = ReLU(x) - d(|x|)` with `d(t) = t · Phi(-t) = t · erfc(t/sqrt(2)) / 2`, tabulated
with step `2^-{S}` = {num(x["gelu_step"])} on `[0, {R})` ({x["gelu_table_entries"]} entries,
{G} fraction bits) and linearly interpolated; `d = 0` from `|x| >= {R}`
(`d({R})` = {num(x["gelu_tail_at_range"])}).

For `x` with `f_x >= {S}` fraction bits: `i = |x| >> (f_x - {S})`, `w` = the low `f_x - {S}`
bits; `d = gelu[i] · 2^(f_x-{S}) + (gelu[i+1] - gelu[i]) · w` (exact, `{G} + f_x - {S}`
fraction bits; for `f_x < {S}`: `i = |x| << ({S} - f_x)`, `w = 0`). Then
`ReLU(x) · 2^({G} - {S}) - d` is exact and requantised **once** to the output format.
`approx_gelu`: the same table and interpolation in float64.

## Softmax (`online_softmax_fixed`, `approx_online_softmax`)

Single pass over the scores `x_0 .. x_(n-1)` of a row **in index order** (raw, `f_x`
fraction bits), running max `m` and running sum `s` with {Ss} fraction bits
(`ufixed<{x["softmax_sum_width"]},{Si}>`: rows up to {x["softmax_max_row"]} scores; a larger
sum is refused):

* `j = 0`: `m = x_0`, `s = 1`;
* `x_j > m` (a max update): `s = rnd(s · e(m - x_j) / 2^{Fo}) + 1`, `m = x_j`;
* otherwise: `s = s + e(x_j - m)`, added exactly (the exp's {Fo} fraction bits are taken
  as the sum's {Ss}: the code assumes `exp_out_frac == softmax_sum_frac`).

`e` is `exp_fixed`. The only roundings of the sum happen at max updates (half up); equal
scores are not updates. Output: `p_j = e(x_j - m) · mant` with `(mant, shift) =
recip(s)`, requantised once to the probability format (`frac = {Fo} + {M} + shift`). The
vectorised implementation sums exactly between max updates and loops only over updates.
`approx_online_softmax`: the same recurrence in float64 with `approx_exp`, `approx_recip`.

## LayerNorm (`layernorm_fixed`, `approx_layernorm`)

One pass over the `D` values of a row (`x` raw with `f_x` fraction bits):

1. `a = max(0, f_x - {Q2})`, `f_q = f_x - a`; `xs = x >> a` (squares on `x` truncated to at
   most {Q2} fraction bits); in the same pass `S1 = sum xs`, `S2 = sum xs^2` (must fit int64,
   else refused) and `T = sum x`.
2. `V = D·S2 - S1^2 + eps_q·D^2`, exact in a wide integer (no rounding, no cancellation:
   `V = D^2 (var + eps)` at `2 f_q` fraction bits), with `eps_q = max(1, rnd(eps · 2^(2 f_q)))`
   — eps is at least one LSB of the squares (`eps` = {num(s["ln_eps"])}; at `f_q` = {Q2}:
   `eps_q` = {x["ln_eps_raw_at_sq_frac"]}, i.e. {num(x["ln_eps_value_at_sq_frac"])}).
3. `(mant, k) = rsqrt(V)` (pseudo-float); `z = (D·x - T) · mant` (= `(x - mean) /
   sqrt(var + eps)`, no rounded mean) requantised once to the `ln_norm` format
   (`frac = f_x + {M} + k`).
4. `y = z · gamma + beta` (beta aligned by a left shift; refused when beta has more
   fraction bits than `z · gamma`) requantised once to the `ln_out` format.

`approx_layernorm`: float64 `mean`, `var = max(mean(x^2) - mean^2, 0) + eps`,
`(x - mean) · approx_rsqrt(var) · gamma + beta`.

## top-k (`topk_fixed`)

On the raw gate logits: the key `logit · n + (n - 1 - index)` (exact, order-preserving) so
the `k` largest win and **ties go to the lower expert index**; ordered by decreasing value,
then increasing index. The float forward uses a stable descending sort (the same rule).

## Linear unit (`FixedArith.linear`, `patch_embed`, `attention`)

`acc = sum_k x_k · w_k` **exactly** (integer products, `f_x + f_w` fraction bits, wide
accumulator); the bias and, for the residual projections (`attn.proj`, `fc2`), the
residual are aligned by a left shift and **added into the accumulator** (refused if they
have more fraction bits than it); **one requantisation** to the output format. The patch
embedding adds bias and position embedding the same way (the cls token is `cls + pos_0`,
requantised once). Attention: the scale `1/sqrt(head_dim)` is **folded into the query
weights and bias** before quantisation (no multiplier); scores `Q K^T` exact and
requantised once to the `score` format, the online softmax to the `prob` format,
`P V` exact and requantised once to the `attn` format.

## MoE router and combine (`FixedArith.route`, `FixedArith.combine`)

Gate logits: a linear unit without bias (`gate_logit` format; the `task` router appends
the task embedding, quantised to the activation format). Top-k on the raw logits; gate
probabilities = the online softmax over all experts' logits (`gate_prob` format),
gathered at the top-k (optionally renormalised by their sum's reciprocal, one more
requantisation). Experts run expert-major (each expert on its gathered tokens, linear +
GELU + linear). **Combine**: the accumulator starts with the residual aligned to
`f_gate + f_expert_out` fraction bits; each `gate · expert output` product is exact and
**scatter-added exactly** (integer adds: the result does not depend on expert order);
**one requantisation** to the `resid` format.

## Preset formats

`edgemoe`: Edge-MoE's formats (truncation, wrap-around). `hw16`: 16-bit words, rounding
half to even, saturation; the table shows its **defaults**, which calibration replaces per
tensor. **Calibration** (`calibrate`, margin {num(cal["margin"])}): weights from their own
max |w|, activations from the largest |x| of the float64 forward over the calibration
images and all tasks; signed integer bits
`I = floor(log2(max(margin · max|x|, 2^{cal["min_abs_log2"]}))) + 1`, plus a sign bit,
unsigned probabilities `I = 0` when `max <= 1`. Examples (max|x| -> I):
{", ".join(f"{k} -> {v}" for k, v in cal["examples"].items())}.

{formats_md}
"""


def _fmt_cell(info: Any) -> str:
    return f"`{info['format']}`" if isinstance(info, Mapping) else str(info)


def _errors(d: Mapping[str, Any]) -> str:
    """The measured error tables of every function."""
    fn = d["functions"]
    hdr = "form|input|output|points|max abs|mean abs|max rel|mean rel|max (output LSB)".split("|")

    def row(form: str, c: Mapping[str, Any], inp: str, out: str) -> list[Any]:
        stats = [c[k] for k in ("n", "max_abs", "mean_abs", "max_rel", "mean_rel", "max_lsb")]
        return [form, inp, out, *stats]

    parts = [
        "## Measured errors against float64",
        "",
        _measured_line(d) + f" Sweep seed {d['seed']}; sizes from `{d['sizes_from']}`.",
        "Each fixed form is evaluated in the formats of a preset (`hw16`: its defaults "
        "before calibration); the reference is float64 math at the exact (representable) "
        "input, so the numbers are the function's own error. Approx forms run on float "
        "grids. Relative errors are given where the result cannot be near zero.",
    ]
    for name, title in (
        ("exp", "exp"),
        ("recip", "Reciprocal"),
        ("rsqrt", "rsqrt"),
        ("gelu", "GELU"),
        ("softmax", "Softmax"),
        ("layernorm", "LayerNorm"),
    ):
        f = fn[name]
        rows = [
            row(f"fixed ({c['label']})", c, _fmt_cell(c["input"]), _fmt_cell(c["output"]))
            for c in f["fixed"]
        ]
        rows.append(row("approx", f["approx"], f["approx"].get("range", "float64"), "float64"))
        parts += ["", f"### {title}", "", f"Sweep: {f['sweep']}.", "", _table(hdr, rows)]
        if name == "exp":
            parts += [
                "",
                "Worst inputs: "
                + ", ".join(f"{c['label']} d = {num(c['worst_input'])}" for c in f["fixed"])
                + "; exact at 0: "
                + ", ".join(str(c["exact_at_zero"]) for c in f["fixed"])
                + "; monotonic: "
                + ", ".join(str(c["monotonic"]) for c in f["fixed"])
                + ".",
            ]
        if name in ("recip", "rsqrt"):
            parts += [
                "",
                "Mantissa always in range: "
                + ", ".join(str(c["mant_in_range"]) for c in f["fixed"])
                + ".",
            ]
        if name == "softmax":
            parts += [
                "",
                "Max |row sum - 1|: "
                + ", ".join(f"{c['label']} {num(c['max_row_sum_err'])}" for c in f["fixed"])
                + f", approx {num(f['approx']['max_row_sum_err'])}.",
            ]
        if name == "layernorm":
            c0 = f["fixed"][0]
            parts += [
                "",
                "Gamma / beta / normalised z formats: "
                + "; ".join(
                    f"{c['label']}: {_fmt_cell(c['gamma'])} / {_fmt_cell(c['beta'])} / "
                    f"{_fmt_cell(c['norm'])}"
                    for c in f["fixed"]
                )
                + ".",
                "",
                "Max abs error by the row's |mean| / std (the one-pass variance "
                "`D·S2 - S1^2` is exact, so offset rows do not lose accuracy):",
                "",
            ]
            forms = [(c["label"], c["by_mean_over_std"]) for c in f["fixed"]]
            forms.append(("approx", f["approx"]["by_mean_over_std"]))
            bins = [(b["lo"], b["hi"]) for b in c0["by_mean_over_std"]]
            brow = []
            for lo, hi in bins:
                cells: list[Any] = [f"[{num(lo)}, {num(hi)})"]
                for _, bs in forms:
                    hit = [b for b in bs if b["lo"] == lo and b["hi"] == hi]
                    cells.append(
                        f"{num(hit[0]['max_abs'])} ({hit[0]['rows']} rows)" if hit else "—"
                    )
                brow.append(cells)
            parts.append(_table(["mean / std (abs)", *(lab for lab, _ in forms)], brow))
    tk = fn["topk"]
    parts += [
        "",
        "### top-k",
        "",
        f"Sweep: {tk['sweep']}.",
        "",
        f"Agreement {num(tk['agreement_pct'])} % over {tk['rows']} rows "
        f"({tk['tied_pairs']} tied pairs).",
    ]
    lin = fn["linear"]

    def unit(what: str, c: Mapping[str, Any], a: Any, b: Any, out: Any) -> list[Any]:
        stats = [c[k] for k in ("n", "max_abs", "mean_abs", "max_lsb")]
        return [what, c["label"], *(_fmt_cell(v) for v in (a, b, out)), *stats]

    unit_rows = []
    for c in lin["linear"]:
        res = {**c["with_residual"], "label": c["label"]}
        unit_rows.append(unit("linear + bias", c, c["input"], c["weight"], c["output"]))
        unit_rows.append(
            unit("linear + bias + residual", res, c["output"], c["weight"], res["output"])
        )
    for c in lin["combine"]:
        unit_rows.append(unit("combine", c, c["gate"], c["expert_out"], c["output"]))
    parts += [
        "",
        "### Linear unit and MoE combine",
        "",
        f"Sweep: {lin['sweep']}.",
        "",
        _table(
            "unit|preset|input / gate|weight / expert out|output|points|max abs|mean abs|"
            "max (output LSB)".split("|"),
            unit_rows,
        ),
        "",
        "The combine result is independent of expert order: "
        + ", ".join(f"{c['label']} {c['order_independent']}" for c in lin["combine"])
        + ".",
    ]
    return "\n".join(parts)


def render_numerics(data: Mapping[str, Any]) -> str:
    """docs/NUMERICS.md's section, from functions.json alone."""
    return (
        "The arithmetic contract of the hardware: every function as implemented in "
        "`pymodel/numerics/hwmath.py` and `forward.py`, with the parameters read from the "
        f"code, and its measured error. Generated from `build/numerics/{FUNCTIONS_JSON}`.\n"
        + _contract(data)
        + "\n"
        + _errors(data)
        + "\n"
    )


def _overflow_md(m: Mapping[str, Any], presets: Sequence[str]) -> list[str]:
    over = [(p, m["presets"][p]["overflow"]) for p in presets if m["presets"][p]["overflow"]]
    if not over:
        return []
    rows = []
    for p, o in over:
        w, a = o["weights"], o["activations"]
        worst = list({**w["tensors"], **a["tensors"]}.items())[:8]
        names = ", ".join(f"`{n}` ({c['overflow']})" for n, c in worst) or "none"
        rows.append(
            [p, f"{w['overflow']} / {w['values']}", f"{a['overflow']} / {a['values']}", names]
        )
    return [
        "",
        "### Overflow (values out of range of their format)",
        "",
        "Weights are counted once (when quantised), activations over every image and task.",
        "",
        _table(["preset", "weights", "activations", "tensors that overflowed (count)"], rows),
    ]


def _blocks_md(m: Mapping[str, Any], presets: Sequence[str]) -> str:
    hdr = ["block", *(f"{p} {col}" for p in presets for col in ("output", "worst layer"))]
    rows = []
    for b in m["presets"][presets[0]]["blocks"]:
        r: list[Any] = [b]
        for p in presets:
            bs = m["presets"][p]["blocks"].get(b)
            if bs is None:
                r += ["—", "—"]
                continue
            short = bs["worst"][len(b) + 1 :] or bs["worst"]
            r += [bs["output_rel_rms"], f"{num(bs['worst_rel_rms'])} ({short})"]
        rows.append(r)
    return _table(hdr, rows)


def _layers_md(model: str, preset: str, layers: Mapping[str, Mapping[str, Any]]) -> list[str]:
    fixed = any("format" in d for d in layers.values())
    hdr = ["layer", "kind", "format", "values", "max abs", "mean abs", "rel RMS", "overflow"]
    rows = [
        [f"`{n}`", d["kind"], f"`{d['format']}`" if fixed else "float64", d["n"],
         d["max_abs"], d["mean_abs"], d["rel_rms"], d["overflow"] if fixed else "—"]
        for n, d in layers.items()
    ]  # fmt: skip
    return [
        "",
        f"<details><summary>{model}: every layer in {preset}</summary>",
        "",
        _table(hdr, rows),
        "",
        "</details>",
    ]


def _model_md(m: Mapping[str, Any]) -> list[str]:
    c = m["config"]
    presets = list(m["presets"])
    first = m["presets"][presets[0]]
    task_rows = [
        [t, first["tasks"][t]["metric"], *(m["presets"][p]["tasks"][t]["value"] for p in presets)]
        for t in c["tasks"]
    ]
    routing_rows = [
        [t, b, *(m["presets"][p]["routing"][t][b] for p in presets)]
        for t in c["tasks"]
        for b in first["routing"][t]
    ]
    parts = [
        "",
        f"## `{m['model']}` ({m['source']})",
        "",
        f"Input {c['img_size'][0]}x{c['img_size'][1]}, {c['tokens']} tokens, dim {c['dim']}, "
        f"depth {c['depth']}, MoE blocks {c['moe_blocks']}, {c['experts']} experts "
        f"top-{c['top_k']}; {m['images']} images (seed {m['image_seed']}); hw16 calibrated "
        f"on {m['calibration_images']} other images (seed {m['calibration_seed']}); runtime "
        f"{num(m['runtime_s'])} s.",
        "",
        "### Task outputs",
        "",
        _table(["task", "metric", *presets], task_rows),
        "",
        "### Routing agreement (%)",
        "",
        _table(["task", "block", *presets], routing_rows),
        "",
        "### Activation error per block",
        "",
        "Per preset: the relative RMS error of the block's output (the residual stream) and "
        "its worst layer (relative RMS, name after the block prefix).",
        "",
        _blocks_md(m, presets),
        *_overflow_md(m, presets),
    ]
    if "hw16_int_bits" in m:
        bits = [[k, v["min"], v["max"], v["tensors"]] for k, v in m["hw16_int_bits"].items()]
        parts += [
            "",
            "### hw16 integer bits chosen by calibration",
            "",
            _table(["kind", "min", "max", "tensors"], bits),
        ]
    for p in presets:
        parts += _layers_md(m["model"], p, m["presets"][p]["layers"])
    return parts


def render_accuracy(data: Mapping[str, Any]) -> str:
    """docs/ACCURACY.md's section, from accuracy.json alone."""
    s = data["seeds"]
    parts = [
        "Error of each numerics preset against float, per layer, per task output and for "
        f"the routing. Generated from `build/numerics/{ACCURACY_JSON}`.",
        "",
        _measured_line(data),
        f"Seeds: model weights {s['model']}, evaluated images {s['images']}, hw16 "
        f"calibration images {s['calibration']}. Inputs: {data['inputs']}. Reference: "
        f"{data['reference']}. Relative RMS = ||got - ref|| / ||ref||. Routing agreement "
        "= % tokens with the same expert set as float.",
    ]
    for m in data["models"]:
        parts += _model_md(m)
    return "\n".join(parts) + "\n"


# ================================================================================ entry
class _Threads:
    """Run with ``n`` torch threads, restoring the previous count (small tensors: one thread
    avoids synchronisation overhead, many times faster on a shared machine)."""

    def __init__(self, n: int) -> None:
        self.n, self.prev = n, torch.get_num_threads()

    def __enter__(self) -> None:
        torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.prev)


def run_report(
    quick: bool = False,
    checkpoints: Sequence[str | Path] = (),
    out_dir: str | Path = OUT_DIR,
    docs_dir: str | Path = DOCS_DIR,
    models: Sequence[str] | None = None,
    n_images: int | None = None,
    threads: int = 1,
) -> dict[str, Path]:
    """Measure, write both JSON files, render both documents; returns the paths written."""
    out_dir, docs_dir = Path(out_dir), Path(docs_dir)
    if models is None:
        models = ("tiny",) if quick else ("tiny", "edgemoe-t")
    with _Threads(threads):
        fdata = measure_functions(quick)
        fjson = write_json(out_dir / FUNCTIONS_JSON, fdata)
        command = " ".join(
            ["python -m pymodel.numerics.report", *(["--quick"] if quick else [])]
            + [f"--checkpoint {c}" for c in checkpoints]
        )
        adata = measure_accuracy(
            models,
            checkpoints,
            n_images=n_images or (2 if quick else 4),
            n_calib=2,
            generator=command,
        )
        ajson = write_json(out_dir / ACCURACY_JSON, adata)
    # Render from the files just written: the documents hold only what the JSON holds.
    fdoc = update_section(
        docs_dir / NUMERICS_MD,
        SECTION,
        render_numerics(json.loads(fjson.read_text())),
        "Numerics contract",
    )
    adoc = update_section(
        docs_dir / ACCURACY_MD,
        SECTION,
        render_accuracy(json.loads(ajson.read_text())),
        "Accuracy of the numerics presets",
    )
    return {"functions": fjson, "accuracy": ajson, "numerics_md": fdoc, "accuracy_md": adoc}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m pymodel.numerics.report", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--quick", action="store_true", help="small sweeps, tiny model only (tests)")
    ap.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="PATH",
        help="also report a model loaded with pymodel.load_checkpoint (repeatable)",
    )
    ap.add_argument(
        "--model",
        action="append",
        metavar="PRESET",
        help="random-weight model presets to report (default: tiny and edgemoe-t)",
    )
    ap.add_argument("--images", type=int, help="evaluated images per model")
    ap.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where the JSON files go")
    ap.add_argument("--docs-dir", type=Path, default=DOCS_DIR, help="where the documents go")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    paths = run_report(
        args.quick, args.checkpoint, args.out_dir, args.docs_dir, args.model, args.images
    )
    for p in paths.values():
        print(f"wrote {_rel(p)}")
    print(f"{time.perf_counter() - t0:.1f} s")
    return 0


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(REPO))
    except ValueError:
        return str(p)


if __name__ == "__main__":
    sys.exit(main())
