"""Bit-exact emulation of Vitis HLS ``ap_fixed`` / ``ap_ufixed`` / ``ap_int`` / ``ap_uint``.

Values are carried as *raw* integers: the two's-complement (or unsigned) word that
the C++ type stores, i.e. ``value = raw * 2**-frac_bits``. Formats of up to 64 bits
keep raw arrays as numpy ``int64``; the one such format whose range does not fit
``int64`` -- an unsigned 64-bit word -- stores its bit pattern: raws >= 2**63
appear as negative ``int64`` (``raw.view(np.uint64)`` gives the value). Wider
formats (any width the headers accept, up to :data:`MAX_WIDTH`; widths above 1024
need ``-DAP_INT_MAX_W`` in C++) keep ``object`` arrays of Python ints holding the
true values. Every function takes the format alongside the raw array, so it can
interpret it. Raw inputs may be any integer array (validated against the format's
range; out of range is a ``ValueError``) or an object array of Python ints.

The semantics follow ``ap_fixed_base.h`` (Apache-2.0 ap_types shipped with
hls4ml) and are checked bit for bit against it by ``tests/test_fixed.py``:

* assignment (``dst = src``, :meth:`FixedFormat.convert`): drop fraction bits and
  round with the *destination's* quantisation mode, then handle overflow with the
  destination's overflow mode; both modes of the source are irrelevant.
* ``ap_fixed = double`` (:meth:`FixedFormat.from_float`): the double is treated as
  an exact 54-bit signed mantissa times a power of two and then assigned as above.
* ``* + - /`` produce the full-precision ``RType`` formats of the header, with
  ``AP_TRN``/``AP_WRAP`` modes (:func:`mul_format` etc.).
* ``<<`` / ``>>`` keep the operand's format; bits shifted out are lost.

Implementation: one integer algorithm written with numpy operators that work on
both ``int64`` arrays (fast path, used when every intermediate provably fits in
63 bits) and ``object`` arrays of Python ints (exact path for wider words).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "HEADER_DEFAULT_MAX_WIDTH",
    "INT64_WIDTH",
    "MAX_WIDTH",
    "OVERFLOW_CODES",
    "QUANT_CODES",
    "FixedFormat",
    "Overflow",
    "Quant",
    "add",
    "add_format",
    "div",
    "div_format",
    "lshift",
    "mul",
    "mul_format",
    "rshift",
    "sub",
    "sub_format",
]

#: Widest word the ap_types headers accept at all (``BIT_WIDTH_UPPER_LIMIT`` of
#: ap_common.h, reached with ``-DAP_INT_MAX_W=32768``; the headers' default is 1024).
MAX_WIDTH = 1 << 15
#: Default ``AP_INT_MAX_W`` of the headers: wider types need the macro in C++.
HEADER_DEFAULT_MAX_WIDTH = 1024
#: Widest word kept in int64 raw arrays; wider formats use object arrays of Python ints.
INT64_WIDTH = 64
# Sanity bound on int_bits so that shift amounts stay far inside int64.
_MAX_ABS_INT_BITS = 1 << 16
# int64 fast path: every intermediate magnitude must stay below 2**62.
_FAST_BITS = 62

RawArray = npt.NDArray[np.int64]


class Quant(str, Enum):
    """Quantisation (rounding) mode; values are the C++ spellings."""

    AP_RND = "AP_RND"  # round half towards +inf
    AP_RND_ZERO = "AP_RND_ZERO"  # round half towards zero
    AP_RND_MIN_INF = "AP_RND_MIN_INF"  # round half towards -inf
    AP_RND_INF = "AP_RND_INF"  # round half away from zero
    AP_RND_CONV = "AP_RND_CONV"  # round half to even
    AP_TRN = "AP_TRN"  # floor (default)
    AP_TRN_ZERO = "AP_TRN_ZERO"  # truncate towards zero

    def __str__(self) -> str:
        return self.value


class Overflow(str, Enum):
    """Overflow mode; values are the C++ spellings (``AP_WRAP_SM`` is not supported)."""

    AP_SAT = "AP_SAT"  # clamp to [min, max]
    AP_SAT_ZERO = "AP_SAT_ZERO"  # out of range -> 0
    AP_SAT_SYM = "AP_SAT_SYM"  # signed: clamp to [-max, max]
    AP_WRAP = "AP_WRAP"  # keep the low W bits (default)

    def __str__(self) -> str:
        return self.value


#: Hardware encoding of the quantisation modes: the one owner of these numbers.
#: The generated C++ header (``Q_*``) and SystemVerilog package (``hwmath_pkg::Q_*``),
#: the descriptor words and the RTL parameters are all written from this table.
QUANT_CODES: dict[Quant, int] = {
    Quant.AP_TRN: 0,
    Quant.AP_TRN_ZERO: 1,
    Quant.AP_RND: 2,
    Quant.AP_RND_ZERO: 3,
    Quant.AP_RND_MIN_INF: 4,
    Quant.AP_RND_INF: 5,
    Quant.AP_RND_CONV: 6,
}
#: Hardware encoding of the overflow modes (``O_*``), generated for C++ and SystemVerilog.
OVERFLOW_CODES: dict[Overflow, int] = {
    Overflow.AP_WRAP: 0,
    Overflow.AP_SAT: 1,
    Overflow.AP_SAT_ZERO: 2,
    Overflow.AP_SAT_SYM: 3,
}


# Test hook: force the exact (Python int) path even where int64 would do.
_FORCE_EXACT = False


@contextmanager
def _exact_arithmetic() -> Iterator[None]:
    """Run the body with the int64 fast path disabled (used by the tests)."""
    global _FORCE_EXACT
    old, _FORCE_EXACT = _FORCE_EXACT, True
    try:
        yield
    finally:
        _FORCE_EXACT = old


def _enum(cls: type[Enum], value: Any, field: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown {field} mode {value!r}; expected one of {allowed}") from None


_TYPE_RE = re.compile(r"^\s*(ap_fixed|ap_ufixed|ap_int|ap_uint)\s*<(.*)>\s*$", re.DOTALL)
_INT_RE = re.compile(r"^[+-]?\d+$")


def _parse_int(text: str, field: str, spelling: str) -> int:
    if not _INT_RE.match(text):
        raise ValueError(f"{field} must be an integer, got {text!r} in {spelling!r}")
    return int(text)


@dataclass(frozen=True)
class FixedFormat:
    """A fixed-point format ``ap_[u]fixed<width, int_bits, quant, overflow>``.

    ``width`` (1..:data:`MAX_WIDTH`) is the word length, ``int_bits`` the number of bits left of
    the binary point (may be negative or exceed ``width``), ``signed`` selects
    ``ap_fixed`` over ``ap_ufixed``. ``ap_int<N>`` is ``FixedFormat(N, N, True)``.
    ``quant``/``overflow`` accept the enums or their C++ spellings.
    """

    width: int
    int_bits: int
    signed: bool = True
    quant: Quant = Quant.AP_TRN
    overflow: Overflow = Overflow.AP_WRAP

    def __post_init__(self) -> None:
        w, i = self.width, self.int_bits
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)):
            raise ValueError(f"width must be an int, got {w!r}")
        if not 1 <= w <= MAX_WIDTH:
            raise ValueError(
                f"width must be in 1..{MAX_WIDTH} (the ap_types headers refuse wider types; "
                f"above {HEADER_DEFAULT_MAX_WIDTH} they need -DAP_INT_MAX_W), got {w}"
            )
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise ValueError(f"int_bits must be an int, got {i!r}")
        if abs(i) > _MAX_ABS_INT_BITS:
            raise ValueError(f"int_bits must be within +-{_MAX_ABS_INT_BITS}, got {i}")
        if not isinstance(self.signed, (bool, np.bool_)):
            raise ValueError(f"signed must be a bool, got {self.signed!r}")
        # Normalise (frozen dataclass, hence object.__setattr__) so that equal
        # formats compare and hash equal regardless of how they were spelled.
        object.__setattr__(self, "width", int(w))
        object.__setattr__(self, "int_bits", int(i))
        object.__setattr__(self, "signed", bool(self.signed))
        object.__setattr__(self, "quant", _enum(Quant, self.quant, "quant"))
        object.__setattr__(self, "overflow", _enum(Overflow, self.overflow, "overflow"))

    # ------------------------------------------------------------------ spelling
    @classmethod
    def parse(cls, spelling: str) -> FixedFormat:
        """Parse a C++ type such as ``"ap_fixed<16,6,AP_RND_CONV,AP_SAT>"`` or ``"ap_uint<8>"``.

        A fifth template argument (saturation bits N) is accepted only if it is 0.
        """
        if not isinstance(spelling, str):
            raise ValueError(f"format spelling must be a str, got {spelling!r}")
        m = _TYPE_RE.match(spelling)
        if m is None:
            raise ValueError(
                f"cannot parse {spelling!r}: expected ap_fixed<W,I[,Q[,O[,N]]]>, "
                "ap_ufixed<...>, ap_int<W> or ap_uint<W>"
            )
        kind, body = m.group(1), m.group(2)
        args = [a.strip() for a in body.split(",")]
        signed = kind in ("ap_fixed", "ap_int")
        if kind in ("ap_int", "ap_uint"):
            if len(args) != 1:
                raise ValueError(f"{kind} takes exactly one argument (width), got {spelling!r}")
            w = _parse_int(args[0], "width", spelling)
            return cls(w, w, signed)
        if not 2 <= len(args) <= 5:
            raise ValueError(f"{kind} takes 2 to 5 template arguments, got {spelling!r}")
        w = _parse_int(args[0], "width", spelling)
        i = _parse_int(args[1], "int_bits", spelling)
        q = args[2] if len(args) > 2 else Quant.AP_TRN
        o = args[3] if len(args) > 3 else Overflow.AP_WRAP
        if len(args) > 4:
            n = _parse_int(args[4], "saturation bits N", spelling)
            if n != 0:
                raise ValueError(
                    f"saturation bits N={n} in {spelling!r} is not supported (only N=0)"
                )
        if o == "AP_WRAP_SM":
            raise ValueError(f"overflow mode AP_WRAP_SM in {spelling!r} is not supported")
        return cls(w, i, signed, q, o)

    def __str__(self) -> str:
        """C++ spelling with defaults omitted; ``parse(str(f)) == f``."""
        default_modes = self.quant is Quant.AP_TRN and self.overflow is Overflow.AP_WRAP
        u = "" if self.signed else "u"
        if default_modes and self.int_bits == self.width:
            return f"ap_{u}int<{self.width}>"
        args = [str(self.width), str(self.int_bits)]
        if self.overflow is not Overflow.AP_WRAP:
            args += [self.quant.value, self.overflow.value]
        elif self.quant is not Quant.AP_TRN:
            args.append(self.quant.value)
        return f"ap_{u}fixed<{','.join(args)}>"

    # ---------------------------------------------------------------- properties
    @property
    def frac_bits(self) -> int:
        """Number of fraction bits ``width - int_bits`` (negative when int_bits > width)."""
        return self.width - self.int_bits

    @property
    def lsb(self) -> float:
        """Value of one raw unit, ``2**-frac_bits``."""
        return _ldexp(1, -self.frac_bits)

    @property
    def raw_min(self) -> int:
        """Smallest raw value (a Python int)."""
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def raw_max(self) -> int:
        """Largest raw value (a Python int; 2**64-1 for unsigned 64-bit words)."""
        return (1 << (self.width - self.signed)) - 1

    @property
    def min_value(self) -> float:
        """Smallest representable value (rounded to float64 when width > 53)."""
        return _ldexp(self.raw_min, -self.frac_bits)

    @property
    def max_value(self) -> float:
        """Largest representable value (rounded to float64 when width > 53)."""
        return _ldexp(self.raw_max, -self.frac_bits)

    @property
    def _bitpattern_storage(self) -> bool:
        """True for the only int64-stored format whose range exceeds int64 (ap_u*<64,...>)."""
        return not self.signed and self.width == INT64_WIDTH

    @property
    def _object_storage(self) -> bool:
        """True for formats wider than 64 bits: raws are object arrays of Python ints."""
        return self.width > INT64_WIDTH

    # --------------------------------------------------------------- conversion
    def from_float(self, x: npt.ArrayLike) -> RawArray:
        """Quantise floats exactly as ``ap_fixed<...> y = (double)x`` does; returns raws.

        float32 input is widened exactly (the C++ float constructor does the same).
        Raises ``ValueError`` for NaN or +-inf: the header only warns and then
        produces an arbitrary word, so there is nothing meaningful to emulate.
        Header quirk reproduced on purpose: subnormal doubles get the implicit
        leading 1 anyway (value read as ``(2**52 + mantissa) * 2**-1075``); this
        only matters for formats with more than ~1020 fraction bits.

        For ``ap_int``/``ap_uint`` formats this is ``ap_fixed<N,N>`` semantics
        (floor / wrap by default). C++ ``ap_int<N> = double`` is a different
        constructor: it truncates towards zero, and (header bug) turns every
        -0.5 < x < 0 into +1.
        """
        xs = np.asarray(x, dtype=np.float64)
        bad = ~np.isfinite(xs)
        if bad.any():
            raise ValueError(
                f"from_float: {int(bad.sum())} non-finite value(s) (NaN or inf) cannot be "
                f"converted to {self}"
            )
        shape = xs.shape
        bits = np.ascontiguousarray(xs.reshape(-1)).view(np.uint64)
        negative = (bits >> np.uint64(63)).astype(bool)
        biased_exp = ((bits >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
        mant = (bits & np.uint64((1 << 52) - 1)).astype(np.int64) | (1 << 52)
        mant = np.where(negative, -mant, mant)
        mant = np.where((bits << np.uint64(1)) == 0, 0, mant)  # +0.0 and -0.0
        # x = mant * 2**(biased_exp - 1075); dropped LSBs = F_src - F_dst.
        drop = 1075 - biased_exp - self.frac_bits
        exact = _need_exact(53, self.width)
        v = mant.astype(object) if exact else mant
        return _store(_requantize(v, drop, 53, self), self, shape)

    def to_float(self, raw: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Value of raw words as float64.

        Exact whenever the value is representable (always for width <= 53 unless
        the exponent leaves the float64 range); wider words are rounded to nearest
        even, like the header's ``to_double()``. Unlike ``to_double()``, which
        writes garbage for results below 2**-1022, subnormal results are returned
        correctly (for width > 53 they may be rounded twice).
        """
        r = _check_raw(raw, self)
        if self._object_storage:  # one correctly rounded division per value
            flat = [_ldexp(int(v), -self.frac_bits) for v in r.reshape(-1)]
            return np.array(flat, dtype=np.float64).reshape(r.shape)
        f = r.view(np.uint64).astype(np.float64) if self._bitpattern_storage else r.astype(float)
        return np.ldexp(f, -self.frac_bits)

    def quantize(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Round-trip floats through this format: ``to_float(from_float(x))``."""
        return self.to_float(self.from_float(x))

    def convert(self, raw: npt.ArrayLike, src: FixedFormat) -> RawArray:
        """Assign raws of format ``src`` to this format (C++ ``dst = src``)."""
        r = _check_raw(raw, src)
        bound = src.width - src.signed  # |value| <= 2**bound
        exact = _need_exact(bound, self.width)
        v = _values(r, src, exact)
        drop = src.frac_bits - self.frac_bits
        return _store(_requantize(v, drop, bound, self), self, r.shape)

    def wrap(self, values: npt.ArrayLike) -> RawArray:
        """Reduce arbitrary integers modulo 2**width into raws of this format."""
        arr = np.asarray(values)
        if arr.dtype != object and arr.dtype.kind not in "iub":
            raise ValueError(f"wrap expects integers, got dtype {arr.dtype}")
        exact = arr.dtype == object or _need_exact(0, self.width)
        v = arr.reshape(-1).astype(object if exact else np.int64)
        if exact:
            v = np.array([operator.index(x) for x in v], dtype=object)
        return _store(_wrap(v, self.width, self.signed), self, arr.shape)


# ---------------------------------------------------------------------- helpers
def _ldexp(mant: int, exp: int) -> float:
    """``mant * 2**exp`` as float64, rounded once to nearest even (also for integers
    beyond float64's range and subnormal results); +-inf instead of OverflowError."""
    try:
        if exp >= 0:
            return float(mant << exp)
        return mant / (1 << -exp)  # Python's int division is correctly rounded
    except OverflowError:
        return math.copysign(math.inf, mant)


def _need_exact(value_bits: int, width: int) -> bool:
    """Whether the Python-int path is needed (or forced) for these bit counts."""
    return _FORCE_EXACT or value_bits > _FAST_BITS - 2 or width > _FAST_BITS


def _check_raw(raw: npt.ArrayLike, fmt: FixedFormat) -> RawArray:
    """Validate raws for ``fmt``; an int64 array (object array for formats over 64 bits)."""
    arr = np.asarray(raw)
    if fmt._object_storage and arr.dtype != object:
        if arr.dtype.kind not in "iub":
            raise ValueError(f"raw values must be integers, got dtype {arr.dtype}")
        arr = arr.astype(object)
    if arr.dtype == object:
        flat = [operator.index(v) for v in arr.ravel()]
        bad = [v for v in flat if not fmt.raw_min <= v <= fmt.raw_max]
        if bad:
            raise ValueError(f"raw value {bad[0]} out of range for {fmt}")
        return _store(np.array(flat, dtype=object), fmt, arr.shape)
    if arr.dtype.kind not in "iub":
        raise ValueError(f"raw values must be integers, got dtype {arr.dtype}")
    if arr.dtype == np.uint64:
        if fmt._bitpattern_storage:
            return arr.view(np.int64)
        if arr.size and int(arr.max()) > fmt.raw_max:
            raise ValueError(f"raw value {int(arr.max())} out of range for {fmt}")
        return arr.astype(np.int64)
    arr = arr.astype(np.int64)
    if fmt._bitpattern_storage or not arr.size:
        return arr  # any int64 is a valid 64-bit pattern
    lo, hi = int(arr.min()), int(arr.max())
    if lo < fmt.raw_min or hi > fmt.raw_max:
        bad = lo if lo < fmt.raw_min else hi
        raise ValueError(f"raw value {bad} out of range [{fmt.raw_min}, {fmt.raw_max}] for {fmt}")
    return arr


def _values(raw: RawArray, fmt: FixedFormat, exact: bool) -> np.ndarray:
    """Raw int64 words as a flat array of true values (object array when ``exact``).

    Flat (1-d) because numpy returns bare Python ints for 0-d object arrays.
    """
    raw = raw.reshape(-1)
    if raw.dtype == object:
        return raw  # formats over 64 bits: already true values
    if not exact:
        return raw  # only reached when the format is not the bit-pattern one
    obj = raw.astype(object)
    if fmt._bitpattern_storage:
        obj = np.where(raw < 0, obj + (1 << 64), obj)
    return obj


def _store(vals: np.ndarray, fmt: FixedFormat, shape: tuple[int, ...]) -> RawArray:
    """Flat in-range integer values back to raws of the given shape (int64, or Python
    ints in an object array for formats over 64 bits)."""
    if fmt._object_storage:
        flat = np.empty(np.size(vals), dtype=object)
        flat[:] = [int(v) for v in np.asarray(vals, dtype=object).reshape(-1)]
        return flat.reshape(shape)
    if vals.dtype == object and fmt._bitpattern_storage:
        vals = np.where(vals >= (1 << 63), vals - (1 << 64), vals)
    return np.asarray(vals).astype(np.int64).reshape(shape)


def _wrap(v: np.ndarray, width: int, signed: bool) -> np.ndarray:
    """Keep the low ``width`` bits and reinterpret them (two's complement if signed)."""
    w = v & ((1 << width) - 1)
    if signed:
        sign = 1 << (width - 1)
        w = (w ^ sign) - sign
    return w


def _requantize(v: np.ndarray, drop: Any, bound: int, dst: FixedFormat) -> np.ndarray:
    """Core of ``ap_fixed_base::operator=``: quantise, then handle overflow.

    ``v`` holds exact source values in source LSB units with ``|v| <= 2**bound``;
    ``drop`` (int or int64 array) is the number of LSBs to drop, negative for a
    left shift. Works on int64 arrays (caller guarantees no overflow: bound <= 60,
    width <= 62) and on object arrays of Python ints. Returns values in dst units.
    """
    exact = v.dtype == object
    if isinstance(drop, np.ndarray):
        # Clamping never changes the result: dropping >= bound+2 bits leaves
        # floor 0/-1 with the same rounding decisions (|v| < half an LSB), and a
        # left shift by >= width zeroes the word and overflows any nonzero value.
        sr = np.clip(drop, 0, bound + 2)
        sl = np.clip(-drop, 0, dst.width)
        if exact:
            sr, sl = sr.astype(object), sl.astype(object)
    else:
        sr = min(max(int(drop), 0), bound + 2)
        sl = min(max(-int(drop), 0), dst.width)
    one = np.array(1, dtype=object if exact else np.int64)

    # Quantisation: q = floor(v / 2**sr) + increment chosen by the mode.
    fl = v >> sr
    rem = v - (fl << sr)  # dropped bits, in [0, 2**sr)
    half = (one << sr) >> 1  # weight of the first dropped bit (0 if none dropped)
    above = rem > half
    tie = (rem == half) & (np.asarray(sr) > 0)
    neg = v < 0
    mode = dst.quant
    if mode is Quant.AP_TRN:
        inc = np.zeros(np.shape(v), dtype=bool)
    elif mode is Quant.AP_RND:
        inc = above | tie
    elif mode is Quant.AP_RND_ZERO:
        inc = above | (tie & neg)
    elif mode is Quant.AP_RND_MIN_INF:
        inc = above
    elif mode is Quant.AP_RND_INF:
        inc = above | (tie & ~neg)
    elif mode is Quant.AP_RND_CONV:
        inc = above | (tie & ((fl & 1) == 1))
    else:  # AP_TRN_ZERO: negative inexact values move up towards zero
        inc = neg & (rem != 0)
    q = np.where(inc, fl + 1, fl)

    # Overflow of q * 2**sl against the destination range, without forming the
    # (possibly huge) left-shifted value: compare q with the bounds shifted right.
    hi, lo = dst.raw_max, dst.raw_min
    if dst.overflow is Overflow.AP_SAT_SYM and dst.signed and dst.width > 1:
        # The header saturates negatives to the pattern 100..01 (= -max) and also
        # maps an in-range result equal to min onto it. For width 1 that pattern
        # is 1 = min itself, so ap_fixed<1,...,AP_SAT_SYM> behaves like AP_SAT.
        lo += 1
    wrapped = _wrap((q & ((one << (dst.width - sl)) - 1)) << sl, dst.width, dst.signed)
    if dst.overflow is Overflow.AP_WRAP:
        return wrapped
    over = q > (hi >> sl)
    under = q < -((-lo) >> sl)
    if dst.overflow is Overflow.AP_SAT_ZERO:
        return np.where(over | under, 0, wrapped)
    return np.where(over, hi, np.where(under, lo, wrapped))


# --------------------------------------------------------------- arithmetic
def _checked_format(op: str, width: int, int_bits: int, signed: bool) -> FixedFormat:
    if width > MAX_WIDTH:
        u = "" if signed else "u"
        raise ValueError(
            f"{op} result ap_{u}fixed<{width},{int_bits}> is {width} bits wide; "
            f"the ap_types headers refuse types wider than {MAX_WIDTH} bits"
        )
    return FixedFormat(width, int_bits, signed)


def _align_ints(fa: FixedFormat, fb: FixedFormat) -> int:
    """Integer bits of the header's plus/minus RType before the +1 carry bit.

    An unsigned operand needs one extra integer bit to live in a signed result.
    """
    return max(
        fa.int_bits + (fb.signed and not fa.signed),
        fb.int_bits + (fa.signed and not fb.signed),
    )


def mul_format(fa: FixedFormat, fb: FixedFormat) -> FixedFormat:
    """``RType::mult``: W = Wa+Wb, I = Ia+Ib, signed if either is (ValueError beyond
    :data:`MAX_WIDTH`)."""
    return _checked_format(
        "mul", fa.width + fb.width, fa.int_bits + fb.int_bits, fa.signed or fb.signed
    )


def add_format(fa: FixedFormat, fb: FixedFormat) -> FixedFormat:
    """``RType::plus``: aligned integer bits + 1 carry bit, max fraction bits."""
    i = _align_ints(fa, fb) + 1
    return _checked_format("add", i + max(fa.frac_bits, fb.frac_bits), i, fa.signed or fb.signed)


def sub_format(fa: FixedFormat, fb: FixedFormat) -> FixedFormat:
    """``RType::minus``: like :func:`add_format` but always signed."""
    i = _align_ints(fa, fb) + 1
    return _checked_format("sub", i + max(fa.frac_bits, fb.frac_bits), i, True)


def div_format(fa: FixedFormat, fb: FixedFormat) -> FixedFormat:
    """``RType::div``: W = Sb + Wa + max(Fb, 0), I = Sb + Ia + Fb, signed if either is."""
    sb = int(fb.signed)
    return _checked_format(
        "div",
        sb + fa.width + max(fb.frac_bits, 0),
        sb + fa.int_bits + fb.frac_bits,
        fa.signed or fb.signed,
    )


def _operands(
    raw_a: npt.ArrayLike, fa: FixedFormat, raw_b: npt.ArrayLike, fb: FixedFormat, exact: bool
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Validate and broadcast two raw operands; flat value arrays plus the shape."""
    ra, rb = np.broadcast_arrays(_check_raw(raw_a, fa), _check_raw(raw_b, fb))
    return _values(ra, fa, exact), _values(rb, fb, exact), ra.shape


def mul(
    raw_a: npt.ArrayLike, fmt_a: FixedFormat, raw_b: npt.ArrayLike, fmt_b: FixedFormat
) -> tuple[RawArray, FixedFormat]:
    """Full-precision product ``a * b``; returns ``(raw, mul_format(fmt_a, fmt_b))``."""
    rf = mul_format(fmt_a, fmt_b)
    # |a*b| < 2**(Wa+Wb) in every signedness mix, so the product never wraps.
    a, b, shape = _operands(raw_a, fmt_a, raw_b, fmt_b, _need_exact(rf.width, rf.width))
    return _store(a * b, rf, shape), rf


def _aligned(
    raw_a: npt.ArrayLike, fa: FixedFormat, raw_b: npt.ArrayLike, fb: FixedFormat, rf: FixedFormat
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Operands shifted onto the result's LSB (shifts are >= 0 by construction)."""
    a, b, shape = _operands(raw_a, fa, raw_b, fb, _need_exact(rf.width, rf.width))
    return a << (rf.frac_bits - fa.frac_bits), b << (rf.frac_bits - fb.frac_bits), shape


def add(
    raw_a: npt.ArrayLike, fmt_a: FixedFormat, raw_b: npt.ArrayLike, fmt_b: FixedFormat
) -> tuple[RawArray, FixedFormat]:
    """Full-precision sum ``a + b``; returns ``(raw, add_format(fmt_a, fmt_b))``."""
    rf = add_format(fmt_a, fmt_b)
    a, b, shape = _aligned(raw_a, fmt_a, raw_b, fmt_b, rf)
    return _store(a + b, rf, shape), rf


def sub(
    raw_a: npt.ArrayLike, fmt_a: FixedFormat, raw_b: npt.ArrayLike, fmt_b: FixedFormat
) -> tuple[RawArray, FixedFormat]:
    """Full-precision difference ``a - b``; returns ``(raw, sub_format(fmt_a, fmt_b))``."""
    rf = sub_format(fmt_a, fmt_b)
    a, b, shape = _aligned(raw_a, fmt_a, raw_b, fmt_b, rf)
    return _store(a - b, rf, shape), rf


def div(
    raw_a: npt.ArrayLike, fmt_a: FixedFormat, raw_b: npt.ArrayLike, fmt_b: FixedFormat
) -> tuple[RawArray, FixedFormat]:
    """Quotient ``a / b`` as the header computes it; returns ``(raw, div_format(...))``.

    The header shifts the dividend left by ``max(Fb, 0)`` bits and does an integer
    division that truncates towards zero (no rounding mode applies). Raises
    ``ZeroDivisionError`` on a zero divisor (the header asserts/aborts).

    Header quirk reproduced: the division runs in a ``W1``-bit word, so when both
    operands are signed and ``Wa + max(Fb, 0) >= Wb``, ``min / -1`` (raw -1, the
    smallest negative divisor) overflows and yields ``min`` instead of ``-min``.

    Header defect *not* reproduced: for ``W1`` over 64 bits and divisors of two or
    more 32-bit digits the header's ap_private long division (an old copy of LLVM's
    ``APInt::KnuthDiv``) returns some wrong quotients; this returns the exact one
    (``tests/test_fixed.py`` measures how many differ).
    """
    rf = div_format(fmt_a, fmt_b)
    sa, sb = fmt_a.signed, fmt_b.signed
    shift = max(fmt_b.frac_bits, 0)
    # Width of the header's internal dividend/divisor/quotient word (_W1).
    w1 = max(fmt_a.width + shift + (sb and not sa), fmt_b.width + (sa and not sb))
    exact = _need_exact(max(fmt_a.width + shift, fmt_b.width), rf.width)
    a, b, shape = _operands(raw_a, fmt_a, raw_b, fmt_b, exact)
    if np.any(b == 0):
        raise ZeroDivisionError(f"div: zero divisor in {fmt_b} operand")
    n = a << shift
    mag = np.abs(n) // np.abs(b)
    q = _wrap(np.where((n < 0) != (b < 0), -mag, mag), w1, sa or sb)
    return _store(q, rf, shape), rf


def lshift(raw: npt.ArrayLike, fmt: FixedFormat, n: int) -> RawArray:
    """``x << n`` on an ap_fixed value: same format, bits above the MSB are lost.

    A negative ``n`` shifts right (the header's ``operator<<(int)``); ``n >= width``
    gives 0. No quantisation or saturation is applied.
    """
    n = operator.index(n)
    if n < 0:
        return rshift(raw, fmt, -n)
    r = _check_raw(raw, fmt)
    v = _values(r, fmt, _need_exact(fmt.width, fmt.width))
    if n >= fmt.width:
        return _store(np.zeros(r.size, dtype=np.int64), fmt, r.shape)
    w = _wrap((v & ((1 << (fmt.width - n)) - 1)) << n, fmt.width, fmt.signed)
    return _store(w, fmt, r.shape)


def rshift(raw: npt.ArrayLike, fmt: FixedFormat, n: int) -> RawArray:
    """``x >> n`` on an ap_fixed value: same format, arithmetic (floor) shift.

    A negative ``n`` shifts left; ``n >= width`` gives -1 for negative words, else 0.
    """
    n = operator.index(n)
    if n < 0:
        return lshift(raw, fmt, -n)
    r = _check_raw(raw, fmt)
    v = _values(r, fmt, _need_exact(fmt.width, fmt.width))
    return _store(v >> min(n, fmt.width), fmt, r.shape)
