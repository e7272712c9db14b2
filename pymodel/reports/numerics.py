"""docs/NUMERICS.md: the arithmetic contract in words and formulas, and its measured errors.

``python -m pymodel.reports.numerics [--quick]`` measures every hardware function
(:func:`pymodel.reports.sweeps.measure_functions`) into ``build/numerics/functions.json``
and renders the document's generated section from that JSON alone, so every number
in it can be traced to the result file.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..results import update_section, write_json
from .common import DOCS_DIR, OUT_DIR, SECTION, Threads, measured_line, num, parser, rel, table
from .sweeps import COMMAND, measure_functions

FUNCTIONS_JSON, NUMERICS_MD = "functions.json", "NUMERICS.md"


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
    tables_md = table(
        ["table", "entries", "definition", "fraction bits", "first raw", "last raw"],
        [
            (f"`{k}`", t[k]["entries"], dk, fk, t[k]["first"], t[k]["last"])
            for k, (dk, fk) in defs.items()
        ],
    )
    formats = d["presets"]["formats"]
    formats_md = table(
        ["kind", *(f"`{p}`" for p in formats)],
        [
            (f"`{k}`", *(f"`{formats[p][k]['format']}`" for p in formats))
            for k in (*d["presets"]["kinds"], *d["presets"]["weight_kinds"])
        ],
    )
    params_md = table(["field", "value"], [(f"`{k}`", v) for k, v in s.items()])
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
        measured_line(d) + f" Sweep seed {d['seed']}; sizes from `{d['sizes_from']}`.",
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
        parts += ["", f"### {title}", "", f"Sweep: {f['sweep']}.", "", table(hdr, rows)]
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
            parts.append(table(["mean / std (abs)", *(lab for lab, _ in forms)], brow))
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
        table(
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


def run(
    quick: bool = False,
    out_dir: str | Path = OUT_DIR,
    docs_dir: str | Path = DOCS_DIR,
    threads: int = 1,
) -> dict[str, Path]:
    """Measure, write ``functions.json``, render docs/NUMERICS.md; returns the paths written."""
    out_dir, docs_dir = Path(out_dir), Path(docs_dir)
    with Threads(threads):
        fjson = write_json(out_dir / FUNCTIONS_JSON, measure_functions(quick))
    # Render from the file just written: the document holds only what the JSON holds.
    fdoc = update_section(
        docs_dir / NUMERICS_MD,
        SECTION,
        render_numerics(json.loads(fjson.read_text())),
        "Numerics contract",
    )
    return {"functions": fjson, "numerics_md": fdoc}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser(COMMAND, __doc__.split("\n")[0]).parse_args(argv)
    t0 = time.perf_counter()
    for p in run(args.quick, args.out_dir, args.docs_dir).values():
        print(f"wrote {rel(p)}")
    print(f"{time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
