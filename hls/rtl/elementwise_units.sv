// Element-wise stream units: one value in, one result out per cycle (II = 1).
//
// Ports follow the Vitis HLS ap_fifo protocol so that each module is usable
// as an RTL blackbox with ap_ctrl_none (hls/rtl/<unit>.json):
//   in_dout / in_empty_n / in_read      hls::stream input  (valid = empty_n)
//   out_din / out_full_n / out_write    hls::stream output (ready = full_n)
//   ap_clk, ap_rst (synchronous, active high), ap_ce (clock enable).
// Latency in cycles from the input handshake to the output handshake is the
// core's LAT (registers) and is asserted by the cocotb testbenches.


// e**d, d <= 0: out = ufixed<EXP_OUT_FRAC+1, 1> raw. Latency 4, II 1.
module exp_unit #(
    parameter int D_W    = 24,
    parameter int D_FRAC = 10
) (
    input  logic                  ap_clk,
    input  logic                  ap_rst,
    input  logic                  ap_ce,
    input  logic [       D_W-1:0] in_dout,
    input  logic                  in_empty_n,
    output logic                  in_read,
    output logic [hwmath_pkg::EXP_OUT_FRAC:0] out_din,
    input  logic                  out_full_n,
    output logic                  out_write
);
  logic en;
  logic signed [D_W-1:0] d;
  assign d = in_dout;
  pipe_ctrl #(
      .LAT(4)
  ) ctrl (
      .clk(ap_clk),
      .rst(ap_rst),
      .ce(ap_ce),
      .in_empty_n(in_empty_n),
      .in_read(in_read),
      .out_full_n(out_full_n),
      .out_write(out_write),
      .en(en)
  );
  exp_core #(
      .D_W(D_W),
      .D_FRAC(D_FRAC)
  ) core (
      .clk(ap_clk),
      .en(en),
      .d(d),
      .y(out_din)
  );
endmodule

// 1/s, s > 0 with S_FRAC fraction bits: out = {shift, mant} (pseudo-float,
// value mant * 2**-(MANT_FRAC + shift)). Latency 4, II 1.
module recip_unit #(
    parameter int S_W     = 30,
    parameter int S_FRAC  = 16,
    parameter int SHIFT_W = 8
) (
    input  logic                           ap_clk,
    input  logic                           ap_rst,
    input  logic                           ap_ce,
    input  logic [                S_W-1:0] in_dout,
    input  logic                           in_empty_n,
    output logic                           in_read,
    output logic [SHIFT_W+hwmath_pkg::MANT_FRAC+1-1:0] out_din,
    input  logic                           out_full_n,
    output logic                           out_write
);
  logic en;
  logic [hwmath_pkg::MANT_FRAC:0] mant;
  logic signed [SHIFT_W-1:0] shift;
  pipe_ctrl #(
      .LAT(4)
  ) ctrl (
      .clk(ap_clk),
      .rst(ap_rst),
      .ce(ap_ce),
      .in_empty_n(in_empty_n),
      .in_read(in_read),
      .out_full_n(out_full_n),
      .out_write(out_write),
      .en(en)
  );
  recip_core #(
      .S_W(S_W),
      .S_FRAC(S_FRAC),
      .SHIFT_W(SHIFT_W)
  ) core (
      .clk(ap_clk),
      .en(en),
      .s(in_dout),
      .mant(mant),
      .shift(shift)
  );
  assign out_din = {shift, mant};
endmodule

// 1/sqrt(v), v > 0 with V_FRAC fraction bits: out = {shift, mant}. Latency 4, II 1.
module rsqrt_unit #(
    parameter int V_W     = 32,
    parameter int V_FRAC  = 24,
    parameter int SHIFT_W = 8
) (
    input  logic                           ap_clk,
    input  logic                           ap_rst,
    input  logic                           ap_ce,
    input  logic [                V_W-1:0] in_dout,
    input  logic                           in_empty_n,
    output logic                           in_read,
    output logic [SHIFT_W+hwmath_pkg::MANT_FRAC+1-1:0] out_din,
    input  logic                           out_full_n,
    output logic                           out_write
);
  logic en;
  logic [hwmath_pkg::MANT_FRAC:0] mant;
  logic signed [SHIFT_W-1:0] shift;
  pipe_ctrl #(
      .LAT(4)
  ) ctrl (
      .clk(ap_clk),
      .rst(ap_rst),
      .ce(ap_ce),
      .in_empty_n(in_empty_n),
      .in_read(in_read),
      .out_full_n(out_full_n),
      .out_write(out_write),
      .en(en)
  );
  rsqrt_core #(
      .V_W(V_W),
      .V_FRAC(V_FRAC),
      .SHIFT_W(SHIFT_W)
  ) core (
      .clk(ap_clk),
      .en(en),
      .v(in_dout),
      .mant(mant),
      .shift(shift)
  );
  assign out_din = {shift, mant};
endmodule

// GELU, requantised once to OUT_W bits (OUT_FRAC fraction bits, QUANT/OVF
// modes fixed per instance). Latency 3, II 1.
module gelu_unit #(
    parameter int X_W        = 16,
    parameter int X_FRAC     = 10,
    parameter int OUT_W      = 16,
    parameter int OUT_FRAC   = 10,
    parameter bit OUT_SIGNED = 1'b1,
    parameter int QUANT      = hwmath_pkg::Q_RND_CONV,
    parameter int OVF        = hwmath_pkg::O_SAT
) (
    input  logic             ap_clk,
    input  logic             ap_rst,
    input  logic             ap_ce,
    input  logic [  X_W-1:0] in_dout,
    input  logic             in_empty_n,
    output logic             in_read,
    output logic [OUT_W-1:0] out_din,
    input  logic             out_full_n,
    output logic             out_write
);
  logic en;
  logic ovf_unused;
  logic signed [X_W-1:0] x;
  assign x = in_dout;
  pipe_ctrl #(
      .LAT(3)
  ) ctrl (
      .clk(ap_clk),
      .rst(ap_rst),
      .ce(ap_ce),
      .in_empty_n(in_empty_n),
      .in_read(in_read),
      .out_full_n(out_full_n),
      .out_write(out_write),
      .en(en)
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
      .x(x),
      .y(out_din),
      .ovf(ovf_unused)
  );
endmodule
