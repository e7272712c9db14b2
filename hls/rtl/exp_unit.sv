// e**d for d <= 0 as a stream unit: out = ufixed<EXP_OUT_FRAC+1, 1> raw (exp_core).
//
// Ports: the Vitis HLS ap_fifo protocol, so that the module is usable as an RTL
// blackbox with ap_ctrl_none (sim/blackbox.py writes the descriptor):
//   in_dout / in_empty_n / in_read      hls::stream input  (valid = empty_n)
//   out_din / out_full_n / out_write    hls::stream output (ready = full_n)
//   ap_clk, ap_rst (synchronous, active high), ap_ce (clock enable).
// One value in, one result out per cycle (II = 1); the latency from the input
// handshake to the output handshake is the core's (hwmath_pkg::EXP_LAT), asserted
// by the cocotb testbench.
`default_nettype none

module exp_unit #(
    // bits of the input d (signed, d <= 0)
    parameter int D_W    = 24,
    // fraction bits of d
    parameter int D_FRAC = 10
) (
    input  wire              ap_clk,
    input  wire              ap_rst,
    input  wire              ap_ce,
    input  wire  [D_W-1:0] in_dout,
    input  wire              in_empty_n,
    output logic             in_read,
    output logic [hwmath_pkg::EXP_OUT_FRAC:0] out_din,
    input  wire              out_full_n,
    output logic             out_write
);
  localparam int LAT = hwmath_pkg::EXP_LAT;
  localparam int FW = 8;  // the core's fraction-count port: D_FRAC as a constant
  initial begin
    if (D_FRAC < 0 || D_FRAC > 127) begin
      $error("exp_unit: D_FRAC = %0d out of range 0..127 (instance %m)", D_FRAC);
      $finish;
    end
  end
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
  exp_core #(
      .D_W(D_W),
      .DF_W(FW)
  ) core (
      .clk(ap_clk),
      .en(en),
      .d(in_dout),
      .d_frac(FW'(D_FRAC)),
      .y(out_din)
  );
endmodule

`default_nettype wire
