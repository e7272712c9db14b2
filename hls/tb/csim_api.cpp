// C ABI over the HLS sources for C simulation from Python (sim/csim.py, ctypes).
//
// Whole forward (em_top), single stages of a block on the on-chip buffers
// (em_stage, with em_chip_put / em_chip_get to fill and read them), and every
// arithmetic unit alone on int64 arrays, so that each can be compared with the
// golden Python function bit for bit. Not part of the synthesised design.
#include <cstring>
#include <vector>

#include "edgemoe_engine.h"

static Tables g_tables;
static Chip g_chip;  // the stages' on-chip buffers (the top function has its own)

static const word_t* W(const void* p) { return static_cast<const word_t*>(p); }

// Weight-port argument lists: from an array of pointers, or one image for every port.
#define EM_WGT_FROM_ARRAY(p, name) , W(wgt[p])
#define EM_WGT_SAME(p, name) , same

// Chip buffers reachable from Python, by id.
enum ChipBuffer { CB_X = 0, CB_H, CB_Q, CB_K, CB_V, CB_A, CB_U };

template <typename T, int ROWS, int COLS>
static int chip_copy(T (&buf)[ROWS][COLS], int64_t* data, int rows, int cols, int row0, bool put) {
  if (row0 < 0 || rows < 0 || cols < 0 || row0 + rows > ROWS || cols > COLS)
    return STATUS_OVER_MAXIMA;
  for (int r = 0; r < rows; r++)
    for (int k = 0; k < cols; k++) {
      if (put) {
        buf[row0 + r][k] = (T)data[(size_t)r * cols + k];
      } else {
        data[(size_t)r * cols + k] = (int64_t)buf[row0 + r][k];
      }
    }
  return STATUS_OK;
}

static int chip_access(int which, int64_t* data, int rows, int cols, int row0, bool put) {
  Chip& c = g_chip;
  switch (which) {
    case CB_X: return chip_copy(c.x, data, rows, cols, row0, put);
    case CB_H: return chip_copy(c.h, data, rows, cols, row0, put);
    case CB_Q: return chip_copy(c.q, data, rows, cols, row0, put);
    case CB_K: return chip_copy(c.k, data, rows, cols, row0, put);
    case CB_V: return chip_copy(c.v, data, rows, cols, row0, put);
    case CB_A: return chip_copy(c.a, data, rows, cols, row0, put);
    case CB_U: return chip_copy(c.u, data, rows, cols, row0, put);
    default: return STATUS_INCONSISTENT;
  }
}

extern "C" {

// 1 when word_t is a plain little-endian 16-byte word (numpy buffers are passed as word_t*).
int em_abi_check() {
  unsigned char bytes[16];
  for (int i = 0; i < 16; i++) bytes[i] = (unsigned char)(i * 17 + 3);
  word_t w;
  if (sizeof(word_t) != 16) return 0;
  std::memcpy((void*)&w, bytes, 16);
  for (int i = 0; i < 16; i++) {
    if ((unsigned)w.range(8 * i + 7, 8 * i).to_uint() != bytes[i]) return 0;
  }
  return 1;
}

int em_act_w() { return EDGEMOE_ACT_W; }
int em_weight_ports() { return WEIGHT_PORTS; }
int em_token_block() { return TB; }

// The top function as the host calls it: wgt holds WEIGHT_PORTS pointers (the
// addresses written into the wgt<p> registers; normally all the params image).
int em_top(const void* params, const void* const* wgt, void* io, uint32_t task) {
  uint32_t status = 0;
  edgemoe_top(W(params) EDGEMOE_FOR_EACH_WGT(EM_WGT_FROM_ARRAY), static_cast<word_t*>(io), task,
              &status);
  return (int)status;
}

void em_set_trace(TraceHook hook) { edgemoe_trace_hook = hook; }

int em_chip_put(int which, const int64_t* data, int rows, int cols, int row0) {
  return chip_access(which, const_cast<int64_t*>(data), rows, cols, row0, true);
}

int em_chip_get(int which, int64_t* data, int rows, int cols, int row0) {
  return chip_access(which, data, rows, cols, row0, false);
}

// One stage of block `block` over every token on the stage buffers (models of one
// token block: tokens <= TB); io holds the image for the embedding.
int em_stage(const void* params, const void* io_v, int task, int block, int stage) {
  const word_t* p = W(params);
  const word_t* same = p;
  const word_t* io = static_cast<const word_t*>(io_v);
  Model m;
  int st = decode_model(p, m);
  if (st == STATUS_OK) st = check_model(m);
  if (st != STATUS_OK) return st;
  if (block < 0 || block >= m.depth || task < 0 || task >= m.tasks) return STATUS_BAD_TASK;
  if (m.token_blocks != 1) return STATUS_OVER_MAXIMA;
  load_tables(p, m, g_tables);
  Block b;
  load_block(p, m, block, b);
  const int x_frac = block_input_fmt(p, m, block).f, x2 = b.fmt(BD_FMT_PROJ).f;
  Chip& c = g_chip;
  const int rows = m.tokens;
  LinearJob j = blank_job();
  switch (stage) {
    case ST_EMBED:
      patch_embed(p EDGEMOE_FOR_EACH_WGT(EM_WGT_SAME), io, c, m, 0, rows, g_tables);
      break;
    case ST_NORM1: layernorm_rows(p, c, m, b, 1, x_frac, rows, g_tables); break;
    case ST_QKV: {
      const int wo[3] = {BD_OFF_Q_W, BD_OFF_K_W, BD_OFF_V_W};
      const int wf[3] = {BD_FMT_Q_W, BD_FMT_K_W, BD_FMT_V_W};
      const int bo[3] = {BD_OFF_Q_B, BD_OFF_K_B, BD_OFF_V_B};
      const int bf[3] = {BD_FMT_Q_B, BD_FMT_K_B, BD_FMT_V_B};
      const int yf[3] = {BD_FMT_Q, BD_FMT_K, BD_FMT_V};
      const int sink[3] = {YS_Q, YS_K, YS_V};
      for (int i = 0; i < 3; i++) {
        j = blank_job();
        j.rows = rows;
        j.x_source = XS_H;
        j.in_features = m.dim;
        j.x_fmt = b.fmt(BD_FMT_NORM1);
        j.w_off = b.off(wo[i]);
        j.w_fmt = b.fmt(wf[i]);
        j.out_features = m.dim;
        j.bias = true;
        j.b_off = b.off(bo[i]);
        j.b_frac = b.fmt(bf[i]).f;
        j.y_sink = sink[i];
        j.y_fmt = b.fmt(yf[i]);
        linear_unit(p EDGEMOE_FOR_EACH_WGT(EM_WGT_SAME), c, j, 0, g_tables);
      }
      break;
    }
    case ST_ATTENTION: attention(c, m, b, 0, rows, g_tables, block); break;
    case ST_PROJ:
      j.rows = rows;
      j.x_source = XS_A;
      j.in_features = m.dim;
      j.x_fmt = b.fmt(BD_FMT_ATTN);
      j.w_off = b.off(BD_OFF_PROJ_W);
      j.w_fmt = b.fmt(BD_FMT_PROJ_W);
      j.out_features = m.dim;
      j.bias = true;
      j.b_off = b.off(BD_OFF_PROJ_B);
      j.b_frac = b.fmt(BD_FMT_PROJ_B).f;
      j.residual = RES_X;
      j.r_frac = x_frac;
      j.y_sink = YS_X;
      j.y_fmt = b.fmt(BD_FMT_PROJ);
      linear_unit(p EDGEMOE_FOR_EACH_WGT(EM_WGT_SAME), c, j, 0, g_tables);
      break;
    case ST_NORM2: layernorm_rows(p, c, m, b, 2, x2, rows, g_tables); break;
    case ST_MLP:
      if (b.moe()) return STATUS_INCONSISTENT;
      dense_mlp(p EDGEMOE_FOR_EACH_WGT(EM_WGT_SAME), c, m, b, x2, 0, rows, g_tables, block);
      break;
    case ST_MOE:
      if (!b.moe()) return STATUS_INCONSISTENT;
      moe_layer(p EDGEMOE_FOR_EACH_WGT(EM_WGT_SAME), c, m, b, x2, task, 0, rows, g_tables, block);
      break;
    default: return STATUS_INCONSISTENT;
  }
  return STATUS_OK;
}

// Tables for the unit functions below, from an exported params image.
int em_load_tables(const void* params) {
  Model m;
  const int st = decode_model(W(params), m);
  if (st != STATUS_OK) return st;
  load_tables(W(params), m, g_tables);
  return STATUS_OK;
}

void em_requant(const int64_t* raw, int n, int frac, uint32_t fmt, int64_t* out) {
  const Fmt f = decode_fmt(fmt);
  for (int i = 0; i < n; i++) out[i] = requant(raw[i], frac, f);
}

void em_exp(const int64_t* d, int n, int d_frac, int64_t* out) {
  for (int i = 0; i < n; i++) out[i] = exp_fixed(d[i], d_frac, g_tables);
}

void em_recip(const int64_t* s, int n, int s_frac, int64_t* mant, int64_t* shift) {
  for (int i = 0; i < n; i++) {
    const PFloat r = recip_fixed(s[i], s_frac, g_tables);
    mant[i] = r.mant;
    shift[i] = r.shift;
  }
}

void em_rsqrt(const int64_t* v, int n, int v_frac, int64_t* mant, int64_t* shift) {
  for (int i = 0; i < n; i++) {
    const PFloat r = rsqrt_fixed(v[i], v_frac, g_tables);
    mant[i] = r.mant;
    shift[i] = r.shift;
  }
}

void em_gelu(const int64_t* x, int n, int x_frac, uint32_t fmt, int64_t* out) {
  const Fmt f = decode_fmt(fmt);
  for (int i = 0; i < n; i++) out[i] = gelu_fixed(x[i], x_frac, f, g_tables);
}

// Online softmax over each row of a (rows, cols) matrix.
void em_softmax(const int64_t* x, int rows, int cols, int x_frac, uint32_t fmt, int64_t* out) {
  const Fmt f = decode_fmt(fmt);
  for (int r = 0; r < rows; r++)
    softmax_row(x + (size_t)r * cols, cols, x_frac, f, g_tables, out + (size_t)r * cols);
}

// LayerNorm of each row; x/gamma/beta must fit their words (act / weight).
int em_layernorm(const int64_t* x, int rows, int d, int x_frac, const int64_t* gamma, int g_frac,
                 const int64_t* beta, int b_frac, int64_t eps, uint32_t zfmt, uint32_t ofmt,
                 int64_t* out) {
  if (d > MAX_DIM) return STATUS_OVER_MAXIMA;
  std::vector<wgt_t> g(d), b(d);
  std::vector<act_t> xr(d), yr(d);
  for (int i = 0; i < d; i++) {
    g[i] = (wgt_t)gamma[i];
    b[i] = (wgt_t)beta[i];
  }
  for (int r = 0; r < rows; r++) {
    for (int i = 0; i < d; i++) xr[i] = (act_t)x[(size_t)r * d + i];
    layernorm_row(xr.data(), d, x_frac, g.data(), g_frac, b.data(), b_frac, eps, decode_fmt(zfmt),
                  decode_fmt(ofmt), g_tables, yr.data());
    for (int i = 0; i < d; i++) out[(size_t)r * d + i] = yr[i];
  }
  return STATUS_OK;
}

void em_topk(const int64_t* logits, int rows, int n, int k, int64_t* idx) {
  int tmp[MAX_TOP_K];
  for (int r = 0; r < rows; r++) {
    topk_row(logits + (size_t)r * n, n, k, tmp);
    for (int s = 0; s < k; s++) idx[(size_t)r * k + s] = tmp[s];
  }
}

// The linear unit alone: y = requant(x W^T + b + residual) [then GELU], rows in
// chunks of TB (x in the u buffer, residual and output in the x buffer), weights
// packed (8-bit words when their format is at most 8 bits wide) in a scratch image.
int em_linear(const int64_t* x, int rows, int K, uint32_t xfmt, const int64_t* w, int N,
              uint32_t wfmt, const int64_t* bias, uint32_t bfmt, const int64_t* res, uint32_t rfmt,
              uint32_t yfmt, int gelu, uint32_t gfmt, int64_t* out) {
  if (K > MAX_K || N > MAX_DIM || K > U_COLS) return STATUS_OVER_MAXIMA;
  const Fmt wf = decode_fmt(wfmt);
  const int bits = wf.w <= 8 ? 8 : 16, per = 128 / bits;
  const int kb = wrow_beats(K, wf.w), nb = wgt_beats(N);
  std::vector<word_t> params((size_t)N * kb + nb + 1);
  for (int n = 0; n < N; n++)
    for (int c = 0; c < kb; c++) {
      word_t word = 0;
      for (int i = 0; i < per; i++) {
        const int k = c * per + i;
        const uint64_t v = k < K ? (uint64_t)w[(size_t)n * K + k] : 0;
        word.range(bits * i + bits - 1, bits * i) = v & ((1u << bits) - 1);
      }
      params[(size_t)n * kb + c] = word;
    }
  const uint32_t b_off = (uint32_t)N * kb;
  if (bias) {
    for (int c = 0; c < nb; c++) {
      word_t word = 0;
      for (int i = 0; i < WPW; i++) {
        const int k = c * WPW + i;
        word.range(16 * i + 15, 16 * i) = (uint16_t)(k < N ? (wgt_t)bias[k] : 0);
      }
      params[b_off + c] = word;
    }
  }
  const word_t* same = params.data();
  Chip& c = g_chip;
  for (int r0 = 0; r0 < rows; r0 += TB) {
    const int nr = imin(TB, rows - r0);
    for (int r = 0; r < nr; r++) {
      for (int i = 0; i < K; i++) c.u[r][i] = (act_t)x[(size_t)(r0 + r) * K + i];
      for (int i = 0; i < N; i++) c.x[r][i] = res ? (act_t)res[(size_t)(r0 + r) * N + i] : 0;
    }
    LinearJob j = blank_job();
    j.rows = nr;
    j.x_source = XS_U;
    j.in_features = K;
    j.x_fmt = decode_fmt(xfmt);
    j.w_off = 0;
    j.out_features = N;
    j.w_fmt = wf;
    j.bias = bias != 0;
    j.b_off = b_off;
    j.b_frac = decode_fmt(bfmt).f;
    j.residual = res ? RES_X : RES_NONE;
    j.r_frac = decode_fmt(rfmt).f;
    j.y_sink = YS_X;
    j.y_fmt = decode_fmt(yfmt);
    j.gelu = gelu != 0;
    j.g_fmt = decode_fmt(gfmt);
    linear_unit(params.data() EDGEMOE_FOR_EACH_WGT(EM_WGT_SAME), c, j, 0, g_tables);
    for (int r = 0; r < nr; r++)
      for (int i = 0; i < N; i++) out[(size_t)(r0 + r) * N + i] = c.x[r][i];
  }
  return STATUS_OK;
}

// The DSP packing of the MAC array on explicit operands: x * w_hi and x * w_lo.
void em_pack_mul(const int64_t* x, const int64_t* w_hi, const int64_t* w_lo, int n, int64_t* hi,
                 int64_t* lo) {
  for (int i = 0; i < n; i++) {
    int h, l;
    pack_mul((int)x[i], (int)w_hi[i], (int)w_lo[i], h, l);
    hi[i] = h;
    lo[i] = l;
  }
}

}  // extern "C"
