// The descriptor check of the HLS top (hls/src/edgemoe_top.cpp): decode_model,
// check_model, the task check and check_block of every block, in the C++'s
// order, so that a descriptor with several faults gets the status code the C++
// returns (the first failing check wins). Every index, code and maximum comes
// from the generated edgemoe_regs_pkg (pymodel/export/rtl_regs.py), with the
// values edgemoe_config.h gets for the same design.
//
// Arithmetic is the C++'s: the descriptor's dimensions are `int` (32-bit
// two's complement, products and sums wrap), offsets and sizes uint32_t,
// region_ok compares off + beats <= limit in 33 bits, div_roundup is C's
// truncating division of (n + d - 1) by d.
//
// Interface: `start` (one cycle, while idle) latches the global descriptor
// words `gd` (word k in gd[32k +: 32], as a descriptor fetch read them) and
// `task_idx`. Block descriptor fields are read through a port with a
// registered one-cycle read: bd_rd with (bd_block, bd_field) in a cycle, the
// word on bd_data in the next one (the caller maps block i to its address,
// off_blocks + i * block_beats beats, as load_block). `done` pulses one cycle
// with `status` (held until the next start).
//
// Cycles (start -> done): the global checks take GLOBAL_CYCLES = 3 (latch,
// evaluate, decide); every block read and checked adds BLOCK_CYCLES =
// BD_COUNT + 3 (one read per field, the last word, evaluate, decide). Each
// evaluate cycle computes every check group of its stage from registers; the
// decide cycle takes the first failing group in the C++'s order.
`default_nettype none

// renorm and the format bits other than width, fraction, signed and
// present are not checked by the C++ either: those descriptor bits are not read here.
/* verilator lint_off UNUSEDSIGNAL */  // file
module desc_check #(
    // activation word bits of the export (EDGEMOE_ACT_W): 16 or 32
    parameter int ACT_W = 16
) (
    input  wire                                                clk,
    input  wire                                                rst,
    input  wire                                                start,
    input  wire  [32*edgemoe_regs_pkg::GD_COUNT-1:0]           gd,
    input  wire  [31:0]                                        task_idx,
    // block descriptor read port (registered read: data the cycle after bd_rd)
    output logic                                               bd_rd,
    output logic [$clog2(edgemoe_regs_pkg::MAX_DEPTH+1)-1:0]   bd_block,
    output logic [$clog2(edgemoe_regs_pkg::BD_COUNT)-1:0]      bd_field,
    input  wire  [31:0]                                        bd_data,
    output logic                                               busy,
    output logic                                               done,
    output logic [31:0]                                        status
);
  // the package's constants by their own names (no wildcard import, which Yosys cannot read)
  localparam int GD_COUNT = edgemoe_regs_pkg::GD_COUNT;
  localparam int BD_COUNT = edgemoe_regs_pkg::BD_COUNT;
  localparam int MAX_TASKS = edgemoe_regs_pkg::MAX_TASKS;
  localparam int WEIGHT_W = edgemoe_regs_pkg::WEIGHT_W;
  localparam int BLK_W = $clog2(edgemoe_regs_pkg::MAX_DEPTH + 1);
  localparam int FLD_W = $clog2(BD_COUNT);
  localparam int ACC_W = 2 * ACT_W + 16;  // the linear unit's accumulator (edgemoe_types.h)
  localparam int ALG = ACT_W == 16 ? 3 : 2;  // log2 of activations per 128-bit beat (APW)
  localparam int APW = 1 << ALG;
  localparam int GLOBAL_CYCLES = 3;
  localparam int BLOCK_CYCLES = BD_COUNT + 3;

  initial begin
    if (ACT_W != 16 && ACT_W != 32) begin
      $error("desc_check: ACT_W = %0d, the engine's activation words are 16 or 32 bits", ACT_W);
      $finish;
    end
    if (APW * ACT_W != 128 || GLOBAL_CYCLES + BLOCK_CYCLES <= BD_COUNT) begin
      $error("desc_check: inconsistent beat geometry");
      $finish;
    end
  end

  // ---------------------------------------------------------------- C++ helpers
  function automatic int fwid(input logic [31:0] w);  // Fmt.w
    return int'({25'd0, w[6:0]});
  endfunction
  function automatic int ffrac(input logic [31:0] w);  // Fmt.f (int8)
    return int'({{24{w[15]}}, w[15:8]});
  endfunction
  function automatic logic act_ok(input logic [31:0] w);
    return w[16] && fwid(w) >= 2 && fwid(w) <= ACT_W;
  endfunction
  function automatic logic wgt_ok(input logic [31:0] w);
    return w[16] && fwid(w) >= 2 && fwid(w) <= WEIGHT_W;
  endfunction
  function automatic logic prob_ok(input logic [31:0] w);
    return fwid(w) >= 2 && fwid(w) <= ACT_W;
  endfunction
  function automatic logic pact(input logic [31:0] w);  // present and an activation format
    return w[24] && act_ok(w);
  endfunction
  function automatic logic pwgt(input logic [31:0] w);
    return w[24] && wgt_ok(w);
  endfunction
  function automatic logic aligns(input int sh, input int bits);
    return sh >= 0 && sh + bits <= ACC_W - 3;
  endfunction
  function automatic logic in_range(input int v, input int hi);
    return v >= 1 && v <= hi;
  endfunction
  // div_roundup(n, 2^lg): C's (n + d - 1) / d, truncating toward zero, int wrap
  function automatic int cdiv(input int n, input int lg);
    int a;
    a = n + ((1 << lg) - 1);
    if (a < 0) a = a + ((1 << lg) - 1);
    return a >>> lg;
  endfunction
  function automatic int act_beats(input int n);
    return cdiv(n, ALG);
  endfunction
  function automatic int wgt_beats(input int n);
    return cdiv(n, 3);  // 16-bit weights: 8 per beat
  endfunction
  function automatic int wrow_beats(input int n, input int bits);
    return cdiv(n, bits <= 8 ? 4 : 3);  // 8-bit weights: 16 per beat
  endfunction
  function automatic logic region_ok(input logic [31:0] off, input logic [31:0] beats,
                                     input logic [31:0] limit);
    return {1'b0, off} + {1'b0, beats} <= {1'b0, limit};
  endfunction
  // one linear layer: formats present, storable, bias (and residual) aligned
  function automatic logic lin_ok(input int xf, input logic [31:0] w, input logic [31:0] b,
                                  input logic [31:0] y, input logic has_res, input int rf);
    int acc;
    acc = xf + ffrac(w);
    return pwgt(w) && pwgt(b) && pact(y) && aligns(acc - ffrac(b), WEIGHT_W) &&
        (!has_res || aligns(acc - rf, ACT_W));
  endfunction

  // ------------------------------------------------------------------ state
  typedef enum logic [2:0] {
    S_IDLE,
    S_GEVAL,
    S_GDEC,
    S_BREAD,
    S_BLAST,
    S_BEVAL,
    S_BDEC
  } state_t;
  state_t state;
  logic [GD_COUNT-1:0][31:0] g;  // the latched global descriptor
  logic [31:0] tsk;
  logic [BD_COUNT-1:0][31:0] bw;  // the block descriptor being checked
  logic [BLK_W-1:0] blk;
  logic [FLD_W-1:0] fld, fld_q;
  logic rd_q;
  int x_frac;  // fraction bits of the residual stream entering block blk

  // --------------------------------------------------- decoded global fields
  wire signed [31:0] tokens = g[edgemoe_regs_pkg::GD_TOKENS];
  wire signed [31:0] patches = g[edgemoe_regs_pkg::GD_PATCHES];
  wire signed [31:0] dim = g[edgemoe_regs_pkg::GD_DIM];
  wire signed [31:0] heads = g[edgemoe_regs_pkg::GD_HEADS];
  wire signed [31:0] head_dim = g[edgemoe_regs_pkg::GD_HEAD_DIM];
  wire signed [31:0] mlp_hidden = g[edgemoe_regs_pkg::GD_MLP_HIDDEN];
  wire signed [31:0] expert_hidden = g[edgemoe_regs_pkg::GD_EXPERT_HIDDEN];
  wire signed [31:0] experts = g[edgemoe_regs_pkg::GD_EXPERTS];
  wire signed [31:0] top_k = g[edgemoe_regs_pkg::GD_TOP_K];
  wire signed [31:0] tasks = g[edgemoe_regs_pkg::GD_TASKS];
  wire signed [31:0] depth = g[edgemoe_regs_pkg::GD_DEPTH];
  wire signed [31:0] in_chans = g[edgemoe_regs_pkg::GD_IN_CHANS];
  wire signed [31:0] patch = g[edgemoe_regs_pkg::GD_PATCH];
  wire signed [31:0] img_h = g[edgemoe_regs_pkg::GD_IMG_H];
  wire signed [31:0] img_w = g[edgemoe_regs_pkg::GD_IMG_W];
  wire signed [31:0] grid_h = g[edgemoe_regs_pkg::GD_GRID_H];
  wire signed [31:0] grid_w = g[edgemoe_regs_pkg::GD_GRID_W];
  wire signed [31:0] patch_in = g[edgemoe_regs_pkg::GD_PATCH_IN];
  wire signed [31:0] router = g[edgemoe_regs_pkg::GD_ROUTER];
  wire signed [31:0] gate_in = g[edgemoe_regs_pkg::GD_GATE_IN];
  wire [31:0] params_beats = g[edgemoe_regs_pkg::GD_PARAMS_BEATS];
  wire [31:0] io_beats = g[edgemoe_regs_pkg::GD_IO_BEATS];
  wire [31:0] f_input = g[edgemoe_regs_pkg::GD_FMT_INPUT];
  wire [31:0] f_patch_w = g[edgemoe_regs_pkg::GD_FMT_PATCH_W];
  wire [31:0] f_patch_b = g[edgemoe_regs_pkg::GD_FMT_PATCH_B];
  wire [31:0] f_pos = g[edgemoe_regs_pkg::GD_FMT_POS];
  wire [31:0] f_cls = g[edgemoe_regs_pkg::GD_FMT_CLS];
  wire [31:0] f_embed = g[edgemoe_regs_pkg::GD_FMT_EMBED];

  // ----------------------------------------- global check groups, C++ order
  localparam int NG = 9;
  // (continuous assignments, bit by bit: Icarus re-runs an always_comb that writes
  // parts of a vector forever)
  wire [NG-1:0] gf;  // a group failed (evaluated from g, then registered)
  logic [NG-1:0] gf_q;
  wire [31:0] io_in = g[edgemoe_regs_pkg::GD_IO_IN];
  wire [31:0] io_x = g[edgemoe_regs_pkg::GD_IO_X];
  // region ends in 33 bits (as the C++'s 64): an offset near 2^32 must not wrap
  wire [32:0] in_end = {1'b0, io_in} + {1'b0, 32'(in_chans * img_h * act_beats(img_w))};
  wire [32:0] x_end = {1'b0, io_x} + {1'b0, 32'(tokens * act_beats(dim))};
  wire signed [31:0] acc0 = ffrac(f_input) + ffrac(f_patch_w);
  // decode_model
  assign gf[0] = g[edgemoe_regs_pkg::GD_MAGIC] != 32'(edgemoe_regs_pkg::DESC_MAGIC) ||
      g[edgemoe_regs_pkg::GD_VERSION] != 32'(edgemoe_regs_pkg::DESC_VERSION);
  assign gf[1] = g[edgemoe_regs_pkg::GD_ACT_W] != 32'(ACT_W);
  assign gf[2] = !f_input[24] || !f_patch_w[24] || !f_patch_b[24] || !f_pos[24] || !f_cls[24] ||
      !f_embed[24];
  // check_model: maxima
  assign gf[3] = !in_range(tokens, edgemoe_regs_pkg::MAX_TOKENS) ||
      !in_range(dim, edgemoe_regs_pkg::MAX_DIM) || !in_range(heads, edgemoe_regs_pkg::MAX_HEADS) ||
      !in_range(head_dim, edgemoe_regs_pkg::MAX_HEAD_DIM) ||
      !in_range(mlp_hidden, edgemoe_regs_pkg::MAX_HIDDEN) ||
      !in_range(expert_hidden, edgemoe_regs_pkg::MAX_HIDDEN) ||
      !in_range(experts, edgemoe_regs_pkg::MAX_EXPERTS) ||
      !in_range(top_k, edgemoe_regs_pkg::MAX_TOP_K) ||
      !in_range(tasks, edgemoe_regs_pkg::MAX_TASKS) ||
      !in_range(depth, edgemoe_regs_pkg::MAX_DEPTH) ||
      !in_range(patch_in, edgemoe_regs_pkg::MAX_PATCH_IN) ||
      !in_range(gate_in, edgemoe_regs_pkg::MAX_GATE_IN) || expert_hidden > edgemoe_regs_pkg::HC;
  // consistency
  assign gf[4] = tokens != patches + 1 || patches != grid_h * grid_w || img_h != grid_h * patch ||
      img_w != grid_w * patch || patch_in != in_chans * patch * patch ||
      dim != heads * head_dim || (head_dim & (APW - 1)) != 0 || (patch & (APW - 1)) != 0 ||
      top_k > experts || router < 0 || router > 2 || gate_in < dim ||
      ((router == edgemoe_regs_pkg::ROUTER_TASK) != (gate_in > dim));
  // formats of the embedding
  assign gf[5] = !act_ok(f_input) || !wgt_ok(f_patch_w) || !wgt_ok(f_patch_b) || !act_ok(f_pos) ||
      !act_ok(f_cls) || !act_ok(f_embed) || !aligns(acc0 - ffrac(f_patch_b), WEIGHT_W) ||
      !aligns(acc0 - ffrac(f_pos), ACT_W);
  // io layout
  assign gf[6] = in_end > {1'b0, io_beats} || x_end > {1'b0, io_beats} ||
      ({1'b0, io_x} < in_end && {1'b0, io_in} < x_end);
  // params layout: block descriptors, patch weights, positions, cls, tables
  assign gf[7] = (g[edgemoe_regs_pkg::GD_BLOCK_BEATS] << 2) < 32'(BD_COUNT) ||
      !region_ok(g[edgemoe_regs_pkg::GD_OFF_BLOCKS],
                 g[edgemoe_regs_pkg::GD_BLOCK_BEATS] * g[edgemoe_regs_pkg::GD_DEPTH],
                 params_beats) ||
      !region_ok(g[edgemoe_regs_pkg::GD_OFF_PATCH_W],
                 32'(dim * wrow_beats(patch_in, fwid(f_patch_w))), params_beats) ||
      !region_ok(g[edgemoe_regs_pkg::GD_OFF_PATCH_B], 32'(wgt_beats(dim)), params_beats) ||
      !region_ok(g[edgemoe_regs_pkg::GD_OFF_POS], 32'(tokens * act_beats(dim)), params_beats) ||
      !region_ok(g[edgemoe_regs_pkg::GD_OFF_CLS], 32'(act_beats(dim)), params_beats) ||
      !region_ok(g[edgemoe_regs_pkg::GD_OFF_EXP2],
                 32'((edgemoe_regs_pkg::TABLE_EXP2_LEN + 3) / 4), params_beats) ||
      !region_ok(g[edgemoe_regs_pkg::GD_OFF_RECIP],
                 32'((edgemoe_regs_pkg::TABLE_RECIP_LEN + 3) / 4), params_beats) ||
      !region_ok(g[edgemoe_regs_pkg::GD_OFF_RSQRT_EVEN],
                 32'((edgemoe_regs_pkg::TABLE_RSQRT_EVEN_LEN + 3) / 4), params_beats) ||
      !region_ok(g[edgemoe_regs_pkg::GD_OFF_RSQRT_ODD],
                 32'((edgemoe_regs_pkg::TABLE_RSQRT_ODD_LEN + 3) / 4), params_beats) ||
      !region_ok(g[edgemoe_regs_pkg::GD_OFF_GELU],
                 32'((edgemoe_regs_pkg::TABLE_GELU_LEN + 3) / 4), params_beats) ||
      !region_ok(g[edgemoe_regs_pkg::GD_OFF_LOG2E], 32'd1, params_beats);
  // the task (edgemoe_top: task >= (uint32_t)m.tasks)
  assign gf[8] = tsk >= tasks;

  // ------------------------------------------ block check groups, C++ order
  localparam int NB = 8;
  wire [NB-1:0] bf;
  logic [NB-1:0] bf_q;
  logic moe_q, gate_lay_q;
  wire moe = bw[edgemoe_regs_pkg::BD_MOE] == 32'd1;
  wire [31:0] dw = 32'(wgt_beats(dim));  // beats of a vector of dim weights
  wire signed [31:0] h1 = ffrac(bw[edgemoe_regs_pkg::BD_FMT_NORM1]);
  wire signed [31:0] h2 = ffrac(bw[edgemoe_regs_pkg::BD_FMT_NORM2]);
  wire signed [31:0] x2 = ffrac(bw[edgemoe_regs_pkg::BD_FMT_PROJ]);
  wire signed [31:0] gates = router == edgemoe_regs_pkg::ROUTER_MULTI ? tasks : 1;
  // MoE router weights, gate by gate (format, then region): {a gate failed, by its region}
  function automatic logic [1:0] gate_check(input logic [BD_COUNT-1:0][31:0] b, input int n,
                                            input int e, input int gi, input logic [31:0] lim);
    logic [1:0] r;
    r = 2'b00;
    for (int t = 0; t < MAX_TASKS; t++) begin
      if (r == 2'b00 && t < n) begin
        if (!pwgt(b[edgemoe_regs_pkg::BD_FMT_GATE_W_0+t])) r = 2'b10;
        else if (!region_ok(
                b[edgemoe_regs_pkg::BD_OFF_GATE_W_0+t],
                32'(e * wrow_beats(gi, fwid(b[edgemoe_regs_pkg::BD_FMT_GATE_W_0+t]))),
                lim
            ))
          r = 2'b11;
      end
    end
    return r;
  endfunction
  // router 'task': the task features of the first n tasks outside the image
  function automatic logic feature_bad(input logic [BD_COUNT-1:0][31:0] b, input int n,
                                       input logic [31:0] beats, input logic [31:0] lim);
    logic r;
    r = 1'b0;
    for (int t = 0; t < MAX_TASKS; t++)
      if (t < n && !region_ok(b[edgemoe_regs_pkg::BD_OFF_FEATURE_0+t], beats, lim)) r = 1'b1;
    return r;
  endfunction
  logic [1:0] gates_bad;
  assign gates_bad = gate_check(bw, gates, experts, gate_in, params_beats);
  assign bf[0] = bw[edgemoe_regs_pkg::BD_MOE] > 32'd1;  // INCONSISTENT
  // formats of the attention half (BAD_FORMAT)
  assign bf[1] = !pact(bw[edgemoe_regs_pkg::BD_FMT_NORM1_Z]) ||
      !pact(bw[edgemoe_regs_pkg::BD_FMT_NORM1]) || !pact(bw[edgemoe_regs_pkg::BD_FMT_Q]) ||
      !pact(bw[edgemoe_regs_pkg::BD_FMT_K]) || !pact(bw[edgemoe_regs_pkg::BD_FMT_V]) ||
      !pact(bw[edgemoe_regs_pkg::BD_FMT_SCORE]) || !pact(bw[edgemoe_regs_pkg::BD_FMT_ATTN]) ||
      !pact(bw[edgemoe_regs_pkg::BD_FMT_NORM2_Z]) || !pact(bw[edgemoe_regs_pkg::BD_FMT_NORM2]) ||
      !pwgt(bw[edgemoe_regs_pkg::BD_FMT_NORM1_W]) ||
      !pwgt(bw[edgemoe_regs_pkg::BD_FMT_NORM1_B]) ||
      !pwgt(bw[edgemoe_regs_pkg::BD_FMT_NORM2_W]) ||
      !pwgt(bw[edgemoe_regs_pkg::BD_FMT_NORM2_B]) ||
      !bw[edgemoe_regs_pkg::BD_FMT_PROB][24] || !prob_ok(bw[edgemoe_regs_pkg::BD_FMT_PROB]) ||
      ffrac(bw[edgemoe_regs_pkg::BD_FMT_NORM1_B]) >
      ffrac(bw[edgemoe_regs_pkg::BD_FMT_NORM1_Z]) + ffrac(bw[edgemoe_regs_pkg::BD_FMT_NORM1_W]) ||
      ffrac(bw[edgemoe_regs_pkg::BD_FMT_NORM2_B]) >
      ffrac(bw[edgemoe_regs_pkg::BD_FMT_NORM2_Z]) + ffrac(bw[edgemoe_regs_pkg::BD_FMT_NORM2_W]) ||
      bw[edgemoe_regs_pkg::BD_EPS1] == 0 || bw[edgemoe_regs_pkg::BD_EPS2] == 0 ||
      !lin_ok(h1, bw[edgemoe_regs_pkg::BD_FMT_Q_W], bw[edgemoe_regs_pkg::BD_FMT_Q_B],
              bw[edgemoe_regs_pkg::BD_FMT_Q], 1'b0, 0) ||
      !lin_ok(h1, bw[edgemoe_regs_pkg::BD_FMT_K_W], bw[edgemoe_regs_pkg::BD_FMT_K_B],
              bw[edgemoe_regs_pkg::BD_FMT_K], 1'b0, 0) ||
      !lin_ok(h1, bw[edgemoe_regs_pkg::BD_FMT_V_W], bw[edgemoe_regs_pkg::BD_FMT_V_B],
              bw[edgemoe_regs_pkg::BD_FMT_V], 1'b0, 0) ||
      !lin_ok(ffrac(bw[edgemoe_regs_pkg::BD_FMT_ATTN]), bw[edgemoe_regs_pkg::BD_FMT_PROJ_W],
              bw[edgemoe_regs_pkg::BD_FMT_PROJ_B], bw[edgemoe_regs_pkg::BD_FMT_PROJ], 1'b1,
              x_frac);
  // regions of the attention half (BAD_LAYOUT)
  assign bf[2] = !region_ok(bw[edgemoe_regs_pkg::BD_OFF_NORM1_W], dw, params_beats) ||
      !region_ok(bw[edgemoe_regs_pkg::BD_OFF_NORM1_B], dw, params_beats) ||
      !region_ok(bw[edgemoe_regs_pkg::BD_OFF_NORM2_W], dw, params_beats) ||
      !region_ok(bw[edgemoe_regs_pkg::BD_OFF_NORM2_B], dw, params_beats) ||
      !region_ok(bw[edgemoe_regs_pkg::BD_OFF_Q_B], dw, params_beats) ||
      !region_ok(bw[edgemoe_regs_pkg::BD_OFF_K_B], dw, params_beats) ||
      !region_ok(bw[edgemoe_regs_pkg::BD_OFF_V_B], dw, params_beats) ||
      !region_ok(bw[edgemoe_regs_pkg::BD_OFF_PROJ_B], dw, params_beats) ||
      !region_ok(bw[edgemoe_regs_pkg::BD_OFF_Q_W],
                 32'(dim * wrow_beats(dim, fwid(bw[edgemoe_regs_pkg::BD_FMT_Q_W]))),
                 params_beats) ||
      !region_ok(bw[edgemoe_regs_pkg::BD_OFF_K_W],
                 32'(dim * wrow_beats(dim, fwid(bw[edgemoe_regs_pkg::BD_FMT_K_W]))),
                 params_beats) ||
      !region_ok(bw[edgemoe_regs_pkg::BD_OFF_V_W],
                 32'(dim * wrow_beats(dim, fwid(bw[edgemoe_regs_pkg::BD_FMT_V_W]))),
                 params_beats) ||
      !region_ok(bw[edgemoe_regs_pkg::BD_OFF_PROJ_W],
                 32'(dim * wrow_beats(dim, fwid(bw[edgemoe_regs_pkg::BD_FMT_PROJ_W]))),
                 params_beats);
  // MoE: formats of the router, experts and combine (BAD_FORMAT)
  assign bf[3] = !pact(bw[edgemoe_regs_pkg::BD_FMT_GATE]) || !pact(bw[edgemoe_regs_pkg::BD_FMT_EGELU]) ||
      !pact(bw[edgemoe_regs_pkg::BD_FMT_COMBINE]) ||
      !bw[edgemoe_regs_pkg::BD_FMT_GATE_PROB][24] ||
      !prob_ok(bw[edgemoe_regs_pkg::BD_FMT_GATE_PROB]) ||
      !lin_ok(h2, bw[edgemoe_regs_pkg::BD_FMT_HTOH4_W], bw[edgemoe_regs_pkg::BD_FMT_HTOH4_B],
              bw[edgemoe_regs_pkg::BD_FMT_HTOH4], 1'b0, 0) ||
      !lin_ok(ffrac(bw[edgemoe_regs_pkg::BD_FMT_EGELU]), bw[edgemoe_regs_pkg::BD_FMT_H4TOH_W],
              bw[edgemoe_regs_pkg::BD_FMT_H4TOH_B], bw[edgemoe_regs_pkg::BD_FMT_H4TOH], 1'b0,
              0) ||
      !aligns(ffrac(bw[edgemoe_regs_pkg::BD_FMT_GATE_PROB]) +
              ffrac(bw[edgemoe_regs_pkg::BD_FMT_H4TOH]) - x2, ACT_W) ||
      fwid(bw[edgemoe_regs_pkg::BD_FMT_GATE_PROB]) + fwid(bw[edgemoe_regs_pkg::BD_FMT_H4TOH]) +
      4 > ACC_W - 3;
  // MoE: the router weights of each gate (bf[4]: a gate failed, bf[5]: by its region)
  assign bf[5:4] = {gates_bad[0], gates_bad[1]};
  // MoE: task features (router 'task') and the experts' weights (BAD_LAYOUT)
  assign bf[6] = !region_ok(bw[edgemoe_regs_pkg::BD_OFF_HTOH4_W],
                     32'(experts * expert_hidden *
                         wrow_beats(dim, fwid(bw[edgemoe_regs_pkg::BD_FMT_HTOH4_W]))),
                     params_beats) ||
      !region_ok(bw[edgemoe_regs_pkg::BD_OFF_H4TOH_W],
                 32'(experts * dim *
                     wrow_beats(expert_hidden, fwid(bw[edgemoe_regs_pkg::BD_FMT_H4TOH_W]))),
                 params_beats) ||
      !region_ok(bw[edgemoe_regs_pkg::BD_OFF_HTOH4_B], 32'(experts * wgt_beats(expert_hidden)),
                 params_beats) ||
      !region_ok(bw[edgemoe_regs_pkg::BD_OFF_H4TOH_B], 32'(experts) * dw, params_beats) ||
      (router == edgemoe_regs_pkg::ROUTER_TASK &&
       feature_bad(bw, tasks, 32'(act_beats(gate_in - dim)), params_beats));
  // dense MLP: bf[7] its formats (BAD_FORMAT), then its regions below (mlp_lay)
  assign bf[7] = !pact(bw[edgemoe_regs_pkg::BD_FMT_GELU]) ||
      !lin_ok(h2, bw[edgemoe_regs_pkg::BD_FMT_FC1_W], bw[edgemoe_regs_pkg::BD_FMT_FC1_B],
              bw[edgemoe_regs_pkg::BD_FMT_FC1], 1'b0, 0) ||
      !lin_ok(ffrac(bw[edgemoe_regs_pkg::BD_FMT_GELU]), bw[edgemoe_regs_pkg::BD_FMT_FC2_W],
              bw[edgemoe_regs_pkg::BD_FMT_FC2_B], bw[edgemoe_regs_pkg::BD_FMT_FC2], 1'b1, x2);
  logic mlp_lay_q;  // dense MLP regions (BAD_LAYOUT)
  wire mlp_lay = !region_ok(bw[edgemoe_regs_pkg::BD_OFF_FC1_W],
                         32'(mlp_hidden * wrow_beats(dim, fwid(bw[edgemoe_regs_pkg::BD_FMT_FC1_W]))),
                         params_beats) ||
        !region_ok(bw[edgemoe_regs_pkg::BD_OFF_FC2_W],
                   32'(dim * wrow_beats(mlp_hidden, fwid(bw[edgemoe_regs_pkg::BD_FMT_FC2_W]))),
                   params_beats) ||
        !region_ok(bw[edgemoe_regs_pkg::BD_OFF_FC1_B], 32'(wgt_beats(mlp_hidden)), params_beats) ||
        !region_ok(bw[edgemoe_regs_pkg::BD_OFF_FC2_B], dw, params_beats);

  // the first failing group of a block, or OK
  logic [31:0] blk_status;
  always_comb begin
    if (bf_q[0]) blk_status = 32'(edgemoe_regs_pkg::STATUS_INCONSISTENT);
    else if (bf_q[1]) blk_status = 32'(edgemoe_regs_pkg::STATUS_BAD_FORMAT);
    else if (bf_q[2]) blk_status = 32'(edgemoe_regs_pkg::STATUS_BAD_LAYOUT);
    else if (moe_q) begin
      if (bf_q[3]) blk_status = 32'(edgemoe_regs_pkg::STATUS_BAD_FORMAT);
      else if (bf_q[4])
        blk_status = gate_lay_q ? 32'(edgemoe_regs_pkg::STATUS_BAD_LAYOUT) :
            32'(edgemoe_regs_pkg::STATUS_BAD_FORMAT);
      else if (bf_q[6]) blk_status = 32'(edgemoe_regs_pkg::STATUS_BAD_LAYOUT);
      else blk_status = 32'(edgemoe_regs_pkg::STATUS_OK);
    end else begin
      if (bf_q[7]) blk_status = 32'(edgemoe_regs_pkg::STATUS_BAD_FORMAT);
      else if (mlp_lay_q) blk_status = 32'(edgemoe_regs_pkg::STATUS_BAD_LAYOUT);
      else blk_status = 32'(edgemoe_regs_pkg::STATUS_OK);
    end
  end

  // the first failing global group, or OK
  logic [31:0] glob_status;
  always_comb begin
    if (gf_q[0]) glob_status = 32'(edgemoe_regs_pkg::STATUS_BAD_MAGIC);
    else if (gf_q[1]) glob_status = 32'(edgemoe_regs_pkg::STATUS_BAD_ACT_W);
    else if (gf_q[2]) glob_status = 32'(edgemoe_regs_pkg::STATUS_BAD_FORMAT);
    else if (gf_q[3]) glob_status = 32'(edgemoe_regs_pkg::STATUS_OVER_MAXIMA);
    else if (gf_q[4]) glob_status = 32'(edgemoe_regs_pkg::STATUS_INCONSISTENT);
    else if (gf_q[5]) glob_status = 32'(edgemoe_regs_pkg::STATUS_BAD_FORMAT);
    else if (gf_q[6] || gf_q[7]) glob_status = 32'(edgemoe_regs_pkg::STATUS_BAD_LAYOUT);
    else if (gf_q[8]) glob_status = 32'(edgemoe_regs_pkg::STATUS_BAD_TASK);
    else glob_status = 32'(edgemoe_regs_pkg::STATUS_OK);
  end

  // ------------------------------------------------------------------- FSM
  assign busy = state != S_IDLE;
  assign bd_rd = state == S_BREAD;
  assign bd_block = blk;
  assign bd_field = fld;

  always_ff @(posedge clk) begin
    gf_q <= gf;
    bf_q <= bf;
    moe_q <= moe;
    gate_lay_q <= bf[5];
    mlp_lay_q <= mlp_lay;
    rd_q <= bd_rd;
    fld_q <= fld;
    if (rd_q) bw[fld_q] <= bd_data;
    done <= 1'b0;
    if (rst) begin
      state <= S_IDLE;
      status <= 32'd0;
      blk <= '0;
      fld <= '0;
      rd_q <= 1'b0;
      x_frac <= 0;
    end else begin
      case (state)
        S_IDLE:
        if (start) begin
          for (int k = 0; k < GD_COUNT; k++) g[k] <= gd[32*k+:32];
          tsk <= task_idx;
          state <= S_GEVAL;
        end
        S_GEVAL: state <= S_GDEC;
        S_GDEC:
        if (glob_status != 32'(edgemoe_regs_pkg::STATUS_OK)) begin
          status <= glob_status;
          done <= 1'b1;
          state <= S_IDLE;
        end else begin
          x_frac <= ffrac(f_embed);
          blk <= '0;
          fld <= '0;
          state <= S_BREAD;
        end
        S_BREAD: begin
          fld <= fld + 1'b1;
          if (32'(fld) == BD_COUNT - 1) state <= S_BLAST;
        end
        S_BLAST: state <= S_BEVAL;
        S_BEVAL: state <= S_BDEC;
        S_BDEC:
        if (blk_status != 32'(edgemoe_regs_pkg::STATUS_OK) || 32'(blk) + 1 >= depth) begin
          status <= blk_status;
          done <= 1'b1;
          state <= S_IDLE;
        end else begin
          x_frac <= ffrac(bw[moe_q ? edgemoe_regs_pkg::BD_FMT_COMBINE : edgemoe_regs_pkg::BD_FMT_FC2]);
          blk <= blk + 1'b1;
          fld <= '0;
          state <= S_BREAD;
        end
        default: state <= S_IDLE;
      endcase
    end
  end
endmodule
/* verilator lint_on UNUSEDSIGNAL */
`default_nettype wire
