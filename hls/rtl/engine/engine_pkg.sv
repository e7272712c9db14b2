// The RTL engine's job record and unit codes: the linear unit's LinearJob of
// hls/include/edgemoe_engine.h as a packed struct, with the same sources and
// sinks. The sequencer (engine_seq) builds jobs from the descriptors exactly
// as hls/src builds them; the linear unit (lin_unit) runs lists of them.
// Field widths are fixed (not design parameters) so that the struct is one
// type for every instance; the descriptor check bounds every value.
`default_nettype none
// Unused bits of the job and model records and of 32-bit index temporaries are
// expected here (each unit reads the fields it needs).
/* verilator lint_off UNUSEDSIGNAL */  // file

/* verilator lint_off UNUSEDPARAM */
package engine_pkg;
  // x operand source (XSource)
  localparam logic [2:0] XS_H = 3'd0;  // LayerNorm output rows
  localparam logic [2:0] XS_A = 3'd1;  // attention output rows
  localparam logic [2:0] XS_U = 3'd2;  // hidden rows / patches
  localparam logic [2:0] XS_KEYS = 3'd3;  // scores: key rows of the head
  localparam logic [2:0] XS_VALUES_T = 3'd4;  // P x V: value columns of the head
  // w operand source (WSource)
  localparam logic [1:0] WS_DDR = 2'd0;  // weight matrix streamed over the weight ports
  localparam logic [1:0] WS_QUERIES = 2'd1;  // scores: the query rows of the head
  localparam logic [1:0] WS_PROB = 2'd2;  // P x V: probabilities (probability lanes)
  // output sink (YSink)
  localparam logic [3:0] YS_X = 4'd0;
  localparam logic [3:0] YS_K = 4'd1;
  localparam logic [3:0] YS_V = 4'd2;
  localparam logic [3:0] YS_Q = 4'd3;
  localparam logic [3:0] YS_SCORE_T = 4'd4;  // S[slot][query n][key row]
  localparam logic [3:0] YS_A_T = 4'd5;  // A[query n][head column row]
  localparam logic [3:0] YS_U = 4'd6;
  localparam logic [3:0] YS_G = 4'd7;
  localparam logic [3:0] YS_ACC = 4'd8;  // gated scatter-add into the MoE combine
  localparam logic [3:0] YS_ACC_SET = 4'd9;  // raw sums into the accumulators
  localparam logic [3:0] YS_ACC_ADD = 4'd10;  // raw sums added to the accumulators

  typedef struct packed {
    logic [15:0] rows;  // x rows
    logic [2:0] x_src;
    logic x_gather;  // row r reads row map_in[map0 + r]
    logic [15:0] map0;
    logic [15:0] x_row0;
    logic [15:0] x_col0;
    logic [15:0] in_features;
    logic [15:0] in_tail;  // constant inputs appended (router task feature)
    logic signed [9:0] x_frac;
    logic [6:0] x_width;
    logic [1:0] w_src;
    logic [31:0] w_off;  // DDR: beat offset of weight row 0 (from the port's base)
    logic [15:0] w_row0;  // on chip: first query row
    logic [15:0] w_col0;  // on chip: first column (head slice)
    logic [15:0] out_features;
    logic signed [9:0] w_frac;
    logic [6:0] w_width;
    logic [21:0] w_fmt;  // probabilities: their format word
    logic [1:0] slot;  // score slot
    logic signed [9:0] s_frac;  // probabilities: fraction bits of the scores
    logic bias;
    logic [31:0] b_off;  // params beat of the bias vector
    logic signed [9:0] b_frac;
    logic residual;  // add x[row][n] aligned from r_frac
    logic signed [9:0] r_frac;
    logic acc_in;  // add the accumulators' raw sums first
    logic [15:0] w_col0_beats;  // DDR: first beat of each weight row read
    logic [15:0] w_row_beats;  // DDR: beats per stored weight row (0: as read)
    logic prefilled;  // tile 0 is already in tile buffer 2
    logic [3:0] y_sink;
    logic [15:0] y_col0;
    logic [15:0] y_row0;
    logic [21:0] y_fmt;
    logic gelu;
    logic [21:0] g_fmt;
  } job_t;

  // The decoded global descriptor (hls/src/edgemoe_top.cpp decode_model).
  typedef struct packed {
    logic [15:0] tokens, patches, dim, heads, head_dim, mlp_hidden, expert_hidden;
    logic [15:0] experts, top_k, tasks, depth, in_chans, patch, img_h, img_w;
    logic [15:0] grid_h, grid_w, patch_in, router, gate_in, renorm, token_blocks;
    logic [21:0] f_input, f_patch_w, f_patch_b, f_pos, f_cls, f_embed;
    logic [31:0] off_patch_w, off_patch_b, off_cls, off_pos, off_blocks, block_beats;
    logic [31:0] io_in, io_x;
  } model_t;

  // Fraction bits and width of a descriptor format word.
  function automatic logic signed [9:0] fmt_f(input logic [31:0] w);
    fmt_f = 10'($signed(w[15:8]));
  endfunction
  function automatic logic [6:0] fmt_w(input logic [31:0] w);
    fmt_w = w[6:0];
  endfunction

  // Layer kinds of the measured cycle counters (engine_seq); sim.run_engine names them.
  localparam logic [3:0] K_TOP = 4'd0;  // block descriptor reads
  localparam logic [3:0] K_EMBED = 4'd1;
  localparam logic [3:0] K_NORM1 = 4'd2;
  localparam logic [3:0] K_KV = 4'd3;
  localparam logic [3:0] K_Q = 4'd4;
  localparam logic [3:0] K_ATTN = 4'd5;
  localparam logic [3:0] K_PROJ = 4'd6;
  localparam logic [3:0] K_NORM2 = 4'd7;
  localparam logic [3:0] K_MLP = 4'd8;
  localparam logic [3:0] K_GATE = 4'd9;
  localparam logic [3:0] K_ROUTE = 4'd10;
  localparam logic [3:0] K_EXPERTS = 4'd11;
  localparam logic [3:0] K_COMBINE = 4'd12;
  localparam logic [3:0] K_OUTPUT = 4'd13;
  localparam int N_KINDS = 14;

  // Transfer unit commands (xfer_unit).
  localparam logic [2:0] XF_LOAD = 3'd0;  // io_x rows -> x
  localparam logic [2:0] XF_STORE = 3'd1;  // x -> io_x rows
  localparam logic [2:0] XF_PATCH = 3'd2;  // patches -> u, position rows -> x
  localparam logic [2:0] XF_CLS = 3'd3;  // x[0] = cls + pos[0]
  localparam logic [2:0] XF_TAIL = 3'd4;  // the router's task feature (params words)

  localparam int JOB_W = $bits(job_t);

  function automatic int div_up(input int n, input int d);
    div_up = (n + d - 1) / d;
  endfunction

  // Beats of one weight row of n words stored at `width` (<= 8: 8-bit words) bits.
  function automatic int wrow_beats(input int n, input int width);
    wrow_beats = (width <= 8) ? div_up(n, 16) : div_up(n, 8);
  endfunction

  // Operands of both widths <= 8 bits: two MACs per DSP.
  function automatic logic packed_mode(input job_t j);
    packed_mode = (j.x_width <= 7'd8) && (j.w_width <= 7'd8);
  endfunction

  // A job whose outputs go into the exact accumulators (ACC_LANES per cycle).
  function automatic logic acc_sink(input logic [3:0] s);
    acc_sink = (s == YS_ACC) || (s == YS_ACC_SET) || (s == YS_ACC_ADD);
  endfunction
endpackage : engine_pkg
/* verilator lint_on UNUSEDPARAM */

/* verilator lint_on UNUSEDSIGNAL */
`default_nettype wire
