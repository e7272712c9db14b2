// The unified linear unit: one R x TI x TO array of DSP48E2 MACs serving every matrix
// product of the engine (patch embedding, Q/K/V, projection, MLP, router logits,
// experts, attention scores and probabilities x values).
//
// Geometry. Per cycle the array takes R rows x TI inputs of x and a TO x TI (wide
// mode) or 2*TO x TI (packed mode) slice of w and accumulates R x TOe exact sums
// (TOe = TO or 2*TO). Packed mode, when x and w both fit 8 bits, puts two weights
// that share an x into one DSP: p = x * (w_hi * 2^18 + w_lo), whose low 18 bits
// hold x * w_lo and the rest x * w_hi (pack_mul below) -- two MACs per DSP.
//
// Schedule. Weight-stationary (every job but P x V): for each output tile of TOe
// rows of w (streamed from DDR over the weight ports, or copied from the KV store;
// double-buffered so tile t+1 loads while tile t computes, and the first tile of
// the next job while the last tile of this one computes), for each group of R
// rows: fetch the group's x (double-buffered), run K/TI MAC cycles (lu_mac,
// II = 1), and hand R x TOe sums to the epilogue (bias and residual aligned into
// the exact sum, one requantisation, optional GELU, store or gated scatter-add),
// which overlaps the next group's MAC cycles. Group-major (P x V): for each group
// of R query rows, fetch its probabilities once (computed from the scores by the
// probability lanes), then run every output tile of the head against the value
// store, reusing the fetched probabilities head_dim / TOe times.
#include "edgemoe_engine.h"

static_assert(MAX_K % TI == 0, "MAX_K must be a multiple of TI");
static_assert(TB % R == 0, "the token block must be whole row groups");
static_assert(QB % R == 0, "the query block must be whole row groups");
static_assert(TO % APW == 0, "output tiles must cover whole activation beats");
static_assert(TI <= 32, "dot_t is sized for adder trees of at most 32 products");

// Widest x row the unit reads: MAX_K inputs, or MAX_TOKENS probabilities.
#define LU_MAX_IN (MAX_K > MAX_TOKENS ? MAX_K : MAX_TOKENS)
#define LU_MAX_IN_PAD (((LU_MAX_IN + TI - 1) / TI) * TI)

LinearJob blank_job() {
  LinearJob j;
  j.rows = 0;
  j.x_source = XS_H;
  j.x_gather = false;
  j.map0 = 0;
  j.x_row0 = 0;
  j.x_col0 = 0;
  j.in_features = 0;
  j.in_tail = 0;
  j.x_fmt = decode_fmt(0);
  j.w_source = WS_DDR;
  j.w_off = 0;
  j.out_features = 0;
  j.w_fmt = decode_fmt(0);
  j.bias = false;
  j.b_off = 0;
  j.b_frac = 0;
  j.residual = RES_NONE;
  j.r_frac = 0;
  j.r_row0 = 0;
  j.r_off = 0;
  j.s_frac = 0;
  j.y_sink = YS_X;
  j.y_col0 = 0;
  j.y_row0 = 0;
  j.slot = 0;
  j.y_fmt = decode_fmt(0);
  j.gelu = false;
  j.g_fmt = decode_fmt(0);
  return j;
}

// ------------------------------------------------------------------ x operand
// One row of x (inputs [0, kpad)): activations, a head slice of the queries, or
// probabilities computed from a row of scores; the router's task feature appended.
static void fetch_x_row(const Chip& c, const LinearJob& j, int r, const act_t* tail, int kpad,
                        const Tables& T, mx_t* row) {
  const int src = j.x_gather ? (int)c.map_in[j.map0 + r] : j.x_row0 + r;
  const int kin = j.in_features;
x_fetch:
  for (int k = 0; k < kpad; k++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = LU_MAX_IN_PAD
    mx_t v = 0;
    if (k < kin) {
      switch (j.x_source) {
        case XS_H: v = c.h[src][k]; break;
        case XS_A: v = c.a[src][k]; break;
        case XS_U: v = c.u[src][k]; break;
        case XS_Q: v = c.q[src][j.x_col0 + k]; break;
        default:  // XS_PROB: p = e(s - m) / sum, the probability lanes
          v = (mx_t)softmax_output(c.s[j.slot][src][k], j.s_frac, c.m[j.slot][src],
                                   c.inv[j.slot][src], j.x_fmt, T);
      }
    } else if (k < kin + j.in_tail) {
      v = tail[k - kin];
    }
    row[k] = v;
  }
}

// ------------------------------------------------------------------ w operand
// Output rows [n0, n0 + TOe) x inputs [0, kpad) of w: from DDR (weight ports) or
// from the key store (scores: w[n][k] = K[key n][head column k]).
static void load_w_rows(const word_t* wgt, const LinearJob& j, int n0, int r0, int nrows,
                        int kpad, mw_t w[2 * TO][LU_MAX_IN_PAD]) {
  const bool narrow = j.w_fmt.w <= 8;
  const int kt = j.in_features + j.in_tail;
  const int rb = wrow_beats(kt, j.w_fmt.w);
  const uint32_t base = j.w_off + (uint32_t)((n0 + r0) * rb);
w_burst:
  for (int b = 0; b < nrows * rb; b++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 2 * TO * MAX_K / WPW / WEIGHT_PORTS
    const int o = r0 + b / rb, kb = b % rb;
    wgt_t v[WPW8];
    const int per = unpack_wgt(wgt[base + b], narrow, v);
    for (int i = 0; i < WPW8; i++) {
#pragma HLS UNROLL
      const int k = kb * per + i;
      if (i < per && k < kpad) w[o][k] = k < kt ? (mw_t)v[i] : (mw_t)0;
    }
  }
  (void)kpad;
}

static void load_w_tile(EDGEMOE_WGT_DECL, const Chip& c, const LinearJob& j, int n0, int toe,
                        int kpad, mw_t w[2 * TO][LU_MAX_IN_PAD]) {
  const int nrows = imin(toe, j.out_features - n0);
  if (j.w_source == WS_KEYS) {
  w_keys:
    for (int o = 0; o < toe; o++) {
      for (int k = 0; k < kpad; k++) {
#pragma HLS PIPELINE II = 1
        w[o][k] = (o < nrows && k < j.in_features) ? c.k[n0 + o][j.w_off + k] : (act_t)0;
      }
    }
    return;
  }
  // DDR: rows split evenly over the weight ports, one burst per port, ports in parallel.
  const int per = div_roundup(nrows, WEIGHT_PORTS);
#define EM_LOAD_PORT(p, ptr) \
  if ((p) * per < nrows) load_w_rows(ptr, j, n0, (p) * per, imin(per, nrows - (p) * per), kpad, w);
  EDGEMOE_FOR_EACH_WGT(EM_LOAD_PORT)
#undef EM_LOAD_PORT
w_pad_rows:
  for (int o = nrows; o < toe; o++) {
    for (int k = 0; k < kpad; k++) {
#pragma HLS PIPELINE II = 1
      w[o][k] = 0;
    }
  }
}

// ----------------------------------------------------------------- MAC array
// K/TI cycles of the array on one row group and one output tile: DSP column d
// accumulates outputs d (and d + TO in packed mode) of R rows.
static void mac_group(const mx_t x[R][LU_MAX_IN_PAD], const mw_t (*w)[LU_MAX_IN_PAD], int kpad,
                      bool packed, acc_t acc[R][2 * TO]) {
  for (int r = 0; r < R; r++)
    for (int o = 0; o < 2 * TO; o++) acc[r][o] = 0;
lu_mac:
  for (int k0 = 0; k0 < kpad; k0 += TI) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = LU_MAX_IN_PAD / TI
    for (int d = 0; d < TO; d++) {
#pragma HLS UNROLL
      for (int r = 0; r < R; r++) {
#pragma HLS UNROLL
        dot_t s_lo = 0, s_hi = 0;
        if (packed) {
          for (int i = 0; i < TI; i++) {
#pragma HLS UNROLL
            int ph, pl;
            pack_mul((int)x[r][k0 + i], (int)w[d + TO][k0 + i], (int)w[d][k0 + i], ph, pl);
            s_lo += pl;
            s_hi += ph;
          }
          acc[r][d + TO] += dot_to_acc(s_hi);
        } else {
          for (int i = 0; i < TI; i++) {
#pragma HLS UNROLL
            s_lo += (dot_t)x[r][k0 + i] * (dot_t)w[d][k0 + i];
          }
        }
        acc[r][d] += dot_to_acc(s_lo);
      }
    }
  }
}

// ------------------------------------------------------------------ epilogue
// R x TOe exact sums -> bias, residual, one requantisation, GELU, store / scatter-add.
static void epilogue(const word_t* params, Chip& c, const LinearJob& j, const wgt_t* bvec,
                     const acc_t acc[R][2 * TO], int r0, int n0, int toe, const Tables& T) {
  const int acc_frac = j.x_fmt.f + j.w_fmt.f;
  const int nout = imin(toe, j.out_features - n0);
  act_t pos[2 * TO];
lu_epilogue_rows:
  for (int r = 0; r < R; r++) {
    if (r0 + r >= j.rows) break;
    const int row = j.y_row0 + r0 + r;  // sink (and residual) row
    if (j.residual == RES_POS) {  // position embedding row (params, act words), tile columns
      const uint32_t stride = (uint32_t)act_beats(j.out_features);
      read_act(params, j.r_off + (uint32_t)(j.r_row0 + r0 + r) * stride + (uint32_t)(n0 / APW),
               nout, pos);
    }
  lu_epilogue:
    for (int o = 0; o < toe; o++) {
#pragma HLS PIPELINE II = 1
      if (o >= nout) continue;
      const int n = n0 + o;
      int64_t a = (int64_t)acc[r][o];
      if (j.bias) a += shl(bvec[n], acc_frac - j.b_frac);
      if (j.residual == RES_X) a += shl(c.x[row][n], acc_frac - j.r_frac);
      if (j.residual == RES_POS) a += shl(pos[o], acc_frac - j.r_frac);
      int64_t y = requant(a, acc_frac, j.y_fmt);
      if (j.gelu) y = gelu_fixed(y, j.y_fmt.f, j.g_fmt, T);
      switch (j.y_sink) {
        case YS_X: c.x[row][n] = (act_t)y; break;
        case YS_K: c.k[row][n] = (act_t)y; break;
        case YS_V: c.v[row][n] = (act_t)y; break;
        case YS_Q: c.q[row][n] = (act_t)y; break;
        case YS_SCORE: c.s[j.slot][row][n] = (act_t)y; break;
        case YS_A: c.a[row][j.y_col0 + n] = (act_t)y; break;
        case YS_U: c.u[row][n] = (act_t)y; break;
        case YS_G: c.g[row][n] = (act_t)y; break;
        default: {  // YS_ACC: gated scatter-add of an expert output into its token's combine
          const int e = j.map0 + r0 + r;
          c.acc[c.map_in[e]][n] += (acc_t)((int64_t)c.gate_of[e] * y);
#ifdef EDGEMOE_CSIM_TRACE
          trace_expert_output(c.slot_of[e], n, y);
#endif
        }
      }
    }
  }
}

// ------------------------------------------------------------------- the unit
void linear_unit(const word_t* params, EDGEMOE_WGT_DECL, Chip& c, const LinearJob& j,
                 const act_t* tail, const Tables& T) {
  static mw_t wt[2][2 * TO][LU_MAX_IN_PAD];  // weight tile ping-pong
  static mx_t xg[2][R][LU_MAX_IN_PAD];  // row-group x ping-pong
  static wgt_t bvec[MAX_K > MAX_TOKENS ? MAX_K : MAX_TOKENS];  // bias of the whole layer
  static acc_t acc[R][2 * TO];
#pragma HLS ARRAY_PARTITION variable = wt type = complete dim = 2
#pragma HLS ARRAY_PARTITION variable = wt type = cyclic factor = TI dim = 3
#pragma HLS ARRAY_PARTITION variable = xg type = complete dim = 2
#pragma HLS ARRAY_PARTITION variable = xg type = cyclic factor = TI dim = 3
#pragma HLS ARRAY_PARTITION variable = acc type = complete
#pragma HLS BIND_STORAGE variable = bvec type = ram_1p impl = lutram
  const bool packed = packed_mode(j.x_fmt, j.w_fmt);
  const int toe = packed ? 2 * TO : TO;
  const int kpad = round_up(j.in_features + j.in_tail, TI);
  if (j.bias) read_wgt(params, j.b_off, j.out_features, bvec);
  const int n_tiles = div_roundup(j.out_features, toe), n_groups = div_roundup(j.rows, R);
  if (j.w_source == WS_VALUES) {
    // The head's values as the weight operand: vt[n][key] = V[key][head column n],
    // copied from the value store once per job (prefetched under the previous head).
    static mw_t vt[MAX_HEAD_DIM + 2 * TO][LU_MAX_IN_PAD];
#pragma HLS ARRAY_PARTITION variable = vt type = cyclic factor = 2 * TO dim = 1
#pragma HLS ARRAY_PARTITION variable = vt type = cyclic factor = TI dim = 2
  lu_value_tile:
    for (int key = 0; key < kpad; key++) {
      for (int n = 0; n < n_tiles * toe; n++) {
#pragma HLS PIPELINE II = 1
        const bool in = key < j.in_features && n < j.out_features;
        vt[n][key] = in ? c.v[key][j.w_off + n] : (act_t)0;
      }
    }
  lu_groups_major:
    for (int g = 0; g < n_groups; g++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = QB / R
      for (int r = 0; r < R; r++) {
        if (g * R + r < j.rows) {
          fetch_x_row(c, j, g * R + r, tail, kpad, T, xg[0][r]);
        } else {
          for (int k = 0; k < kpad; k++) xg[0][r][k] = 0;
        }
      }
    lu_tiles_of_group:
      for (int t = 0; t < n_tiles; t++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_HEAD_DIM / TO
        mac_group(xg[0], vt + t * toe, kpad, packed, acc);
        epilogue(params, c, j, bvec, acc, g * R, t * toe, toe, T);
      }
    }
    return;
  }
lu_tiles:
  for (int t = 0; t < n_tiles; t++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_K / TO
    load_w_tile(EDGEMOE_WGT_ARGS, c, j, t * toe, toe, kpad, wt[t & 1]);
  lu_groups:
    for (int g = 0; g < n_groups; g++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = TB / R
      for (int r = 0; r < R; r++) {
        if (g * R + r < j.rows) {
          fetch_x_row(c, j, g * R + r, tail, kpad, T, xg[g & 1][r]);
        } else {
          for (int k = 0; k < kpad; k++) xg[g & 1][r][k] = 0;
        }
      }
      mac_group(xg[g & 1], wt[t & 1], kpad, packed, acc);
      epilogue(params, c, j, bvec, acc, g * R, t * toe, toe, T);
    }
  }
}
