// Run-time fixed-point formats and requantisation (ap_fixed assignment semantics).
//
// A value is a raw integer r with f fraction bits (value r * 2^-f). Every
// result of the datapath is an exact wide integer requantised once into a
// destination format: drop fraction bits rounding with the destination's
// quantisation mode, then apply its overflow mode -- exactly
// pymodel.numerics.qtorch.requant. Formats come from descriptor words, so
// one bitstream serves any calibration.
#ifndef EDGEMOE_FIXED_H
#define EDGEMOE_FIXED_H

#include "edgemoe_types.h"

// Quant (Q_*) and Ovf (O_*) codes come from the generated edgemoe_config.h.

struct Fmt {
  int w;  // word width
  int f;  // fraction bits (may be negative or exceed w)
  bool s;  // signed
  int q;  // Quant
  int o;  // Ovf
};

// Descriptor word: bits 6:0 width, 15:8 fraction bits (int8), 16 signed,
// 19:17 quantisation, 21:20 overflow, 24 present.
inline Fmt decode_fmt(uint32_t word) {
  Fmt f;
  f.w = word & 0x7F;
  f.f = (int)(int8_t)((word >> 8) & 0xFF);
  f.s = (word >> 16) & 1;
  f.q = (word >> 17) & 7;
  f.o = (word >> 20) & 3;
  return f;
}

inline bool fmt_present(uint32_t word) { return (word >> 24) & 1; }

inline int64_t fmt_max(const Fmt& f) { return shl(1, f.w - (f.s ? 1 : 0)) - 1; }
inline int64_t fmt_min(const Fmt& f) { return f.s ? -shl(1, f.w - 1) : 0; }

// What to add before an arithmetic right shift by sh (1..61) so that the
// floor gives the rounding mode: one adder per mode (qtorch._round_add).
inline int64_t round_add(int64_t raw, int sh, int quant) {
#pragma HLS INLINE
  const int64_t half = shl(1, sh - 1);
  switch (quant) {
    case Q_TRN: return 0;
    case Q_TRN_ZERO: return raw < 0 ? 2 * half - 1 : 0;
    case Q_RND: return half;
    case Q_RND_ZERO: return half - (raw >= 0 ? 1 : 0);
    case Q_RND_MIN_INF: return half - 1;
    case Q_RND_INF: return half - (raw < 0 ? 1 : 0);
    default: return half - 1 + ((raw >> sh) & 1);  // Q_RND_CONV: ties to even
  }
}

// raw * 2^-sh rounded to an integer with quantisation mode `quant` (sh <= 0:
// exact left shift). |raw| < 2^62, so from sh = 62 on the value is below one
// LSB: floor gives -1 or 0, every rounding mode 0 (qtorch.shift_round).
inline int64_t shift_round(int64_t raw, int sh, int quant) {
#pragma HLS INLINE
  if (sh <= 0) return shl(raw, -sh);
  if (sh >= 62) return (quant == Q_TRN && raw < 0) ? -1 : 0;
  return (raw + round_add(raw, sh, quant)) >> sh;
}

// The destination's overflow mode applied to an integer in its LSB units.
inline int64_t apply_overflow(int64_t q, const Fmt& f) {
#pragma HLS INLINE
  const int64_t lo = fmt_min(f), hi = fmt_max(f);
  switch (f.o) {
    case O_WRAP: {
      int64_t v = q & (shl(1, f.w) - 1);
      if (f.s && v > hi) v -= shl(1, f.w);
      return v;
    }
    case O_SAT: return q < lo ? lo : (q > hi ? hi : q);
    case O_SAT_ZERO: return (q < lo || q > hi) ? 0 : q;
    default:  // O_SAT_SYM: signed saturates to +-max (1-bit words behave like AP_SAT)
      if (f.s && f.w > 1) return q < -hi ? -hi : (q > hi ? hi : q);
      return q < lo ? lo : (q > hi ? hi : q);
  }
}

// Assign the exact value raw * 2^-frac to format f.
inline int64_t requant(int64_t raw, int frac, const Fmt& f) {
#pragma HLS INLINE
  const int n = f.f - frac;
  if (n > 0) {  // more fraction bits: a left shift, overflow decided before shifting
    if (f.o == O_WRAP) {
      const int64_t kept = n < f.w ? (raw & (shl(1, f.w - n) - 1)) : 0;
      return apply_overflow(shl(kept, n < 63 ? n : 0), f);
    }
    const int64_t lo = n < 63 ? -((-fmt_min(f)) >> n) : 0;
    const int64_t hi = n < 63 ? fmt_max(f) >> n : 0;
    const int64_t c = raw < lo - 1 ? lo - 1 : (raw > hi + 1 ? hi + 1 : raw);
    // c * 2^n only matters through its sign and range when |c| > bound: saturate directly.
    if (c == 0) return apply_overflow(0, f);
    if (c > hi) return apply_overflow(fmt_max(f) + 1, f);
    if (c < lo) return apply_overflow(fmt_min(f) - 1, f);
    return apply_overflow(shl(c, n), f);
  }
  return apply_overflow(shift_round(raw, -n, f.q), f);
}

#endif  // EDGEMOE_FIXED_H
