// Test wrapper (not part of the engine): exp_core, recip_core and rsqrt_core
// with run-time fraction counts side by side behind one stream handshake
// (pipe_ctrl; the three cores have the same latency), II 1. Input word
// {v_frac, v[V_W], s_frac, s[S_W], d_frac, d[D_W]} (low bits first: d; each
// fraction count FRAC_W bits), so that every vector brings its own fraction
// counts; output word {rsqrt shift, rsqrt mant, recip shift, recip mant,
// e[EXP_OUT_FRAC+1]} (shifts SHIFT_W bits, mantissas MANT_FRAC+1).
// sim/cocotb/test_exp_recip_rsqrt_rt.py checks every field against hwmath.
`default_nettype none

module exp_recip_rsqrt_rt #(
    // bits of the exp input d (signed, d <= 0)
    parameter int D_W     = 33,
    // bits of the reciprocal input s (unsigned, s > 0)
    parameter int S_W     = 48,
    // bits of the rsqrt input v (unsigned, v > 0)
    parameter int V_W     = 62,
    // bits of each run-time fraction count (signed)
    parameter int FRAC_W  = 8,
    // bits of the pseudo-float exponents (signed)
    parameter int SHIFT_W = 10
) (
    input  wire  ap_clk,
    input  wire  ap_rst,
    input  wire  ap_ce,

    input  wire  [D_W+S_W+V_W+3*FRAC_W-1:0] in_dout,
    input  wire                             in_empty_n,
    output logic                            in_read,

    output logic [2*(SHIFT_W+hwmath_pkg::MANT_FRAC+1)+hwmath_pkg::EXP_OUT_FRAC:0] out_din,
    input  wire                                                                   out_full_n,
    output logic                                                                  out_write
);
  localparam int LAT = hwmath_pkg::EXP_LAT;
  localparam int MW = hwmath_pkg::MANT_FRAC + 1;
  localparam int EW = hwmath_pkg::EXP_OUT_FRAC + 1;
  localparam int S0 = D_W + FRAC_W;  // offset of s in the input word
  localparam int V0 = S0 + S_W + FRAC_W;  // offset of v

  initial begin
    if (hwmath_pkg::RECIP_LAT != LAT || hwmath_pkg::RSQRT_LAT != LAT) begin
      $error("exp_recip_rsqrt_rt: the three cores need one latency (instance %m)");
      $finish;
    end
  end

  logic en;
  logic [LAT-1:0] valid_unused;  // stage valid bits: the cores have no state to gate
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
      .D_W (D_W),
      .DF_W(FRAC_W)
  ) ex (
      .clk(ap_clk),
      .en(en),
      .d(in_dout[D_W-1:0]),
      .d_frac(in_dout[D_W+:FRAC_W]),
      .y(out_din[EW-1:0])
  );
  recip_core #(
      .S_W(S_W),
      .FRAC_W(FRAC_W),
      .SHIFT_W(SHIFT_W)
  ) rc (
      .clk(ap_clk),
      .en(en),
      .s(in_dout[S0+:S_W]),
      .s_frac(in_dout[S0+S_W+:FRAC_W]),
      .mant(out_din[EW+:MW]),
      .shift(out_din[EW+MW+:SHIFT_W])
  );
  rsqrt_core #(
      .V_W(V_W),
      .FRAC_W(FRAC_W),
      .SHIFT_W(SHIFT_W)
  ) rs (
      .clk(ap_clk),
      .en(en),
      .v(in_dout[V0+:V_W]),
      .v_frac(in_dout[V0+V_W+:FRAC_W]),
      .mant(out_din[EW+MW+SHIFT_W+:MW]),
      .shift(out_din[EW+2*MW+SHIFT_W+:SHIFT_W])
  );
endmodule

`default_nettype wire
