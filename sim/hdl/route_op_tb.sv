// Test wrapper (not part of the engine): route_op with its model record built
// from the three fields it reads (experts, top_k, renorm) and every other field
// zero. The testbench (sim/cocotb/test_route_op.py) models the router-logit
// buffer (synchronous reads per lane, data held while re is low, as ebuf) and
// collects the queue writes.
`default_nettype none

module route_op_tb #(
    // activation word width
    parameter int ACT_W    = 16,
    // router lanes
    parameter int RL       = 2,
    // experts at most
    parameter int MAX_E    = 16,
    // top-k at most
    parameter int MAX_TOPK = 2,
    // token rows per block
    parameter int TB       = 16,
    // bits of a gate
    parameter int GW       = 32
) (
    input  wire                            clk,
    input  wire                            rst,
    input  wire  [                   15:0] experts,
    input  wire  [                   15:0] top_k,
    input  wire  [                   15:0] renorm,
    input  wire                            start,
    input  wire  [                   15:0] rows,
    input  wire  [                    9:0] lfrac,
    input  wire  [                   31:0] gfmt,
    output logic                           done,
    output logic [                 RL-1:0] g_re,
    output logic [              RL*16-1:0] g_rrow,
    output logic [              RL*16-1:0] g_rcol,
    input  wire  [           RL*ACT_W-1:0] g_rdata,
    output logic [           MAX_TOPK-1:0] mq_we,
    output logic [           MAX_TOPK-1:0] mq_wadd,
    output logic [        MAX_TOPK*16-1:0] mq_wrow,
    output logic [        MAX_TOPK*16-1:0] mq_wcol,
    output logic [MAX_TOPK*(GW+16)-1:0] mq_wdata,
    output logic [           MAX_E*16-1:0] q_count,
    output logic [           MAX_E*16-1:0] q_start
);
  import engine_pkg::*;  // (Icarus 11 elaborates the package's types only when imported)
  model_t model;
  always_comb begin
    model = '0;
    model.experts = experts;
    model.top_k = top_k;
    model.renorm = renorm;
  end

  route_op #(
      .ACT_W(ACT_W),
      .RL(RL),
      .MAX_E(MAX_E),
      .MAX_TOPK(MAX_TOPK),
      .TB(TB),
      .GW(GW)
  ) u (
      .clk(clk),
      .rst(rst),
      .model(model),
      .start(start),
      .rows(rows),
      .lfrac(lfrac),
      .gfmt(gfmt),
      .done(done),
      .g_re(g_re),
      .g_rrow(g_rrow),
      .g_rcol(g_rcol),
      .g_rdata(g_rdata),
      .mq_we(mq_we),
      .mq_wadd(mq_wadd),
      .mq_wrow(mq_wrow),
      .mq_wcol(mq_wcol),
      .mq_wdata(mq_wdata),
      .q_count(q_count),
      .q_start(q_start)
  );
endmodule

`default_nettype wire
