// Test wrapper (not part of the engine): gelu_rt behind a stream handshake
// (pipe_ctrl), II 1, latency hwmath_pkg::GELU_RT_LAT. Input word {fmt[22],
// x_frac[XF_W], x[X_W]} (low bits first: x), so that every vector brings its
// own fraction count and output format; output word {ovf, y[OUT_W]}.
// sim/cocotb/test_gelu_rt.py compares both with pymodel.numerics.hwmath.gelu_fixed.
`default_nettype none

module gelu_rt_stream #(
    // bits of the input x (signed)
    parameter int X_W    = 32,
    // bits of the run-time fraction count (signed)
    parameter int XF_W   = 8,
    // largest x_frac with exact results
    parameter int XF_MAX = 32,
    // bits of y: the widest output format
    parameter int OUT_W  = 32
) (
    input  wire  ap_clk,
    input  wire  ap_rst,
    input  wire  ap_ce,

    input  wire  [22+XF_W+X_W-1:0] in_dout,
    input  wire                       in_empty_n,
    output logic                      in_read,

    output logic [OUT_W:0] out_din,
    input  wire            out_full_n,
    output logic           out_write
);
  localparam int LAT = hwmath_pkg::GELU_RT_LAT;
  logic en;
  logic [LAT-1:0] valid_unused;  // stage valid bits: the core has no state to gate
  pipe_ctrl #(
      .LAT(LAT)
  ) ctrl (
      .clk(ap_clk),
      .rst(ap_rst),
      .ce(ap_ce),
      .in_empty_n(in_empty_n),
      .in_read(in_read),
      .out_full_n(out_full_n),
      .out_write(out_write),
      .keep({LAT{1'b1}}),
      .en(en),
      .valid(valid_unused)
  );
  gelu_rt #(
      .X_W(X_W),
      .XF_W(XF_W),
      .XF_MAX(XF_MAX),
      .OUT_W(OUT_W)
  ) core (
      .clk(ap_clk),
      .en(en),
      .x(in_dout[X_W-1:0]),
      .x_frac(in_dout[X_W+:XF_W]),
      .fmt(in_dout[X_W+XF_W+:22]),
      .y(out_din[OUT_W-1:0]),
      .ovf(out_din[OUT_W])
  );
endmodule

`default_nettype wire
