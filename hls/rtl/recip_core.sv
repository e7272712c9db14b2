// 1/s for s > 0 as a pseudo-float (mant, shift), value mant * 2**-(MANT_FRAC +
// shift), bit exact with pymodel.numerics.hwmath.recip_fixed (and edgemoe_math.h
// recip_fixed) for a run-time fraction count s_frac (the compile-time units tie
// it to a constant). SHIFT_W must hold floor(log2 s) - s_frac.
//
// A plain pipeline with an enable and no handshake, hwmath_pkg::RECIP_LAT = 4
// stages: 1 normalise (norm_lead), 2 table read, 3 interpolation (exact),
// 4 round half up.
`default_nettype none

module recip_core #(
    // bits of the input s (unsigned, s > 0)
    parameter int S_W     = 30,
    // bits of the run-time fraction count s_frac (signed)
    parameter int FRAC_W  = 8,
    // bits of the output exponent shift (signed)
    parameter int SHIFT_W = 8
) (
    input  wire                                   clk,
    input  wire                                   en,
    input  wire         [                S_W-1:0] s,
    input  wire  signed [             FRAC_W-1:0] s_frac,
    output logic        [hwmath_pkg::MANT_FRAC:0] mant,
    output logic signed [            SHIFT_W-1:0] shift
);
  localparam int UB = hwmath_pkg::NORM_IN_FRAC - hwmath_pkg::RECIP_TABLE_BITS;
  localparam int AW = $clog2(hwmath_pkg::RECIP_DEPTH);
  localparam int YW = hwmath_pkg::RECIP_W + UB + 2;  // signed interpolant
  localparam int MW = hwmath_pkg::MANT_FRAC + 1;

  initial begin
    if (hwmath_pkg::RECIP_LAT != 4) begin
      $error("recip_core has 4 stages but hwmath_pkg::RECIP_LAT = %0d (instance %m)",
             hwmath_pkg::RECIP_LAT);
      $finish;
    end
  end

  logic [hwmath_pkg::NORM_IN_FRAC-1:0] m0, m1;
  logic signed [SHIFT_W-1:0] l0, l1, l2, l3;
  norm_lead #(
      .V_W(S_W),
      .FRAC_W(FRAC_W),
      .SHIFT_W(SHIFT_W)
  ) nrm (
      .v(s),
      .v_frac(s_frac),
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
  logic [hwmath_pkg::RECIP_W-1:0] ta, tb;
  rom2r #(
      .W(hwmath_pkg::RECIP_W),
      .DEPTH(hwmath_pkg::RECIP_DEPTH),
      .FILE(hwmath_pkg::RECIP_MEM)
  ) tab (
      .clk(clk),
      .en(en),
      .a0(i1),
      .a1(i1 + 1'b1),
      .d0(ta),
      .d1(tb)
  );
  logic [UB-1:0] u2;
  always_ff @(posedge clk)
    if (en) begin
      u2 <= m1[UB-1:0];
      l2 <= l1;
    end
  logic signed [YW-1:0] y3;
  always_ff @(posedge clk)
    if (en) begin  // 1/m decreases: T[i+1] - T[i] < 0
      y3 <= ($signed(YW'(ta)) <<< UB) + ($signed(YW'(tb)) - $signed(YW'(ta))) * $signed(YW'(u2));
      l3 <= l2;
    end
  localparam logic signed [YW-1:0] HALF = YW'(1) <<< (UB - 1);
  always_ff @(posedge clk)
    if (en) begin
      mant  <= MW'((y3 + HALF) >>> UB);  // 2**MANT_FRAC >= mant > 2**(MANT_FRAC-1)
      shift <= l3;
    end
endmodule

`default_nettype wire
