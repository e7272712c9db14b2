// The RTL engine's sequencer: edgemoe_top's schedule after the descriptor
// checks (hls/src/edgemoe_top.cpp, edgemoe_layers.cpp run_block,
// edgemoe_attention.cpp attention), issuing commands to the units and job
// lists to the linear unit, with the same overlaps:
//   embedding     per token block, last first: patches and position rows
//                 (xfer), the patch job, the cls row, the store of blocks > 0;
//   K/V phase     per block, ascending: LayerNorm 1 (x -> h), then the K and V
//                 jobs while xfer stores block 0 (first step, several blocks)
//                 and loads block b + 1;
//   main phase    per block, descending: (streamed blocks) xfer stores block
//                 b + 1 while LayerNorm 1 streams block b from io_x; the Q job
//                 while xfer loads block b; attention per query block in
//                 steps s = 0 .. heads + 1 (prefill of values(s - 2) || scores(s)
//                 || statistics(s - 1), then values(s - 2)); the projection;
//                 LayerNorm 2; the dense MLP job list, or the MoE (router job,
//                 routing and queues, accumulator init, expert job list,
//                 combine);
//   output        the store of block 0.
// Jobs are built from the block descriptor exactly as the C++ builds them.
// Cycles are counted per layer kind (cycles[k * 64 +: 64], engine_pkg order
// of K_*), the measured figures of sim.run_engine.
`default_nettype none
// Unused bits of the job and model records and of 32-bit index temporaries are
// expected here (each unit reads the fields it needs).
/* verilator lint_off UNUSEDSIGNAL */  // file

module engine_seq #(
    // token rows on chip (the design point's token block)
    parameter int TB = 144,
    // query rows per score slot
    parameter int QB = 48,
    // hidden columns on chip per pass
    parameter int HC = 384,
    // experts (queue counters)
    parameter int MAX_E = 16
) (
    input  wire                                          clk,
    input  wire                                          rst,
    input  wire                                          dp_start,
    output logic                                         dp_done,
    input  wire  [                                 31:0] dp_task,
    input  wire  [32*edgemoe_regs_pkg::GD_COUNT-1:0]     dp_gd,
    output logic                                         dp_bd_rd_en,
    output logic [       edgemoe_regs_pkg::BD_BLOCK_W-1:0] dp_bd_rd_block,
    output logic [       edgemoe_regs_pkg::BD_FIELD_W-1:0] dp_bd_rd_field,
    input  wire  [                                 31:0] dp_bd_rd_data,
    input  wire                                          io_wr_busy,
    output engine_pkg::model_t                           model,
    // linear unit
    output logic                                         job_we,
    output logic [                                  7:0] job_waddr,
    output engine_pkg::job_t                             job_wdata,
    output logic                                         list_start,
    output logic [                                  7:0] n_jobs,
    input  wire                                          list_done,
    output logic                                         pf_start,
    output engine_pkg::job_t                             pf_job,
    input  wire                                          pf_done,
    // LayerNorm rows: from x (src_io 0) or streamed from io_x rows row0 ..
    output logic                                         ln_start,
    output logic                                         ln_src_io,
    output logic [                                 15:0] ln_row0,
    output logic [                                 15:0] ln_rows,
    output logic signed [                             9:0] ln_x_frac,
    output logic [                                 31:0] ln_g_off,
    output logic [                                 31:0] ln_b_off,
    output logic [                                 31:0] ln_g_fmt,
    output logic [                                 31:0] ln_b_fmt,
    output logic [                                 31:0] ln_z_fmt,
    output logic [                                 31:0] ln_o_fmt,
    output logic [                                 31:0] ln_eps,
    input  wire                                          ln_done,
    // softmax statistics of a score slot
    output logic                                         sm_start,
    output logic [                                  1:0] sm_slot,
    output logic [                                 15:0] sm_rows,
    output logic signed [                             9:0] sm_frac,
    input  wire                                          sm_done,
    // router and queues
    output logic                                         rt_start,
    output logic [                                 15:0] rt_rows,
    output logic signed [                             9:0] rt_lfrac,
    output logic [                                 31:0] rt_gfmt,
    input  wire                                          rt_done,
    input  wire  [                           MAX_E*16-1:0] q_count,
    input  wire  [                           MAX_E*16-1:0] q_start,
    // accumulator init / combine
    output logic                                         ac_start,
    output logic                                         ac_combine,
    output logic [                                 15:0] ac_rows,
    output logic signed [                             9:0] ac_shift,
    output logic signed [                             9:0] ac_frac,
    output logic [                                 31:0] ac_fmt,
    input  wire                                          ac_done,
    // residual stream transfers, patches, cls, the router's task feature
    output logic                                         xf_start,
    output logic [                                  2:0] xf_cmd,
    output logic [                                 15:0] xf_row0,
    output logic [                                 15:0] xf_rows,
    output logic [                                 31:0] xf_off,
    input  wire                                          xf_done,
    // measured cycles per layer kind
    output logic [64*engine_pkg::N_KINDS-1:0]            cycles
);
  import engine_pkg::*;
  localparam int BDN = edgemoe_regs_pkg::BD_COUNT;
  initial begin
    if (TB < 1 || QB < 1 || QB > TB || HC < 1 || MAX_E < 1) begin
      $error("engine_seq: TB = %0d, QB = %0d, HC = %0d, MAX_E = %0d out of range (%m)", TB, QB, HC,
             MAX_E);
      $finish;
    end
  end

  function automatic logic [31:0] gd(input int i);
    gd = dp_gd[i*32+:32];
  endfunction

  // ------------------------------------------------------------ block words
  logic [31:0] bd[BDN];
  function automatic logic [31:0] bw(input int f);
    bw = bd[f];
  endfunction
  function automatic logic signed [9:0] bf(input int f);
    bf = fmt_f(bd[f]);
  endfunction

  // ------------------------------------------------------------- job builders
  function automatic job_t blank();
    blank = '0;
  endfunction

  // ddr_job + block_job: a weight-streaming job; formats and offsets by field.
  function automatic job_t block_job(input int rows, input logic [2:0] xs, input int in_f,
                                     input int xf, input int w_off, input int w_fmt,
                                     input int b_off, input int b_fmt, input int out_f,
                                     input logic [3:0] sink, input int y_fmt);
    job_t j = '0;
    j.rows = 16'(rows);
    j.x_src = xs;
    j.in_features = 16'(in_f);
    j.x_frac = bf(xf);
    j.x_width = fmt_w(bw(xf));
    j.w_src = WS_DDR;
    j.w_off = bw(w_off);
    j.out_features = 16'(out_f);
    j.w_frac = bf(w_fmt);
    j.w_width = fmt_w(bw(w_fmt));
    j.w_fmt = bw(w_fmt)[21:0];
    j.bias = 1'b1;
    j.b_off = bw(b_off);
    j.b_frac = bf(b_fmt);
    j.y_sink = sink;
    j.y_fmt = bw(y_fmt)[21:0];
    return j;
  endfunction

  // ------------------------------------------------------------------ state
  typedef enum logic [5:0] {
    S_IDLE,
    S_DECODE,
    S_EMBED,
    S_PE_PATCH,
    S_PE_LIN,
    S_PE_CLS,
    S_PE_STORE,
    S_BLOCK,
    S_BD_READ,
    S_KV_LN,
    S_KV_GO,
    S_MAIN,
    S_M_STORE_LN,
    S_M_Q,
    S_ATT_QB,
    S_ATT_STEP,
    S_ATT_VALUES,
    S_ATT_NEXT,
    S_PROJ,
    S_LN2,
    S_MLP,
    S_TAIL,
    S_GATE,
    S_ROUTE,
    S_ACC_INIT,
    S_EXPERTS,
    S_COMBINE,
    S_NEXT_MAIN,
    S_OUTPUT,
    S_FENCE,
    S_WRITE_JOBS,
    S_WAIT
  } state_t;
  state_t st, after_jobs, after_fence;

  logic [15:0] tb, nb, row0, rows, blk, qb0, nq, step;
  logic signed [9:0] x_frac;
  logic [7:0] bd_i;
  // outstanding commands of the current step
  logic w_lin, w_pf, w_ln, w_sm, w_rt, w_ac, w_xf, xf_second;
  logic [2:0] xf_next_cmd;
  logic [15:0] xf_next_row0, xf_next_rows;

  // job list writer
  logic [3:0] list_kind;
  logic [7:0] jw;  // jobs written
  logic [7:0] jtotal;
  logic [15:0] je;  // expert scan
  localparam logic [3:0] L_PATCH = 4'd0, L_KV = 4'd1, L_Q = 4'd2, L_SCORES = 4'd3,
      L_VALUES = 4'd4, L_PROJ = 4'd5, L_MLP = 4'd6, L_GATE = 4'd7, L_EXPERTS = 4'd8;

  wire resident = nb == 16'd1;
  wire [15:0] tb_rows = 16'(((int'(model.tokens) - int'(tb) * TB) < TB) ?
      (int'(model.tokens) - int'(tb) * TB) : TB);

  function automatic int imin(input int a, input int b);
    imin = (a < b) ? a : b;
  endfunction

  // scores(h) and values(h) of query block qb0 (edgemoe_attention.cpp)
  function automatic job_t scores_job(input int h);
    job_t j = '0;
    j.rows = model.tokens;
    j.x_src = XS_KEYS;
    j.x_col0 = 16'(h * int'(model.head_dim));
    j.in_features = model.head_dim;
    j.x_frac = bf(edgemoe_regs_pkg::BD_FMT_K);
    j.x_width = fmt_w(bw(edgemoe_regs_pkg::BD_FMT_K));
    j.w_src = WS_QUERIES;
    j.w_row0 = qb0;
    j.w_col0 = 16'(h * int'(model.head_dim));
    j.out_features = nq;
    j.w_frac = bf(edgemoe_regs_pkg::BD_FMT_Q);
    j.w_width = fmt_w(bw(edgemoe_regs_pkg::BD_FMT_Q));
    j.y_sink = YS_SCORE_T;
    j.slot = 2'(h % 3);
    j.y_fmt = bw(edgemoe_regs_pkg::BD_FMT_SCORE)[21:0];
    return j;
  endfunction
  function automatic job_t values_job(input int h);
    job_t j = '0;
    j.rows = model.head_dim;
    j.x_src = XS_VALUES_T;
    j.x_col0 = 16'(h * int'(model.head_dim));
    j.in_features = model.tokens;
    j.x_frac = bf(edgemoe_regs_pkg::BD_FMT_V);
    j.x_width = fmt_w(bw(edgemoe_regs_pkg::BD_FMT_V));
    j.w_src = WS_PROB;
    j.slot = 2'(h % 3);
    j.s_frac = bf(edgemoe_regs_pkg::BD_FMT_SCORE);
    j.out_features = nq;
    j.w_frac = bf(edgemoe_regs_pkg::BD_FMT_PROB);
    j.w_width = fmt_w(bw(edgemoe_regs_pkg::BD_FMT_PROB));
    j.w_fmt = bw(edgemoe_regs_pkg::BD_FMT_PROB)[21:0];
    j.y_sink = YS_A_T;
    j.y_row0 = qb0;
    j.y_col0 = 16'(h * int'(model.head_dim));
    j.y_fmt = bw(edgemoe_regs_pkg::BD_FMT_ATTN)[21:0];
    j.prefilled = 1'b1;
    return j;
  endfunction

  // Job jw of the list being written.
  function automatic job_t list_job();
    job_t j = '0;
    case (list_kind)
      L_PATCH: begin
        automatic int first = (row0 == 0) ? 1 : 0;
        j.rows = 16'(int'(rows) - first);
        j.x_src = XS_U;
        j.x_row0 = 16'(first);
        j.in_features = model.patch_in;
        j.x_frac = fmt_f(32'(model.f_input));
        j.x_width = fmt_w(32'(model.f_input));
        j.w_src = WS_DDR;
        j.w_off = model.off_patch_w;
        j.out_features = model.dim;
        j.w_frac = fmt_f(32'(model.f_patch_w));
        j.w_width = fmt_w(32'(model.f_patch_w));
        j.bias = 1'b1;
        j.b_off = model.off_patch_b;
        j.b_frac = fmt_f(32'(model.f_patch_b));
        j.y_sink = YS_X;
        j.y_row0 = 16'(first);
        j.y_fmt = model.f_embed;
        j.residual = 1'b1;
        j.r_frac = fmt_f(32'(model.f_pos));
      end
      L_KV: begin
        if (jw == 0)
          j = block_job(int'(rows), XS_H, int'(model.dim), edgemoe_regs_pkg::BD_FMT_NORM1,
                        edgemoe_regs_pkg::BD_OFF_K_W, edgemoe_regs_pkg::BD_FMT_K_W,
                        edgemoe_regs_pkg::BD_OFF_K_B, edgemoe_regs_pkg::BD_FMT_K_B,
                        int'(model.dim), YS_K, edgemoe_regs_pkg::BD_FMT_K);
        else
          j = block_job(int'(rows), XS_H, int'(model.dim), edgemoe_regs_pkg::BD_FMT_NORM1,
                        edgemoe_regs_pkg::BD_OFF_V_W, edgemoe_regs_pkg::BD_FMT_V_W,
                        edgemoe_regs_pkg::BD_OFF_V_B, edgemoe_regs_pkg::BD_FMT_V_B,
                        int'(model.dim), YS_V, edgemoe_regs_pkg::BD_FMT_V);
        j.y_row0 = row0;
      end
      L_Q:
      j = block_job(int'(rows), XS_H, int'(model.dim), edgemoe_regs_pkg::BD_FMT_NORM1,
                    edgemoe_regs_pkg::BD_OFF_Q_W, edgemoe_regs_pkg::BD_FMT_Q_W,
                    edgemoe_regs_pkg::BD_OFF_Q_B, edgemoe_regs_pkg::BD_FMT_Q_B, int'(model.dim),
                    YS_Q, edgemoe_regs_pkg::BD_FMT_Q);
      L_SCORES: j = scores_job(int'(step));
      L_VALUES: j = values_job(int'(step) - 2);
      L_PROJ: begin
        j = block_job(int'(rows), XS_A, int'(model.dim), edgemoe_regs_pkg::BD_FMT_ATTN,
                      edgemoe_regs_pkg::BD_OFF_PROJ_W, edgemoe_regs_pkg::BD_FMT_PROJ_W,
                      edgemoe_regs_pkg::BD_OFF_PROJ_B, edgemoe_regs_pkg::BD_FMT_PROJ_B,
                      int'(model.dim), YS_X, edgemoe_regs_pkg::BD_FMT_PROJ);
        j.residual = 1'b1;
        j.r_frac = x_frac;
      end
      L_MLP: begin
        automatic int c0 = int'(jw[7:1]) * HC;
        automatic int hc = imin(HC, int'(model.mlp_hidden) - c0);
        automatic int w1 = int'(fmt_w(bw(edgemoe_regs_pkg::BD_FMT_FC1_W)));
        automatic int w2 = int'(fmt_w(bw(edgemoe_regs_pkg::BD_FMT_FC2_W)));
        automatic logic first = c0 == 0;
        automatic logic last = c0 + hc >= int'(model.mlp_hidden);
        if (!jw[0]) begin
          j = block_job(int'(rows), XS_H, int'(model.dim), edgemoe_regs_pkg::BD_FMT_NORM2,
                        edgemoe_regs_pkg::BD_OFF_FC1_W, edgemoe_regs_pkg::BD_FMT_FC1_W,
                        edgemoe_regs_pkg::BD_OFF_FC1_B, edgemoe_regs_pkg::BD_FMT_FC1_B, hc,
                        YS_U, edgemoe_regs_pkg::BD_FMT_FC1);
          j.w_off = j.w_off + 32'(c0 * wrow_beats(int'(model.dim), w1));
          j.b_off = j.b_off + 32'(c0 / 8);
          j.gelu = 1'b1;
          j.g_fmt = bw(edgemoe_regs_pkg::BD_FMT_GELU)[21:0];
        end else begin
          j = block_job(int'(rows), XS_U, hc, edgemoe_regs_pkg::BD_FMT_GELU,
                        edgemoe_regs_pkg::BD_OFF_FC2_W, edgemoe_regs_pkg::BD_FMT_FC2_W,
                        edgemoe_regs_pkg::BD_OFF_FC2_B, edgemoe_regs_pkg::BD_FMT_FC2_B,
                        int'(model.dim), YS_X, edgemoe_regs_pkg::BD_FMT_FC2);
          j.w_col0_beats = 16'(c0 / ((w2 <= 8) ? 16 : 8));
          j.w_row_beats = 16'(wrow_beats(int'(model.mlp_hidden), w2));
          if (last) begin
            j.acc_in = !first;
            j.residual = 1'b1;
            j.r_frac = bf(edgemoe_regs_pkg::BD_FMT_PROJ);
          end else begin
            j.bias = 1'b0;
            j.y_sink = first ? YS_ACC_SET : YS_ACC_ADD;
          end
        end
      end
      L_GATE: begin
        automatic int g = (int'(model.router) == edgemoe_regs_pkg::ROUTER_MULTI) ? int'(dp_task) : 0;
        j.rows = rows;
        j.x_src = XS_H;
        j.in_features = model.dim;
        j.in_tail = 16'(int'(model.gate_in) - int'(model.dim));
        j.x_frac = bf(edgemoe_regs_pkg::BD_FMT_NORM2);
        j.x_width = fmt_w(bw(edgemoe_regs_pkg::BD_FMT_NORM2));
        j.w_src = WS_DDR;
        j.w_off = bd[edgemoe_regs_pkg::BD_OFF_GATE_W_0+g];
        j.out_features = model.experts;
        j.w_frac = fmt_f(bd[edgemoe_regs_pkg::BD_FMT_GATE_W_0+g]);
        j.w_width = fmt_w(bd[edgemoe_regs_pkg::BD_FMT_GATE_W_0+g]);
        j.y_sink = YS_G;
        j.y_fmt = bw(edgemoe_regs_pkg::BD_FMT_GATE)[21:0];
      end
      default: begin  // L_EXPERTS: expert je, up (jw even) or down
        automatic int e = int'(je);
        automatic int n = int'(q_count[e*16+:16]);
        automatic int eh = int'(model.expert_hidden);
        automatic int w1 = int'(fmt_w(bw(edgemoe_regs_pkg::BD_FMT_HTOH4_W)));
        automatic int w2 = int'(fmt_w(bw(edgemoe_regs_pkg::BD_FMT_H4TOH_W)));
        if (!jw[0]) begin
          j = block_job(n, XS_H, int'(model.dim), edgemoe_regs_pkg::BD_FMT_NORM2,
                        edgemoe_regs_pkg::BD_OFF_HTOH4_W, edgemoe_regs_pkg::BD_FMT_HTOH4_W,
                        edgemoe_regs_pkg::BD_OFF_HTOH4_B, edgemoe_regs_pkg::BD_FMT_HTOH4_B, eh,
                        YS_U, edgemoe_regs_pkg::BD_FMT_HTOH4);
          j.w_off = j.w_off + 32'(e * eh * wrow_beats(int'(model.dim), w1));
          j.b_off = j.b_off + 32'(e * div_up(eh, 8));
          j.x_gather = 1'b1;
          j.gelu = 1'b1;
          j.g_fmt = bw(edgemoe_regs_pkg::BD_FMT_EGELU)[21:0];
        end else begin
          j = block_job(n, XS_U, eh, edgemoe_regs_pkg::BD_FMT_EGELU,
                        edgemoe_regs_pkg::BD_OFF_H4TOH_W, edgemoe_regs_pkg::BD_FMT_H4TOH_W,
                        edgemoe_regs_pkg::BD_OFF_H4TOH_B, edgemoe_regs_pkg::BD_FMT_H4TOH_B,
                        int'(model.dim), YS_ACC, edgemoe_regs_pkg::BD_FMT_H4TOH);
          j.w_off = j.w_off + 32'(e * int'(model.dim) * wrow_beats(eh, w2));
          j.b_off = j.b_off + 32'(e * div_up(int'(model.dim), 8));
        end
        j.map0 = q_start[e*16+:16];
      end
    endcase
    return j;
  endfunction

  // ------------------------------------------------------------------ cycles
  logic [3:0] kind;
  always_ff @(posedge clk) begin
    if (rst || (st == S_IDLE && dp_start))
      for (int k = 0; k < N_KINDS; k++) cycles[k*64+:64] <= '0;
    else if (st != S_IDLE) cycles[int'(kind)*64+:64] <= cycles[int'(kind)*64+:64] + 1'b1;
  end

  // ------------------------------------------------------------- the program
  wire step_done = !w_lin && !w_pf && !w_ln && !w_sm && !w_rt && !w_ac && !w_xf;

  task automatic begin_list(input logic [3:0] k, input int total, input state_t next);
    list_kind <= k;
    jw <= '0;
    jtotal <= 8'(total);
    je <= '0;
    after_jobs <= next;
    st <= S_WRITE_JOBS;
  endtask

  task automatic xfer(input logic [2:0] cmd, input int r0, input int n, input int off);
    xf_start <= 1'b1;
    xf_cmd <= cmd;
    xf_row0 <= 16'(r0);
    xf_rows <= 16'(n);
    xf_off <= 32'(off);
    w_xf <= 1'b1;
  endtask

  task automatic ln(input logic io, input int r0, input int n, input int which,
                    input logic signed [9:0] xf);
    ln_start <= 1'b1;
    ln_src_io <= io;
    ln_row0 <= 16'(r0);
    ln_rows <= 16'(n);
    ln_x_frac <= xf;
    ln_g_off <= bd[(which == 1) ? edgemoe_regs_pkg::BD_OFF_NORM1_W : edgemoe_regs_pkg::BD_OFF_NORM2_W];
    ln_b_off <= bd[(which == 1) ? edgemoe_regs_pkg::BD_OFF_NORM1_B : edgemoe_regs_pkg::BD_OFF_NORM2_B];
    ln_g_fmt <= bd[(which == 1) ? edgemoe_regs_pkg::BD_FMT_NORM1_W : edgemoe_regs_pkg::BD_FMT_NORM2_W];
    ln_b_fmt <= bd[(which == 1) ? edgemoe_regs_pkg::BD_FMT_NORM1_B : edgemoe_regs_pkg::BD_FMT_NORM2_B];
    ln_z_fmt <= bd[(which == 1) ? edgemoe_regs_pkg::BD_FMT_NORM1_Z : edgemoe_regs_pkg::BD_FMT_NORM2_Z];
    ln_o_fmt <= bd[(which == 1) ? edgemoe_regs_pkg::BD_FMT_NORM1 : edgemoe_regs_pkg::BD_FMT_NORM2];
    ln_eps <= bd[(which == 1) ? edgemoe_regs_pkg::BD_EPS1 : edgemoe_regs_pkg::BD_EPS2];
    w_ln <= 1'b1;
  endtask

  assign dp_bd_rd_block = edgemoe_regs_pkg::BD_BLOCK_W'(blk);
  assign dp_bd_rd_field = edgemoe_regs_pkg::BD_FIELD_W'(bd_i);

  always_ff @(posedge clk) begin
    dp_done <= 1'b0;
    job_we <= 1'b0;
    list_start <= 1'b0;
    pf_start <= 1'b0;
    ln_start <= 1'b0;
    sm_start <= 1'b0;
    rt_start <= 1'b0;
    ac_start <= 1'b0;
    xf_start <= 1'b0;
    dp_bd_rd_en <= 1'b0;
    if (rst) begin
      st <= S_IDLE;
      {w_lin, w_pf, w_ln, w_sm, w_rt, w_ac, w_xf, xf_second} <= '0;
      kind <= K_TOP;
    end else begin
      // completions
      if (list_done) w_lin <= 1'b0;
      if (pf_done) w_pf <= 1'b0;
      if (ln_done) w_ln <= 1'b0;
      if (sm_done) w_sm <= 1'b0;
      if (rt_done) w_rt <= 1'b0;
      if (ac_done) w_ac <= 1'b0;
      if (xf_done) begin
        if (xf_second) begin  // the step's second transfer (store, then load)
          xf_second <= 1'b0;
          xfer(xf_next_cmd, int'(xf_next_row0), int'(xf_next_rows), 0);
        end else w_xf <= 1'b0;
      end
      case (st)
        S_IDLE:
        if (dp_start) begin
          kind <= K_TOP;
          st <= S_DECODE;
        end
        S_DECODE: begin
          model.tokens <= gd(edgemoe_regs_pkg::GD_TOKENS)[15:0];
          model.patches <= gd(edgemoe_regs_pkg::GD_PATCHES)[15:0];
          model.dim <= gd(edgemoe_regs_pkg::GD_DIM)[15:0];
          model.heads <= gd(edgemoe_regs_pkg::GD_HEADS)[15:0];
          model.head_dim <= gd(edgemoe_regs_pkg::GD_HEAD_DIM)[15:0];
          model.mlp_hidden <= gd(edgemoe_regs_pkg::GD_MLP_HIDDEN)[15:0];
          model.expert_hidden <= gd(edgemoe_regs_pkg::GD_EXPERT_HIDDEN)[15:0];
          model.experts <= gd(edgemoe_regs_pkg::GD_EXPERTS)[15:0];
          model.top_k <= gd(edgemoe_regs_pkg::GD_TOP_K)[15:0];
          model.tasks <= gd(edgemoe_regs_pkg::GD_TASKS)[15:0];
          model.depth <= gd(edgemoe_regs_pkg::GD_DEPTH)[15:0];
          model.in_chans <= gd(edgemoe_regs_pkg::GD_IN_CHANS)[15:0];
          model.patch <= gd(edgemoe_regs_pkg::GD_PATCH)[15:0];
          model.img_h <= gd(edgemoe_regs_pkg::GD_IMG_H)[15:0];
          model.img_w <= gd(edgemoe_regs_pkg::GD_IMG_W)[15:0];
          model.grid_h <= gd(edgemoe_regs_pkg::GD_GRID_H)[15:0];
          model.grid_w <= gd(edgemoe_regs_pkg::GD_GRID_W)[15:0];
          model.patch_in <= gd(edgemoe_regs_pkg::GD_PATCH_IN)[15:0];
          model.router <= gd(edgemoe_regs_pkg::GD_ROUTER)[15:0];
          model.gate_in <= gd(edgemoe_regs_pkg::GD_GATE_IN)[15:0];
          model.renorm <= gd(edgemoe_regs_pkg::GD_RENORM)[15:0];
          model.token_blocks <= 16'(div_up(int'(gd(edgemoe_regs_pkg::GD_TOKENS)), TB));
          model.f_input <= gd(edgemoe_regs_pkg::GD_FMT_INPUT)[21:0];
          model.f_patch_w <= gd(edgemoe_regs_pkg::GD_FMT_PATCH_W)[21:0];
          model.f_patch_b <= gd(edgemoe_regs_pkg::GD_FMT_PATCH_B)[21:0];
          model.f_pos <= gd(edgemoe_regs_pkg::GD_FMT_POS)[21:0];
          model.f_cls <= gd(edgemoe_regs_pkg::GD_FMT_CLS)[21:0];
          model.f_embed <= gd(edgemoe_regs_pkg::GD_FMT_EMBED)[21:0];
          model.off_patch_w <= gd(edgemoe_regs_pkg::GD_OFF_PATCH_W);
          model.off_patch_b <= gd(edgemoe_regs_pkg::GD_OFF_PATCH_B);
          model.off_cls <= gd(edgemoe_regs_pkg::GD_OFF_CLS);
          model.off_pos <= gd(edgemoe_regs_pkg::GD_OFF_POS);
          model.off_blocks <= gd(edgemoe_regs_pkg::GD_OFF_BLOCKS);
          model.block_beats <= gd(edgemoe_regs_pkg::GD_BLOCK_BEATS);
          model.io_in <= gd(edgemoe_regs_pkg::GD_IO_IN);
          model.io_x <= gd(edgemoe_regs_pkg::GD_IO_X);
          nb <= 16'(div_up(int'(gd(edgemoe_regs_pkg::GD_TOKENS)), TB));
          tb <= 16'(div_up(int'(gd(edgemoe_regs_pkg::GD_TOKENS)), TB) - 1);
          x_frac <= fmt_f(gd(edgemoe_regs_pkg::GD_FMT_EMBED));
          kind <= K_EMBED;
          st <= S_EMBED;
        end
        // ---------------------------------------------------- patch embedding
        S_EMBED: begin
          row0 <= 16'(int'(tb) * TB);
          rows <= tb_rows;
          xfer(XF_PATCH, int'(tb) * TB, int'(tb_rows), 0);
          st <= S_WAIT;
          after_fence <= S_PE_LIN;
        end
        S_PE_LIN:
        if (int'(rows) > ((row0 == 0) ? 1 : 0)) begin
          begin_list(L_PATCH, 1, S_WAIT);
          after_fence <= S_PE_CLS;
        end else st <= S_PE_CLS;
        S_PE_CLS:
        if (row0 == 0) begin
          xfer(XF_CLS, 0, 1, 0);
          st <= S_WAIT;
          after_fence <= S_PE_STORE;
        end else st <= S_PE_STORE;
        S_PE_STORE: begin
          if (tb != 0) begin
            xfer(XF_STORE, int'(row0), int'(rows), 0);
            tb <= tb - 1'b1;
            st <= S_WAIT;
            after_fence <= S_EMBED;
          end else begin
            blk <= '0;
            st <= S_BLOCK;
          end
        end
        // -------------------------------------------------------------- blocks
        S_BLOCK:
        if (blk == model.depth) begin
          kind <= K_OUTPUT;
          st <= S_OUTPUT;
        end else begin
          bd_i <= '0;
          dp_bd_rd_en <= 1'b1;
          kind <= K_TOP;
          st <= S_BD_READ;
        end
        S_BD_READ: begin  // one word per cycle: data of word i arrives with bd_i = i + 1
          if (bd_i != 0) bd[int'(bd_i)-1] <= dp_bd_rd_data;
          if (int'(bd_i) == BDN) begin
            tb <= '0;
            kind <= K_NORM1;
            st <= S_KV_LN;
          end else begin
            bd_i <= bd_i + 1'b1;
            dp_bd_rd_en <= int'(bd_i) + 1 < BDN;
          end
        end
        S_KV_LN:
        if (tb == nb) begin
          tb <= nb - 1'b1;
          st <= S_MAIN;
        end else begin
          row0 <= 16'(int'(tb) * TB);
          rows <= tb_rows;
          ln(1'b0, 0, int'(tb_rows), 1, x_frac);
          kind <= K_NORM1;
          st <= S_WAIT;
          after_fence <= S_KV_GO;
        end
        S_KV_GO: begin
          // store block 0 (several blocks, first step), then load block tb + 1
          automatic logic store = !resident && tb == 0;
          automatic logic load = tb + 1 < nb;
          automatic int next_rows = imin(TB, int'(model.tokens) - int'(row0) - TB);
          if (store) begin
            xfer(XF_STORE, 0, int'(rows), 0);
            if (load) begin
              xf_second <= 1'b1;
              xf_next_cmd <= XF_LOAD;
              xf_next_row0 <= row0 + 16'(TB);
              xf_next_rows <= 16'(next_rows);
            end
          end else if (load) xfer(XF_LOAD, int'(row0) + TB, next_rows, 0);
          kind <= K_KV;
          begin_list(L_KV, 2, S_WAIT);
          after_fence <= S_KV_LN;
          tb <= tb + 1'b1;
        end
        // ---------------------------------------------------------- main phase
        S_MAIN: begin
          row0 <= 16'(int'(tb) * TB);
          rows <= tb_rows;
          if (tb != nb - 1) begin  // streamed: store block tb + 1, LayerNorm 1 from io_x
            kind <= K_NORM1;
            xfer(XF_STORE, int'(tb) * TB + TB, imin(TB, int'(model.tokens) - int'(tb) * TB - TB), 0);
            ln(1'b1, int'(tb) * TB, int'(tb_rows), 1, x_frac);
            st <= S_WAIT;
            after_fence <= S_M_Q;
          end else st <= S_M_Q;
        end
        S_M_Q: begin
          kind <= K_Q;
          if (tb != nb - 1) xfer(XF_LOAD, int'(row0), int'(rows), 0);
          begin_list(L_Q, 1, S_WAIT);
          after_fence <= S_ATT_QB;
          qb0 <= '0;
        end
        S_ATT_QB:
        if (qb0 >= rows) begin
          kind <= K_PROJ;
          st <= S_PROJ;
        end else begin
          kind <= K_ATTN;
          nq <= 16'(imin(QB, int'(rows) - int'(qb0)));
          step <= '0;
          st <= S_ATT_STEP;
        end
        S_ATT_STEP:
        if (int'(step) == int'(model.heads) + 2) begin
          qb0 <= qb0 + 16'(QB);
          st <= S_ATT_QB;
        end else begin
          if (step >= 2) begin
            pf_start <= 1'b1;
            pf_job <= values_job(int'(step) - 2);
            w_pf <= 1'b1;
          end
          if (int'(step) >= 1 && int'(step) - 1 < int'(model.heads)) begin
            sm_start <= 1'b1;
            sm_slot <= 2'((int'(step) - 1) % 3);
            sm_rows <= nq;
            sm_frac <= bf(edgemoe_regs_pkg::BD_FMT_SCORE);
            w_sm <= 1'b1;
          end
          after_fence <= S_ATT_VALUES;
          if (int'(step) < int'(model.heads)) begin_list(L_SCORES, 1, S_WAIT);
          else st <= S_WAIT;
        end
        S_ATT_VALUES: begin
          after_fence <= S_ATT_NEXT;
          if (step >= 2) begin_list(L_VALUES, 1, S_WAIT);
          else st <= S_ATT_NEXT;
        end
        S_ATT_NEXT: begin
          step <= step + 1'b1;
          st <= S_ATT_STEP;
        end
        S_PROJ: begin
          begin_list(L_PROJ, 1, S_WAIT);
          after_fence <= S_LN2;
        end
        S_LN2: begin
          kind <= K_NORM2;
          ln(1'b0, 0, int'(rows), 2, bf(edgemoe_regs_pkg::BD_FMT_PROJ));
          st <= S_WAIT;
          after_fence <= (bd[edgemoe_regs_pkg::BD_MOE] == 1) ? S_TAIL : S_MLP;
        end
        S_MLP: begin
          kind <= K_MLP;
          begin_list(L_MLP, 2 * div_up(int'(model.mlp_hidden), HC), S_WAIT);
          after_fence <= S_NEXT_MAIN;
        end
        S_TAIL: begin
          kind <= K_GATE;
          if (model.gate_in > model.dim) begin
            xfer(XF_TAIL, 0, int'(model.gate_in) - int'(model.dim),
                 int'(bd[edgemoe_regs_pkg::BD_OFF_FEATURE_0+int'(dp_task)]));
            st <= S_WAIT;
            after_fence <= S_GATE;
          end else st <= S_GATE;
        end
        S_GATE: begin
          begin_list(L_GATE, 1, S_WAIT);
          after_fence <= S_ROUTE;
        end
        S_ROUTE: begin
          kind <= K_ROUTE;
          rt_start <= 1'b1;
          rt_rows <= rows;
          rt_lfrac <= bf(edgemoe_regs_pkg::BD_FMT_GATE);
          rt_gfmt <= bd[edgemoe_regs_pkg::BD_FMT_GATE_PROB];
          w_rt <= 1'b1;
          st <= S_WAIT;
          after_fence <= S_ACC_INIT;
        end
        S_ACC_INIT: begin
          automatic logic signed [9:0] cf = bf(edgemoe_regs_pkg::BD_FMT_GATE_PROB) +
              bf(edgemoe_regs_pkg::BD_FMT_H4TOH);
          kind <= K_COMBINE;
          ac_start <= 1'b1;
          ac_combine <= 1'b0;
          ac_rows <= rows;
          ac_shift <= cf - bf(edgemoe_regs_pkg::BD_FMT_PROJ);
          ac_frac <= cf;
          ac_fmt <= bd[edgemoe_regs_pkg::BD_FMT_COMBINE];
          w_ac <= 1'b1;
          st <= S_WAIT;
          after_fence <= S_EXPERTS;
        end
        S_EXPERTS: begin
          automatic int active = 0;
          for (int e = 0; e < MAX_E; e++)
            if (e < int'(model.experts) && q_count[e*16+:16] != 0) active++;
          kind <= K_EXPERTS;
          if (active == 0) st <= S_COMBINE;
          else begin
            begin_list(L_EXPERTS, 2 * active, S_WAIT);
            after_fence <= S_COMBINE;
          end
        end
        S_COMBINE: begin
          kind <= K_COMBINE;
          ac_start <= 1'b1;
          ac_combine <= 1'b1;
          w_ac <= 1'b1;
          st <= S_WAIT;
          after_fence <= S_NEXT_MAIN;
        end
        S_NEXT_MAIN:
        if (tb == 0) begin
          x_frac <= (bd[edgemoe_regs_pkg::BD_MOE] == 1) ? bf(edgemoe_regs_pkg::BD_FMT_COMBINE) :
              bf(edgemoe_regs_pkg::BD_FMT_FC2);
          blk <= blk + 1'b1;
          st <= S_BLOCK;
        end else begin
          tb <= tb - 1'b1;
          st <= S_MAIN;
        end
        // -------------------------------------------------------------- output
        S_OUTPUT: begin
          xfer(XF_STORE, 0, imin(TB, int'(model.tokens)), 0);
          st <= S_WAIT;
          after_fence <= S_FENCE;
        end
        S_FENCE:
        if (!io_wr_busy) begin
          dp_done <= 1'b1;
          st <= S_IDLE;
        end
        // ------------------------------------------------- job list, then wait
        S_WRITE_JOBS:
        if (jw == jtotal) begin
          n_jobs <= jtotal;
          list_start <= 1'b1;
          w_lin <= 1'b1;
          st <= after_jobs;
        end else if (list_kind == L_EXPERTS && (int'(je) >= int'(model.experts) ||
                                                q_count[int'(je)*16+:16] == 0)) begin
          je <= je + 1'b1;  // skip experts without tokens
        end else begin
          job_we <= 1'b1;
          job_waddr <= jw;
          job_wdata <= list_job();
          jw <= jw + 1'b1;
          if (list_kind == L_EXPERTS && jw[0]) je <= je + 1'b1;
        end
        S_WAIT:  // every command of the step done, and no io_x write in flight
        if (step_done && !xf_start && !ln_start && !sm_start && !rt_start && !ac_start &&
            !list_start && !pf_start && !io_wr_busy)
          st <= after_fence;
        default: st <= S_IDLE;
      endcase
    end
  end

  logic unused;
  assign unused = ^{model.patches, model.tasks, model.grid_h, model.off_blocks, model.block_beats,
                    model.f_cls, model.top_k};
endmodule

/* verilator lint_on UNUSEDSIGNAL */
`default_nettype wire
