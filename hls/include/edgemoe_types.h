// Word types, AXI beat packing and DDR row access of the Edge-MoE engine.
//
// Numerics build: the activation word width EDGEMOE_ACT_W (16 for hw16, 32 for
// edgemoe) is a compile-time constant from the generated edgemoe_config.h;
// everything else about a tensor's format (fraction bits, signedness,
// rounding and overflow modes) is run-time data from the layer descriptor.
// Arithmetic uses plain C integer types: they synthesise to the same
// operators as ap_int (HLS narrows them from the operand widths) and keep
// C simulation fast; only the AXI beat is an ap_uint.
#ifndef EDGEMOE_TYPES_H
#define EDGEMOE_TYPES_H

#include <stdint.h>

#include <ap_int.h>

#include "edgemoe_config.h"

#if EDGEMOE_ACT_W == 32
typedef int32_t act_t;  // activation word (edgemoe: ap_fixed<32,10> raw)
#elif EDGEMOE_ACT_W == 16
typedef int16_t act_t;  // activation word (hw16: 16-bit raw)
#else
#error "EDGEMOE_ACT_W must be 16 or 32"
#endif
typedef int16_t wgt_t;  // weight / bias / norm parameter word
typedef int64_t acc_t;  // exact accumulator: the contract bounds every sum below 2^62
typedef int32_t prob_t;  // probabilities and gates (signed act word or unsigned <= 31 bits)
typedef uint16_t row_t;  // token / queue row index
typedef ap_uint<128> word_t;  // one AXI beat

enum {
  BEAT_BITS = 128,
  APW = BEAT_BITS / EDGEMOE_ACT_W,  // activations per beat
  WPW = BEAT_BITS / EDGEMOE_WEIGHT_W,  // weights per beat
  HALF_ACT = APW / 2,
  HALF_WGT = WPW / 2
};

// Beats holding n activation / weight words (rows are padded to whole beats).
inline int act_beats(int n) { return (n + APW - 1) / APW; }
inline int wgt_beats(int n) { return (n + WPW - 1) / WPW; }

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

inline void unpack_wgt(const word_t& w, wgt_t out[WPW]) {
#pragma HLS INLINE
  const uint64_t half[2] = {w.range(63, 0).to_uint64(), w.range(127, 64).to_uint64()};
  for (int i = 0; i < WPW; i++) {
#pragma HLS UNROLL
    out[i] = (wgt_t)(half[i / HALF_WGT] >> ((i % HALF_WGT) * EDGEMOE_WEIGHT_W));
  }
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
  const int beats = act_beats(n);
read_act_beats:
  for (int b = 0; b < beats; b++) {
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
  const int beats = act_beats(n);
write_act_beats:
  for (int b = 0; b < beats; b++) {
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

inline void read_wgt(const word_t* mem, uint32_t off, int n, wgt_t* dst) {
#pragma HLS INLINE
  const int beats = wgt_beats(n);
read_wgt_beats:
  for (int b = 0; b < beats; b++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_K / WPW
    wgt_t v[WPW];
    unpack_wgt(mem[off + b], v);
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
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 64
    uint32_t v[4];
    unpack_u32(mem[off + b], v);
    for (int i = 0; i < 4; i++) {
#pragma HLS UNROLL
      if (b * 4 + i < n) dst[b * 4 + i] = v[i];
    }
  }
}

#endif  // EDGEMOE_TYPES_H
