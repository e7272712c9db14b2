// GELU requantised once, bit exact with pymodel.numerics.hwmath.gelu_fixed.
//
// GELU(x) = ReLU(x) - d(|x|), d(t) = t * Phi(-t) tabulated with step
// 2**-GELU_STEP_LOG2 on [0, GELU_RANGE) and interpolated (0 beyond), then
// requantised once to OUT_W bits with OUT_FRAC fraction bits. A plain
// pipeline with an enable and no handshake, hwmath_pkg::GELU_LAT = 3 stages:
//   1 |x| -> table read (the address is formed from the input); keep u, ReLU
//   2 wide = ReLU(x) * 2**(frac - X_FRAC) - d, frac = GELU_FRAC + u_bits
//   3 requant (QUANT, OVF)
`default_nettype none

module gelu_core #(
    // bits of the input x (signed)
    parameter int X_W        = 16,
    // fraction bits of x
    parameter int X_FRAC     = 10,
    // bits of the output y
    parameter int OUT_W      = 16,
    // fraction bits of y
    parameter int OUT_FRAC   = 10,
    // y is ap_fixed (1) or ap_ufixed (0)
    parameter bit OUT_SIGNED = 1'b1,
    // quantisation mode of y (hwmath_pkg::Q_*)
    parameter int QUANT      = hwmath_pkg::Q_RND_CONV,
    // overflow mode of y (hwmath_pkg::O_*)
    parameter int OVF        = hwmath_pkg::O_SAT
) (
    input  wire                    clk,
    input  wire                    en,
    input  wire  signed [X_W-1:0]  x,
    output logic        [OUT_W-1:0] y,
    output logic                   ovf
);
  localparam int S = hwmath_pkg::GELU_STEP_LOG2;
  localparam int UB = (X_FRAC >= S) ? X_FRAC - S : 0;  // interpolation bits
  localparam int UBW = (UB > 0) ? UB : 1;
  localparam int NSEG = hwmath_pkg::GELU_RANGE << S;  // table intervals
  localparam int AW = $clog2(hwmath_pkg::GELU_DEPTH);
  localparam int FRAC = hwmath_pkg::GELU_FRAC + UB;  // fraction bits of wide
  localparam int LSH = FRAC - X_FRAC;  // > 0
  localparam int IW = X_W + ((S > X_FRAC) ? S - X_FRAC : 0) + 1;  // index before clamping
  localparam int WW = X_W + LSH + 2;  // wide (signed)
  localparam int LSI = (S > X_FRAC) ? S - X_FRAC : 0;  // coarse inputs: index = |x| << LSI

  initial begin
    if (hwmath_pkg::GELU_LAT != 3) begin
      $error("gelu_core has 3 stages but hwmath_pkg::GELU_LAT = %0d (instance %m)",
             hwmath_pkg::GELU_LAT);
      $finish;
    end
    if (X_FRAC < 0 || LSH < 1 || FRAC < OUT_FRAC || FRAC - OUT_FRAC > 127) begin
      $error("gelu_core: X_FRAC = %0d, OUT_FRAC = %0d out of range (instance %m)", X_FRAC,
             OUT_FRAC);
      $finish;
    end
  end

  logic [X_W-1:0] ax;
  logic [IW-1:0] idx;
  logic [UBW-1:0] u0;
  logic inside0;
  logic [AW-1:0] ic;
  always_comb begin
    ax  = x[X_W-1] ? X_W'(-x) : X_W'(x);  // |min| fits the unsigned word
    idx = (IW'(ax) >> UB) << LSI;  // one of UB, LSI is 0
    u0  = (UB > 0) ? UBW'(ax) : '0;  // the low UB bits of |x|
    inside0 = idx < IW'(NSEG);
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
  logic [UBW-1:0] u1;
  logic inside1;
  logic signed [X_W-1:0] relu1;
  always_ff @(posedge clk)
    if (en) begin
      u1 <= u0;
      inside1 <= inside0;
      relu1 <= x[X_W-1] ? '0 : x;
    end
  logic signed [WW-1:0] dv, wide2;
  always_comb begin
    dv = ($signed(WW'(ta)) <<< UB) + ($signed(WW'(tb)) - $signed(WW'(ta))) * $signed(WW'(u1));
    if (!inside1) dv = '0;
  end
  always_ff @(posedge clk) if (en) wide2 <= ($signed(WW'(relu1)) <<< LSH) - dv;
  logic [OUT_W-1:0] yq;
  logic oq;
  requant #(
      .IN_W(WW),
      .OUT_W(OUT_W),
      .OUT_SIGNED(OUT_SIGNED),
      .QUANT(QUANT),
      .OVF(OVF)
  ) rq (
      .x(wide2),
      .rsh(8'(FRAC - OUT_FRAC)),
      .y(yq),
      .ovf(oq)
  );
  always_ff @(posedge clk)
    if (en) begin
      y   <= yq;
      ovf <= oq;
    end
endmodule

`default_nettype wire
