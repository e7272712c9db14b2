// Layers built on the units: patch embedding, LayerNorm, the two phases of a
// transformer block, the dense MLP and the mixture of experts (router, per-expert
// queues, expert-major execution, gated scatter-add, combine).
#include "edgemoe_engine.h"

// A weight-streaming job from DDR: rows of x -> out_features, bias from params.
static LinearJob ddr_job(int rows, int x_source, int in_features, const Fmt& x_fmt, uint32_t w_off,
                         int out_features, const Fmt& w_fmt, uint32_t b_off, const Fmt& b_fmt,
                         int y_sink, const Fmt& y_fmt) {
  LinearJob j = blank_job();
  j.rows = rows;
  j.x_source = x_source;
  j.in_features = in_features;
  j.x_fmt = x_fmt;
  j.w_source = WS_DDR;
  j.w_off = w_off;
  j.out_features = out_features;
  j.w_fmt = w_fmt;
  j.bias = true;
  j.b_off = b_off;
  j.b_frac = b_fmt.f;
  j.y_sink = y_sink;
  j.y_fmt = y_fmt;
  return j;
}

// A block's linear layer (weights / bias / output formats by descriptor field).
static LinearJob block_job(const Block& b, int rows, int x_source, int in_features, int x_fmt,
                           int w_off, int w_fmt, int b_off, int b_fmt, int out_features, int y_sink,
                           int y_fmt) {
  return ddr_job(rows, x_source, in_features, b.fmt(x_fmt), b.off(w_off), out_features,
                 b.fmt(w_fmt), b.off(b_off), b.fmt(b_fmt), y_sink, b.fmt(y_fmt));
}

// ------------------------------------------------------------ patch embedding
// Tokens [row0, row0 + rows) of the residual stream: patches x W^T + bias + pos,
// requantised once; token 0 is cls + pos[0] (aligned to the finer format, exact).
void patch_embed(const word_t* params, EDGEMOE_WGT_DECL, const word_t* io, Chip& c, const Model& m,
                 int row0, int rows, const Tables& T) {
  const int img_row = act_beats(m.img_w);
  const int first = row0 == 0 ? 1 : 0;  // block row of the first patch token
pe_gather:
  for (int r = first; r < rows; r++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = TB
    // Patch n = token - 1: elements (c, py, px) at image rows gy*P+py, columns gx*P+px.
    const int n = row0 + r - 1;
    const int gy = n / m.grid_w, gx = n - gy * m.grid_w;
    for (int ch = 0; ch < m.in_chans; ch++) {
      for (int py = 0; py < m.patch; py++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 16
        const uint32_t src = m.io_in + (uint32_t)((ch * m.img_h + gy * m.patch + py) * img_row) +
                             (uint32_t)(gx * m.patch / APW);
        read_act(io, src, m.patch, c.u[r] + (ch * m.patch + py) * m.patch);
      }
    }
  }
  if (rows > first) {
    // x = patches W^T + b + pos: the position rows are loaded into x and added as the
    // residual, exactly in the accumulator.
    const int stride = act_beats(m.dim);
  pe_pos:
    for (int r = first; r < rows; r++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = TB
      read_act(params, m.off_pos + (uint32_t)((row0 + r) * stride), m.dim, c.x[r]);
    }
    LinearJob j = ddr_job(rows - first, XS_U, m.patch_in, m.input, m.off_patch_w, m.dim, m.patch_w,
                          m.off_patch_b, m.patch_b, YS_X, m.embed);
    j.x_row0 = first;
    j.y_row0 = first;
    j.residual = RES_X;
    j.r_frac = m.pos.f;
    linear_unit(params, EDGEMOE_WGT_ARGS, c, j, 0, T);
  }
  if (row0 == 0) {
    act_t cls[MAX_DIM], pos0[MAX_DIM];
    read_act(params, m.off_cls, m.dim, cls);
    read_act(params, m.off_pos, m.dim, pos0);
    const int cf = m.cls.f > m.pos.f ? m.cls.f : m.pos.f;
  pe_cls:
    for (int d = 0; d < m.dim; d++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_DIM
      const int64_t v = shl(cls[d], cf - m.cls.f) + shl(pos0[d], cf - m.pos.f);
      c.x[0][d] = (act_t)requant(v, cf, m.embed);
    }
  }
}

// ------------------------------------------------------------------ LayerNorm
// h[r] = LN(x[r]) for the block's rows (LN_LANES elements per cycle per pass).
void layernorm_rows(const word_t* params, Chip& c, const Model& m, const Block& b, int which,
                    int x_frac, int rows, const Tables& T) {
  wgt_t gamma[MAX_DIM], beta[MAX_DIM];
  const bool first = which == 1;
  const Fmt gf = b.fmt(first ? BD_FMT_NORM1_W : BD_FMT_NORM2_W);
  const Fmt bf = b.fmt(first ? BD_FMT_NORM1_B : BD_FMT_NORM2_B);
  const Fmt zf = b.fmt(first ? BD_FMT_NORM1_Z : BD_FMT_NORM2_Z);
  const Fmt of = b.fmt(first ? BD_FMT_NORM1 : BD_FMT_NORM2);
  const int64_t eps = b.w[first ? BD_EPS1 : BD_EPS2];
  read_wgt(params, b.off(first ? BD_OFF_NORM1_W : BD_OFF_NORM2_W), m.dim, gamma);
  read_wgt(params, b.off(first ? BD_OFF_NORM1_B : BD_OFF_NORM2_B), m.dim, beta);
ln_rows:
  for (int r = 0; r < rows; r++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = TB
    layernorm_row(c.x[r], m.dim, x_frac, gamma, gf.f, beta, bf.f, eps, zf, of, T, c.h[r]);
  }
}

// LayerNorm 1 of rows [row0, row0 + rows) streamed from io_x (the block is not on chip:
// the engine loads it into x meanwhile, under the queries' linear layer).
void layernorm_rows_io(const word_t* params, const word_t* io, Chip& c, const Model& m,
                       const Block& b, int x_frac, int row0, int rows, const Tables& T) {
  wgt_t gamma[MAX_DIM], beta[MAX_DIM];
  act_t row[MAX_DIM];
  read_wgt(params, b.off(BD_OFF_NORM1_W), m.dim, gamma);
  read_wgt(params, b.off(BD_OFF_NORM1_B), m.dim, beta);
  const int stride = act_beats(m.dim);
ln_io_rows:
  for (int r = 0; r < rows; r++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = TB
    read_act(io, m.io_x + (uint32_t)((row0 + r) * stride), m.dim, row);
    layernorm_row(row, m.dim, x_frac, gamma, b.fmt(BD_FMT_NORM1_W).f, beta, b.fmt(BD_FMT_NORM1_B).f,
                  b.w[BD_EPS1], b.fmt(BD_FMT_NORM1_Z), b.fmt(BD_FMT_NORM1), T, c.h[r]);
  }
}

// ------------------------------------------------------------------ dense MLP
// In hidden chunks of HC columns, one job list: fc1 + GELU of a chunk into u, then
// fc2 of that chunk into the exact accumulators; the last chunk adds the partial
// sums, the bias and the residual, and requantises once (forward.py's fc2).
void dense_mlp(const word_t* params, EDGEMOE_WGT_DECL, Chip& c, const Model& m, const Block& b,
               int x_frac, int row0, int rows, const Tables& T, int block) {
  LinearJob jobs[2 * ((MAX_HIDDEN + HC - 1) / HC)];
  int n = 0;
  const Fmt w1 = b.fmt(BD_FMT_FC1_W), w2 = b.fmt(BD_FMT_FC2_W);
  const int w2_per_beat = w2.w <= 8 ? WPW8 : WPW;
mlp_chunks:
  for (int c0 = 0; c0 < m.mlp_hidden; c0 += HC) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = (MAX_HIDDEN + HC - 1) / HC
    const int hc = imin(HC, m.mlp_hidden - c0);
    const bool first = c0 == 0, last = c0 + hc >= m.mlp_hidden;
    LinearJob fc1 = block_job(b, rows, XS_H, m.dim, BD_FMT_NORM2, BD_OFF_FC1_W, BD_FMT_FC1_W,
                              BD_OFF_FC1_B, BD_FMT_FC1_B, hc, YS_U, BD_FMT_FC1);
    fc1.w_off += (uint32_t)(c0 * wrow_beats(m.dim, w1.w));
    fc1.b_off += (uint32_t)(c0 / WPW);
    fc1.gelu = true;  // GELU fused into the epilogue: hidden -> gelu format
    fc1.g_fmt = b.fmt(BD_FMT_GELU);
    jobs[n++] = fc1;
    LinearJob fc2 = block_job(b, rows, XS_U, hc, BD_FMT_GELU, BD_OFF_FC2_W, BD_FMT_FC2_W,
                              BD_OFF_FC2_B, BD_FMT_FC2_B, m.dim, YS_X, BD_FMT_FC2);
    fc2.w_col0_beats = c0 / w2_per_beat;
    fc2.w_row_beats = wrow_beats(m.mlp_hidden, w2.w);
    if (last) {
      fc2.acc_in = !first;
      fc2.residual = RES_X;
      fc2.r_frac = x_frac;
    } else {
      fc2.bias = false;
      fc2.y_sink = first ? YS_ACC_SET : YS_ACC_ADD;
    }
    jobs[n++] = fc2;
  }
  linear_jobs(params, EDGEMOE_WGT_ARGS, c, jobs, n, 0, T);
#ifdef EDGEMOE_CSIM_TRACE
  if (m.mlp_hidden <= HC) trace_rows(TR_GELU, block, 0, row0, c.u, rows, m.mlp_hidden);
#endif
  (void)row0;
  (void)block;
}

// ----------------------------------------------------------- mixture of experts
// Router of one token: top-k on the raw logits, gate probabilities by the online
// softmax over all experts (no renormalisation unless the descriptor asks for it).
static void route_token(Chip& c, const Model& m, const Fmt& lf, const Fmt& gf, int r,
                        const Tables& T) {
  int64_t lg[MAX_EXPERTS], probs[MAX_EXPERTS];
  int idx[MAX_TOP_K];
  for (int e = 0; e < m.experts; e++) lg[e] = c.g[r][e];
  topk_row(lg, m.experts, m.top_k, idx);
  softmax_row(lg, m.experts, lf.f, gf, T, probs);
  int64_t g[MAX_TOP_K], sum = 0;
  for (int s = 0; s < m.top_k; s++) {
    g[s] = probs[idx[s]];
    sum += g[s];
  }
  if (m.renorm) {
    const PFloat inv = recip_fixed(sum < 1 ? 1 : sum, gf.f, T);
    for (int s = 0; s < m.top_k; s++)
      g[s] = requant(g[s] * inv.mant, gf.f + SPEC_MANT_FRAC + inv.shift, gf);
  }
  for (int s = 0; s < m.top_k; s++) {
    c.route_idx[r][s] = (uint8_t)idx[s];
    c.route_gate[r][s] = (prob_t)g[s];
  }
}

// Per-expert queues of (token, slot) pairs in increasing token order within each
// expert: a stable counting sort (count, prefix sum, place).
static void build_queues(Chip& c, const Model& m, int row0, int rows) {
  int fill[MAX_EXPERTS];
  for (int e = 0; e < m.experts; e++) {
    c.q_count[e] = 0;
    fill[e] = 0;
  }
moe_count:
  for (int r = 0; r < rows; r++)
    for (int s = 0; s < m.top_k; s++) c.q_count[c.route_idx[r][s]]++;
  int acc = 0;
  for (int e = 0; e < m.experts; e++) {
    c.q_start[e] = acc;
    acc += c.q_count[e];
  }
moe_place:
  for (int r = 0; r < rows; r++) {
    for (int s = 0; s < m.top_k; s++) {
      const int e = c.route_idx[r][s];
      const int at = c.q_start[e] + fill[e]++;
      c.map_in[at] = (row_t)r;
      c.gate_of[at] = c.route_gate[r][s];
      c.slot_of[at] = (uint32_t)((row0 + r) * m.top_k + s);
    }
  }
}

void moe_layer(const word_t* params, EDGEMOE_WGT_DECL, Chip& c, const Model& m, const Block& b,
               int x_frac, int task, int row0, int rows, const Tables& T, int block) {
  (void)block;  // traced in C simulation only
  const int gate = m.router == ROUTER_MULTI ? task : 0;
  // Router logits through the linear unit (no bias); router 'task' appends the
  // task feature to every token.
  act_t tail[MAX_GATE_IN];
  const int tail_n = m.gate_in - m.dim;
  if (tail_n > 0) read_act(params, b.off(BD_OFF_FEATURE_0 + task), tail_n, tail);
  LinearJob gj = blank_job();
  gj.rows = rows;
  gj.x_source = XS_H;
  gj.in_features = m.dim;
  gj.in_tail = tail_n;
  gj.x_fmt = b.fmt(BD_FMT_NORM2);
  gj.w_source = WS_DDR;
  gj.w_off = b.off(BD_OFF_GATE_W_0 + gate);
  gj.out_features = m.experts;
  gj.w_fmt = b.fmt(BD_FMT_GATE_W_0 + gate);
  gj.y_sink = YS_G;
  gj.y_fmt = b.fmt(BD_FMT_GATE);
  linear_unit(params, EDGEMOE_WGT_ARGS, c, gj, tail, T);
  EM_TRACE_ROWS(TR_GATE, block, 0, row0, c.g, rows, m.experts);
  const Fmt lf = b.fmt(BD_FMT_GATE), gf = b.fmt(BD_FMT_GATE_PROB);
moe_route:
  for (int r = 0; r < rows; r++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = TB
    route_token(c, m, lf, gf, r, T);
  }
#ifdef EDGEMOE_CSIM_TRACE
  {
    std::vector<int64_t> tg((size_t)rows * m.top_k), ti((size_t)rows * m.top_k);
    for (int r = 0; r < rows; r++)
      for (int s = 0; s < m.top_k; s++) {
        tg[(size_t)r * m.top_k + s] = c.route_gate[r][s];
        ti[(size_t)r * m.top_k + s] = c.route_idx[r][s];
      }
    trace_data(TR_GATE_PROB, block, 0, row0, tg.data(), rows, m.top_k);
    trace_data(TR_ROUTE, block, 0, row0, ti.data(), rows, m.top_k);
  }
#endif
  build_queues(c, m, row0, rows);
  // Combine accumulators start from the residual, aligned exactly.
  const Fmt yf = b.fmt(BD_FMT_H4TOH), of = b.fmt(BD_FMT_COMBINE);
  const int cfrac = gf.f + yf.f;
moe_acc_init:
  for (int r = 0; r < rows; r++)
    for (int d = 0; d < m.dim; d++) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = ACC_LANES
      c.acc[r][d] = (acc_t)shl(c.x[r][d], cfrac - x_frac);
    }
  // Expert-major, one job list: each active expert's weights stream once for the
  // token block (the next expert's while this one computes); its tokens are gathered
  // from h, and its outputs scatter-added with their gates.
  LinearJob jobs[2 * MAX_EXPERTS];
  int nj = 0;
moe_experts:
  for (int e = 0; e < m.experts; e++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_EXPERTS
    const int n = c.q_count[e];
    if (n == 0) continue;
    LinearJob up = block_job(b, n, XS_H, m.dim, BD_FMT_NORM2, BD_OFF_HTOH4_W, BD_FMT_HTOH4_W,
                             BD_OFF_HTOH4_B, BD_FMT_HTOH4_B, m.expert_hidden, YS_U, BD_FMT_HTOH4);
    up.w_off += (uint32_t)(e * m.expert_hidden * wrow_beats(m.dim, up.w_fmt.w));
    up.b_off += (uint32_t)(e * wgt_beats(m.expert_hidden));
    up.x_gather = true;
    up.map0 = c.q_start[e];
    up.gelu = true;
    up.g_fmt = b.fmt(BD_FMT_EGELU);
    jobs[nj++] = up;
    LinearJob down =
        block_job(b, n, XS_U, m.expert_hidden, BD_FMT_EGELU, BD_OFF_H4TOH_W, BD_FMT_H4TOH_W,
                  BD_OFF_H4TOH_B, BD_FMT_H4TOH_B, m.dim, YS_ACC, BD_FMT_H4TOH);
    down.w_off += (uint32_t)(e * m.dim * wrow_beats(m.expert_hidden, down.w_fmt.w));
    down.b_off += (uint32_t)(e * wgt_beats(m.dim));
    down.map0 = c.q_start[e];
    jobs[nj++] = down;
  }
  linear_jobs(params, EDGEMOE_WGT_ARGS, c, jobs, nj, 0, T);
#ifdef EDGEMOE_CSIM_TRACE
  trace_expert_flush(block, (uint32_t)(row0 * m.top_k), rows * m.top_k, m.dim);
#endif
moe_combine:
  for (int r = 0; r < rows; r++)
    for (int d = 0; d < m.dim; d++) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = ACC_LANES
      c.x[r][d] = (act_t)requant((int64_t)c.acc[r][d], cfrac, of);
    }
}

// ------------------------------------------------------------------ one block
// With several token blocks the residual stream lives in io_x and each block passes
// through x in a snake order that overlaps every transfer with compute: the K/V
// phase ascends (block b + 1 loads while the keys and values of block b compute),
// the main phase descends (block b + 1 stores while LayerNorm 1 of block b streams
// from io_x, and block b loads while its queries compute), and the next K/V phase
// starts from block 0, which is still in x. On entry x holds block 0 (not stored).
void run_block(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, Chip& c, const Model& m, int i,
               int task, int x_frac, const Tables& T) {
  Block b;
  load_block(params, m, i, b);
  const int nb = m.token_blocks;
  const bool resident = nb == 1;
kv_blocks:
  for (int tb = 0; tb < nb; tb++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = (MAX_TOKENS + TB - 1) / TB
    const int row0 = tb * TB, rows = imin(TB, m.tokens - row0);
    layernorm_rows(params, c, m, b, 1, x_frac, rows, T);
    EM_TRACE_ROWS(TR_NORM1, i, 0, row0, c.h, rows, m.dim);
    // Independent of the jobs below (they read h): overlaps them.
    if (!resident && tb == 0) store_x(io, c, m, 0, rows);
    if (tb + 1 < nb) load_x(io, c, m, row0 + TB, imin(TB, m.tokens - row0 - TB));
    LinearJob kv[2];
    kv[0] = block_job(b, rows, XS_H, m.dim, BD_FMT_NORM1, BD_OFF_K_W, BD_FMT_K_W, BD_OFF_K_B,
                      BD_FMT_K_B, m.dim, YS_K, BD_FMT_K);
    kv[1] = block_job(b, rows, XS_H, m.dim, BD_FMT_NORM1, BD_OFF_V_W, BD_FMT_V_W, BD_OFF_V_B,
                      BD_FMT_V_B, m.dim, YS_V, BD_FMT_V);
    kv[0].y_row0 = kv[1].y_row0 = row0;
    linear_jobs(params, EDGEMOE_WGT_ARGS, c, kv, 2, 0, T);
  }
  EM_TRACE_ROWS(TR_K, i, 0, 0, c.k, m.tokens, m.dim);
  EM_TRACE_ROWS(TR_V, i, 0, 0, c.v, m.tokens, m.dim);
  // Main phase, last block first: it is in x with LayerNorm 1 in h from the K/V phase.
main_blocks:
  for (int tb = nb - 1; tb >= 0; tb--) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = (MAX_TOKENS + TB - 1) / TB
    const int row0 = tb * TB, rows = imin(TB, m.tokens - row0);
    const bool streamed = tb != nb - 1;
    if (streamed) {  // x holds block tb + 1: store it while LayerNorm 1 streams block tb
      store_x(io, c, m, row0 + TB, imin(TB, m.tokens - row0 - TB));
      layernorm_rows_io(params, io, c, m, b, x_frac, row0, rows, T);
    }
    LinearJob qj = block_job(b, rows, XS_H, m.dim, BD_FMT_NORM1, BD_OFF_Q_W, BD_FMT_Q_W, BD_OFF_Q_B,
                             BD_FMT_Q_B, m.dim, YS_Q, BD_FMT_Q);
    linear_unit(params, EDGEMOE_WGT_ARGS, c, qj, 0, T);
    if (streamed) load_x(io, c, m, row0, rows);  // under the queries' job (reads h)
    EM_TRACE_ROWS(TR_Q, i, 0, row0, c.q, rows, m.dim);
    attention(c, m, b, row0, rows, T, i);
    LinearJob pj = block_job(b, rows, XS_A, m.dim, BD_FMT_ATTN, BD_OFF_PROJ_W, BD_FMT_PROJ_W,
                             BD_OFF_PROJ_B, BD_FMT_PROJ_B, m.dim, YS_X, BD_FMT_PROJ);
    pj.residual = RES_X;  // x = attn @ Wp^T + bp + x, in place
    pj.r_frac = x_frac;
    linear_unit(params, EDGEMOE_WGT_ARGS, c, pj, 0, T);
    EM_TRACE_ROWS(TR_PROJ, i, 0, row0, c.x, rows, m.dim);
    const int x2 = b.fmt(BD_FMT_PROJ).f;
    layernorm_rows(params, c, m, b, 2, x2, rows, T);
    EM_TRACE_ROWS(TR_NORM2, i, 0, row0, c.h, rows, m.dim);
    if (b.moe()) {
      moe_layer(params, EDGEMOE_WGT_ARGS, c, m, b, x2, task, row0, rows, T, i);
      EM_TRACE_ROWS(TR_COMBINE, i, 0, row0, c.x, rows, m.dim);
    } else {
      dense_mlp(params, EDGEMOE_WGT_ARGS, c, m, b, x2, row0, rows, T, i);
      EM_TRACE_ROWS(TR_FC2, i, 0, row0, c.x, rows, m.dim);
    }
  }
}
