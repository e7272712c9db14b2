// Test wrapper (not part of the engine): requant_rt behind a stream
// handshake (pipe_ctrl), II 1, latency LAT. Input word {fmt[22],
// x_frac[FRAC_W], x[IN_W]} (low bits first: x), so that every vector brings
// its own source fraction count and destination format; output word {ovf,
// y[OUT_W]}. sim/cocotb/test_requant_rt.py compares both fields with the
// ap_fixed assignment of pymodel.numerics.fixed.
`default_nettype none

module requant_rt_stream #(
    // bits of the source value x (signed)
    parameter int IN_W   = 80,
    // bits of the run-time source fraction count (signed)
    parameter int FRAC_W = 10,
    // bits of y: the widest destination format
    parameter int OUT_W  = 32,
    // register stages of requant_rt
    parameter int LAT    = 3
) (
    input  wire  ap_clk,
    input  wire  ap_rst,
    input  wire  ap_ce,

    input  wire  [22+FRAC_W+IN_W-1:0] in_dout,
    input  wire                       in_empty_n,
    output logic                      in_read,

    output logic [OUT_W:0] out_din,
    input  wire            out_full_n,
    output logic           out_write
);
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
  requant_rt #(
      .IN_W(IN_W),
      .FRAC_W(FRAC_W),
      .OUT_W(OUT_W),
      .LAT(LAT)
  ) rq (
      .clk(ap_clk),
      .en(en),
      .x(in_dout[IN_W-1:0]),
      .x_frac(in_dout[IN_W+:FRAC_W]),
      .fmt(in_dout[IN_W+FRAC_W+:22]),
      .y(out_din[OUT_W-1:0]),
      .ovf(out_din[OUT_W])
  );
endmodule

`default_nettype wire
