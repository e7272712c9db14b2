// The layer-wise Edge-MoE engine: decoded descriptors, on-chip buffers, jobs, units.
//
// Schedule (docs/HARDWARE.md, "Engine"): tokens are processed in token blocks
// of up to TB rows whose activations stay on chip; K and V of every token stay
// on chip for the whole transformer block. Per block:
//   K/V phase   for each token block: LN1 -> K, V (linear unit) into the KV store;
//   main phase  for each token block: LN1 -> Q -> attention (per query block and
//               head: scores on the MAC array, online softmax, probabilities x V on
//               the MAC array) -> proj + residual -> LN2 -> dense MLP (fc1 + GELU,
//               fc2 + residual) or MoE (router logits, top-k + gates, per-expert
//               queues, expert-major htoh4 + GELU / h4toh, gated scatter-add,
//               combine).
// With one token block (T <= TB) the residual stream never leaves the chip;
// otherwise it lives in io_x and each block is loaded and stored once per phase.
// Model dimensions are run-time values from the descriptor, bounded by MAX_*.
#ifndef EDGEMOE_ENGINE_H
#define EDGEMOE_ENGINE_H

#include "edgemoe_fifo.h"
#include "edgemoe_math.h"

// Decoded global descriptor.
struct Model {
  int tokens, patches, dim, heads, head_dim, mlp_hidden, expert_hidden, experts, top_k, tasks;
  int depth, in_chans, patch, img_h, img_w, grid_h, grid_w, patch_in, router, gate_in, renorm;
  Fmt input, patch_w, patch_b, pos, cls, embed;
  uint32_t off_patch_w, off_patch_b, off_cls, off_pos, off_blocks, block_beats;
  uint32_t off_tables[6];  // exp2, recip, rsqrt_even, rsqrt_odd, gelu, log2e
  uint32_t io_in, io_x;  // input image and residual stream / output tokens in io
  uint32_t params_beats, io_beats;
  int token_blocks;  // ceil(tokens / TB)
};

// Decoded block descriptor (raw words kept: formats decoded where used).
struct Block {
  uint32_t w[BD_COUNT];
  Fmt fmt(int field) const { return decode_fmt(w[field]); }
  uint32_t off(int field) const { return w[field]; }
  bool moe() const { return w[BD_MOE] == 1; }
};

// --------------------------------------------------------------- on-chip buffers
// Every buffer of the engine (sizes from the synthesis maxima and the design).
// Token-block buffers hold rows [row0, row0 + TB) of the current token block.
// Widest x row the linear unit reads: MAX_K inputs, or MAX_TOKENS keys.
#define LU_MAX_IN (MAX_K > MAX_TOKENS ? MAX_K : MAX_TOKENS)
#define LU_MAX_IN_PAD (((LU_MAX_IN + TI - 1) / TI) * TI)
// Columns of the hidden buffer: a hidden chunk, or the patches of the embedding.
#define U_COLS (HC > MAX_PATCH_IN ? HC : MAX_PATCH_IN)

struct Chip {
  act_t x[TB][MAX_DIM];  // residual stream of the token block
  act_t h[TB][MAX_DIM];  // LayerNorm output (linear-unit input)
  act_t q[TB][MAX_DIM];  // queries
  act_t a[TB][MAX_DIM];  // attention output (heads concatenated)
  act_t u[TB][U_COLS];  // a hidden chunk after GELU (HC columns); patches of the embedding
  act_t k[MAX_TOKENS][MAX_DIM];  // KV store: keys of every token
  act_t v[MAX_TOKENS][MAX_DIM];  // KV store: values of every token
  act_t s[3][QB][MAX_TOKENS];  // scores of three heads in flight (softmax pipeline)
  int64_t m[3][QB];  // online softmax: running max per row
  PFloat inv[3][QB];  // 1 / running sum per row
  acc_t acc[TB][MAX_DIM];  // exact sums across jobs: fc2 hidden chunks, MoE combine
  mw_t wt[3][2 * TO][LU_MAX_IN_PAD];  // weight tiles: ping-pong, and a prefilled first tile
  act_t g[TB][MAX_EXPERTS];  // router logits
  row_t map_in[TB * MAX_TOP_K];  // expert queues: token row of each entry, by expert
  prob_t gate_of[TB * MAX_TOP_K];  // its gate value
  uint32_t slot_of[TB * MAX_TOP_K];  // its (token * top_k + slot) index (C simulation trace)
  uint8_t route_idx[TB][MAX_TOP_K];  // experts per token, best first
  prob_t route_gate[TB][MAX_TOP_K];  // their gates (gate_prob format)
  int q_count[MAX_EXPERTS], q_start[MAX_EXPERTS];
};

// ------------------------------------------------------------------ linear jobs
// The unified linear unit computes rows x out_features outputs of
//   y[r][n] = requant(sum_k x[r][k] * w[n][k] + bias[n] + residual[r][n])  [-> GELU]
// x streams through the MAC array R rows at a time from an on-chip buffer; w is a
// stationary tile of TOe rows, streamed from DDR over the weight ports or filled
// on chip (queries for the scores, probabilities for P x V).
enum XSource {
  XS_H = 0,  // LayerNorm output rows
  XS_A,  // attention output rows
  XS_U,  // hidden rows (or patches)
  XS_KEYS,  // scores: key rows of the head (x[key][k] = K[key][head column k])
  XS_VALUES_T  // P x V: value columns of the head (x[n][key] = V[key][head column n])
};
enum WSource {
  WS_DDR = 0,  // weight matrix from DDR (weight ports)
  WS_QUERIES,  // scores: w[q][k] = Q[query q][head column k]
  WS_PROB  // P x V: w[q][key] = probability of query q and key (probability lanes)
};
enum YSink {
  YS_X = 0,
  YS_K,
  YS_V,
  YS_Q,
  YS_SCORE_T,  // scores, transposed: S[slot][query n][key row]
  YS_A_T,  // attention output, transposed: A[query n][head column row]
  YS_U,
  YS_G,
  YS_ACC,  // gated scatter-add of the requantised outputs into the MoE combine
  YS_ACC_SET,  // raw exact sums into the accumulators (first hidden chunk of fc2)
  YS_ACC_ADD  // raw exact sums added to the accumulators (further chunks)
};
enum Residual { RES_NONE = 0, RES_X };

struct LinearJob {
  int rows;  // x rows (tokens, expert queue entries, keys, head columns)
  // x: rows of an on-chip buffer, optionally gathered through Chip::map_in
  int x_source;
  bool x_gather;  // row r reads row Chip::map_in[map0 + r]
  int map0;  // first queue entry of the job (experts)
  int x_row0;  // otherwise row r reads row x_row0 + r
  int x_col0;  // first column read (head slice)
  int in_features;  // inputs per row (K of the matmul)
  int in_tail;  // constant inputs appended to every row (router task feature)
  Fmt x_fmt;
  // w: out_features rows of in_features (+ in_tail) words
  int w_source;
  uint32_t w_off;  // DDR: beat offset of row 0
  int w_row0;  // on chip: first query row of the tile source
  int w_col0;  // on chip: first column (head slice)
  int out_features;
  Fmt w_fmt;
  int slot;  // score slot (scores and probabilities)
  int s_frac;  // probabilities: fraction bits of the scores they come from
  // bias (params, 16-bit words) and residual (aligned into the accumulator)
  bool bias;
  uint32_t b_off;
  int b_frac;
  int residual;
  int r_frac;
  bool acc_in;  // add the accumulators' raw sums first (the last hidden chunk of fc2)
  int w_col0_beats;  // DDR: first beat of each weight row read (hidden chunk of fc2)
  int w_row_beats;  // DDR: beats per stored weight row (0: as read)
  bool prefilled;  // tile 0 is already in Chip::wt[2] (probabilities, attention)
  // output
  int y_sink;
  int y_col0;  // first column written (head slice)
  int y_row0;  // row r writes (and takes its residual from) row y_row0 + r
  Fmt y_fmt;
  bool gelu;
  Fmt g_fmt;
};

// Operands the MAC array multiplies are packed two per DSP when both fit 8 bits.
inline bool packed_mode(const Fmt& x, const Fmt& w) { return x.w <= 8 && w.w <= 8; }

// Two MACs per DSP48E2: x * w_hi and x * w_lo from one 27 x 18 multiplication
// (pre-adder: w_hi * 2^18 + w_lo; x: 8-bit signed, w: 8-bit signed or unsigned,
// i.e. 9-bit signed at most). |x * w_lo| <= 128 * 255 < 2^17, so the product's
// low 18 bits sign-extended are x * w_lo exactly and the remaining bits x * w_hi.
inline void pack_mul(int x, int w_hi, int w_lo, int& p_hi, int& p_lo) {
#pragma HLS INLINE
  const int64_t p = (int64_t)x * (int64_t)(w_hi * (1 << 18) + w_lo);
  const int64_t lo = (int64_t)(int32_t)((uint32_t)p << 14) >> 14;  // sign-extend bits 17:0
  p_lo = (int)lo;
  p_hi = (int)((p - lo) >> 18);
}

// --- units (hls/src) ----------------------------------------------------------
void load_tables(const word_t* params, const Model& m, Tables& T);
int decode_model(const word_t* params, Model& m);
int check_model(const Model& m);
void load_block(const word_t* params, const Model& m, int i, Block& b);
int check_block(const Model& m, const Block& b, const Fmt& x_in);
Fmt block_input_fmt(const word_t* params, const Model& m, int i);

LinearJob blank_job();
// A list of jobs in one dataflow region: weights and biases of every job stream ahead
// of the compute, so each job's DDR latency hides under the previous job.
void linear_jobs(const word_t* params, EDGEMOE_WGT_DECL, Chip& c, const LinearJob* jobs, int n,
                 const act_t* tail, const Tables& T);
void linear_unit(const word_t* params, EDGEMOE_WGT_DECL, Chip& c, const LinearJob& job,
                 const act_t* tail, const Tables& T);
void fill_first_tile(const Chip& c, const LinearJob& j, const Tables& T, Chip& out);
void patch_embed(const word_t* params, EDGEMOE_WGT_DECL, const word_t* io, Chip& c, const Model& m,
                 int row0, int rows, const Tables& T);
void layernorm_rows(const word_t* params, Chip& c, const Model& m, const Block& b, int which,
                    int x_frac, int rows, const Tables& T);
void layernorm_rows_io(const word_t* params, const word_t* io, Chip& c, const Model& m,
                       const Block& b, int x_frac, int row0, int rows, const Tables& T);
void attention(Chip& c, const Model& m, const Block& b, int row0, int rows, const Tables& T,
               int block);
void dense_mlp(const word_t* params, EDGEMOE_WGT_DECL, Chip& c, const Model& m, const Block& b,
               int x_frac, int row0, int rows, const Tables& T, int block);
void moe_layer(const word_t* params, EDGEMOE_WGT_DECL, Chip& c, const Model& m, const Block& b,
               int x_frac, int task, int row0, int rows, const Tables& T, int block);
void run_block(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, Chip& c, const Model& m, int i,
               int task, int x_frac, const Tables& T);

// Residual stream of a token block: from io_x / to io_x (T > TB only).
void load_x(const word_t* io, Chip& c, const Model& m, int row0, int rows);
void store_x(word_t* io, const Chip& c, const Model& m, int row0, int rows);

// Top function: AXI4-Lite control; AXI4 masters gmem_io (params and io) and one per
// weight port (gmem_w0 ...); arguments and register map from pymodel.export.regmap.
void edgemoe_top(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, uint32_t task,
                 uint32_t* status);

// --- C simulation trace (not synthesised; TraceKind is generated) ------------
#ifdef EDGEMOE_CSIM_TRACE
#include <vector>
typedef void (*TraceHook)(int kind, int block, int a, int b, const int64_t* data, int rows,
                          int cols);
extern TraceHook edgemoe_trace_hook;
void trace_data(int kind, int block, int a, int b, const int64_t* data, int rows, int cols);
// Expert outputs y (before the gate) by (token * top_k + slot), emitted per MoE layer.
void trace_expert_output(uint32_t index, int col, int64_t y);
void trace_expert_flush(int block, uint32_t first, int rows, int cols);
// rows x cols of a chip buffer (any element type) holding tokens [row0, row0 + rows):
// the hook gets b = row0 so that the caller can assemble whole tensors.
template <typename T, int COLS>
void trace_rows(int kind, int block, int a, int row0, const T (*buf)[COLS], int rows, int cols) {
  if (!edgemoe_trace_hook) return;
  std::vector<int64_t> out((size_t)rows * cols);
  for (int r = 0; r < rows; r++)
    for (int k = 0; k < cols; k++) out[(size_t)r * cols + k] = (int64_t)buf[r][k];
  edgemoe_trace_hook(kind, block, a, row0, out.data(), rows, cols);
}
#define EM_TRACE_ROWS(kind, block, a, row0, buf, rows, cols) \
  trace_rows(kind, block, a, row0, buf, rows, cols)
#else
#define EM_TRACE_ROWS(kind, block, a, row0, buf, rows, cols)
#endif

#endif  // EDGEMOE_ENGINE_H
