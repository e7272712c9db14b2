// e**d for d <= 0, bit exact with pymodel.numerics.hwmath.exp_fixed.
//
// d is a raw D_W-bit value with D_FRAC fraction bits (D_FRAC >= 0). Output
// ufixed<EXP_OUT_FRAC+1, 1> (e**0 = 1 exactly). A plain pipeline with an
// enable and no handshake, hwmath_pkg::EXP_LAT = 4 stages:
//   1: t = round_half_up(d * LOG2E, D_FRAC + LOG2E_FRAC - EXP_IN_FRAC bits)
//   2: n = floor(t), f = t - n: table read at i = f's top bits; keep u, n
//   3: y = interpolation T[i] * 2**u_bits + (T[i+1] - T[i]) * u, exact
//   4: round_half_up(y * 2**-(Y_FRAC - EXP_OUT_FRAC - n)); shifts past the
//      width of y give 0 exactly, so the shift is clamped there.
`default_nettype none

module exp_core #(
    // bits of the input d (signed)
    parameter int D_W    = 24,
    // fraction bits of d
    parameter int D_FRAC = 10
) (
    input  wire                                 clk,
    input  wire                                 en,
    input  wire  signed [                D_W-1:0] d,
    output logic        [hwmath_pkg::EXP_OUT_FRAC:0] y
);
  localparam int SH1 = D_FRAC + hwmath_pkg::LOG2E_FRAC - hwmath_pkg::EXP_IN_FRAC;
  localparam int PW = D_W + hwmath_pkg::LOG2E_W + 1;  // signed product d * LOG2E
  localparam int UB = hwmath_pkg::EXP_IN_FRAC - hwmath_pkg::EXP_TABLE_BITS;  // interpolation bits
  localparam int Y_FRAC = hwmath_pkg::MANT_FRAC + UB;
  localparam int YW = hwmath_pkg::EXP2_W + UB + 1;  // y < 2**(EXP2_W + UB)
  localparam int SH_BASE = Y_FRAC - hwmath_pkg::EXP_OUT_FRAC;
  localparam int SH_CLAMP = YW + 1;  // y + half < 2**sh from here on: result 0
  localparam int AW = $clog2(hwmath_pkg::EXP2_DEPTH);
  localparam int OW = hwmath_pkg::EXP_OUT_FRAC + 1;
  localparam logic signed [PW-1:0] L2E = PW'(hwmath_pkg::LOG2E);
  localparam logic signed [PW-1:0] HALF1 = PW'(1) <<< (SH1 - 1);

  initial begin
    if (hwmath_pkg::EXP_LAT != 4) begin
      $error("exp_core has 4 stages but hwmath_pkg::EXP_LAT = %0d (instance %m)",
             hwmath_pkg::EXP_LAT);
      $finish;
    end
    if (D_FRAC < 0 || SH1 < 1 || UB < 1 || SH_BASE < 1 || SH_CLAMP > 255) begin
      $error("exp_core: D_FRAC = %0d gives shifts %0d / %0d / %0d out of range (instance %m)",
             D_FRAC, SH1, SH_BASE, SH_CLAMP);
      $finish;
    end
  end

  // stage 1
  logic signed [PW-1:0] t1;
  always_ff @(posedge clk) if (en) t1 <= (PW'(d) * L2E + HALF1) >>> SH1;

  // stage 2: n = floor(t / 2**EXP_IN_FRAC), table address from f's top bits
  logic [AW-1:0] i1;
  logic [UB-1:0] u1;
  logic signed [PW-1:0] n1;
  assign i1 = AW'(t1[hwmath_pkg::EXP_IN_FRAC-1:UB]);
  assign u1 = t1[UB-1:0];
  assign n1 = t1 >>> hwmath_pkg::EXP_IN_FRAC;
  logic [hwmath_pkg::EXP2_W-1:0] ta, tb;
  rom2r #(
      .W(hwmath_pkg::EXP2_W),
      .DEPTH(hwmath_pkg::EXP2_DEPTH),
      .FILE(hwmath_pkg::EXP2_MEM)
  ) tab (
      .clk(clk),
      .en(en),
      .a0(i1),
      .a1(i1 + 1'b1),
      .d0(ta),
      .d1(tb)
  );
  logic [UB-1:0] u2;
  logic signed [PW-1:0] n2;
  always_ff @(posedge clk)
    if (en) begin
      u2 <= u1;
      n2 <= n1;
    end

  // stage 3: exact interpolation (T[i+1] >= T[i]: 2**f increases)
  logic [YW-1:0] y3;
  logic [7:0] sh3;  // right shift of stage 4, in [SH_BASE, SH_CLAMP]
  logic signed [PW-1:0] shw;
  assign shw = PW'(SH_BASE) - n2;  // n2 <= 0
  always_ff @(posedge clk)
    if (en) begin
      y3  <= (YW'(ta) << UB) + YW'(tb - ta) * YW'(u2);
      sh3 <= (shw > PW'(SH_CLAMP)) ? 8'(SH_CLAMP) : 8'(shw);
    end

  // stage 4: one rounding, half up (the result is at most 1.0: OW bits)
  localparam logic [YW:0] ONE4 = 1;
  always_ff @(posedge clk) if (en) y <= OW'(({1'b0, y3} + (ONE4 << (sh3 - 8'd1))) >> sh3);
endmodule

`default_nettype wire
