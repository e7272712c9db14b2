"""Hardware math defined in integers: exp, reciprocal, rsqrt, GELU, softmax, LayerNorm, top-k.

This module *is* the arithmetic contract for the nonlinear units (see
docs/NUMERICS.md). Every function is a table plus integer linear
interpolation, written once here; the HLS headers and the RTL memory files are
generated from :func:`tables` so that C++, SystemVerilog and Python agree bit
for bit. Each function also has a float form (``approx_*``) that evaluates the
same table and interpolation without rounding, for the ``approx`` preset.

Conventions: a fixed-point value is a raw ``int64`` tensor ``r`` with ``f``
fraction bits (value ``r * 2**-f``). Results of the reciprocal and rsqrt are
*pseudo-floats* ``(mant, shift)``: value ``mant * 2**-(MANT_FRAC + shift)``
with ``mant`` in [2**(MANT_FRAC-1), 2**MANT_FRAC], so that consumers multiply
by the mantissa and requantise once.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cache

import torch

from .fixed import FixedFormat, Quant
from .qtorch import (
    F64_REQUANT,
    NumericsError,
    OverflowCounter,
    f64_requant_ok,
    requant,
    requant_f64,
    requant_var,
    shift_round,
)


@dataclass(frozen=True)
class MathSpec:
    """Parameters of the table-based functions (one place; exported to HLS and RTL)."""

    mant_frac: int = 17  # fraction bits of table entries and pseudo-float mantissas (in [0.5, 2])
    exp_table_bits: int = 6  # 2**6 intervals of 2**f on [0, 1)
    exp_in_frac: int = 16  # fraction bits of t = d * log2(e)
    exp_out_frac: int = 16  # exp output: ufixed<exp_out_frac + 1, 1>, values in [0, 1]
    log2e_frac: int = 17  # LOG2E constant as ufixed<log2e_frac + 1, 1>
    recip_table_bits: int = 6  # 2**6 intervals of 1/m on [1, 2]
    rsqrt_table_bits: int = 6  # 2**6 intervals of 1/sqrt(m), 1/sqrt(2m) on [1, 2]
    norm_in_frac: int = 16  # mantissa bits kept when normalising recip/rsqrt inputs
    gelu_step_log2: int = 5  # GELU table step 2**-5 = 1/32 (Edge-MoE's step)
    gelu_range: int = 8  # d(t) tabulated on [0, 8); d(t) = 0 beyond (d(8) < 1e-14)
    gelu_frac: int = 18  # fraction bits of the d(t) table entries
    softmax_sum_frac: int = 16  # running sum keeps the exp's fraction bits: adds are exact
    softmax_sum_int: int = 14  # sum < 2**14 (rows up to 16383 tokens)
    ln_sq_frac: int = 12  # LayerNorm squares on x truncated to 12 fraction bits
    ln_eps: float = 1e-6

    def __post_init__(self) -> None:
        # The running sum adds exp outputs without alignment and rescales with them.
        if self.softmax_sum_frac != self.exp_out_frac:
            raise ValueError("MathSpec: softmax_sum_frac must equal exp_out_frac")

    def to_dict(self) -> dict:
        return asdict(self)


SPEC = MathSpec()


# ----------------------------------------------------------------------------- tables
def _round(x: float, frac: int) -> int:
    """Round half up to ``frac`` fraction bits (the tables' one rounding)."""
    return math.floor(x * (1 << frac) + 0.5)


@cache
def tables(spec: MathSpec = SPEC) -> dict[str, list[int]]:
    """Every lookup table of the contract, as raw integers.

    * ``exp2``: 2**(i/2**B) for i = 0..2**B, ``mant_frac`` fraction bits (last = 2.0);
    * ``recip``: 1/(1 + i/2**B), i = 0..2**B;
    * ``rsqrt_even`` / ``rsqrt_odd``: 1/sqrt(m), 1/sqrt(2m) for m = 1 + i/2**B;
    * ``gelu``: d(t) = t * Phi(-t) at t = i * 2**-S for i = 0..range*2**S, ``gelu_frac`` bits;
    * ``log2e``: round(log2(e) * 2**log2e_frac).
    """
    f = spec.mant_frac
    n_exp, n_rec, n_rs = (
        1 << spec.exp_table_bits,
        1 << spec.recip_table_bits,
        1 << spec.rsqrt_table_bits,
    )
    step = 2.0**-spec.gelu_step_log2
    n_gelu = spec.gelu_range << spec.gelu_step_log2

    def d(t: float) -> float:
        return t * 0.5 * math.erfc(t / math.sqrt(2.0))

    return {
        "exp2": [_round(2.0 ** (i / n_exp), f) for i in range(n_exp + 1)],
        "recip": [_round(1.0 / (1.0 + i / n_rec), f) for i in range(n_rec + 1)],
        "rsqrt_even": [_round(1.0 / math.sqrt(1.0 + i / n_rs), f) for i in range(n_rs + 1)],
        "rsqrt_odd": [_round(1.0 / math.sqrt(2.0 * (1.0 + i / n_rs)), f) for i in range(n_rs + 1)],
        "gelu": [_round(d(i * step), spec.gelu_frac) for i in range(n_gelu + 1)],
        "log2e": [_round(math.log2(math.e), spec.log2e_frac)],
    }


@cache
def _t(name: str, spec: MathSpec) -> torch.Tensor:
    """A table as an int64 tensor (cached; never modified)."""
    return torch.tensor(tables(spec)[name], dtype=torch.int64)


def _gather(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` for a 1-d table (index_select: several times faster than indexing)."""
    return table.index_select(0, index.reshape(-1)).view(index.shape)


def _interp(
    table: torch.Tensor, frac_value: torch.Tensor, frac_bits: int, index_bits: int
) -> torch.Tensor:
    """T[i] * 2**u_bits + (T[i+1] - T[i]) * u with i the top ``index_bits`` of a
    ``frac_bits``-bit fraction and u the rest: the interpolant with u_bits more
    fraction bits than the table (exact, no rounding)."""
    u_bits = frac_bits - index_bits
    i = frac_value >> u_bits
    u = frac_value & ((1 << u_bits) - 1)
    a, b = _gather(table, i), _gather(table, i + 1)
    return (a << u_bits) + (b - a) * u


#: Widest fraction whose every interpolated value is tabulated (2**18 int64 = 2 MiB).
_FUSED_MAX_BITS = 18


@cache
def _interpolated(name: str, spec: MathSpec, frac_bits: int, index_bits: int) -> torch.Tensor:
    """:func:`_interp` of table ``name`` at every ``frac_bits``-bit fraction, as one table:
    the interpolation fused into a single lookup (the same integers, computed once)."""
    return _interp(_t(name, spec), torch.arange(1 << frac_bits), frac_bits, index_bits)


def _lookup(
    name: str, spec: MathSpec, frac_value: torch.Tensor, frac_bits: int, index_bits: int
) -> torch.Tensor:
    """:func:`_interp` of table ``name``: one lookup in the fused table where it is small."""
    if frac_bits <= _FUSED_MAX_BITS:
        return _gather(_interpolated(name, spec, frac_bits, index_bits), frac_value)
    return _interp(_t(name, spec), frac_value, frac_bits, index_bits)


# ------------------------------------------------------------------------------- exp
def exp_fixed(d: torch.Tensor, d_frac: int, spec: MathSpec = SPEC) -> torch.Tensor:
    """e**d for d <= 0 (raw, ``d_frac`` fraction bits) -> raw with ``exp_out_frac`` bits.

    t = d * LOG2E rounded (half up) to ``exp_in_frac`` bits; n = floor(t), f = t - n;
    2**f by the ``exp2`` table with linear interpolation; the result shifted
    right by -n and rounded half up once. e**0 is exactly 1.
    """
    if d.numel() and int(d.max()) > 0:
        raise NumericsError("exp_fixed is defined for d <= 0 (softmax arguments x - max)")
    log2e = tables(spec)["log2e"][0]
    t = shift_round(d * log2e, d_frac + spec.log2e_frac - spec.exp_in_frac, Quant.AP_RND)
    fused = _exp_of_t_table(spec)
    if fused is None:
        return _exp_of_t(t, spec)
    lo = -(fused.numel() - 1)  # t below lo gives 0, as the table's first entry
    return _gather(fused, t.clamp(min=lo) - lo).long()


def _exp_of_t(t: torch.Tensor, spec: MathSpec) -> torch.Tensor:
    """The steps of :func:`exp_fixed` after t: 2**t by table, interpolation and one shift."""
    n = t >> spec.exp_in_frac  # floor, <= 0
    f = t & ((1 << spec.exp_in_frac) - 1)  # t - n * 2**exp_in_frac
    y = _lookup("exp2", spec, f, spec.exp_in_frac, spec.exp_table_bits)
    y_frac = spec.mant_frac + spec.exp_in_frac - spec.exp_table_bits
    sh = (y_frac - spec.exp_out_frac - n).clamp(max=62)  # >= y_frac - out_frac > 0
    # (y + 2**(sh-1)) >> sh, rounding half up, without forming 2**(sh-1) per element
    return ((y >> (sh - 1)) + 1) >> 1


@cache
def _exp_of_t_table(spec: MathSpec) -> torch.Tensor | None:
    """:func:`_exp_of_t` at every t from -(out_frac + 3) * 2**exp_in_frac to 0 (int32): the
    interpolation and the rounding fused into one lookup. Below that range the result is
    0 (y < 2**(y_frac + 1) and n < -out_frac - 2 leave less than half an LSB), which the
    first entry holds. None when the table would exceed 2**21 entries."""
    lo = -((spec.exp_out_frac + 3) << spec.exp_in_frac)
    if -lo > 1 << 21:
        return None
    e = _exp_of_t(torch.arange(lo, 1), spec)
    if int(e[0]) != 0 or int(e.max()) >= 1 << 31:  # pragma: no cover - by the bound above
        return None
    return e.to(torch.int32)


def approx_exp(d: torch.Tensor, spec: MathSpec = SPEC) -> torch.Tensor:
    """Float form of :func:`exp_fixed`: the same table and interpolation, no rounding."""
    t = d.double() * (tables(spec)["log2e"][0] / 2.0**spec.log2e_frac)
    n = torch.floor(t)
    f = t - n
    return _approx_interp(_t("exp2", spec), f, spec.exp_table_bits, spec.mant_frac) * torch.exp2(n)


def _approx_interp(
    table: torch.Tensor, f: torch.Tensor, index_bits: int, frac: int
) -> torch.Tensor:
    """Linear interpolation of a table over [0, 1] in float64 (f in [0, 1])."""
    x = f * (1 << index_bits)
    i = torch.floor(x).clamp(max=(1 << index_bits) - 1).long()
    u = x - i
    tab = table.double() / 2.0**frac
    return tab[i] + (tab[i + 1] - tab[i]) * u


# ------------------------------------------------------------------ recip and rsqrt
def _normalise(v: torch.Tensor, v_frac: int, spec: MathSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """v > 0 -> (m, L): m the ``norm_in_frac`` fraction bits of v / 2**L in [1, 2)
    (lower bits truncated), L = floor(log2 v)."""
    if v.numel() and int(v.min()) <= 0:
        raise NumericsError("reciprocal and rsqrt need a positive input")
    bitlen = torch.floor(torch.log2(v.double())).long() + 1
    # float64 log2 can be off by one near powers of two: fix it exactly.
    bitlen = bitlen + ((v >> bitlen.clamp(max=62)) > 0).long()
    bitlen = bitlen - ((v >> (bitlen - 1).clamp(min=0)) == 0).long()
    lead = bitlen - 1
    sh = lead - spec.norm_in_frac
    m = torch.where(sh >= 0, v >> sh.clamp(min=0), v << (-sh).clamp(min=0))
    m = m - (1 << spec.norm_in_frac)  # drop the leading one: fraction of the mantissa
    return m, lead - v_frac


def recip_fixed(
    s: torch.Tensor, s_frac: int, spec: MathSpec = SPEC
) -> tuple[torch.Tensor, torch.Tensor]:
    """1/s for s > 0 -> pseudo-float (mant, shift): value mant * 2**-(mant_frac + shift).

    s = m * 2**L with m in [1, 2); 1/m by the ``recip`` table with linear
    interpolation, rounded half up once to ``mant_frac`` bits; shift = L.
    """
    m, lead = _normalise(s, s_frac, spec)
    y = _lookup("recip", spec, m, spec.norm_in_frac, spec.recip_table_bits)
    mant = shift_round(y, spec.norm_in_frac - spec.recip_table_bits, Quant.AP_RND)
    return mant, lead


def rsqrt_fixed(
    v: torch.Tensor, v_frac: int, spec: MathSpec = SPEC
) -> tuple[torch.Tensor, torch.Tensor]:
    """1/sqrt(v) for v > 0 -> pseudo-float (mant, shift).

    v = m * 2**L, m in [1, 2); L = 2k (+1): 1/sqrt(m) (``rsqrt_even``) or
    1/sqrt(2m) (``rsqrt_odd``) interpolated, rounded half up once; shift = k.
    """
    m, lead = _normalise(v, v_frac, spec)
    return _rsqrt_normalised(m, lead, spec)


def _rsqrt_normalised(
    m: torch.Tensor, lead: torch.Tensor, spec: MathSpec
) -> tuple[torch.Tensor, torch.Tensor]:
    """rsqrt of (1 + m / 2**norm_in_frac) * 2**lead as a pseudo-float."""
    k = torch.div(lead, 2, rounding_mode="floor")
    odd = (lead - 2 * k) == 1
    ye = _lookup("rsqrt_even", spec, m, spec.norm_in_frac, spec.rsqrt_table_bits)
    yo = _lookup("rsqrt_odd", spec, m, spec.norm_in_frac, spec.rsqrt_table_bits)
    mant = shift_round(
        torch.where(odd, yo, ye), spec.norm_in_frac - spec.rsqrt_table_bits, Quant.AP_RND
    )
    return mant, k


def _normalise_ints(values: list[int], spec: MathSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_normalise` for exact Python integers of any size (LayerNorm statistics)."""
    f = spec.norm_in_frac
    ms, leads = [], []
    for v in values:
        if v <= 0:
            raise NumericsError("rsqrt needs a positive input")
        lead = v.bit_length() - 1
        top = v >> (lead - f) if lead >= f else v << (f - lead)
        ms.append(top - (1 << f))
        leads.append(lead)
    return torch.tensor(ms, dtype=torch.int64), torch.tensor(leads, dtype=torch.int64)


def pseudo_to_float(mant: torch.Tensor, shift: torch.Tensor, spec: MathSpec = SPEC) -> torch.Tensor:
    return mant.double() * torch.exp2(-(shift + spec.mant_frac).double())


def approx_recip(s: torch.Tensor, spec: MathSpec = SPEC) -> torch.Tensor:
    """Float form of :func:`recip_fixed`."""
    s = s.double()
    lead = torch.floor(torch.log2(s))
    m = s / torch.exp2(lead) - 1.0
    return _approx_interp(_t("recip", spec), m, spec.recip_table_bits, spec.mant_frac) * torch.exp2(
        -lead
    )


def approx_rsqrt(v: torch.Tensor, spec: MathSpec = SPEC) -> torch.Tensor:
    """Float form of :func:`rsqrt_fixed`."""
    v = v.double()
    lead = torch.floor(torch.log2(v))
    k = torch.floor(lead / 2)
    m = v / torch.exp2(lead) - 1.0
    even = _approx_interp(_t("rsqrt_even", spec), m, spec.rsqrt_table_bits, spec.mant_frac)
    odd = _approx_interp(_t("rsqrt_odd", spec), m, spec.rsqrt_table_bits, spec.mant_frac)
    return torch.where(lead - 2 * k == 1, odd, even) * torch.exp2(-k)


# ------------------------------------------------------------------------------ GELU
def gelu_fixed(
    x: torch.Tensor,
    x_frac: int,
    out: FixedFormat,
    spec: MathSpec = SPEC,
    counter: OverflowCounter | None = None,
    name: str = "gelu",
) -> torch.Tensor:
    """GELU(x) = ReLU(x) - d(|x|), d(t) = t * Phi(-t) tabulated with step 2**-S on
    [0, range) and linearly interpolated (d = 0 beyond), requantised once to ``out``."""
    u_bits = max(0, x_frac - spec.gelu_step_log2)
    dv = _gelu_d(spec, x_frac)(x.abs())
    frac = spec.gelu_frac + u_bits
    wide = (x.clamp(min=0) << (frac - x_frac)) - dv  # frac > x_frac by construction
    return requant(wide, frac, out, counter, name)


@cache
def _gelu_d(spec: MathSpec, x_frac: int):
    """|x| (raw, ``x_frac`` fraction bits) -> d(|x|) of :func:`gelu_fixed`, exact, with
    ``gelu_frac + max(0, x_frac - gelu_step_log2)`` fraction bits; 0 from ``gelu_range``.

    Tables extended by a zero entry so that clamping the index gives d = 0 beyond the
    range: with few input fraction bits, every value of d is tabulated (one lookup);
    otherwise the interpolation T[i] 2**u_bits + (T[i+1] - T[i]) u with both terms
    tabulated per interval.
    """
    s, table = spec.gelu_step_log2, _t("gelu", spec)
    n = spec.gelu_range << s  # intervals; table has n + 1 entries
    zero = torch.zeros(1, dtype=torch.int64)
    if x_frac < s:  # no interpolation: i = |x| << (s - x_frac) indexes the table directly
        direct = torch.cat([table[:n], zero])
        return lambda ax: _gather(direct, (ax << (s - x_frac)).clamp(max=n))
    u_bits = x_frac - s
    base = torch.cat([table[:n] << u_bits, zero])
    slope = torch.cat([table[1:] - table[:-1], zero])
    if x_frac + (spec.gelu_range - 1).bit_length() <= _FUSED_MAX_BITS:
        v = torch.arange(n << u_bits)
        full = torch.cat([base[v >> u_bits] + slope[v >> u_bits] * (v & ((1 << u_bits) - 1)), zero])
        return lambda ax: _gather(full, ax.clamp(max=n << u_bits))

    def interpolate(ax: torch.Tensor) -> torch.Tensor:
        i = (ax >> u_bits).clamp(max=n)
        return _gather(base, i) + _gather(slope, i) * (ax & ((1 << u_bits) - 1))

    return interpolate


def approx_gelu(x: torch.Tensor, spec: MathSpec = SPEC) -> torch.Tensor:
    """Float form of :func:`gelu_fixed`."""
    x = x.double()
    ax = x.abs()
    pos = ax * (1 << spec.gelu_step_log2)
    n = spec.gelu_range << spec.gelu_step_log2
    i = torch.floor(pos).clamp(max=n - 1).long()
    u = pos - i
    tab = _t("gelu", spec).double() / 2.0**spec.gelu_frac
    d = torch.where(pos < n, tab[i] + (tab[i + 1] - tab[i]) * u, torch.zeros_like(x))
    return x.clamp(min=0) - d


# --------------------------------------------------------------------------- softmax
def online_softmax_fixed(
    x: torch.Tensor,
    x_frac: int,
    out: FixedFormat,
    spec: MathSpec = SPEC,
    counter: OverflowCounter | None = None,
    name: str = "softmax",
) -> torch.Tensor:
    """Single-pass softmax over the last dim, scores arriving in index order.

    Running max m and sum s (``softmax_sum_frac`` fraction bits, exact adds):
    j = 0: m = x0, s = 1; then x > m: s = round(s * e(m - x)) + 1, m = x;
    else s += e(x - m). Outputs e(x - m) * (1/s), requantised once to ``out``.
    e is :func:`exp_fixed`, 1/s :func:`recip_fixed`; the only roundings in the
    sum happen at max updates (half up).

    Vectorised over rows by processing *segments* between max updates: within
    a segment the sum is a plain exact sum, so only the (few) updates loop.
    """
    m_final, s = _online_sum(x, x_frac, spec, exact=True)
    e = exp_fixed(x - m_final, x_frac, spec)
    mant, shift = recip_fixed(s, spec.softmax_sum_frac, spec)
    prod = e * mant  # exact: < 2**17 * 2**18
    frac = spec.exp_out_frac + spec.mant_frac + shift
    return _requant_var(prod, frac, out, counter, name)


def _requant_var(
    prod: torch.Tensor,
    frac: torch.Tensor,
    out: FixedFormat,
    counter: OverflowCounter | None,
    name: str,
) -> torch.Tensor:
    """Requantise values whose fraction-bit count varies per row (pseudo-float products)."""
    return requant_var(prod, frac, out, counter, name)


def _online_sum(
    x: torch.Tensor, x_frac: int, spec: MathSpec, exact: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Final running max (keepdim) and running sum of the online softmax recurrence."""
    if exact:
        return _online_sum_exact(x, x_frac, spec)
    m = torch.cummax(x, dim=-1).values
    prev = torch.cat([m[..., :1], m[..., :-1]], dim=-1)
    event = x > prev
    event[..., 0] = True
    # Non-event terms e(x - m) are added to the current segment's sum.
    term = approx_exp(torch.where(event, torch.zeros_like(x), x - m), spec)
    term = torch.where(event, torch.zeros_like(term), term)
    seg = torch.cumsum(event.long(), dim=-1) - 1  # segment index per element
    n_seg = int(seg[..., -1].max()) + 1
    flat_rows = x.reshape(-1, x.shape[-1]).shape[0]
    seg2 = seg.reshape(flat_rows, -1)
    seg_sum = torch.zeros(flat_rows, n_seg, dtype=term.dtype).scatter_add_(
        1, seg2, term.reshape(flat_rows, -1)
    )
    seg_max = torch.zeros(flat_rows, n_seg, dtype=x.dtype).scatter_reduce_(
        1, seg2, m.reshape(flat_rows, -1), reduce="amax", include_self=False
    )
    n_events = seg2[:, -1] + 1
    s = 1.0 + seg_sum[:, 0]
    for k in range(1, n_seg):
        live = k < n_events
        d = torch.where(live, seg_max[:, k - 1] - seg_max[:, k], torch.zeros_like(n_events))
        s = torch.where(live, s * approx_exp(d, spec) + 1.0 + seg_sum[:, k], s)
    return m[..., -1:], s.reshape(*x.shape[:-1], 1)


def _online_sum_exact(
    x: torch.Tensor, x_frac: int, spec: MathSpec
) -> tuple[torch.Tensor, torch.Tensor]:
    """The recurrence in integers, vectorised over rows by *segments* between max updates.

    m = running max; a segment starts at each update (x_j > m_(j-1)) and at j = 0. Within
    segment k every term e(x_j - m_j) is added exactly, the update's own term being
    e(0) = 1 (the "+ 1" of the recurrence), so the segment contributes its plain sum S_k.
    Between segments s = round(s * f_k) + S_k with f_k = e(M_(k-1) - M_k); only this
    loops, over the largest number of updates in any row.
    """
    rows, n = x.reshape(-1, x.shape[-1]).shape
    m = torch.cummax(x, dim=-1).values.reshape(rows, n)
    term = exp_fixed(x.reshape(rows, n) - m, x_frac, spec)
    seg = torch.zeros(rows, n, dtype=torch.int64)
    seg[:, 1:] = m[:, 1:] > m[:, :-1]  # updates after the first score
    seg = torch.cumsum(seg, dim=-1)  # segment index per element
    n_seg = int(seg[:, -1].max()) + 1 if rows else 1
    seg_sum = torch.zeros(rows, n_seg, dtype=torch.int64).scatter_add_(1, seg, term)
    # Segment maxima (m is constant within a segment); rows with fewer segments repeat
    # their final max, so f_k = e(0) = 1 and S_k = 0 there: s is left unchanged.
    seg_max = m[:, -1:].repeat(1, n_seg).scatter_(1, seg, m)  # repeat: a fresh copy
    s = seg_sum[:, 0]
    if n_seg > 1:
        fk = exp_fixed(seg_max[:, :-1] - seg_max[:, 1:], x_frac, spec)
        half, sh = 1 << (spec.exp_out_frac - 1), spec.exp_out_frac
        for k in range(n_seg - 1):
            s = ((s * fk[:, k] + half) >> sh) + seg_sum[:, k + 1]
    if s.numel() and int(s.max()) >= (1 << (spec.softmax_sum_int + spec.softmax_sum_frac)):
        raise NumericsError("softmax running sum exceeds its format (row too long)")
    return m[:, -1:].reshape(*x.shape[:-1], 1), s.reshape(*x.shape[:-1], 1)


def approx_online_softmax(x: torch.Tensor, spec: MathSpec = SPEC) -> torch.Tensor:
    """Float form of :func:`online_softmax_fixed` (same recurrence, approximate exp/recip)."""
    x = x.double()
    m_final, s = _online_sum(x, 0, spec, exact=False)
    return approx_exp(x - m_final, spec) * approx_recip(s, spec)


# ------------------------------------------------------------------------- LayerNorm
def ln_square_frac(x_frac: int, spec: MathSpec = SPEC) -> int:
    """Fraction bits ``f_q`` of the LayerNorm squares' operand: ``x`` with ``x_frac``
    fraction bits is truncated to at most ``ln_sq_frac`` of them before squaring."""
    return min(x_frac, spec.ln_sq_frac)


def ln_eps_sq(sq_frac: int, spec: MathSpec = SPEC) -> int:
    """LayerNorm epsilon in raw units of a variance with ``2 * sq_frac`` fraction bits:
    ``max(1, rnd(eps * 2**(2 sq_frac)))``, at least one LSB of the squares.

    The one definition of the formula: :func:`layernorm_fixed`, the export's
    descriptor words (through :func:`ln_eps_raw`), the RTL package's ``ln_eps_raw``
    table (``rtl_export``) and the generated docs all take it from here.
    """
    return max(1, math.floor(spec.ln_eps * 2.0 ** (2 * sq_frac) + 0.5))


def ln_eps_raw(x_frac: int, spec: MathSpec = SPEC) -> int:
    """LayerNorm epsilon in raw units of the variance of an input with ``x_frac``
    fraction bits, as :func:`layernorm_fixed` adds it (the descriptor's eps words)."""
    return ln_eps_sq(ln_square_frac(x_frac, spec), spec)


def layernorm_fixed(
    x: torch.Tensor,
    x_frac: int,
    gamma: torch.Tensor,
    g_frac: int,
    beta: torch.Tensor,
    b_frac: int,
    norm_fmt: FixedFormat,
    out: FixedFormat,
    spec: MathSpec = SPEC,
    counter: OverflowCounter | None = None,
    name: str = "ln",
) -> torch.Tensor:
    """One-pass LayerNorm over the last dim (D values), variance exact.

    xs = x truncated to ``ln_sq_frac`` fraction bits (if it has more);
    S1 = sum xs, S2 = sum xs**2, T = sum x, all in one pass;
    V = D*S2 - S1**2 + E*D**2 exactly (= D**2 (var + eps); E = eps rounded to
    the squares' LSB, at least 1; wide integer, no rounding);
    (mant, k) = rsqrt(V); z = (D*x - T) * rsqrt(V) requantised once to
    ``norm_fmt`` (z = (x - mean) / sqrt(var + eps) with no rounded mean);
    y = z * gamma + beta requantised once to ``out``.
    """
    d = x.shape[-1]
    fq = ln_square_frac(x_frac, spec)
    a = x_frac - fq
    xs = x >> a
    s1 = xs.sum(dim=-1)
    s2 = (xs * xs).sum(dim=-1)
    if s2.numel() and int(s2.max()) >= (1 << 62):
        raise NumericsError(f"{name}: LayerNorm sum of squares exceeds 62 bits")
    eps = ln_eps_sq(fq, spec)
    s2_max = int(s2.max()) if s2.numel() else 0
    if d * s2_max + eps * d * d < (1 << 62):  # V fits int64 (0 < V <= D*S2 + eps*D**2)
        m, lead = _normalise(d * s2 - s1 * s1 + eps * d * d, 0, spec)
    else:  # D*S2 - S1**2 can exceed 64 bits for wide formats: exact Python integers per row
        v = [
            d * q - p * p + eps * d * d
            for p, q in zip(s1.reshape(-1).tolist(), s2.reshape(-1).tolist())
        ]
        m, lead = _normalise_ints(v, spec)
    mant, k = _rsqrt_normalised(m.reshape(-1), lead.reshape(-1) - 2 * fq, spec)
    mant, k = mant.reshape(*x.shape[:-1], 1), k.reshape(*x.shape[:-1], 1)
    centred = d * x - x.sum(dim=-1, keepdim=True)  # D * (x - mean), exact
    c_max = int(centred.abs().max()) if centred.numel() else 0
    if c_max >= (1 << (62 - spec.mant_frac - 1)):
        raise NumericsError(f"{name}: LayerNorm input too wide for the exact product")
    fz = norm_fmt.frac_bits
    if b_frac > fz + g_frac:
        raise NumericsError(f"{name}: beta has more fraction bits than z * gamma")
    z_frac = x_frac + spec.mant_frac + k
    b_sh = fz + g_frac - b_frac
    # float64 when every product and sum is an integer below 2**52 (mant <= 2**mant_frac)
    if (c_max << spec.mant_frac) < F64_REQUANT and f64_requant_ok(z_frac, norm_fmt):
        z, z64 = requant_f64(
            centred.double() * mant.double(), z_frac, norm_fmt, counter, name + ".z"
        )
        g_max = int(gamma.abs().max()) if gamma.numel() else 0
        b_max = int(beta.abs().max()) if beta.numel() else 0
        z_max = max(-norm_fmt.raw_min, norm_fmt.raw_max)
        if z_max * g_max + (b_max << b_sh) < F64_REQUANT and f64_requant_ok(fz + g_frac, out):
            wide = torch.addcmul((beta << b_sh).double(), z64, gamma.double())
            return requant_f64(wide, fz + g_frac, out, counter, name)[0]
    else:
        z = requant_var(centred * mant, z_frac, norm_fmt, counter, name + ".z")
    wide = z * gamma + (beta << b_sh)
    return requant(wide, fz + g_frac, out, counter, name)


def approx_layernorm(
    x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, spec: MathSpec = SPEC
) -> torch.Tensor:
    """Float form of :func:`layernorm_fixed` (one-pass statistics, approximate rsqrt)."""
    x = x.double()
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x * x).mean(dim=-1, keepdim=True) - mean * mean).clamp(min=0) + spec.ln_eps
    return (x - mean) * approx_rsqrt(var, spec) * gamma.double() + beta.double()


# ---------------------------------------------------------------------------- top-k
def topk_fixed(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k largest raw logits per row, ties toward the lower index,
    ordered by decreasing value (then increasing index)."""
    n = logits.shape[-1]
    # Exact, order-preserving key: value first, then the inverted index.
    key = logits * n + (n - 1 - torch.arange(n))
    return torch.topk(key, k, dim=-1).indices
