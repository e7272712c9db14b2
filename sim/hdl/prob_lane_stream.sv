// Test wrapper (not part of the engine): prob_lane behind a stream handshake
// (pipe_ctrl), II 1, latency hwmath_pkg::PROB_LAT. Input word {fmt[22],
// shift[SHIFT_W], mant[MANT_FRAC+1], x_frac[XF_W], m[X_W], x[X_W]} (low bits
// first: x), so that every element brings its own row statistics and formats;
// output word {ovf, y[OUT_W]}. sim/cocotb/test_prob_lane.py compares both with
// the rows of pymodel.numerics.hwmath.online_softmax_fixed.
`default_nettype none

module prob_lane_stream #(
    // bits of a score and of the row maximum (signed)
    parameter int X_W     = 32,
    // bits of the run-time fraction count (signed)
    parameter int XF_W    = 8,
    // bits of the exponent shift of 1/s (signed)
    parameter int SHIFT_W = 8,
    // bits of y: the widest probability format
    parameter int OUT_W   = 32
) (
    input  wire  ap_clk,
    input  wire  ap_rst,
    input  wire  ap_ce,

    input  wire  [22+SHIFT_W+hwmath_pkg::MANT_FRAC+1+XF_W+2*X_W-1:0] in_dout,
    input  wire                       in_empty_n,
    output logic                      in_read,

    output logic [OUT_W:0] out_din,
    input  wire            out_full_n,
    output logic           out_write
);
  localparam int LAT = hwmath_pkg::PROB_LAT;
  localparam int MW = hwmath_pkg::MANT_FRAC + 1;
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
  prob_lane #(
      .X_W(X_W),
      .XF_W(XF_W),
      .SHIFT_W(SHIFT_W),
      .OUT_W(OUT_W)
  ) core (
      .clk(ap_clk),
      .en(en),
      .x(in_dout[X_W-1:0]),
      .m(in_dout[X_W+:X_W]),
      .x_frac(in_dout[2*X_W+:XF_W]),
      .mant(in_dout[2*X_W+XF_W+:MW]),
      .shift(in_dout[2*X_W+XF_W+MW+:SHIFT_W]),
      .fmt(in_dout[2*X_W+XF_W+MW+SHIFT_W+:22]),
      .y(out_din[OUT_W-1:0]),
      .ovf(out_din[OUT_W])
  );
endmodule

`default_nettype wire
