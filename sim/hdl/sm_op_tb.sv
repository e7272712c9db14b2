// Test wrapper (not part of the engine): sm_op with its model record built from
// the one field it reads (tokens) and every other field zero. The testbench
// (sim/cocotb/test_sm_op.py) models the score buffer (synchronous reads per
// lane, data held while re is low, as ebuf) and collects the statistics writes.
`default_nettype none

module sm_op_tb #(
    // activation word width
    parameter int ACT_W = 16,
    // softmax lanes
    parameter int SL    = 4,
    // query rows per score slot
    parameter int QB    = 8
) (
    input  wire                                           clk,
    input  wire                                           rst,
    input  wire  [                                  15:0] tokens,
    input  wire                                           start,
    input  wire  [                                   1:0] slot,
    input  wire  [                                  15:0] rows,
    input  wire  [                                   9:0] frac,
    output logic                                          done,
    output logic [                                SL-1:0] s_re,
    output logic [                             SL*16-1:0] s_rrow,
    output logic [                             SL*16-1:0] s_rcol,
    input  wire  [                          SL*ACT_W-1:0] s_rdata,
    output logic [                                SL-1:0] st_we,
    output logic [                                SL-1:0] st_wadd,
    output logic [                             SL*16-1:0] st_wrow,
    output logic [                             SL*16-1:0] st_wcol,
    output logic [SL*(ACT_W+hwmath_pkg::MANT_FRAC+9)-1:0] st_wdata
);
  import engine_pkg::*;  // (Icarus 11 elaborates the package's types only when imported)
  model_t model;
  always_comb begin
    model = '0;
    model.tokens = tokens;
  end

  sm_op #(
      .ACT_W(ACT_W),
      .SL(SL),
      .QB(QB)
  ) u (
      .clk(clk),
      .rst(rst),
      .model(model),
      .start(start),
      .slot(slot),
      .rows(rows),
      .frac(frac),
      .done(done),
      .s_re(s_re),
      .s_rrow(s_rrow),
      .s_rcol(s_rcol),
      .s_rdata(s_rdata),
      .st_we(st_we),
      .st_wadd(st_wadd),
      .st_wrow(st_wrow),
      .st_wcol(st_wcol),
      .st_wdata(st_wdata)
  );
endmodule

`default_nettype wire
