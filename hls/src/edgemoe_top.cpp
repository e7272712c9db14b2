// Top function: descriptor decoding and checking, table loading, the block schedule.
//
// Nothing runs on a descriptor that the synthesised buffers cannot hold or
// whose formats the datapath cannot align: the kernel reports the reason in
// the status register instead of running past a buffer, and io is untouched.
#include "edgemoe_engine.h"

// ----------------------------------------------------------------- descriptor
int decode_model(const word_t* params, Model& m) {
  uint32_t g[GD_COUNT];
  read_u32(params, 0, GD_COUNT, g);
  if (g[GD_MAGIC] != DESC_MAGIC || g[GD_VERSION] != DESC_VERSION) return STATUS_BAD_MAGIC;
  if (g[GD_ACT_W] != EDGEMOE_ACT_W) return STATUS_BAD_ACT_W;
  m.params_beats = g[GD_PARAMS_BEATS];
  m.io_beats = g[GD_IO_BEATS];
  m.tokens = g[GD_TOKENS];
  m.patches = g[GD_PATCHES];
  m.dim = g[GD_DIM];
  m.heads = g[GD_HEADS];
  m.head_dim = g[GD_HEAD_DIM];
  m.mlp_hidden = g[GD_MLP_HIDDEN];
  m.expert_hidden = g[GD_EXPERT_HIDDEN];
  m.experts = g[GD_EXPERTS];
  m.top_k = g[GD_TOP_K];
  m.tasks = g[GD_TASKS];
  m.depth = g[GD_DEPTH];
  m.in_chans = g[GD_IN_CHANS];
  m.patch = g[GD_PATCH];
  m.img_h = g[GD_IMG_H];
  m.img_w = g[GD_IMG_W];
  m.grid_h = g[GD_GRID_H];
  m.grid_w = g[GD_GRID_W];
  m.patch_in = g[GD_PATCH_IN];
  m.router = g[GD_ROUTER];
  m.gate_in = g[GD_GATE_IN];
  m.renorm = g[GD_RENORM];
  const int fmts[6] = {GD_FMT_INPUT, GD_FMT_PATCH_W, GD_FMT_PATCH_B,
                       GD_FMT_POS,   GD_FMT_CLS,     GD_FMT_EMBED};
  for (int i = 0; i < 6; i++) {
    if (!fmt_present(g[fmts[i]])) return STATUS_BAD_FORMAT;
  }
  m.input = decode_fmt(g[GD_FMT_INPUT]);
  m.patch_w = decode_fmt(g[GD_FMT_PATCH_W]);
  m.patch_b = decode_fmt(g[GD_FMT_PATCH_B]);
  m.pos = decode_fmt(g[GD_FMT_POS]);
  m.cls = decode_fmt(g[GD_FMT_CLS]);
  m.embed = decode_fmt(g[GD_FMT_EMBED]);
  m.off_patch_w = g[GD_OFF_PATCH_W];
  m.off_patch_b = g[GD_OFF_PATCH_B];
  m.off_cls = g[GD_OFF_CLS];
  m.off_pos = g[GD_OFF_POS];
  m.off_blocks = g[GD_OFF_BLOCKS];
  m.block_beats = g[GD_BLOCK_BEATS];
  m.off_tables[0] = g[GD_OFF_EXP2];
  m.off_tables[1] = g[GD_OFF_RECIP];
  m.off_tables[2] = g[GD_OFF_RSQRT_EVEN];
  m.off_tables[3] = g[GD_OFF_RSQRT_ODD];
  m.off_tables[4] = g[GD_OFF_GELU];
  m.off_tables[5] = g[GD_OFF_LOG2E];
  m.io_in = g[GD_IO_IN];
  m.io_x = g[GD_IO_X];
  m.token_blocks = div_roundup(m.tokens, TB);
  return STATUS_OK;
}

static bool in_range(int v, int hi) { return v >= 1 && v <= hi; }

// An activation format stored in act words (signed, fits the word).
static bool act_fmt_ok(const Fmt& f) { return f.s && f.w >= 2 && f.w <= EDGEMOE_ACT_W; }
static bool wgt_fmt_ok(const Fmt& f) { return f.s && f.w >= 2 && f.w <= EDGEMOE_WEIGHT_W; }
// Probabilities may be unsigned; as a MAC operand they take at most ACT_W bits.
static bool prob_fmt_ok(const Fmt& f) { return f.w >= 2 && f.w <= EDGEMOE_ACT_W; }
// A term of width `bits` shifted left by `sh` into the accumulator stays below 2^(ACC_W-3).
static bool aligns(int sh, int bits) { return sh >= 0 && sh + bits <= ACC_W - 3; }

static bool region_ok(uint32_t off, uint32_t beats, uint32_t limit) {
  return (uint64_t)off + beats <= limit;
}

int check_model(const Model& m) {
  if (!in_range(m.tokens, MAX_TOKENS) || !in_range(m.dim, MAX_DIM) ||
      !in_range(m.heads, MAX_HEADS) || !in_range(m.head_dim, MAX_HEAD_DIM) ||
      !in_range(m.mlp_hidden, MAX_HIDDEN) || !in_range(m.expert_hidden, MAX_HIDDEN) ||
      !in_range(m.experts, MAX_EXPERTS) || !in_range(m.top_k, MAX_TOP_K) ||
      !in_range(m.tasks, MAX_TASKS) || !in_range(m.depth, MAX_DEPTH) ||
      !in_range(m.patch_in, MAX_PATCH_IN) || !in_range(m.gate_in, MAX_GATE_IN) ||
      m.expert_hidden > HC)  // an expert's hidden layer is one chunk on chip
    return STATUS_OVER_MAXIMA;
  if (m.tokens != m.patches + 1 || m.patches != m.grid_h * m.grid_w ||
      m.img_h != m.grid_h * m.patch || m.img_w != m.grid_w * m.patch ||
      m.patch_in != m.in_chans * m.patch * m.patch || m.dim != m.heads * m.head_dim ||
      m.head_dim % APW != 0 || m.patch % APW != 0 || m.top_k > m.experts || m.router < 0 ||
      m.router > 2 || m.gate_in < m.dim || (m.router == ROUTER_TASK) != (m.gate_in > m.dim))
    return STATUS_INCONSISTENT;
  if (!act_fmt_ok(m.input) || !wgt_fmt_ok(m.patch_w) || !wgt_fmt_ok(m.patch_b) ||
      !act_fmt_ok(m.pos) || !act_fmt_ok(m.cls) || !act_fmt_ok(m.embed))
    return STATUS_BAD_FORMAT;
  const int acc = m.input.f + m.patch_w.f;
  if (!aligns(acc - m.patch_b.f, EDGEMOE_WEIGHT_W) || !aligns(acc - m.pos.f, EDGEMOE_ACT_W))
    return STATUS_BAD_FORMAT;
  // Layout: both io regions inside the io image, descriptor and tables inside params.
  // The ends in 64 bits: an offset near 2^32 must not wrap past the check.
  const uint64_t in_end = (uint64_t)m.io_in + (uint32_t)(m.in_chans * m.img_h * act_beats(m.img_w));
  const uint64_t x_end = (uint64_t)m.io_x + (uint32_t)(m.tokens * act_beats(m.dim));
  if (in_end > m.io_beats || x_end > m.io_beats || (m.io_x < in_end && m.io_in < x_end))
    return STATUS_BAD_LAYOUT;
  if (m.block_beats * 4 < BD_COUNT ||
      !region_ok(m.off_blocks, m.block_beats * m.depth, m.params_beats) ||
      !region_ok(m.off_patch_w, m.dim * wrow_beats(m.patch_in, m.patch_w.w), m.params_beats) ||
      !region_ok(m.off_patch_b, wgt_beats(m.dim), m.params_beats) ||
      !region_ok(m.off_pos, m.tokens * act_beats(m.dim), m.params_beats) ||
      !region_ok(m.off_cls, act_beats(m.dim), m.params_beats))
    return STATUS_BAD_LAYOUT;
  const int lens[6] = {TABLE_EXP2_LEN,      TABLE_RECIP_LEN, TABLE_RSQRT_EVEN_LEN,
                       TABLE_RSQRT_ODD_LEN, TABLE_GELU_LEN,  1};
  for (int i = 0; i < 6; i++) {
    if (!region_ok(m.off_tables[i], (lens[i] + 3) / 4, m.params_beats)) return STATUS_BAD_LAYOUT;
  }
  return STATUS_OK;
}

void load_block(const word_t* params, const Model& m, int i, Block& b) {
  read_u32(params, m.off_blocks + (uint32_t)i * m.block_beats, BD_COUNT, b.w);
}

// One linear layer: y = x W^T + b (+ residual): formats present, storable, alignable.
static bool linear_ok(const Block& b, int x_frac, int w, int bias, int y, int res_frac) {
  if (!fmt_present(b.w[w]) || !wgt_fmt_ok(b.fmt(w)) || !fmt_present(b.w[bias]) ||
      !wgt_fmt_ok(b.fmt(bias)) || !fmt_present(b.w[y]) || !act_fmt_ok(b.fmt(y)))
    return false;
  const int acc = x_frac + b.fmt(w).f;
  if (!aligns(acc - b.fmt(bias).f, EDGEMOE_WEIGHT_W)) return false;
  return res_frac == INT32_MIN || aligns(acc - res_frac, EDGEMOE_ACT_W);
}

// Formats of a block (input x_in) present, storable and alignable; weights inside params.
int check_block(const Model& m, const Block& b, const Fmt& x_in) {
  if (b.w[BD_MOE] > 1) return STATUS_INCONSISTENT;
  const int acts[] = {BD_FMT_NORM1_Z, BD_FMT_NORM1, BD_FMT_Q,       BD_FMT_K,    BD_FMT_V,
                      BD_FMT_SCORE,   BD_FMT_ATTN,  BD_FMT_NORM2_Z, BD_FMT_NORM2};
  for (unsigned k = 0; k < sizeof(acts) / sizeof(acts[0]); k++)
    if (!fmt_present(b.w[acts[k]]) || !act_fmt_ok(b.fmt(acts[k]))) return STATUS_BAD_FORMAT;
  const int norms[] = {BD_FMT_NORM1_W, BD_FMT_NORM1_B, BD_FMT_NORM2_W, BD_FMT_NORM2_B};
  for (unsigned k = 0; k < 4; k++)
    if (!fmt_present(b.w[norms[k]]) || !wgt_fmt_ok(b.fmt(norms[k]))) return STATUS_BAD_FORMAT;
  if (!fmt_present(b.w[BD_FMT_PROB]) || !prob_fmt_ok(b.fmt(BD_FMT_PROB))) return STATUS_BAD_FORMAT;
  // LayerNorm: beta aligns to z * gamma.
  if (b.fmt(BD_FMT_NORM1_B).f > b.fmt(BD_FMT_NORM1_Z).f + b.fmt(BD_FMT_NORM1_W).f ||
      b.fmt(BD_FMT_NORM2_B).f > b.fmt(BD_FMT_NORM2_Z).f + b.fmt(BD_FMT_NORM2_W).f)
    return STATUS_BAD_FORMAT;
  if (b.w[BD_EPS1] == 0 || b.w[BD_EPS2] == 0) return STATUS_BAD_FORMAT;
  const int h1 = b.fmt(BD_FMT_NORM1).f, h2 = b.fmt(BD_FMT_NORM2).f;
  const int none = INT32_MIN;
  if (!linear_ok(b, h1, BD_FMT_Q_W, BD_FMT_Q_B, BD_FMT_Q, none) ||
      !linear_ok(b, h1, BD_FMT_K_W, BD_FMT_K_B, BD_FMT_K, none) ||
      !linear_ok(b, h1, BD_FMT_V_W, BD_FMT_V_B, BD_FMT_V, none) ||
      !linear_ok(b, b.fmt(BD_FMT_ATTN).f, BD_FMT_PROJ_W, BD_FMT_PROJ_B, BD_FMT_PROJ, x_in.f))
    return STATUS_BAD_FORMAT;
  const int x2 = b.fmt(BD_FMT_PROJ).f;
  const uint32_t lim = m.params_beats, dw = wgt_beats(m.dim);
  const int vecs[] = {BD_OFF_NORM1_W, BD_OFF_NORM1_B, BD_OFF_NORM2_W, BD_OFF_NORM2_B,
                      BD_OFF_Q_B,     BD_OFF_K_B,     BD_OFF_V_B,     BD_OFF_PROJ_B};
  for (unsigned k = 0; k < sizeof(vecs) / sizeof(vecs[0]); k++)
    if (!region_ok(b.off(vecs[k]), dw, lim)) return STATUS_BAD_LAYOUT;
  const int mats[] = {BD_OFF_Q_W, BD_OFF_K_W, BD_OFF_V_W, BD_OFF_PROJ_W};
  const int mfmt[] = {BD_FMT_Q_W, BD_FMT_K_W, BD_FMT_V_W, BD_FMT_PROJ_W};
  for (unsigned k = 0; k < 4; k++)
    if (!region_ok(b.off(mats[k]), m.dim * wrow_beats(m.dim, b.fmt(mfmt[k]).w), lim))
      return STATUS_BAD_LAYOUT;
  if (b.moe()) {
    if (!fmt_present(b.w[BD_FMT_GATE]) || !act_fmt_ok(b.fmt(BD_FMT_GATE)) ||
        !fmt_present(b.w[BD_FMT_EGELU]) || !act_fmt_ok(b.fmt(BD_FMT_EGELU)) ||
        !fmt_present(b.w[BD_FMT_COMBINE]) || !act_fmt_ok(b.fmt(BD_FMT_COMBINE)) ||
        !fmt_present(b.w[BD_FMT_GATE_PROB]) || !prob_fmt_ok(b.fmt(BD_FMT_GATE_PROB)))
      return STATUS_BAD_FORMAT;
    if (!linear_ok(b, h2, BD_FMT_HTOH4_W, BD_FMT_HTOH4_B, BD_FMT_HTOH4, none) ||
        !linear_ok(b, b.fmt(BD_FMT_EGELU).f, BD_FMT_H4TOH_W, BD_FMT_H4TOH_B, BD_FMT_H4TOH, none))
      return STATUS_BAD_FORMAT;
    // combine: residual + sum of top_k gate * expert output, exact in the accumulator
    const Fmt gp = b.fmt(BD_FMT_GATE_PROB), yo = b.fmt(BD_FMT_H4TOH);
    if (!aligns(gp.f + yo.f - x2, EDGEMOE_ACT_W) || gp.w + yo.w + 4 > ACC_W - 3)
      return STATUS_BAD_FORMAT;
    const int gates = m.router == ROUTER_MULTI ? m.tasks : 1;
    for (int t = 0; t < gates; t++) {
      const Fmt gw = b.fmt(BD_FMT_GATE_W_0 + t);
      if (!fmt_present(b.w[BD_FMT_GATE_W_0 + t]) || !wgt_fmt_ok(gw)) return STATUS_BAD_FORMAT;
      if (!region_ok(b.off(BD_OFF_GATE_W_0 + t), m.experts * wrow_beats(m.gate_in, gw.w), lim))
        return STATUS_BAD_LAYOUT;
    }
    if (m.router == ROUTER_TASK) {
      for (int t = 0; t < m.tasks; t++)
        if (!region_ok(b.off(BD_OFF_FEATURE_0 + t), act_beats(m.gate_in - m.dim), lim))
          return STATUS_BAD_LAYOUT;
    }
    const int w1 = b.fmt(BD_FMT_HTOH4_W).w, w2 = b.fmt(BD_FMT_H4TOH_W).w;
    if (!region_ok(b.off(BD_OFF_HTOH4_W), m.experts * m.expert_hidden * wrow_beats(m.dim, w1),
                   lim) ||
        !region_ok(b.off(BD_OFF_H4TOH_W), m.experts * m.dim * wrow_beats(m.expert_hidden, w2),
                   lim) ||
        !region_ok(b.off(BD_OFF_HTOH4_B), m.experts * wgt_beats(m.expert_hidden), lim) ||
        !region_ok(b.off(BD_OFF_H4TOH_B), m.experts * dw, lim))
      return STATUS_BAD_LAYOUT;
  } else {
    if (!fmt_present(b.w[BD_FMT_GELU]) || !act_fmt_ok(b.fmt(BD_FMT_GELU))) return STATUS_BAD_FORMAT;
    if (!linear_ok(b, h2, BD_FMT_FC1_W, BD_FMT_FC1_B, BD_FMT_FC1, none) ||
        !linear_ok(b, b.fmt(BD_FMT_GELU).f, BD_FMT_FC2_W, BD_FMT_FC2_B, BD_FMT_FC2, x2))
      return STATUS_BAD_FORMAT;
    const int w1 = b.fmt(BD_FMT_FC1_W).w, w2 = b.fmt(BD_FMT_FC2_W).w;
    if (!region_ok(b.off(BD_OFF_FC1_W), m.mlp_hidden * wrow_beats(m.dim, w1), lim) ||
        !region_ok(b.off(BD_OFF_FC2_W), m.dim * wrow_beats(m.mlp_hidden, w2), lim) ||
        !region_ok(b.off(BD_OFF_FC1_B), wgt_beats(m.mlp_hidden), lim) ||
        !region_ok(b.off(BD_OFF_FC2_B), dw, lim))
      return STATUS_BAD_LAYOUT;
  }
  return STATUS_OK;
}

// Format of the residual stream entering block i.
Fmt block_input_fmt(const word_t* params, const Model& m, int i) {
  if (i == 0) return m.embed;
  Block prev;
  load_block(params, m, i - 1, prev);
  return prev.fmt(prev.moe() ? BD_FMT_COMBINE : BD_FMT_FC2);
}

void load_tables(const word_t* params, const Model& m, Tables& T) {
  read_u32(params, m.off_tables[0], TABLE_EXP2_LEN, (uint32_t*)T.exp2);
  read_u32(params, m.off_tables[1], TABLE_RECIP_LEN, (uint32_t*)T.recip);
  read_u32(params, m.off_tables[2], TABLE_RSQRT_EVEN_LEN, (uint32_t*)T.rsqrt_even);
  read_u32(params, m.off_tables[3], TABLE_RSQRT_ODD_LEN, (uint32_t*)T.rsqrt_odd);
  read_u32(params, m.off_tables[4], TABLE_GELU_LEN, (uint32_t*)T.gelu);
  uint32_t l2e[1];
  read_u32(params, m.off_tables[5], 1, l2e);
  T.log2e = (int32_t)l2e[0];
}

// --------------------------------------------------------- residual stream io
// One burst sequence: io_x rows are contiguous (rows padded to whole beats).
void load_x(const word_t* io, Chip& c, const Model& m, int row0, int rows) {
  const int stride = act_beats(m.dim);
  const uint32_t base = m.io_x + (uint32_t)(row0 * stride);
x_load_rows:
  for (int b = 0; b < rows * stride; b++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = TB * MAX_DIM / APW
    act_t v[APW];
    unpack_act(io[base + b], v);
    const int r = b / stride, k0 = (b % stride) * APW;
    for (int i = 0; i < APW; i++) {
#pragma HLS UNROLL
      if (k0 + i < m.dim) c.x[r][k0 + i] = v[i];
    }
  }
}

void store_x(word_t* io, const Chip& c, const Model& m, int row0, int rows) {
  const int stride = act_beats(m.dim);
  const uint32_t base = m.io_x + (uint32_t)(row0 * stride);
x_store_rows:
  for (int b = 0; b < rows * stride; b++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = TB * MAX_DIM / APW
    act_t v[APW];
    const int r = b / stride, k0 = (b % stride) * APW;
    for (int i = 0; i < APW; i++) {
#pragma HLS UNROLL
      v[i] = k0 + i < m.dim ? c.x[r][k0 + i] : (act_t)0;
    }
    io[base + b] = pack_act(v);
  }
}

// ----------------------------------------------------------------------- top
void edgemoe_top(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, uint32_t task,
                 uint32_t* status) {
#pragma HLS INTERFACE mode = m_axi port = params bundle = gmem_io offset = slave depth = \
    PARAMS_DEPTH max_read_burst_length = 64 num_read_outstanding = 16 latency = 64
#pragma HLS INTERFACE mode = m_axi port = io bundle = gmem_io offset = slave depth =       \
    IO_DEPTH max_read_burst_length = 64 max_write_burst_length = 64 num_read_outstanding = \
        16 num_write_outstanding = 16 latency = 64
  EDGEMOE_WGT_INTERFACE
#pragma HLS INTERFACE mode = s_axilite port = params bundle = control
#pragma HLS INTERFACE mode = s_axilite port = io bundle = control
#pragma HLS INTERFACE mode = s_axilite port = task bundle = control
#pragma HLS INTERFACE mode = s_axilite port = status bundle = control
#pragma HLS INTERFACE mode = s_axilite port = return bundle = control
#pragma HLS INTERFACE mode = ap_ctrl_hs port = return
  Model m;
  int st = decode_model(params, m);
  if (st == STATUS_OK) st = check_model(m);
  if (st == STATUS_OK && task >= (uint32_t)m.tasks) st = STATUS_BAD_TASK;
  // Check every block before anything runs: a refused descriptor leaves io untouched.
  Fmt x = m.embed;
check_blocks:
  for (int i = 0; i < MAX_DEPTH; i++) {
    if (st != STATUS_OK || i >= m.depth) break;
    Block b;
    load_block(params, m, i, b);
    st = check_block(m, b, x);
    x = b.fmt(b.moe() ? BD_FMT_COMBINE : BD_FMT_FC2);
  }
  if (st != STATUS_OK) {
    *status = st;
    return;
  }
  static Tables T;
  static Chip c;
  // Memories as pymodel/perf/resources.py counts them (Vitis HLS 2023.2+ addresses the
  // members of a disaggregated struct): the KV store and the accumulators in UltraRAM,
  // the rest in block RAM, banked for the MAC array's R x TI operand reads per cycle.
#pragma HLS DISAGGREGATE variable = c
#pragma HLS BIND_STORAGE variable = c.k type = ram_t2p impl = uram
#pragma HLS BIND_STORAGE variable = c.v type = ram_t2p impl = uram
#pragma HLS BIND_STORAGE variable = c.acc type = ram_t2p impl = uram
#pragma HLS BIND_STORAGE variable = c.s type = ram_t2p impl = bram
#pragma HLS BIND_STORAGE variable = c.u type = ram_t2p impl = bram
#pragma HLS ARRAY_PARTITION variable = c.k type = cyclic factor = R dim = 1
#pragma HLS ARRAY_PARTITION variable = c.v type = cyclic factor = TI dim = 1
#pragma HLS ARRAY_PARTITION variable = c.h type = cyclic factor = TI dim = 2
#pragma HLS ARRAY_PARTITION variable = c.a type = cyclic factor = TI dim = 2
#pragma HLS ARRAY_PARTITION variable = c.u type = cyclic factor = TI dim = 2
#pragma HLS ARRAY_PARTITION variable = c.x type = cyclic factor = TO dim = 2
#pragma HLS ARRAY_PARTITION variable = c.s type = complete dim = 1
#pragma HLS ARRAY_PARTITION variable = c.wt type = complete dim = 2
#pragma HLS ARRAY_PARTITION variable = c.wt type = cyclic factor = TI dim = 3
  load_tables(params, m, T);
  // Patch embedding per token block, last block first: every block but block 0 goes
  // to io_x, block 0 stays in x (run_block's invariant).
embed_blocks:
  for (int tb = m.token_blocks - 1; tb >= 0; tb--) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = (MAX_TOKENS + TB - 1) / TB
    const int row0 = tb * TB, rows = imin(TB, m.tokens - row0);
    patch_embed(params, EDGEMOE_WGT_ARGS, io, c, m, row0, rows, T);
    EM_TRACE_ROWS(TR_EMBED, 0, 0, row0, c.x, rows, m.dim);
    if (tb != 0) store_x(io, c, m, row0, rows);
  }
  int x_frac = m.embed.f;
blocks:
  for (int i = 0; i < m.depth; i++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_DEPTH
    Block b;
    load_block(params, m, i, b);
    run_block(params, EDGEMOE_WGT_ARGS, io, c, m, i, (int)task, x_frac, T);
    x_frac = b.fmt(b.moe() ? BD_FMT_COMBINE : BD_FMT_FC2).f;
  }
  store_x(io, c, m, 0, imin(TB, m.tokens));  // block 0 (every token when resident)
  *status = STATUS_OK;
}

// --------------------------------------------------------- C simulation trace
#ifdef EDGEMOE_CSIM_TRACE
TraceHook edgemoe_trace_hook = 0;

void trace_data(int kind, int block, int a, int b, const int64_t* data, int rows, int cols) {
  if (edgemoe_trace_hook) edgemoe_trace_hook(kind, block, a, b, data, rows, cols);
}

static std::vector<int64_t> expert_y;  // (token * top_k + slot) x MAX_DIM

void trace_expert_output(uint32_t index, int col, int64_t y) {
  const size_t at = (size_t)index * MAX_DIM + col;
  if (expert_y.size() <= at) expert_y.resize(at + MAX_DIM, 0);
  expert_y[at] = y;
}

void trace_expert_flush(int block, uint32_t first, int rows, int cols) {
  if (!edgemoe_trace_hook) return;
  std::vector<int64_t> out((size_t)rows * cols, 0);
  for (int r = 0; r < rows; r++)
    for (int k = 0; k < cols; k++) {
      const size_t at = (size_t)(first + r) * MAX_DIM + k;
      out[(size_t)r * cols + k] = at < expert_y.size() ? expert_y[at] : 0;
    }
  edgemoe_trace_hook(TR_EXPERT_Y, block, 0, (int)first, out.data(), rows, cols);
}
#endif
