// ap_fixed assignment of an exact wide value (pymodel.numerics.fixed.FixedFormat.convert).
//
// y = fmt(x * 2**-rsh): the exact value x * 2**-rsh (x a raw signed integer)
// assigned to an OUT_W-bit word with zero fraction bits relative to the
// caller's output scale, i.e. rsh = (fraction bits of x) - (fraction bits of y).
// The shift is a run-time input so that pseudo-float products (softmax,
// LayerNorm) use the same rounding logic as constant shifts.
//
// rsh >= 0 drops rsh bits and rounds with QUANT; rsh < 0 is an exact left
// shift (at most LSH_MAX). Overflow mode OVF is applied to the rounded value,
// exactly as ap_fixed assignment does. Right shifts beyond IN_W+1 bits give
// the same result as IN_W+1 (the value is then below a quarter LSB in
// magnitude), so the shifter is clamped there. `ovf` flags a rounded value
// outside the output range (what OverflowCounter counts). Combinational.
`default_nettype none

module requant #(
    // bits of the source value x (signed)
    parameter int IN_W       = 32,
    // bits of the result y
    parameter int OUT_W      = 16,
    // y is ap_fixed (1) or ap_ufixed (0)
    parameter bit OUT_SIGNED = 1'b1,
    // quantisation mode, a code hwmath_pkg::Q_* (pymodel.numerics.fixed.QUANT_CODES)
    parameter int QUANT      = hwmath_pkg::Q_RND_CONV,
    // overflow mode, a code hwmath_pkg::O_* (pymodel.numerics.fixed.OVERFLOW_CODES)
    parameter int OVF        = hwmath_pkg::O_SAT,
    // bits of the run-time shift rsh (signed)
    parameter int SH_W       = 8,
    // largest left shift (-rsh) the instance supports
    parameter int LSH_MAX    = 0
) (
    input  wire signed [ IN_W-1:0] x,
    input  wire signed [ SH_W-1:0] rsh,
    output logic       [OUT_W-1:0] y,
    output logic                   ovf
);
  initial begin
    if (IN_W < 2 || OUT_W < 1 || SH_W < 2 || SH_W > 32 || LSH_MAX < 0) begin
      $error("requant: IN_W = %0d, OUT_W = %0d, SH_W = %0d, LSH_MAX = %0d out of range (instance %m)",
             IN_W, OUT_W, SH_W, LSH_MAX);
      $finish;
    end
    if (QUANT < 0 || QUANT >= hwmath_pkg::N_QUANT || OVF < 0 || OVF >= hwmath_pkg::N_OVF) begin
      $error("requant: QUANT = %0d / OVF = %0d is not a mode code of hwmath_pkg (instance %m)",
             QUANT, OVF);
      $finish;
    end
  end

  localparam int RMAX = IN_W + 1;
  localparam int RW = IN_W + 2;  // remainder / half-LSB compare width
  localparam int VW0 = IN_W + LSH_MAX + 2;
  localparam int VW = (VW0 > OUT_W + 2) ? VW0 : OUT_W + 2;  // value before overflow
  localparam logic signed [VW-1:0] ONE = 1;
  localparam logic signed [VW-1:0] MAXV = (ONE <<< (OUT_W - (OUT_SIGNED ? 1 : 0))) - ONE;
  localparam logic signed [VW-1:0] MINV = OUT_SIGNED ? -(ONE <<< (OUT_W - 1)) : '0;
  localparam logic signed [VW-1:0] NMAXV = -MAXV;

  logic signed [VW-1:0] xw, q, v;
  logic [RW-1:0] xr, mask, rem, half;
  logic neg, above, at, nz, inc, out_of_range;
  int r, l, rs;

  always_comb begin
    rs   = 32'(rsh);  // sign-extended
    xw   = VW'(x);  // sign-extended
    xr   = RW'(x);
    neg  = x[IN_W-1];
    r    = 0;
    l    = 0;
    mask = '0;
    rem  = '0;
    half = '0;
    q    = '0;
    inc  = 1'b0;
    if (rs >= 0) begin
      r = (rs > RMAX) ? RMAX : rs;
      q = xw >>> r;  // floor
      mask = ~({RW{1'b1}} << r);
      rem = xr & mask;  // x mod 2**r (two's complement low bits)
      half = (r == 0) ? '0 : (RW'(1) << (r - 1));
    end else begin
      l = -rs;
      q = xw <<< l;  // exact
    end
    above = (r != 0) && (rem > half);
    at = (r != 0) && (rem == half);
    nz = rem != '0;
    case (QUANT)
      hwmath_pkg::Q_TRN:         inc = 1'b0;
      hwmath_pkg::Q_TRN_ZERO:    inc = neg & nz;
      hwmath_pkg::Q_RND:         inc = above | at;
      hwmath_pkg::Q_RND_ZERO:    inc = above | (at & neg);
      hwmath_pkg::Q_RND_MIN_INF: inc = above;
      hwmath_pkg::Q_RND_INF:     inc = above | (at & ~neg);
      hwmath_pkg::Q_RND_CONV:    inc = above | (at & q[0]);
      default:                   inc = 1'b0;
    endcase
    v = q + (inc ? ONE : '0);
    out_of_range = (v > MAXV) || (v < MINV);
    ovf = out_of_range;
    case (OVF)
      hwmath_pkg::O_WRAP: y = v[OUT_W-1:0];
      hwmath_pkg::O_SAT:
      y = (v > MAXV) ? MAXV[OUT_W-1:0] : (v < MINV) ? MINV[OUT_W-1:0] : v[OUT_W-1:0];
      hwmath_pkg::O_SAT_ZERO: y = out_of_range ? '0 : v[OUT_W-1:0];
      hwmath_pkg::O_SAT_SYM:
      if (OUT_SIGNED && OUT_W > 1)  // clamp to [-max, max]: the minimum itself is moved
        y = (v > MAXV) ? MAXV[OUT_W-1:0] : (v < NMAXV) ? NMAXV[OUT_W-1:0] : v[OUT_W-1:0];
      else y = (v > MAXV) ? MAXV[OUT_W-1:0] : (v < MINV) ? MINV[OUT_W-1:0] : v[OUT_W-1:0];
      default: y = v[OUT_W-1:0];
    endcase
  end
endmodule

`default_nettype wire
