// e**d for d <= 0, bit exact with pymodel.numerics.hwmath.exp_fixed (and
// edgemoe_math.h exp_fixed) for a run-time fraction count d_frac.
//
// d is a raw D_W-bit value with d_frac fraction bits (any value of the DF_W-bit
// port). Output ufixed<EXP_OUT_FRAC+1, 1> (e**0 = 1 exactly). A plain pipeline
// with an enable and no handshake, hwmath_pkg::EXP_LAT = 4 stages:
//   1: t = round_half_up(d * LOG2E * 2**-sh1), sh1 = d_frac + LOG2E_FRAC -
//      EXP_IN_FRAC; sh1 <= 0 is an exact left shift. Right shifts beyond the
//      product's width give 0 exactly and left shifts beyond LMAX make e**d
//      round to 0 for every d != 0 (d = 0 stays 0), so both are clamped.
//   2: n = floor(t), f = t - n: table read at i = f's top bits; keep u, n
//   3: y = interpolation T[i] * 2**u_bits + (T[i+1] - T[i]) * u, exact
//   4: round_half_up(y * 2**-(Y_FRAC - EXP_OUT_FRAC - n)); shifts past the
//      width of y give 0 exactly, so the shift is clamped there.
// The compile-time units (exp_unit, softmax_row) tie d_frac to a constant.
`default_nettype none

module exp_core #(
    // bits of the input d (signed)
    parameter int D_W  = 24,
    // bits of the run-time fraction count d_frac (signed)
    parameter int DF_W = 8
) (
    input  wire                                    clk,
    input  wire                                    en,
    input  wire  signed [                   D_W-1:0] d,
    input  wire  signed [                  DF_W-1:0] d_frac,
    output logic        [hwmath_pkg::EXP_OUT_FRAC:0] y
);
  localparam int SH_OFF = hwmath_pkg::LOG2E_FRAC - hwmath_pkg::EXP_IN_FRAC;  // sh1 - d_frac
  localparam int PW = D_W + hwmath_pkg::LOG2E_W + 1;  // signed product d * LOG2E
  localparam int UB = hwmath_pkg::EXP_IN_FRAC - hwmath_pkg::EXP_TABLE_BITS;  // interpolation bits
  localparam int Y_FRAC = hwmath_pkg::MANT_FRAC + UB;
  localparam int YW = hwmath_pkg::EXP2_W + UB + 1;  // y < 2**(EXP2_W + UB)
  localparam int SH_BASE = Y_FRAC - hwmath_pkg::EXP_OUT_FRAC;
  localparam int SH_CLAMP = YW + 1;  // y + half < 2**sh from here on: result 0
  localparam int AW = $clog2(hwmath_pkg::EXP2_DEPTH);
  localparam int OW = hwmath_pkg::EXP_OUT_FRAC + 1;
  // |d * LOG2E| >= 2**(LOG2E_W-1) for d != 0: shifted left by LMAX, n <= SH_BASE - SH_CLAMP
  localparam int LMAX0 = $clog2(SH_CLAMP - SH_BASE + 1) + hwmath_pkg::EXP_IN_FRAC -
      (hwmath_pkg::LOG2E_W - 1);
  localparam int LMAX = (LMAX0 > 0) ? LMAX0 : 0;
  localparam int TW = PW + LMAX + 2;  // t, also after the largest left shift
  localparam int SW1 = DF_W + 2;  // sh1
  localparam int RMAX = PW + 1;  // |d * LOG2E| < 2**(RMAX - 2): beyond, t = 0
  localparam int RSW = $clog2(RMAX + 1);
  localparam int LSW = (LMAX > 0) ? $clog2(LMAX + 1) : 1;
  localparam logic signed [TW-1:0] L2E = TW'(hwmath_pkg::LOG2E);

  initial begin
    if (hwmath_pkg::EXP_LAT != 4) begin
      $error("exp_core has 4 stages but hwmath_pkg::EXP_LAT = %0d (instance %m)",
             hwmath_pkg::EXP_LAT);
      $finish;
    end
    if (D_W < 2 || DF_W < 2 || DF_W > 16 || UB < 1 || SH_BASE < 1 || SH_CLAMP > 255) begin
      $error("exp_core: D_W = %0d, DF_W = %0d give shifts %0d / %0d out of range (instance %m)",
             D_W, DF_W, SH_BASE, SH_CLAMP);
      $finish;
    end
  end

  // stage 1: t = d * LOG2E rounded half up to EXP_IN_FRAC fraction bits
  logic signed [SW1-1:0] sh1;
  logic signed [TW-1:0] prod, t0;
  logic [RSW-1:0] rsh;
  logic [LSW-1:0] lsh;
  always_comb begin
    sh1  = SW1'(d_frac) + SW1'(SH_OFF);
    prod = TW'(d) * L2E;
    rsh  = '0;
    lsh  = '0;
    if (sh1 > 0) begin
      rsh = (sh1 > SW1'(RMAX)) ? RSW'(RMAX) : RSW'(sh1);
      t0  = (prod + (TW'(1) <<< (rsh - RSW'(1)))) >>> rsh;
    end else begin
      lsh = (-sh1 > SW1'(LMAX)) ? LSW'(LMAX) : LSW'(-sh1);
      t0  = prod <<< lsh;
    end
  end
  logic signed [TW-1:0] t1;
  always_ff @(posedge clk) if (en) t1 <= t0;

  // stage 2: n = floor(t / 2**EXP_IN_FRAC), table address from f's top bits
  logic [AW-1:0] i1;
  logic [UB-1:0] u1;
  logic signed [TW-1:0] n1;
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
  logic signed [TW-1:0] n2;
  always_ff @(posedge clk)
    if (en) begin
      u2 <= u1;
      n2 <= n1;
    end

  // stage 3: exact interpolation (T[i+1] >= T[i]: 2**f increases)
  logic [YW-1:0] y3;
  logic [7:0] sh3;  // right shift of stage 4, in [SH_BASE, SH_CLAMP]
  logic signed [TW-1:0] shw;
  assign shw = TW'(SH_BASE) - n2;  // n2 <= 0
  always_ff @(posedge clk)
    if (en) begin
      y3  <= (YW'(ta) << UB) + YW'(tb - ta) * YW'(u2);
      sh3 <= (shw > TW'(SH_CLAMP)) ? 8'(SH_CLAMP) : 8'(shw);
    end

  // stage 4: one rounding, half up (the result is at most 1.0: OW bits)
  localparam logic [YW:0] ONE4 = 1;
  always_ff @(posedge clk) if (en) y <= OW'(({1'b0, y3} + (ONE4 << (sh3 - 8'd1))) >> sh3);
endmodule

`default_nettype wire
