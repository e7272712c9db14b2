// One probability of a finished softmax row per cycle: y = e(x - m) * (1/s)
// requantised once into a run-time format, bit exact with edgemoe_math.h
// softmax_output (and the output side of
// pymodel.numerics.hwmath.online_softmax_fixed).
//
// x is a score and m its row's maximum (x <= m), both with x_frac fraction
// bits (a run-time count); (mant, shift) is 1/s of the row as softmax_lane
// (recip_fixed) gives it, value mant * 2**-(MANT_FRAC + shift). The exact
// product e * mant has EXP_OUT_FRAC + MANT_FRAC + shift fraction bits and is
// requantised into fmt (a descriptor format word). Every input travels with
// its element, so consecutive elements may belong to different rows.
//
// A plain pipeline with an enable and no handshake, hwmath_pkg::PROB_LAT
// stages: exp_core (EXP_LAT), the product (1), requant_rt (the rest). y: raw
// in OUT_W bits (see requant_rt); ovf: the probability overflowed fmt.
`default_nettype none

module prob_lane #(
    // bits of a score x and of the row maximum m (signed)
    parameter int X_W     = 16,
    // bits of the run-time fraction count x_frac (signed)
    parameter int XF_W    = 8,
    // bits of the exponent shift of 1/s (signed)
    parameter int SHIFT_W = 8,
    // bits of y: the widest probability format
    parameter int OUT_W   = 32
) (
    input  wire                                     clk,
    input  wire                                     en,
    input  wire  signed [                  X_W-1:0] x,
    input  wire  signed [                  X_W-1:0] m,
    input  wire  signed [                 XF_W-1:0] x_frac,
    input  wire         [hwmath_pkg::MANT_FRAC:0] mant,
    input  wire  signed [              SHIFT_W-1:0] shift,
    input  wire         [                     21:0] fmt,
    output logic        [                OUT_W-1:0] y,
    output logic                                    ovf
);
  localparam int MF = hwmath_pkg::MANT_FRAC;
  localparam int EF = hwmath_pkg::EXP_OUT_FRAC;
  localparam int LE = hwmath_pkg::EXP_LAT;
  localparam int RQL = hwmath_pkg::PROB_LAT - LE - 1;  // requant_rt stages
  localparam int PW = EF + 1 + MF + 1 + 1;  // e * mant, signed
  localparam int FW = SHIFT_W + 2;  // fraction count of the product
  localparam int SBW = MF + 1 + SHIFT_W + 22;  // side band {fmt, shift, mant}

  initial begin
    if (RQL < 1 || RQL > 3) begin
      $error("prob_lane: hwmath_pkg::PROB_LAT = %0d leaves %0d requant_rt stages (1..3) (instance %m)",
             hwmath_pkg::PROB_LAT, RQL);
      $finish;
    end
    if (X_W < 2 || XF_W < 2 || SHIFT_W < 2 || OUT_W < 1) begin
      $error("prob_lane: X_W = %0d, XF_W = %0d, SHIFT_W = %0d, OUT_W = %0d out of range (instance %m)",
             X_W, XF_W, SHIFT_W, OUT_W);
      $finish;
    end
  end

  // exp_core: e(x - m), x - m <= 0
  logic [EF:0] e;
  exp_core #(
      .D_W (X_W + 1),
      .DF_W(XF_W)
  ) ex (
      .clk(clk),
      .en(en),
      .d((X_W + 1)'(x) - (X_W + 1)'(m)),
      .d_frac(x_frac),
      .y(e)
  );
  logic [SBW-1:0] sb;
  delay #(
      .W  (SBW),
      .LAT(LE)
  ) sb_delay (
      .clk(clk),
      .en(en),
      .d({fmt, shift, mant}),
      .q(sb)
  );

  // the exact product and its fraction count
  logic signed [PW-1:0] prod;
  logic signed [FW-1:0] frac;
  logic [21:0] fmt_p;
  always_ff @(posedge clk)
    if (en) begin
      prod  <= $signed(PW'(e) * PW'(sb[MF:0]));  // < 2**(PW-1)
      frac  <= FW'(EF + MF) + FW'($signed(sb[MF+1+:SHIFT_W]));
      fmt_p <= sb[SBW-1-:22];
    end

  requant_rt #(
      .IN_W(PW),
      .FRAC_W(FW),
      .OUT_W(OUT_W),
      .LAT(RQL)
  ) rq (
      .clk(clk),
      .en(en),
      .x(prod),
      .x_frac(frac),
      .fmt(fmt_p),
      .y(y),
      .ovf(ovf)
  );
endmodule

`default_nettype wire
