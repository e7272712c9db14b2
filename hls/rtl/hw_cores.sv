// Fixed-latency datapath cores of the table-based functions, bit exact with
// pymodel.numerics.hwmath (exp_fixed, recip_fixed, rsqrt_fixed, gelu_fixed).
//
// Every core is a plain pipeline with an enable and no handshake: the
// stream units (exp_unit, ...) and the row units (softmax_row,
// layernorm_row) add valid bits and side-band delay lines of the same
// latency (localparam LAT, documented per core). Tables come from the
// generated package hwmath_pkg (depths, widths, file names); interpolation
// is T[i] * 2**u_bits + (T[i+1] - T[i]) * u, exact, then one rounding.


// ---------------------------------------------------------------------------
// e**d for d <= 0, d a raw D_W-bit value with D_FRAC fraction bits (D_FRAC >= 0).
// Output ufixed<EXP_OUT_FRAC+1, 1> (e**0 = 1 exactly). LAT = 4:
//   1: t = round_half_up(d * LOG2E, D_FRAC + LOG2E_FRAC - EXP_IN_FRAC bits)
//   2: n = floor(t), f = t - n: table read at i = f's top bits; keep u, n
//   3: y = interpolation (MANT_FRAC + EXP_IN_FRAC - EXP_TABLE_BITS fraction bits)
//   4: round_half_up(y * 2**-(Y_FRAC - EXP_OUT_FRAC - n)); shifts past the
//      width of y give 0 exactly, so the shift is clamped there.
module exp_core #(
    parameter int D_W    = 24,
    parameter int D_FRAC = 10
) (
    input  logic                    clk,
    input  logic                    en,
    input  logic signed [  D_W-1:0] d,
    output logic        [hwmath_pkg::EXP_OUT_FRAC:0] y
);
  localparam int LAT = 4;
  localparam int SH1 = D_FRAC + hwmath_pkg::LOG2E_FRAC - hwmath_pkg::EXP_IN_FRAC;  // >= 1 for D_FRAC >= 0
  localparam int PW = D_W + hwmath_pkg::LOG2E_W + 1;  // signed product d * LOG2E
  localparam int UB = hwmath_pkg::EXP_IN_FRAC - hwmath_pkg::EXP_TABLE_BITS;  // interpolation bits
  localparam int Y_FRAC = hwmath_pkg::MANT_FRAC + hwmath_pkg::EXP_IN_FRAC - hwmath_pkg::EXP_TABLE_BITS;
  localparam int YW = hwmath_pkg::EXP2_W + UB + 1;  // y < 2**(EXP2_W + UB)
  localparam int SH_BASE = Y_FRAC - hwmath_pkg::EXP_OUT_FRAC;
  localparam int SH_CLAMP = YW + 1;  // y + half < 2**sh from here on: result 0
  localparam int AW = $clog2(hwmath_pkg::EXP2_DEPTH);
  localparam logic signed [PW-1:0] L2E = PW'(hwmath_pkg::LOG2E);
  localparam logic signed [PW-1:0] HALF1 = PW'(1) <<< (SH1 - 1);

  // stage 1
  logic signed [PW-1:0] t1;
  always_ff @(posedge clk) if (en) t1 <= (PW'(d) * L2E + HALF1) >>> SH1;

  // stage 2: n = floor(t / 2**EXP_IN_FRAC), table address from f's top bits
  logic [hwmath_pkg::EXP_IN_FRAC-1:0] f1;
  logic signed [PW-1:0] n1;
  logic [AW-1:0] i1;
  assign f1 = t1[hwmath_pkg::EXP_IN_FRAC-1:0];
  assign n1 = t1 >>> hwmath_pkg::EXP_IN_FRAC;
  assign i1 = AW'(f1 >> UB);
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
      u2 <= f1[UB-1:0];
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
      sh3 <= (shw > PW'(SH_CLAMP)) ? 8'(SH_CLAMP) : shw[7:0];
    end

  // stage 4: one rounding, half up
  logic [YW:0] y4;
  localparam logic [YW:0] ONE4 = 1;
  always_ff @(posedge clk)
    if (en) y4 <= ({1'b0, y3} + (ONE4 << (sh3 - 8'd1))) >> sh3;
  assign y = y4[hwmath_pkg::EXP_OUT_FRAC:0];
endmodule

// ---------------------------------------------------------------------------
// Normalisation of a positive V_W-bit value v (V_FRAC fraction bits):
// lead = floor(log2 v) - V_FRAC, m = the NORM_IN_FRAC bits below the leading
// one (lower bits truncated, zero-filled when v has fewer). Combinational.
module norm_lead #(
    parameter int V_W     = 32,
    parameter int V_FRAC  = 16,
    parameter int SHIFT_W = 8
) (
    input  logic        [         V_W-1:0] v,
    output logic        [hwmath_pkg::NORM_IN_FRAC-1:0] m,
    output logic signed [     SHIFT_W-1:0] lead
);
  localparam int EW = V_W + hwmath_pkg::NORM_IN_FRAC;
  logic [EW-1:0] ext;
  int p;
  always_comb begin
    p = 0;
    for (int i = 0; i < V_W; i++) if (v[i]) p = i;  // highest set bit wins
    ext  = {v, {hwmath_pkg::NORM_IN_FRAC{1'b0}}} << (V_W - 1 - p);  // leading one to bit EW-1
    m    = ext[EW-2-:hwmath_pkg::NORM_IN_FRAC];
    lead = SHIFT_W'(p - V_FRAC);
  end
endmodule

// ---------------------------------------------------------------------------
// 1/s for s > 0 -> pseudo-float (mant, shift), value mant * 2**-(MANT_FRAC + shift).
// LAT = 4: 1 normalise, 2 table read, 3 interpolation, 4 round half up.
module recip_core #(
    parameter int S_W     = 30,
    parameter int S_FRAC  = 16,
    parameter int SHIFT_W = 8
) (
    input  logic                      clk,
    input  logic                      en,
    input  logic        [    S_W-1:0] s,
    output logic        [hwmath_pkg::MANT_FRAC:0] mant,
    output logic signed [SHIFT_W-1:0] shift
);
  localparam int LAT = 4;
  localparam int UB = hwmath_pkg::NORM_IN_FRAC - hwmath_pkg::RECIP_TABLE_BITS;
  localparam int AW = $clog2(hwmath_pkg::RECIP_DEPTH);
  localparam int YW = hwmath_pkg::RECIP_W + UB + 2;  // signed interpolant
  logic [hwmath_pkg::NORM_IN_FRAC-1:0] m0, m1;
  logic signed [SHIFT_W-1:0] l0, l1, l2, l3, l4;
  norm_lead #(
      .V_W(S_W),
      .V_FRAC(S_FRAC),
      .SHIFT_W(SHIFT_W)
  ) nrm (
      .v(s),
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
  logic signed [YW-1:0] r4;
  always_ff @(posedge clk)
    if (en) begin
      r4 <= (y3 + HALF) >>> UB;
      l4 <= l3;
    end
  assign mant  = r4[hwmath_pkg::MANT_FRAC:0];
  assign shift = l4;
endmodule

// ---------------------------------------------------------------------------
// 1/sqrt(v) for v > 0 -> pseudo-float (mant, shift): v = m * 2**L, L = 2k (+1),
// 1/sqrt(m) (rsqrt_even) or 1/sqrt(2m) (rsqrt_odd), shift = k = floor(L/2).
// LAT = 4 as recip_core; both tables are read and the parity selects.
module rsqrt_core #(
    parameter int V_W     = 32,
    parameter int V_FRAC  = 24,
    parameter int SHIFT_W = 8
) (
    input  logic                      clk,
    input  logic                      en,
    input  logic        [    V_W-1:0] v,
    output logic        [hwmath_pkg::MANT_FRAC:0] mant,
    output logic signed [SHIFT_W-1:0] shift
);
  localparam int LAT = 4;
  localparam int UB = hwmath_pkg::NORM_IN_FRAC - hwmath_pkg::RSQRT_TABLE_BITS;
  localparam int AW = $clog2(hwmath_pkg::RSQRT_EVEN_DEPTH);
  localparam int TW = (hwmath_pkg::RSQRT_EVEN_W > hwmath_pkg::RSQRT_ODD_W) ? hwmath_pkg::RSQRT_EVEN_W : hwmath_pkg::RSQRT_ODD_W;
  localparam int YW = TW + UB + 2;
  logic [hwmath_pkg::NORM_IN_FRAC-1:0] m0, m1;
  logic signed [SHIFT_W-1:0] l0, l1, l2, l3, l4;
  norm_lead #(
      .V_W(V_W),
      .V_FRAC(V_FRAC),
      .SHIFT_W(SHIFT_W)
  ) nrm (
      .v(v),
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
  logic signed [YW-1:0] r4;
  always_ff @(posedge clk)
    if (en) begin
      r4 <= (y3 + HALF) >>> UB;
      l4 <= l3;
    end
  assign mant  = r4[hwmath_pkg::MANT_FRAC:0];
  assign shift = l4;
endmodule

// ---------------------------------------------------------------------------
// GELU(x) = ReLU(x) - d(|x|), d(t) = t * Phi(-t) tabulated with step
// 2**-GELU_STEP_LOG2 on [0, GELU_RANGE) and interpolated (0 beyond), then
// requantised once to OUT_W bits with OUT_FRAC fraction bits. LAT = 3:
//   1 |x| -> table read (the address is formed from the input); keep u, ReLU
//   2 wide = ReLU(x) * 2**(frac - X_FRAC) - d, frac = GELU_FRAC + u_bits
//   3 requant (QUANT, OVF)
module gelu_core #(
    parameter int X_W        = 16,
    parameter int X_FRAC     = 10,
    parameter int OUT_W      = 16,
    parameter int OUT_FRAC   = 10,
    parameter bit OUT_SIGNED = 1'b1,
    parameter int QUANT      = hwmath_pkg::Q_RND_CONV,
    parameter int OVF        = hwmath_pkg::O_SAT
) (
    input  logic                  clk,
    input  logic                  en,
    input  logic signed [X_W-1:0] x,
    output logic [OUT_W-1:0]      y,
    output logic                  ovf
);
  localparam int LAT = 3;
  localparam int S = hwmath_pkg::GELU_STEP_LOG2;
  localparam int UB = (X_FRAC >= S) ? X_FRAC - S : 0;  // interpolation bits
  localparam int UBW = (UB > 0) ? UB : 1;
  localparam int NSEG = hwmath_pkg::GELU_RANGE << S;  // table intervals
  localparam int AW = $clog2(hwmath_pkg::GELU_DEPTH);
  localparam int FRAC = hwmath_pkg::GELU_FRAC + UB;  // fraction bits of wide
  localparam int LSH = FRAC - X_FRAC;  // > 0
  localparam int IW = X_W + ((S > X_FRAC) ? S - X_FRAC : 0) + 1;  // index before clamping
  localparam int WW = X_W + LSH + 2;  // wide (signed)

  logic [X_W-1:0] ax;
  logic [IW-1:0] idx;
  logic [UBW-1:0] u0;
  logic inside0;
  logic [AW-1:0] ic;
  localparam int LSI = (S > X_FRAC) ? S - X_FRAC : 0;  // coarse inputs: index = |x| << LSI
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
