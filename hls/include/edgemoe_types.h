// Word types, AXI beat packing, DDR row access and the shared helpers of the engine.
//
// Widths are the formats' widths, not int64: an activation word is
// EDGEMOE_ACT_W bits (16 for hw16/hw8, 32 for edgemoe), a weight word 16 bits
// or 8 bits (a matrix whose format is at most 8 bits wide is stored and
// streamed as 8-bit words, two per 16 bits of DDR), a product of an
// activation and a weight EDGEMOE_ACT_W + 16 bits, and the linear unit's exact
// accumulator ACC_W bits; the descriptor check refuses formats whose aligned
// bias or residual would not fit it. Format details beyond the width
// (fraction bits, signedness, rounding and overflow modes) are run-time data
// from the layer descriptor.
#ifndef EDGEMOE_TYPES_H
#define EDGEMOE_TYPES_H

#include <stdint.h>

#include <ap_int.h>

#include "edgemoe_config.h"

#if EDGEMOE_ACT_W == 32
typedef int32_t act_t;  // activation word (edgemoe: ap_fixed<32,10> raw)
#elif EDGEMOE_ACT_W == 16
typedef int16_t act_t;  // activation word (hw16 / hw8: 16-bit raw)
#else
#error "EDGEMOE_ACT_W must be 16 or 32"
#endif
typedef int16_t wgt_t;  // weight / bias / norm parameter word (an 8-bit weight sign-extended)
typedef uint16_t row_t;  // token / queue row index
typedef ap_uint<128> word_t;  // one AXI beat (the width of a ZynqMP HP port)

typedef int32_t prob_t;  // probabilities and gates (signed act word or unsigned <= 31 bits)

// MAC array operands: x is an activation (LayerNorm output, attention output,
// hidden, key or value), w a weight, a query or a probability (an unsigned
// EDGEMOE_ACT_W-bit probability needs one more bit as a signed operand).
typedef act_t mx_t;
typedef ap_int<EDGEMOE_ACT_W + 1> mw_t;
// Exact accumulator: MAX_K products plus the aligned bias and residual; the
// descriptor check keeps every aligned term below 2^(ACC_W - 3).
#define ACC_W (2 * EDGEMOE_ACT_W + 16)
typedef ap_int<ACC_W> acc_t;
typedef ap_int<2 * EDGEMOE_ACT_W + 1> prod_t;  // one x * w product
// A sum of TI products (one DSP column's adder tree). Synthesis uses the exact
// width; C simulation by default a native integer at least as wide (the same
// values, as the static_assert proves: TI products of these widths cannot exceed
// it), so that it runs at native speed. EDGEMOE_EXACT_TYPES selects the
// synthesis types under g++ too (tests compare both builds).
#define DOT_W (2 * EDGEMOE_ACT_W + 1 + 5)
#if defined(__SYNTHESIS__) || defined(EDGEMOE_EXACT_TYPES)
typedef ap_int<DOT_W> dot_t;
#define EDGEMOE_NATIVE_DOT 0
#elif EDGEMOE_ACT_W == 16
typedef int64_t dot_t;
#define EDGEMOE_NATIVE_DOT 1
static_assert(DOT_W <= 64, "dot_t must hold a sum of TI products");
#else
typedef __int128 dot_t;
#define EDGEMOE_NATIVE_DOT 1
static_assert(DOT_W <= 128, "dot_t must hold a sum of TI products");
#endif

// A dot-product sum as an accumulator value (ap_int has no __int128 constructor).
inline acc_t dot_to_acc(dot_t v) {
#pragma HLS INLINE
#if EDGEMOE_NATIVE_DOT && EDGEMOE_ACT_W != 16
  acc_t hi = (acc_t)(int64_t)(v >> 64);
  hi <<= 64;
  return hi + (acc_t)(uint64_t)v;
#else
  return (acc_t)v;
#endif
}

enum {
  BEAT_BITS = 128,
  APW = BEAT_BITS / EDGEMOE_ACT_W,  // activations per beat
  WPW = BEAT_BITS / 16,  // 16-bit weights per beat
  WPW8 = BEAT_BITS / 8,  // 8-bit weights per beat
  HALF_ACT = APW / 2
};

// ---------------------------------------------------------------- shared helpers
inline int imin(int a, int b) { return a < b ? a : b; }
inline int imax(int a, int b) { return a > b ? a : b; }
inline int div_roundup(int n, int d) { return (n + d - 1) / d; }
inline int round_up(int n, int d) { return div_roundup(n, d) * d; }

// Beats holding n activation / weight words (rows are padded to whole beats).
inline int act_beats(int n) { return div_roundup(n, APW); }
inline int wgt_beats(int n) { return div_roundup(n, WPW); }
// Beats of one weight row of n words stored at `bits` (8 or 16) per word.
inline int wrow_beats(int n, int bits) { return div_roundup(n, bits <= 8 ? WPW8 : WPW); }

// Left shift of a signed value without the C++17 undefined behaviour on negatives.
inline int64_t shl(int64_t v, int n) { return (int64_t)((uint64_t)v << n); }

// ----------------------------------------------------------------- beat packing
// Unpacking goes through the two 64-bit halves: one part-select each.
inline void unpack_act(const word_t& w, act_t out[APW]) {
#pragma HLS INLINE
  const uint64_t half[2] = {w.range(63, 0).to_uint64(), w.range(127, 64).to_uint64()};
  for (int i = 0; i < APW; i++) {
#pragma HLS UNROLL
    out[i] = (act_t)(half[i / HALF_ACT] >> ((i % HALF_ACT) * EDGEMOE_ACT_W));
  }
}

// 16 8-bit weights (narrow) or 8 16-bit weights of one beat, sign-extended to wgt_t.
inline int unpack_wgt(const word_t& w, bool narrow, wgt_t out[WPW8]) {
#pragma HLS INLINE
  const uint64_t half[2] = {w.range(63, 0).to_uint64(), w.range(127, 64).to_uint64()};
  for (int i = 0; i < WPW8; i++) {
#pragma HLS UNROLL
    if (narrow) {
      out[i] = (wgt_t)(int8_t)(half[i / 8] >> ((i % 8) * 8));
    } else if (i < WPW) {
      out[i] = (wgt_t)(half[i / 4] >> ((i % 4) * 16));
    }
  }
  return narrow ? WPW8 : WPW;
}

inline void unpack_u32(const word_t& w, uint32_t out[4]) {
#pragma HLS INLINE
  const uint64_t lo = w.range(63, 0).to_uint64(), hi = w.range(127, 64).to_uint64();
  out[0] = (uint32_t)lo;
  out[1] = (uint32_t)(lo >> 32);
  out[2] = (uint32_t)hi;
  out[3] = (uint32_t)(hi >> 32);
}

inline word_t pack_act(const act_t in[APW]) {
#pragma HLS INLINE
  const uint64_t mask = (1ull << EDGEMOE_ACT_W) - 1;
  uint64_t half[2] = {0, 0};
  for (int i = 0; i < APW; i++) {
#pragma HLS UNROLL
    half[i / HALF_ACT] |= ((uint64_t)(int64_t)in[i] & mask) << ((i % HALF_ACT) * EDGEMOE_ACT_W);
  }
  word_t w;
  w.range(63, 0) = half[0];
  w.range(127, 64) = half[1];
  return w;
}

// ------------------------------------------------------------- DDR row access
// n activation words from beat `off` (one burst); words past n are not touched.
inline void read_act(const word_t* mem, uint32_t off, int n, act_t* dst) {
#pragma HLS INLINE
read_act_beats:
  for (int b = 0; b < act_beats(n); b++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_K / APW
    act_t v[APW];
    unpack_act(mem[off + b], v);
    for (int i = 0; i < APW; i++) {
#pragma HLS UNROLL
      if (b * APW + i < n) dst[b * APW + i] = v[i];
    }
  }
}

// n activation words to beat `off`; the tail of the last beat is zero padding.
inline void write_act(word_t* mem, uint32_t off, int n, const act_t* src) {
#pragma HLS INLINE
write_act_beats:
  for (int b = 0; b < act_beats(n); b++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_K / APW
    act_t v[APW];
    for (int i = 0; i < APW; i++) {
#pragma HLS UNROLL
      v[i] = b * APW + i < n ? src[b * APW + i] : (act_t)0;
    }
    mem[off + b] = pack_act(v);
  }
}

// n 16-bit parameter words (biases, norms) from beat `off`.
inline void read_wgt(const word_t* mem, uint32_t off, int n, wgt_t* dst) {
#pragma HLS INLINE
read_wgt_beats:
  for (int b = 0; b < wgt_beats(n); b++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_K / WPW
    wgt_t v[WPW8];
    unpack_wgt(mem[off + b], false, v);
    for (int i = 0; i < WPW; i++) {
#pragma HLS UNROLL
      if (b * WPW + i < n) dst[b * WPW + i] = v[i];
    }
  }
}

inline void read_u32(const word_t* mem, uint32_t off, int n, uint32_t* dst) {
#pragma HLS INLINE
read_u32_beats:
  for (int b = 0; b < (n + 3) / 4; b++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 128
    uint32_t v[4];
    unpack_u32(mem[off + b], v);
    for (int i = 0; i < 4; i++) {
#pragma HLS UNROLL
      if (b * 4 + i < n) dst[b * 4 + i] = v[i];
    }
  }
}

#endif  // EDGEMOE_TYPES_H
