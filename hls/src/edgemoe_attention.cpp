// Multi-head attention with the contract's single-pass softmax.
//
// Reordering (Edge-MoE): QR query rows are processed together so that every
// streamed K and V block is shared by QR rows; bandwidth stays constant as
// parallelism grows. Per head and query group:
//   pass 1: scores s = requant(q . k) arrive in key order and update the
//           online max/sum of each row; they are kept on chip (QR x T);
//   pass 2: p = requant(e(s - m) * (1/sum)) and out += p * v, exactly;
//           out is requantised once to the attention output format.
#include "edgemoe_engine.h"

static inline int imin(int a, int b) { return a < b ? a : b; }

// Rows [j0, j0 + n) of one head's slice of K or V.
static void load_kv(const word_t* io, uint32_t base, int stride, int hoff, int j0, int n, int hd,
                    act_t buf[KVB][MAX_HEAD_DIM]) {
kv_rows:
  for (int r = 0; r < n; r++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = KVB
    read_act(io, base + (uint32_t)((j0 + r) * stride + hoff), hd, buf[r]);
  }
}

struct AttnFormats {
  Fmt score, prob, out;
  int qk_frac, s_frac, pv_frac;
};

// Pass 1 on one K block: each key row is shared by the QR query rows
// (QR x ATT_LANES MACs per cycle); scores update the online softmax per row.
static void score_block(const act_t qbuf[QR][MAX_HEAD_DIM], const act_t kb[KVB][MAX_HEAD_DIM],
                        int j0, int nj, int nq, int hd, const AttnFormats& F,
                        act_t sbuf[QR][MAX_TOKENS], OnlineSoftmax st[QR], const Tables& T) {
score_keys:
  for (int jj = 0; jj < nj; jj++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = KVB
    const int j = j0 + jj;
    acc_t dot[QR];
#pragma HLS ARRAY_PARTITION variable = dot type = complete
    for (int r = 0; r < QR; r++) {
#pragma HLS UNROLL
      dot[r] = 0;
    }
  score_dot:
    for (int d0 = 0; d0 < hd; d0 += ATT_LANES) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_HEAD_DIM / ATT_LANES
      for (int r = 0; r < QR; r++) {
#pragma HLS UNROLL
        for (int l = 0; l < ATT_LANES; l++) {
#pragma HLS UNROLL
          if (d0 + l < hd) dot[r] += (acc_t)qbuf[r][d0 + l] * kb[jj][d0 + l];
        }
      }
    }
  score_rows:
    for (int r = 0; r < QR; r++) {
#pragma HLS UNROLL
      if (r < nq) {
        const int64_t s = requant(dot[r], F.qk_frac, F.score);
        sbuf[r][j] = (act_t)s;
        if (j == 0) {
          softmax_first(st[r], s);
        } else {
          softmax_update(st[r], s, F.s_frac, T);
        }
      }
    }
  }
}

// Pass 2 on one V block: probabilities of the QR rows times each shared
// value row, accumulated exactly.
static void pv_block(const act_t vb[KVB][MAX_HEAD_DIM], const act_t sbuf[QR][MAX_TOKENS], int j0,
                     int nj, int nq, int hd, const AttnFormats& F, const OnlineSoftmax st[QR],
                     const PFloat inv[QR], acc_t obuf[QR][MAX_HEAD_DIM], const Tables& T,
                     int64_t* prob_trace, int T_tokens) {
pv_keys:
  for (int jj = 0; jj < nj; jj++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = KVB
    const int j = j0 + jj;
    int64_t p[QR];
#pragma HLS ARRAY_PARTITION variable = p type = complete
  pv_probs:
    for (int r = 0; r < QR; r++) {
#pragma HLS UNROLL
      p[r] = r < nq ? softmax_output(sbuf[r][j], F.s_frac, st[r].m, inv[r], F.prob, T) : 0;
      if (prob_trace && r < nq) prob_trace[r * T_tokens + j] = p[r];
    }
  pv_acc:
    for (int d0 = 0; d0 < hd; d0 += ATT_LANES) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_HEAD_DIM / ATT_LANES
      for (int r = 0; r < QR; r++) {
#pragma HLS UNROLL
        for (int l = 0; l < ATT_LANES; l++) {
#pragma HLS UNROLL
          if (d0 + l < hd) obuf[r][d0 + l] += p[r] * vb[jj][d0 + l];
        }
      }
    }
  }
}

void attention(word_t* io, const Model& m, const Block& b, const Tables& T, int block) {
  static act_t qbuf[QR][MAX_HEAD_DIM];  // the query group
  static act_t kv_a[KVB][MAX_HEAD_DIM];  // K/V block ping
  static act_t kv_b[KVB][MAX_HEAD_DIM];  // K/V block pong
  static act_t sbuf[QR][MAX_TOKENS];  // score rows of the query group
  static acc_t obuf[QR][MAX_HEAD_DIM];  // exact P x V accumulators
#pragma HLS ARRAY_PARTITION variable = qbuf type = complete dim = 1
#pragma HLS ARRAY_PARTITION variable = qbuf type = cyclic factor = ATT_LANES dim = 2
#pragma HLS ARRAY_PARTITION variable = kv_a type = cyclic factor = ATT_LANES dim = 2
#pragma HLS ARRAY_PARTITION variable = kv_b type = cyclic factor = ATT_LANES dim = 2
#pragma HLS ARRAY_PARTITION variable = sbuf type = complete dim = 1
#pragma HLS ARRAY_PARTITION variable = obuf type = complete dim = 1
#pragma HLS ARRAY_PARTITION variable = obuf type = cyclic factor = ATT_LANES dim = 2
  AttnFormats F;
  F.score = b.fmt(BD_FMT_SCORE);
  F.prob = b.fmt(BD_FMT_PROB);
  F.out = b.fmt(BD_FMT_ATTN);
  F.qk_frac = b.fmt(BD_FMT_Q).f + b.fmt(BD_FMT_K).f;
  F.s_frac = F.score.f;
  F.pv_frac = F.prob.f + b.fmt(BD_FMT_V).f;
  const int stride = act_beats(m.D);
  const int nblocks = (m.T + KVB - 1) / KVB;
  int64_t* prob_trace = 0;
#ifdef EDGEMOE_CSIM_TRACE
  static int64_t tr_s[QR * MAX_TOKENS], tr_p[QR * MAX_TOKENS];
  prob_trace = tr_p;
#endif
heads:
  for (int h = 0; h < m.H; h++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_HEADS
    const int hoff = h * m.HD / APW;
  query_groups:
    for (int t0 = 0; t0 < m.T; t0 += QR) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_TOKENS / QR
      const int nq = imin(QR, m.T - t0);
      for (int r = 0; r < nq; r++) {
        read_act(io, m.io_q + (uint32_t)((t0 + r) * stride + hoff), m.HD, qbuf[r]);
      }
      OnlineSoftmax st[QR];
      load_kv(io, m.io_k, stride, hoff, 0, imin(KVB, m.T), m.HD, kv_a);
    k_blocks:
      for (int kb = 0; kb < nblocks; kb++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_TOKENS / KVB
        const int j0 = kb * KVB, nj = imin(KVB, m.T - j0);
        const int jn = j0 + KVB;
        if ((kb & 1) == 0) {
          if (kb + 1 < nblocks)
            load_kv(io, m.io_k, stride, hoff, jn, imin(KVB, m.T - jn), m.HD, kv_b);
          score_block(qbuf, kv_a, j0, nj, nq, m.HD, F, sbuf, st, T);
        } else {
          if (kb + 1 < nblocks)
            load_kv(io, m.io_k, stride, hoff, jn, imin(KVB, m.T - jn), m.HD, kv_a);
          score_block(qbuf, kv_b, j0, nj, nq, m.HD, F, sbuf, st, T);
        }
      }
      PFloat inv[QR];
      for (int r = 0; r < nq; r++) {
        inv[r] = recip_fixed(st[r].s, SPEC_SOFTMAX_SUM_FRAC, T);
        for (int d = 0; d < m.HD; d++) obuf[r][d] = 0;
      }
      load_kv(io, m.io_v, stride, hoff, 0, imin(KVB, m.T), m.HD, kv_a);
    v_blocks:
      for (int kb = 0; kb < nblocks; kb++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_TOKENS / KVB
        const int j0 = kb * KVB, nj = imin(KVB, m.T - j0);
        const int jn = j0 + KVB;
        if ((kb & 1) == 0) {
          if (kb + 1 < nblocks)
            load_kv(io, m.io_v, stride, hoff, jn, imin(KVB, m.T - jn), m.HD, kv_b);
          pv_block(kv_a, sbuf, j0, nj, nq, m.HD, F, st, inv, obuf, T, prob_trace, m.T);
        } else {
          if (kb + 1 < nblocks)
            load_kv(io, m.io_v, stride, hoff, jn, imin(KVB, m.T - jn), m.HD, kv_a);
          pv_block(kv_b, sbuf, j0, nj, nq, m.HD, F, st, inv, obuf, T, prob_trace, m.T);
        }
      }
    out_rows:
      for (int r = 0; r < nq; r++) {
        act_t out[MAX_HEAD_DIM];
        for (int d = 0; d < m.HD; d++) out[d] = (act_t)requant(obuf[r][d], F.pv_frac, F.out);
        write_act(io, m.io_a + (uint32_t)((t0 + r) * stride + hoff), m.HD, out);
      }
#ifdef EDGEMOE_CSIM_TRACE
      for (int r = 0; r < nq; r++)
        for (int j = 0; j < m.T; j++) tr_s[r * m.T + j] = sbuf[r][j];
      trace_data(TR_SCORE, block, h, t0, tr_s, nq, m.T);
      trace_data(TR_PROB, block, h, t0, tr_p, nq, m.T);
#endif
    }
  }
  EM_TRACE_IO(TR_ATTN, block, io, m.io_a, m.T, m.D);
  (void)block;
}
