// GELU as a stream unit, requantised once to OUT_W bits (OUT_FRAC fraction bits,
// QUANT/OVF modes fixed per instance) (gelu_core).
//
// Ports: the Vitis HLS ap_fifo protocol, so that the module is usable as an RTL
// blackbox with ap_ctrl_none (sim/blackbox.py writes the descriptor):
//   in_dout / in_empty_n / in_read      hls::stream input  (valid = empty_n)
//   out_din / out_full_n / out_write    hls::stream output (ready = full_n)
//   ap_clk, ap_rst (synchronous, active high), ap_ce (clock enable).
// One value in, one result out per cycle (II = 1); the latency from the input
// handshake to the output handshake is the core's (hwmath_pkg::GELU_LAT), asserted
// by the cocotb testbench.
`default_nettype none

module gelu_unit #(
    // bits of the input x (signed)
    parameter int X_W        = 16,
    // fraction bits of x
    parameter int X_FRAC     = 10,
    // bits of the output y
    parameter int OUT_W      = 16,
    // fraction bits of y
    parameter int OUT_FRAC   = 10,
    // y is ap_fixed (1) or ap_ufixed (0)
    parameter bit OUT_SIGNED = 1'b1,
    // quantisation mode of y (hwmath_pkg::Q_*)
    parameter int QUANT      = hwmath_pkg::Q_RND_CONV,
    // overflow mode of y (hwmath_pkg::O_*)
    parameter int OVF        = hwmath_pkg::O_SAT
) (
    input  wire              ap_clk,
    input  wire              ap_rst,
    input  wire              ap_ce,
    input  wire  [X_W-1:0] in_dout,
    input  wire              in_empty_n,
    output logic             in_read,
    output logic [OUT_W-1:0] out_din,
    input  wire              out_full_n,
    output logic             out_write
);
  localparam int LAT = hwmath_pkg::GELU_LAT;
  logic en;
  logic [LAT-1:0] valid_unused;  // stage valid bits: the core has no state to gate
  logic ovf_unused;  // overflow flag: no counter in this unit
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
  gelu_core #(
      .X_W(X_W),
      .X_FRAC(X_FRAC),
      .OUT_W(OUT_W),
      .OUT_FRAC(OUT_FRAC),
      .OUT_SIGNED(OUT_SIGNED),
      .QUANT(QUANT),
      .OVF(OVF)
  ) core (
      .clk(ap_clk),
      .en(en),
      .x(in_dout),
      .y(out_din),
      .ovf(ovf_unused)
  );
endmodule

`default_nettype wire
