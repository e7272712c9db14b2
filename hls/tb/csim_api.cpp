// C ABI over the HLS sources for C simulation from Python (sim/csim.py, ctypes).
//
// Whole forward (em_top), single stages of a block on an exported image
// (em_stage), and every arithmetic unit alone on int64 arrays, so that each
// can be compared with the golden Python function bit for bit. Not part of
// the synthesised design.
#include <cstring>
#include <vector>

#include "edgemoe_engine.h"

static Tables g_tables;

static const word_t* W(const void* p) { return static_cast<const word_t*>(p); }

// Weight-port argument lists: from an array of pointers, or one image for every port.
#define EM_WGT_FROM_ARRAY(p, name) , W(wgt[p])
#define EM_WGT_SAME(p, name) , same

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

// The top function as the host calls it: wgt holds WEIGHT_PORTS pointers (the
// addresses written into the wgt<p> registers; normally all the params image).
int em_top(const void* params, const void* const* wgt, void* io, uint32_t task) {
  uint32_t status = 0;
  edgemoe_top(W(params) EDGEMOE_FOR_EACH_WGT(EM_WGT_FROM_ARRAY), static_cast<word_t*>(io), task,
              &status);
  return (int)status;
}

void em_set_trace(TraceHook hook) { edgemoe_trace_hook = hook; }

// One stage of block `block` on an exported image; io holds its inputs.
// 0 patch embed, 1 LN1, 2 Q/K/V, 3 attention, 4 proj, 5 LN2, 6 dense MLP, 7 MoE.
int em_stage(const void* params, void* io_v, int task, int block, int stage) {
  const word_t* p = W(params);
  const word_t* same = p;
  word_t* io = static_cast<word_t*>(io_v);
  Model m;
  int st = decode_model(p, m);
  if (st == STATUS_OK) st = check_model(m);
  if (st != STATUS_OK) return st;
  if (block < 0 || block >= m.DEPTH || task < 0 || task >= m.TASKS) return STATUS_BAD_TASK;
  load_tables(p, m, g_tables);
  Block b;
  load_block(p, m, block, b);
  const int x_frac = block_input_fmt(p, m, block).f;
  const int x2 = b.fmt(BD_FMT_PROJ).f;
  switch (stage) {
    case ST_EMBED: patch_embed(p EDGEMOE_FOR_EACH_WGT(EM_WGT_SAME), io, m, g_tables); break;
    case ST_NORM1: layernorm_layer(p, io, m, m.io_x, x_frac, m.io_h, b, 1, g_tables); break;
    case ST_QKV: qkv_layers(p EDGEMOE_FOR_EACH_WGT(EM_WGT_SAME), io, m, b, g_tables); break;
    case ST_ATTENTION: attention(io, m, b, g_tables, block); break;
    case ST_PROJ: proj_layer(p EDGEMOE_FOR_EACH_WGT(EM_WGT_SAME), io, m, b, x_frac, g_tables); break;
    case ST_NORM2: layernorm_layer(p, io, m, m.io_x, x2, m.io_h, b, 2, g_tables); break;
    case ST_MLP:
      if (b.w[BD_MOE]) return STATUS_INCONSISTENT;
      dense_mlp(p EDGEMOE_FOR_EACH_WGT(EM_WGT_SAME), io, m, b, x2, g_tables, block);
      break;
    case ST_MOE:
      if (!b.w[BD_MOE]) return STATUS_INCONSISTENT;
      moe_layer(p EDGEMOE_FOR_EACH_WGT(EM_WGT_SAME), io, m, b, x2, task, g_tables, block);
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
  for (int r = 0; r < rows; r++) softmax_row(x + (size_t)r * cols, cols, x_frac, f, g_tables,
                                             out + (size_t)r * cols);
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
    layernorm_row(xr.data(), d, x_frac, g.data(), g_frac, b.data(), b_frac, eps,
                  decode_fmt(zfmt), decode_fmt(ofmt), g_tables, yr.data());
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

// The linear unit alone: y = requant(x W^T + b + residual) [then GELU], on
// packed copies of the arrays in scratch params/io images.
int em_linear(const int64_t* x, int rows, int K, int x_frac, const int64_t* w, int N, int w_frac,
              const int64_t* bias, int b_frac, const int64_t* res, int r_frac, uint32_t yfmt,
              int gelu, uint32_t gfmt, int64_t* out) {
  if (K > MAX_K || N > MAX_K) return STATUS_OVER_MAXIMA;
  const int kb = wgt_beats(K), nb = wgt_beats(N), xa = act_beats(K), ya = act_beats(N);
  std::vector<word_t> params((size_t)N * kb + nb + 1);
  std::vector<word_t> io((size_t)rows * (xa + 2 * ya) + 1);
  for (int n = 0; n < N; n++)
    for (int c = 0; c < kb; c++) {
      wgt_t v[WPW];
      for (int i = 0; i < WPW; i++) {
        const int k = c * WPW + i;
        v[i] = k < K ? (wgt_t)w[(size_t)n * K + k] : 0;
      }
      word_t word = 0;
      for (int i = 0; i < WPW; i++) word.range(16 * i + 15, 16 * i) = (uint16_t)v[i];
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
  const uint32_t x_off = 0, r_off = (uint32_t)rows * xa, y_off = r_off + (uint32_t)rows * ya;
  std::vector<act_t> row(K > N ? K : N);
  for (int r = 0; r < rows; r++) {
    for (int i = 0; i < K; i++) row[i] = (act_t)x[(size_t)r * K + i];
    write_act(io.data(), x_off + r * xa, K, row.data());
    if (res) {
      for (int i = 0; i < N; i++) row[i] = (act_t)res[(size_t)r * N + i];
      write_act(io.data(), r_off + r * ya, N, row.data());
    }
  }
  LinearJob j;
  std::memset(&j, 0, sizeof(j));
  j.rows = rows;
  j.x_mode = XM_ROWS;
  j.x_off = x_off;
  j.x_stride = xa;
  j.K = K;
  j.x_frac = x_frac;
  j.w_off = 0;
  j.N = N;
  j.w_frac = w_frac;
  j.bias = bias != 0;
  j.b_off = b_off;
  j.b_frac = b_frac;
  j.r_mode = res ? RM_IO : RM_NONE;
  j.r_off = r_off;
  j.r_stride = ya;
  j.r_frac = r_frac;
  j.y_off = y_off;
  j.y_stride = ya;
  j.y_fmt = decode_fmt(yfmt);
  j.gelu = gelu != 0;
  j.g_fmt = decode_fmt(gfmt);
  Model m;
  std::memset(&m, 0, sizeof(m));
  row_t none[1] = {0};
  const word_t* same = params.data();
  linear_unit(params.data() EDGEMOE_FOR_EACH_WGT(EM_WGT_SAME), io.data(), j, none, none, g_tables,
              m);
  for (int r = 0; r < rows; r++) {
    read_act(io.data(), y_off + r * ya, N, row.data());
    for (int i = 0; i < N; i++) out[(size_t)r * N + i] = row[i];
  }
  return STATUS_OK;
}

}  // extern "C"
