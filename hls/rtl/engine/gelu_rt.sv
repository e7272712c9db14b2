// GELU with run-time formats: x with x_frac fraction bits (a run-time count)
// into the format of a descriptor word, bit exact with
// pymodel.numerics.hwmath.gelu_fixed and edgemoe_math.h gelu_fixed.
//
// GELU(x) = ReLU(x) - d(|x|), d(t) = t * Phi(-t) tabulated with step
// 2**-GELU_STEP_LOG2 on [0, GELU_RANGE) and interpolated (0 beyond), then
// requantised once. With S = GELU_STEP_LOG2 and |x| inside the table:
//   x_frac >= S: i = |x| >> (x_frac - S), u = the bits below; d with
//                GELU_FRAC + x_frac - S fraction bits; ReLU(x) << (GELU_FRAC - S)
//   x_frac <  S: i = |x| << (S - x_frac), u = 0; d with GELU_FRAC fraction
//                bits; ReLU(x) << (GELU_FRAC - x_frac)
// Outside the table (|x| >= GELU_RANGE) d = 0 and the value is ReLU(x) with
// x_frac fraction bits: the same value the contract's formula gives, without
// its left shift (requantisation is exact, so only the value matters).
// Exact for every x_frac of the port up to XF_MAX (the interpolation
// carries x_frac - S extra bits); the golden functions are themselves
// defined down to x_frac = X_W - 45 (their 64-bit shift of ReLU(x)).
//
// A plain pipeline with an enable and no handshake, hwmath_pkg::GELU_RT_LAT
// stages: 1 table address from |x| (inside or not, index, u) and the table
// read; 2 wide = ReLU(x) * 2**lsh - d; then requant_rt (GELU_RT_LAT - 2
// stages) into fmt. y: raw in OUT_W bits (see requant_rt), ovf: the value
// overflowed fmt.
`default_nettype none

module gelu_rt #(
    // bits of the input x (signed)
    parameter int X_W    = 32,
    // bits of the run-time fraction count x_frac (signed)
    parameter int XF_W   = 8,
    // largest x_frac with exact results (sizes the interpolation)
    parameter int XF_MAX = 32,
    // bits of y: the widest output format
    parameter int OUT_W  = 32
) (
    input  wire                     clk,
    input  wire                     en,
    input  wire  signed [  X_W-1:0] x,
    input  wire  signed [ XF_W-1:0] x_frac,
    input  wire         [     21:0] fmt,
    output logic        [OUT_W-1:0] y,
    output logic                    ovf
);
  localparam int S = hwmath_pkg::GELU_STEP_LOG2;
  localparam int GF = hwmath_pkg::GELU_FRAC;
  localparam int LR = $clog2(hwmath_pkg::GELU_RANGE);  // the table covers |x| < 2**LR
  localparam int NSEG = hwmath_pkg::GELU_RANGE << S;  // table intervals
  localparam int AW = $clog2(hwmath_pkg::GELU_DEPTH);
  localparam int UBMAX = (XF_MAX > S) ? XF_MAX - S : 0;  // interpolation bits at most
  localparam int UW = (UBMAX > 0) ? UBMAX : 1;
  localparam int UBW = $clog2(UBMAX + 1) + 1;
  localparam int LSHW = $clog2(GF + LR + 1) + 1;  // ReLU shift: at most GF + LR
  localparam int SW = XF_W + 3;  // shift arithmetic on x_frac
  localparam int RQL = hwmath_pkg::GELU_RT_LAT - 2;  // requant_rt stages
  localparam int FW = XF_W + 2;  // fraction count of the wide value
  // inside the table ReLU(x) < 2**(x_frac + LR), shifted by GF - S (or, coarse, to < 2**(GF + LR))
  localparam int RLW0 = (((X_W - 1) < (XF_MAX + LR)) ? X_W - 1 : XF_MAX + LR) + GF - S;
  localparam int RLW = (RLW0 > GF + LR) ? RLW0 : GF + LR;
  localparam int DVW = hwmath_pkg::GELU_W + UBMAX + 2;
  localparam int WW0 = (RLW > DVW) ? RLW : DVW;
  localparam int WW = ((WW0 > X_W) ? WW0 : X_W) + 2;  // the wide value (signed)

  initial begin
    if (RQL < 1 || RQL > 3) begin
      $error("gelu_rt: hwmath_pkg::GELU_RT_LAT = %0d leaves %0d requant_rt stages (1..3) (instance %m)",
             hwmath_pkg::GELU_RT_LAT, RQL);
      $finish;
    end
    if (X_W < 2 || XF_W < 4 || XF_W > 16 || XF_MAX < 0 || OUT_W < 1 ||
        (1 << LR) != hwmath_pkg::GELU_RANGE || NSEG + 1 != hwmath_pkg::GELU_DEPTH) begin
      $error("gelu_rt: X_W = %0d, XF_W = %0d, XF_MAX = %0d, OUT_W = %0d out of range (instance %m)",
             X_W, XF_W, XF_MAX, OUT_W);
      $finish;
    end
  end

  // ------------------------------------------------ stage 1: address, table read
  logic [X_W-1:0] ax;
  logic signed [SW-1:0] xf, lim;
  logic fine, inside0;
  logic [UBW-1:0] ub0;
  /* verilator lint_off UNUSEDSIGNAL */  // inside the table only the low AW index bits are set
  logic [X_W+S+LR-1:0] idx;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [UW-1:0] u0;
  logic [AW-1:0] ic;
  logic [LSHW-1:0] lsh0;
  logic signed [FW-1:0] fr0;
  always_comb begin
    ax = x[X_W-1] ? X_W'(-x) : X_W'(x);  // |min| fits the unsigned word
    xf = SW'(x_frac);
    fine = xf >= SW'(S);
    lim = xf + SW'(LR);  // inside: |x| < 2**lim
    if (lim >= SW'(X_W)) inside0 = 1'b1;
    else if (lim < 0) inside0 = ax == '0;
    else inside0 = (ax >> lim) == '0;
    if (fine) begin
      ub0 = (xf - SW'(S) > SW'(UBMAX)) ? UBW'(UBMAX) : UBW'(xf - SW'(S));
      idx = (X_W + S + LR)'(ax >> ub0);
      u0 = UW'(ax) & ~({UW{1'b1}} << ub0);  // the bits of |x| below the index
      lsh0 = LSHW'(GF - S);
      fr0 = FW'(xf) + FW'(GF - S);
    end else begin
      ub0 = '0;
      // inside and coarse: |x| < 2**(x_frac + LR), so below x_frac = -LR only |x| = 0 is
      idx = (xf >= -SW'(LR)) ? ((X_W + S + LR)'(ax) << (SW'(S) - xf)) : '0;
      u0 = '0;
      lsh0 = (xf >= -SW'(LR)) ? LSHW'(SW'(GF) - xf) : LSHW'(GF + LR);
      fr0 = FW'(GF);
    end
    if (!inside0) fr0 = FW'(xf);  // ReLU(x) alone, in x's own fraction bits
    ic = inside0 ? AW'(idx) : AW'(NSEG - 1);
  end
  logic [hwmath_pkg::GELU_W-1:0] ta, tb;
  rom2r #(
      .W(hwmath_pkg::GELU_W),
      .DEPTH(hwmath_pkg::GELU_DEPTH),
      .FILE(hwmath_pkg::GELU_MEM)
  ) tab (
      .clk(clk),
      .en(en),
      .a0(ic),
      .a1(ic + 1'b1),
      .d0(ta),
      .d1(tb)
  );
  logic [UW-1:0] u1;
  logic [UBW-1:0] ub1;
  logic [LSHW-1:0] lsh1;
  logic inside1;
  logic signed [X_W-1:0] relu1;
  logic signed [FW-1:0] fr1, fr2;
  logic [21:0] fmt1, fmt2;
  always_ff @(posedge clk)
    if (en) begin
      u1 <= u0;
      ub1 <= ub0;
      lsh1 <= lsh0;
      inside1 <= inside0;
      relu1 <= x[X_W-1] ? '0 : x;
      fr1 <= fr0;
      fmt1 <= fmt;
    end

  // ------------------------------------------------ stage 2: ReLU(x) * 2**lsh - d
  logic signed [WW-1:0] dv, wide1, wide2;
  always_comb begin
    dv = ($signed(WW'(ta)) <<< ub1) + ($signed(WW'(tb)) - $signed(WW'(ta))) * $signed(WW'(u1));
    wide1 = inside1 ? ($signed(WW'(relu1)) <<< lsh1) - dv : WW'(relu1);
  end
  always_ff @(posedge clk)
    if (en) begin
      wide2 <= wide1;
      fr2 <= fr1;
      fmt2 <= fmt1;
    end

  // ------------------------------------------------ stages 3..: one requantisation
  requant_rt #(
      .IN_W(WW),
      .FRAC_W(FW),
      .OUT_W(OUT_W),
      .LAT(RQL)
  ) rq (
      .clk(clk),
      .en(en),
      .x(wide2),
      .x_frac(fr2),
      .fmt(fmt2),
      .y(y),
      .ovf(ovf)
  );
endmodule

`default_nettype wire
