// Top function: descriptor decoding and checking, table loading, block loop.
//
// Nothing runs on a descriptor that the synthesised buffers cannot hold or
// whose formats the datapath cannot align: the kernel reports the reason in
// the status register instead of running past a buffer.
#include "edgemoe_engine.h"

// ----------------------------------------------------------------- descriptor
int decode_model(const word_t* params, Model& m) {
  uint32_t g[GD_COUNT];
  read_u32(params, 0, GD_COUNT, g);
  if (g[GD_MAGIC] != DESC_MAGIC || g[GD_VERSION] != DESC_VERSION) return STATUS_BAD_MAGIC;
  if (g[GD_ACT_W] != EDGEMOE_ACT_W) return STATUS_BAD_ACT_W;
  m.params_beats = g[GD_PARAMS_BEATS];
  m.io_beats = g[GD_IO_BEATS];
  m.T = g[GD_TOKENS];
  m.N = g[GD_PATCHES];
  m.D = g[GD_DIM];
  m.H = g[GD_HEADS];
  m.HD = g[GD_HEAD_DIM];
  m.MLP = g[GD_MLP_HIDDEN];
  m.EH = g[GD_EXPERT_HIDDEN];
  m.E = g[GD_EXPERTS];
  m.K = g[GD_TOP_K];
  m.TASKS = g[GD_TASKS];
  m.DEPTH = g[GD_DEPTH];
  m.C = g[GD_IN_CHANS];
  m.P = g[GD_PATCH];
  m.IMG_H = g[GD_IMG_H];
  m.IMG_W = g[GD_IMG_W];
  m.GH = g[GD_GRID_H];
  m.GW = g[GD_GRID_W];
  m.PIN = g[GD_PATCH_IN];
  m.router = g[GD_ROUTER];
  m.GIN = g[GD_GATE_IN];
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
  m.io_h = g[GD_IO_H];
  m.io_q = g[GD_IO_Q];
  m.io_k = g[GD_IO_K];
  m.io_v = g[GD_IO_V];
  m.io_a = g[GD_IO_A];
  m.io_u = g[GD_IO_U];
  m.io_g = g[GD_IO_G];
  m.io_y = g[GD_IO_Y];
  return STATUS_OK;
}

static bool in_range(int v, int hi) { return v >= 1 && v <= hi; }

// An activation format stored in act words (signed, fits the word).
static bool act_fmt_ok(const Fmt& f) { return f.s && f.w >= 2 && f.w <= EDGEMOE_ACT_W; }
static bool wgt_fmt_ok(const Fmt& f) { return f.s && f.w >= 2 && f.w <= EDGEMOE_WEIGHT_W; }
// Probabilities may be unsigned; they live in prob_t (32 bits) on chip.
static bool prob_fmt_ok(const Fmt& f) {
  return f.w >= 2 && (f.s ? f.w <= EDGEMOE_ACT_W : f.w <= 31);
}

static bool region_ok(uint32_t off, uint32_t beats, uint32_t limit) {
  return (uint64_t)off + beats <= limit;
}

int check_model(const Model& m) {
  if (!in_range(m.T, MAX_TOKENS) || !in_range(m.D, MAX_DIM) || !in_range(m.H, MAX_HEADS) ||
      !in_range(m.HD, MAX_HEAD_DIM) || !in_range(m.MLP, MAX_HIDDEN) ||
      !in_range(m.EH, MAX_HIDDEN) || !in_range(m.E, MAX_EXPERTS) || !in_range(m.K, MAX_TOP_K) ||
      !in_range(m.TASKS, MAX_TASKS) || !in_range(m.DEPTH, MAX_DEPTH) ||
      !in_range(m.PIN, MAX_PATCH_IN) || !in_range(m.GIN, MAX_GATE_IN))
    return STATUS_OVER_MAXIMA;
  if (m.T != m.N + 1 || m.N != m.GH * m.GW || m.IMG_H != m.GH * m.P || m.IMG_W != m.GW * m.P ||
      m.PIN != m.C * m.P * m.P || m.D != m.H * m.HD || m.HD % APW != 0 || m.P % APW != 0 ||
      m.K > m.E || m.router < 0 || m.router > 2 || m.GIN < m.D ||
      (m.router == ROUTER_TASK) != (m.GIN > m.D))
    return STATUS_INCONSISTENT;
  if (!act_fmt_ok(m.input) || !wgt_fmt_ok(m.patch_w) || !wgt_fmt_ok(m.patch_b) ||
      !act_fmt_ok(m.pos) || !act_fmt_ok(m.cls) || !act_fmt_ok(m.embed))
    return STATUS_BAD_FORMAT;
  const int acc = m.input.f + m.patch_w.f;
  if (m.patch_b.f > acc || m.pos.f > acc) return STATUS_BAD_FORMAT;
  // Layout: every io region inside the io image, descriptor and tables inside params.
  const uint32_t d = act_beats(m.D), hid = act_beats(m.MLP > m.EH ? m.MLP : m.EH);
  const uint32_t io_end[10] = {
      m.io_in + (uint32_t)(m.C * m.IMG_H * act_beats(m.IMG_W)), m.io_x + m.T * d,
      m.io_h + m.T * d, m.io_q + m.T * d, m.io_k + m.T * d, m.io_v + m.T * d, m.io_a + m.T * d,
      m.io_u + m.T * hid, m.io_g + m.T * (uint32_t)act_beats(m.E), m.io_y + m.T * m.K * d};
  for (int i = 0; i < 10; i++) {
    if (io_end[i] > m.io_beats || io_end[i] < m.io_in) return STATUS_BAD_LAYOUT;
  }
  if (m.block_beats * 4 < BD_COUNT ||
      !region_ok(m.off_blocks, m.block_beats * m.DEPTH, m.params_beats) ||
      !region_ok(m.off_patch_w, m.D * wgt_beats(m.PIN), m.params_beats) ||
      !region_ok(m.off_pos, m.T * d, m.params_beats) || !region_ok(m.off_cls, d, m.params_beats))
    return STATUS_BAD_LAYOUT;
  const int lens[6] = {TABLE_EXP2_LEN, TABLE_RECIP_LEN, TABLE_RSQRT_EVEN_LEN,
                       TABLE_RSQRT_ODD_LEN, TABLE_GELU_LEN, 1};
  for (int i = 0; i < 6; i++) {
    if (!region_ok(m.off_tables[i], (lens[i] + 3) / 4, m.params_beats)) return STATUS_BAD_LAYOUT;
  }
  return STATUS_OK;
}

void load_block(const word_t* params, const Model& m, int i, Block& b) {
  read_u32(params, m.off_blocks + (uint32_t)i * m.block_beats, BD_COUNT, b.w);
}

// Formats of block i (input x_in) present, storable and alignable; weights inside params.
int check_block(const Model& m, const Block& b, int i, const Fmt& x_in) {
  const bool moe = b.w[BD_MOE] == 1;
  if (b.w[BD_MOE] > 1) return STATUS_INCONSISTENT;
  const int acts[] = {BD_FMT_NORM1_Z, BD_FMT_NORM1, BD_FMT_Q, BD_FMT_K,     BD_FMT_V,
                      BD_FMT_SCORE,   BD_FMT_ATTN,  BD_FMT_PROJ, BD_FMT_NORM2_Z, BD_FMT_NORM2};
  const int wgts[] = {BD_FMT_NORM1_W, BD_FMT_NORM1_B, BD_FMT_Q_W,    BD_FMT_Q_B,
                      BD_FMT_K_W,     BD_FMT_K_B,     BD_FMT_V_W,    BD_FMT_V_B,
                      BD_FMT_PROJ_W,  BD_FMT_PROJ_B,  BD_FMT_NORM2_W, BD_FMT_NORM2_B};
  for (unsigned k = 0; k < sizeof(acts) / sizeof(acts[0]); k++)
    if (!fmt_present(b.w[acts[k]]) || !act_fmt_ok(b.fmt(acts[k]))) return STATUS_BAD_FORMAT;
  for (unsigned k = 0; k < sizeof(wgts) / sizeof(wgts[0]); k++)
    if (!fmt_present(b.w[wgts[k]]) || !wgt_fmt_ok(b.fmt(wgts[k]))) return STATUS_BAD_FORMAT;
  if (!fmt_present(b.w[BD_FMT_PROB]) || !prob_fmt_ok(b.fmt(BD_FMT_PROB))) return STATUS_BAD_FORMAT;
  // LayerNorm: beta aligns to z * gamma.
  if (b.fmt(BD_FMT_NORM1_B).f > b.fmt(BD_FMT_NORM1_Z).f + b.fmt(BD_FMT_NORM1_W).f ||
      b.fmt(BD_FMT_NORM2_B).f > b.fmt(BD_FMT_NORM2_Z).f + b.fmt(BD_FMT_NORM2_W).f)
    return STATUS_BAD_FORMAT;
  if (b.w[BD_EPS1] == 0 || b.w[BD_EPS2] == 0) return STATUS_BAD_FORMAT;
  const int h1 = b.fmt(BD_FMT_NORM1).f;
  if (b.fmt(BD_FMT_Q_B).f > h1 + b.fmt(BD_FMT_Q_W).f ||
      b.fmt(BD_FMT_K_B).f > h1 + b.fmt(BD_FMT_K_W).f ||
      b.fmt(BD_FMT_V_B).f > h1 + b.fmt(BD_FMT_V_W).f)
    return STATUS_BAD_FORMAT;
  const int pacc = b.fmt(BD_FMT_ATTN).f + b.fmt(BD_FMT_PROJ_W).f;
  if (b.fmt(BD_FMT_PROJ_B).f > pacc || x_in.f > pacc) return STATUS_BAD_FORMAT;
  const int x2 = b.fmt(BD_FMT_PROJ).f, h2 = b.fmt(BD_FMT_NORM2).f;
  const uint32_t dw = wgt_beats(m.D), lim = m.params_beats;
  const int offs[] = {BD_OFF_NORM1_W, BD_OFF_NORM1_B, BD_OFF_NORM2_W, BD_OFF_NORM2_B,
                      BD_OFF_Q_B,     BD_OFF_K_B,     BD_OFF_V_B,     BD_OFF_PROJ_B};
  for (unsigned k = 0; k < sizeof(offs) / sizeof(offs[0]); k++)
    if (!region_ok(b.off(offs[k]), dw, lim)) return STATUS_BAD_LAYOUT;
  const int mats[] = {BD_OFF_Q_W, BD_OFF_K_W, BD_OFF_V_W, BD_OFF_PROJ_W};
  for (unsigned k = 0; k < 4; k++)
    if (!region_ok(b.off(mats[k]), m.D * dw, lim)) return STATUS_BAD_LAYOUT;
  if (moe) {
    const int mf[] = {BD_FMT_GATE, BD_FMT_HTOH4, BD_FMT_EGELU, BD_FMT_H4TOH, BD_FMT_COMBINE};
    for (unsigned k = 0; k < 5; k++)
      if (!fmt_present(b.w[mf[k]]) || !act_fmt_ok(b.fmt(mf[k]))) return STATUS_BAD_FORMAT;
    const int mw[] = {BD_FMT_HTOH4_W, BD_FMT_HTOH4_B, BD_FMT_H4TOH_W, BD_FMT_H4TOH_B};
    for (unsigned k = 0; k < 4; k++)
      if (!fmt_present(b.w[mw[k]]) || !wgt_fmt_ok(b.fmt(mw[k]))) return STATUS_BAD_FORMAT;
    if (!fmt_present(b.w[BD_FMT_GATE_PROB]) || !prob_fmt_ok(b.fmt(BD_FMT_GATE_PROB)))
      return STATUS_BAD_FORMAT;
    const int gates = m.router == ROUTER_MULTI ? m.TASKS : 1;
    for (int t = 0; t < gates; t++) {
      if (!fmt_present(b.w[BD_FMT_GATE_W_0 + t]) || !wgt_fmt_ok(b.fmt(BD_FMT_GATE_W_0 + t)))
        return STATUS_BAD_FORMAT;
      if (!region_ok(b.off(BD_OFF_GATE_W_0 + t), m.E * wgt_beats(m.GIN), lim))
        return STATUS_BAD_LAYOUT;
    }
    if (m.router == ROUTER_TASK) {
      for (int t = 0; t < m.TASKS; t++)
        if (!region_ok(b.off(BD_OFF_FEATURE_0 + t), act_beats(m.GIN - m.D), lim))
          return STATUS_BAD_LAYOUT;
    }
    if (b.fmt(BD_FMT_HTOH4_B).f > h2 + b.fmt(BD_FMT_HTOH4_W).f ||
        b.fmt(BD_FMT_H4TOH_B).f > b.fmt(BD_FMT_EGELU).f + b.fmt(BD_FMT_H4TOH_W).f ||
        x2 > b.fmt(BD_FMT_GATE_PROB).f + b.fmt(BD_FMT_H4TOH).f)
      return STATUS_BAD_FORMAT;
    if (!region_ok(b.off(BD_OFF_HTOH4_W), m.E * m.EH * dw, lim) ||
        !region_ok(b.off(BD_OFF_H4TOH_W), m.E * m.D * wgt_beats(m.EH), lim) ||
        !region_ok(b.off(BD_OFF_HTOH4_B), m.E * wgt_beats(m.EH), lim) ||
        !region_ok(b.off(BD_OFF_H4TOH_B), m.E * dw, lim))
      return STATUS_BAD_LAYOUT;
  } else {
    const int df[] = {BD_FMT_FC1, BD_FMT_GELU, BD_FMT_FC2};
    for (unsigned k = 0; k < 3; k++)
      if (!fmt_present(b.w[df[k]]) || !act_fmt_ok(b.fmt(df[k]))) return STATUS_BAD_FORMAT;
    const int dwf[] = {BD_FMT_FC1_W, BD_FMT_FC1_B, BD_FMT_FC2_W, BD_FMT_FC2_B};
    for (unsigned k = 0; k < 4; k++)
      if (!fmt_present(b.w[dwf[k]]) || !wgt_fmt_ok(b.fmt(dwf[k]))) return STATUS_BAD_FORMAT;
    const int facc = b.fmt(BD_FMT_GELU).f + b.fmt(BD_FMT_FC2_W).f;
    if (b.fmt(BD_FMT_FC1_B).f > h2 + b.fmt(BD_FMT_FC1_W).f || b.fmt(BD_FMT_FC2_B).f > facc ||
        x2 > facc)
      return STATUS_BAD_FORMAT;
    if (!region_ok(b.off(BD_OFF_FC1_W), m.MLP * dw, lim) ||
        !region_ok(b.off(BD_OFF_FC2_W), m.D * wgt_beats(m.MLP), lim) ||
        !region_ok(b.off(BD_OFF_FC1_B), wgt_beats(m.MLP), lim) ||
        !region_ok(b.off(BD_OFF_FC2_B), dw, lim))
      return STATUS_BAD_LAYOUT;
  }
  (void)i;
  return STATUS_OK;
}

// Format of the residual stream entering block i.
Fmt block_input_fmt(const word_t* params, const Model& m, int i) {
  if (i == 0) return m.embed;
  Block prev;
  load_block(params, m, i - 1, prev);
  return prev.fmt(prev.w[BD_MOE] ? BD_FMT_COMBINE : BD_FMT_FC2);
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

// ------------------------------------------------------------------- one block
static int run_block_fmt(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const Model& m, int i, int task,
                         int x_frac, const Tables& T) {
  Block b;
  load_block(params, m, i, b);
  layernorm_layer(params, io, m, m.io_x, x_frac, m.io_h, b, 1, T);
  EM_TRACE_IO(TR_NORM1, i, io, m.io_h, m.T, m.D);
  qkv_layers(params, EDGEMOE_WGT_ARGS, io, m, b, T);
  EM_TRACE_IO(TR_Q, i, io, m.io_q, m.T, m.D);
  EM_TRACE_IO(TR_K, i, io, m.io_k, m.T, m.D);
  EM_TRACE_IO(TR_V, i, io, m.io_v, m.T, m.D);
  attention(io, m, b, T, i);
  proj_layer(params, EDGEMOE_WGT_ARGS, io, m, b, x_frac, T);
  EM_TRACE_IO(TR_PROJ, i, io, m.io_x, m.T, m.D);
  x_frac = b.fmt(BD_FMT_PROJ).f;
  layernorm_layer(params, io, m, m.io_x, x_frac, m.io_h, b, 2, T);
  EM_TRACE_IO(TR_NORM2, i, io, m.io_h, m.T, m.D);
  if (b.w[BD_MOE]) {
    moe_layer(params, EDGEMOE_WGT_ARGS, io, m, b, x_frac, task, T, i);
    EM_TRACE_IO(TR_COMBINE, i, io, m.io_x, m.T, m.D);
    return b.fmt(BD_FMT_COMBINE).f;
  }
  dense_mlp(params, EDGEMOE_WGT_ARGS, io, m, b, x_frac, T, i);
  EM_TRACE_IO(TR_FC2, i, io, m.io_x, m.T, m.D);
  return b.fmt(BD_FMT_FC2).f;
}

void run_block(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const Model& m, int i, int task,
               const Tables& T) {
  run_block_fmt(params, EDGEMOE_WGT_ARGS, io, m, i, task, block_input_fmt(params, m, i).f, T);
}

// ----------------------------------------------------------------------- top
void edgemoe_top(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, uint32_t task,
                 uint32_t* status) {
#pragma HLS INTERFACE mode = m_axi port = params bundle = gmem_io offset = slave \
    depth = PARAMS_DEPTH max_read_burst_length = 64 num_read_outstanding = 16 latency = 64
#pragma HLS INTERFACE mode = m_axi port = io bundle = gmem_io offset = slave depth = IO_DEPTH \
    max_read_burst_length = 64 max_write_burst_length = 64 num_read_outstanding = 16 \
    num_write_outstanding = 16 latency = 64
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
  if (st == STATUS_OK && task >= (uint32_t)m.TASKS) st = STATUS_BAD_TASK;
  // Check every block before anything runs: a refused descriptor leaves io untouched.
  Fmt x = m.embed;
check_blocks:
  for (int i = 0; i < MAX_DEPTH; i++) {
    if (st != STATUS_OK || i >= m.DEPTH) break;
    Block b;
    load_block(params, m, i, b);
    st = check_block(m, b, i, x);
    x = b.fmt(b.w[BD_MOE] ? BD_FMT_COMBINE : BD_FMT_FC2);
  }
  if (st != STATUS_OK) {
    *status = st;
    return;
  }
  static Tables T;
  load_tables(params, m, T);
  patch_embed(params, EDGEMOE_WGT_ARGS, io, m, T);
  EM_TRACE_IO(TR_EMBED, 0, io, m.io_x, m.T, m.D);
  int x_frac = m.embed.f;
blocks:
  for (int i = 0; i < m.DEPTH; i++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_DEPTH
    x_frac = run_block_fmt(params, EDGEMOE_WGT_ARGS, io, m, i, (int)task, x_frac, T);
  }
  *status = STATUS_OK;
}

// --------------------------------------------------------- C simulation trace
#ifdef EDGEMOE_CSIM_TRACE
#include <vector>
TraceHook edgemoe_trace_hook = 0;

void trace_data(int kind, int block, int a, int b, const int64_t* data, int rows, int cols) {
  if (edgemoe_trace_hook) edgemoe_trace_hook(kind, block, a, b, data, rows, cols);
}

void trace_io(int kind, int block, const word_t* io, uint32_t off, int rows, int cols) {
  if (!edgemoe_trace_hook) return;
  std::vector<int64_t> out((size_t)rows * cols);
  std::vector<act_t> row(cols + APW);
  for (int r = 0; r < rows; r++) {
    read_act(io, off + (uint32_t)(r * act_beats(cols)), cols, row.data());
    for (int c = 0; c < cols; c++) out[(size_t)r * cols + c] = row[c];
  }
  edgemoe_trace_hook(kind, block, 0, 0, out.data(), rows, cols);
}
#endif
