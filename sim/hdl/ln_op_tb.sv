// Test wrapper (not part of the engine): ln_op with its model record built from
// the two fields it reads (dim; io_x, for the io source it does not support
// yet) and every other field zero. The testbench (sim/cocotb/test_ln_op.py)
// models the gmem_io read client (DDR latency, back-pressure), the x buffer
// (synchronous reads, as ebuf) and collects the h writes.
`default_nettype none

module ln_op_tb #(
    // activation word width
    parameter int ACT_W = 16,
    // LayerNorm lanes
    parameter int LL    = 4,
    // longest row
    parameter int MAX_D = 64
) (
    input  wire                     clk,
    input  wire                     rst,
    input  wire  [            15:0] dim,
    input  wire  [            31:0] io_x,
    input  wire                     start,
    input  wire                     src_io,
    input  wire  [            15:0] row0,
    input  wire  [            15:0] rows,
    input  wire  [             9:0] x_frac,
    input  wire  [            31:0] g_off,
    input  wire  [            31:0] b_off,
    input  wire  [            31:0] g_fmt,
    input  wire  [            31:0] b_fmt,
    input  wire  [            31:0] z_fmt,
    input  wire  [            31:0] o_fmt,
    input  wire  [            31:0] eps,
    output logic                    done,
    output logic                    rd_req_valid,
    input  wire                     rd_req_ready,
    output logic                    rd_req_io,
    output logic [            31:0] rd_req_beat,
    output logic [            31:0] rd_req_len,
    input  wire                     rd_valid,
    output logic                    rd_ready,
    input  wire  [           127:0] rd_data,
    output logic [          LL-1:0] x_re,
    output logic [       LL*16-1:0] x_rrow,
    output logic [       LL*16-1:0] x_rcol,
    input  wire  [    LL*ACT_W-1:0] x_rdata,
    output logic [          LL-1:0] h_we,
    output logic [          LL-1:0] h_wadd,
    output logic [       LL*16-1:0] h_wrow,
    output logic [       LL*16-1:0] h_wcol,
    output logic [    LL*ACT_W-1:0] h_wdata
);
  import engine_pkg::*;  // (Icarus 11 elaborates the package's types only when imported)
  model_t model;
  always_comb begin
    model = '0;
    model.dim = dim;
    model.io_x = io_x;
  end

  ln_op #(
      .ACT_W(ACT_W),
      .LL(LL),
      .MAX_D(MAX_D)
  ) u (
      .clk(clk),
      .rst(rst),
      .model(model),
      .start(start),
      .src_io(src_io),
      .row0(row0),
      .rows(rows),
      .x_frac(x_frac),
      .g_off(g_off),
      .b_off(b_off),
      .g_fmt(g_fmt),
      .b_fmt(b_fmt),
      .z_fmt(z_fmt),
      .o_fmt(o_fmt),
      .eps(eps),
      .done(done),
      .rd_req_valid(rd_req_valid),
      .rd_req_ready(rd_req_ready),
      .rd_req_io(rd_req_io),
      .rd_req_beat(rd_req_beat),
      .rd_req_len(rd_req_len),
      .rd_valid(rd_valid),
      .rd_ready(rd_ready),
      .rd_data(rd_data),
      .x_re(x_re),
      .x_rrow(x_rrow),
      .x_rcol(x_rcol),
      .x_rdata(x_rdata),
      .h_we(h_we),
      .h_wadd(h_wadd),
      .h_wrow(h_wrow),
      .h_wcol(h_wcol),
      .h_wdata(h_wdata)
  );
endmodule

`default_nettype wire
