// The RTL engine's datapath: everything behind the shell's dp_* interface
// (edgemoe_rtl_top.sv documents it). The sequencer (engine_seq) runs the
// schedule of the HLS top on the units -- the linear unit (lin_unit: MAC array,
// weight and bias streams, tile fills, epilogue), LayerNorm (ln_op), softmax
// statistics (sm_op), the router and queues (route_op), the MoE accumulators
// (acc_op), the DDR transfers (xfer_unit) -- which share the chip buffers of
// hls/include/edgemoe_engine.h struct Chip (ebuf instances, sized by the
// synthesis maxima and the design point of edgemoe_regs_pkg). Every buffer's
// ports are the union of its users' (the schedule never lets two users write
// one word in a cycle). gmem_io reads go through io_rd_arb (biases, LayerNorm
// parameters and streamed rows, transfers), the weight ports straight to the
// linear unit's streamers.
`default_nettype none
// Unused bits of the job and model records and of 32-bit index temporaries are
// expected here (each unit reads the fields it needs).
/* verilator lint_off UNUSEDSIGNAL */  // file

module edgemoe_datapath #(
    // activation word width: 16 (hw16, hw8) or 32 (edgemoe)
    parameter int ACT_W = 16
) (
    input  wire                                             ap_clk,
    input  wire                                             ap_rst_n,
    input  wire                                             dp_start,
    output logic                                            dp_done,
    input  wire  [                                    31:0] dp_task,
    input  wire  [                                    63:0] dp_params_addr,
    input  wire  [                                    63:0] dp_io_addr,
    input  wire  [    64*edgemoe_regs_pkg::WEIGHT_PORTS-1:0] dp_wgt_addr,
    input  wire  [        32*edgemoe_regs_pkg::GD_COUNT-1:0] dp_gd,
    output logic                                            dp_bd_rd_en,
    output logic [         edgemoe_regs_pkg::BD_BLOCK_W-1:0] dp_bd_rd_block,
    output logic [         edgemoe_regs_pkg::BD_FIELD_W-1:0] dp_bd_rd_field,
    input  wire  [                                    31:0] dp_bd_rd_data,
    output logic                                            dp_io_rd_req_valid,
    input  wire                                             dp_io_rd_req_ready,
    output logic [                                    63:0] dp_io_rd_req_addr,
    output logic [                                    31:0] dp_io_rd_req_len,
    input  wire                                             dp_io_rd_valid,
    output logic                                            dp_io_rd_ready,
    input  wire  [                                   127:0] dp_io_rd_data,
    input  wire                                             dp_io_rd_last,
    output logic                                            dp_io_wr_req_valid,
    input  wire                                             dp_io_wr_req_ready,
    output logic [                                    63:0] dp_io_wr_req_addr,
    output logic [                                    31:0] dp_io_wr_req_len,
    output logic                                            dp_io_wr_valid,
    input  wire                                             dp_io_wr_ready,
    output logic [                                   127:0] dp_io_wr_data,
    input  wire                                             dp_io_wr_busy,
    output logic [       edgemoe_regs_pkg::WEIGHT_PORTS-1:0] dp_w_rd_req_valid,
    input  wire  [       edgemoe_regs_pkg::WEIGHT_PORTS-1:0] dp_w_rd_req_ready,
    output logic [    64*edgemoe_regs_pkg::WEIGHT_PORTS-1:0] dp_w_rd_req_addr,
    output logic [    32*edgemoe_regs_pkg::WEIGHT_PORTS-1:0] dp_w_rd_req_len,
    input  wire  [       edgemoe_regs_pkg::WEIGHT_PORTS-1:0] dp_w_rd_valid,
    output logic [       edgemoe_regs_pkg::WEIGHT_PORTS-1:0] dp_w_rd_ready,
    input  wire  [   128*edgemoe_regs_pkg::WEIGHT_PORTS-1:0] dp_w_rd_data,
    input  wire  [       edgemoe_regs_pkg::WEIGHT_PORTS-1:0] dp_w_rd_last
);
  import engine_pkg::*;
  // ------------------------------------------------------------- the design
  localparam int R = edgemoe_regs_pkg::MAC_ROWS;
  localparam int TI = edgemoe_regs_pkg::MAC_IN;
  localparam int TO = edgemoe_regs_pkg::MAC_OUT;
  localparam int TB = edgemoe_regs_pkg::TOKEN_BLOCK;
  localparam int HC = edgemoe_regs_pkg::HIDDEN_CHUNK;
  localparam int QB = edgemoe_regs_pkg::QUERY_BLOCK;
  localparam int SL = edgemoe_regs_pkg::SOFTMAX_LANES;
  localparam int PL = edgemoe_regs_pkg::PROB_LANES;
  localparam int EL = edgemoe_regs_pkg::EPILOGUE_LANES;
  localparam int AL = edgemoe_regs_pkg::ACC_LANES;
  localparam int GL = edgemoe_regs_pkg::GELU_LANES;
  localparam int LL = edgemoe_regs_pkg::LN_LANES;
  localparam int RL = edgemoe_regs_pkg::ROUTER_LANES;
  localparam int P = edgemoe_regs_pkg::WEIGHT_PORTS;
  localparam int MT = edgemoe_regs_pkg::MAX_TOKENS;
  localparam int MD = edgemoe_regs_pkg::MAX_DIM;
  localparam int ME = edgemoe_regs_pkg::MAX_EXPERTS;
  localparam int MK = edgemoe_regs_pkg::MAX_TOP_K;
  localparam int MAXK = edgemoe_regs_pkg::MAX_K;
  localparam int ACC_W = 2 * ACT_W + 16;
  localparam int APW = 128 / ACT_W;
  localparam int KIN = (MAXK > MT) ? MAXK : MT;
  localparam int KP = ((KIN + TI - 1) / TI) * TI;  // widest x row, whole MAC beats
  localparam int UC = (HC > edgemoe_regs_pkg::MAX_PATCH_IN) ? HC : edgemoe_regs_pkg::MAX_PATCH_IN;
  localparam int TAILN0 = edgemoe_regs_pkg::MAX_GATE_IN - MD;
  localparam int TAILN = (TAILN0 > 0) ? TAILN0 : 1;
  localparam int NJ0 = 2 * ((edgemoe_regs_pkg::MAX_HIDDEN + HC - 1) / HC);
  localparam int NJ = (2 * ME > NJ0) ? 2 * ME : NJ0;
  localparam int GW = 32;  // prob_t
  localparam int MF = hwmath_pkg::MANT_FRAC;
  localparam int STW = ACT_W + MF + 9;
  localparam int MQW = GW + 16;
  localparam int NRIO = 4;  // gmem_io read clients: biases, LayerNorm, transfers, (spare)

  wire clk = ap_clk;
  wire rst = !ap_rst_n;

  // ------------------------------------------------------------- sequencer
  model_t model;
  logic job_we, list_start, list_done, pf_start, pf_done;
  logic [7:0] job_waddr, n_jobs;
  job_t job_wdata, pf_job;
  logic ln_start, ln_src_io, ln_done;
  logic [15:0] ln_row0, ln_rows;
  logic signed [9:0] ln_x_frac;
  logic [31:0] ln_g_off, ln_b_off, ln_g_fmt, ln_b_fmt, ln_z_fmt, ln_o_fmt, ln_eps;
  logic sm_start, sm_done;
  logic [1:0] sm_slot;
  logic [15:0] sm_rows;
  logic signed [9:0] sm_frac;
  logic rt_start, rt_done;
  logic [15:0] rt_rows;
  logic signed [9:0] rt_lfrac;
  logic [31:0] rt_gfmt;
  logic [ME*16-1:0] q_count, q_start;
  logic ac_start, ac_combine, ac_done;
  logic [15:0] ac_rows;
  logic signed [9:0] ac_shift, ac_frac;
  logic [31:0] ac_fmt;
  logic xf_start, xf_done;
  logic [2:0] xf_cmd;
  logic [15:0] xf_row0, xf_rows;
  logic [31:0] xf_off;
  logic [64*N_KINDS-1:0] cycles;

  engine_seq #(
      .TB(TB),
      .QB(QB),
      .HC(HC),
      .MAX_E(ME)
  ) seq (
      .clk(clk),
      .rst(rst),
      .dp_start(dp_start),
      .dp_done(dp_done),
      .dp_task(dp_task),
      .dp_gd(dp_gd),
      .dp_bd_rd_en(dp_bd_rd_en),
      .dp_bd_rd_block(dp_bd_rd_block),
      .dp_bd_rd_field(dp_bd_rd_field),
      .dp_bd_rd_data(dp_bd_rd_data),
      .io_wr_busy(dp_io_wr_busy),
      .model(model),
      .job_we(job_we),
      .job_waddr(job_waddr),
      .job_wdata(job_wdata),
      .list_start(list_start),
      .n_jobs(n_jobs),
      .list_done(list_done),
      .pf_start(pf_start),
      .pf_job(pf_job),
      .pf_done(pf_done),
      .ln_start(ln_start),
      .ln_src_io(ln_src_io),
      .ln_row0(ln_row0),
      .ln_rows(ln_rows),
      .ln_x_frac(ln_x_frac),
      .ln_g_off(ln_g_off),
      .ln_b_off(ln_b_off),
      .ln_g_fmt(ln_g_fmt),
      .ln_b_fmt(ln_b_fmt),
      .ln_z_fmt(ln_z_fmt),
      .ln_o_fmt(ln_o_fmt),
      .ln_eps(ln_eps),
      .ln_done(ln_done),
      .sm_start(sm_start),
      .sm_slot(sm_slot),
      .sm_rows(sm_rows),
      .sm_frac(sm_frac),
      .sm_done(sm_done),
      .rt_start(rt_start),
      .rt_rows(rt_rows),
      .rt_lfrac(rt_lfrac),
      .rt_gfmt(rt_gfmt),
      .rt_done(rt_done),
      .q_count(q_count),
      .q_start(q_start),
      .ac_start(ac_start),
      .ac_combine(ac_combine),
      .ac_rows(ac_rows),
      .ac_shift(ac_shift),
      .ac_frac(ac_frac),
      .ac_fmt(ac_fmt),
      .ac_done(ac_done),
      .xf_start(xf_start),
      .xf_cmd(xf_cmd),
      .xf_row0(xf_row0),
      .xf_rows(xf_rows),
      .xf_off(xf_off),
      .xf_done(xf_done),
      .cycles(cycles)
  );

  // --------------------------------------------------------- gmem_io reads
  logic [NRIO-1:0] c_req_valid, c_req_ready, c_req_io, c_rd_valid, c_rd_ready;
  logic [NRIO*32-1:0] c_req_beat, c_req_len;
  logic [127:0] c_rd_data;
  io_rd_arb #(
      .N(NRIO),
      .DEPTH(32)
  ) rd_arb (
      .clk(clk),
      .rst(rst),
      .params_addr(dp_params_addr),
      .io_addr(dp_io_addr),
      .c_req_valid(c_req_valid),
      .c_req_ready(c_req_ready),
      .c_req_io(c_req_io),
      .c_req_beat(c_req_beat),
      .c_req_len(c_req_len),
      .c_rd_valid(c_rd_valid),
      .c_rd_ready(c_rd_ready),
      .c_rd_data(c_rd_data),
      .req_valid(dp_io_rd_req_valid),
      .req_ready(dp_io_rd_req_ready),
      .req_addr(dp_io_rd_req_addr),
      .req_len(dp_io_rd_req_len),
      .rd_valid(dp_io_rd_valid),
      .rd_ready(dp_io_rd_ready),
      .rd_data(dp_io_rd_data),
      .rd_last(dp_io_rd_last)
  );
  // client 3 is unused
  assign c_req_valid[3] = 1'b0;
  assign c_req_io[3] = 1'b0;
  assign c_req_beat[3*32+:32] = '0;
  assign c_req_len[3*32+:32] = '0;
  assign c_rd_ready[3] = 1'b1;

  // ------------------------------------------------------------ buffer ports
  // linear unit
  logic [2:0] xf_src;
  logic [R*TI-1:0] lx_re;
  logic [R*TI*16-1:0] lx_row, lx_col;
  logic [R*TI*ACT_W-1:0] lx_data;
  logic [R-1:0] mi_re;
  logic [R*16-1:0] mi_idx, mi_data;
  logic [TAILN*ACT_W-1:0] tail;
  logic [TI-1:0] q_re;
  logic [TI*16-1:0] q_row, q_col;
  logic [TI*ACT_W-1:0] q_data;
  logic [2*PL-1:0] ls_re;
  logic [2*PL*16-1:0] ls_row, ls_col, lst_row;
  logic [2*PL*ACT_W-1:0] ls_data;
  logic [2*PL*STW-1:0] lst_data;
  logic [EL-1:0] ex_re, ea_re, y_we, y_add;
  logic [EL*16-1:0] ex_row, ex_col, ea_row, ea_col, y_row, y_col;
  logic [EL*ACT_W-1:0] ex_data;
  logic [EL*ACC_W-1:0] ea_data, y_data;
  logic [AL-1:0] em_re;
  logic [AL*16-1:0] em_idx, em_row;
  logic [AL*GW-1:0] em_gate;
  logic [3:0] y_sink;
  logic [63:0] mac_beats;
  logic [P*32-1:0] w_req_beat;

  lin_unit #(
      .ACT_W(ACT_W),
      .ACC_W(ACC_W),
      .R(R),
      .TI(TI),
      .TO(TO),
      .PORTS(P),
      .EL(EL),
      .GL(GL),
      .AL(AL),
      .PL(PL),
      .QB(QB),
      .MAX_K(MAXK),
      .KP(KP),
      .NJ(NJ),
      .TAILN(TAILN),
      .GW(GW)
  ) lin (
      .clk(clk),
      .rst(rst),
      .job_we(job_we),
      .job_waddr(job_waddr),
      .job_wdata(job_wdata),
      .list_start(list_start),
      .n_jobs(n_jobs),
      .list_done(list_done),
      .pf_start(pf_start),
      .pf_job(pf_job),
      .pf_done(pf_done),
      .w_req_valid(dp_w_rd_req_valid),
      .w_req_ready(dp_w_rd_req_ready),
      .w_req_beat(w_req_beat),
      .w_req_len(dp_w_rd_req_len),
      .w_rd_valid(dp_w_rd_valid),
      .w_rd_ready(dp_w_rd_ready),
      .w_rd_data(dp_w_rd_data),
      .b_req_valid(c_req_valid[0]),
      .b_req_ready(c_req_ready[0]),
      .b_req_beat(c_req_beat[0+:32]),
      .b_req_len(c_req_len[0+:32]),
      .b_rd_valid(c_rd_valid[0]),
      .b_rd_ready(c_rd_ready[0]),
      .b_rd_data(c_rd_data),
      .xf_src(xf_src),
      .xf_re(lx_re),
      .xf_row(lx_row),
      .xf_col(lx_col),
      .xf_data(lx_data),
      .mi_re(mi_re),
      .mi_idx(mi_idx),
      .mi_data(mi_data),
      .tail(tail),
      .q_re(q_re),
      .q_row(q_row),
      .q_col(q_col),
      .q_data(q_data),
      .s_re(ls_re),
      .s_row(ls_row),
      .s_col(ls_col),
      .s_data(ls_data),
      .st_row(lst_row),
      .st_data(lst_data),
      .ex_re(ex_re),
      .ex_row(ex_row),
      .ex_col(ex_col),
      .ex_data(ex_data),
      .ea_re(ea_re),
      .ea_row(ea_row),
      .ea_col(ea_col),
      .ea_data(ea_data),
      .em_re(em_re),
      .em_idx(em_idx),
      .em_row(em_row),
      .em_gate(em_gate),
      .y_we(y_we),
      .y_sink(y_sink),
      .y_add(y_add),
      .y_row(y_row),
      .y_col(y_col),
      .y_data(y_data),
      .mac_beats(mac_beats)
  );
  assign c_req_io[0] = 1'b0;  // biases are in params
  always_comb
    for (int p = 0; p < P; p++)
      dp_w_rd_req_addr[p*64+:64] = dp_wgt_addr[p*64+:64] + {28'd0, w_req_beat[p*32+:32], 4'd0};

  // the epilogue's stores by sink; its ACT_W-bit words are the low bits
  function automatic logic [EL-1:0] y_to(input logic [3:0] sink);
    y_to = (y_sink == sink) ? y_we : '0;
  endfunction
  logic [EL*ACT_W-1:0] y_act;
  always_comb
    for (int l = 0; l < EL; l++) y_act[l*ACT_W+:ACT_W] = y_data[l*ACC_W+:ACT_W];
  wire [EL-1:0] y_acc = y_to(YS_ACC) | y_to(YS_ACC_SET) | y_to(YS_ACC_ADD);

  // LayerNorm
  logic [LL-1:0] ln_x_re, ln_h_we, ln_h_add;  // (the ops never add into h, st, mq, x)
  logic [LL*16-1:0] ln_x_row, ln_x_col, ln_h_row, ln_h_col;
  logic [LL*ACT_W-1:0] ln_x_data, ln_h_data;
  ln_op #(
      .ACT_W(ACT_W),
      .LL(LL),
      .MAX_D(MD)
  ) ln (
      .clk(clk),
      .rst(rst),
      .model(model),
      .start(ln_start),
      .src_io(ln_src_io),
      .row0(ln_row0),
      .rows(ln_rows),
      .x_frac(ln_x_frac),
      .g_off(ln_g_off),
      .b_off(ln_b_off),
      .g_fmt(ln_g_fmt),
      .b_fmt(ln_b_fmt),
      .z_fmt(ln_z_fmt),
      .o_fmt(ln_o_fmt),
      .eps(ln_eps),
      .done(ln_done),
      .rd_req_valid(c_req_valid[1]),
      .rd_req_ready(c_req_ready[1]),
      .rd_req_io(c_req_io[1]),
      .rd_req_beat(c_req_beat[32+:32]),
      .rd_req_len(c_req_len[32+:32]),
      .rd_valid(c_rd_valid[1]),
      .rd_ready(c_rd_ready[1]),
      .rd_data(c_rd_data),
      .x_re(ln_x_re),
      .x_rrow(ln_x_row),
      .x_rcol(ln_x_col),
      .x_rdata(ln_x_data),
      .h_we(ln_h_we),
      .h_wadd(ln_h_add),
      .h_wrow(ln_h_row),
      .h_wcol(ln_h_col),
      .h_wdata(ln_h_data)
  );

  // softmax statistics
  logic [SL-1:0] sm_s_re, sm_st_we, sm_st_add;
  logic [SL*16-1:0] sm_s_row, sm_s_col, sm_st_row, sm_st_col;
  logic [SL*ACT_W-1:0] sm_s_data;
  logic [SL*STW-1:0] sm_st_data;
  sm_op #(
      .ACT_W(ACT_W),
      .SL(SL),
      .QB(QB)
  ) sm (
      .clk(clk),
      .rst(rst),
      .model(model),
      .start(sm_start),
      .slot(sm_slot),
      .rows(sm_rows),
      .frac(sm_frac),
      .done(sm_done),
      .s_re(sm_s_re),
      .s_rrow(sm_s_row),
      .s_rcol(sm_s_col),
      .s_rdata(sm_s_data),
      .st_we(sm_st_we),
      .st_wadd(sm_st_add),
      .st_wrow(sm_st_row),
      .st_wcol(sm_st_col),
      .st_wdata(sm_st_data)
  );

  // router and queues
  localparam int MQP = MK;  // queue write ports
  logic [RL-1:0] rt_g_re;
  logic [RL*16-1:0] rt_g_row, rt_g_col;
  logic [RL*ACT_W-1:0] rt_g_data;
  logic [MQP-1:0] rt_mq_we, rt_mq_add;
  logic [MQP*16-1:0] rt_mq_row, rt_mq_col;
  logic [MQP*MQW-1:0] rt_mq_data;
  route_op #(
      .ACT_W(ACT_W),
      .RL(RL),
      .MAX_E(ME),
      .MAX_TOPK(MK),
      .TB(TB),
      .GW(GW)
  ) rt (
      .clk(clk),
      .rst(rst),
      .model(model),
      .start(rt_start),
      .rows(rt_rows),
      .lfrac(rt_lfrac),
      .gfmt(rt_gfmt),
      .done(rt_done),
      .g_re(rt_g_re),
      .g_rrow(rt_g_row),
      .g_rcol(rt_g_col),
      .g_rdata(rt_g_data),
      .mq_we(rt_mq_we),
      .mq_wadd(rt_mq_add),
      .mq_wrow(rt_mq_row),
      .mq_wcol(rt_mq_col),
      .mq_wdata(rt_mq_data),
      .q_count(q_count),
      .q_start(q_start)
  );

  // MoE accumulators
  logic [AL-1:0] ac_x_re, ac_a_re, ac_a_we, ac_a_add, ac_x_we, ac_x_add;
  logic [AL*16-1:0] ac_x_row, ac_x_col, ac_a_row, ac_a_col, ac_aw_row, ac_aw_col;
  logic [AL*16-1:0] ac_xw_row, ac_xw_col;
  logic [AL*ACT_W-1:0] ac_x_data, ac_xw_data;
  logic [AL*ACC_W-1:0] ac_a_data, ac_aw_data;
  acc_op #(
      .ACT_W(ACT_W),
      .ACC_W(ACC_W),
      .AL(AL)
  ) ac (
      .clk(clk),
      .rst(rst),
      .model(model),
      .start(ac_start),
      .combine(ac_combine),
      .rows(ac_rows),
      .shift(ac_shift),
      .frac(ac_frac),
      .fmt(ac_fmt),
      .done(ac_done),
      .x_re(ac_x_re),
      .x_rrow(ac_x_row),
      .x_rcol(ac_x_col),
      .x_rdata(ac_x_data),
      .acc_re(ac_a_re),
      .acc_rrow(ac_a_row),
      .acc_rcol(ac_a_col),
      .acc_rdata(ac_a_data),
      .acc_we(ac_a_we),
      .acc_wadd(ac_a_add),
      .acc_wrow(ac_aw_row),
      .acc_wcol(ac_aw_col),
      .acc_wdata(ac_aw_data),
      .x_we(ac_x_we),
      .x_wadd(ac_x_add),
      .x_wrow(ac_xw_row),
      .x_wcol(ac_xw_col),
      .x_wdata(ac_xw_data)
  );

  // transfers
  logic [APW-1:0] t_x_re, t_x_we, t_u_we;
  logic [APW*16-1:0] t_x_rrow, t_x_rcol, t_x_wrow, t_x_wcol, t_u_wrow, t_u_wcol;
  logic [127:0] t_x_rdata, t_x_wdata, t_u_wdata;
  logic [31:0] wr_beat;
  xfer_unit #(
      .ACT_W(ACT_W),
      .MAX_D(MD),
      .TAILN(TAILN)
  ) xf (
      .clk(clk),
      .rst(rst),
      .model(model),
      .start(xf_start),
      .cmd(xf_cmd),
      .row0(xf_row0),
      .rows(xf_rows),
      .off(xf_off),
      .done(xf_done),
      .rd_req_valid(c_req_valid[2]),
      .rd_req_ready(c_req_ready[2]),
      .rd_req_io(c_req_io[2]),
      .rd_req_beat(c_req_beat[64+:32]),
      .rd_req_len(c_req_len[64+:32]),
      .rd_valid(c_rd_valid[2]),
      .rd_ready(c_rd_ready[2]),
      .rd_data(c_rd_data),
      .wr_req_valid(dp_io_wr_req_valid),
      .wr_req_ready(dp_io_wr_req_ready),
      .wr_req_beat(wr_beat),
      .wr_req_len(dp_io_wr_req_len),
      .wr_valid(dp_io_wr_valid),
      .wr_ready(dp_io_wr_ready),
      .wr_data(dp_io_wr_data),
      .x_re(t_x_re),
      .x_rrow(t_x_rrow),
      .x_rcol(t_x_rcol),
      .x_rdata(t_x_rdata),
      .x_we(t_x_we),
      .x_wrow(t_x_wrow),
      .x_wcol(t_x_wcol),
      .x_wdata(t_x_wdata),
      .u_we(t_u_we),
      .u_wrow(t_u_wrow),
      .u_wcol(t_u_wcol),
      .u_wdata(t_u_wdata),
      .tail(tail)
  );
  assign dp_io_wr_req_addr = dp_io_addr + {28'd0, wr_beat, 4'd0};

  // ------------------------------------------------------------------ buffers
  // x: LayerNorm, the epilogue's residual, stores, the accumulator init read it;
  // the epilogue, loads / position rows / cls and the combine write it.
  localparam int XR = LL + EL + APW + AL, XW = EL + APW + AL;
  logic [XR*ACT_W-1:0] x_rdata;
  ebuf #(
      .ROWS(TB),
      .COLS(MD),
      .W(ACT_W),
      .NR(XR),
      .NW(XW),
      .RW(16),
      .CW(16)
  ) b_x (
      .clk(clk),
      .re({ac_x_re, t_x_re, ex_re, ln_x_re}),
      .r_row({ac_x_row, t_x_rrow, ex_row, ln_x_row}),
      .r_col({ac_x_col, t_x_rcol, ex_col, ln_x_col}),
      .r_data(x_rdata),
      .we({ac_x_we, t_x_we, y_to(YS_X)}),
      .w_add('0),
      .w_row({ac_xw_row, t_x_wrow, y_row}),
      .w_col({ac_xw_col, t_x_wcol, y_col}),
      .w_data({ac_xw_data, t_x_wdata, y_act})
  );
  assign ln_x_data = x_rdata[0+:LL*ACT_W];
  assign ex_data = x_rdata[LL*ACT_W+:EL*ACT_W];
  assign t_x_rdata = x_rdata[(LL+EL)*ACT_W+:128];
  assign ac_x_data = x_rdata[(LL+EL+APW)*ACT_W+:AL*ACT_W];

  // h, a, u, k, v: the MAC array's x operand (R x TI reads, by source)
  logic [2:0] src1;
  always_ff @(posedge clk) src1 <= xf_src;
  logic [R*TI*ACT_W-1:0] h_rdata, a_rdata, u_rdata, k_rdata, v_rdata;
  function automatic logic [R*TI-1:0] from(input logic [2:0] s);
    from = (xf_src == s) ? lx_re : '0;
  endfunction
  always_comb
    case (src1)
      XS_H: lx_data = h_rdata;
      XS_A: lx_data = a_rdata;
      XS_U: lx_data = u_rdata;
      XS_KEYS: lx_data = k_rdata;
      default: lx_data = v_rdata;
    endcase

  ebuf #(
      .ROWS(TB),
      .COLS(MD),
      .W(ACT_W),
      .NR(R * TI),
      .NW(LL),
      .RW(16),
      .CW(16)
  ) b_h (
      .clk(clk),
      .re(from(XS_H)),
      .r_row(lx_row),
      .r_col(lx_col),
      .r_data(h_rdata),
      .we(ln_h_we),
      .w_add('0),
      .w_row(ln_h_row),
      .w_col(ln_h_col),
      .w_data(ln_h_data)
  );
  ebuf #(
      .ROWS(TB),
      .COLS(MD),
      .W(ACT_W),
      .NR(R * TI),
      .NW(EL),
      .RW(16),
      .CW(16)
  ) b_a (
      .clk(clk),
      .re(from(XS_A)),
      .r_row(lx_row),
      .r_col(lx_col),
      .r_data(a_rdata),
      .we(y_to(YS_A_T)),
      .w_add('0),
      .w_row(y_row),
      .w_col(y_col),
      .w_data(y_act)
  );
  ebuf #(
      .ROWS(TB),
      .COLS(UC),
      .W(ACT_W),
      .NR(R * TI),
      .NW(EL + APW),
      .RW(16),
      .CW(16)
  ) b_u (
      .clk(clk),
      .re(from(XS_U)),
      .r_row(lx_row),
      .r_col(lx_col),
      .r_data(u_rdata),
      .we({t_u_we, y_to(YS_U)}),
      .w_add('0),
      .w_row({t_u_wrow, y_row}),
      .w_col({t_u_wcol, y_col}),
      .w_data({t_u_wdata, y_act})
  );
  ebuf #(
      .ROWS(MT),
      .COLS(MD),
      .W(ACT_W),
      .NR(R * TI),
      .NW(EL),
      .RW(16),
      .CW(16)
  ) b_k (
      .clk(clk),
      .re(from(XS_KEYS)),
      .r_row(lx_row),
      .r_col(lx_col),
      .r_data(k_rdata),
      .we(y_to(YS_K)),
      .w_add('0),
      .w_row(y_row),
      .w_col(y_col),
      .w_data(y_act)
  );
  ebuf #(
      .ROWS(MT),
      .COLS(MD),
      .W(ACT_W),
      .NR(R * TI),
      .NW(EL),
      .RW(16),
      .CW(16)
  ) b_v (
      .clk(clk),
      .re(from(XS_VALUES_T)),
      .r_row(lx_row),
      .r_col(lx_col),
      .r_data(v_rdata),
      .we(y_to(YS_V)),
      .w_add('0),
      .w_row(y_row),
      .w_col(y_col),
      .w_data(y_act)
  );

  // q: the queries' tile fill reads it
  ebuf #(
      .ROWS(TB),
      .COLS(MD),
      .W(ACT_W),
      .NR(TI),
      .NW(EL),
      .RW(16),
      .CW(16)
  ) b_q (
      .clk(clk),
      .re(q_re),
      .r_row(q_row),
      .r_col(q_col),
      .r_data(q_data),
      .we(y_to(YS_Q)),
      .w_add('0),
      .w_row(y_row),
      .w_col(y_col),
      .w_data(y_act)
  );

  // s: three score slots; the tile fills (probabilities) and the statistics read it
  logic [(2*PL+SL)*ACT_W-1:0] s_rdata;
  ebuf #(
      .ROWS(3 * QB),
      .COLS(MT),
      .W(ACT_W),
      .NR(2 * PL + SL),
      .NW(EL),
      .RW(16),
      .CW(16)
  ) b_s (
      .clk(clk),
      .re({sm_s_re, ls_re}),
      .r_row({sm_s_row, ls_row}),
      .r_col({sm_s_col, ls_col}),
      .r_data(s_rdata),
      .we(y_to(YS_SCORE_T)),
      .w_add('0),
      .w_row(y_row),
      .w_col(y_col),
      .w_data(y_act)
  );
  assign ls_data = s_rdata[0+:2*PL*ACT_W];
  assign sm_s_data = s_rdata[2*PL*ACT_W+:SL*ACT_W];

  // row statistics {shift, 1/sum mantissa, max} of each score row
  ebuf #(
      .ROWS(3 * QB),
      .COLS(1),
      .W(STW),
      .NR(2 * PL),
      .NW(SL),
      .RW(16),
      .CW(16)
  ) b_st (
      .clk(clk),
      .re({2 * PL{1'b1}}),
      .r_row(lst_row),
      .r_col('0),
      .r_data(lst_data),
      .we(sm_st_we),
      .w_add('0),
      .w_row(sm_st_row),
      .w_col(sm_st_col),
      .w_data(sm_st_data)
  );

  // acc: exact sums (fc2 chunks, MoE combine)
  logic [(EL+AL)*ACC_W-1:0] acc_rdata;
  ebuf #(
      .ROWS(TB),
      .COLS(MD),
      .W(ACC_W),
      .NR(EL + AL),
      .NW(EL + AL),
      .RW(16),
      .CW(16)
  ) b_acc (
      .clk(clk),
      .re({ac_a_re, ea_re}),
      .r_row({ac_a_row, ea_row}),
      .r_col({ac_a_col, ea_col}),
      .r_data(acc_rdata),
      .we({ac_a_we, y_acc}),
      .w_add({ac_a_add, y_add}),
      .w_row({ac_aw_row, y_row}),
      .w_col({ac_aw_col, y_col}),
      .w_data({ac_aw_data, y_data})
  );
  assign ea_data = acc_rdata[0+:EL*ACC_W];
  assign ac_a_data = acc_rdata[EL*ACC_W+:AL*ACC_W];

  // g: router logits
  ebuf #(
      .ROWS(TB),
      .COLS(ME),
      .W(ACT_W),
      .NR(RL),
      .NW(EL),
      .RW(16),
      .CW(16)
  ) b_g (
      .clk(clk),
      .re(rt_g_re),
      .r_row(rt_g_row),
      .r_col(rt_g_col),
      .r_data(rt_g_data),
      .we(y_to(YS_G)),
      .w_add('0),
      .w_row(y_row),
      .w_col(y_col),
      .w_data(y_act)
  );

  // mq: expert queue entries {gate, token row}
  logic [(R+AL)*MQW-1:0] mq_rdata;
  logic [R*16-1:0] mi_col;
  logic [AL*16-1:0] em_col;
  assign mi_col = '0;
  assign em_col = '0;
  ebuf #(
      .ROWS(TB * MK),
      .COLS(1),
      .W(MQW),
      .NR(R + AL),
      .NW(MQP),
      .RW(16),
      .CW(16)
  ) b_mq (
      .clk(clk),
      .re({em_re, mi_re}),
      .r_row({em_idx, mi_idx}),
      .r_col({em_col, mi_col}),
      .r_data(mq_rdata),
      .we(rt_mq_we),
      .w_add('0),
      .w_row(rt_mq_row),
      .w_col(rt_mq_col),
      .w_data(rt_mq_data)
  );
  always_comb begin
    for (int r = 0; r < R; r++) mi_data[r*16+:16] = mq_rdata[r*MQW+:16];
    for (int l = 0; l < AL; l++) begin
      em_row[l*16+:16] = mq_rdata[(R+l)*MQW+:16];
      em_gate[l*GW+:GW] = mq_rdata[(R+l)*MQW+16+:GW];
    end
  end

  logic unused;
  assign unused = ^{dp_w_rd_last, mac_beats, cycles, ln_h_add, sm_st_add, rt_mq_add, ac_x_add};
endmodule

/* verilator lint_on UNUSEDSIGNAL */
`default_nettype wire
