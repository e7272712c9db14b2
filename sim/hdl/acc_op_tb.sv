// Test wrapper (not part of the engine): acc_op with its model record built from
// the one field it reads (dim) and every other field zero. The testbench
// (sim/cocotb/test_acc_op.py) models the x buffer and the accumulators
// (synchronous reads per lane, as ebuf) and collects the writes to both.
`default_nettype none

module acc_op_tb #(
    // activation word width
    parameter int ACT_W = 16,
    // accumulator width
    parameter int ACC_W = 2 * ACT_W + 16,
    // accumulator lanes
    parameter int AL    = 4
) (
    input  wire                    clk,
    input  wire                    rst,
    input  wire  [           15:0] dim,
    input  wire                    start,
    input  wire                    combine,
    input  wire  [           15:0] rows,
    input  wire  [            9:0] shift,
    input  wire  [            9:0] frac,
    input  wire  [           31:0] fmt,
    output logic                   done,
    output logic [         AL-1:0] x_re,
    output logic [      AL*16-1:0] x_rrow,
    output logic [      AL*16-1:0] x_rcol,
    input  wire  [   AL*ACT_W-1:0] x_rdata,
    output logic [         AL-1:0] acc_re,
    output logic [      AL*16-1:0] acc_rrow,
    output logic [      AL*16-1:0] acc_rcol,
    input  wire  [   AL*ACC_W-1:0] acc_rdata,
    output logic [         AL-1:0] acc_we,
    output logic [         AL-1:0] acc_wadd,
    output logic [      AL*16-1:0] acc_wrow,
    output logic [      AL*16-1:0] acc_wcol,
    output logic [   AL*ACC_W-1:0] acc_wdata,
    output logic [         AL-1:0] x_we,
    output logic [         AL-1:0] x_wadd,
    output logic [      AL*16-1:0] x_wrow,
    output logic [      AL*16-1:0] x_wcol,
    output logic [   AL*ACT_W-1:0] x_wdata
);
  import engine_pkg::*;  // (Icarus 11 elaborates the package's types only when imported)
  model_t model;
  always_comb begin
    model = '0;
    model.dim = dim;
  end

  acc_op #(
      .ACT_W(ACT_W),
      .ACC_W(ACC_W),
      .AL(AL)
  ) u (
      .clk(clk),
      .rst(rst),
      .model(model),
      .start(start),
      .combine(combine),
      .rows(rows),
      .shift(shift),
      .frac(frac),
      .fmt(fmt),
      .done(done),
      .x_re(x_re),
      .x_rrow(x_rrow),
      .x_rcol(x_rcol),
      .x_rdata(x_rdata),
      .acc_re(acc_re),
      .acc_rrow(acc_rrow),
      .acc_rcol(acc_rcol),
      .acc_rdata(acc_rdata),
      .acc_we(acc_we),
      .acc_wadd(acc_wadd),
      .acc_wrow(acc_wrow),
      .acc_wcol(acc_wcol),
      .acc_wdata(acc_wdata),
      .x_we(x_we),
      .x_wadd(x_wadd),
      .x_wrow(x_wrow),
      .x_wcol(x_wcol),
      .x_wdata(x_wdata)
  );
endmodule

`default_nettype wire
