// The layer-wise Edge-MoE engine: descriptor decoding, the units, the top function.
//
// Dataflow per block (activations in DDR, tiles on chip):
//   LN1 -> Q,K,V (linear unit) -> attention -> proj + residual (linear unit)
//   -> LN2 -> dense MLP (fc1+GELU, fc2 + residual) or MoE (gate logits,
//   router, per-expert queues, expert-major htoh4+GELU / h4toh, combine).
// Model dimensions are run-time values from the descriptor, bounded by the
// MAX_* synthesis maxima of edgemoe_config.h.
#ifndef EDGEMOE_ENGINE_H
#define EDGEMOE_ENGINE_H

#include "edgemoe_math.h"

// Decoded global descriptor.
struct Model {
  int T, N, D, H, HD, MLP, EH, E, K, TASKS, DEPTH, C, P, IMG_H, IMG_W, GH, GW, PIN;
  int router, GIN, renorm;
  Fmt input, patch_w, patch_b, pos, cls, embed;
  uint32_t off_patch_w, off_patch_b, off_cls, off_pos, off_blocks, block_beats;
  uint32_t off_tables[6];  // exp2, recip, rsqrt_even, rsqrt_odd, gelu, log2e
  uint32_t io_in, io_x, io_h, io_q, io_k, io_v, io_a, io_u, io_g, io_y;
  uint32_t params_beats, io_beats;
};

// Decoded block descriptor (raw words kept: formats decoded where used).
struct Block {
  uint32_t w[BD_COUNT];
  Fmt fmt(int field) const { return decode_fmt(w[field]); }
  uint32_t off(int field) const { return w[field]; }
};

// What the linear unit reads, multiplies and writes (one job per layer / expert).
enum XMode { XM_ROWS = 0, XM_PATCHES = 1 };
enum RMode { RM_NONE = 0, RM_IO = 1, RM_PARAMS = 2 };

struct LinearJob {
  int rows;  // output rows
  // input rows: io rows (optionally gathered through map_in) or image patches
  int x_mode;
  uint32_t x_off;
  int x_stride;  // beats per input row
  int x_row0;
  bool x_gather;
  int K;  // inputs read per row
  int K_tail;  // constant inputs appended to every row (router task feature), from params
  uint32_t tail_off;
  int x_frac;
  // weights (N rows of K + K_tail, row-padded to beats), optional bias
  uint32_t w_off;
  int N;
  int w_frac;
  bool bias;
  uint32_t b_off;
  int b_frac;
  // residual added in the accumulator (aligned), from io or params rows
  int r_mode;
  uint32_t r_off;
  int r_stride;
  int r_row0;
  int r_frac;
  // output: requantise to y_fmt, optionally GELU to g_fmt; rows scattered through map_out
  uint32_t y_off;
  int y_stride;
  int y_row0;
  bool y_scatter;
  Fmt y_fmt;
  bool gelu;
  Fmt g_fmt;
};

// --- units (hls/src) ----------------------------------------------------------
void load_tables(const word_t* params, const Model& m, Tables& T);
int decode_model(const word_t* params, Model& m);
int check_model(const Model& m);
void load_block(const word_t* params, const Model& m, int i, Block& b);
int check_block(const Model& m, const Block& b, int i, const Fmt& x_in);
Fmt block_input_fmt(const word_t* params, const Model& m, int i);

void linear_unit(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const LinearJob& job, const row_t* map_in,
                 const row_t* map_out, const Tables& T, const Model& m);
void patch_embed(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const Model& m, const Tables& T);
void layernorm_layer(const word_t* params, word_t* io, const Model& m, uint32_t x_off, int x_frac,
                     uint32_t y_off, const Block& b, int which, const Tables& T);
void qkv_layers(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const Model& m, const Block& b, const Tables& T);
void attention(word_t* io, const Model& m, const Block& b, const Tables& T, int block);
void proj_layer(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const Model& m, const Block& b, int x_frac,
                const Tables& T);
void dense_mlp(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const Model& m, const Block& b, int x_frac,
               const Tables& T, int block);
void moe_layer(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const Model& m, const Block& b, int x_frac,
               int task, const Tables& T, int block);
void run_block(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, const Model& m, int i, int task,
               const Tables& T);

// Top function: AXI4-Lite control; AXI4 masters gmem_io (params and io) and one per
// weight port (gmem_w0 ...); arguments and register map from pymodel.export.regmap.
void edgemoe_top(const word_t* params, EDGEMOE_WGT_DECL, word_t* io, uint32_t task,
                 uint32_t* status);

// --- C simulation trace (not synthesised; TraceKind is generated) ------------
#ifdef EDGEMOE_CSIM_TRACE
typedef void (*TraceHook)(int kind, int block, int a, int b, const int64_t* data, int rows,
                          int cols);
extern TraceHook edgemoe_trace_hook;
void trace_io(int kind, int block, const word_t* io, uint32_t off, int rows, int cols);
void trace_data(int kind, int block, int a, int b, const int64_t* data, int rows, int cols);
#define EM_TRACE_IO(kind, block, io, off, rows, cols) trace_io(kind, block, io, off, rows, cols)
#else
#define EM_TRACE_IO(kind, block, io, off, rows, cols)
#endif

#endif  // EDGEMOE_ENGINE_H
