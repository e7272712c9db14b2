// 1/sqrt(v), v > 0, as a stream unit: out = {shift, mant}, a pseudo-float of value
// mant * 2**-(MANT_FRAC + shift) (rsqrt_core).
//
// Ports: the Vitis HLS ap_fifo protocol, so that the module is usable as an RTL
// blackbox with ap_ctrl_none (sim/blackbox.py writes the descriptor):
//   in_dout / in_empty_n / in_read      hls::stream input  (valid = empty_n)
//   out_din / out_full_n / out_write    hls::stream output (ready = full_n)
//   ap_clk, ap_rst (synchronous, active high), ap_ce (clock enable).
// One value in, one result out per cycle (II = 1); the latency from the input
// handshake to the output handshake is the core's (hwmath_pkg::RSQRT_LAT), asserted
// by the cocotb testbench.
`default_nettype none

module rsqrt_unit #(
    // bits of the input v (unsigned, v > 0)
    parameter int V_W     = 32,
    // fraction bits of v
    parameter int V_FRAC  = 24,
    // bits of the output exponent shift (signed)
    parameter int SHIFT_W = 8
) (
    input  wire              ap_clk,
    input  wire              ap_rst,
    input  wire              ap_ce,
    input  wire  [V_W-1:0] in_dout,
    input  wire              in_empty_n,
    output logic             in_read,
    output logic [SHIFT_W+hwmath_pkg::MANT_FRAC:0] out_din,
    input  wire              out_full_n,
    output logic             out_write
);
  localparam int LAT = hwmath_pkg::RSQRT_LAT;
  logic en;
  logic [LAT-1:0] valid_unused;  // stage valid bits: the core has no state to gate
  initial begin
    if (V_FRAC < -128 || V_FRAC > 127) begin
      $error("rsqrt_unit: V_FRAC = %0d out of range -128..127 (instance %m)", V_FRAC);
      $finish;
    end
  end
  logic [hwmath_pkg::MANT_FRAC:0] mant;
  logic signed [SHIFT_W-1:0] shift;
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
  rsqrt_core #(
      .V_W(V_W),
      .FRAC_W(8),
      .SHIFT_W(SHIFT_W)
  ) core (
      .clk(ap_clk),
      .en(en),
      .v(in_dout),
      .v_frac(8'(V_FRAC)),
      .mant(mant),
      .shift(shift)
  );
  assign out_din = {shift, mant};
endmodule

`default_nettype wire
