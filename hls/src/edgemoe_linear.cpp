// The unified linear unit: one R x TI x TO array of DSP48E2 MACs serving every matrix
// product of the engine (patch embedding, Q/K/V, projection, MLP, router logits,
// experts, attention scores and probabilities x values).
//
// Geometry. Per cycle the array takes R rows x TI inputs of x and a TOe x TI slice
// of the stationary w tile, and accumulates R x TOe exact sums. TOe = TO in wide
// mode; in packed mode (x and w both fit 8 bits) two weights that share an x go
// into one DSP (pack_mul: p = x * (w_hi * 2^18 + w_lo)) and TOe = 2 * TO.
//
// Dataflow of a list of jobs (DATAFLOW region, linear_jobs):
//   stream_port     every tile of every job's w from DDR, each port bursting its
//                   share of each tile's rows back to back (outstanding reads hide
//                   the DDR latency once per list) into a FIFO per port;
//   stream_biases   every job's bias vector, beat by beat, into a FIFO;
//   lu_tiles        per job, per output tile: fill the next tile buffer (from the FIFOs, the
//                   query buffer or the probability lanes) while the current tile
//                   computes (ping-pong); per group of R x rows: fetch the rows
//                   (TI words per row per cycle), K/TI MAC cycles (lu_mac, II = 1),
//                   and hand R x TOe sums to the epilogue (bias and residual aligned
//                   into the exact sum, one requantisation, optional GELU, store or
//                   gated scatter-add: EPI_LANES outputs per cycle), which overlaps
//                   the next group's MAC cycles through double-buffered sums.
#include "edgemoe_engine.h"

static_assert(MAX_K % TI == 0, "MAX_K must be a multiple of TI");
static_assert(TB % R == 0, "the token block must be whole row groups");
static_assert(QB % R == 0, "the query block must be whole row groups");
static_assert(TO % APW == 0, "output tiles must cover whole activation beats");
static_assert(TI <= 32, "dot_t is sized for adder trees of at most 32 products");

#define LU_MAX_ROWS (TB > MAX_TOKENS ? TB : MAX_TOKENS)

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
  j.w_row0 = 0;
  j.w_col0 = 0;
  j.out_features = 0;
  j.w_fmt = decode_fmt(0);
  j.slot = 0;
  j.s_frac = 0;
  j.bias = false;
  j.b_off = 0;
  j.b_frac = 0;
  j.residual = RES_NONE;
  j.r_frac = 0;
  j.acc_in = false;
  j.w_col0_beats = 0;
  j.w_row_beats = 0;
  j.prefilled = false;
  j.y_sink = YS_X;
  j.y_col0 = 0;
  j.y_row0 = 0;
  j.y_fmt = decode_fmt(0);
  j.gelu = false;
  j.g_fmt = decode_fmt(0);
  return j;
}

struct JobShape {
  bool packed;
  int toe, kpad, n_tiles, n_groups;
  int row_beats;  // beats read per weight row
  int stride;  // beats per stored weight row
};

static JobShape job_shape(const LinearJob& j) {
  JobShape s;
  s.packed = packed_mode(j.x_fmt, j.w_fmt);
  s.toe = s.packed ? 2 * TO : TO;
  s.kpad = round_up(j.in_features + j.in_tail, TI);
  s.n_tiles = div_roundup(j.out_features, s.toe);
  s.n_groups = div_roundup(j.rows, R);
  s.row_beats = wrow_beats(j.in_features + j.in_tail, j.w_fmt.w);
  s.stride = j.w_row_beats ? j.w_row_beats : s.row_beats;
  return s;
}

// ------------------------------------------------------------ weight streamer
// Port p carries rows [p * per, (p + 1) * per) of every tile, one burst per row range.
static void stream_port(const word_t* wgt, const LinearJob* jobs, int n, int p, fifo<word_t>& out) {
ws_jobs:
  for (int q = 0; q < n; q++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 2 * MAX_EXPERTS
    const LinearJob& j = jobs[q];
    if (j.w_source != WS_DDR) continue;
    const JobShape s = job_shape(j);
    const int per = div_roundup(s.toe, WEIGHT_PORTS);
  ws_tiles:
    for (int t = 0; t < s.n_tiles; t++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_K / TO
      const int n0 = t * s.toe + p * per;
      const int nrows = imin(imin(per, s.toe - p * per), j.out_features - n0);
    ws_rows:
      for (int r = 0; r < nrows; r++) {
        const uint32_t base = j.w_off + (uint32_t)((n0 + r) * s.stride + j.w_col0_beats);
      ws_burst:
        for (int b = 0; b < s.row_beats; b++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_K / WPW
          out.write(wgt[base + b]);
        }
      }
    }
  }
}

// Every job's bias as 16-bit words, eight per beat.
static void stream_biases(const word_t* params, const LinearJob* jobs, int n, fifo<word_t>& out) {
bias_jobs:
  for (int q = 0; q < n; q++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 2 * MAX_EXPERTS
    if (!jobs[q].bias) continue;
  bias_beats:
    for (int b = 0; b < wgt_beats(jobs[q].out_features); b++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_K / WPW
      out.write(params[jobs[q].b_off + b]);
    }
  }
}

// ----------------------------------------------------------------- tile fill
// Tile t of w into wt (TOe rows x kpad): DDR beats from the port FIFOs, queries of
// the head, or probabilities of the query block computed by the probability lanes.
static void fill_tile(const Chip& c, const LinearJob& j, const JobShape& s, int t, fifo<word_t>* ws,
                      const Tables& T, mw_t wt[2 * TO][LU_MAX_IN_PAD]) {
  const int n0 = t * s.toe, kt = j.in_features + j.in_tail;
  if (j.w_source == WS_DDR) {
    const bool narrow = j.w_fmt.w <= 8;
    const int per = div_roundup(s.toe, WEIGHT_PORTS);
  fill_rows:
    for (int o = 0; o < s.toe; o++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 2 * TO
      const bool in = n0 + o < j.out_features;
      for (int b = 0; b < s.row_beats; b++) {
#pragma HLS PIPELINE II = 1
        wgt_t v[WPW8];
        const int words = in ? unpack_wgt(ws[o / per].read(), narrow, v) : 0;
        for (int i = 0; i < WPW8; i++) {
#pragma HLS UNROLL
          const int k = b * (narrow ? WPW8 : WPW) + i;
          if (i < words && k < s.kpad) wt[o][k] = k < kt ? (mw_t)v[i] : (mw_t)0;
        }
      }
      if (!in) {
        for (int k = 0; k < s.kpad; k++) wt[o][k] = 0;
      } else {
        const int filled = s.row_beats * (narrow ? WPW8 : WPW);
        for (int k = filled; k < s.kpad; k++) wt[o][k] = 0;
      }
    }
    return;
  }
fill_chip:
  for (int o = 0; o < s.toe; o++) {
    const int q = j.w_row0 + n0 + o;
    const bool in = n0 + o < j.out_features;
    for (int k = 0; k < s.kpad; k++) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = PROB_LANES / (2 * TO)
      mw_t v = 0;
      if (in && k < j.in_features) {
        if (j.w_source == WS_QUERIES) {
          v = c.q[q][j.w_col0 + k];
        } else {  // WS_PROB: p = e(s - m) / sum (PROB_LANES per cycle)
          v = (mw_t)softmax_output(c.s[j.slot][n0 + o][k], j.s_frac, c.m[j.slot][n0 + o],
                                   c.inv[j.slot][n0 + o], j.w_fmt, T);
        }
      }
      wt[o][k] = v;
    }
  }
}

// ------------------------------------------------------------------ x operand
// One row of x (inputs [0, kpad)), the router's task feature appended, zero padded.
static void fetch_x_row(const Chip& c, const LinearJob& j, int r, const act_t* tail, int kpad,
                        mx_t* row) {
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
        case XS_KEYS: v = c.k[src][j.x_col0 + k]; break;
        default: v = c.v[k][j.x_col0 + src]; break;  // XS_VALUES_T
      }
    } else if (k < kin + j.in_tail) {
      v = tail[k - kin];
    }
    row[k] = v;
  }
}

// ----------------------------------------------------------------- MAC array
// K/TI cycles of the array on one row group and one output tile: DSP column d
// accumulates outputs d (and d + TO in packed mode) of R rows.
static void mac_group(const mx_t x[R][LU_MAX_IN_PAD], const mw_t w[2 * TO][LU_MAX_IN_PAD], int kpad,
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
static void epilogue(Chip& c, const LinearJob& j, const wgt_t* bvec, const acc_t acc[R][2 * TO],
                     int r0, int n0, int toe, const Tables& T) {
  const int acc_frac = j.x_fmt.f + j.w_fmt.f;
  const int nout = imin(toe, j.out_features - n0);
lu_epilogue_rows:
  for (int r = 0; r < R; r++) {
    if (r0 + r >= j.rows) break;
    const int row = j.y_row0 + r0 + r;  // sink (and residual) row
  lu_epilogue:
    for (int o = 0; o < nout; o++) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = EPI_LANES / R
      const int n = n0 + o;
      int64_t a = (int64_t)acc[r][o];
      if (j.y_sink == YS_ACC_SET) {  // raw partial sums of a hidden chunk (no rounding)
        c.acc[row][n] = acc[r][o];
        continue;
      }
      if (j.y_sink == YS_ACC_ADD) {
        c.acc[row][n] += acc[r][o];
        continue;
      }
      if (j.acc_in) a += (int64_t)c.acc[row][n];
      if (j.bias) a += shl(bvec[n], acc_frac - j.b_frac);
      if (j.residual == RES_X) a += shl(c.x[row][n], acc_frac - j.r_frac);
      int64_t y = requant(a, acc_frac, j.y_fmt);
      if (j.gelu) y = gelu_fixed(y, j.y_fmt.f, j.g_fmt, T);
      switch (j.y_sink) {
        case YS_X: c.x[row][n] = (act_t)y; break;
        case YS_K: c.k[row][n] = (act_t)y; break;
        case YS_V: c.v[row][n] = (act_t)y; break;
        case YS_Q: c.q[row][n] = (act_t)y; break;
        case YS_SCORE_T: c.s[j.slot][n][r0 + r] = (act_t)y; break;
        case YS_A_T: c.a[j.y_row0 + n][j.y_col0 + r0 + r] = (act_t)y; break;
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
static void lu_tiles(Chip& c, const LinearJob* jobs, int n, fifo<word_t> ws[WEIGHT_PORTS],
                     fifo<word_t>& biases, const act_t* tail, const Tables& T) {
  static mx_t xg[2][R][LU_MAX_IN_PAD];  // row-group x ping-pong
  static acc_t acc[2][R][2 * TO];  // sums handed to the epilogue
  static wgt_t bvec[MAX_K];  // bias of the current job
#pragma HLS ARRAY_PARTITION variable = xg type = complete dim = 2
#pragma HLS ARRAY_PARTITION variable = xg type = cyclic factor = TI dim = 3
#pragma HLS ARRAY_PARTITION variable = acc type = complete
#pragma HLS BIND_STORAGE variable = bvec type = ram_1p impl = lutram
lu_jobs:
  for (int q = 0; q < n; q++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 2 * MAX_EXPERTS
    const LinearJob& j = jobs[q];
    const JobShape s = job_shape(j);
    if (j.bias) {
    lu_bias:
      for (int b = 0; b < wgt_beats(j.out_features); b++) {
#pragma HLS PIPELINE II = 1
        wgt_t v[WPW8];
        unpack_wgt(biases.read(), false, v);
        for (int i = 0; i < WPW; i++) {
#pragma HLS UNROLL
          if (b * WPW + i < j.out_features) bvec[b * WPW + i] = v[i];
        }
      }
    }
    // Tile t computes from buffer (t & 1); a prefilled first tile from buffer 2.
    if (s.n_tiles > 0 && !j.prefilled) fill_tile(c, j, s, 0, ws, T, c.wt[0]);
  lu_tile_loop:
    for (int t = 0; t < s.n_tiles; t++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = LU_MAX_ROWS / TO
      const int cur = (t == 0 && j.prefilled) ? 2 : (t & 1);
      // Independent of the groups below (the other buffer): overlaps them.
      if (t + 1 < s.n_tiles) fill_tile(c, j, s, t + 1, ws, T, c.wt[(t + 1) & 1]);
    lu_groups:
      for (int g = 0; g < s.n_groups; g++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = LU_MAX_ROWS / R
        for (int r = 0; r < R; r++) {
          if (g * R + r < j.rows) {
            fetch_x_row(c, j, g * R + r, tail, s.kpad, xg[g & 1][r]);
          } else {
            for (int k = 0; k < s.kpad; k++) xg[g & 1][r][k] = 0;
          }
        }
        mac_group(xg[g & 1], c.wt[cur], s.kpad, s.packed, acc[g & 1]);
        epilogue(c, j, bvec, acc[g & 1], g * R, t * s.toe, s.toe, T);
      }
    }
  }
}

void linear_jobs(const word_t* params, EDGEMOE_WGT_DECL, Chip& c, const LinearJob* jobs, int n,
                 const act_t* tail, const Tables& T) {
#pragma HLS DATAFLOW
  fifo<word_t> ws[WEIGHT_PORTS];
  fifo<word_t> biases;
#pragma HLS STREAM variable = ws depth = 256
#pragma HLS STREAM variable = biases depth = 256
#define EM_STREAM_PORT(p, ptr) stream_port(ptr, jobs, n, p, ws[p]);
  EDGEMOE_FOR_EACH_WGT(EM_STREAM_PORT)
#undef EM_STREAM_PORT
  stream_biases(params, jobs, n, biases);
  lu_tiles(c, jobs, n, ws, biases, tail, T);
}

void linear_unit(const word_t* params, EDGEMOE_WGT_DECL, Chip& c, const LinearJob& j,
                 const act_t* tail, const Tables& T) {
  linear_jobs(params, EDGEMOE_WGT_ARGS, c, &j, 1, tail, T);
}

// Tile 0 of an on-chip-filled job into Chip::wt[2], ahead of the job (the attention
// fills the first probability tile of a head while the MAC array computes scores).
void fill_first_tile(const Chip& c, const LinearJob& j, const Tables& T, Chip& out) {
  const JobShape s = job_shape(j);
  fill_tile(c, j, s, 0, 0, T, out.wt[2]);
}
