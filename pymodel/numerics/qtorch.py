"""Raw fixed-point arithmetic on torch ``int64`` tensors, for the golden forward.

The same semantics as :mod:`pymodel.numerics.fixed` (checked against it, and
through it against the real ap_fixed headers), restricted to what the datapath
needs and vectorised with torch: requantisation of an exact wide value into a
:class:`FixedFormat` (all quantisation and overflow modes, overflow counted),
and exact integer matrix products.

A raw value ``r`` with ``f`` fraction bits means ``r * 2**-f``; wide
intermediate values are plain int64 tensors with their fraction-bit count
carried alongside.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .fixed import FixedFormat, Overflow, Quant

#: float64 adds integers exactly while every partial sum stays below 2**53.
EXACT_FLOAT = 1 << 53
#: Accumulators below this magnitude are requantised in float64 (:func:`requant_f64`):
#: there ``acc * 2**-sh +- 1/2`` is still exact.
F64_REQUANT = 1 << 52
_INT64_SAFE = 1 << 62


class NumericsError(ArithmeticError):
    """A fixed-point computation would lose exactness (a bound of the contract is exceeded)."""


@dataclass
class OverflowCounter:
    """Counts, per named tensor, the values that overflowed their format."""

    counts: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, overflowed: int, total: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + overflowed
        self.totals[name] = self.totals.get(name, 0) + total

    @property
    def any(self) -> bool:
        return any(self.counts.values())

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {k: {"overflow": self.counts[k], "values": self.totals[k]} for k in self.counts}


def _round_add(raw: torch.Tensor, sh: int | torch.Tensor, quant: Quant) -> torch.Tensor | int:
    """What to add before an arithmetic right shift by ``sh`` (>= 1) to get ``quant``.

    Each mode is one integer identity on floor((raw + add) / 2**sh), e.g. ties to
    even adds half - 1 plus the quotient's lowest bit.
    """
    # A tensor shift may be smaller than raw (one per row): half keeps its shape and broadcasts.
    half = (1 << (sh - 1)) if isinstance(sh, int) else torch.ones_like(sh) << (sh - 1)
    if quant is Quant.AP_TRN:
        return 0
    if quant is Quant.AP_TRN_ZERO:
        return (raw < 0).long() * (2 * half - 1)
    if quant is Quant.AP_RND:
        return half
    if quant is Quant.AP_RND_ZERO:
        return half - (raw >= 0).long()
    if quant is Quant.AP_RND_MIN_INF:
        return half - 1
    if quant is Quant.AP_RND_INF:
        return half - (raw < 0).long()
    if quant is Quant.AP_RND_CONV:
        return half - 1 + ((raw >> sh) & 1)
    raise ValueError(quant)  # pragma: no cover - Quant is exhaustive


def shift_round(raw: torch.Tensor, sh: int, quant: Quant) -> torch.Tensor:
    """``raw * 2**-sh`` rounded to an integer with ap_fixed quantisation mode ``quant``.

    ``sh <= 0`` is an exact left shift. Values satisfy |raw| < 2**62.
    """
    if sh <= 0:
        if sh < 0 and raw.numel() and int(raw.abs().max()) >= (_INT64_SAFE >> -sh):
            raise NumericsError(f"left shift by {-sh} overflows int64")
        return raw << -sh
    if sh >= 62:
        # |value| < 2**62 * 2**-sh <= 1 LSB / 2: rounding gives 0, floor gives -1 or 0.
        if quant is Quant.AP_TRN:
            return torch.where(raw < 0, -1, 0).to(raw.dtype)
        return torch.zeros_like(raw)
    return (raw + _round_add(raw, sh, quant)) >> sh


def shift_round_var(raw: torch.Tensor, sh: torch.Tensor, quant: Quant) -> torch.Tensor:
    """:func:`shift_round` with a shift per element (pseudo-float products).

    ``sh`` broadcasts to ``raw`` (typically one shift per row); when every shift is a
    right shift, the rounding terms are formed at ``sh``'s size and broadcast.
    """
    if sh.numel() and int(sh.max()) >= 62:
        raise NumericsError("variable shift beyond 61 bits")
    if sh.numel() and int(sh.min()) >= 1:
        return (raw + _round_add(raw, sh, quant)) >> sh
    sh = sh.expand_as(raw)
    right = sh.clamp(min=1)
    down = (raw + _round_add(raw, right, quant)) >> right
    up_by = (-sh).clamp(min=0)
    if up_by.numel() and int(up_by.max()) > 0:
        if int((raw.abs() >> (62 - up_by)).max()) > 0:
            raise NumericsError("variable left shift overflows int64")
        return torch.where(sh > 0, down, raw << up_by)
    return torch.where(sh > 0, down, raw)


def requant_var(
    raw: torch.Tensor,
    frac: torch.Tensor,
    fmt: FixedFormat,
    counter: OverflowCounter | None = None,
    name: str = "",
) -> torch.Tensor:
    """:func:`requant` of values whose fraction-bit count varies per element."""
    out, n_over = overflow(shift_round_var(raw, frac - fmt.frac_bits, fmt.quant), fmt)
    if counter is not None:
        counter.add(name, n_over, raw.numel())
    return out


def _in_range(q: torch.Tensor, lo: int | float, hi: int | float) -> bool:
    """Whether every value lies in [lo, hi] (one pass)."""
    if not q.numel():
        return True
    qmin, qmax = torch.aminmax(q)
    return lo <= qmin.item() and qmax.item() <= hi


def _sat_sym_min(q: torch.Tensor, fmt: FixedFormat) -> torch.Tensor:
    """AP_SAT_SYM maps an in-range min onto -max (signed, width > 1); others keep q."""
    if fmt.overflow is Overflow.AP_SAT_SYM and fmt.signed and fmt.width > 1:
        return q.clamp(min=-fmt.raw_max)
    return q


def overflow(q: torch.Tensor, fmt: FixedFormat) -> tuple[torch.Tensor, int]:
    """Apply ``fmt``'s overflow mode to integers ``q``; return (raw, count out of range)."""
    lo, hi = fmt.raw_min, fmt.raw_max
    if fmt.width >= 63:
        raise NumericsError(f"{fmt}: formats wider than 62 bits are not used by the datapath")
    if _in_range(q, lo, hi):  # the common case: one pass, nothing to do
        return _sat_sym_min(q, fmt), 0
    mode = fmt.overflow
    if mode is Overflow.AP_WRAP:
        # Keep the low W bits: two's complement reinterpretation for signed formats.
        w = ((q - lo) & ((1 << fmt.width) - 1)) + lo
        return w, int((w != q).sum())
    c = q.clamp(lo, hi)  # a value overflows exactly when clamping changes it
    over = c != q
    n_over = int(over.sum())
    if mode is Overflow.AP_SAT:
        return c, n_over
    if mode is Overflow.AP_SAT_ZERO:
        return c.masked_fill(over, 0), n_over
    if mode is Overflow.AP_SAT_SYM:
        if fmt.signed and fmt.width > 1:  # the header's 1-bit SAT_SYM behaves like SAT
            return c.clamp(min=-hi), n_over  # min itself maps to -max (not an overflow)
        return c, n_over
    raise ValueError(mode)  # pragma: no cover


def requant(
    raw: torch.Tensor,
    frac: int,
    fmt: FixedFormat,
    counter: OverflowCounter | None = None,
    name: str = "",
) -> torch.Tensor:
    """Assign the exact value ``raw * 2**-frac`` to ``fmt`` (ap_fixed assignment semantics)."""
    n = fmt.frac_bits - frac
    if n > 0:
        # Left shift: decide overflow before shifting so that int64 never overflows.
        lo, hi = -((-fmt.raw_min) >> n), fmt.raw_max >> n
        n_over = int(((raw < lo) | (raw > hi)).sum())
        if fmt.overflow is Overflow.AP_WRAP:
            kept = (raw & ((1 << (fmt.width - n)) - 1)) if n < fmt.width else raw * 0
            out, _ = overflow(kept << n, fmt)
        else:
            out, _ = overflow(raw.clamp(lo - 1, hi + 1) << n, fmt)
    else:
        out, n_over = overflow(shift_round(raw, -n, fmt.quant), fmt)
    if counter is not None:
        counter.add(name, n_over, raw.numel())
    return out


def f64_requant_ok(frac: int | torch.Tensor, fmt: FixedFormat) -> bool:
    """Whether :func:`requant_f64` applies: right shifts into a format of <= 52 bits."""
    if isinstance(frac, torch.Tensor):
        if not frac.numel():
            return False
        frac = int(frac.min())
    return frac > fmt.frac_bits and fmt.width <= 52


def pow2(e: torch.Tensor) -> torch.Tensor:
    """2.0**e for integers |e| <= 1022, exactly (the float64 bit pattern is built)."""
    return ((e.to(torch.int64) + 1023) << 52).view(torch.float64)


def requant_f64(
    acc: torch.Tensor,
    frac: int | torch.Tensor,
    fmt: FixedFormat,
    counter: OverflowCounter | None = None,
    name: str = "",
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`requant` of an integer-valued float64 accumulator, without an int64 round trip.

    ``acc`` holds exact integers with ``|acc| < 2**52`` (the caller's bound) and ``frac``
    fraction bits (an int, or a tensor broadcasting to ``acc``: one count per row);
    :func:`f64_requant_ok` must hold. ``acc * 2**-sh`` is then exact and so
    are ``+- 1/2``, floor, ceil and round-half-even, which give every quantisation mode;
    the overflow modes are a clamp or an exact modular reduction. ``acc`` is overwritten.
    Returns the raw values as int64 and as float64 (the next product's operand).
    """
    if isinstance(frac, torch.Tensor):
        y = acc.mul_(pow2(fmt.frac_bits - frac))
    else:
        y = acc.mul_(2.0 ** (fmt.frac_bits - frac))
    mode = fmt.quant
    if mode is Quant.AP_TRN:
        q = y.floor_()
    elif mode is Quant.AP_RND:
        q = y.add_(0.5).floor_()
    elif mode is Quant.AP_RND_CONV:
        q = y.round_()  # half to even
    elif mode is Quant.AP_RND_MIN_INF:
        q = y.sub_(0.5).ceil_()
    elif mode is Quant.AP_TRN_ZERO:
        q = y.trunc_()
    elif mode is Quant.AP_RND_ZERO:
        q = torch.copysign(y.abs().sub_(0.5).ceil_(), y)
    elif mode is Quant.AP_RND_INF:
        q = torch.copysign(y.abs().add_(0.5).floor_(), y)
    else:  # pragma: no cover - Quant is exhaustive
        raise ValueError(mode)
    lo, hi = fmt.raw_min, fmt.raw_max
    if _in_range(q, lo, hi):  # the common case: one pass, nothing to do
        out = _sat_sym_min(q, fmt)
        if counter is not None:
            counter.add(name, 0, acc.numel())
        return out.to(torch.int64), out
    if fmt.overflow is Overflow.AP_WRAP:
        span = float(1 << fmt.width)
        out = q - span * torch.floor((q - lo) * (1.0 / span))
    else:
        out = q.clamp(lo, hi)
    over = out != q
    n_over = int(over.sum())
    if fmt.overflow is Overflow.AP_SAT_ZERO:
        out = out.masked_fill_(over, 0.0)
    elif fmt.overflow is Overflow.AP_SAT_SYM and fmt.signed and fmt.width > 1:
        out = out.clamp_(min=-hi)  # min itself maps to -max (not an overflow)
    if counter is not None:
        counter.add(name, n_over, acc.numel())
    return out.to(torch.int64), out


def exact_matmul(
    a: torch.Tensor,
    b: torch.Tensor,
    b_colsum: int | None = None,
    b64: torch.Tensor | None = None,
) -> torch.Tensor:
    """Exact integer ``a @ b`` for int64 tensors (float64 BLAS, split when needed).

    float64 sums integers exactly while every partial sum is below 2**53; the
    bound ``max|a| * max_col(sum|b|)`` covers every partial sum in any order.
    When it is exceeded, ``a`` is split into high and low halves, each product
    computed exactly, and the halves recombined in int64. ``b_colsum`` may pass
    a precomputed ``max_col(sum|b|)`` and ``b64`` ``b`` as float64 (constant weights).
    """
    if a.numel() == 0 or b.numel() == 0:
        return torch.zeros(*a.shape[:-1], b.shape[-1], dtype=torch.int64)
    amax = int(a.abs().max())
    bsum = int(b.abs().sum(dim=-2).max()) if b_colsum is None else b_colsum
    bound = amax * bsum
    if bound >= _INT64_SAFE:
        raise NumericsError(
            f"exact product bound {bound:.3e} exceeds int64 (max|a|={amax}, max col sum|b|={bsum})"
        )
    if bound < EXACT_FLOAT:
        return torch.matmul(a.double(), b.double() if b64 is None else b64).to(torch.int64)
    # Split a = hi * 2**s + lo so that each half's bound is below 2**53.
    s = max(1, (bound // (EXACT_FLOAT // 2)).bit_length())
    hi = a >> s
    lo = a - (hi << s)
    return (exact_matmul(hi, b, bsum) << s) + exact_matmul(lo, b, bsum)
