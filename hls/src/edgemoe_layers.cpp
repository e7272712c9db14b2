// Layers built on the units: patch embedding, LayerNorm, Q/K/V, projection,
// dense MLP and the mixture of experts (router, per-expert queues,
// expert-major execution, scatter-add combine).
#include "edgemoe_engine.h"

static inline int imin(int a, int b) { return a < b ? a : b; }

// A job with every field cleared (no residual, no gather/scatter, no GELU).
static LinearJob blank_job() {
  LinearJob j;
  j.rows = 0;
  j.x_mode = XM_ROWS;
  j.x_off = 0;
  j.x_stride = 0;
  j.x_row0 = 0;
  j.x_gather = false;
  j.K = 0;
  j.K_tail = 0;
  j.tail_off = 0;
  j.x_frac = 0;
  j.w_off = 0;
  j.N = 0;
  j.w_frac = 0;
  j.bias = false;
  j.b_off = 0;
  j.b_frac = 0;
  j.r_mode = RM_NONE;
  j.r_off = 0;
  j.r_stride = 0;
  j.r_row0 = 0;
  j.r_frac = 0;
  j.y_off = 0;
  j.y_stride = 0;
  j.y_row0 = 0;
  j.y_scatter = false;
  j.y_fmt = decode_fmt(0);
  j.gelu = false;
  j.g_fmt = decode_fmt(0);
  return j;
}

static row_t no_map[1];

// io rows -> io rows through weights `w_off` with bias `b_off`.
static LinearJob rows_job(const Model& m, int rows, uint32_t x_off, int K, int x_frac,
                          uint32_t w_off, int N, const Fmt& wf, uint32_t b_off, const Fmt& bf,
                          uint32_t y_off, int y_cols, const Fmt& yf) {
  LinearJob j = blank_job();
  j.rows = rows;
  j.x_off = x_off;
  j.x_stride = act_beats(K);
  j.K = K;
  j.x_frac = x_frac;
  j.w_off = w_off;
  j.N = N;
  j.w_frac = wf.f;
  j.bias = true;
  j.b_off = b_off;
  j.b_frac = bf.f;
  j.y_off = y_off;
  j.y_stride = act_beats(y_cols);
  j.y_fmt = yf;
  (void)m;
  return j;
}

// ------------------------------------------------------------ patch embedding
void patch_embed(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const Model& m, const Tables& T) {
  // Patches x W^T + bias + pos[1:], requantised once, into token rows 1..N.
  LinearJob j = blank_job();
  j.rows = m.N;
  j.x_mode = XM_PATCHES;
  j.K = m.PIN;
  j.x_frac = m.input.f;
  j.w_off = m.off_patch_w;
  j.N = m.D;
  j.w_frac = m.patch_w.f;
  j.bias = true;
  j.b_off = m.off_patch_b;
  j.b_frac = m.patch_b.f;
  j.r_mode = RM_PARAMS;
  j.r_off = m.off_pos;
  j.r_stride = act_beats(m.D);
  j.r_row0 = 1;
  j.r_frac = m.pos.f;
  j.y_off = m.io_x;
  j.y_stride = act_beats(m.D);
  j.y_row0 = 1;
  j.y_fmt = m.embed;
  linear_unit(params, EDGEMOE_WGT_ARGS, io, j, no_map, no_map, T, m);
  // cls row: cls and pos[0] aligned to the finer of their formats, added
  // exactly, requantised once (FixedArith.patch_embed).
  static act_t cls[MAX_DIM], pos0[MAX_DIM], row[MAX_DIM];
  read_act(params, m.off_cls, m.D, cls);
  read_act(params, m.off_pos, m.D, pos0);
  const int cf = m.cls.f > m.pos.f ? m.cls.f : m.pos.f;
cls_row:
  for (int d = 0; d < m.D; d++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_DIM
    const int64_t c = shl(cls[d], cf - m.cls.f) + shl(pos0[d], cf - m.pos.f);
    row[d] = (act_t)requant(c, cf, m.embed);
  }
  write_act(io, m.io_x, m.D, row);
}

// ------------------------------------------------------------------ LayerNorm
void layernorm_layer(const word_t* params, word_t* io, const Model& m, uint32_t x_off, int x_frac,
                     uint32_t y_off, const Block& b, int which, const Tables& T) {
  static wgt_t gamma[MAX_DIM], beta[MAX_DIM];
  static act_t x[MAX_DIM], y[MAX_DIM];
  const bool first = which == 1;
  const Fmt gf = b.fmt(first ? BD_FMT_NORM1_W : BD_FMT_NORM2_W);
  const Fmt bf = b.fmt(first ? BD_FMT_NORM1_B : BD_FMT_NORM2_B);
  const Fmt zf = b.fmt(first ? BD_FMT_NORM1_Z : BD_FMT_NORM2_Z);
  const Fmt of = b.fmt(first ? BD_FMT_NORM1 : BD_FMT_NORM2);
  const int64_t eps = b.w[first ? BD_EPS1 : BD_EPS2];
  read_wgt(params, b.off(first ? BD_OFF_NORM1_W : BD_OFF_NORM2_W), m.D, gamma);
  read_wgt(params, b.off(first ? BD_OFF_NORM1_B : BD_OFF_NORM2_B), m.D, beta);
  const int stride = act_beats(m.D);
ln_rows:
  for (int t = 0; t < m.T; t++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_TOKENS
    read_act(io, x_off + (uint32_t)(t * stride), m.D, x);
    layernorm_row(x, m.D, x_frac, gamma, gf.f, beta, bf.f, eps, zf, of, T, y);
    write_act(io, y_off + (uint32_t)(t * stride), m.D, y);
  }
}

// ------------------------------------------------------------ attention linears
void qkv_layers(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const Model& m, const Block& b,
                const Tables& T) {
  // The attention scale 1/sqrt(head_dim) is already folded into the q weights.
  const int xf = b.fmt(BD_FMT_NORM1).f;
  const int wf[3] = {BD_FMT_Q_W, BD_FMT_K_W, BD_FMT_V_W};
  const int bfs[3] = {BD_FMT_Q_B, BD_FMT_K_B, BD_FMT_V_B};
  const int yfs[3] = {BD_FMT_Q, BD_FMT_K, BD_FMT_V};
  const int wo[3] = {BD_OFF_Q_W, BD_OFF_K_W, BD_OFF_V_W};
  const int bo[3] = {BD_OFF_Q_B, BD_OFF_K_B, BD_OFF_V_B};
  const uint32_t yo[3] = {m.io_q, m.io_k, m.io_v};
qkv:
  for (int i = 0; i < 3; i++) {
    const LinearJob j = rows_job(m, m.T, m.io_h, m.D, xf, b.off(wo[i]), m.D, b.fmt(wf[i]),
                                 b.off(bo[i]), b.fmt(bfs[i]), yo[i], m.D, b.fmt(yfs[i]));
    linear_unit(params, EDGEMOE_WGT_ARGS, io, j, no_map, no_map, T, m);
  }
}

void proj_layer(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const Model& m, const Block& b, int x_frac,
                const Tables& T) {
  // x = attn @ Wp^T + bp + x: the residual is added in the accumulator, in place.
  LinearJob j = rows_job(m, m.T, m.io_a, m.D, b.fmt(BD_FMT_ATTN).f, b.off(BD_OFF_PROJ_W), m.D,
                         b.fmt(BD_FMT_PROJ_W), b.off(BD_OFF_PROJ_B), b.fmt(BD_FMT_PROJ_B),
                         m.io_x, m.D, b.fmt(BD_FMT_PROJ));
  j.r_mode = RM_IO;
  j.r_off = m.io_x;
  j.r_stride = act_beats(m.D);
  j.r_frac = x_frac;
  linear_unit(params, EDGEMOE_WGT_ARGS, io, j, no_map, no_map, T, m);
}

// ------------------------------------------------------------------ dense MLP
void dense_mlp(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const Model& m, const Block& b, int x_frac,
               const Tables& T, int block) {
  const int hstride = act_beats(m.MLP > m.EH ? m.MLP : m.EH);
  LinearJob fc1 = rows_job(m, m.T, m.io_h, m.D, b.fmt(BD_FMT_NORM2).f, b.off(BD_OFF_FC1_W), m.MLP,
                           b.fmt(BD_FMT_FC1_W), b.off(BD_OFF_FC1_B), b.fmt(BD_FMT_FC1_B), m.io_u,
                           m.MLP, b.fmt(BD_FMT_FC1));
  fc1.y_stride = hstride;
  fc1.gelu = true;  // GELU fused into the epilogue: hidden -> gelu format
  fc1.g_fmt = b.fmt(BD_FMT_GELU);
  linear_unit(params, EDGEMOE_WGT_ARGS, io, fc1, no_map, no_map, T, m);
  EM_TRACE_IO(TR_GELU, block, io, m.io_u, m.T, m.MLP);
  LinearJob fc2 = rows_job(m, m.T, m.io_u, m.MLP, b.fmt(BD_FMT_GELU).f, b.off(BD_OFF_FC2_W), m.D,
                           b.fmt(BD_FMT_FC2_W), b.off(BD_OFF_FC2_B), b.fmt(BD_FMT_FC2_B), m.io_x,
                           m.D, b.fmt(BD_FMT_FC2));
  fc2.x_stride = hstride;
  fc2.r_mode = RM_IO;
  fc2.r_off = m.io_x;
  fc2.r_stride = act_beats(m.D);
  fc2.r_frac = x_frac;
  linear_unit(params, EDGEMOE_WGT_ARGS, io, fc2, no_map, no_map, T, m);
  (void)block;
}

// ----------------------------------------------------------- mixture of experts
static int route_idx[MAX_TOKENS][MAX_TOP_K];  // experts per token, best first
static prob_t route_gate[MAX_TOKENS][MAX_TOP_K];  // their gate values (gate_prob format)
static row_t queue[MAX_TOKENS * MAX_TOP_K];  // Y row (token * k + slot), grouped by expert
static row_t queue_tok[MAX_TOKENS * MAX_TOP_K];  // its token (kept: no divider needed)
static row_t map_in[MAX_TOKENS], map_out[MAX_TOKENS];
static int q_count[MAX_EXPERTS], q_start[MAX_EXPERTS];

// Router: top-k on the raw logits, gate probabilities by online softmax over
// all experts (no renormalisation unless the descriptor asks for it).
static void route(const word_t* io, const Model& m, const Block& b, const Tables& T) {
  const Fmt lf = b.fmt(BD_FMT_GATE), gf = b.fmt(BD_FMT_GATE_PROB);
  act_t lg_act[MAX_EXPERTS];
  int64_t lg[MAX_EXPERTS], probs[MAX_EXPERTS];
  int idx[MAX_TOP_K];
route_tokens:
  for (int t = 0; t < m.T; t++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_TOKENS
    read_act(io, m.io_g + (uint32_t)(t * act_beats(m.E)), m.E, lg_act);
    for (int e = 0; e < m.E; e++) lg[e] = lg_act[e];
    topk_row(lg, m.E, m.K, idx);
    softmax_row(lg, m.E, lf.f, gf, T, probs);
    int64_t g[MAX_TOP_K], sum = 0;
    for (int s = 0; s < m.K; s++) {
      g[s] = probs[idx[s]];
      sum += g[s];
    }
    if (m.renorm) {
      const PFloat inv = recip_fixed(sum < 1 ? 1 : sum, gf.f, T);
      for (int s = 0; s < m.K; s++) {
        g[s] = requant(g[s] * inv.mant, gf.f + SPEC_MANT_FRAC + inv.shift, gf);
      }
    }
    for (int s = 0; s < m.K; s++) {
      route_idx[t][s] = idx[s];
      route_gate[t][s] = (prob_t)g[s];
    }
  }
}

// Per-expert queues of (token * k + slot), in increasing order within each
// expert: a stable counting sort (count, prefix sum, place).
static void build_queues(const Model& m) {
  int fill[MAX_EXPERTS];
  for (int e = 0; e < m.E; e++) {
    q_count[e] = 0;
    fill[e] = 0;
  }
  for (int t = 0; t < m.T; t++) {
    for (int s = 0; s < m.K; s++) q_count[route_idx[t][s]]++;
  }
  int acc = 0;
  for (int e = 0; e < m.E; e++) {
    q_start[e] = acc;
    acc += q_count[e];
  }
  for (int t = 0; t < m.T; t++) {
    for (int s = 0; s < m.K; s++) {
      const int e = route_idx[t][s];
      const int at = q_start[e] + fill[e]++;
      queue[at] = (row_t)(t * m.K + s);
      queue_tok[at] = (row_t)t;
    }
  }
}

// x = x + sum_slots gate * y, exact in the accumulator, requantised once.
static void combine(word_t* io, const Model& m, const Block& b, int x_frac) {
  const Fmt gf = b.fmt(BD_FMT_GATE_PROB), yf = b.fmt(BD_FMT_H4TOH), of = b.fmt(BD_FMT_COMBINE);
  const int frac = gf.f + yf.f;
  const int stride = act_beats(m.D);
  static act_t x[MAX_DIM], y[MAX_DIM];
  static int64_t acc[MAX_DIM];
combine_tokens:
  for (int t = 0; t < m.T; t++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_TOKENS
    read_act(io, m.io_x + (uint32_t)(t * stride), m.D, x);
    for (int d = 0; d < m.D; d++) acc[d] = shl(x[d], frac - x_frac);
    for (int s = 0; s < m.K; s++) {
      read_act(io, m.io_y + (uint32_t)((t * m.K + s) * stride), m.D, y);
      const int64_t g = route_gate[t][s];
      for (int d = 0; d < m.D; d++) {
#pragma HLS PIPELINE II = 1
        acc[d] += g * y[d];
      }
    }
    for (int d = 0; d < m.D; d++) x[d] = (act_t)requant(acc[d], frac, of);
    write_act(io, m.io_x + (uint32_t)(t * stride), m.D, x);
  }
}

void moe_layer(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const Model& m, const Block& b, int x_frac,
               int task, const Tables& T, int block) {
  const int h_frac = b.fmt(BD_FMT_NORM2).f;
  const int gate = m.router == ROUTER_MULTI ? task : 0;
  // Router logits through the linear unit (no bias); router 'task' appends the
  // task feature to every token.
  LinearJob gj = blank_job();
  gj.rows = m.T;
  gj.x_off = m.io_h;
  gj.x_stride = act_beats(m.D);
  gj.K = m.D;
  gj.K_tail = m.GIN - m.D;
  gj.tail_off = b.off(BD_OFF_FEATURE_0 + task);
  gj.x_frac = h_frac;
  gj.w_off = b.off(BD_OFF_GATE_W_0 + gate);
  gj.N = m.E;
  gj.w_frac = b.fmt(BD_FMT_GATE_W_0 + gate).f;
  gj.y_off = m.io_g;
  gj.y_stride = act_beats(m.E);
  gj.y_fmt = b.fmt(BD_FMT_GATE);
  linear_unit(params, EDGEMOE_WGT_ARGS, io, gj, no_map, no_map, T, m);
  EM_TRACE_IO(TR_GATE, block, io, m.io_g, m.T, m.E);
  route(io, m, b, T);
#ifdef EDGEMOE_CSIM_TRACE
  {
    static int64_t tr_g[MAX_TOKENS * MAX_TOP_K], tr_i[MAX_TOKENS * MAX_TOP_K];
    for (int t = 0; t < m.T; t++)
      for (int s = 0; s < m.K; s++) {
        tr_g[t * m.K + s] = route_gate[t][s];
        tr_i[t * m.K + s] = route_idx[t][s];
      }
    trace_data(TR_GATE_PROB, block, 0, 0, tr_g, m.T, m.K);
    trace_data(TR_ROUTE, block, 0, 0, tr_i, m.T, m.K);
  }
#endif
  build_queues(m);
  const int hd_beats = act_beats(m.D), he_beats = act_beats(m.MLP > m.EH ? m.MLP : m.EH);
  const Fmt w1 = b.fmt(BD_FMT_HTOH4_W), b1 = b.fmt(BD_FMT_HTOH4_B);
  const Fmt w2 = b.fmt(BD_FMT_H4TOH_W), b2 = b.fmt(BD_FMT_H4TOH_B);
  // Expert-major: each active expert's weights stream once (per TB tokens of
  // its queue); its tokens are gathered from H, and its outputs scattered to
  // Y rows token*k + slot for the combine.
experts:
  for (int e = 0; e < m.E; e++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_EXPERTS
    const int c = q_count[e];
    if (c == 0) continue;
    for (int i = 0; i < c; i++) {
      map_in[i] = queue_tok[q_start[e] + i];
      map_out[i] = queue[q_start[e] + i];
    }
    LinearJob up = rows_job(m, c, m.io_h, m.D, h_frac,
                            b.off(BD_OFF_HTOH4_W) + (uint32_t)(e * m.EH * wgt_beats(m.D)), m.EH, w1,
                            b.off(BD_OFF_HTOH4_B) + (uint32_t)(e * wgt_beats(m.EH)), b1, m.io_u,
                            m.EH, b.fmt(BD_FMT_HTOH4));
    up.x_gather = true;
    up.y_stride = he_beats;
    up.gelu = true;
    up.g_fmt = b.fmt(BD_FMT_EGELU);
    linear_unit(params, EDGEMOE_WGT_ARGS, io, up, map_in, no_map, T, m);
    LinearJob down = rows_job(m, c, m.io_u, m.EH, b.fmt(BD_FMT_EGELU).f,
                              b.off(BD_OFF_H4TOH_W) + (uint32_t)(e * m.D * wgt_beats(m.EH)), m.D,
                              w2, b.off(BD_OFF_H4TOH_B) + (uint32_t)(e * wgt_beats(m.D)), b2,
                              m.io_y, m.D, b.fmt(BD_FMT_H4TOH));
    down.x_stride = he_beats;
    down.y_stride = hd_beats;
    down.y_scatter = true;
    linear_unit(params, EDGEMOE_WGT_ARGS, io, down, no_map, map_out, T, m);
  }
  EM_TRACE_IO(TR_EXPERT_Y, block, io, m.io_y, m.T * m.K, m.D);
  combine(io, m, b, x_frac);
}
