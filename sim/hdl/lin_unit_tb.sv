// Test wrapper (not part of the engine): lin_unit with its job record as a flat
// vector (engine_pkg::job_t, the first field in the top bits) and only the
// ports a list of plain DDR-weight jobs uses. The testbench
// (sim/cocotb/test_lin_unit.py) models the weight ports and the bias client
// (DDR reads with latency and back-pressure), the x operand buffer and the
// residual reads (synchronous reads, as ebuf) and collects the stores. Tied
// off: the probability prefill, the expert queue, the router's task feature,
// the query / score / statistics reads of the on-chip w sources and the
// accumulator reads (the units of attention and the MoE combine).
`default_nettype none

module lin_unit_tb #(
    // activation bits
    parameter int ACT_W = 16,
    // exact accumulator bits
    parameter int ACC_W = 2 * ACT_W + 16,
    // MAC array rows
    parameter int R     = 4,
    // inputs per MAC beat
    parameter int TI    = 32,
    // DSP columns
    parameter int TO    = 8,
    // weight ports
    parameter int PORTS = 4,
    // epilogue lanes: plain
    parameter int EL    = 64,
    // epilogue lanes: GELU
    parameter int GL    = 16,
    // epilogue lanes: accumulator
    parameter int AL    = 16,
    // probability lanes
    parameter int PL    = 64,
    // query rows per score slot
    parameter int QB    = 48,
    // widest bias vector
    parameter int MAX_K = 1536,
    // widest x row rounded up to TI
    parameter int KP    = 1536,
    // longest job list
    parameter int NJ    = 32,
    // router task feature words
    parameter int TAILN = 64,
    // probability / gate bits
    parameter int GW    = 32
) (
    input  wire                          clk,
    input  wire                          rst,
    input  wire                          job_we,
    input  wire  [                  7:0] job_waddr,
    input  wire  [engine_pkg::JOB_W-1:0] job_wdata,
    input  wire                          list_start,
    input  wire  [                  7:0] n_jobs,
    output logic                         list_done,
    output logic [            PORTS-1:0] w_req_valid,
    input  wire  [            PORTS-1:0] w_req_ready,
    output logic [         PORTS*32-1:0] w_req_beat,
    output logic [         PORTS*32-1:0] w_req_len,
    input  wire  [            PORTS-1:0] w_rd_valid,
    output logic [            PORTS-1:0] w_rd_ready,
    input  wire  [        PORTS*128-1:0] w_rd_data,
    output logic                         b_req_valid,
    input  wire                          b_req_ready,
    output logic [                 31:0] b_req_beat,
    output logic [                 31:0] b_req_len,
    input  wire                          b_rd_valid,
    output logic                         b_rd_ready,
    input  wire  [                127:0] b_rd_data,
    output logic [                  2:0] xf_src,
    output logic [             R*TI-1:0] xf_re,
    output logic [          R*TI*16-1:0] xf_row,
    output logic [          R*TI*16-1:0] xf_col,
    input  wire  [       R*TI*ACT_W-1:0] xf_data,
    output logic [               EL-1:0] ex_re,
    output logic [            EL*16-1:0] ex_row,
    output logic [            EL*16-1:0] ex_col,
    input  wire  [         EL*ACT_W-1:0] ex_data,
    output logic [               EL-1:0] y_we,
    output logic [                  3:0] y_sink,
    output logic [               EL-1:0] y_add,
    output logic [            EL*16-1:0] y_row,
    output logic [            EL*16-1:0] y_col,
    output logic [         EL*ACC_W-1:0] y_data,
    output logic [                 63:0] mac_beats
);
  localparam int STW = ACT_W + hwmath_pkg::MANT_FRAC + 9;

  // Outputs of the tied-off interfaces (nothing reads them here).
  /* verilator lint_off UNUSEDSIGNAL */
  logic pf_done;
  logic [R-1:0] mi_re;
  logic [R*16-1:0] mi_idx;
  logic [TI-1:0] q_re;
  logic [TI*16-1:0] q_row, q_col;
  logic [2*PL-1:0] s_re;
  logic [2*PL*16-1:0] s_row, s_col, st_row;
  logic [EL-1:0] ea_re;
  logic [EL*16-1:0] ea_row, ea_col;
  logic [AL-1:0] em_re;
  logic [AL*16-1:0] em_idx;
  /* verilator lint_on UNUSEDSIGNAL */

  lin_unit #(
      .ACT_W(ACT_W),
      .ACC_W(ACC_W),
      .R(R),
      .TI(TI),
      .TO(TO),
      .PORTS(PORTS),
      .EL(EL),
      .GL(GL),
      .AL(AL),
      .PL(PL),
      .QB(QB),
      .MAX_K(MAX_K),
      .KP(KP),
      .NJ(NJ),
      .TAILN(TAILN),
      .GW(GW)
  ) u (
      .clk(clk),
      .rst(rst),
      .job_we(job_we),
      .job_waddr(job_waddr),
      .job_wdata(job_wdata),  // a packed struct: the same bits
      .list_start(list_start),
      .n_jobs(n_jobs),
      .list_done(list_done),
      .pf_start(1'b0),
      .pf_job({engine_pkg::JOB_W{1'b0}}),
      .pf_done(pf_done),
      .w_req_valid(w_req_valid),
      .w_req_ready(w_req_ready),
      .w_req_beat(w_req_beat),
      .w_req_len(w_req_len),
      .w_rd_valid(w_rd_valid),
      .w_rd_ready(w_rd_ready),
      .w_rd_data(w_rd_data),
      .b_req_valid(b_req_valid),
      .b_req_ready(b_req_ready),
      .b_req_beat(b_req_beat),
      .b_req_len(b_req_len),
      .b_rd_valid(b_rd_valid),
      .b_rd_ready(b_rd_ready),
      .b_rd_data(b_rd_data),
      .xf_src(xf_src),
      .xf_re(xf_re),
      .xf_row(xf_row),
      .xf_col(xf_col),
      .xf_data(xf_data),
      .mi_re(mi_re),
      .mi_idx(mi_idx),
      .mi_data({(R * 16) {1'b0}}),
      .tail({(TAILN * ACT_W) {1'b0}}),
      .q_re(q_re),
      .q_row(q_row),
      .q_col(q_col),
      .q_data({(TI * ACT_W) {1'b0}}),
      .s_re(s_re),
      .s_row(s_row),
      .s_col(s_col),
      .s_data({(2 * PL * ACT_W) {1'b0}}),
      .st_row(st_row),
      .st_data({(2 * PL * STW) {1'b0}}),
      .ex_re(ex_re),
      .ex_row(ex_row),
      .ex_col(ex_col),
      .ex_data(ex_data),
      .ea_re(ea_re),
      .ea_row(ea_row),
      .ea_col(ea_col),
      .ea_data({(EL * ACC_W) {1'b0}}),
      .em_re(em_re),
      .em_idx(em_idx),
      .em_row({(AL * 16) {1'b0}}),
      .em_gate({(AL * GW) {1'b0}}),
      .y_we(y_we),
      .y_sink(y_sink),
      .y_add(y_add),
      .y_row(y_row),
      .y_col(y_col),
      .y_data(y_data),
      .mac_beats(mac_beats)
  );
endmodule

`default_nettype wire
