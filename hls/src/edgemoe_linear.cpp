// The unified linear unit: a TI x TO MAC tile serving patch embedding, Q/K/V,
// projection, dense MLP, router logits and experts.
//
// Schedule: the input rows of a token block (up to TB rows, all K inputs)
// stay on chip; weight tiles of TO output rows stream from DDR into a ping-
// pong buffer, the next tile loading while the current one computes, so each
// weight is read once per token block (once per layer when T <= TB, and once
// per expert and layer for every MoE queue up to TB tokens). Products are
// summed exactly in 64-bit accumulators; bias and residual are aligned into
// the accumulator, and each output is requantised once (optionally followed
// by GELU), as pymodel's FixedArith._linear.
#include "edgemoe_engine.h"

static_assert(MAX_K % TI == 0, "MAX_K must be a multiple of TI");
static_assert(MAX_K % WPW == 0, "MAX_K must be a multiple of the weights per beat");
static_assert(TO % APW == 0, "output tiles must cover whole beats");

static inline int imin(int a, int b) { return a < b ? a : b; }

// Input rows [r0, r0 + nb) of the job into xbuf.
static void load_x_block(const word_t* io, const LinearJob& j, const row_t* map_in, int r0,
                         int nb, const Model& m, const act_t tail[MAX_GATE_IN],
                         act_t xbuf[TB][MAX_K]) {
  const int kt = j.K + j.K_tail;
  const int kpad = ((kt + TI - 1) / TI) * TI;
  const int img_row = act_beats(m.IMG_W);
x_rows:
  for (int r = 0; r < nb; r++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = TB
    act_t* row = xbuf[r];
    if (j.x_mode == XM_PATCHES) {
      // Patch n: elements (c, py, px) of the image at rows gy*P+py, columns gx*P+px.
      const int n = j.x_row0 + r0 + r;
      const int gy = n / m.GW, gx = n - (n / m.GW) * m.GW;
      for (int c = 0; c < m.C; c++) {
        for (int py = 0; py < m.P; py++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 16
          const uint32_t src = m.io_in + (uint32_t)((c * m.IMG_H + gy * m.P + py) * img_row) +
                               (uint32_t)(gx * m.P / APW);
          read_act(io, src, m.P, row + (c * m.P + py) * m.P);
        }
      }
    } else {
      const int src_row = j.x_gather ? (int)map_in[r0 + r] : j.x_row0 + r0 + r;
      read_act(io, j.x_off + (uint32_t)(src_row * j.x_stride), j.K, row);
    }
  x_tail:
    for (int k = 0; k < j.K_tail; k++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 0 max = MAX_GATE_IN
      row[j.K + k] = tail[k];
    }
  x_pad:
    for (int k = kt; k < kpad; k++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 0 max = TI
      row[k] = 0;
    }
  }
}

// Weight rows [r0, r0 + nrows) of the tile from one weight port (one burst).
static void load_w_rows(const word_t* wgt, const LinearJob& j, int n0, int r0, int nrows,
                        wgt_t w[TO][MAX_K]) {
  const int kb = wgt_beats(j.K + j.K_tail);
  const uint32_t base = j.w_off + (uint32_t)((n0 + r0) * kb);
  int o = r0, kk = 0;
w_beats:
  for (int b = 0; b < nrows * kb; b++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = TO * MAX_K / WPW / WEIGHT_PORTS
    wgt_t v[WPW];
    unpack_wgt(wgt[base + b], v);
    for (int i = 0; i < WPW; i++) {
#pragma HLS UNROLL
      w[o][kk * WPW + i] = v[i];
    }
    if (++kk == kb) {
      kk = 0;
      o++;
    }
  }
}

// Weight rows [n0, n0 + TO) (those < N): rows split evenly over the weight ports,
// one burst per port; the ports run in parallel.
static void load_w_tile(EDGEMOE_WGT_DECL, const LinearJob& j, int n0, wgt_t w[TO][MAX_K]) {
  const int nrows = imin(TO, j.N - n0);
  const int per = (nrows + WEIGHT_PORTS - 1) / WEIGHT_PORTS;
#define EM_LOAD_PORT(p, ptr) \
  if ((p) * per < nrows) load_w_rows(ptr, j, n0, (p) * per, imin(per, nrows - (p) * per), w);
  EDGEMOE_FOR_EACH_WGT(EM_LOAD_PORT)
#undef EM_LOAD_PORT
}

// TO dot products of one input row with the weight tile: TI x TO MACs per cycle.
static void mac_row(const act_t* x, const wgt_t w[TO][MAX_K], int kpad, acc_t acc[TO]) {
#pragma HLS INLINE
  for (int o = 0; o < TO; o++) {
#pragma HLS UNROLL
    acc[o] = 0;
  }
mac_k:
  for (int k0 = 0; k0 < kpad; k0 += TI) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_K / TI
    for (int o = 0; o < TO; o++) {
#pragma HLS UNROLL
      acc_t s = 0;
      for (int i = 0; i < TI; i++) {
#pragma HLS UNROLL
        s += (acc_t)x[k0 + i] * w[o][k0 + i];
      }
      acc[o] += s;
    }
  }
}

// Rows [r0, r0 + nb) x outputs [n0, n0 + TO): MACs, then bias, residual,
// requantisation, optional GELU, and the write of TO/APW beats per row.
static void compute_tile(const word_t* params, word_t* io, const LinearJob& j,
                         const act_t xbuf[TB][MAX_K], const wgt_t w[TO][MAX_K],
                         const wgt_t bvec[MAX_K], int n0, int r0, int nb, const row_t* map_out,
                         const Tables& T) {
  const int kpad = ((j.K + j.K_tail + TI - 1) / TI) * TI;
  const int acc_frac = j.x_frac + j.w_frac;
  const int nout = imin(TO, j.N - n0);
tile_rows:
  for (int r = 0; r < nb; r++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = TB
    acc_t acc[TO];
#pragma HLS ARRAY_PARTITION variable = acc type = complete
    mac_row(xbuf[r], w, kpad, acc);
    act_t res[TO], out[TO];
    if (j.r_mode == RM_IO) {
      read_act(io, j.r_off + (uint32_t)((j.r_row0 + r0 + r) * j.r_stride + n0 / APW), nout, res);
    } else if (j.r_mode == RM_PARAMS) {
      read_act(params, j.r_off + (uint32_t)((j.r_row0 + r0 + r) * j.r_stride + n0 / APW), nout,
               res);
    }
  epilogue:
    for (int o = 0; o < TO; o++) {
#pragma HLS PIPELINE II = 1
      int64_t a = acc[o];
      if (o < nout) {
        if (j.bias) a += shl(bvec[n0 + o], acc_frac - j.b_frac);
        if (j.r_mode != RM_NONE) a += shl(res[o], acc_frac - j.r_frac);
      }
      int64_t y = requant(a, acc_frac, j.y_fmt);
      if (j.gelu) y = gelu_fixed(y, j.y_fmt.f, j.g_fmt, T);
      out[o] = (act_t)y;
    }
    const int dst_row = j.y_scatter ? (int)map_out[r0 + r] : j.y_row0 + r0 + r;
    write_act(io, j.y_off + (uint32_t)(dst_row * j.y_stride + n0 / APW), nout, out);
  }
}

void linear_unit(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const LinearJob& j, const row_t* map_in,
                 const row_t* map_out, const Tables& T, const Model& m) {
  static act_t xbuf[TB][MAX_K];  // input rows of the token block, zero padded to a multiple of TI
  static wgt_t wbuf_a[TO][MAX_K];  // weight tile ping
  static wgt_t wbuf_b[TO][MAX_K];  // weight tile pong
  static wgt_t bvec[MAX_K];  // bias of the whole layer
  static act_t tail[MAX_GATE_IN];  // constant input tail (router task feature)
#pragma HLS ARRAY_PARTITION variable = xbuf type = cyclic factor = TI dim = 2
#pragma HLS ARRAY_PARTITION variable = wbuf_a type = complete dim = 1
#pragma HLS ARRAY_PARTITION variable = wbuf_a type = cyclic factor = TI dim = 2
#pragma HLS ARRAY_PARTITION variable = wbuf_b type = complete dim = 1
#pragma HLS ARRAY_PARTITION variable = wbuf_b type = cyclic factor = TI dim = 2
#pragma HLS BIND_STORAGE variable = xbuf type = ram_2p impl = uram
  if (j.bias) read_wgt(params, j.b_off, j.N, bvec);
  if (j.K_tail) read_act(params, j.tail_off, j.K_tail, tail);
  const int ntiles = (j.N + TO - 1) / TO;
token_blocks:
  for (int r0 = 0; r0 < j.rows; r0 += TB) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = (MAX_TOKENS + TB - 1) / TB
    const int nb = imin(TB, j.rows - r0);
    load_x_block(io, j, map_in, r0, nb, m, tail, xbuf);
    load_w_tile(EDGEMOE_WGT_ARGS, j, 0, wbuf_a);
  out_tiles:
    for (int t = 0; t < ntiles; t++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_K / TO
      // Static ping-pong binding per branch lets the load of tile t+1 (params
      // port) overlap the compute of tile t (on-chip buffers, io port).
      if ((t & 1) == 0) {
        if (t + 1 < ntiles) load_w_tile(EDGEMOE_WGT_ARGS, j, (t + 1) * TO, wbuf_b);
        compute_tile(params, io, j, xbuf, wbuf_a, bvec, t * TO, r0, nb, map_out, T);
      } else {
        if (t + 1 < ntiles) load_w_tile(EDGEMOE_WGT_ARGS, j, (t + 1) * TO, wbuf_a);
        compute_tile(params, io, j, xbuf, wbuf_b, bvec, t * TO, r0, nb, map_out, T);
      }
    }
  }
}
