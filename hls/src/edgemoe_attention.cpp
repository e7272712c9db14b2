// Multi-head attention of one token block against the KV store, with the contract's
// single-pass softmax.
//
// Per query block of QB rows and head h, three steps share the MAC array with the
// softmax unit in a software pipeline over heads (three score slots in flight):
//   scores       S_h on the MAC array: key rows of the head stream through it against
//                a stationary tile of queries; requantised into slot h % 3;
//   statistics   the online max and sum of every row in key order (the softmax
//                unit: SL rows in parallel, one key per row per cycle), then 1 / sum;
//   values       O_h on the MAC array: value columns stream through it against a
//                stationary tile of probabilities, which the probability lanes
//                compute from the slot (one exp and one multiply each).
// Step s runs scores(s), statistics(s - 1) and values(s - 2): the softmax unit
// works on one head while the MAC array computes the next head's scores and the
// previous head's values, so attention costs the MAC array's cycles.
#include "edgemoe_engine.h"

struct AttnFormats {
  Fmt q, k, v, score, prob, out;
};

static const word_t* const no_port = 0;
#define EM_NO_PORT(p, name) , no_port

// S^T = K_h Q_h^T: key rows stream through the MAC array against a stationary tile
// of TOe queries; the epilogue writes the scores transposed into the slot.
static void scores(Chip& c, const Model& m, const AttnFormats& F, int qb0, int nq, int h,
                   const Tables& T) {
  LinearJob j = blank_job();
  j.rows = m.tokens;
  j.x_source = XS_KEYS;
  j.x_col0 = h * m.head_dim;
  j.in_features = m.head_dim;
  j.x_fmt = F.k;
  j.w_source = WS_QUERIES;
  j.w_row0 = qb0;
  j.w_col0 = h * m.head_dim;
  j.out_features = nq;
  j.w_fmt = F.q;
  j.y_sink = YS_SCORE_T;
  j.slot = h % 3;
  j.y_fmt = F.score;
  linear_unit(no_port EDGEMOE_FOR_EACH_WGT(EM_NO_PORT), c, j, 0, T);
}

// Online max / sum of every score row of a slot, keys in index order. SL lanes,
// one row each; a lane takes one key per cycle and stalls SM_STALL cycles at a new
// running max (the rescale multiply and the exp pipeline refill).
static void statistics(Chip& c, const Model& m, const AttnFormats& F, int nq, int slot,
                       const Tables& T) {
  OnlineSoftmax st[SL];
#pragma HLS ARRAY_PARTITION variable = st type = complete
sm_row_groups:
  for (int r0 = 0; r0 < nq; r0 += SL) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = QB / SL
  sm_keys:
    for (int j = 0; j < m.tokens; j++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_TOKENS
      for (int l = 0; l < SL; l++) {
#pragma HLS UNROLL
        if (r0 + l >= nq) continue;
        const int64_t x = c.s[slot][r0 + l][j];
        if (j == 0) {
          softmax_first(st[l], x);
        } else {
          softmax_update(st[l], x, F.score.f, T);
        }
      }
    }
  sm_finish:
    for (int l = 0; l < SL; l++) {
      if (r0 + l >= nq) break;
      c.m[slot][r0 + l] = st[l].m;
      c.inv[slot][r0 + l] = recip_fixed(st[l].s, SPEC_SOFTMAX_SUM_FRAC, T);
    }
  }
}

// O_h^T = V_h^T P_h^T: head columns of the values stream through the MAC array
// against a stationary tile of TOe queries' probabilities (computed from the slot by
// the probability lanes while the previous tile computes); written transposed into A.
static LinearJob values_job(const Model& m, const AttnFormats& F, int qb0, int nq, int h) {
  LinearJob j = blank_job();
  j.rows = m.head_dim;
  j.x_source = XS_VALUES_T;
  j.x_col0 = h * m.head_dim;
  j.in_features = m.tokens;
  j.x_fmt = F.v;
  j.w_source = WS_PROB;
  j.slot = h % 3;
  j.s_frac = F.score.f;
  j.out_features = nq;
  j.w_fmt = F.prob;
  j.y_sink = YS_A_T;
  j.y_row0 = qb0;
  j.y_col0 = h * m.head_dim;
  j.y_fmt = F.out;
  return j;
}

static void values(Chip& c, const Model& m, const AttnFormats& F, int qb0, int nq, int h,
                   const Tables& T) {
  LinearJob j = values_job(m, F, qb0, nq, h);
  j.prefilled = true;  // tile 0 was filled during this step's scores
  linear_unit(no_port EDGEMOE_FOR_EACH_WGT(EM_NO_PORT), c, j, 0, T);
}

#ifdef EDGEMOE_CSIM_TRACE
// Scores and probabilities of one head and query block, as forward.py records them.
static void trace_head(const Chip& c, const Model& m, const AttnFormats& F, int block, int h,
                       int first_row, int nq, const Tables& T) {
  const int slot = h % 3;
  std::vector<int64_t> s((size_t)nq * m.tokens), p((size_t)nq * m.tokens);
  for (int r = 0; r < nq; r++)
    for (int j = 0; j < m.tokens; j++) {
      s[(size_t)r * m.tokens + j] = c.s[slot][r][j];
      p[(size_t)r * m.tokens + j] =
          softmax_output(c.s[slot][r][j], F.score.f, c.m[slot][r], c.inv[slot][r], F.prob, T);
    }
  trace_data(TR_SCORE, block, h, first_row, s.data(), nq, m.tokens);
  trace_data(TR_PROB, block, h, first_row, p.data(), nq, m.tokens);
}
#endif

void attention(Chip& c, const Model& m, const Block& b, int row0, int rows, const Tables& T,
               int block) {
  AttnFormats F;
  F.q = b.fmt(BD_FMT_Q);
  F.k = b.fmt(BD_FMT_K);
  F.v = b.fmt(BD_FMT_V);
  F.score = b.fmt(BD_FMT_SCORE);
  F.prob = b.fmt(BD_FMT_PROB);
  F.out = b.fmt(BD_FMT_ATTN);
attn_query_blocks:
  for (int qb0 = 0; qb0 < rows; qb0 += QB) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = TB / QB
    const int nq = imin(QB, rows - qb0);
  attn_steps:
    for (int s = 0; s < m.heads + 2; s++) {
#pragma HLS LOOP_TRIPCOUNT min = 3 max = MAX_HEADS + 2
      // Independent within a step: three different score slots. The probability lanes
      // fill the first tile of values(s - 2) while the MAC array computes scores(s).
      if (s >= 2) fill_first_tile(c, values_job(m, F, qb0, nq, s - 2), T, c);
      if (s < m.heads) scores(c, m, F, qb0, nq, s, T);
      if (s >= 1 && s - 1 < m.heads) {
        statistics(c, m, F, nq, (s - 1) % 3, T);
#ifdef EDGEMOE_CSIM_TRACE
        trace_head(c, m, F, block, s - 1, row0 + qb0, nq, T);
#endif
      }
      if (s >= 2) values(c, m, F, qb0, nq, s - 2, T);
    }
  }
  EM_TRACE_ROWS(TR_ATTN, block, 0, row0, c.a, rows, m.dim);
  (void)row0;
  (void)block;
}
