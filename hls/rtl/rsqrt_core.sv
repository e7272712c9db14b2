// 1/sqrt(v) for v > 0 as a pseudo-float (mant, shift), bit exact with
// pymodel.numerics.hwmath.rsqrt_fixed (and edgemoe_math.h rsqrt_fixed) for a
// run-time fraction count v_frac (the compile-time units tie it to a
// constant). SHIFT_W must hold L = floor(log2 v) - v_frac.
//
// v = m * 2**L (norm_lead), L = 2k or 2k+1: 1/sqrt(m) (table rsqrt_even) or
// 1/sqrt(2m) (rsqrt_odd), shift = k = floor(L/2). A plain pipeline with an
// enable and no handshake, hwmath_pkg::RSQRT_LAT = 4 stages as recip_core;
// both tables are read and the parity selects.
`default_nettype none

module rsqrt_core #(
    // bits of the input v (unsigned, v > 0)
    parameter int V_W     = 32,
    // bits of the run-time fraction count v_frac (signed)
    parameter int FRAC_W  = 8,
    // bits of the output exponent shift (signed)
    parameter int SHIFT_W = 8
) (
    input  wire                                   clk,
    input  wire                                   en,
    input  wire         [                V_W-1:0] v,
    input  wire  signed [             FRAC_W-1:0] v_frac,
    output logic        [hwmath_pkg::MANT_FRAC:0] mant,
    output logic signed [            SHIFT_W-1:0] shift
);
  localparam int UB = hwmath_pkg::NORM_IN_FRAC - hwmath_pkg::RSQRT_TABLE_BITS;
  localparam int AW = $clog2(hwmath_pkg::RSQRT_EVEN_DEPTH);
  localparam int TW = (hwmath_pkg::RSQRT_EVEN_W > hwmath_pkg::RSQRT_ODD_W) ?
      hwmath_pkg::RSQRT_EVEN_W : hwmath_pkg::RSQRT_ODD_W;
  localparam int YW = TW + UB + 2;
  localparam int MW = hwmath_pkg::MANT_FRAC + 1;

  initial begin
    if (hwmath_pkg::RSQRT_LAT != 4) begin
      $error("rsqrt_core has 4 stages but hwmath_pkg::RSQRT_LAT = %0d (instance %m)",
             hwmath_pkg::RSQRT_LAT);
      $finish;
    end
    if (hwmath_pkg::RSQRT_EVEN_DEPTH != hwmath_pkg::RSQRT_ODD_DEPTH) begin
      $error("rsqrt_core: both parity tables need the same depth (instance %m)");
      $finish;
    end
  end

  logic [hwmath_pkg::NORM_IN_FRAC-1:0] m0, m1;
  logic signed [SHIFT_W-1:0] l0, l1, l2, l3;
  norm_lead #(
      .V_W(V_W),
      .FRAC_W(FRAC_W),
      .SHIFT_W(SHIFT_W)
  ) nrm (
      .v(v),
      .v_frac(v_frac),
      .m(m0),
      .lead(l0)
  );
  always_ff @(posedge clk)
    if (en) begin
      m1 <= m0;
      l1 <= l0;
    end
  logic [AW-1:0] i1;
  assign i1 = AW'(m1 >> UB);
  logic [hwmath_pkg::RSQRT_EVEN_W-1:0] ea, eb;
  logic [hwmath_pkg::RSQRT_ODD_W-1:0] oa, ob;
  rom2r #(
      .W(hwmath_pkg::RSQRT_EVEN_W),
      .DEPTH(hwmath_pkg::RSQRT_EVEN_DEPTH),
      .FILE(hwmath_pkg::RSQRT_EVEN_MEM)
  ) tab_even (
      .clk(clk),
      .en(en),
      .a0(i1),
      .a1(i1 + 1'b1),
      .d0(ea),
      .d1(eb)
  );
  rom2r #(
      .W(hwmath_pkg::RSQRT_ODD_W),
      .DEPTH(hwmath_pkg::RSQRT_ODD_DEPTH),
      .FILE(hwmath_pkg::RSQRT_ODD_MEM)
  ) tab_odd (
      .clk(clk),
      .en(en),
      .a0(i1),
      .a1(i1 + 1'b1),
      .d0(oa),
      .d1(ob)
  );
  logic [UB-1:0] u2;
  always_ff @(posedge clk)
    if (en) begin
      u2 <= m1[UB-1:0];
      l2 <= l1;
    end
  logic signed [YW-1:0] a, b, y3;
  always_comb begin
    a = l2[0] ? $signed(YW'(oa)) : $signed(YW'(ea));
    b = l2[0] ? $signed(YW'(ob)) : $signed(YW'(eb));
  end
  always_ff @(posedge clk)
    if (en) begin
      y3 <= (a <<< UB) + (b - a) * $signed(YW'(u2));
      l3 <= l2 >>> 1;  // floor(L / 2)
    end
  localparam logic signed [YW-1:0] HALF = YW'(1) <<< (UB - 1);
  always_ff @(posedge clk)
    if (en) begin
      mant  <= MW'((y3 + HALF) >>> UB);
      shift <= l3;
    end
endmodule

`default_nettype wire
