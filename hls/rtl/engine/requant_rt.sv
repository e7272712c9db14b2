// ap_fixed assignment with run-time formats: the exact value x * 2**-x_frac
// (x a raw signed integer) assigned to the destination format of a
// descriptor format word (fmt_decode), as hls/include/edgemoe_fixed.h
// requant and pymodel.numerics.fixed.FixedFormat.convert do.
//
// n = (fraction bits of fmt) - x_frac. n <= 0 drops -n bits and rounds with
// the format's quantisation mode; n > 0 is an exact left shift. The overflow
// mode is then applied to the rounded value. `ovf` flags a rounded value
// outside the format's range (what pymodel's OverflowCounter counts; for
// AP_SAT_SYM the minimum itself is not an overflow). y is the raw result in
// OUT_W bits: sign-extended for a signed format, zero-extended otherwise.
//
// Exact for every x, every x_frac of the port and every format of width 1..
// OUT_W (a width outside that range is clamped into it: the descriptor
// check refuses such formats). Shifts that cannot change the result are
// clamped: right shifts beyond IN_W+1 bits (|value| < 1/4 LSB: floor 0 or
// -1, no rounding up), left shifts beyond OUT_W bits (every nonzero value
// overflows, the low OUT_W bits are 0). Quantisation code 7 (unused) rounds
// like AP_RND_CONV, as the C++ default case does.
//
// A plain pipeline with an enable and no handshake, LAT register stages:
//   A  shift amounts from the formats, the destination range, rounding masks
//   B  floor, remainder, rounding increment; the value clamped to +-2**OUT_W
//      (which keeps every range decision) and its low OUT_W bits (for AP_WRAP)
//   C  overflow mode, the output register
// LAT = 3 registers after A, B and C; LAT = 2 after B and C; LAT = 1 after C.
`default_nettype none

module requant_rt #(
    // bits of the source value x (signed)
    parameter int IN_W   = 80,
    // bits of the run-time source fraction count x_frac (signed)
    parameter int FRAC_W = 10,
    // bits of y: the widest destination format
    parameter int OUT_W  = 32,
    // register stages (1..3, see above)
    parameter int LAT    = hwmath_pkg::REQUANT_RT_LAT
) (
    input  wire                      clk,
    input  wire                      en,
    input  wire  signed [  IN_W-1:0] x,
    input  wire  signed [FRAC_W-1:0] x_frac,
    input  wire         [      21:0] fmt,
    output logic        [ OUT_W-1:0] y,
    output logic                     ovf
);
  initial begin
    if (IN_W < 2 || FRAC_W < 2 || FRAC_W > 24 || OUT_W < 1 || OUT_W > 64 || LAT < 1 || LAT > 3)
    begin
      $error("requant_rt: IN_W = %0d, FRAC_W = %0d, OUT_W = %0d, LAT = %0d out of range (instance %m)",
             IN_W, FRAC_W, OUT_W, LAT);
      $finish;
    end
  end

  localparam int NW = ((FRAC_W > 8) ? FRAC_W : 8) + 2;  // n = f - x_frac
  localparam int RMAX = IN_W + 1;  // right shifts are clamped here
  localparam int RSW = $clog2(RMAX + 1);
  localparam int LSW = $clog2(OUT_W + 1);
  localparam int RW = IN_W + 2;  // remainder / half-LSB compare width
  localparam int CLW = OUT_W + 2;  // value clamped to +-2**OUT_W
  localparam int BW0 = (IN_W + 2 > 2 * OUT_W + 3) ? IN_W + 2 : 2 * OUT_W + 3;
  localparam int BW = (BW0 > RW) ? BW0 : RW;  // working width of stage B
  localparam logic signed [BW-1:0] LIMP = BW'(1) <<< OUT_W;
  localparam logic signed [BW-1:0] LIMN = -LIMP;
  localparam logic signed [CLW-1:0] ONE_C = CLW'(1);
  localparam int IXW = (OUT_W > 1) ? $clog2(OUT_W) : 1;  // bit index into y

  // ------------------------------------------------------------------ stage A
  logic [6:0] w_f;
  logic signed [7:0] f_f;
  logic s_f;
  logic [2:0] q_f;
  logic [1:0] o_f;
  fmt_decode dec (
      .word(fmt),
      .width(w_f),
      .frac(f_f),
      .signed_(s_f),
      .quant(q_f),
      .ovf(o_f)
  );
  logic signed [NW-1:0] n_a;
  logic [RSW-1:0] r_a;
  logic [LSW-1:0] l_a;
  logic [6:0] w_a;
  logic signed [CLW-1:0] max_a, min_a;
  logic [RW-1:0] mask_a, half_a;
  always_comb begin
    n_a = NW'(f_f) - NW'(x_frac);
    if (n_a > 0) begin
      r_a = '0;
      l_a = (n_a > NW'(OUT_W)) ? LSW'(OUT_W) : LSW'(n_a);
    end else begin
      r_a = (-n_a > NW'(RMAX)) ? RSW'(RMAX) : RSW'(-n_a);
      l_a = '0;
    end
    if (w_f == 7'd0) w_a = 7'd1;
    else if (w_f > 7'(OUT_W)) w_a = 7'(OUT_W);
    else w_a = w_f;
    max_a  = (ONE_C <<< (w_a - 7'(s_f))) - ONE_C;
    min_a  = s_f ? -(ONE_C <<< (w_a - 7'd1)) : '0;
    mask_a = ~({RW{1'b1}} << r_a);
    half_a = (r_a == '0) ? '0 : (RW'(1) << (r_a - RSW'(1)));
  end

  logic signed [IN_W-1:0] x_b;
  logic [RSW-1:0] r_b;
  logic [LSW-1:0] l_b;
  logic [6:0] w_b;
  logic s_b;
  logic [2:0] q_b;
  logic [1:0] o_b;
  logic signed [CLW-1:0] max_b, min_b;
  logic [RW-1:0] mask_b, half_b;
  if (LAT >= 3) begin : g_reg_a
    always_ff @(posedge clk)
      if (en) begin
        x_b <= x;
        r_b <= r_a;
        l_b <= l_a;
        w_b <= w_a;
        s_b <= s_f;
        q_b <= q_f;
        o_b <= o_f;
        max_b <= max_a;
        min_b <= min_a;
        mask_b <= mask_a;
        half_b <= half_a;
      end
  end else begin : g_wire_a
    always_comb begin
      x_b = x;
      r_b = r_a;
      l_b = l_a;
      w_b = w_a;
      s_b = s_f;
      q_b = q_f;
      o_b = o_f;
      max_b = max_a;
      min_b = min_a;
      mask_b = mask_a;
      half_b = half_a;
    end
  end

  // ------------------------------------------------------------------ stage B
  logic signed [BW-1:0] xw, fl, v, vl;
  logic [RW-1:0] rem;
  logic neg, above, tie, nz, inc;
  logic signed [CLW-1:0] vc_b;
  logic [OUT_W-1:0] low_b;
  always_comb begin
    xw = BW'(x_b);  // sign-extended
    neg = x_b[IN_W-1];
    fl = xw >>> r_b;  // floor
    rem = RW'(xw) & mask_b;  // x mod 2**r (two's complement low bits)
    above = rem > half_b;
    tie = (r_b != '0) && (rem == half_b);
    nz = rem != '0;
    case (q_b)
      3'(hwmath_pkg::Q_TRN):         inc = 1'b0;
      3'(hwmath_pkg::Q_TRN_ZERO):    inc = neg & nz;
      3'(hwmath_pkg::Q_RND):         inc = above | tie;
      3'(hwmath_pkg::Q_RND_ZERO):    inc = above | (tie & neg);
      3'(hwmath_pkg::Q_RND_MIN_INF): inc = above;
      3'(hwmath_pkg::Q_RND_INF):     inc = above | (tie & ~neg);
      default:                       inc = above | (tie & fl[0]);  // Q_RND_CONV (and code 7)
    endcase
    if (l_b != '0) begin  // left shift: exact; x clamped first (same range decisions)
      v  = (xw > LIMP) ? LIMP : (xw < LIMN) ? LIMN : xw;
      vl = v <<< l_b;
      low_b = OUT_W'(xw <<< l_b);
    end else begin
      vl = fl + (inc ? BW'(1) : '0);
      v = vl;
      low_b = OUT_W'(vl);
    end
    vc_b = CLW'((vl > LIMP) ? LIMP : (vl < LIMN) ? LIMN : vl);
  end

  logic signed [CLW-1:0] vc_c, max_c, min_c;
  logic [OUT_W-1:0] low_c;
  logic [6:0] w_c;
  logic s_c;
  logic [1:0] o_c;
  if (LAT >= 2) begin : g_reg_b
    always_ff @(posedge clk)
      if (en) begin
        vc_c  <= vc_b;
        low_c <= low_b;
        w_c   <= w_b;
        s_c   <= s_b;
        o_c   <= o_b;
        max_c <= max_b;
        min_c <= min_b;
      end
  end else begin : g_wire_b
    always_comb begin
      vc_c  = vc_b;
      low_c = low_b;
      w_c   = w_b;
      s_c   = s_b;
      o_c   = o_b;
      max_c = max_b;
      min_c = min_b;
    end
  end

  // ------------------------------------------------------------------ stage C
  logic oor;
  logic signed [CLW-1:0] lo;
  logic [OUT_W-1:0] wmask, yw, ysat, yq;
  always_comb begin
    oor = (vc_c > max_c) || (vc_c < min_c);
    // AP_SAT_SYM of a signed format wider than 1 bit clamps to [-max, max]
    lo = (o_c == 2'(hwmath_pkg::O_SAT_SYM) && s_c && w_c > 7'd1) ? -max_c : min_c;
    ysat = (vc_c > max_c) ? OUT_W'(max_c) : (vc_c < lo) ? OUT_W'(lo) : OUT_W'(vc_c);
    wmask = ~({OUT_W{1'b1}} << w_c);
    yw = low_c & wmask;
    if (s_c && low_c[IXW'(w_c-7'd1)]) yw = yw | ~wmask;  // sign-extend the kept bits
    case (o_c)
      2'(hwmath_pkg::O_WRAP):     yq = yw;
      2'(hwmath_pkg::O_SAT_ZERO): yq = oor ? '0 : OUT_W'(vc_c);
      default:                    yq = ysat;  // O_SAT, O_SAT_SYM
    endcase
  end
  always_ff @(posedge clk)
    if (en) begin
      y   <= yq;
      ovf <= oor;
    end
endmodule

`default_nettype wire
